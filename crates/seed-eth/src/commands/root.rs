//! `seed-eth root`: the release root of a set of systems, computed offline.

use eyre::WrapErr;
use seed_core::{release_root, Leaf, Sha256Digest, System};
use serde_json::json;

use crate::{
    cli::RootArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Parses the leaves, sorts them by system and prints the root.
pub fn run(args: &RootArgs) -> Outcome {
    let mut leaves = args
        .leaves
        .iter()
        .map(|arg| parse_leaf(arg))
        .collect::<Result<Vec<_>, _>>()?;
    leaves.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let root = release_root(&leaves).map_err(Failure::usage)?;

    let mut text = format!("release root {root}\n");
    for (system, digest) in &leaves {
        text.push_str(&format!("  {system:<20} {digest}\n"));
    }
    let systems: Vec<_> =
        leaves.iter().map(|(system, digest)| json!({ "system": system.as_str(), "manifestDigest": digest.to_string() })).collect();
    Ok(Report {
        code: ExitCode::Ok,
        text,
        json: json!({ "root": root.to_string(), "leaves": systems }),
    })
}

/// Parses `SYSTEM=DIGEST`.
fn parse_leaf(arg: &str) -> Result<Leaf, Failure> {
    let (system, digest) = arg.split_once('=').ok_or_else(|| {
        Failure::usage(eyre::eyre!(
            "--leaf '{arg}' is not of the form SYSTEM=DIGEST"
        ))
    })?;
    let system: System = system
        .parse()
        .wrap_err_with(|| format!("in --leaf '{arg}'"))
        .map_err(Failure::usage)?;
    let digest: Sha256Digest = digest
        .parse()
        .wrap_err_with(|| format!("in --leaf '{arg}'"))
        .map_err(Failure::usage)?;
    Ok((system, digest))
}
