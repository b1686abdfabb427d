//! The moving tags (those without `{commit}`, such as `release-{system}`):
//! each serves the image of the newest release of its system that this
//! keeper promoted, in chain order.
//!
//! Anyone who can push to the repository can write a tag or attach a
//! verdict, so nothing is recorded as settled: every pass reads each moving
//! tag again and converges it (docs/decisions.md, D-043). A tag serving the
//! newest image is left alone. A tag serving another image is moved, unless
//! that image is the one a later release promoted (another keeper, with a
//! shallower finality, got there first): the keeper's own state says so, or
//! a verdict on the image that [`crate::verdict::prove`] confirmed from the
//! chain. A verdict the chain does not confirm is logged and ignored. A move
//! that fails is reported (WARN, `seed_keeper_moving_tag_failures_total`,
//! the exit status of `--once`) and tried again on the next pass.

use std::{
    collections::{HashMap, HashSet},
    sync::atomic::Ordering,
};

use seed_core::Sha256Digest;
use seed_oci::{OciError, RawManifest, Repository};

use crate::{
    config::{Destination, FaultPoint},
    error::{KeeperError, Result},
    follower,
    promote::{commit_text, oci_digest, retry_transient},
    store::{ContentCheck, PromotionRow},
    verdict::{
        self, Checked, Position, Proven, Verdict, VERDICT_ANNOTATION, VERDICT_ARTIFACT_TYPE,
    },
    Keeper,
};

/// The most verdict referrers read from one image's listing.
const MAX_VERDICTS: usize = 16;

/// The most verdicts proven for one image in one pass, newest claim first: a
/// proof costs RPC requests (a scan of the release's votes), and anyone can
/// attach verdicts. Honest keepers write one verdict per release.
const MAX_PROOFS: usize = 4;

/// The longest reason logged for an ignored verdict, in characters.
const MAX_REASON_CHARS: usize = 400;

/// What a moving tag serves after a pass looked at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagState {
    /// It already served the newest release's image.
    Current,
    /// It was moved to the newest release's image.
    Moved {
        /// What it served before (none: the tag did not exist).
        from: Option<Sha256Digest>,
    },
    /// It serves the image of a later release, proven from the chain, that
    /// this keeper has not promoted yet; it was left alone.
    Held {
        /// That release.
        commit: String,
        /// Its ledger record.
        position: Position,
    },
    /// Reading or moving it failed; the next pass tries again.
    Failed(String),
}

/// One moving tag after a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagOutcome {
    /// `repository:tag`.
    pub tag: String,
    /// The system.
    pub system: String,
    /// The newest release of the system this keeper promoted (commit id).
    pub release: String,
    /// That release's image, which the tag should serve.
    pub image: Sha256Digest,
    /// What happened.
    pub state: TagState,
}

/// The release a moving tag's image belongs to, as far as it can be proven.
#[derive(Debug, Clone)]
struct Holder {
    commit: String,
    position: Position,
}

/// How often a moving tag is decided on again when another writer moved it
/// between this keeper's push and its read-back.
const TAG_RACE_ATTEMPTS: usize = 4;

impl Keeper {
    /// Converges the moving tags of every system with a promoted release.
    pub async fn converge_moving_tags(&self) -> Result<Vec<TagOutcome>> {
        let mut outcomes = Vec::new();
        for system in self.store.systems_done()? {
            outcomes.extend(self.converge_system(&system, None).await?);
        }
        Ok(outcomes)
    }

