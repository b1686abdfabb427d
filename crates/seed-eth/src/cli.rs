//! The command-line grammar. Each subcommand's arguments live next to the
//! subcommand's name, so `seed-eth <command> --help` documents everything.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand};

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

    /// Compute a closure manifest and print its digest.
    ///
    /// From a store path, Nix's own records are used (`nix path-info`); from
    /// an unpacked tree (a seed image, a copied store), every store path is
    /// NAR-hashed without Nix. Both give the same bytes for the same closure.
    Manifest(ManifestArgs),
}

/// Arguments of `seed-eth root`.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// A system and its closure-manifest digest, e.g. `x86_64-linux=sha256:<hex>`; repeat per system.
    #[arg(long = "leaf", value_name = "SYSTEM=DIGEST", required = true)]
    pub leaves: Vec<String>,
}

/// Arguments of `seed-eth manifest`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["store_path", "tree"])))]
pub struct ManifestArgs {
    /// A store path (or a symlink to one, such as `./result`) whose closure to list, via Nix.
    #[arg(long, value_name = "PATH")]
    pub store_path: Option<PathBuf>,

    /// An unpacked tree holding store paths, in `DIR/nix/store/` or directly in `DIR`; no Nix needed.
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,

    /// Also write the manifest to FILE (atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The `nix` program to run for --store-path.
    #[arg(
        long,
        value_name = "PROGRAM",
        env = "SEED_ETH_NIX",
        default_value = "nix"
    )]
    pub nix: PathBuf,
}
