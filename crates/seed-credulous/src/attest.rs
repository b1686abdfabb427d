//! A builder's side: sign, log, check, attach, exactly once.
//!
//! Order matters for failing closed and for idempotency. The image's bundles
//! are read first: if this signer already attested this release and system,
//! the same closure is success with nothing written, another closure is a
//! conflict (a builder that attests two closures counts for neither). Then the
//! statement is signed and logged; the bundle Rekor's answer makes is verified
//! against our own trust root before anything is published, so a log that
//! answers with a bad proof publishes nothing. With a builder's witness, the
//! new entry's checkpoint and every witness checkpoint gossiped on the image
//! must reconcile with its state, and its own checkpoint is gossiped first;
//! only then is the referrer pushed. A failure after logging leaves a log entry and no referrer: running
//! again logs a second entry of the same signer, which counts once.

use seed_core::Sha256Digest;
use seed_oci::{OciError, RegistryClient, Repository, SIGSTORE_BUNDLE_REFERRER};
use seed_sigstore::{
    sign_and_log, BundleVerifier, Credential, ManagedKey, RekorWriter, SignError, Signer,
    Timestamper,
};
use seed_statement::Statement;

use seed_witness::Alarm;

use crate::{
    check::{check_bundle, names, Refusal, VerifiedStatement},
    gossip::{self, PublishError},
    release::blobs_on,
    witnessing::{Witnessed, Witnessing},
};

/// What `attest` did.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The bundle (JSON), new or found.
    pub bundle: String,
    /// What it proves.
    pub verified: VerifiedStatement,
    /// The referrer it is attached as (`None` when not pushed).
    pub referrer: Option<Sha256Digest>,
    /// The witness checkpoints gossiped beside it (see [`crate::gossip`]).
    pub gossiped: Vec<Sha256Digest>,
    /// Whether it was already attached: nothing was signed or written.
    pub already: bool,
}

/// Why nothing (or not everything) was published.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// Signing or logging failed ([`SignError::is_transient`] says whether a
    /// retry may help).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The bundle made from the log's answer does not verify against our
    /// trust root: nothing was published.
    #[error(
        "the bundle made from the log's answer does not verify, so nothing was published: {0}"
    )]
    SelfCheck(Refusal),
    /// The statement does not name the signing key as its builder.
    #[error("the statement must name its signer, {signer}, as predicate.builder")]
    NotTheSigner {
        /// The signer.
        signer: String,
    },
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] OciError),
    /// **Split view**: the log entry's checkpoint contradicts what this
    /// builder's witness holds; nothing was published.
    #[error(
        "SPLIT VIEW of log {origin:?} ({kind:?}, alarm #{id} in the witness state): {detail}; \
         nothing was published",
        origin = .0.origin, kind = .0.kind, id = .0.id, detail = .0.detail
    )]
    SplitView(Box<Alarm>),
    /// The log entry's checkpoint could not be reconciled with this
    /// builder's witness (the log did not answer for a proof): retry.
    #[error("the log entry's checkpoint could not be checked by the witness, so nothing was published: {0}")]
    Unwitnessed(String),
    /// This signer already attested another closure for the release and system.
    #[error(
        "CONFLICT: {signer} already attested the closure {earlier} for this commit and system \
         (referrer {referrer}), but this build's is {now}; a builder attests one closure per \
         release and system, nothing was signed"
    )]
    Conflict {
        /// The signer.
        signer: String,
        /// The closure attested before.
        earlier: Sha256Digest,
        /// This build's closure.
        now: Sha256Digest,
        /// The referrer holding the earlier bundle.
        referrer: Sha256Digest,
    },
}

/// Where the bundle is attached: a registry client and the image's repository.
pub type Target<'a> = (&'a RegistryClient, &'a Repository);

