//! The Sigstore side of the Credulous posture: bundles verified strictly and
//! offline.
//!
//! Credulous builders sign their attestation statements with Sigstore and log
//! them in Rekor instead of voting on Ethereum; consumers and the keeper count
//! a quorum of distinct policy identities over the bundles they find. This
//! crate verifies one bundle: [`sigstore_verify`] does the cryptography
//! (signature, certificate chain to the Fulcio root valid at the signed time,
//! SCT, Rekor inclusion proof against a signed checkpoint, SET or RFC 3161
//! timestamp), and [`bundle`] adds what it leaves to callers:
//!
//! - for a Rekor v2 entry, the top-level log index must equal the inclusion
//!   proof's (sigstore-verify reads one, sigstore-python the other; in a Rekor
//!   v1 bundle they differ by design, each bound by what signs it);
//! - every log entry must carry an inclusion proof, and the signer's identity
//!   is returned for the caller to authorise, never matched loosely here.
//!
//! [`policy`] reads a Credulous policy (builders, their independence, k) and
//! [`quorum`] counts distinct policy builders per system, never entries.
//!
//! Design and crate choice: docs/decisions.md, D-047.

pub mod bundle;
mod error;
pub mod policy;
pub mod quorum;
pub mod sign;

pub use bundle::{
    parse_digest, Artifact, ArtifactDigest, BundleVerifier, LogEntry, ManagedKey, Sha256Hash,
    Signer, VerifiedBundle,
};
pub use error::BundleError;
pub use policy::{CredulousPolicy, IdentityMatch, PolicyError, PolicyLog};
pub use quorum::{count, Attestation, Quorum, SystemQuorum};
pub use sign::{
    sign_and_log, Credential, Keyless, RekorWriter, Retry, SignError, SigningKey, Timestamper,
};
pub use sigstore_trust_root::TrustedRoot;

/// The production Sigstore trust root shipped with this binary (the
/// `trusted_root.json` of sigstore-trust-root 0.15.1, identical to
/// sigstore-python 4.5.1's).
pub fn production_trust_root() -> Result<TrustedRoot, BundleError> {
    trust_root_from_json(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
}

/// A trust root from a `trusted_root.json` (a private Sigstore instance, or a
/// newer public-good root than the one shipped).
pub fn trust_root_from_json(json: &str) -> Result<TrustedRoot, BundleError> {
    TrustedRoot::from_json(json).map_err(|e| BundleError::TrustRoot(e.to_string()))
}