    /// Converges the moving tags of `system` on its newest promoted release.
    /// `known` is an image manifest already pulled and checked (the newest
    /// completion's), which saves pulling it again when it is the newest
    /// release's. Only the state database can fail this call; a tag that
    /// cannot be read or moved is a [`TagState::Failed`] outcome.
    pub(crate) async fn converge_system(
        &self,
        system: &str,
        known: Option<&RawManifest>,
    ) -> Result<Vec<TagOutcome>> {
        let Some(newest) = self.store.newest_done(system)? else {
            return Ok(Vec::new());
        };
        let commit = commit_text(&newest.commit)?;
        let image = oci_digest(&newest.image)?;
        let mut outcomes = Vec::new();
        for d in self
            .ctx
            .promotion
            .destinations(&commit, system)?
            .into_iter()
            .filter(|d| d.moving)
        {
            let tag = format!("{}:{}", d.repository, d.tag.as_str());
            let known = known.filter(|m| m.digest() == image);
            let state = match retry_transient(|| self.converge_tag(&newest, &d, &image, known))
                .await
            {
                Ok(state) => state,
                Err(error) => {
                    self.metrics
                        .moving_tag_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%tag, release = %commit, %error, "moving tag not moved; retried on the next pass");
                    TagState::Failed(error.to_string())
                }
            };
            if let TagState::Moved { .. } = state {
                self.metrics
                    .moving_tags_moved
                    .fetch_add(1, Ordering::Relaxed);
                self.ctx.fault(FaultPoint::AfterMove);
            }
            outcomes.push(TagOutcome {
                tag,
                system: system.to_owned(),
                release: commit.clone(),
                image,
                state,
            });
        }
        Ok(outcomes)
    }

    /// Points one moving tag at `image` (the newest release's) unless it
    /// serves it already or serves a proven later release.
    async fn converge_tag(
        &self,
        newest: &PromotionRow,
        d: &Destination,
        image: &Sha256Digest,
        known: Option<&RawManifest>,
    ) -> Result<TagState> {
        // Keepers sharing a registry race on a moving tag: another one may
        // move it between this one's push and its read-back, which then
        // serves other bytes. The tag is read and decided on again (a later
        // release is left alone), a few times before it counts as a failure.
        let mut attempt = 1;
        loop {
            match self.converge_tag_once(newest, d, image, known).await {
                Err(KeeperError::Oci(OciError::DigestMismatch { .. }))
                    if attempt < TAG_RACE_ATTEMPTS =>
                {
                    tracing::debug!(tag = %d.tag.as_str(), attempt, "moving tag changed under us; reading it again");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn converge_tag_once(
        &self,
        newest: &PromotionRow,
        d: &Destination,
        image: &Sha256Digest,
        known: Option<&RawManifest>,
    ) -> Result<TagState> {
        let tag = format!("{}:{}", d.repository, d.tag.as_str());
        let served = match self.ctx.client.pull_tag(&d.repository, &d.tag).await {
            Ok(Some(manifest)) if manifest.digest() == *image => return Ok(TagState::Current),
            Ok(Some(manifest)) => Some(manifest.digest()),
            Ok(None) => None,
            Err(e) if e.is_transient() => return Err(e.into()),
            // Someone wrote what seed-eth cannot read under the tag: it is
            // no release's image, so it is replaced.
            Err(e) => {
                tracing::warn!(%tag, error = %e, "moving tag holds something that is no image seed-eth can read (written by someone else?); replacing it");
                None
            }
        };
        let release = commit_text(&newest.commit)?;
        if let Some(served) = served {
            match self.holder(&newest.system, &d.repository, &served).await? {
                Some(holder) if holder.position > newest.position() => {
                    tracing::info!(%tag, serves = %served, holder = %holder.commit, at = %holder.position, "moving tag serves a later release, proven from the chain; left alone");
                    return Ok(TagState::Held {
                        commit: holder.commit,
                        position: holder.position,
                    });
                }
                Some(holder) => {
                    tracing::debug!(%tag, from = %holder.commit, to = %release, "moving tag moves forward");
                }
                None => {
                    tracing::warn!(%tag, serves = %served, release = %release, "moving tag serves an image of no release this keeper can prove (written by someone else?); moving it back");
                }
            }
        }
        // The image is in the target repository (its permanent tags are);
        // its checked bytes go under the tag, which is read back.
        let pulled;
        let manifest = match known {
            Some(manifest) => manifest,
            None => {
                pulled = self.ctx.client.pull_manifest(&d.repository, image).await?;
                &pulled
            }
        };
        self.ctx
            .client
            .push_manifest_to_tag(&d.repository, &d.tag, manifest)
            .await?;
        tracing::info!(%tag, digest = %image, %release, "moving tag moved");
        Ok(TagState::Moved { from: served })
    }

    /// The release whose promotion of `system` is `image`: from the state
    /// database, or from a verdict on the image that the chain confirms.
    /// `None` when neither says; errors only when the registry or the chain
    /// cannot be read (transient, so the tag is left until the next pass).
    async fn holder(
        &self,
        system: &str,
        repo: &Repository,
        image: &Sha256Digest,
    ) -> Result<Option<Holder>> {
        if let Some((commit, position)) = self
            .store
            .release_of_image(system, &follower::hex(&image.as_b256()))?
        {
            return Ok(Some(Holder {
                commit: commit_text(&commit)?,
                position,
            }));
        }
        let key = (*image, system.to_owned());
        if let Some(proven) = self.cached_proof(&key).await? {
            return Ok(Some(Holder {
                commit: proven.commit,
                position: proven.position,
            }));
        }
        // The newest claim first, one proof per claimed ledger record (keepers
        // write identical verdicts; copies add nothing), verdicts found wanting
        // earlier skipped, and at most MAX_PROOFS proofs: anyone can attach
        // verdicts, and a proof costs RPC requests.
        let mut verdicts = self.verdicts_on(repo, image).await?;
        verdicts.sort_by_key(|(_, v)| std::cmp::Reverse(v.position()));
        verdicts.dedup_by(|(_, a), (_, b)| a.commit == b.commit && a.position() == b.position());
        verdicts.retain(|(referrer, _)| !self.refuted_mut().contains(referrer));
        for (referrer, verdict) in verdicts.into_iter().take(MAX_PROOFS) {
            let checked = match verdict::prove(
                &self.chain,
                &self.contracts,
                self.config.log_chunk,
                &verdict,
                system,
                image,
            )
            .await
            {
                Ok(checked) => checked,
                // The endpoint answers other requests (or this propagates and
                // the tag waits for the next pass): what it cannot answer is
                // the verdict's own claim, such as a block it keeps no history for.
                Err(error) => {
                    self.chain.block_number().await?;
                    Checked::Unproven(format!("the chain cannot confirm it: {error}"))
                }
            };
            let proven = match checked {
                Checked::Proven(proven) => proven,
                Checked::NotYet(reason) => {
                    self.unproven(repo, image, &reason);
                    continue;
                }
                Checked::Unproven(reason) => {
                    self.refuted_mut().insert(referrer);
                    self.unproven(repo, image, &reason);
                    continue;
                }
            };
            // The chain says a counted voter attested the image; its content
            // must hold the release's closure too, or it is a trojan (unless
            // the operator exempted the system: its images cannot be read).
            let content = if self.config.unchecked_systems.contains(system) {
                ContentCheck::Holds(proven.manifest.clone())
            } else {
                self.content_of(repo, image).await?
            };
            match content {
                ContentCheck::Holds(held) if held == proven.manifest => {}
                check => {
                    self.refuted_mut().insert(referrer);
                    let found = match check {
                        ContentCheck::Holds(held) => format!("the closure manifest {held}"),
                        ContentCheck::Unreadable(problem) => {
                            format!("no readable closure ({problem})")
                        }
                    };
                    self.unproven(
                        repo,
                        image,
                        &format!(
                            "the image holds {found}, not release {}'s {}",
                            proven.commit, proven.manifest
                        ),
                    );
                    continue;
                }
            }
            let commit_word = proven
                .commit
                .parse::<seed_core::CommitId>()
                .map(|c| follower::hex(&c.to_b256()))
                .unwrap_or_default();
            if let Some(error) = self.store.failing(&commit_word, system)? {
                self.refuted_mut().insert(referrer);
                self.unproven(
                    repo,
                    image,
                    &format!(
                        "this keeper's own promotion of release {} keeps failing ({error}), so no moving tag may hold it",
                        proven.commit
                    ),
                );
                continue;
            }
            self.proofs_mut().insert(key, proven.clone());
            return Ok(Some(Holder {
                commit: proven.commit,
                position: proven.position,
            }));
        }
        Ok(None)
    }

    /// A proof found earlier, if the chain still has the block it was proven
    /// at (a proof of a block reorganised away is dropped).
    async fn cached_proof(&self, key: &(Sha256Digest, String)) -> Result<Option<Proven>> {
        let Some(proven) = self.proofs_mut().get(key).cloned() else {
            return Ok(None);
        };
        let (_, hash) = follower::block_at(&self.chain, proven.position.block.into()).await?;
        if hash == proven.block_hash {
            return Ok(Some(proven));
        }
        self.proofs_mut().remove(key);
        Ok(None)
    }

    fn proofs_mut(&self) -> std::sync::MutexGuard<'_, HashMap<(Sha256Digest, String), Proven>> {
        // A poisoned lock only loses cached proofs, which are proven again.
        self.proofs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Verdict referrers (by digest) the chain refuted in this process: a
    /// referrer's bytes never change, and neither does what it claims.
    fn refuted_mut(&self) -> std::sync::MutexGuard<'_, HashSet<Sha256Digest>> {
        // A poisoned lock only forgets refutations, which are made again.
        self.refuted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The verdicts attached to `repo@image` (at most [`MAX_VERDICTS`]), with
    /// their referrers' digests. What cannot be read or parsed is logged and
    /// skipped: registry content must never keep a tag from converging. Only
    /// transient registry faults are errors.
    async fn verdicts_on(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
    ) -> Result<Vec<(Sha256Digest, Verdict)>> {
        let listed = match self
            .ctx
            .client
            .list_referrers(repo, image, Some(VERDICT_ARTIFACT_TYPE))
            .await
        {
            Ok(listed) => listed,
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => {
                self.unproven(repo, image, &format!("its referrers cannot be listed: {e}"));
                return Ok(Vec::new());
            }
        };
        if listed.len() > MAX_VERDICTS {
            tracing::warn!(image = %image, listed = listed.len(), "more verdicts than a keeper writes; only the first {MAX_VERDICTS} are examined");
        }
        let mut verdicts = Vec::new();
        for referrer in listed.iter().take(MAX_VERDICTS) {
            let digest = match referrer.sha256() {
                Ok(digest) => digest,
                Err(e) => {
                    self.unproven(repo, image, &format!("referrer {}: {e}", referrer.digest));
                    continue;
                }
            };
            if self.refuted_mut().contains(&digest) {
                continue;
            }
            let json = match self
                .ctx
                .client
                .referrer_annotations(repo, image, &digest, VERDICT_ARTIFACT_TYPE)
                .await
            {
                Ok(mut annotations) => annotations.remove(VERDICT_ANNOTATION),
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(e) => {
                    self.refuted_mut().insert(digest);
                    self.unproven(repo, image, &format!("referrer {digest}: {e}"));
                    continue;
                }
            };
            match json.as_deref().map(Verdict::parse) {
                Some(Ok(verdict)) => verdicts.push((digest, verdict)),
                Some(Err(reason)) => {
                    self.refuted_mut().insert(digest);
                    self.unproven(repo, image, &reason);
                }
                None => {
                    self.refuted_mut().insert(digest);
                    self.unproven(repo, image, "the referrer has no verdict annotation");
                }
            }
        }
        Ok(verdicts)
    }

    fn unproven(&self, repo: &Repository, image: &Sha256Digest, reason: &str) {
        self.metrics
            .unproven_verdicts
            .fetch_add(1, Ordering::Relaxed);
        // The reason quotes registry content: one bounded line, no control characters.
        let reason = seed_core::text::one_line(reason, MAX_REASON_CHARS);
        tracing::warn!(image = %format!("{repo}@{image}"), %reason, "verdict ignored: the chain does not confirm it");
    }
}
