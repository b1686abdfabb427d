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

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let outcome = commands::run(&cli);
    output::finish(cli.global.json, outcome)
}
