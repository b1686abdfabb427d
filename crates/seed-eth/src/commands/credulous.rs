//! `attest` and `verify` under `--posture credulous` (the logic is in
//! `seed-credulous`): Sigstore bundles logged in Rekor and attached to the
//! image, counted over a Credulous policy's distinct builders.

use std::{collections::BTreeMap, fmt::Write as _, path::Path, sync::Arc, time::Duration};

use eyre::{eyre, WrapErr};
use seed_chain::{ConfigFile, CredulousSection};
use seed_core::{CommitId, Sha256Digest};
use seed_credulous::{AttestError, FindingStatus, ReleaseReport, Witnessing};
use seed_keeper::{
    credulous::DEFAULT_DEADLINE, read_follow_file, CredulousKeeper, Metrics, Promotion,
    ReleaseState,
};
use seed_nix::{AnyLock, DeliveryKind, ImageRef, LockEntry, SeedLock};
use seed_oci::Repository;
use seed_sigstore::{
    production_trust_root, trust_root_from_json, BundleVerifier, Credential, CredulousPolicy,
    Keyless, RekorWriter, Retry, SignError, SigningKey, Timestamper, TrustedRoot,
};
use seed_statement::{Builder, SigstoreBuilder};
use seed_witness::{config::WitnessConfig, Witness};
use serde_json::json;

use super::{
    attest::{oci_failure, write_file},
    build_inputs::gather,
    chain::{block_on, config_file},
    keeper::keeper_failure,
    oci::registry_client,
};
use crate::{
    cli::{AttestArgs, KeeperArgs, LockArgs, VerifyArgs},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// The public-good Rekor v1 log, the default a builder writes to.
pub const DEFAULT_REKOR_URL: &str = "https://rekor.sigstore.dev";

/// The trust root in `path` (`flag` names where it came from), else the
/// production root shipped with seed-eth.
pub fn trust_root(path: Option<&Path>, flag: &str) -> Result<TrustedRoot, Failure> {
    match path {
        Some(path) => std::fs::read_to_string(path)
            .wrap_err_with(|| format!("{flag} {}", path.display()))
            .and_then(|json| {
                trust_root_from_json(&json).wrap_err_with(|| format!("{flag} {}", path.display()))
            }),
        None => production_trust_root().map_err(eyre::Report::new),
    }
    .map_err(Failure::usage)
}

fn verifier(flag: Option<&Path>, section: &CredulousSection) -> Result<BundleVerifier, Failure> {
    let (path, name) = match (flag, &section.trusted_root) {
        (Some(path), _) => (Some(path), "--trusted-root"),
        (None, Some(path)) => (Some(path.as_path()), "[credulous] trusted-root"),
        (None, None) => (None, ""),
    };
    let root = trust_root(path, name)?;
    BundleVerifier::new(&root)
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("the Sigstore trust root")))
}

