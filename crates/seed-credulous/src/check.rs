//! One bundle found on an image: is it a valid Credulous statement about it?

use seed_core::Sha256Digest;
use seed_sigstore::{parse_digest, BundleError, BundleVerifier, LogEntry, ManagedKey, Signer};
use seed_statement::{SigstoreBuilder, Statement};

/// A bundle that verified, and the statement it carries.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    /// The statement (strictly parsed, canonical).
    pub statement: Statement,
    /// Who signed it, as verified.
    pub signer: Signer,
    /// The log entries it is proven in.
    pub log_entries: Vec<LogEntry>,
}

/// Why a bundle does not count.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Its signature, certificate, log proof or time does not verify.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// It signs a bare message, not a DSSE envelope.
    #[error("the bundle holds a message signature, not a DSSE envelope with a statement")]
    NotAnEnvelope,
    /// Its payload is not a seed-eth statement.
    #[error("its payload is not a seed-eth statement: {0}")]
    Statement(#[from] seed_statement::StatementError),
    /// The statement attests another image than the one it is attached to.
    #[error("its statement attests the image {attested}, not {image} it is attached to")]
    OtherImage {
        /// The image the statement names.
        attested: Sha256Digest,
        /// The image the bundle was found on.
        image: Sha256Digest,
    },
    /// The statement names a registered (Zero) builder.
    #[error("its statement names a Zero builder (an Ethereum address), not a Sigstore signer")]
    NotCredulous,
    /// The statement names another signer than the one that signed it.
    #[error("its statement names the builder {named} but it was signed by {signer}")]
    NotItsSigner {
        /// The builder the statement names.
        named: String,
        /// The verified signer.
        signer: String,
    },
}

/// Verifies `bundle` (JSON) found on `image`: the bundle itself against the
/// verifier's trust root (a managed-key bundle against `keys`), then that its
/// statement is a seed-eth statement about `image`, signed by the builder it
/// names.
pub fn check_bundle(
    verifier: &BundleVerifier,
    keys: &[ManagedKey],
    image: &Sha256Digest,
    bundle: &str,
) -> Result<VerifiedStatement, Refusal> {
    let subject = parse_digest(&image.to_string()).map_err(BundleError::Parse)?;
    let verified = verifier.verify(bundle, subject, keys)?;
    let payload = verified.dsse_payload.ok_or(Refusal::NotAnEnvelope)?;
    let statement = Statement::from_canonical_json(&payload)?;
    let attested = statement.subject().1;
    if attested != *image {
        return Err(Refusal::OtherImage {
            attested,
            image: *image,
        });
    }
    let named = statement
        .predicate()
        .builder
        .sigstore()
        .ok_or(Refusal::NotCredulous)?;
    if !names(named, &verified.signer) {
        return Err(Refusal::NotItsSigner {
            named: named.to_string(),
            signer: verified.signer.to_string(),
        });
    }
    Ok(VerifiedStatement {
        statement,
        signer: verified.signer,
        log_entries: verified.log_entries,
    })
}

/// Whether the statement's `builder` is exactly the verified signer.
pub fn names(builder: &SigstoreBuilder, signer: &Signer) -> bool {
    match (builder, signer) {
        (
            SigstoreBuilder::Identity { issuer, identity },
            Signer::Certificate {
                issuer: signed_issuer,
                identity: signed_identity,
            },
        ) => issuer == signed_issuer && identity == signed_identity,
        (
            SigstoreBuilder::Key { fingerprint },
            Signer::Key {
                fingerprint: signed,
            },
        ) => fingerprint.to_string() == *signed,
        _ => false,
    }
}
