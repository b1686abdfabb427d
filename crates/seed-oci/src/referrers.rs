//! Statements as OCI referrers of the image they attest.
//!
//! A statement envelope is pushed as the single layer
//! (`application/vnd.dsse.envelope.v1+json`) of an OCI 1.1 artifact manifest
//! with `artifactType: application/vnd.in-toto+json`, the empty config and
//! the image as `subject`. Registries with the referrers API index it by
//! subject on their own; for the others (CNCF Distribution 2.8, ghcr.io) the
//! referrer is also recorded in the referrers tag schema: an image index
//! tagged `sha256-<image hex>`.
//!
//! The referrers list is for discovery only. What a verifier trusts is the
//! statement digest on-chain, and the statement blob is fetched by that
//! digest ([`RegistryClient::fetch_statement`]) and checked against it, so a
//! lost or tampered index can hide a statement but never substitute one.

use std::{collections::BTreeMap, time::Duration};

use seed_core::Sha256Digest;
use serde_json::{json, Value};

use crate::{
    client::RegistryClient,
    error::OciError,
    manifest::{
        annotated_referrer_manifest, blob_referrer_manifest, Descriptor, RawManifest,
        DSSE_ENVELOPE_MEDIA_TYPE, EMPTY_JSON, OCI_INDEX, SIGSTORE_BUNDLE_MEDIA_TYPE,
        STATEMENT_ARTIFACT_TYPE,
    },
    name::{Repository, Tag},
};

/// The largest statement envelope we store or fetch.
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;

/// How often a lost race on the fallback index is retried.
const INDEX_ATTEMPTS: usize = 5;

/// A kind of referrer that carries one blob: its artifact type, the media
/// type of its one layer, and annotations describing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobReferrer {
    /// The manifest's `artifactType`.
    pub artifact_type: &'static str,
    /// The media type of its one layer, the blob.
    pub layer_media_type: &'static str,
    /// Annotations on the manifest (and so in referrers listings).
    pub annotations: &'static [(&'static str, &'static str)],
    /// What the blob is, for errors.
    pub what: &'static str,
}

/// A Zero statement: a DSSE envelope whose digest is recorded on chain.
pub const STATEMENT_REFERRER: BlobReferrer = BlobReferrer {
    artifact_type: STATEMENT_ARTIFACT_TYPE,
    layer_media_type: DSSE_ENVELOPE_MEDIA_TYPE,
    annotations: &[],
    what: "statement envelope",
};

/// A Credulous statement: a Sigstore bundle v0.3 holding the DSSE envelope,
/// attached as cosign and GitHub's attestation tooling attach and read them.
pub const SIGSTORE_BUNDLE_REFERRER: BlobReferrer = BlobReferrer {
    artifact_type: SIGSTORE_BUNDLE_MEDIA_TYPE,
    layer_media_type: SIGSTORE_BUNDLE_MEDIA_TYPE,
    annotations: &[
        ("dev.sigstore.bundle.content", "dsse-envelope"),
        (
            "dev.sigstore.bundle.predicateType",
            seed_statement::PREDICATE_TYPE,
        ),
    ],
    what: "Sigstore bundle",
};

/// A witness's cosigned checkpoint: a C2SP signed note (tlog-checkpoint
/// with the log's signature and the witness's tlog-cosignature), gossiped
/// beside a builder's bundles so that builders and verifiers that share no
/// network path still compare the trees they were shown.
pub const WITNESS_CHECKPOINT_REFERRER: BlobReferrer = BlobReferrer {
    artifact_type: "application/vnd.seed-eth.witness-checkpoint.v1",
    layer_media_type: "application/vnd.seed-eth.signed-note.v1",
    annotations: &[],
    what: "witness checkpoint",
};

/// A builder's signed Zero vote (the file `seed-eth attest --sign-only`
/// writes), published beside its statement so that a relayer can collect a
/// release's votes from its images. Discovery only, like every referrer: the
/// relayer checks each vote's signature against the registry before sending.
pub const SIGNED_VOTE_REFERRER: BlobReferrer = BlobReferrer {
    artifact_type: "application/vnd.seed-eth.vote.v1",
    layer_media_type: "application/vnd.seed-eth.vote.v1+json",
    annotations: &[],
    what: "signed vote",
};

/// A blob attached to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedStatement {
    /// Digest of the referrer (artifact) manifest.
    pub referrer: Sha256Digest,
    /// Digest of the blob: for a Zero statement, the on-chain statement digest.
    pub statement: Sha256Digest,
    /// Whether this call added the referrer to the fallback tag index
    /// (false when the registry already listed it).
    pub index_updated: bool,
}

/// A blob found among an image's referrers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedStatement {
    /// Digest of the referrer manifest.
    pub referrer: Sha256Digest,
    /// Digest of the blob (checked).
    pub statement: Sha256Digest,
    /// The blob's bytes.
    pub bytes: Vec<u8>,
}