/// `seed-eth attest --posture credulous`.
pub fn attest(args: &AttestArgs) -> Outcome {
    if args.sign_only.is_some() {
        return Err(Failure::usage(eyre!(
            "--sign-only signs an Ethereum vote; under --posture credulous the bundle is the vote"
        )));
    }
    let file = config_file(&args.chain)?;
    let section = file.credulous();
    let verifier = verifier(args.posture.trusted_root.as_deref(), &section)?;
    // Flags replace the file's lists; with no log named at all, public-good Rekor v1.
    let given = |flag: &Vec<String>, file: &Option<Vec<String>>| match flag.is_empty() {
        false => flag.clone(),
        true => file.clone().unwrap_or_default(),
    };
    let mut rekor_urls = given(&args.rekor_url, &section.rekor_urls);
    let rekor_v2_urls = given(&args.rekor_v2_url, &section.rekor_v2_urls);
    if rekor_urls.is_empty() && rekor_v2_urls.is_empty() {
        rekor_urls.push(DEFAULT_REKOR_URL.to_owned());
    }
    let retry = Retry {
        attempts: args.rekor_attempts,
        ..Retry::default()
    };
    let logs = rekor_urls
        .iter()
        .map(|url| RekorWriter::new(url, retry))
        .chain(
            rekor_v2_urls
                .iter()
                .map(|url| RekorWriter::new_v2(url, retry)),
        )
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::network)?;
    let rekor_urls: Vec<String> = rekor_urls.into_iter().chain(rekor_v2_urls).collect();
    let timestamper = args
        .tsa_url
        .as_ref()
        .or(section.tsa_url.as_ref())
        .map(|url| Timestamper::new(url, retry))
        .transpose()
        .map_err(Failure::network)?;
    // A bad key fails before the image is read; a keyless certificate (valid
    // ten minutes) is asked for after.
    let managed = managed_key(args, &section)?;
    let inputs = gather(args, |name| std::env::var(name).ok(), &file)?;
    let oci = match args.no_push {
        true => None,
        false => Some(registry_client(&args.plain_http, &file).map_err(oci_failure)?),
    };
    let credential = match managed {
        Some(key) => Credential::Key(key),
        None => keyless(args, &section, retry)?,
    };
    let builder = match &credential {
        Credential::Key(key) => SigstoreBuilder::Key {
            fingerprint: key.fingerprint().parse().map_err(Failure::usage)?,
        },
        Credential::Keyless(keyless) => {
            SigstoreBuilder::identity(keyless.issuer(), keyless.identity())
                .map_err(Failure::usage)?
        }
    };
    let statement = inputs.statement(Builder::Sigstore(builder))?;
    let witness = args
        .witness_config
        .as_ref()
        .or(section.witness_config.as_ref())
        .map(|path| builder_witness(path))
        .transpose()?;
    let repo = Repository::from(&inputs.image);
    let target = oci.as_ref().map(|client| (client, &repo));
    let attested = block_on(async {
        seed_credulous::attest(
            &statement,
            &credential,
            &logs,
            timestamper.as_ref(),
            &verifier,
            witness.as_ref(),
            target,
        )
        .await
        .map_err(attest_failure)
    })?;
    if let Some(path) = &args.bundle_out {
        write_file(path, attested.bundle.as_bytes())?;
    }
    let entries: Vec<String> = attested
        .verified
        .log_entries
        .iter()
        .map(|e| e.log_index.to_string())
        .collect();
    let referrer = attested.referrer.map(|d| d.to_string());
    let gossip = match attested.gossiped.as_slice() {
        [] => String::new(),
        referrers => format!(
            "; witness checkpoint gossiped as {}",
            referrers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let text = format!(
        "{} {} {} manifest {} as {}: {}{gossip}; Rekor entries {} ({})\n",
        if attested.already {
            "already attested"
        } else {
            "attested"
        },
        inputs.commit,
        inputs.system,
        inputs.manifest,
        attested.verified.signer,
        referrer.as_deref().map_or_else(
            || "not attached (--no-push)".to_owned(),
            |r| format!("bundle attached to {} as {r}", inputs.image)
        ),
        entries.join(", "),
        rekor_urls.join(", "),
    );
    Ok(Report {
        code: ExitCode::Ok,
        text,
        json: json!({
            "posture": "credulous",
            "sent": !attested.already,
            "alreadyAttested": attested.already,
            "commit": inputs.commit.to_string(),
            "system": inputs.system.to_string(),
            "manifestDigest": inputs.manifest.to_string(),
            "image": inputs.image.to_string(),
            "signer": attested.verified.signer.to_string(),
            "rekorUrls": rekor_urls,
            "logIndices": attested.verified.log_entries.iter().map(|e| e.log_index).collect::<Vec<_>>(),
            "referrer": referrer,
            "witnessCheckpoints": attested.gossiped.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    })
}

/// The public-good Fulcio, the default keyless builders ask.
pub const DEFAULT_FULCIO_URL: &str = "https://fulcio.sigstore.dev";

/// The managed key of `--signing-key` (or SEED_ETH_SIGNING_KEY, or the file's
/// `signing-key`), if one is named.
fn managed_key(
    args: &AttestArgs,
    section: &CredulousSection,
) -> Result<Option<SigningKey>, Failure> {
    let Some(path) = args.signing_key.as_ref().or(section.signing_key.as_ref()) else {
        return Ok(None);
    };
    let pem = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("the signing key {}", path.display()))
        .map_err(Failure::usage)?;
    SigningKey::from_pem(&pem)
        .map(Some)
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err(format!("{}", path.display()))))
}

