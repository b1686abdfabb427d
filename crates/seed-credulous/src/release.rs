//! A consumer's (and the keeper's) side: find a release's bundles on its
//! images, verify each, and count distinct policy builders per system.

use std::collections::{BTreeMap, BTreeSet};

use seed_core::{CommitId, Sha256Digest};
use seed_oci::{
    BlobReferrer, FetchedStatement, OciError, RegistryClient, Repository, SIGSTORE_BUNDLE_REFERRER,
};
use seed_sigstore::{
    count, Attestation, BundleVerifier, CredulousPolicy, LogEntry, Quorum, SystemQuorum,
};
use seed_verify::{read_image_closure, ContentReport, ContentResult, VerifyError};
use serde::Serialize;

use seed_witness::Alarm;

use crate::{
    check::check_bundle,
    gossip,
    witnessing::{Witnessed, Witnessing},
};

/// What became of one bundle found on an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum FindingStatus {
    /// Verified and about this release; counted if its signer is a policy
    /// builder (the quorum says whether it was).
    Verified {
        /// The verified signer.
        signer: String,
        /// The policy builder it is, if any.
        builder: Option<String>,
        /// The system attested.
        system: String,
        /// The closure attested.
        manifest: String,
        /// The log entries it is proven in, `<log id>:<index>`.
        log_entries: Vec<String>,
    },
    /// Verified, but about another commit.
    OtherRelease {
        /// The commit it attests.
        commit: String,
    },
    /// Refused: it does not count.
    Refused {
        /// Why.
        reason: String,
    },
}

/// One bundle found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleFinding {
    /// The image it is attached to.
    pub image: String,
    /// Its referrer manifest.
    pub referrer: String,
    /// What became of it.
    #[serde(flatten)]
    pub status: FindingStatus,
}

/// The Credulous verdict on a release.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    /// The quorum counted over the verified bundles.
    pub quorum: Quorum,
    /// Every bundle found, in the order found.
    pub findings: Vec<BundleFinding>,
    /// Per counted (system, builder): the log entries its bundles rely on.
    pub log_entries: BTreeMap<(String, String), Vec<LogEntry>>,
    /// The content of each image given, against its system's agreed closure
    /// (empty when not asked for).
    pub content: Vec<ContentReport>,
    /// Why the release does not verify; empty when it does.
    pub failures: Vec<String>,
    /// Split views detected while witnessing its checkpoints (also kept in
    /// the witness state).
    pub alarms: Vec<Alarm>,
}

impl ReleaseReport {
    /// True only when every required system has an agreed closure, every
    /// image given carries a verified bundle of this release, and every
    /// image read holds its system's agreed closure.
    pub fn verified(&self) -> bool {
        self.quorum.is_final() && self.failures.is_empty() && self.alarms.is_empty()
    }
}

