//! One Sigstore bundle, verified strictly and offline.

use sha2::{Digest, Sha256};
use sigstore_crypto::VerificationKey;
use sigstore_types::{
    Bundle, Checkpoint, DerPublicKey, KeyHint, KindVersion, TransparencyLogEntry,
    VerificationMaterialContent,
};
use sigstore_verify::{
    PublicKeyVerificationPolicy, VerificationPolicy, VerificationResult, Verifier,
};

use crate::{BundleError, TrustedRoot};

pub use sigstore_types::{Artifact, ArtifactDigest, HashAlgorithm, Sha256Hash};

/// Parses `sha256:<hex>` or `sha512:<hex>`, an artifact's digest as a user
/// gives it.
pub fn parse_digest(text: &str) -> Result<ArtifactDigest, String> {
    let (algorithm, hex_digest) = match text.split_once(':') {
        Some(("sha256", hex_digest)) => (HashAlgorithm::Sha2256, hex_digest),
        Some(("sha512", hex_digest)) => (HashAlgorithm::Sha2512, hex_digest),
        _ => return Err(format!("'{text}' is not sha256:<hex> or sha512:<hex>")),
    };
    let bytes = hex::decode(hex_digest).map_err(|e| format!("'{text}': {e}"))?;
    ArtifactDigest::new(algorithm, bytes).map_err(|e| format!("'{text}': {e}"))
}

/// Who signed a bundle, as verified. The caller decides whether that signer
/// is one it trusts; nothing here matches it loosely.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signer {
    /// A keyless signer, as its Fulcio certificate says.
    Certificate {
        /// The OIDC issuer that vouched for the identity (the certificate's
        /// Fulcio issuer extension).
        issuer: String,
        /// The certificate's subject alternative name: a workflow URI, an
        /// email.
        identity: String,
    },
    /// A managed key.
    Key {
        /// `sha256:<hex>` of its DER public key.
        fingerprint: String,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Certificate { issuer, identity } => write!(f, "{identity} (issuer {issuer})"),
            Self::Key { fingerprint } => write!(f, "the key {fingerprint}"),
        }
    }
}

/// A managed public key a bundle may be signed with (P-256, P-384, Ed25519 or
/// RSA, as Rekor accepts).
#[derive(Debug, Clone)]
pub struct ManagedKey {
    der: Vec<u8>,
    fingerprint: String,
}

impl ManagedKey {
    /// A key from its PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = sigstore_types::DerPublicKey::from_pem(pem).map_err(|e| e.to_string())?;
        Ok(Self::from_der(der.as_bytes().to_vec()))
    }

    /// A key from its DER SubjectPublicKeyInfo.
    pub fn from_der(der: Vec<u8>) -> Self {
        let fingerprint = format!("sha256:{}", hex::encode(Sha256::digest(&der)));
        Self { der, fingerprint }
    }

    /// `sha256:<hex>` of the DER key: what bundles signed with it name as
    /// their key hint.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}

/// A transparency log entry a verified bundle relies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The log's key id (base64 of the SHA-256 of its public key), as the
    /// trust root names it.
    pub log_id: String,
    /// The index the entry's signed material binds: the SET's (global) index
    /// for Rekor v1, the one index of a Rekor v2 entry.
    pub log_index: u64,
    /// The entry's index inside the tree its inclusion proof is against.
    pub proof_index: u64,
    /// The size of that tree.
    pub tree_size: u64,
    /// Whether the log is Rekor v2 (tiles, no SET, an RFC 3161 timestamp).
    pub rekor_v2: bool,
    /// The signed checkpoint the inclusion proof is against (a C2SP signed
    /// note), which witnessing reconciles with what witnesses saw.
    pub checkpoint: String,
}

/// What a bundle proves once verified.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    /// The certificate's verified identity.
    pub signer: Signer,
    /// The log entries, each verified (inclusion proof, checkpoint, SET).
    pub log_entries: Vec<LogEntry>,
    /// The earliest verified time of signing (SET or timestamp authority).
    pub signed_at: jiff::Timestamp,
    /// The DSSE payload (an in-toto statement) when the bundle holds an
    /// envelope, else `None` (a message signature).
    pub dsse_payload: Option<Vec<u8>>,
}

/// Verifies bundles against one trust root.
pub struct BundleVerifier {
    verifier: Verifier,
    root: TrustedRoot,
}

impl BundleVerifier {
    /// A verifier trusting `root`'s Fulcio CAs, Rekor logs, CT logs and
    /// timestamp authorities.
    pub fn new(root: &TrustedRoot) -> Result<Self, BundleError> {
        Ok(Self {
            verifier: Verifier::new(root)?,
            root: root.clone(),
        })
    }

