//! `seed-eth seed build`: a seed image from a closure, in upstream nix-seed's
//! format, written deterministically into an OCI layout.

use std::path::PathBuf;

use seed_core::System;
use seed_image::build::{build_seed, SeedSpec, DEFAULT_EPOCH};
use seed_nix::{resolve_store_path, Nix};
use serde_json::json;

use crate::{
    cli::{SeedArgs, SeedBuildArgs, SeedCommand},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

use super::content::content_failure;

/// Runs a `seed` subcommand.
pub fn run(args: &SeedArgs) -> Outcome {
    match &args.command {
        SeedCommand::Build(args) => build(args),
    }
}

/// Lists the closure with Nix, packs it, writes the layout, prints the image digest.
fn build(args: &SeedBuildArgs) -> Outcome {
    let system: System = args
        .system
        .parse()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--system")))?;
    let nix = Nix::new(&args.nix);
    let closure = nix.closure(&args.store_path).map_err(Failure::usage)?;
    let store_paths: Vec<_> = closure.iter().map(|(path, _)| path.clone()).collect();
    let env = match &args.env {
        Some(env) => {
            let env = resolve_store_path(env).map_err(Failure::usage)?;
            if !store_paths.contains(&env) {
                return Err(Failure::usage(eyre::eyre!(
                    "--env {env} is not in the closure of {}; the link would dangle on every \
                     machine that mounts the seed",
                    args.store_path.display()
                )));
            }
            Some(PathBuf::from(env.to_string()))
        }
        None => None,
    };
    let registration = nix.dump_db(&store_paths).map_err(Failure::usage)?;
    let spec = SeedSpec {
        paths: store_paths
            .iter()
            .map(|p| PathBuf::from(p.to_string()))
            .collect(),
        registration,
        env,
        epoch: args.source_date_epoch.unwrap_or(DEFAULT_EPOCH),
    };
    let seed = build_seed(
        &spec,
        system.as_str(),
        &args.oci_layout,
        &args.tag,
        args.squashfs.as_deref(),
    )
    .map_err(|e| content_failure(e, ExitCode::Usage))?;
    let manifest = seed_nix::ClosureManifest::new(closure).map_err(Failure::usage)?;
    Ok(Report {
        code: ExitCode::Ok,
        // The image digest alone, so `image=$(seed-eth seed build ...)` just works.
        text: format!("{}\n", seed.manifest),
        json: json!({
            "image": seed.manifest.to_string(),
            "layer": { "digest": seed.layer.to_string(), "size": seed.layer_size },
            "ociLayout": format!("{}:{}", args.oci_layout.display(), args.tag),
            "squashfs": args.squashfs,
            "closureManifest": manifest.digest().to_string(),
            "paths": manifest.entries().len(),
        }),
    })
}