/// Signs `statement` with `credential`, logs it in each of `logs` (with a
/// timestamp from `timestamper` when given), verifies the result with
/// `verifier`, reconciles each log entry's checkpoint with the builder's
/// `witness` when given, and attaches it to the statement's image in
/// `target` (nothing is pushed without one). With both, the witness
/// checkpoints other builders gossiped on the image are reconciled first
/// and the witness's own is gossiped beside the bundle.
pub async fn attest(
    statement: &Statement,
    credential: &Credential,
    logs: &[RekorWriter],
    timestamper: Option<&Timestamper>,
    verifier: &BundleVerifier,
    witness: Option<&Witnessing>,
    target: Option<Target<'_>>,
) -> Result<Attested, AttestError> {
    let image = statement.subject().1;
    let keys: Vec<ManagedKey> = credential.managed_key().into_iter().collect();
    let me = credential.signer();
    let named = statement.predicate().builder.sigstore();
    if !named.is_some_and(|named| names(named, &me)) {
        return Err(AttestError::NotTheSigner {
            signer: me.to_string(),
        });
    }
    if let Some((client, repo)) = target {
        if let Some(found) = earlier(client, repo, verifier, &keys, &me, statement).await? {
            return Ok(found);
        }
    }
    let bundle = sign_and_log(
        &statement.to_canonical_json(),
        credential,
        logs,
        timestamper,
    )
    .await?;
    let verified =
        check_bundle(verifier, &keys, &image, &bundle).map_err(AttestError::SelfCheck)?;
    if let Some(witness) = witness {
        for entry in &verified.log_entries {
            match witness
                .reconcile(&entry.checkpoint, "this build's log entry")
                .await
            {
                Witnessed::Yes => {}
                Witnessed::SplitView(alarm) => return Err(AttestError::SplitView(alarm)),
                Witnessed::NotYet(reason) => return Err(AttestError::Unwitnessed(reason)),
            }
        }
    }
    let mut gossiped = Vec::new();
    if let (Some(witness), Some((client, repo))) = (witness, target) {
        for outcome in gossip::reconcile_on(client, repo, &image, witness).await? {
            match outcome {
                Witnessed::SplitView(alarm) => return Err(AttestError::SplitView(alarm)),
                Witnessed::NotYet(reason) => return Err(AttestError::Unwitnessed(reason)),
                Witnessed::Yes => {}
            }
        }
        gossiped = gossip::publish(client, repo, &image, witness, &verified.log_entries)
            .await
            .map_err(|error| match error {
                PublishError::Registry(error) => AttestError::Registry(error),
                PublishError::Witness(error) => AttestError::Unwitnessed(format!(
                    "the witness's checkpoint cannot be gossiped: {error}"
                )),
            })?;
    }
    let referrer = match target {
        Some((client, repo)) => Some(
            client
                .attach_blob(repo, &image, SIGSTORE_BUNDLE_REFERRER, bundle.as_bytes())
                .await?
                .referrer,
        ),
        None => None,
    };
    Ok(Attested {
        bundle,
        verified,
        referrer,
        gossiped,
        already: false,
    })
}

/// This signer's earlier bundle for the statement's release and system on
/// `image`, if any: the same closure is returned, another is a conflict.
/// Bundles that do not verify, or are another signer's, are not this
/// builder's attestation and are passed over (verification reports them).
async fn earlier(
    client: &RegistryClient,
    repo: &Repository,
    verifier: &BundleVerifier,
    keys: &[ManagedKey],
    me: &Signer,
    statement: &Statement,
) -> Result<Option<Attested>, AttestError> {
    let image = statement.subject().1;
    let ours = statement.predicate();
    for (_, fetched) in blobs_on(client, repo, &image, SIGSTORE_BUNDLE_REFERRER).await? {
        let Ok(fetched) = fetched else {
            continue;
        };
        let referrer = fetched.referrer;
        let Ok(bundle) = String::from_utf8(fetched.bytes) else {
            continue;
        };
        let Ok(verified) = check_bundle(verifier, keys, &image, &bundle) else {
            continue;
        };
        let theirs = verified.statement.predicate();
        if verified.signer != *me
            || theirs.source.commit != ours.source.commit
            || theirs.system != ours.system
        {
            continue;
        }
        if theirs.closure_manifest != ours.closure_manifest {
            return Err(AttestError::Conflict {
                signer: me.to_string(),
                earlier: theirs.closure_manifest,
                now: ours.closure_manifest,
                referrer,
            });
        }
        return Ok(Some(Attested {
            bundle,
            verified,
            referrer: Some(referrer),
            gossiped: Vec::new(),
            already: true,
        }));
    }
    Ok(None)
}