    /// Verifies the bundle `json` over `artifact` and returns its signer for
    /// the caller to authorise: any Fulcio-certified identity, or one of
    /// `keys` for a bundle signed with a managed key.
    pub fn verify<'a>(
        &self,
        json: &str,
        artifact: impl Into<Artifact<'a>>,
        keys: &[ManagedKey],
    ) -> Result<VerifiedBundle, BundleError> {
        let bundle = Bundle::from_json(json).map_err(|e| BundleError::Parse(e.to_string()))?;
        let artifact = artifact.into();
        // Checks of the bundle alone come first: they need no cryptography.
        let log_entries = log_entries(&bundle)?;
        let (result, signer) = match &bundle.verification_material.content {
            VerificationMaterialContent::PublicKey(identifier) => {
                self.verify_with_key(&bundle, artifact, &identifier.hint, keys)?
            }
            _ => {
                // Authorisation is the caller's (a policy of several
                // builders): the cryptography is checked here, the identity
                // returned.
                let result =
                    self.verifier
                        .verify(artifact, &bundle, &VerificationPolicy::any_identity())?;
                let signer = match (result.issuer(), result.identity()) {
                    (Some(issuer), Some(identity)) if result.certificate_verified() => {
                        Signer::Certificate {
                            issuer: issuer.to_owned(),
                            identity: identity.as_str().to_owned(),
                        }
                    }
                    _ => {
                        return Err(BundleError::Parse(
                            "the bundle has no verified signing certificate with an OIDC \
                             issuer and identity"
                                .to_owned(),
                        ))
                    }
                };
                (result, signer)
            }
        };
        if !result.tlog_verified() {
            return Err(BundleError::NotLogged);
        }
        self.bind_to_their_logs(&bundle)?;
        let signed_at = result
            .verified_timestamps()
            .iter()
            .min()
            .copied()
            .ok_or_else(|| {
                BundleError::Parse(
                    "the bundle has no verified time of signing (no SET, no timestamp)".to_owned(),
                )
            })?;
        let dsse_payload = match &bundle.content {
            sigstore_types::SignatureContent::DsseEnvelope(envelope) => {
                Some(envelope.payload.as_bytes().to_vec())
            }
            _ => None,
        };
        Ok(VerifiedBundle {
            signer,
            log_entries,
            signed_at,
            dsse_payload,
        })
    }

    /// Requires each entry's checkpoint to be signed by the very log its
    /// `logId` names (not just by some trusted log with the same 4-byte key
    /// hint), and the proof's root to be the checkpoint's.
    fn bind_to_their_logs(&self, bundle: &Bundle) -> Result<(), BundleError> {
        for (index, entry) in bundle.verification_material.tlog_entries.iter().enumerate() {
            let log_id = entry.log_id.key_id.to_string();
            let not_its_log = |reason: String| BundleError::NotItsLog {
                index,
                log_id: log_id.clone(),
                reason,
            };
            let key = self
                .root
                .rekor_key_for_log(&entry.log_id.key_id)
                .map_err(|e| not_its_log(format!("the trust root has no such log: {e}")))?;
            let proof = entry
                .inclusion_proof
                .as_ref()
                .ok_or(BundleError::NoInclusionProof {
                    index: entry.log_index.get(),
                })?;
            let checkpoint = Checkpoint::from_text(proof.checkpoint.envelope())
                .map_err(|e| not_its_log(format!("its checkpoint does not parse: {e}")))?;
            // The signature line's key hint is the first 4 bytes of the log
            // id, for Rekor v1 (SHA-256 of the key) and v2 (C2SP's key id) alike.
            let id = entry.log_id.key_id.as_bytes();
            let hint = KeyHint::new([id[0], id[1], id[2], id[3]]);
            let key = VerificationKey::from_spki(&key)
                .map_err(|e| not_its_log(format!("its key cannot be used: {e}")))?;
            let signed = checkpoint.signatures_by_key_hint(&hint).any(|line| {
                key.verify(checkpoint.signed_data(), &line.signature)
                    .is_ok()
            });
            if !signed {
                return Err(not_its_log(
                    "that log did not sign its checkpoint".to_owned(),
                ));
            }
            if checkpoint.root_hash() != &proof.root_hash
                || checkpoint.tree_size() != proof.tree_size
            {
                return Err(not_its_log(
                    "its proof's root hash or tree size differs from its checkpoint's".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Verifies a managed-key bundle with the key its hint names, else with
    /// each of `keys` in turn (the hint is a selector, not a proof).
    fn verify_with_key(
        &self,
        bundle: &Bundle,
        artifact: Artifact<'_>,
        hint: &str,
        keys: &[ManagedKey],
    ) -> Result<(VerificationResult, Signer), BundleError> {
        let attempt = |key: &ManagedKey| {
            let policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.der.clone()));
            self.verifier
                .verify(artifact.clone(), bundle, &policy)
                .map(|result| {
                    let signer = Signer::Key {
                        fingerprint: key.fingerprint.clone(),
                    };
                    (result, signer)
                })
        };
        if let Some(named) = keys.iter().find(|key| key.fingerprint == hint) {
            return Ok(attempt(named)?);
        }
        keys.iter()
            .find_map(|key| attempt(key).ok())
            .ok_or_else(|| BundleError::UnknownKey {
                hint: hint.to_owned(),
                known: keys.len(),
            })
    }
}

/// The bundle's log entries, each with an inclusion proof and, for Rekor v2,
/// one log index stated twice alike.
fn log_entries(bundle: &Bundle) -> Result<Vec<LogEntry>, BundleError> {
    let entries = &bundle.verification_material.tlog_entries;
    if entries.is_empty() {
        return Err(BundleError::NotLogged);
    }
    entries.iter().map(log_entry).collect()
}

fn log_entry(entry: &TransparencyLogEntry) -> Result<LogEntry, BundleError> {
    let log_index = entry.log_index.get();
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or(BundleError::NoInclusionProof { index: log_index })?;
    let rekor_v2 = entry.kind_version == KindVersion::HashedRekordV002;
    let proof_index = proof.log_index.get();
    if rekor_v2 && proof_index != log_index {
        return Err(BundleError::LogIndexMismatch {
            top_level: log_index,
            in_proof: proof_index,
        });
    }
    Ok(LogEntry {
        log_id: entry.log_id.key_id.to_string(),
        log_index,
        proof_index,
        tree_size: proof.tree_size,
        rekor_v2,
        checkpoint: proof.checkpoint.envelope().to_owned(),
    })
}
