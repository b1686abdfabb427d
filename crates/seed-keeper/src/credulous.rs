//! The keeper as the Credulous posture's release node.
//!
//! Under Credulous nothing on chain says a release is final: the keeper is
//! told which releases to follow (each commit with its images, from a follow
//! file an operator or a CI job appends to), and on every pass verifies each
//! one exactly as `seed-eth verify --posture credulous` does (every bundle on
//! the images verified offline, distinct policy builders counted per system,
//! each image's content checked). A verified release is promoted bit-exact to
//! the configured tags and a verdict naming the Rekor entries it relied on is
//! attached; a release still without quorum when its deadline passes
//! (upstream's `seedCfg.deadline`, 30 minutes by default) is recorded as
//! expired and never promoted, so whoever attests late cannot choose the
//! moment a release goes out. A registry or log outage leaves the release
//! waiting; it is retried on the next pass. Every step is idempotent, and the
//! state lives in the keeper's SQLite file.

use std::{collections::BTreeMap, path::Path, sync::atomic::Ordering, time::Duration};

use seed_core::CommitId;
use seed_credulous::{verify_release, ReleaseReport, Witnessing};
use seed_nix::ImageRef;
use seed_oci::{RegistryClient, Repository};
use seed_sigstore::{BundleVerifier, CredulousPolicy};
use seed_verify::ContentResult;
use serde::Deserialize;
use tokio::sync::watch;

use crate::{
    config::Promotion,
    error::{KeeperError, Result},
    metrics::Metrics,
    promote::retry_transient,
    store::{now_ms, Store},
};

/// The artifact type of a Credulous verdict referrer.
pub const CREDULOUS_VERDICT_ARTIFACT_TYPE: &str =
    "application/vnd.seed-eth.credulous-verdict.v1+json";

/// The default deadline (upstream's `seedCfg.deadline`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// One release the keeper follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedRelease {
    /// The commit.
    pub commit: CommitId,
    /// Its images, one per system, pinned by digest.
    pub images: Vec<ImageRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowFile {
    #[serde(default)]
    release: Vec<FollowEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FollowEntry {
    commit: String,
    images: Vec<String>,
}

/// Reads a follow file: `[[release]]` tables, each a `commit` and its
/// `images` (digest-pinned references), oldest first.
pub fn read_follow_file(path: &Path) -> Result<Vec<FollowedRelease>> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| KeeperError::Config(format!("the follow file {name}: {e}")))?;
    let file: FollowFile = toml::from_str(&text)
        .map_err(|e| KeeperError::Config(format!("the follow file {name}: {e}")))?;
    file.release
        .into_iter()
        .map(|entry| {
            let commit = entry.commit.parse().map_err(|e| {
                KeeperError::Config(format!(
                    "the follow file {name}: commit {}: {e}",
                    entry.commit
                ))
            })?;
            let images = entry
                .images
                .iter()
                .map(|image| {
                    image.parse().map_err(|e| {
                        KeeperError::Config(format!("the follow file {name}: image {image}: {e}"))
                    })
                })
                .collect::<Result<Vec<ImageRef>>>()?;
            if images.is_empty() {
                return Err(KeeperError::Config(format!(
                    "the follow file {name}: release {commit} names no images"
                )));
            }
            Ok(FollowedRelease { commit, images })
        })
        .collect()
}

/// Where a followed release stands after a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseState {
    /// Promoted (now or earlier): per system, the image promoted.
    Promoted(BTreeMap<String, String>),
    /// Not verified yet; why.
    Waiting(String),
    /// The deadline passed without a verified quorum; never promoted.
    Expired(String),
    /// The registry or the log failed; retried on the next pass.
    Failing(String),
}

impl ReleaseState {
    /// The state's name and detail, as the store keeps them (a promoted
    /// release's detail is its images, as JSON).
    fn parts(&self) -> (&'static str, String) {
        match self {
            Self::Promoted(images) => (
                "promoted",
                serde_json::to_string(images).unwrap_or_default(),
            ),
            Self::Waiting(why) => ("waiting", why.clone()),
            Self::Expired(why) => ("expired", why.clone()),
            Self::Failing(why) => ("failing", why.clone()),
        }
    }