impl RegistryClient {
    /// Attaches a statement envelope to the image `repo@image`.
    ///
    /// Idempotent: the referrer manifest is canonical JSON, so the same
    /// envelope always gives the same referrer digest, and nothing that
    /// exists is written again.
    pub async fn attach_statement(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
        envelope: &[u8],
    ) -> Result<AttachedStatement, OciError> {
        self.attach_blob(repo, image, STATEMENT_REFERRER, envelope)
            .await
    }

    /// Attaches a blob of `kind` to the image `repo@image`, idempotently as
    /// [`Self::attach_statement`] does.
    pub async fn attach_blob(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
        kind: BlobReferrer,
        blob: &[u8],
    ) -> Result<AttachedStatement, OciError> {
        if blob.len() > MAX_STATEMENT_BYTES {
            return Err(OciError::Invalid {
                what: kind.what.to_owned(),
                reason: format!(
                    "{} bytes, more than the {MAX_STATEMENT_BYTES} allowed",
                    blob.len()
                ),
            });
        }
        let subject = self.pull_manifest(repo, image).await?;
        self.push_blob(repo, EMPTY_JSON).await?;
        let statement = self.push_blob(repo, blob).await?;
        let referrer = blob_referrer_manifest(&subject.descriptor(), kind, blob);
        self.push_manifest(repo, &referrer).await?;
        let index_updated = self
            .make_discoverable(repo, image, &referrer, kind.artifact_type)
            .await?;
        Ok(AttachedStatement {
            referrer: referrer.digest(),
            statement,
            index_updated,
        })
    }

    /// Attaches an artifact of `artifact_type` whose data is all in
    /// `annotations` ([`annotated_referrer_manifest`]; the keeper's verdicts)
    /// to an image in `repo`, as [`Self::attach_statement`] does for
    /// statements. Idempotent: the same annotations give the same referrer
    /// digest. Returns it. The subject is passed as the manifest the caller
    /// already pulled (and checked), so attaching costs no extra read of it.
    pub async fn attach_annotated_referrer(
        &self,
        repo: &Repository,
        subject_manifest: &RawManifest,
        artifact_type: &str,
        annotations: BTreeMap<String, String>,
    ) -> Result<Sha256Digest, OciError> {
        let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_STATEMENT_BYTES {
            return Err(OciError::Invalid {
                what: format!("{artifact_type} referrer"),
                reason: format!(
                    "{size} bytes of annotations, more than the {MAX_STATEMENT_BYTES} allowed"
                ),
            });
        }
        self.push_blob(repo, EMPTY_JSON).await?;
        let referrer =
            annotated_referrer_manifest(&subject_manifest.descriptor(), artifact_type, annotations);
        self.push_manifest(repo, &referrer).await?;
        self.make_discoverable(repo, &subject_manifest.digest(), &referrer, artifact_type)
            .await?;
        Ok(referrer.digest())
    }

    /// The annotations of referrer `referrer` of `repo@subject`, after
    /// checking its artifact type and subject.
    pub async fn referrer_annotations(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
        referrer: &Sha256Digest,
        artifact_type: &str,
    ) -> Result<BTreeMap<String, String>, OciError> {
        let manifest = self.pull_manifest(repo, referrer).await?;
        let fields = manifest.fields()?;
        let invalid = |reason: String| OciError::Invalid {
            what: format!("referrer {repo}@{referrer}"),
            reason,
        };
        if fields.artifact_type.as_deref() != Some(artifact_type) {
            return Err(invalid(format!(
                "artifactType is {:?}, not '{artifact_type}'",
                fields.artifact_type
            )));
        }
        match fields.subject {
            Some(s) if s.sha256()? == *subject => {}
            _ => return Err(invalid(format!("its subject is not {subject}"))),
        }
        Ok(fields.annotations.unwrap_or_default())
    }

    /// Makes `referrer`, just pushed with `subject` as its subject,
    /// discoverable from the subject; returns whether that took a write to
    /// the fallback tag index.
    ///
    /// A registry with the referrers API lists the referrer on its own. One
    /// that does not list it is remembered as having no such API, and from
    /// then on its referrers go straight to the fallback index, which costs
    /// three requests fewer per referrer. The memory can only make the
    /// client write an index a registry did not need (if it was merely slow
    /// to list), never skip one it needs.
    async fn make_discoverable(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
        referrer: &RawManifest,
        artifact_type: &str,
    ) -> Result<bool, OciError> {
        // The listing entry carries the manifest's artifact type and
        // annotations, as the distribution spec asks of referrers lists.
        let mut descriptor = referrer.descriptor();
        descriptor.artifact_type = Some(artifact_type.to_owned());
        descriptor.annotations = referrer.fields()?.annotations;
        if self.has_referrers_api(repo) {
            let listed = self
                .list_referrers(repo, subject, Some(artifact_type))
                .await?;
            if listed.iter().any(|d| d.digest == descriptor.digest) {
                return Ok(false);
            }
            self.note_no_referrers_api(repo);
        }
        self.add_to_fallback_index(repo, subject, &descriptor).await
    }

