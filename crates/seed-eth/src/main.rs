//! `seed-eth`: release trust for reproducible Nix builds.
//!
//! The binary is deliberately thin: parse the command line, call a library
//! crate, print the result for a human or as JSON, and exit with a code that
//! scripts can rely on (see [`exit::ExitCode`]).

mod cli;
mod commands;
mod exit;
mod output;

use clap::Parser;
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
        .init();
    let cli = cli::Cli::parse();
    let outcome = commands::run(&cli);
    output::finish(cli.global.json, outcome)
}
