//! `seed-eth manifest`: the closure manifest of a store path (via Nix), of an
//! unpacked tree, or of a seed image (a squashfs file, an OCI layout, an image
//! in a registry; all without Nix), and its digest.

use super::chain::config_file_here;
use eyre::WrapErr;
use seed_fs::write_atomic;
use seed_nix::{tree_manifest, ClosureManifest, ImageRef, Nix};
use serde_json::json;

use super::content::{closure_of, Source};
use crate::{
    cli::ManifestArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Computes the manifest, writes it if asked, and prints the digest.
///
/// Failures are exit code 2: a missing or invalid path, a malformed tree or
/// image, or Nix not installed all mean the input or the setup is wrong, and
/// retrying the same command will not help; only a registry that cannot be
/// reached is exit 3.
pub fn run(args: &ManifestArgs) -> Outcome {
    let image_source = |source: Source<'_>| {
        closure_of(
            &source,
            &args.plain_http,
            &config_file_here()?,
            ExitCode::Usage,
        )
    };
    let (manifest, source, outside_store) = if let Some(path) = &args.store_path {
        let manifest = Nix::new(&args.nix)
            .closure_manifest(path)
            .map_err(Failure::usage)?;
        (manifest, json!({ "storePath": path }), 0)
    } else if let Some(tree) = &args.tree {
        let (manifest, _) = tree_manifest(tree).map_err(Failure::usage)?;
        (manifest, json!({ "tree": tree }), 0)
    } else if let Some(file) = &args.squashfs {
        let closure = image_source(Source::Squashfs(file))?;
        (closure.manifest, json!({ "squashfs": file }), 0)
    } else if let Some(layout) = &args.oci_layout {
        let closure = image_source(Source::Layout(layout))?;
        let outside = closure.entries_outside_store;
        (closure.manifest, json!({ "ociLayout": layout }), outside)
    } else if let Some(image) = &args.image {
        let image: ImageRef = image
            .parse()
            .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--image")))?;
        let closure = image_source(Source::Registry(&image))?;
        let outside = closure.entries_outside_store;
        (
            closure.manifest,
            json!({ "image": image.to_string() }),
            outside,
        )
    } else {
        // clap's required group rules this out; say so rather than panic.
        return Err(Failure::usage(eyre::eyre!(
            "give --store-path, --tree, --squashfs, --oci-layout or --image"
        )));
    };
    if outside_store > 0 {
        // stderr: stdout stays the digest alone.
        eprintln!(
            "note: the image has {} outside /nix/store, which the closure manifest does not cover",
            crate::output::count(outside_store as usize, "entry", "entries")
        );
    }
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
            "entriesOutsideStore": outside_store,
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
