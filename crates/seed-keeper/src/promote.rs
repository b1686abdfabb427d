//! Promoting one system of one finalised release, bit-exact and
//! idempotently (the moving tags are [`crate::moving`]'s).
//!
//! Every step can be repeated with the same effect, so a keeper that dies
//! anywhere (or a second keeper doing the same work) leaves the registry as
//! one clean run would: the image is pulled by digest and checked; immutable
//! tags (those naming `{commit}`) are written unless they already serve the
//! digest, and are never moved once they serve another; the verdict is
//! canonical JSON, so it always has the same referrer digest.

use std::{cell::RefCell, collections::BTreeMap};

use alloy::primitives::Address;
use seed_core::{CommitId, Sha256Digest};
use seed_oci::{RawManifest, RegistryClient, Repository};

use crate::{
    config::{Destination, FaultPoint, Promotion, FAULT_EXIT_CODE},
    error::{KeeperError, Result},
    store::{PromotionRow, RefusedImage, StoredRelease},
    verdict::{Verdict, VERDICT_ANNOTATION, VERDICT_ARTIFACT_TYPE, VERDICT_KIND},
};

/// Retries of a promotion attempt after a transient registry fault.
const TRANSIENT_RETRIES: usize = 3;
/// The first pause before such a retry; it doubles each time (100, 200, 400 ms).
const TRANSIENT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `op`, and again after a transient registry fault (a 5xx, a dropped
/// connection, a concurrent writer of the same blob or tag, as when two
/// keepers race), a few times with a short, doubling pause. `op` must be
/// idempotent. Anything else, and a fault that outlasts the retries, is
/// returned: the caller records the failed attempt and retries it later with
/// backoff.
pub(crate) async fn retry_transient<T, Fut>(mut op: impl FnMut() -> Fut) -> Result<T>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut pause = TRANSIENT_PAUSE;
    for _ in 0..TRANSIENT_RETRIES {
        match op().await {
            Err(KeeperError::Oci(e)) if e.is_transient() => {
                tracing::debug!(error = %e, "transient registry fault, retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            other => return other,
        }
    }
    op().await
}

/// What every promotion shares.
#[derive(Debug)]
pub struct Context {
    /// The registry client.
    pub client: RegistryClient,
    /// Sources, targets, tags.
    pub promotion: Promotion,
    /// The chain id.
    pub chain_id: u64,
    /// The registry contract.
    pub registry: Address,
    /// The ledger contract.
    pub ledger: Address,
    /// Test hook.
    pub fault: Option<FaultPoint>,
}

impl Context {
    /// Exits the process if `point` is the configured fault point (tests of
    /// restarts; see [`FaultPoint`]).
    pub fn fault(&self, point: FaultPoint) {
        if self.fault == Some(point) {
            tracing::error!(?point, "fault injection: exiting");
            std::process::exit(FAULT_EXIT_CODE);
        }
    }

    /// The verdict for a promotion, with what its content check found.
    pub fn verdict(
        &self,
        row: &PromotionRow,
        release: &StoredRelease,
        content: &ContentOutcome,
    ) -> Result<Verdict> {
        Ok(Verdict {
            kind: VERDICT_KIND.to_owned(),
            chain_id: self.chain_id,
            registry: self.registry.to_checksum(None),
            ledger: self.ledger.to_checksum(None),
            commit: commit_text(&row.commit)?,
            system: row.system.clone(),
            manifest_digest: oci_digest(&row.manifest)?.to_string(),
            image_digest: oci_digest(&row.image)?.to_string(),
            image_builder: row.builder,
            voters: row
                .voters
                .split(',')
                .filter_map(|v| v.parse().ok())
                .collect(),
            root: release.root.clone(),
            transaction: release.tx.clone(),
            block: release.block,
            log_index: release.log_index,
            rules_version: release.rules_version,
            genesis: release.genesis,
            refused_images: content.refused.clone(),
            content_unchecked: content.unchecked,
        })
    }

    /// Pulls the image, writes the immutable tags and attaches the verdict;
    /// returns the image's manifest (checked). `step` is called after each
    /// completed step (for the state database).
    ///
    /// Transient registry faults are retried at once (`retry_transient`);
    /// every step is idempotent, so a retry redoes only what did not land.
    pub async fn promote(
        &self,
        row: &PromotionRow,
        release: &StoredRelease,
        content: &ContentOutcome,
        step: impl FnMut(&str),
    ) -> Result<RawManifest> {
        let step = RefCell::new(step);
        let record = |done: &str| (step.borrow_mut())(done);
        retry_transient(|| self.promote_attempt(row, release, content, &record)).await
    }

    async fn promote_attempt(
        &self,
        row: &PromotionRow,
        release: &StoredRelease,
        content: &ContentOutcome,
        step: &impl Fn(&str),
    ) -> Result<RawManifest> {
        let digest = oci_digest(&row.image)?;
        let source = self.promotion.source_repo(&row.system)?;
        let target = self.promotion.target_repo(&row.system)?;
        // 1. The attested image, by digest, checked (pull_manifest hashes it).
        let manifest = self.client.pull_manifest(&source, &digest).await?;
        step("pulled");
        self.fault(FaultPoint::AfterPull);
        // 2. Immutable tags: never moved once they serve another digest.
        let commit = commit_text(&row.commit)?;
        let destinations = self.promotion.destinations(&commit, &row.system)?;
        let mut first = true;
        for d in destinations.iter().filter(|d| !d.moving) {
            self.write_immutable(&source, &manifest, d).await?;
            step(&format!("tagged {}:{}", d.repository, d.tag.as_str()));
            if first {
                first = false;
                self.fault(FaultPoint::AfterFirstTag);
            }
        }
        // 3. The verdict, next to the promoted image (which step 2 put into
        // the target repository).
        let verdict = self.verdict(row, release, content)?;
        let json = seed_statement::to_canonical_json(&verdict)
            .map_err(|e| e.to_string())
            .and_then(|bytes| String::from_utf8(bytes).map_err(|e| e.to_string()))
            .map_err(|e| KeeperError::Config(format!("the verdict is not canonical JSON: {e}")))?;
        self.client
            .attach_annotated_referrer(
                &target,
                &manifest,
                VERDICT_ARTIFACT_TYPE,
                BTreeMap::from([(VERDICT_ANNOTATION.to_owned(), json)]),
            )
            .await?;
        step("verdict");
        self.fault(FaultPoint::AfterVerdict);
        Ok(manifest)
    }

    async fn write_immutable(
        &self,
        source: &Repository,
        manifest: &RawManifest,
        d: &Destination,
    ) -> Result<()> {
        let digest = manifest.digest();
        let existing = self.client.pull_tag(&d.repository, &d.tag).await?;
        let name = format!("{}:{}", d.repository, d.tag.as_str());
        match existing {
            Some(existing) if existing.digest() == digest => {
                tracing::debug!(tag = %name, digest = %digest, "already promoted");
                return Ok(());
            }
            Some(existing) => {
                return Err(KeeperError::TagConflict {
                    tag: name,
                    existing: existing.digest().to_string(),
                    wanted: digest.to_string(),
                })
            }
            None => {}
        }
        if *source == d.repository {
            // Same repository: the manifest bytes just pulled and checked go
            // under the tag, which is read back and compared.
            self.client
                .push_manifest_to_tag(&d.repository, &d.tag, manifest)
                .await?;
        } else {
            // Another repository: the client mounts the blobs first.
            self.client
                .promote(source, &digest, &d.repository, &d.tag)
                .await?;
        }
        tracing::info!(tag = %name, digest = %digest, "promoted");
        Ok(())
    }
}

/// What choosing a promotion's image by content found (D-031).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentOutcome {
    /// Candidates refused before the chosen image.
    pub refused: Vec<RefusedImage>,
    /// The image was chosen without reading content (`--no-content-check`).
    pub unchecked: bool,
}

/// `0x…` (as stored) to `sha256:…`.
pub fn oci_digest(hex: &str) -> Result<Sha256Digest> {
    hex.parse()
        .map_err(|e| KeeperError::Inconsistent(format!("stored digest {hex}: {e}")))
}

/// `0x…` commit word (as stored) to the git commit id.
pub fn commit_text(hex: &str) -> Result<String> {
    let word: alloy::primitives::B256 = hex
        .parse()
        .map_err(|e| KeeperError::Inconsistent(format!("stored commit {hex}: {e}")))?;
    Ok(CommitId::from_b256(word).to_string())
}
