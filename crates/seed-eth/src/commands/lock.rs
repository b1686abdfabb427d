//! `seed-eth lock`: a `.seed.lock` v1 for a finalised release. The release is
//! verified as `seed-eth verify --commit` verifies it; each system's entry is
//! the manifest the release finalised and the image the keeper promotes for it
//! (D-031: the first counted voter's image whose content holds the manifest),
//! pinned by digest in the repository consumers pull from, and read from that
//! repository, content included, before anything is written.

use std::fmt::Write as _;

use seed_core::{image_candidates, CommitId, Sha256Digest, System};
use seed_image::ContentError;
use seed_nix::{DeliveryKind, ImageRef, LockEntry, SeedLock};
use seed_oci::{OciError, Repository};
use seed_verify::Request;

use super::{
    chain::{block_on, config_file, failure, scan_overrides, settings},
    credulous,
    oci::registry_client,
    verify::verify_failure,
};
use crate::{
    cli::{LockArgs, Posture},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Verifies the release, finds and checks each system's image, writes the lock.
pub fn run(args: &LockArgs) -> Outcome {
    if args.posture.posture == Posture::Credulous {
        return credulous::lock(args);
    }
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
            let (name, manifest, candidates) = entry_of(system, &repository)?;
            let image = promoted(&client, &candidates, &manifest).await?;
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

/// One system's finalised manifest and the images the keeper tries for it
/// (D-031 order) in `repository` (`{system}` filled in).
fn entry_of(
    system: &seed_verify::SystemReport,
    repository: &str,
) -> Result<(System, Sha256Digest, Vec<ImageRef>), Failure> {
    let internal = |what: &str| Failure::network(eyre::eyre!("verify reported {what}"));
    let name: System = system
        .system
        .parse()
        .map_err(|_| internal("a malformed system"))?;
    let manifest = Sha256Digest::from_bytes(system.manifest_digest)
        .map_err(|_| internal("a malformed digest"))?;
    let candidates = image_candidates(
        system
            .voters
            .iter()
            .map(|v| (v.builder_id, system.manifest_digest, v.image_digest)),
        &system.manifest_digest,
        system.voter_bitmap,
    );
    if candidates.is_empty() {
        return Err(internal("a system without counted voters"));
    }
    candidates
        .into_iter()
        .map(|(_, image)| {
            let image =
                Sha256Digest::from_bytes(image).map_err(|_| internal("a malformed digest"))?;
            let reference = format!("{}@{image}", repository.replace("{system}", name.as_str()));
            reference.parse().map_err(|e| {
                Failure::usage(eyre::Report::new(e).wrap_err(format!("--repository {repository}")))
            })
        })
        .collect::<Result<Vec<ImageRef>, _>>()
        .map(|candidates| (name, manifest, candidates))
}

/// The image the keeper promotes: the first candidate in the repository whose
/// content holds the manifest. A lock never points consumers at nothing (the
/// keeper may not have promoted it yet) or at an image that does not hold
/// the release's closure.
async fn promoted(
    client: &seed_oci::RegistryClient,
    candidates: &[ImageRef],
    manifest: &Sha256Digest,
) -> Result<ImageRef, Failure> {
    let mut refused = Vec::new();
    for image in candidates {
        let repository = Repository::from(image);
        match seed_image::registry::image_closure(client, &repository, &image.digest()).await {
            Ok(closure) if closure.manifest.digest() == *manifest => return Ok(image.clone()),
            Ok(closure) => refused.push(format!(
                "{image} holds {}, not {manifest}",
                closure.manifest.digest()
            )),
            Err(ContentError::Registry(OciError::NotFound { .. })) => {}
            Err(ContentError::Registry(e)) if e.is_transient() => {
                return Err(Failure::network(eyre::Report::new(e)))
            }
            Err(e) => refused.push(format!("{image}: {e}")),
        }
    }
    let repository = candidates
        .first()
        .map(|image| Repository::from(image).to_string())
        .unwrap_or_default();
    Err(Failure::check_failed(eyre::eyre!(
        "no image of the release that holds its closure {manifest} is in {repository}, so no lock was written{}: run the keeper (it promotes the release's images there), or give the --repository builders push to",
        if refused.is_empty() {
            String::new()
        } else {
            format!(" ({})", refused.join("; "))
        }
    )))
}
