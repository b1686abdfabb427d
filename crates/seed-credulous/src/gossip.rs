//! Gossip through the registry. A builder's witness attaches the checkpoint
//! it holds, freshly cosigned, to the image beside the builder's bundle
//! ([`WITNESS_CHECKPOINT_REFERRER`]); every builder and verifier that reads
//! the image reconciles those checkpoints with its own state. Builders that
//! share no network path, and so cannot reach each other's tlog-witness
//! endpoints, still compare the trees the log showed them: a log-signed
//! checkpoint that cannot be reconciled is an alarm whose source names the
//! image, the referrer and the witness that gossiped it.
//!
//! The registry is trusted for nothing: a checkpoint is evidence only with
//! its log's valid signature, so bytes anyone else attaches are passed over,
//! and a registry that hides a checkpoint only withholds evidence.

use std::collections::BTreeSet;

use seed_core::Sha256Digest;
use seed_oci::{OciError, RegistryClient, Repository, WITNESS_CHECKPOINT_REFERRER};
use seed_sigstore::LogEntry;
use seed_witness::{Note, WitnessError};

use crate::{
    release::blobs_on,
    witnessing::{Witnessed, Witnessing},
};

/// Reconciles every witness checkpoint gossiped on `repo@image` in
/// `witnessing`'s state, returning what did not reconcile: split views
/// (alarms, stored) and checkpoints that cannot be checked yet.
pub(crate) async fn reconcile_on(
    client: &RegistryClient,
    repo: &Repository,
    image: &Sha256Digest,
    witnessing: &Witnessing,
) -> Result<Vec<Witnessed>, OciError> {
    let mut outcomes = Vec::new();
    for (referrer, fetched) in blobs_on(client, repo, image, WITNESS_CHECKPOINT_REFERRER).await? {
        let Ok(fetched) = fetched else {
            continue;
        };
        let Ok(note) = Note::parse(&fetched.bytes) else {
            continue;
        };
        let source = format!(
            "the witness checkpoint {referrer} gossiped on {repo}@{image}, cosigned by {}",
            witnessing.cosigners(&note)
        );
        match witnessing.reconcile_gossiped(&fetched.bytes, &source).await {
            None | Some(Witnessed::Yes) => {}
            Some(other) => outcomes.push(other),
        }
    }
    Ok(outcomes)
}

/// Attaches, for each log `entries` are in, the checkpoint `witnessing`'s
/// witness holds, cosigned now with its key, to `repo@image`. Nothing is
/// attached by a witness without a key: an anonymous checkpoint could name
/// nobody in an alarm.
pub(crate) async fn publish(
    client: &RegistryClient,
    repo: &Repository,
    image: &Sha256Digest,
    witnessing: &Witnessing,
    entries: &[LogEntry],
) -> Result<Vec<Sha256Digest>, PublishError> {
    let origins: BTreeSet<&str> = entries
        .iter()
        .filter_map(|entry| entry.checkpoint.lines().next())
        .collect();
    let mut attached = Vec::new();
    for origin in origins {
        let Some(note) = witnessing.cosigned(origin)? else {
            continue;
        };
        let referrer = client
            .attach_blob(repo, image, WITNESS_CHECKPOINT_REFERRER, note.as_bytes())
            .await?
            .referrer;
        attached.push(referrer);
    }
    Ok(attached)
}

/// Why a checkpoint could not be gossiped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublishError {
    /// The witness state could not be read.
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] OciError),
}