/// Reads every bundle attached to each of `images` (repository and digest),
/// verifies it, counts `commit` under `policy`, and (with `check_content`)
/// reads each image to compare what it holds with its system's agreed
/// closure. With `witnessing`, every checkpoint the bundles rely on and
/// every witness checkpoint gossiped on the images is reconciled too.
/// Registry failures are errors (the caller cannot tell a hidden bundle from
/// an absent one); a bundle that does not verify is a finding, never an
/// error.
pub async fn verify_release(
    client: &RegistryClient,
    verifier: &BundleVerifier,
    policy: &CredulousPolicy,
    commit: &CommitId,
    images: &[(Repository, Sha256Digest)],
    check_content: bool,
    witnessing: Option<&Witnessing>,
) -> Result<ReleaseReport, OciError> {
    let mut alarms = Vec::new();
    let mut unwitnessed = Vec::new();
    let keys = policy.keys();
    let mut findings = Vec::new();
    let mut attestations = Vec::new();
    let mut log_entries: BTreeMap<(String, String), Vec<LogEntry>> = BTreeMap::new();
    for (repo, image) in images {
        for (referrer, bytes) in blobs_on(client, repo, image, SIGSTORE_BUNDLE_REFERRER).await? {
            let checked = bytes
                .and_then(|fetched| {
                    String::from_utf8(fetched.bytes)
                        .map_err(|_| "the bundle is not UTF-8 JSON".to_owned())
                })
                .and_then(|bundle| {
                    check_bundle(verifier, &keys, image, &bundle).map_err(|e| e.to_string())
                })
                .and_then(|verified| {
                    policy.check_logs(&verified.log_entries)?;
                    Ok(verified)
                });
            let witnessed = match (&checked, witnessing) {
                (Ok(verified), Some(witnessing))
                    if verified.statement.predicate().source.commit == *commit =>
                {
                    witnessing
                        .check(
                            &verified.log_entries,
                            &format!("a bundle on {repo}@{image}"),
                        )
                        .await
                }
                _ => Witnessed::Yes,
            };
            let checked = match witnessed {
                Witnessed::Yes => checked,
                Witnessed::NotYet(reason) => {
                    let reason = format!("a bundle on {repo}@{image} is not witnessed: {reason}");
                    unwitnessed.push(reason.clone());
                    Err(reason)
                }
                Witnessed::SplitView(alarm) => {
                    let reason = format!(
                        "SPLIT VIEW of log {:?} ({:?}, alarm #{}): {}",
                        alarm.origin, alarm.kind, alarm.id, alarm.detail
                    );
                    alarms.push(*alarm);
                    Err(reason)
                }
            };
            let status = match checked {
                Err(reason) => FindingStatus::Refused { reason },
                Ok(verified) => {
                    let predicate = verified.statement.predicate();
                    if predicate.source.commit != *commit {
                        FindingStatus::OtherRelease {
                            commit: predicate.source.commit.to_string(),
                        }
                    } else {
                        let builder = policy.builder_of(&verified.signer).map(|b| b.name.clone());
                        if let Some(name) = &builder {
                            log_entries
                                .entry((predicate.system.to_string(), name.clone()))
                                .or_default()
                                .extend(verified.log_entries.iter().cloned());
                        }
                        attestations.push(Attestation {
                            signer: verified.signer.clone(),
                            commit: commit.to_string(),
                            system: predicate.system.to_string(),
                            manifest: predicate.closure_manifest.to_string(),
                        });
                        FindingStatus::Verified {
                            signer: verified.signer.to_string(),
                            builder,
                            system: predicate.system.to_string(),
                            manifest: predicate.closure_manifest.to_string(),
                            log_entries: verified
                                .log_entries
                                .iter()
                                .map(|e| format!("{}:{}", e.log_id, e.log_index))
                                .collect(),
                        }
                    }
                }
            };
            findings.push(BundleFinding {
                image: format!("{repo}@{image}"),
                referrer,
                status,
            });
        }
    }
    let mut unreconciled = Vec::new();
    if let Some(witnessing) = witnessing {
        for (repo, image) in images {
            for outcome in gossip::reconcile_on(client, repo, image, witnessing).await? {
                match outcome {
                    Witnessed::SplitView(alarm) => alarms.push(*alarm),
                    Witnessed::NotYet(reason) => unreconciled.push(reason),
                    Witnessed::Yes => {}
                }
            }
        }
    }
    let quorum = count(policy, &commit.to_string(), &attestations);
    // A gossiped checkpoint not yet reconciled may hide a split view: it
    // holds the release back whatever the quorum.
    let mut failures = unreconciled;
    for system in quorum.systems.iter().filter(|s| s.agreed.is_none()) {
        failures.push(no_quorum(system, policy.threshold));
    }
    if !quorum.is_final() {
        failures.extend(unwitnessed);
    }
    let mut content = Vec::new();
    for (repo, image) in images {
        let name = format!("{repo}@{image}");
        // The image's system: what the verified bundles of this release on it attest.
        let systems: BTreeSet<&str> = findings
            .iter()
            .filter(|f| f.image == name)
            .filter_map(|f| match &f.status {
                FindingStatus::Verified { system, .. } => Some(system.as_str()),
                _ => None,
            })
            .collect();
        let system = match systems.into_iter().collect::<Vec<_>>().as_slice() {
            [one] => (*one).to_owned(),
            [] => {
                failures.push(format!(
                    "image {name} carries no verified bundle of release {commit}"
                ));
                continue;
            }
            several => {
                failures.push(format!(
                    "image {name} is attested for several systems ({}); a seed image is built for one",
                    several.join(", ")
                ));
                continue;
            }
        };
        let Some(agreed) = quorum
            .systems
            .iter()
            .find(|s| s.system == system)
            .and_then(|s| s.agreed.clone())
        else {
            continue;
        };
        if !check_content {
            continue;
        }
        let read = read_image_closure(client, repo, image)
            .await
            .map_err(|error| match error {
                VerifyError::Registry { source, .. } => source,
                other => OciError::Invalid {
                    what: name.clone(),
                    reason: other.to_string(),
                },
            })?;
        let result = match read {
            Ok(closure) if closure.manifest.digest().to_string() == agreed => {
                ContentResult::Matches
            }
            Ok(closure) => ContentResult::Mismatch {
                holds: closure.manifest.digest().to_string(),
                differences: Vec::new(),
            },
            Err(reason) => ContentResult::Unreadable { reason },
        };
        match &result {
            ContentResult::Matches => {}
            ContentResult::Mismatch { holds, .. } => failures.push(format!(
                "{system}: image {name} does not hold the release's closure: it holds the closure \
                 manifest {holds}, not the agreed {agreed}"
            )),
            ContentResult::Unreadable { reason } => failures.push(format!(
                "{system}: the content of image {name} cannot be checked ({reason}); --no-content \
                 skips the check, which leaves the image unbound to the release"
            )),
        }
        content.push(ContentReport {
            system,
            image: image.to_string(),
            result,
        });
    }
    Ok(ReleaseReport {
        quorum,
        findings,
        log_entries,
        content,
        failures,
        alarms,
    })
}

