//! What the images of a release hold. A promotion tries the counted voters'
//! images in D-031 order and promotes the first whose content holds the
//! finalised closure manifest; it never pushes an image it has not read, and
//! when none holds it the promotion is poisoned, never substituted.
//!
//! An image is read once per digest (its content cannot change under it) and
//! the result kept in the state file. Only a content fault refuses an image:
//! a registry that cannot be reached is retried, so two keepers never choose
//! differently because one of them could not read a candidate.

use std::sync::atomic::Ordering;

use seed_core::Sha256Digest;
use seed_oci::Repository;

use crate::{
    error::{KeeperError, Result},
    follower::hex,
    promote::{commit_text, oci_digest, retry_transient, ContentOutcome},
    store::{now_ms, ContentCheck, PromotionRow, RefusedImage},
    Keeper,
};

impl Keeper {
    /// What `image` in `repo` holds: read once, then from the state file.
    pub(crate) async fn content_of(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
    ) -> Result<ContentCheck> {
        // Keyed by the reader's version too: a reader that refuses more (or
        // reads better) checks every image again rather than trusting a
        // verdict an older reader cached.
        let key = format!("{}@{}", hex(&image.as_b256()), seed_image::READER_VERSION);
        if let Some(check) = self.store.content_check(&key)? {
            return Ok(check);
        }
        // A transient registry fault (a 500 while another keeper writes, a
        // dropped connection) is retried at once, as every promotion step is.
        let check = retry_transient(|| async {
            match seed_image::registry::image_closure(&self.ctx.client, repo, image).await {
                Ok(closure) => Ok(ContentCheck::Holds(hex(&closure
                    .manifest
                    .digest()
                    .as_b256()))),
                Err(error) if error.is_content_fault() => {
                    Ok(ContentCheck::Unreadable(error.to_string()))
                }
                Err(seed_image::ContentError::Registry(error)) => Err(KeeperError::Oci(error)),
                Err(error) => Err(KeeperError::Content(error.to_string())),
            }
        })
        .await?;
        self.store.record_content_check(&key, &check, now_ms())?;
        self.metrics.content_checks.fetch_add(1, Ordering::Relaxed);
        Ok(check)
    }

    /// `row` pointed at the first candidate image whose content holds the
    /// finalised manifest; the candidates refused before it are recorded
    /// (log, metric, state, and so the verdict).
    pub(crate) async fn choose_checked(
        &self,
        row: &PromotionRow,
    ) -> Result<(PromotionRow, ContentOutcome)> {
        if self.config.unchecked_systems.contains(&row.system) {
            // --no-content-check: the D-031 order alone, as before issue 12.
            let (builder, image) = self
                .store
                .candidates(row)?
                .into_iter()
                .next()
                .unwrap_or((row.builder, row.image.clone()));
            tracing::warn!(
                commit = %commit_text(&row.commit)?,
                system = %row.system,
                builder,
                %image,
                "promoting without reading the image's content (--no-content-check)"
            );
            self.store.choose(row, builder, &image, &[])?;
            let chosen = PromotionRow {
                builder,
                image,
                ..row.clone()
            };
            let content = ContentOutcome {
                refused: Vec::new(),
                unchecked: true,
            };
            return Ok((chosen, content));
        }
        let source = self.ctx.promotion.source_repo(&row.system)?;
        let wanted = oci_digest(&row.manifest)?;
        let mut refused = Vec::new();
        for (builder, image_hex) in self.store.candidates(row)? {
            let image = oci_digest(&image_hex)?;
            let reason = match self.content_of(&source, &image).await? {
                ContentCheck::Holds(held) if held == row.manifest => {
                    self.record_refusals(row, builder, &image_hex, &refused)?;
                    let chosen = PromotionRow {
                        builder,
                        image: image_hex,
                        ..row.clone()
                    };
                    let content = ContentOutcome {
                        refused,
                        unchecked: false,
                    };
                    return Ok((chosen, content));
                }
                ContentCheck::Holds(held) => format!(
                    "it holds the closure manifest {}, not the finalised {wanted}",
                    oci_digest(&held)?
                ),
                ContentCheck::Unreadable(problem) => {
                    format!("it cannot be read as a closure: {problem}")
                }
            };
            refused.push(RefusedImage {
                builder,
                image: image.to_string(),
                reason,
            });
        }
        self.record_refusals(row, row.builder, &row.image, &refused)?;
        Err(KeeperError::NoMatchingImage {
            manifest: wanted.to_string(),
            refused: refused
                .iter()
                .map(|r| format!("builder {}'s image {}: {}", r.builder, r.image, r.reason))
                .collect::<Vec<_>>()
                .join("; "),
        })
    }

    fn record_refusals(
        &self,
        row: &PromotionRow,
        builder: u8,
        image: &str,
        refused: &[RefusedImage],
    ) -> Result<()> {
        let new = self.store.choose(row, builder, image, refused)?;
        if new > 0 {
            let commit = commit_text(&row.commit)?;
            for r in refused {
                tracing::warn!(
                    %commit,
                    system = %row.system,
                    builder = r.builder,
                    image = %r.image,
                    reason = %r.reason,
                    "image refused: its content does not hold the finalised closure"
                );
            }
            self.metrics
                .refused_images
                .fetch_add(new as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}