/// Keyless: a fresh key certified by Fulcio for the identity token of
/// `--identity-token`, SIGSTORE_ID_TOKEN or the CI provider's ambient one.
fn keyless(
    args: &AttestArgs,
    section: &CredulousSection,
    retry: Retry,
) -> Result<Credential, Failure> {
    let token = match &args.identity_token {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .wrap_err_with(|| format!("--identity-token {}", path.display()))
                .map_err(Failure::usage)?,
        ),
        None => match std::env::var("SIGSTORE_ID_TOKEN") {
            Ok(token) if !token.trim().is_empty() => Some(token),
            _ => block_on(async { Keyless::ambient_token().await.map_err(sign_failure) })?,
        },
    };
    let token = token.ok_or_else(|| {
        Failure::usage(eyre!(
            "--posture credulous needs a way to sign: a managed key (--signing-key FILE, \
             SEED_ETH_SIGNING_KEY or signing-key in [credulous]) or, keyless, an OIDC identity \
             token (--identity-token FILE, SIGSTORE_ID_TOKEN, or GitHub Actions with \
             `permissions: id-token: write`)"
        ))
    })?;
    let fulcio = args
        .fulcio_url
        .clone()
        .or(section.fulcio_url.clone())
        .unwrap_or_else(|| DEFAULT_FULCIO_URL.to_owned());
    block_on(async {
        Keyless::certify(&fulcio, &token, retry)
            .await
            .map(Credential::Keyless)
            .map_err(sign_failure)
    })
}

/// Fulcio or a log unavailable is exit 3; a refused or unusable token or key, exit 2.
fn sign_failure(error: SignError) -> Failure {
    let code = match &error {
        SignError::Unavailable { .. } | SignError::BadAnswer { .. } => ExitCode::Network,
        _ => ExitCode::Usage,
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}

/// A log that stayed down, a registry fault or an answer that does not
/// verify is exit 3 (nothing was published; run again); a conflict is exit 1;
/// the rest is a usage error.
fn attest_failure(error: AttestError) -> Failure {
    let error = match error {
        AttestError::Registry(e) => return oci_failure(e),
        other => other,
    };
    let error = match error {
        AttestError::Sign(e) => return sign_failure(e),
        other => other,
    };
    let code = match &error {
        AttestError::SelfCheck(_) => ExitCode::Network,
        AttestError::Conflict { .. } | AttestError::SplitView(_) => ExitCode::CheckFailed,
        AttestError::Unwitnessed(_) => ExitCode::Network,
        _ => ExitCode::Usage,
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}

/// `seed-eth verify --posture credulous`.
pub fn verify(args: &VerifyArgs) -> Outcome {
    if args.statements || args.system.is_some() || !args.repository.is_empty() {
        return Err(Failure::usage(eyre!(
            "under --posture credulous every bundle found is verified, and the release is found \
             from its images: give --image (one per system) or --lock, with --commit"
        )));
    }
    let file = config_file(&args.chain)?;
    let section = file.credulous();
    let policy = policy(args.policy.as_deref(), &section)?;
    let verifier = verifier(args.posture.trusted_root.as_deref(), &section)?;
    let Release {
        commit,
        images,
        pinned,
        policy: pinned_policy,
    } = release(args)?;
    let witnessing = witnessing(&policy, args.posture.witness_state.as_deref(), &section)?;
    let client = registry_client(&args.plain_http, &file).map_err(oci_failure)?;
    let mut report = block_on(async {
        seed_credulous::verify_release(
            &client,
            &verifier,
            &policy,
            &commit,
            &images,
            !args.no_content,
            witnessing.as_ref(),
        )
        .await
        .map_err(oci_failure)
    })?;
    check_pins(&pinned, &mut report);
    let used = policy_digest(&policy);
    if let Some(pinned) = pinned_policy.filter(|pinned| *pinned != used) {
        report.failures.push(format!(
            "the lock pins the Credulous policy {pinned}, but the policy given is {used}: verify \
             with the policy the release was locked under"
        ));
    }
    let code = if report.verified() {
        ExitCode::Ok
    } else {
        ExitCode::CheckFailed
    };
    Ok(Report {
        code,
        text: text(&report, &policy),
        json: report_json(&report, &policy, &commit),
    })
}

/// The policy's witness checks, reconciling in the given state file.
fn witnessing(
    policy: &CredulousPolicy,
    flag: Option<&Path>,
    section: &CredulousSection,
) -> Result<Option<Witnessing>, Failure> {
    let state = flag.or(section.witness_state.as_deref());
    Witnessing::new(policy, state)
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("the witness state")))
}

