//! `seed-eth verify`: a release against on-chain state (the logic is in `seed-verify`).

use std::{collections::BTreeMap, fmt::Write as _};

use seed_chain::ConfigFile;
use seed_core::{CommitId, Sha256Digest, System};
use seed_nix::{ImageRef, SeedLock};
use seed_oci::Repository;
use seed_verify::{Report, Request, StatementCheck, StatementSource, VerifyError};

use super::{
    chain::{block_on, config_file, failure, scan_overrides, settings},
    oci::registry_client,
};
use crate::{
    cli::VerifyArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report as Output},
};

/// Parses and checks every input, then verifies; exits 0 only when everything verified.
pub fn run(args: &VerifyArgs) -> Outcome {
    let file = config_file(&args.chain)?;
    let mut request = request(args, &file)?;
    let chain_overrides = scan_overrides(&args.chain, &args.scan);
    let settings = settings(chain_overrides, &file)?;
    request.log_chunk = settings.log_chunk;

    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        let target = settings.open(&chain).await.map_err(failure)?;
        let report = seed_verify::verify(&chain, &target, request)
            .await
            .map_err(verify_failure)?;
        let code = if report.verified {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        };
        Ok(Output {
            code,
            text: text(&report),
            json: serde_json::to_value(&report).unwrap_or_default(),
        })
    })
}

fn verify_failure(error: VerifyError) -> Failure {
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

/// Everything the command line asks for, parsed before any network access.
fn request(args: &VerifyArgs, file: &ConfigFile) -> Result<Request, Failure> {
    let mut request = Request {
        commit: args
            .commit
            .as_deref()
            .map(str::parse::<CommitId>)
            .transpose()
            .map_err(|e| usage("--commit", e))?,
        ..Request::default()
    };
    if let (Some(system), Some(manifest)) = (&args.system, &args.manifest) {
        let system: System = system.parse().map_err(|e| usage("--system", e))?;
        let manifest: Sha256Digest = manifest.parse().map_err(|e| usage("--manifest", e))?;
        request.manifests.insert(system, manifest);
    }
    let mut per_system = BTreeMap::new();
    if let Some(path) = &args.lock {
        let lock = SeedLock::read(path).map_err(|e| usage("--lock", e))?;
        for (system, entry) in lock.systems() {
            request.manifests.insert(system.clone(), entry.manifest);
            request.images.insert(system.clone(), entry.image.digest());
            per_system.insert(system.clone(), Repository::from(&entry.image));
        }
        if request.manifests.is_empty() {
            return Err(Failure::usage(eyre::eyre!(
                "--lock {}: the lock names no systems",
                path.display()
            )));
        }
    }
    let mut repositories = Vec::new();
    if let Some(image) = &args.image {
        let image: ImageRef = image.parse().map_err(|e| usage("--image", e))?;
        request.any_image = Some(image.digest());
        repositories.push(Repository::from(&image));
    }
    for repository in &args.repository {
        repositories.push(repository.parse().map_err(|e| usage("--repository", e))?);
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
    Ok(request)
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
        let _ = writeln!(out, "  ledger root {root} (block {block}), {recomputed}");
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
    for finding in &report.failures {
        let _ = writeln!(out, "  FAILED: {finding}");
    }
    out
}
