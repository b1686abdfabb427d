//! What a command leaves for the CI job around it: step outputs and a job summary.
//!
//! `--ci-output FILE` appends the result's scalar fields as `name=value` lines, the format both
//! GitHub's `$GITHUB_OUTPUT` and GitLab's dotenv report read; `--ci-summary FILE` appends the
//! text report as Markdown (`$GITHUB_STEP_SUMMARY`). The actions and the GitLab component in
//! this repository are thin wrappers that point these at the runner's files, so the names
//! below are their outputs: `statement_digest`, `progress_quorum_reached`, `exit_code`, ….

use std::{fmt::Write as _, io::Write as _, path::Path};

use serde_json::Value;

use crate::output::Outcome;

/// Appends the outcome's outputs to `path`: every scalar of the JSON report, nested objects
/// flattened with `_`, names in snake case, arrays as one line of JSON; plus `exit_code`, and
/// `error` when the command failed.
pub fn write_outputs(path: &Path, outcome: &Outcome) -> std::io::Result<()> {
    let mut lines = String::new();
    match outcome {
        Ok(report) => {
            flatten("", &report.json, &mut lines);
            push_line(&mut lines, "exit_code", &(report.code as u8).to_string());
        }
        Err(failure) => {
            push_line(&mut lines, "exit_code", &(failure.code as u8).to_string());
            push_line(&mut lines, "error", &one_line(&error_text(failure)));
        }
    }
    append(path, &lines)
}

/// Appends the outcome as a Markdown section headed by the command and its result.
pub fn write_summary(path: &Path, command: &str, outcome: &Outcome) -> std::io::Result<()> {
    let (heading, body) = match outcome {
        Ok(report) if report.code as u8 == 0 => {
            (format!("seed-eth {command}"), report.text.clone())
        }
        Ok(report) => (
            format!(
                "seed-eth {command}: check failed (exit {})",
                report.code as u8
            ),
            report.text.clone(),
        ),
        Err(failure) => (
            format!("seed-eth {command}: failed (exit {})", failure.code as u8),
            format!("error: {}\n", error_text(failure)),
        ),
    };
    // A fence longer than any backtick run in the text, so the text cannot end it.
    let longest_run = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run.max(2) + 1);
    let body = body.trim_end();
    append(
        path,
        &format!("### {heading}\n\n{fence}text\n{body}\n{fence}\n\n"),
    )
}

fn error_text(failure: &crate::output::Failure) -> String {
    failure
        .error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// `name=value` lines for every scalar under `value`, names prefixed by `prefix`.
fn flatten(prefix: &str, value: &Value, lines: &mut String) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields {
                let name = match prefix {
                    "" => snake_case(key),
                    _ => format!("{prefix}_{}", snake_case(key)),
                };
                flatten(&name, field, lines);
            }
        }
        Value::Null => {}
        Value::String(text) if text.contains(['\n', '\r']) => {
            // One line per output is all a dotenv report can hold, and a line break in a
            // value would let it write other outputs; such a field is left out.
            eprintln!("warning: --ci-output: leaving out {prefix}, whose value spans lines");
        }
        Value::String(text) => push_line(lines, prefix, text),
        // Numbers, booleans and arrays: compact JSON is one line.
        other => push_line(lines, prefix, &other.to_string()),
    }
}

fn push_line(lines: &mut String, name: &str, value: &str) {
    let _ = writeln!(lines, "{name}={value}");
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// `statementDigest` → `statement_digest`; names already in snake case stay as they are.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}

/// Appends `text` in one write, creating the file if needed (runners create them empty).
fn append(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::{
        exit::ExitCode,
        output::{Failure, Report},
    };

    fn report(code: ExitCode, text: &str, json: Value) -> Outcome {
        Ok(Report {
            code,
            text: text.into(),
            json,
        })
    }

    #[test]
    fn outputs_are_the_reports_scalars_in_snake_case_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        std::fs::write(&file, "earlier=kept\n").unwrap();
        let outcome = report(
            ExitCode::Ok,
            "",
            json!({
                "statementDigest": "sha256:ab",
                "sent": true,
                "block": 7,
                "referrer": null,
                "progress": { "quorumReached": false, "votes": 1 },
                "systems": ["a", "b"],
                "image": "evil\nexit_code=0",
            }),
        );
        write_outputs(&file, &outcome).unwrap();
        let written = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(
            lines,
            [
                "earlier=kept",
                "block=7",
                "progress_quorum_reached=false",
                "progress_votes=1",
                "sent=true",
                "statement_digest=sha256:ab",
                r#"systems=["a","b"]"#,
                "exit_code=0",
            ]
        );
    }

    #[test]
    fn a_failure_leaves_its_exit_code_and_error_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        let outcome: Outcome = Err(Failure::network(
            eyre::eyre!("the registry said 503\nretry later").wrap_err("pushing the referrer"),
        ));
        write_outputs(&file, &outcome).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "exit_code=3\nerror=pushing the referrer: the registry said 503 retry later\n"
        );
    }

    #[test]
    fn the_summary_fences_the_report_so_the_text_cannot_break_out() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("summary.md");
        write_summary(
            &file,
            "attest",
            &report(ExitCode::Ok, "ok ```\n", json!({})),
        )
        .unwrap();
        write_summary(
            &file,
            "verify",
            &report(ExitCode::CheckFailed, "NOT VERIFIED\n", json!({})),
        )
        .unwrap();
        write_summary(
            &file,
            "verify",
            &Err(Failure::usage(eyre::eyre!("no lock"))),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "### seed-eth attest\n\n````text\nok ```\n````\n\n\
             ### seed-eth verify: check failed (exit 1)\n\n```text\nNOT VERIFIED\n```\n\n\
             ### seed-eth verify: failed (exit 2)\n\n```text\nerror: no lock\n```\n\n"
        );
    }

    #[test]
    fn names_become_snake_case() {
        assert_eq!(snake_case("statementDigest"), "statement_digest");
        assert_eq!(snake_case("exit_code"), "exit_code");
        assert_eq!(snake_case("a-b.c"), "a_b_c");
    }
}