/// A builder's own witness (its configuration's logs, state and key), for
/// `attest` to reconcile new log entries and gossiped checkpoints with
/// before publishing, and to gossip its own.
fn builder_witness(path: &Path) -> Result<Witnessing, Failure> {
    let config = WitnessConfig::read(path).map_err(Failure::usage)?;
    let state = config.state.ok_or_else(|| {
        Failure::usage(eyre!(
            "{}: attest reconciles in the witness's state: set `state`",
            path.display()
        ))
    })?;
    // With the witness's key, attest also gossips its cosigned checkpoint.
    let witness = Witness::open(config.logs, config.cosigner, &state).map_err(Failure::usage)?;
    Ok(Witnessing::local(witness))
}

fn policy(flag: Option<&Path>, section: &CredulousSection) -> Result<CredulousPolicy, Failure> {
    let (path, name) = match (flag, &section.policy) {
        (Some(path), _) => (path, "--policy"),
        (None, Some(path)) => (path.as_path(), "[credulous] policy"),
        (None, None) => {
            return Err(Failure::usage(eyre!(
                "--posture credulous needs a Credulous policy: --policy FILE (or policy in \
                 [credulous] of seed-eth.toml); docs/configuration.md describes it"
            )))
        }
    };
    let bytes = std::fs::read(path)
        .wrap_err_with(|| format!("{name} {}", path.display()))
        .map_err(Failure::usage)?;
    CredulousPolicy::from_toml(&bytes).map_err(|e| {
        Failure::usage(eyre::Report::new(e).wrap_err(format!("{name} {}", path.display())))
    })
}

/// What the command line names: the release, the images to read, and the
/// manifests a `.seed.lock` pins (each must be its system's agreed one).
struct Release {
    commit: CommitId,
    images: Vec<(Repository, Sha256Digest)>,
    pinned: BTreeMap<String, Sha256Digest>,
    /// The Credulous policy digest the lock pins, if any.
    policy: Option<Sha256Digest>,
}

/// The release from `--commit` and `--image`, or a lock.
fn release(args: &VerifyArgs) -> Result<Release, Failure> {
    let mut images = Vec::new();
    let mut pinned = BTreeMap::new();
    let mut policy = None;
    let mut commit: Option<CommitId> = None;
    if let Some(path) = &args.lock {
        match AnyLock::read(path)
            .wrap_err_with(|| format!("--lock {}", path.display()))
            .map_err(Failure::usage)?
        {
            AnyLock::V1(lock) => {
                policy = lock.credulous_policy();
                for (system, entry) in lock.systems() {
                    images.push((Repository::from(&entry.image), entry.image.digest()));
                    pinned.insert(system.to_string(), entry.manifest);
                }
            }
            AnyLock::Upstream(lock) => {
                commit = lock.tag.as_deref().and_then(|t| t.parse().ok());
                for image in lock.systems.values() {
                    images.push((Repository::from(image), image.digest()));
                }
            }
        }
    }
    for image in &args.image {
        let image: ImageRef = image.parse().wrap_err("--image").map_err(Failure::usage)?;
        images.push((Repository::from(&image), image.digest()));
    }
    if let Some(text) = &args.commit {
        let given: CommitId = text.parse().wrap_err("--commit").map_err(Failure::usage)?;
        if commit.is_some_and(|c| c != given) {
            return Err(Failure::usage(eyre!(
                "--commit {given} is not the commit the lock names"
            )));
        }
        commit = Some(given);
    }
    let commit = commit.ok_or_else(|| {
        Failure::usage(eyre!(
            "give the release: --commit COMMIT (a lock whose tag is not a full commit id does not name one)"
        ))
    })?;
    if images.is_empty() {
        return Err(Failure::usage(eyre!(
            "give the release's images: --image REGISTRY/REPO@sha256:... (one per system) or --lock FILE"
        )));
    }
    Ok(Release {
        commit,
        images,
        pinned,
        policy,
    })
}

