//! The command-line grammar. Each subcommand's arguments live next to the
//! subcommand's name, so `seed-eth <command> --help` documents everything.

use clap::{Args, Parser, Subcommand};

/// Release trust for reproducible Nix builds: builders attest bit-identical
/// outputs on Ethereum, contracts enforce a k-of-n quorum, anyone verifies.
#[derive(Debug, Parser)]
#[command(name = "seed-eth", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print one JSON document on stdout instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute a release root offline from each system's closure-manifest digest.
    ///
    /// The result is what the ledger stores for a release with exactly these
    /// systems and digests; systems may be given in any order.
    Root(RootArgs),
}

/// Arguments of `seed-eth root`.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// A system and its closure-manifest digest, e.g. `x86_64-linux=sha256:<hex>`; repeat per system.
    #[arg(long = "leaf", value_name = "SYSTEM=DIGEST", required = true)]
    pub leaves: Vec<String>,
}
