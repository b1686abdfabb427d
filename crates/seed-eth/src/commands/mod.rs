//! One module per subcommand; each turns parsed arguments into an [`Outcome`].

mod attest;
mod build_inputs;
pub(crate) mod builder;
mod bundle;
mod chain;
mod content;
mod credulous;
mod deploy;
mod equivocation;
pub(crate) mod gov;
mod keeper;
mod lock;
mod manifest;
mod oci;
mod proofs;
mod reference;
mod relay;
mod root;
mod seed;
mod status;
mod verify;
mod vote_file;
mod witness;

use crate::{cli::Cli, cli::Command, output::Outcome};

/// Runs the chosen subcommand.
pub fn run(cli: &Cli) -> Outcome {
    match &cli.command {
        Command::Root(args) => root::run(args),
        Command::Manifest(args) => manifest::run(args),
        Command::Seed(args) => seed::run(args),
        Command::Deploy(args) => deploy::run(args, cli.global.json),
        Command::Status(args) => status::run(args),
        Command::Attest(args) => attest::run(args),
        Command::Relay(args) => relay::run(args),
        Command::ReportEquivocation(args) => equivocation::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Gov(args) => gov::run(args),
        Command::Keeper(args) => keeper::run(args),
        Command::Bundle(args) => bundle::run(args),
        Command::Witness(args) => witness::run(args),
        Command::Builder(args) => builder::run(args),
        Command::Completions(args) => reference::completions(args),
        Command::Man(args) => reference::man(args),
    }
}