/// A lock's pinned manifests must be the ones the release agreed on.
fn check_pins(pinned: &BTreeMap<String, Sha256Digest>, report: &mut ReleaseReport) {
    for (system, manifest) in pinned {
        let agreed = report
            .quorum
            .systems
            .iter()
            .find(|s| s.system == *system)
            .and_then(|s| s.agreed.clone());
        match agreed {
            Some(agreed) if agreed == manifest.to_string() => {}
            Some(agreed) => report.failures.push(format!(
                "{system}: the lock pins the closure {manifest}, but the release agreed on {agreed}"
            )),
            None if report.quorum.systems.iter().any(|s| s.system == *system) => {}
            None => report.failures.push(format!(
                "{system}: the lock names a system the policy does not require"
            )),
        }
    }
}

fn text(report: &ReleaseReport, policy: &CredulousPolicy) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "release {} (Credulous, {} of {} policy builders per system)",
        report.quorum.commit,
        policy.threshold,
        policy.builders.len()
    );
    for system in &report.quorum.systems {
        match &system.agreed {
            Some(manifest) => {
                let builders = &system.manifests[manifest];
                let _ = writeln!(
                    out,
                    "  {}: {manifest} by {}",
                    system.system,
                    builders.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            None => {
                let _ = writeln!(out, "  {}: no quorum", system.system);
            }
        }
        for (manifest, builders) in &system.manifests {
            if system.agreed.as_ref() != Some(manifest) {
                let _ = writeln!(
                    out,
                    "    DISAGREEMENT: {manifest} by {}",
                    builders.iter().cloned().collect::<Vec<_>>().join(", ")
                );
            }
        }
        if !system.equivocating.is_empty() {
            let _ = writeln!(
                out,
                "    equivocating, not counted: {}",
                system
                    .equivocating
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !system.missing.is_empty() {
            let _ = writeln!(
                out,
                "    missing: {}",
                system
                    .missing
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for finding in &report.findings {
        if let FindingStatus::Refused { reason } = &finding.status {
            let _ = writeln!(
                out,
                "  refused bundle {} on {}: {reason}",
                finding.referrer, finding.image
            );
        }
    }
    for signer in &report.quorum.outside_policy {
        let _ = writeln!(out, "  not in the policy, not counted: {signer}");
    }
    for alarm in &report.alarms {
        let _ = writeln!(
            out,
            "SPLIT VIEW of log {:?} ({:?}, alarm #{} in the witness state), seen from {}: {}",
            alarm.origin, alarm.kind, alarm.id, alarm.source, alarm.detail
        );
    }
    for failure in &report.failures {
        let _ = writeln!(out, "FAILED: {failure}");
    }
    if report.verified() {
        out.push_str("VERIFIED\n");
    }
    out
}

fn report_json(
    report: &ReleaseReport,
    policy: &CredulousPolicy,
    commit: &CommitId,
) -> serde_json::Value {
    let systems: Vec<_> = report
        .quorum
        .systems
        .iter()
        .map(|system| {
            let voters: Vec<_> = system
                .agreed
                .as_ref()
                .map(|m| system.manifests[m].iter().cloned().collect())
                .unwrap_or_default();
            let log_entries: Vec<_> = voters
                .iter()
                .map(|builder: &String| {
                    let entries = report
                        .log_entries
                        .get(&(system.system.clone(), builder.clone()))
                        .map(|entries| {
                            entries
                                .iter()
                                .map(|e| json!({"logId": e.log_id, "logIndex": e.log_index}))
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default();
                    json!({ "builder": builder, "logEntries": entries })
                })
                .collect();
            json!({
                "system": system.system,
                "manifestDigest": system.agreed,
                "voters": log_entries,
                "manifests": system.manifests,
                "equivocating": system.equivocating,
                "missing": system.missing,
            })
        })
        .collect();
    json!({
        "posture": "credulous",
        "commit": commit.to_string(),
        "policyDigest": policy_digest(policy).to_string(),
        "threshold": policy.threshold,
        "systems": systems,
        "bundles": report.findings,
        "outsidePolicy": report.quorum.outside_policy.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "content": report.content,
        "failures": report.failures,
        "alarms": report.alarms,
        "verified": report.verified(),
    })
}

/// `seed-eth keeper --posture credulous`: the release node. With `--once`,
/// one pass (exit 0 when every followed release is promoted, 1 otherwise);
/// else a pass every `poll` until SIGTERM, `/healthz` and `/metrics` served
/// at `metrics_addr`.
pub fn keeper(
    args: &KeeperArgs,
    file: &ConfigFile,
    promotion: Promotion,
    state: &Path,
    poll: Duration,
    metrics_addr: Option<std::net::SocketAddr>,
) -> Outcome {
    let section = file.credulous();
    let policy = policy(args.policy.as_deref(), &section)?;
    let verifier = verifier(args.posture.trusted_root.as_deref(), &section)?;
    let follow = args
        .follow
        .clone()
        .or(section.follow.clone())
        .ok_or_else(|| {
            Failure::usage(eyre!(
                "the Credulous keeper follows the releases it is told about: --follow FILE (or \
             follow in [credulous] of seed-eth.toml)"
            ))
        })?;
    let deadline = args
        .deadline_s
        .or(section.deadline_s)
        .map_or(DEFAULT_DEADLINE, Duration::from_secs);
    let client = registry_client(&args.plain_http, file).map_err(oci_failure)?;
    let witnessing = witnessing(&policy, args.posture.witness_state.as_deref(), &section)?;
    let mut keeper = CredulousKeeper::new(
        client, verifier, policy, promotion, state, deadline, witnessing,
    )
    .map_err(keeper_failure)?;
    block_on(async {
        let metrics = Arc::new(Metrics::default());
        if let Some(addr) = metrics_addr {
            let bound = seed_keeper::metrics::serve(addr, metrics.clone())
                .await
                .map_err(keeper_failure)?;
            eprintln!("keeper: /healthz and /metrics on http://{bound}");
        }
        if args.once {
            let releases = read_follow_file(&follow).map_err(keeper_failure)?;
            let outcomes = keeper.pass(&releases).await.map_err(keeper_failure)?;
            return Ok(keeper_report(&outcomes));
        }
        let shutdown = seed_keeper::shutdown_on_signals().map_err(keeper_failure)?;
        keeper
            .run(&follow, poll, &metrics, shutdown)
            .await
            .map_err(keeper_failure)?;
        Ok(Report {
            code: ExitCode::Ok,
            text: "keeper: stopped\n".to_owned(),
            json: json!({"stopped": true}),
        })
    })
}

fn keeper_report(outcomes: &[(CommitId, ReleaseState)]) -> Report {
    let mut text = String::new();
    for (commit, state) in outcomes {
        let _ = match state {
            ReleaseState::Promoted(images) => writeln!(
                text,
                "{commit}: promoted ({})",
                images
                    .iter()
                    .map(|(system, image)| format!("{system} {image}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => writeln!(text, "{commit}: {}: {}", other.name(), other.reason()),
        };
    }
    let all_promoted = outcomes
        .iter()
        .all(|(_, s)| matches!(s, ReleaseState::Promoted(_)));
    Report {
        code: if all_promoted {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        },
        text,
        json: json!({
            "posture": "credulous",
            "releases": outcomes.iter().map(|(commit, state)| json!({
                "commit": commit.to_string(),
                "state": state.name(),
                "reason": state.reason(),
                "images": match state {
                    ReleaseState::Promoted(images) => json!(images),
                    _ => json!({}),
                },
            })).collect::<Vec<_>>(),
        }),
    }
}

/// The policy's digest, as a lock pins it.
fn policy_digest(policy: &CredulousPolicy) -> Sha256Digest {
    // SHA-256 of a file is zero for no known input.
    Sha256Digest::from_bytes(policy.digest.into()).unwrap_or_else(|_| unreachable!("zero SHA-256"))
}

/// `seed-eth lock --posture credulous`: verifies the release from its
/// images' bundles, then writes a lock naming each system's agreed closure and
/// its image (in `--repository` when given, where it must exist), and pinning
/// the policy's digest.
pub fn lock(args: &LockArgs) -> Outcome {
    let file = config_file(&args.chain)?;
    let section = file.credulous();
    let policy = policy(args.policy.as_deref(), &section)?;
    let verifier = verifier(args.posture.trusted_root.as_deref(), &section)?;
    let commit: CommitId = args
        .commit
        .parse()
        .wrap_err("--commit")
        .map_err(Failure::usage)?;
    let images = args
        .image
        .iter()
        .map(|image| {
            let image: ImageRef = image.parse().wrap_err("--image").map_err(Failure::usage)?;
            Ok((Repository::from(&image), image.digest()))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    if images.is_empty() {
        return Err(Failure::usage(eyre!(
            "give the release's images: --image REGISTRY/REPO@sha256:... (one per system)"
        )));
    }
    let witnessing = witnessing(&policy, args.posture.witness_state.as_deref(), &section)?;
    let client = registry_client(&args.plain_http, &file).map_err(oci_failure)?;
    block_on(async {
        let report = seed_credulous::verify_release(
            &client,
            &verifier,
            &policy,
            &commit,
            &images,
            true,
            witnessing.as_ref(),
        )
        .await
        .map_err(oci_failure)?;
        if !report.verified() {
            return Err(Failure::check_failed(eyre!(
                "release {commit} does not verify under the policy, so no lock was written: {}",
                report.failures.join("; ")
            )));
        }
        let mut lock = SeedLock::new();
        for content in &report.content {
            let agreed = report
                .quorum
                .systems
                .iter()
                .find(|s| s.system == content.system)
                .and_then(|s| s.agreed.as_deref())
                .ok_or_else(|| {
                    Failure::network(eyre!("verification reported no agreed closure"))
                })?;
            let (source, digest) = images
                .iter()
                .find(|(_, d)| d.to_string() == content.image)
                .ok_or_else(|| {
                    Failure::network(eyre!("verification reported an image not asked for"))
                })?;
            let repository = match &args.repository {
                Some(template) => template
                    .replace("{system}", &content.system)
                    .parse::<Repository>()
                    .wrap_err("--repository")
                    .map_err(Failure::usage)?,
                None => source.clone(),
            };
            // A lock never points consumers at nothing.
            client
                .pull_manifest(&repository, digest)
                .await
                .map_err(oci_failure)?;
            lock.insert(
                content.system.parse().map_err(Failure::usage)?,
                LockEntry {
                    kind: DeliveryKind::Oci,
                    manifest: agreed.parse().map_err(Failure::usage)?,
                    image: repository.image_ref(digest).map_err(oci_failure)?,
                },
            );
        }
        lock.set_credulous_policy(policy_digest(&policy));
        lock.write(&args.output)
            .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
        Ok(Report {
            code: ExitCode::Ok,
            text: format!(
                "wrote {} for release {commit} (Credulous, policy {})\n",
                args.output.display(),
                policy_digest(&policy)
            ),
            json: json!({
                "file": args.output,
                "commit": commit.to_string(),
                "lock": serde_json::from_str::<serde_json::Value>(&lock.to_json()).unwrap_or_default(),
            }),
        })
    })
}