/// The blobs of `kind` attached to `repo@image` (bundles, gossiped witness
/// checkpoints): each referrer's digest with its bytes, or why they cannot be
/// read. A referrer that is malformed, names another subject or is listed but
/// absent is that referrer's problem (anyone who can push can attach one), so
/// it is returned as unreadable rather than stopping the whole verification;
/// a registry that cannot be asked is an error.
pub(crate) async fn blobs_on(
    client: &RegistryClient,
    repo: &Repository,
    image: &Sha256Digest,
    kind: BlobReferrer,
) -> Result<Vec<(String, Result<FetchedStatement, String>)>, OciError> {
    let mut found = Vec::new();
    for descriptor in client
        .list_referrers(repo, image, Some(kind.artifact_type))
        .await?
    {
        let fetched = match descriptor.sha256() {
            Ok(referrer) => {
                client
                    .fetch_blob_referrer(repo, image, &referrer, kind)
                    .await
            }
            Err(error) => Err(error),
        };
        let bytes = match fetched {
            Ok(fetched) => Ok(fetched),
            Err(
                error @ (OciError::Invalid { .. }
                | OciError::NotFound { .. }
                | OciError::DigestMismatch { .. }),
            ) => Err(format!(
                "the referrer cannot be read as a {}: {error}",
                kind.what
            )),
            Err(error) => return Err(error),
        };
        found.push((descriptor.digest.clone(), bytes));
    }
    Ok(found)
}

/// Why a system has no agreed closure.
fn no_quorum(system: &SystemQuorum, threshold: usize) -> String {
    let mut tally: Vec<String> = system
        .manifests
        .iter()
        .map(|(manifest, builders)| format!("{manifest} by {}", join(builders)))
        .collect();
    if !system.equivocating.is_empty() {
        tally.push(format!(
            "equivocating (not counted): {}",
            join(&system.equivocating)
        ));
    }
    if !system.missing.is_empty() {
        tally.push(format!("missing: {}", join(&system.missing)));
    }
    format!(
        "{}: no closure is attested by {threshold} distinct policy builders ({})",
        system.system,
        tally.join("; ")
    )
}

fn join(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join(", ")
}
