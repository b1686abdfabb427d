//! `seed-eth verify`: a release against on-chain state (the logic is in `seed-verify`).

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use seed_chain::ConfigFile;
use seed_core::{CommitId, Sha256Digest, System};
use seed_nix::{AnyLock, ImageRef, UpstreamLock};
use seed_oci::Repository;
use seed_verify::{
    ContentResult, ContentSource, Report, Request, StatementCheck, StatementSource, VerifyError,
};
use seed_witness::chain::record_relied_on;

use super::{
    chain::{block_on, config_file, config_file_for_endpoints, failure, scan_overrides, settings},
    content::{closure_of, Source},
    credulous,
    oci::registry_client,
    proofs,
};
use crate::{
    cli::{Posture, VerifyArgs},
    exit::ExitCode,
    output::{Failure, Outcome, Report as Output},
};

/// Parses and checks every input, then verifies; exits 0 only when everything verified.
pub fn run(args: &VerifyArgs) -> Outcome {
    if args.posture.posture == Posture::Credulous {
        return credulous::verify(args);
    }
    let file = if args.proofs.proofs {
        config_file_for_endpoints(&args.chain)?
    } else {
        config_file(&args.chain)?
    };
    let (mut request, upstream) = request(args, &file)?;
    let chain_overrides = scan_overrides(&args.chain, &args.scan);
    let settings = settings(chain_overrides, &file)?;
    request.log_chunk = settings.log_chunk;
    request.proofs = proofs::request(&args.proofs, &args.chain.rpc_url)?;

    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        // With proofs the deployment's contracts are proven, not asked about first.
        let target = if request.proofs.is_some() {
            settings.open_to_prove(&chain).await
        } else {
            settings.open(&chain).await
        }
        .map_err(failure)?;
        let mut report = seed_verify::verify(&chain, &target, request)
            .await
            .map_err(verify_failure)?;
        if let Some(state) = &args.posture.witness_state {
            witness_block(state, &settings.rpc_url, &mut report)?;
        }
        let mut out = String::new();
        if let Some(lock) = &upstream {
            let _ = writeln!(
                out,
                "note: the lock is nix-seed's own format: it names images, not closure manifests, so the release is found from its images (each must be attested by a counted voter, as with --image) and the manifests are those the release finalised"
            );
            check_tag(lock, &mut report);
        }
        let code = if report.verified {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        };
        out.push_str(&text(&report));
        Ok(Output {
            code,
            text: out,
            json: serde_json::to_value(&report).unwrap_or_default(),
        })
    })
}

/// Records the finalisation block `report` relied on (chain id, number, the
/// hash the endpoint named) in the witness state at `state`, where
/// `seed-eth witness` compares it with other endpoints; a state that
/// already holds another hash for that block fails the verification.
fn witness_block(state: &Path, rpc_url: &str, report: &mut Report) -> Result<(), Failure> {
    let (Some(number), Some(hash)) = (report.block, report.block_hash) else {
        return Ok(());
    };
    let alarm = record_relied_on(state, report.chain_id, (number, hash), "verify", rpc_url)
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--witness-state")))?;
    if let Some(alarm) = alarm {
        report.failures.push(seed_verify::Finding::new(format!(
            "{} ({} in {}; {})",
            alarm.headline(),
            alarm.seen,
            state.display(),
            alarm.held
        )));
        report.verified = false;
    }
    Ok(())
}

/// The exit code of a verification that could not run: bad input (2) or the chain or a
/// registry (3).
pub(super) fn verify_failure(error: VerifyError) -> Failure {
    match error {
        VerifyError::Chain(e) => failure(e),
        other => {
            let code = match other.class() {
                seed_chain::ErrorClass::Config => ExitCode::Usage,
                seed_chain::ErrorClass::Network => ExitCode::Network,
            };
            Failure {
                code,
                error: eyre::Report::new(other),
            }
        }
    }
}

fn usage(flag: &str, error: impl std::error::Error + Send + Sync + 'static) -> Failure {
    Failure::usage(eyre::Report::new(error).wrap_err(flag.to_owned()))
}

/// A nix-seed lock's `tag` is the git revision its seed was built from: when it is a full
/// commit id, the release its images belong to must be that commit.
fn check_tag(lock: &UpstreamLock, report: &mut seed_verify::Report) {
    let Some(tag) = lock.tag.as_deref().and_then(|t| t.parse::<CommitId>().ok()) else {
        return;
    };
    let tag = tag.to_string();
    if report.commit.as_deref().is_some_and(|found| found != tag) {
        report.failures.push(seed_verify::Finding::new(format!(
            "the lock's tag names commit {tag}, but its images belong to release {}",
            report.commit.as_deref().unwrap_or_default()
        )));
        report.verified = false;
    }
}

