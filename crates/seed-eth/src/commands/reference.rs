//! `seed-eth completions` and `seed-eth man`: shell completions and man pages generated from
//! the clap definitions (clap_complete, clap_mangen), so they always describe the parser.

use clap::CommandFactory;
use serde_json::json;

use crate::{
    cli::{Cli, CompletionsArgs, ManArgs},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// The program's name, as installed.
const BIN: &str = "seed-eth";

/// Prints the completion script for one shell.
pub fn completions(args: &CompletionsArgs) -> Outcome {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN, &mut script);
    let script = String::from_utf8(script).map_err(|e| Failure {
        code: ExitCode::Usage,
        error: eyre::Report::new(e).wrap_err("the completion script is not UTF-8"),
    })?;
    Ok(Report {
        code: ExitCode::Ok,
        json: json!({ "shell": args.shell.to_string(), "script": script }),
        text: script,
    })
}

/// Writes one man page per command: `seed-eth.1`, then `seed-eth-<sub>.1` and deeper, the way
/// clap_mangen names them; pages carry no date, so the same binary writes the same bytes.
pub fn man(args: &ManArgs) -> Outcome {
    let write_error =
        |e: eyre::Report| Failure::usage(e.wrap_err(format!("--dir {}", args.dir.display())));
    seed_fs::create_dir_all(&args.dir).map_err(|e| write_error(eyre::Report::new(e)))?;
    let mut root = Cli::command().disable_help_subcommand(true);
    // Building names every subcommand's page after its path ("seed-eth-gov-propose").
    root.build();
    let mut pending = vec![root];
    let mut written = Vec::new();
    while let Some(command) = pending.pop() {
        pending.extend(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .cloned(),
        );
        let page = clap_mangen::Man::new(command);
        let mut bytes = Vec::new();
        page.render(&mut bytes)
            .map_err(|e| write_error(eyre::Report::new(e)))?;
        let path = args.dir.join(page.get_filename());
        seed_fs::write_atomic(&path, &bytes).map_err(|e| write_error(eyre::Report::new(e)))?;
        written.push(page.get_filename());
    }
    written.sort();
    let mut text = format!("{} man pages in {}\n", written.len(), args.dir.display());
    for name in &written {
        text.push_str(&format!("  {name}\n"));
    }
    Ok(Report {
        code: ExitCode::Ok,
        text,
        json: json!({ "dir": args.dir.display().to_string(), "pages": written }),
    })
}