    /// Whether `repo`'s registry may have the referrers API (false once it
    /// failed to list a referrer this client had just pushed).
    fn has_referrers_api(&self, repo: &Repository) -> bool {
        // A poisoned lock only loses the memory: asking the API again is safe.
        self.without_referrers_api
            .lock()
            .map_or(true, |known| !known.contains(repo.registry()))
    }

    fn note_no_referrers_api(&self, repo: &Repository) {
        if let Ok(mut known) = self.without_referrers_api.lock() {
            known.insert(repo.registry().to_owned());
        }
    }

    /// Lists the referrers of `repo@subject`, optionally only those of one
    /// artifact type, from the referrers API and the referrers tag schema.
    pub async fn list_referrers(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        // The fallback tag first, read with precise errors: oci-client's own
        // fallback treats every registry error as "no referrers", which
        // would turn "unauthorised" into an empty list.
        let mut found = self.read_fallback_index(repo, subject).await?.1;
        if self.has_referrers_api(repo) {
            found.extend(self.native_referrers(repo, subject, artifact_type).await?);
        }

        let mut seen = std::collections::HashSet::new();
        found.retain(|d| seen.insert(d.digest.clone()));
        if let Some(wanted) = artifact_type {
            found.retain(|d| d.artifact_type.as_deref() == Some(wanted));
        }
        Ok(found)
    }