/// Everything the command line asks for, parsed before any network access; with a lock in
/// nix-seed's own format, that lock too.
fn request(
    args: &VerifyArgs,
    file: &ConfigFile,
) -> Result<(Request, Option<UpstreamLock>), Failure> {
    let mut request = Request {
        commit: args
            .commit
            .as_deref()
            .map(str::parse::<CommitId>)
            .transpose()
            .map_err(|e| usage("--commit", e))?,
        ..Request::default()
    };
    if let Some(system) = &args.system {
        let system: System = system.parse().map_err(|e| usage("--system", e))?;
        let manifest: Sha256Digest = match (&args.manifest, &args.squashfs) {
            (Some(manifest), _) => manifest.parse().map_err(|e| usage("--manifest", e))?,
            (None, Some(squashfs)) => closure_of(
                &Source::Squashfs(squashfs),
                &[],
                file,
                ExitCode::CheckFailed,
            )?
            .manifest
            .digest(),
            // clap's `expected` group rules this out.
            (None, None) => {
                return Err(Failure::usage(eyre::eyre!(
                    "--system needs --manifest DIGEST or --squashfs FILE"
                )))
            }
        };
        request.manifests.insert(system, manifest);
    }
    let mut per_system = BTreeMap::new();
    let mut upstream = None;
    if let Some(path) = &args.lock {
        match AnyLock::read(path).map_err(|e| usage("--lock", e))? {
            AnyLock::V1(lock) => {
                for (system, entry) in lock.systems() {
                    request.manifests.insert(system.clone(), entry.manifest);
                    request.images.insert(system.clone(), entry.image.digest());
                    per_system.insert(system.clone(), Repository::from(&entry.image));
                }
            }
            AnyLock::Upstream(lock) => {
                for (system, image) in &lock.systems {
                    request.images.insert(system.clone(), image.digest());
                    per_system.insert(system.clone(), Repository::from(image));
                }
                upstream = Some(lock);
            }
        }
        if request.images.is_empty() {
            return Err(Failure::usage(eyre::eyre!(
                "--lock {}: the lock names no systems",
                path.display()
            )));
        }
    }
    let mut repositories = Vec::new();
    let image = match args.image.as_slice() {
        [] => None,
        [one] => Some(one),
        _ => {
            return Err(Failure::usage(eyre::eyre!(
                "--image: Zero finds a release from one image; give one (or --lock for all systems)"
            )))
        }
    };
    if let Some(image) = image {
        let image: ImageRef = image.parse().map_err(|e| usage("--image", e))?;
        request.any_image = Some(image.digest());
        repositories.push(Repository::from(&image));
    }
    for repository in &args.repository {
        repositories.push(repository.parse().map_err(|e| usage("--repository", e))?);
    }
    if !args.no_content && (!per_system.is_empty() || image.is_some()) {
        let client = registry_client(&args.plain_http, file).map_err(|e| usage("--image", e))?;
        request.content = Some(ContentSource {
            client,
            per_system: per_system.clone(),
            any_image: repositories.first().cloned().filter(|_| image.is_some()),
        });
    }
    if args.statements {
        if per_system.is_empty() && repositories.is_empty() {
            return Err(Failure::usage(eyre::eyre!(
                "--statements needs to know where the statements are: give --repository REGISTRY/REPO (or use --lock or --image)"
            )));
        }
        let client =
            registry_client(&args.plain_http, file).map_err(|e| usage("--statements", e))?;
        request.statements = Some(StatementSource {
            client,
            per_system,
            repositories,
        });
    }
    Ok((request, upstream))
}

fn digest(value: &alloy::primitives::B256) -> String {
    format!("sha256:{}", alloy::hex::encode(value))
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    let commit = report.commit.as_deref().unwrap_or("(not identified)");
    let verdict = if report.verified {
        "VERIFIED"
    } else {
        "NOT VERIFIED"
    };
    let _ = writeln!(out, "release {commit}: {verdict}");
    let _ = writeln!(
        out,
        "  chain {} registry {} ledger {}",
        report.chain_id, report.registry, report.ledger
    );
    if let (Some(root), Some(block)) = (report.root, report.block) {
        let recomputed = if report.root_recomputed {
            "recomputed from the registry's ReleaseFinalised event: equal"
        } else {
            "NOT confirmed by the registry's events"
        };
        let hash = report
            .block_hash
            .map(|hash| format!(" {hash:#x}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  ledger root {root} (block {block}{hash}), {recomputed}"
        );
    }
    match &report.proof {
        Some(proof) => {
            let _ = writeln!(
                out,
                "  proven against block {} {:#x} ({} headers), its hash from {}",
                proof.anchor.number.unwrap_or_default(),
                proof.anchor.hash,
                proof.headers,
                proof.anchor.source
            );
            for fact in &proof.facts {
                let _ = writeln!(out, "    proven: {fact}");
            }
        }
        None if report.root.is_some() => {
            let _ = writeln!(
                out,
                "  facts as the endpoint answered them (--proofs proves them against a block hash)"
            );
        }
        None => {}
    }
    if let Some(threshold) = report.threshold {
        let genesis = if report.genesis == Some(true) {
            " (genesis: every active builder)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  threshold {threshold}{genesis}, rules version {}",
            report.rules_version.unwrap_or_default()
        );
    }
    for system in &report.systems {
        let ids: Vec<String> = system
            .voters
            .iter()
            .map(|v| v.builder_id.to_string())
            .collect();
        let _ = writeln!(
            out,
            "  {} {} voters [{}]",
            system.system,
            digest(&system.manifest_digest),
            ids.join(",")
        );
        for v in &system.voters {
            let statement = match &v.statement {
                StatementCheck::NotChecked => "not checked".to_owned(),
                StatementCheck::Verified => "verified".to_owned(),
                StatementCheck::Failed { reason } => format!("FAILED: {reason}"),
            };
            let _ = writeln!(
                out,
                "    builder {} {} image {} statement {} ({statement})",
                v.builder_id,
                v.signer,
                digest(&v.image_digest),
                digest(&v.statement_digest)
            );
        }
    }
    for check in &report.content {
        let result = match &check.result {
            ContentResult::Matches => "matches the finalised closure".to_owned(),
            ContentResult::Mismatch { holds, .. } => format!("MISMATCH: it holds {holds}"),
            ContentResult::Unreadable { reason } => format!("NOT CHECKED: {reason}"),
        };
        let _ = writeln!(
            out,
            "  content: {} image {} {result}",
            check.system, check.image
        );
    }
    for finding in &report.failures {
        let _ = writeln!(out, "  FAILED: {finding}");
    }
    out
}
