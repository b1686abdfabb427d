//! `seed-eth manifest`: the closure manifest of a store path (via Nix) or of
//! an unpacked tree (without Nix), and its digest.

use eyre::WrapErr;
use seed_fs::write_atomic;
use seed_nix::{tree_manifest, ClosureManifest, Nix};
use serde_json::json;

use crate::{
    cli::ManifestArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Computes the manifest, writes it if asked, and prints the digest.
///
/// Every failure is exit code 2: a missing or invalid path, a malformed
/// tree, or Nix not installed all mean the input or the setup is wrong, and
/// retrying the same command will not help.
pub fn run(args: &ManifestArgs) -> Outcome {
    let (manifest, source) = match (&args.store_path, &args.tree) {
        (Some(path), _) => {
            let manifest = Nix::new(&args.nix)
                .closure_manifest(path)
                .map_err(Failure::usage)?;
            (manifest, json!({ "storePath": path }))
        }
        (None, Some(tree)) => {
            let (manifest, _) = tree_manifest(tree).map_err(Failure::usage)?;
            (manifest, json!({ "tree": tree }))
        }
        // clap's required group rules this out; say so rather than panic.
        (None, None) => {
            return Err(Failure::usage(eyre::eyre!(
                "give --store-path PATH or --tree DIR"
            )))
        }
    };
    if let Some(output) = &args.output {
        write_atomic(output, manifest.as_bytes())
            .wrap_err("writing the manifest")
            .map_err(Failure::usage)?;
    }
    Ok(Report {
        code: ExitCode::Ok,
        // The digest alone, so `digest=$(seed-eth manifest ...)` just works.
        text: format!("{}\n", manifest.digest()),
        json: json!({
            "digest": manifest.digest().to_string(),
            "source": source,
            "manifestFile": args.output,
            "paths": paths_json(&manifest),
        }),
    })
}

fn paths_json(manifest: &ClosureManifest) -> Vec<serde_json::Value> {
    manifest
        .entries()
        .iter()
        .map(|(path, hash)| json!({ "path": path.to_string(), "narHash": hash.to_string() }))
        .collect()
}
