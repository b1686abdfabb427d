//! The documentation as a reader meets it: every Markdown table in `docs/` and the README is
//! well formed (each row has its header's cells), and every `seed-eth.toml` example parses with
//! the configuration loader the commands use (unknown keys are errors there).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.push(root.join("README.md"));
    files.sort();
    files
}

/// The cells of a table row: `|` outside code spans and not escaped separates them.
fn cells(row: &str) -> usize {
    let (mut count, mut in_code, mut escaped) = (0usize, false, false);
    for c in row.trim().chars() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '`' if !escaped => in_code = !in_code,
            '|' if !escaped && !in_code => count += 1,
            _ => {}
        }
        escaped = false;
    }
    count.saturating_sub(1)
}

fn is_delimiter_row(row: &str) -> bool {
    let row = row.trim();
    row.starts_with('|') && row.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// A table is a header row, a delimiter row with as many cells, and rows with as many cells
/// (GitHub's rule; a table broken any other way renders as text or loses columns).
#[test]
fn every_table_is_a_header_a_delimiter_and_rows_of_the_same_width() {
    let mut problems = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut in_fence = false;
        let mut table: Vec<(usize, &str)> = Vec::new();
        let mut lines: Vec<(usize, &str)> = text.lines().enumerate().collect();
        lines.push((lines.len(), ""));
        for (n, line) in lines {
            if line.trim_start().starts_with("```") {
                in_fence = !in_fence;
            }
            if !in_fence && line.trim_start().starts_with('|') {
                table.push((n + 1, line));
                continue;
            }
            if let [(at, header), rest @ ..] = table.as_slice() {
                let width = cells(header);
                let at_line =
                    |line: usize, what: String| format!("{}:{line}: {what}", file.display());
                if is_delimiter_row(header) {
                    problems.push(at_line(*at, "a table without a header row".into()));
                }
                match rest.first() {
                    Some((_, delimiter)) if is_delimiter_row(delimiter) => {}
                    _ => problems.push(at_line(
                        *at,
                        "a table header not followed by a delimiter row (|---|…)".into(),
                    )),
                }
                for (line, row) in rest {
                    if cells(row) != width {
                        problems.push(at_line(
                            *line,
                            format!("{} cells, the header (line {at}) has {width}", cells(row)),
                        ));
                    }
                }
            }
            table.clear();
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_seed_eth_toml_example_parses() {
    let dir = tempfile::tempdir().unwrap();
    let mut examples = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        for block in text.split("```toml\n").skip(1) {
            let example = block.split("```").next().unwrap();
            let path = dir.path().join("seed-eth.toml");
            std::fs::write(&path, example).unwrap();
            // Each kind of file by its own reader: a Credulous policy, a
            // witness configuration, a keeper's follow file, else seed-eth.toml.
            let parsed = if example.starts_with("threshold =") {
                seed_sigstore::CredulousPolicy::from_toml(example.as_bytes())
                    .map(drop)
                    .map_err(|e| e.to_string())
            } else if example.starts_with("state =") {
                // A witness configuration; the key it names must exist.
                let key = seed_witness::Cosigner::generate("docs.example/w1").unwrap();
                std::fs::write(dir.path().join("witness.key"), key.secret()).unwrap();
                seed_witness::config::WitnessConfig::read(&path)
                    .map(drop)
                    .map_err(|e| e.to_string())
            } else if example.starts_with("[[release]]") {
                seed_keeper::read_follow_file(&path)
                    .map(drop)
                    .map_err(|e| e.to_string())
            } else {
                seed_chain::config::ConfigFile::load(Some(&path), dir.path())
                    .map(drop)
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = parsed {
                panic!(
                    "{}: an example does not parse: {e}\n{example}",
                    file.display()
                );
            }
            examples += 1;
        }
    }
    assert!(examples > 0, "no seed-eth.toml example found");
}