    /// The state's name, as the store and reports write it.
    pub fn name(&self) -> &'static str {
        self.parts().0
    }

    /// Why the release is not promoted (empty when it is).
    pub fn reason(&self) -> &str {
        match self {
            Self::Promoted(_) => "",
            Self::Waiting(why) | Self::Expired(why) | Self::Failing(why) => why,
        }
    }
}

/// The Credulous release node.
pub struct CredulousKeeper {
    client: RegistryClient,
    verifier: BundleVerifier,
    policy: CredulousPolicy,
    promotion: Promotion,
    store: Store,
    deadline: Duration,
    witnessing: Option<Witnessing>,
}

impl CredulousKeeper {
    /// A keeper promoting by `policy` to `promotion`'s tags, its state in
    /// `state` (bound to the Credulous posture and the target, so a Zero
    /// keeper's file is never mixed up with it); with `witnessing`, every
    /// checkpoint a release relies on must be witnessed by the policy's
    /// quorum before it is promoted.
    pub fn new(
        client: RegistryClient,
        verifier: BundleVerifier,
        policy: CredulousPolicy,
        promotion: Promotion,
        state: &Path,
        deadline: Duration,
        witnessing: Option<Witnessing>,
    ) -> Result<Self> {
        promotion.validate()?;
        let store = Store::open(state)?;
        store.bind(&format!("credulous target {}", promotion.target.as_str()))?;
        Ok(Self {
            client,
            verifier,
            policy,
            promotion,
            store,
            deadline,
            witnessing,
        })
    }

    /// One pass over `releases` (in the follow file's order, oldest first):
    /// verify what is not settled, promote what verified, expire what missed
    /// its deadline; then point each moving tag at the newest promoted release
    /// of its system.
    pub async fn pass(
        &mut self,
        releases: &[FollowedRelease],
    ) -> Result<Vec<(CommitId, ReleaseState)>> {
        let mut outcomes = Vec::new();
        for release in releases {
            let commit = release.commit.to_string();
            let stored = self.store.credulous_release(&commit, now_ms())?;
            let state = match stored.state.as_str() {
                "promoted" => {
                    ReleaseState::Promoted(serde_json::from_str(&stored.detail).map_err(|e| {
                        KeeperError::Inconsistent(format!(
                            "the stored images of release {commit}: {e}"
                        ))
                    })?)
                }
                "expired" => ReleaseState::Expired(stored.detail),
                _ => {
                    let state = self.settle(release, stored.first_seen_ms).await?;
                    let (name, detail) = state.parts();
                    self.store.set_credulous_state(&commit, name, &detail)?;
                    log(&commit, &state);
                    state
                }
            };
            outcomes.push((release.commit, state));
        }
        self.move_tags(&outcomes).await?;
        Ok(outcomes)
    }

