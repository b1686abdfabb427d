//! Why a bundle is refused.

/// A bundle that does not verify, or cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bytes are not a Sigstore bundle this verifier reads.
    #[error("not a readable Sigstore bundle: {0}")]
    Parse(String),
    /// The trust root cannot be used.
    #[error("the Sigstore trust root cannot be used: {0}; pass a valid trusted_root.json")]
    TrustRoot(String),
    /// Cryptographic verification failed: signature, certificate, SCT,
    /// inclusion proof, checkpoint, SET or timestamp.
    #[error("the bundle does not verify: {0}")]
    Verification(#[from] sigstore_verify::Error),
    /// A Rekor v2 entry whose two log indices differ: readers that take one or
    /// the other would locate different entries.
    #[error(
        "the Rekor v2 entry's log index {top_level} differs from its inclusion proof's \
         {in_proof}; a Rekor v2 bundle states one index twice"
    )]
    LogIndexMismatch {
        /// The entry's top-level `logIndex`.
        top_level: u64,
        /// `inclusionProof.logIndex`.
        in_proof: u64,
    },
    /// A log entry without an inclusion proof: only a proof against a signed
    /// checkpoint shows the entry is in the log everyone sees.
    #[error(
        "log entry {index} has no inclusion proof; re-fetch the bundle from its log \
         (an inclusion promise alone is not accepted)"
    )]
    NoInclusionProof {
        /// The entry's log index.
        index: u64,
    },
    /// A managed-key bundle that none of the known keys verifies.
    #[error(
        "the bundle is signed with a managed key (hint '{hint}') that none of the {known} \
         known keys verifies"
    )]
    UnknownKey {
        /// The bundle's key hint.
        hint: String,
        /// How many keys were tried.
        known: usize,
    },
    /// A log entry whose checkpoint the log its `logId` names did not sign
    /// (sigstore-verify accepts a checkpoint signed by any trusted log whose
    /// key hint matches, and a Rekor v2 entry has no SET to bind its log): a
    /// copy of one log's entry under another log's id would otherwise count
    /// as a second log.
    #[error("log entry {index} names the log {log_id}, but {reason}")]
    NotItsLog {
        /// The entry's position in the bundle.
        index: usize,
        /// The log id it names.
        log_id: String,
        /// What does not match.
        reason: String,
    },
    /// The bundle has no transparency log entry at all.
    #[error("the bundle has no transparency log entry; it was never logged in Rekor")]
    NotLogged,
}
