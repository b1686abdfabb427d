//! `seed-eth seed build`: a seed image from a closure, in upstream nix-seed's
//! format, written deterministically into an OCI layout or a registry; and
//! `seed-eth seed push`: a squashfs built elsewhere, published the same way.

use std::path::{Path, PathBuf};

use seed_core::System;
use seed_image::{
    build::{push_seed, write_layout, write_squashfs, BuiltSeed, SeedSpec, DEFAULT_EPOCH},
    ContentError,
};
use seed_nix::{resolve_store_path, ClosureManifest, Nix};
use seed_oci::{Repository, Tag};
use serde_json::json;

use crate::{
    cli::{SeedArgs, SeedBuildArgs, SeedCommand, SeedPushArgs},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

use super::{
    chain::{block_on, config_file_here},
    content::content_failure,
    oci::registry_client,
};

/// Runs a `seed` subcommand.
pub fn run(args: &SeedArgs) -> Outcome {
    match &args.command {
        SeedCommand::Build(args) => build(args),
        SeedCommand::Push(args) => push(args),
    }
}

/// Reads the squashfs's closure (so nothing unreadable is published as a
/// seed), pushes it, prints the image digest.
fn push(args: &SeedPushArgs) -> Outcome {
    let system = parse_system(&args.system)?;
    let closure =
        seed_image::squashfs::closure_of_file(&args.squashfs, &args.squashfs.display().to_string())
            .map_err(content)?;
    let seed = push_to(&args.squashfs, &system, &args.to, &args.plain_http)?;
    Ok(report(
        &seed,
        &closure.manifest,
        json!({ "pushed": args.to }),
    ))
}

/// Lists the closure with Nix, packs it, writes the layout, prints the image digest.
fn build(args: &SeedBuildArgs) -> Outcome {
    let system = parse_system(&args.system)?;
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
    let registration = nix.registration(&store_paths).map_err(Failure::usage)?;
    let spec = SeedSpec {
        paths: store_paths
            .iter()
            .map(|p| PathBuf::from(p.to_string()))
            .collect(),
        registration,
        env,
        epoch: args.source_date_epoch.unwrap_or(DEFAULT_EPOCH),
    };
    // The squashfs: kept where asked, else a temporary file next to the layout
    // (or here), never in /tmp, which may be too small for a seed.
    let work_dir = args
        .oci_layout
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&work_dir).map_err(|e| {
        Failure::usage(eyre::Report::new(e).wrap_err(format!("creating {}", work_dir.display())))
    })?;
    let temporary = tempfile::NamedTempFile::new_in(&work_dir).map_err(|e| {
        Failure::usage(
            eyre::Report::new(e).wrap_err(format!("a temporary file in {}", work_dir.display())),
        )
    })?;
    let squashfs = args
        .squashfs
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    write_squashfs(&spec, &squashfs).map_err(content)?;
    let mut seed = None;
    if let Some(dir) = &args.oci_layout {
        seed = Some(write_layout(&squashfs, system.as_str(), dir, &args.tag).map_err(content)?);
    }
    if let Some(target) = &args.push {
        seed = Some(push_to(&squashfs, &system, target, &args.plain_http)?);
    }
    let Some(seed) = seed else {
        return Err(Failure::usage(eyre::eyre!(
            "give --oci-layout DIR or --push REPO[:TAG]"
        )));
    };
    let manifest = seed_nix::ClosureManifest::new(closure).map_err(Failure::usage)?;
    Ok(report(
        &seed,
        &manifest,
        json!({
            "ociLayout": args.oci_layout.as_ref().map(|dir| format!("{}:{}", dir.display(), args.tag)),
            "pushed": args.push,
            "squashfs": args.squashfs,
        }),
    ))
}

/// Pushes the seed image of `squashfs` to `target` (`REGISTRY/REPO[:TAG]`).
fn push_to(
    squashfs: &Path,
    system: &System,
    target: &str,
    plain_http: &[String],
) -> Result<BuiltSeed, Failure> {
    let (repo, tag) = repository_and_tag(target)?;
    let client = registry_client(plain_http, &config_file_here()?)
        .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
    block_on(async {
        push_seed(&client, &repo, tag.as_ref(), squashfs, system.as_str())
            .await
            .map_err(content)
    })
}

/// The image digest alone as text, so `image=$(seed-eth seed …)` just works;
/// in JSON also the layer, the closure and `extra`.
fn report(seed: &BuiltSeed, closure: &ClosureManifest, extra: serde_json::Value) -> Report {
    let mut json = json!({
        "image": seed.manifest.to_string(),
        "layer": { "digest": seed.layer.to_string(), "size": seed.layer_size },
        "closureManifest": closure.digest().to_string(),
        "paths": closure.entries().len(),
    });
    if let (Some(all), serde_json::Value::Object(more)) = (json.as_object_mut(), extra) {
        all.extend(more);
    }
    Report {
        code: ExitCode::Ok,
        text: format!("{}\n", seed.manifest),
        json,
    }
}

/// Image build and push failures are the input's (exit 2), but for a
/// registry that cannot be reached (3).
fn content(error: ContentError) -> Failure {
    content_failure(error, ExitCode::Usage)
}

fn parse_system(text: &str) -> Result<System, Failure> {
    text.parse()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--system")))
}

/// `REGISTRY/REPO` or `REGISTRY/REPO:TAG` (a `:` after the last `/`).
fn repository_and_tag(text: &str) -> Result<(Repository, Option<Tag>), Failure> {
    let (repo, tag) = match text.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') && repo.contains('/') => (repo, Some(tag)),
        _ => (text, None),
    };
    let repo: Repository = repo
        .parse()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--push")))?;
    let tag = tag
        .map(str::parse::<Tag>)
        .transpose()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--push")))?;
    Ok((repo, tag))
}