    /// The service loop: a pass every `poll` until `shutdown` turns true,
    /// the follow file re-read each time. A failed pass (an unreadable follow
    /// file, the state file) is logged, marks the keeper unhealthy and is
    /// retried; releases' own failures are their states.
    pub async fn run(
        &mut self,
        follow: &Path,
        poll: Duration,
        metrics: &Metrics,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        while !*shutdown.borrow() {
            let pass = match read_follow_file(follow) {
                Ok(releases) => self.pass(&releases).await,
                Err(error) => Err(error),
            };
            match pass {
                Ok(outcomes) => {
                    metrics.healthy.store(true, Ordering::Relaxed);
                    let waiting = outcomes
                        .iter()
                        .filter(|(_, s)| !matches!(s, ReleaseState::Promoted(_)))
                        .count() as u64;
                    metrics.pending.store(waiting, Ordering::Relaxed);
                }
                Err(error) => {
                    metrics.healthy.store(false, Ordering::Relaxed);
                    metrics.loop_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "credulous keeper pass failed; retrying");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        Ok(())
    }

    /// Verifies one release and promotes it if it verified.
    async fn settle(&self, release: &FollowedRelease, first_seen_ms: u64) -> Result<ReleaseState> {
        let images: Vec<(Repository, seed_core::Sha256Digest)> = release
            .images
            .iter()
            .map(|image| (Repository::from(image), image.digest()))
            .collect();
        let report = match verify_release(
            &self.client,
            &self.verifier,
            &self.policy,
            &release.commit,
            &images,
            true,
            self.witnessing.as_ref(),
        )
        .await
        {
            Ok(report) => report,
            Err(error) => return Ok(ReleaseState::Failing(error.to_string())),
        };
        if !report.verified() {
            let why = report
                .alarms
                .iter()
                .map(|alarm| {
                    format!(
                        "SPLIT VIEW of log {:?} ({:?}, alarm #{} in the witness state): {}",
                        alarm.origin, alarm.kind, alarm.id, alarm.detail
                    )
                })
                .chain(report.failures.iter().cloned())
                .collect::<Vec<_>>()
                .join("; ");
            let waited = now_ms().saturating_sub(first_seen_ms);
            return Ok(if u128::from(waited) >= self.deadline.as_millis() {
                ReleaseState::Expired(format!(
                    "no verified quorum within the deadline of {} s: {why}",
                    self.deadline.as_secs()
                ))
            } else {
                ReleaseState::Waiting(why)
            });
        }
        match self.promote(release, &report).await {
            Ok(images) => Ok(ReleaseState::Promoted(images)),
            // The state file or the configuration failing is the keeper's own
            // fault and stops it; anything else is this release's, retried.
            Err(error @ (KeeperError::Store { .. } | KeeperError::Config(_))) => Err(error),
            Err(error) => Ok(ReleaseState::Failing(error.to_string())),
        }
    }

    /// Promotes each system's image to its immutable tags and attaches the
    /// verdict. Moving tags are [`Self::move_tags`]'s.
    async fn promote(
        &self,
        release: &FollowedRelease,
        report: &ReleaseReport,
    ) -> Result<BTreeMap<String, String>> {
        let commit = release.commit.to_string();
        let mut promoted_now = BTreeMap::new();
        for (system, image) in promoted_images(release, report) {
            let source = Repository::from(image);
            let digest = image.digest();
            for destination in self.promotion.destinations(&commit, system)? {
                if destination.moving {
                    continue;
                }
                let promoted = retry_transient(|| async {
                    Ok(self
                        .client
                        .promote(&source, &digest, &destination.repository, &destination.tag)
                        .await?)
                })
                .await?;
                if promoted.previous.is_some_and(|p| p != digest) {
                    return Err(KeeperError::Refused(format!(
                        "{}:{} already serves {}; an immutable tag is never moved",
                        destination.repository,
                        destination.tag,
                        promoted.previous.map(|p| p.to_string()).unwrap_or_default()
                    )));
                }
            }
            let target = self.promotion.target_repo(system)?;
            let manifest = self.client.pull_manifest(&target, &digest).await?;
            let annotations = verdict(release, system, report, &self.policy);
            retry_transient(|| async {
                Ok(self
                    .client
                    .attach_annotated_referrer(
                        &target,
                        &manifest,
                        CREDULOUS_VERDICT_ARTIFACT_TYPE,
                        annotations.clone(),
                    )
                    .await?)
            })
            .await?;
            promoted_now.insert(system.to_owned(), image.to_string());
        }
        Ok(promoted_now)
    }

    /// Points every moving tag at its system's image of the newest promoted
    /// release (the follow file's order), idempotently.
    async fn move_tags(&self, outcomes: &[(CommitId, ReleaseState)]) -> Result<()> {
        let mut newest: BTreeMap<&str, (String, &str)> = BTreeMap::new();
        for (commit, state) in outcomes {
            if let ReleaseState::Promoted(images) = state {
                newest.extend(
                    images
                        .iter()
                        .map(|(s, i)| (s.as_str(), (commit.to_string(), i.as_str()))),
                );
            }
        }
        for (system, (commit, image)) in newest {
            let image: ImageRef = image
                .parse()
                .map_err(|e| KeeperError::Inconsistent(format!("a stored image {image}: {e}")))?;
            let source = Repository::from(&image);
            for destination in self.promotion.destinations(&commit, system)? {
                if !destination.moving {
                    continue;
                }
                retry_transient(|| async {
                    Ok(self
                        .client
                        .promote(
                            &source,
                            &image.digest(),
                            &destination.repository,
                            &destination.tag,
                        )
                        .await?)
                })
                .await?;
            }
        }
        Ok(())
    }
}

/// Per system, the image whose content matched the agreed closure.
fn promoted_images<'a>(
    release: &'a FollowedRelease,
    report: &'a ReleaseReport,
) -> Vec<(&'a str, &'a ImageRef)> {
    let mut chosen = Vec::new();
    for content in &report.content {
        if content.result != ContentResult::Matches {
            continue;
        }
        if let Some(image) = release
            .images
            .iter()
            .find(|i| i.digest().to_string() == content.image)
        {
            let system = report
                .quorum
                .systems
                .iter()
                .find(|s| s.system == content.system)
                .map(|s| s.system.as_str());
            if let Some(system) = system {
                chosen.push((system, image));
            }
        }
    }
    chosen
}

fn log(commit: &str, state: &ReleaseState) {
    match state {
        ReleaseState::Promoted(_) => tracing::info!(commit, "credulous release promoted"),
        ReleaseState::Waiting(why) => tracing::info!(commit, why, "credulous release waiting"),
        ReleaseState::Expired(why) => tracing::warn!(commit, why, "credulous release expired"),
        ReleaseState::Failing(why) => {
            tracing::warn!(commit, why, "credulous release failing, retried")
        }
    }
}

/// The verdict's annotations: what was promoted and on whose word.
fn verdict(
    release: &FollowedRelease,
    system: &str,
    report: &ReleaseReport,
    policy: &CredulousPolicy,
) -> BTreeMap<String, String> {
    let quorum = report.quorum.systems.iter().find(|s| s.system == system);
    let manifest = quorum.and_then(|s| s.agreed.clone()).unwrap_or_default();
    let builders: Vec<serde_json::Value> = quorum
        .and_then(|s| s.manifests.get(&manifest))
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    let entries: Vec<serde_json::Value> = report
                        .log_entries
                        .get(&(system.to_owned(), name.clone()))
                        .map(|entries| {
                            entries
                                .iter()
                                .map(|e| serde_json::json!({"logId": e.log_id, "logIndex": e.log_index}))
                                .collect()
                        })
                        .unwrap_or_default();
                    serde_json::json!({"builder": name, "logEntries": entries})
                })
                .collect()
        })
        .unwrap_or_default();
    let body = serde_json::json!({
        "kind": "seed-eth credulous verdict v1",
        "commit": release.commit.to_string(),
        "system": system,
        "manifestDigest": manifest,
        "policyDigest": format!("sha256:{}", alloy::hex::encode(policy.digest)),
        "threshold": policy.threshold,
        "builders": builders,
    });
    BTreeMap::from([(crate::VERDICT_ANNOTATION.to_owned(), body.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str =
        "ghcr.io/org/seed@sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn read(text: &str) -> Result<Vec<FollowedRelease>> {
        let dir = tempfile::tempdir().map_err(|e| KeeperError::Config(e.to_string()))?;
        let path = dir.path().join("follow.toml");
        std::fs::write(&path, text).map_err(|e| KeeperError::Config(e.to_string()))?;
        read_follow_file(&path)
    }

    #[test]
    fn a_follow_file_is_read_strictly() {
        let good = read(&format!(
            "[[release]]\ncommit = \"{COMMIT}\"\nimages = [\"{IMAGE}\"]\n"
        ))
        .unwrap_or_default();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].commit.to_string(), COMMIT);
        assert!(read("").is_ok_and(|releases| releases.is_empty()));
        for (bad, why) in [
            (
                format!("[[release]]\ncommit = \"abc\"\nimages = [\"{IMAGE}\"]\n"),
                "commit abc",
            ),
            (
                format!(
                    "[[release]]\ncommit = \"{COMMIT}\"\nimages = [\"ghcr.io/org/seed:latest\"]\n"
                ),
                "image ghcr.io/org/seed:latest",
            ),
            (
                format!("[[release]]\ncommit = \"{COMMIT}\"\nimages = []\n"),
                "names no images",
            ),
            (
                format!(
                    "[[release]]\ncommit = \"{COMMIT}\"\nimages = [\"{IMAGE}\"]\ntag = \"x\"\n"
                ),
                "unknown field",
            ),
            ("[[release]]\ncommit = 1\n".to_owned(), "invalid type"),
        ] {
            let error = read(&bad).map(|_| ()).unwrap_err().to_string();
            assert!(error.contains(why), "{why}: {error}");
            assert!(error.contains("follow file"), "{error}");
        }
    }
}
