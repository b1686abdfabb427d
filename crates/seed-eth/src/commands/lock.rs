//! `seed-eth lock`: a `.seed.lock` v1 for a finalised release. The release is
//! verified as `seed-eth verify --commit` verifies it; each system's entry is
//! the manifest the release finalised and the image the keeper promotes for it
//! (D-031), pinned by digest in the repository consumers pull from, and read
//! from that repository before anything is written.

use std::fmt::Write as _;

use seed_core::{promoted_image, CommitId, Sha256Digest, System};
use seed_nix::{DeliveryKind, ImageRef, LockEntry, SeedLock};
use seed_oci::{OciError, Repository};
use seed_verify::Request;

use super::{
    chain::{block_on, config_file, failure, scan_overrides, settings},
    oci::registry_client,
    verify::verify_failure,
};
use crate::{
    cli::LockArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Verifies the release, finds and checks each system's image, writes the lock.
pub fn run(args: &LockArgs) -> Outcome {
    let file = config_file(&args.chain)?;
    let commit: CommitId = args
        .commit
        .parse()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--commit")))?;
    let section = file.keeper_section();
    let repository = args
        .repository
        .clone()
        .or(section.target)
        .or(section.source)
        .ok_or_else(|| {
            Failure::usage(eyre::eyre!(
                "no repository to point the lock at: give --repository REGISTRY/REPO (where consumers pull the promoted images), or `target` in the [keeper] table of seed-eth.toml"
            ))
        })?;
    let client = registry_client(&args.plain_http, &file)
        .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
    let settings = settings(scan_overrides(&args.chain, &args.scan), &file)?;

    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        let target = settings.open(&chain).await.map_err(failure)?;
        let request = Request {
            commit: Some(commit),
            log_chunk: settings.log_chunk,
            ..Request::default()
        };
        let report = seed_verify::verify(&chain, &target, request)
            .await
            .map_err(verify_failure)?;
        if !report.verified {
            let reasons: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
            return Err(Failure::check_failed(eyre::eyre!(
                "release {commit} does not verify, so no lock was written: {}",
                reasons.join("; ")
            )));
        }
        let mut lock = SeedLock::new();
        let mut text = String::new();
        for system in &report.systems {
            let (name, manifest, image) = entry_of(system, &repository)?;
            check_image(&client, &image).await?;
            let _ = writeln!(
                text,
                "  {name:<16} manifest {manifest}\n  {:<16} image    {image}",
                ""
            );
            lock.insert(
                name,
                LockEntry {
                    kind: DeliveryKind::Oci,
                    manifest,
                    image,
                },
            );
        }
        lock.write(&args.output)
            .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
        Ok(Report {
            code: ExitCode::Ok,
            text: format!(
                "wrote {} for release {commit} (verified against chain {})\n{text}",
                args.output.display(),
                report.chain_id
            ),
            json: serde_json::json!({
                "file": args.output,
                "commit": commit.to_string(),
                "lock": serde_json::from_str::<serde_json::Value>(&lock.to_json()).unwrap_or_default(),
            }),
        })
    })
}

/// One system's lock entry: its finalised manifest and the promoted image
/// (D-031) in `repository` (`{system}` filled in).
fn entry_of(
    system: &seed_verify::SystemReport,
    repository: &str,
) -> Result<(System, Sha256Digest, ImageRef), Failure> {
    let internal = |what: &str| Failure::network(eyre::eyre!("verify reported {what}"));
    let name: System = system
        .system
        .parse()
        .map_err(|_| internal("a malformed system"))?;
    let manifest = Sha256Digest::from_bytes(system.manifest_digest)
        .map_err(|_| internal("a malformed digest"))?;
    let (_, image) = promoted_image(
        system
            .voters
            .iter()
            .map(|v| (v.builder_id, system.manifest_digest, v.image_digest)),
        &system.manifest_digest,
        system.voter_bitmap,
    )
    .ok_or_else(|| internal("a system without counted voters"))?;
    let image = Sha256Digest::from_bytes(image).map_err(|_| internal("a malformed digest"))?;
    let reference = format!("{}@{image}", repository.replace("{system}", name.as_str()));
    let image: ImageRef = reference.parse().map_err(|e| {
        Failure::usage(eyre::Report::new(e).wrap_err(format!("--repository {repository}")))
    })?;
    Ok((name, manifest, image))
}

/// The image must be in the repository, byte for byte: a lock must never
/// point consumers at nothing (the keeper may not have promoted it yet).
async fn check_image(client: &seed_oci::RegistryClient, image: &ImageRef) -> Result<(), Failure> {
    let repository = Repository::from(image);
    match client.pull_manifest(&repository, &image.digest()).await {
        Ok(_) => Ok(()),
        Err(OciError::NotFound { .. }) => Err(Failure::check_failed(eyre::eyre!(
            "{image} is not in {repository}, so no lock was written: run the keeper (it promotes the release's images there), or give the --repository builders push to"
        ))),
        Err(e) if e.is_transient() => Err(Failure::network(eyre::Report::new(e))),
        Err(e) => Err(Failure::check_failed(
            eyre::Report::new(e).wrap_err(format!("reading {image}")),
        )),
    }
}