    /// The referrers API's answer (oci-client reads the tag schema itself
    /// where the API answers 404, swallowing its errors; the caller reads it
    /// too, with precise errors).
    async fn native_referrers(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, OciError> {
        self.prepare(repo).await;
        let native = self
            .inner
            .pull_referrers(&repo.at_digest(subject), artifact_type)
            .await
            .map_err(|e| OciError::from_client(e, format!("referrers of {repo}@{subject}")))?;
        let mut found = Vec::with_capacity(native.manifests.len());
        for entry in native.manifests {
            let size = u64::try_from(entry.size).map_err(|_| OciError::Invalid {
                what: format!("referrers of {repo}@{subject}"),
                reason: format!("negative size for {}", entry.digest),
            })?;
            found.push(Descriptor {
                media_type: entry.media_type,
                digest: entry.digest,
                size,
                artifact_type: entry.artifact_type,
                annotations: entry.annotations,
            });
        }
        Ok(found)
    }

    /// Fetches every statement attached to `repo@image`, each checked
    /// against its referrer manifest (shape, subject, size, digest).
    pub async fn statements(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
    ) -> Result<Vec<FetchedStatement>, OciError> {
        self.blobs(repo, image, STATEMENT_REFERRER).await
    }

    /// Fetches every blob of `kind` attached to `repo@image`, each checked
    /// against its referrer manifest (shape, subject, size, digest).
    pub async fn blobs(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
        kind: BlobReferrer,
    ) -> Result<Vec<FetchedStatement>, OciError> {
        let mut blobs = Vec::new();
        for referrer in self
            .list_referrers(repo, image, Some(kind.artifact_type))
            .await?
        {
            blobs.push(
                self.fetch_blob_referrer(repo, image, &referrer.sha256()?, kind)
                    .await?,
            );
        }
        Ok(blobs)
    }

    /// Fetches the statement of one referrer manifest of `repo@image`.
    pub async fn fetch_statement_referrer(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
        referrer: &Sha256Digest,
    ) -> Result<FetchedStatement, OciError> {
        self.fetch_blob_referrer(repo, image, referrer, STATEMENT_REFERRER)
            .await
    }

    /// Fetches the blob of one referrer manifest of `kind` of `repo@image`.
    pub async fn fetch_blob_referrer(
        &self,
        repo: &Repository,
        image: &Sha256Digest,
        referrer: &Sha256Digest,
        kind: BlobReferrer,
    ) -> Result<FetchedStatement, OciError> {
        let manifest = self.pull_manifest(repo, referrer).await?;
        let what = format!("{} referrer {repo}@{referrer}", kind.what);
        let invalid = |reason: String| OciError::Invalid {
            what: what.clone(),
            reason,
        };
        let fields = manifest.fields()?;
        if fields.artifact_type.as_deref() != Some(kind.artifact_type) {
            return Err(invalid(format!(
                "artifactType is {:?}, not '{}'",
                fields.artifact_type, kind.artifact_type
            )));
        }
        let subject = fields
            .subject
            .ok_or_else(|| invalid("it has no subject".to_owned()))?;
        if subject.sha256()? != *image {
            return Err(invalid(format!(
                "its subject is {}, not the image {image}",
                subject.digest
            )));
        }
        let layer = match fields.layers.as_deref() {
            Some([layer]) if layer.media_type == kind.layer_media_type => layer.clone(),
            _ => {
                return Err(invalid(format!(
                    "expected exactly one '{}' layer",
                    kind.layer_media_type
                )))
            }
        };
        if layer.size > MAX_STATEMENT_BYTES as u64 {
            return Err(invalid(format!(
                "the {} is {} bytes, more than the {MAX_STATEMENT_BYTES} allowed",
                kind.what, layer.size
            )));
        }
        let statement = layer.sha256()?;
        let bytes = self
            .fetch_blob(repo, &statement, MAX_STATEMENT_BYTES)
            .await?;
        if bytes.len() as u64 != layer.size {
            return Err(invalid(format!(
                "the {} is {} bytes but the manifest says {}",
                kind.what,
                bytes.len(),
                layer.size
            )));
        }
        Ok(FetchedStatement {
            referrer: *referrer,
            statement,
            bytes,
        })
    }

    /// Fetches a statement envelope by its digest (the on-chain
    /// `statementDigest`), checked against it. This is the authoritative
    /// path: it needs no index and trusts nothing the registry says.
    pub async fn fetch_statement(
        &self,
        repo: &Repository,
        statement: &Sha256Digest,
    ) -> Result<Vec<u8>, OciError> {
        self.fetch_blob(repo, statement, MAX_STATEMENT_BYTES).await
    }

    /// The fallback index for `subject` (if any) and its entries.
    async fn read_fallback_index(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
    ) -> Result<(Option<RawManifest>, Vec<Descriptor>), OciError> {
        let tag = Tag::referrers_fallback(subject);
        let Some(index) = self.pull_tag(repo, &tag).await? else {
            return Ok((None, Vec::new()));
        };
        if index.media_type() != OCI_INDEX {
            return Err(OciError::Invalid {
                what: format!("referrers tag {repo}:{tag}"),
                reason: format!(
                    "it holds a '{}', not an OCI image index",
                    index.media_type()
                ),
            });
        }
        let entries = index.fields()?.manifests.unwrap_or_default();
        Ok((Some(index), entries))
    }

    /// Adds `descriptor` to the fallback index of `subject`.
    ///
    /// The registry offers no compare-and-swap on tags, so concurrent
    /// writers can overwrite each other: after writing, the tag is read
    /// back, and if our entry is gone the update is redone (up to
    /// [`INDEX_ATTEMPTS`] times). Returns whether anything was written.
    async fn add_to_fallback_index(
        &self,
        repo: &Repository,
        subject: &Sha256Digest,
        descriptor: &Descriptor,
    ) -> Result<bool, OciError> {
        let tag = Tag::referrers_fallback(subject);
        let what = format!("referrers tag {repo}:{tag}");
        let listed = |entries: &[Descriptor]| entries.iter().any(|d| d.digest == descriptor.digest);
        for attempt in 0..INDEX_ATTEMPTS {
            let (current, entries) = self.read_fallback_index(repo, subject).await?;
            if listed(&entries) {
                return Ok(attempt > 0);
            }
            // Keep whatever other tools put into the index (unknown fields
            // included): edit the JSON, do not rebuild it.
            let mut index: Value = match &current {
                Some(index) => {
                    serde_json::from_slice(index.bytes()).map_err(|e| OciError::Invalid {
                        what: what.clone(),
                        reason: e.to_string(),
                    })?
                }
                None => json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}),
            };
            let entry = serde_json::to_value(descriptor).map_err(|e| OciError::Invalid {
                what: what.clone(),
                reason: e.to_string(),
            })?;
            match index.get_mut("manifests").and_then(Value::as_array_mut) {
                Some(manifests) => manifests.push(entry),
                None => {
                    return Err(OciError::Invalid {
                        what,
                        reason: "the index has no 'manifests' array".to_owned(),
                    })
                }
            }
            let bytes =
                seed_statement::to_canonical_json(&index).map_err(|e| OciError::Invalid {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
            let updated = RawManifest::from_bytes(bytes, &what)?;
            match self.push_manifest_to_tag(repo, &tag, &updated).await {
                // Read back unchanged: our entry is in.
                Ok(()) => return Ok(true),
                // Someone wrote in between; look again.
                Err(OciError::DigestMismatch { .. }) => {}
                Err(err) => return Err(err),
            }
            let backoff = 20 * (1u64 << attempt);
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        Err(OciError::Contention {
            tag: tag.to_string(),
            referrer: descriptor.digest.clone(),
            attempts: INDEX_ATTEMPTS,
        })
    }
}
