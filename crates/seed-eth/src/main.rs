//! `seed-eth`: release trust for reproducible Nix builds.
//!
//! The binary is deliberately thin: parse the command line, call a library
//! crate, print the result for a human or as JSON, and exit with a code that
//! scripts can rely on (see [`exit::ExitCode`]).

mod ci;
mod cli;
mod commands;
mod exit;
mod output;

use std::{ffi::OsString, io::IsTerminal};

use clap::{CommandFactory as _, FromArgMatches as _};
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter, e.g. `SEED_ETH_LOG=info` or
/// `SEED_ETH_LOG=seed_chain=debug`. Logs go to stderr so `--json` output stays clean.
const LOG_ENV: &str = "SEED_ETH_LOG";

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(log_colours(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let outcome = commands::run(&cli);
    let outcome = leave_for_ci(
        &cli.global,
        matches.subcommand_name().unwrap_or(""),
        outcome,
    );
    output::finish(cli.global.json, outcome)
}

/// Writes `--ci-output` and `--ci-summary`. A result the CI job cannot read is a failed step:
/// the command's effect stands (re-running it is idempotent), the exit code says what broke.
fn leave_for_ci(
    global: &cli::GlobalArgs,
    command: &str,
    outcome: output::Outcome,
) -> output::Outcome {
    let mut unwritten = None;
    if let Some(path) = &global.ci_output {
        if let Err(e) = ci::write_outputs(path, &outcome) {
            unwritten = Some((path, e));
        }
    }
    if let Some(path) = &global.ci_summary {
        if let Err(e) = ci::write_summary(path, command, &outcome) {
            unwritten.get_or_insert((path, e));
        }
    }
    let Some((path, e)) = unwritten else {
        return outcome;
    };
    let error = eyre::eyre!(
        "writing the CI result to {}: {e} (the command itself ran; re-running it is safe)",
        path.display()
    );
    match outcome {
        Ok(_) => Err(output::Failure::usage(error)),
        Err(failure) => Err(output::Failure {
            code: failure.code,
            error: failure.error.wrap_err(error),
        }),
    }
}

/// Whether logs carry ANSI colours: only on a terminal, and not when
/// `NO_COLOR` is set to anything but the empty string (no-color.org). Logs
/// piped into a file, a journal or CI stay plain text.
fn log_colours(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::log_colours;

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(log_colours(true, None));
        assert!(log_colours(true, Some("".into())));
        assert!(!log_colours(true, Some("1".into())));
        assert!(!log_colours(false, None));
        assert!(!log_colours(false, Some("".into())));
    }
}
