//! A consumer's (and the keeper's) side: find a release's bundles on its
//! images, verify each, and count distinct policy builders per system.

use std::collections::BTreeMap;

use seed_core::{CommitId, Sha256Digest};
use seed_oci::{OciError, RegistryClient, Repository, SIGSTORE_BUNDLE_REFERRER};
use seed_sigstore::{count, Attestation, BundleVerifier, CredulousPolicy, LogEntry, Quorum};
use serde::Serialize;

use crate::check::check_bundle;

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
}

/// Reads every bundle attached to each of `images` (repository and digest),
/// verifies it, and counts `commit` under `policy`. Registry failures are
/// errors (the caller cannot tell a hidden bundle from an absent one); a bundle
/// that does not verify is a finding, never an error.
pub async fn verify_release(
    client: &RegistryClient,
    verifier: &BundleVerifier,
    policy: &CredulousPolicy,
    commit: &CommitId,
    images: &[(Repository, Sha256Digest)],
) -> Result<ReleaseReport, OciError> {
    let keys = policy.keys();
    let mut findings = Vec::new();
    let mut attestations = Vec::new();
    let mut log_entries: BTreeMap<(String, String), Vec<LogEntry>> = BTreeMap::new();
    for (repo, image) in images {
        for found in client.blobs(repo, image, SIGSTORE_BUNDLE_REFERRER).await? {
            let checked = std::str::from_utf8(&found.bytes)
                .map_err(|_| "the bundle is not UTF-8 JSON".to_owned())
                .and_then(|bundle| {
                    check_bundle(verifier, &keys, image, bundle).map_err(|e| e.to_string())
                });
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
                referrer: found.referrer.to_string(),
                status,
            });
        }
    }
    Ok(ReleaseReport {
        quorum: count(policy, &commit.to_string(), &attestations),
        findings,
        log_entries,
    })
}
