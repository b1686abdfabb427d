//! DSSE envelopes of statements: signing and verification.
//!
//! The envelope is DSSE v1's JSON envelope,
//! `{"payload": b64, "payloadType": "application/vnd.in-toto+json",
//! "signatures": [{"keyid": "0x<EIP-55 address>", "sig": b64}]}`, written as
//! canonical JSON with standard padded base64. A signature is
//! [`RecoverableSignature`] over `SHA-256(PAE(payloadType, payload))`.
//!
//! The statement digest recorded on-chain is the SHA-256 of the envelope bytes
//! exactly as written ([`SignedStatement::digest`]); the same bytes are the
//! OCI blob a verifier fetches by that digest.

use std::fmt;

use alloy_primitives::Address;
use base64::{
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use seed_core::{CommitId, Sha256Digest, System};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    canonical::to_canonical_json,
    key::{BuilderKey, KeyError, RecoverableSignature},
    statement::{Statement, StatementError},
};

/// The DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in decimal
/// without leading zeros. This is what is signed, so the type cannot be
/// swapped without breaking the signature.
pub fn pae(payload_type: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type);
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The digest a statement signature signs: `SHA-256(PAE(type, payload))`.
pub fn signing_digest(payload_type: &[u8], payload: &[u8]) -> [u8; 32] {
    Sha256::digest(pae(payload_type, payload)).into()
}

/// SHA-256 of some bytes as a digest (never zero for real input).
fn sha256_digest(bytes: &[u8]) -> Sha256Digest {
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    // SHA-256 of anything is zero with probability 2^-256; treat it as the
    // impossible case it is rather than threading an error everywhere.
    Sha256Digest::from_bytes(hash.into()).unwrap_or_else(|_| unreachable!("SHA-256 output is zero"))
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The statement names another builder than the key's owner.
    #[error("the statement names builder {named} but the key belongs to {key}; set predicate.builder.address to the key's address")]
    NotTheBuilder {
        /// The builder the statement names.
        named: Address,
        /// The key's address.
        key: Address,
    },
    /// The statement names a Sigstore builder; Zero signs for registered ones.
    #[error("the statement names a Sigstore builder; a Zero statement names the registered builder's address, chain and registry")]
    NotRegistered,
    /// The key could not sign.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Why an envelope was rejected.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The envelope bytes do not hash to the expected statement digest.
    #[error("statement digest mismatch: expected {expected}, the envelope bytes hash to {actual}")]
    DigestMismatch {
        /// The digest the caller expected (e.g. from the chain).
        expected: Sha256Digest,
        /// The digest of the bytes given.
        actual: Sha256Digest,
    },
    /// Not a DSSE JSON envelope.
    #[error("not a DSSE envelope: {0}")]
    Envelope(#[source] serde_json::Error),
    /// A base64 field does not decode.
    #[error("DSSE envelope field '{field}' is not valid base64 (standard or URL-safe)")]
    Base64 {
        /// `payload` or `signatures[i].sig`.
        field: String,
    },
    /// The payload type is not an in-toto statement.
    #[error("DSSE payloadType is '{found}'; expected '{PAYLOAD_TYPE}'")]
    WrongPayloadType {
        /// The payload type found.
        found: String,
    },
    /// The envelope carries no signature.
    #[error("the DSSE envelope has no signatures")]
    NoSignatures,
    /// More than one signature where exactly one was required.
    #[error("the DSSE envelope has {count} signatures; seed-eth statements carry exactly one (verify with `allow_extra_signatures` to pick the expected signer's)")]
    MultipleSignatures {
        /// How many there are.
        count: usize,
    },
    /// No signature names the expected signer.
    #[error("no signature in the envelope has keyid {expected}")]
    NoSignatureFromSigner {
        /// The expected signer.
        expected: Address,
    },
    /// The signature is malformed (length, v, range, high s).
    #[error("malformed statement signature")]
    Signature(#[source] KeyError),
    /// The signature is valid but by someone else.
    #[error("the statement was signed by {recovered}, not by the expected builder {expected}")]
    WrongSigner {
        /// The registered address the caller expected.
        expected: Address,
        /// Who actually signed.
        recovered: Address,
    },
    /// The keyid is not the signer's EIP-55 address.
    #[error("signature keyid '{keyid}' is not the signer's address {recovered} in EIP-55 form")]
    KeyIdMismatch {
        /// The keyid found.
        keyid: String,
        /// Who actually signed.
        recovered: Address,
    },
    /// The payload is not a valid seed-eth statement.
    #[error("invalid statement payload")]
    Statement(#[from] StatementError),
    /// The statement names a Sigstore builder: it belongs to the Credulous
    /// posture and is verified with its bundle, not as a Zero envelope.
    #[error("the statement names a Sigstore builder, not a registered one: it is a Credulous statement (verify it with `--posture credulous`)")]
    NotRegistered,
    /// The statement names another builder than its signer.
    #[error("the statement names builder {named} but was signed by {signer}")]
    BuilderMismatch {
        /// The builder the statement names.
        named: Address,
        /// Who signed it.
        signer: Address,
    },
    /// The statement is for another deployment (replay protection).
    #[error("the statement is for chain {found_chain} registry {found_registry}, not chain {expected_chain} registry {expected_registry}")]
    WrongDeployment {
        /// The chain the verifier is on.
        expected_chain: u64,
        /// The registry the verifier trusts.
        expected_registry: Address,
        /// The statement's chain.
        found_chain: u64,
        /// The statement's registry.
        found_registry: Address,
    },
}

/// A signed statement: the envelope bytes and their digest.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedStatement {
    bytes: Vec<u8>,
    digest: Sha256Digest,
}

impl SignedStatement {
    /// The envelope bytes, exactly as they are to be stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes `self`, returning the envelope bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// SHA-256 of [`Self::bytes`]: the on-chain `statementDigest` and the OCI
    /// blob digest.
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }
}

impl fmt::Debug for SignedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedStatement")
            .field("digest", &self.digest.to_string())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// Signs `statement` with the builder's key.
///
/// Deterministic: the same statement and key always give the same bytes,
/// so a retried CI job reproduces its own statement digest.
pub fn sign(statement: &Statement, key: &BuilderKey) -> Result<SignedStatement, SignError> {
    let Some(named) = statement
        .predicate()
        .builder
        .registered()
        .map(|b| b.address)
    else {
        return Err(SignError::NotRegistered);
    };
    if named != key.address() {
        return Err(SignError::NotTheBuilder {
            named,
            key: key.address(),
        });
    }
    let payload = statement.to_canonical_json();
    let signature = key.sign_prehash(&signing_digest(PAYLOAD_TYPE.as_bytes(), &payload))?;
    let envelope = WireEnvelope {
        payload: STANDARD.encode(&payload),
        payload_type: PAYLOAD_TYPE.to_owned(),
        signatures: vec![WireSignature {
            keyid: key.address().to_checksum(None),
            sig: STANDARD.encode(signature.as_bytes()),
        }],
    };
    let bytes = match to_canonical_json(&envelope) {
        Ok(bytes) => bytes,
        // Only numbers can lack a canonical form, and an envelope has none.
        Err(err) => unreachable!("envelope of strings is not canonicalisable: {err}"),
    };
    let digest = sha256_digest(&bytes);
    Ok(SignedStatement { bytes, digest })
}

/// What a verifier requires of a statement envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The builder's registered address.
    pub signer: Address,
    /// The verifier's chain.
    pub chain_id: u64,
    /// The registry contract the verifier trusts.
    pub registry: Address,
    /// The statement digest recorded on-chain, if the caller has it.
    pub digest: Option<Sha256Digest>,
    /// Accept envelopes with other signatures besides the signer's (they are
    /// ignored, as DSSE prescribes for signatures by unknown keys).
    pub allow_extra_signatures: bool,
}

impl Expected {
    /// A statement by `signer` for the registry at `registry` on `chain_id`,
    /// with exactly one signature.
    pub const fn new(signer: Address, chain_id: u64, registry: Address) -> Self {
        Self {
            signer,
            chain_id,
            registry,
            digest: None,
            allow_extra_signatures: false,
        }
    }

    /// Also require the envelope bytes to hash to `digest`.
    pub const fn with_digest(mut self, digest: Sha256Digest) -> Self {
        self.digest = Some(digest);
        self
    }

    /// Accept (and ignore) signatures by other keys.
    pub const fn allowing_extra_signatures(mut self) -> Self {
        self.allow_extra_signatures = true;
        self
    }
}

/// A statement whose envelope verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatement {
    statement: Statement,
    signer: Address,
    digest: Sha256Digest,
}

impl VerifiedStatement {
    /// The statement.
    pub const fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The address that signed it (equal to the expected signer and to the
    /// statement's builder).
    pub const fn signer(&self) -> Address {
        self.signer
    }

    /// SHA-256 of the envelope bytes.
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// Checks that the statement attests the vote a builder cast: the same
    /// commit, system, closure manifest and image digest.
    pub fn ensure_vote(
        &self,
        commit: &CommitId,
        system: &System,
        closure_manifest: &Sha256Digest,
        image: &Sha256Digest,
    ) -> Result<(), VoteMismatch> {
        let p = self.statement.predicate();
        let mismatch = |field: &'static str, vote: String, statement: String| {
            Err(VoteMismatch {
                field,
                vote,
                statement,
            })
        };
        if p.source.commit != *commit {
            return mismatch("commit", commit.to_string(), p.source.commit.to_string());
        }
        if p.system != *system {
            return mismatch("system", system.to_string(), p.system.to_string());
        }
        if p.closure_manifest != *closure_manifest {
            return mismatch(
                "closureManifest",
                closure_manifest.to_string(),
                p.closure_manifest.to_string(),
            );
        }
        if p.image.digest() != *image {
            return mismatch("image", image.to_string(), p.image.digest().to_string());
        }
        Ok(())
    }
}

/// A statement that does not attest what the vote says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the statement's {field} is {statement} but the vote's is {vote}")]
pub struct VoteMismatch {
    /// Which field differs.
    pub field: &'static str,
    /// The vote's value.
    pub vote: String,
    /// The statement's value.
    pub statement: String,
}

/// The statement an envelope claims to carry, **unverified**: no signature,
/// signer or deployment is checked. Only for choosing what to verify (the
/// release an image's statement names, so that `verify --image` need not
/// search the chain's history); [`verify`] is the check, and a wrong claim
/// only points at a release that then fails to verify.
pub fn claimed_statement(bytes: &[u8]) -> Option<Statement> {
    let envelope: WireEnvelope = serde_json::from_slice(bytes).ok()?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return None;
    }
    let payload = decode_base64(&envelope.payload, "payload").ok()?;
    Statement::from_canonical_json(&payload).ok()
}

/// Verifies envelope bytes against what the caller expects.
///
/// In order: the digest (if expected), the envelope's shape, the payload
/// type, the signature count, the signature (which must recover to the
/// expected signer, and whose keyid must be that signer's EIP-55 address),
/// and only then the payload, which must be a canonical seed-eth statement
/// naming the signer as builder and the expected chain and registry.
pub fn verify(bytes: &[u8], expected: &Expected) -> Result<VerifiedStatement, VerifyError> {
    let digest = sha256_digest(bytes);
    if let Some(want) = expected.digest {
        if want != digest {
            return Err(VerifyError::DigestMismatch {
                expected: want,
                actual: digest,
            });
        }
    }
    let envelope: WireEnvelope = serde_json::from_slice(bytes).map_err(VerifyError::Envelope)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(VerifyError::WrongPayloadType {
            found: envelope.payload_type,
        });
    }
    let payload = decode_base64(&envelope.payload, "payload")?;
    let signatures = &envelope.signatures;
    match signatures.len() {
        0 => return Err(VerifyError::NoSignatures),
        1 => {}
        count if !expected.allow_extra_signatures => {
            return Err(VerifyError::MultipleSignatures { count })
        }
        _ => {}
    }
    let message = signing_digest(PAYLOAD_TYPE.as_bytes(), &payload);
    let signer_keyid = expected.signer.to_checksum(None);
    let mut outcome = Err(VerifyError::NoSignatureFromSigner {
        expected: expected.signer,
    });
    for (i, signature) in signatures.iter().enumerate() {
        // With one signature its keyid must be right too (checked below, after
        // recovery, for a precise error); with several, keyid only selects.
        if signatures.len() > 1 && signature.keyid != signer_keyid {
            continue;
        }
        outcome = check_signature(signature, i, &message, expected.signer);
        if outcome.is_ok() {
            break;
        }
    }
    let signer = outcome?;
    let statement = Statement::from_canonical_json(&payload)?;
    let Some(builder) = statement.predicate().builder.registered().copied() else {
        return Err(VerifyError::NotRegistered);
    };
    if builder.address != signer {
        return Err(VerifyError::BuilderMismatch {
            named: builder.address,
            signer,
        });
    }
    if builder.chain_id != expected.chain_id || builder.registry != expected.registry {
        return Err(VerifyError::WrongDeployment {
            expected_chain: expected.chain_id,
            expected_registry: expected.registry,
            found_chain: builder.chain_id,
            found_registry: builder.registry,
        });
    }
    Ok(VerifiedStatement {
        statement,
        signer,
        digest,
    })
}

fn check_signature(
    signature: &WireSignature,
    index: usize,
    message: &[u8; 32],
    expected: Address,
) -> Result<Address, VerifyError> {
    let raw = decode_base64(&signature.sig, &format!("signatures[{index}].sig"))?;
    let parsed = RecoverableSignature::from_slice(&raw).map_err(VerifyError::Signature)?;
    let recovered = parsed.recover(message).map_err(VerifyError::Signature)?;
    if recovered != expected {
        return Err(VerifyError::WrongSigner {
            expected,
            recovered,
        });
    }
    if signature.keyid != recovered.to_checksum(None) {
        return Err(VerifyError::KeyIdMismatch {
            keyid: signature.keyid.clone(),
            recovered,
        });
    }
    Ok(recovered)
}

/// DSSE verifiers must accept standard and URL-safe base64. Each is accepted
/// fully padded or unpadded; partial padding, non-alphabet characters and
/// non-zero trailing bits are rejected.
fn decode_base64(text: &str, field: &str) -> Result<Vec<u8>, VerifyError> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| VerifyError::Base64 {
            field: field.to_owned(),
        })
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    keyid: String,
    sig: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::tests::sample_predicate;
    use alloy_primitives::address;
    use serde_json::{json, Value};

    const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ANVIL_KEY_1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    fn key0() -> BuilderKey {
        BuilderKey::from_hex(ANVIL_KEY_0).unwrap()
    }

    fn expected() -> Expected {
        let p = sample_predicate();
        let b = p.builder.registered().unwrap();
        Expected::new(b.address, b.chain_id, b.registry)
    }

    fn signed() -> SignedStatement {
        sign(&Statement::new(sample_predicate()).unwrap(), &key0()).unwrap()
    }

    /// Edits the envelope JSON and re-serialises it canonically.
    fn edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut value: Value = serde_json::from_slice(signed().bytes()).unwrap();
        edit(&mut value);
        to_canonical_json(&value).unwrap()
    }

    #[test]
    fn a_claimed_statement_is_read_without_checks_and_only_from_a_statement_envelope() {
        let statement = Statement::new(sample_predicate()).unwrap();
        assert_eq!(claimed_statement(signed().bytes()), Some(statement.clone()));
        // A forged signature does not matter to a hint (verify is the check).
        let forged = edited(|v| v["signatures"][0]["sig"] = json!("AAAA"));
        assert_eq!(claimed_statement(&forged), Some(statement));
        for bad in [
            edited(|v| v["payloadType"] = json!("application/json")),
            edited(|v| v["payload"] = json!("bm90IGEgc3RhdGVtZW50")),
            b"not json".to_vec(),
        ] {
            assert_eq!(claimed_statement(&bad), None);
        }
    }

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae(b"http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae(b"", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn signature_matches_an_independent_implementation() {
        // `printf 'DSSEv1 29 http://example.com/HelloWorld 11 hello world' | sha256sum`
        // and `cast wallet sign --no-hash --private-key <anvil key 0> 0x<that>`
        // (Foundry 1.7.1): the same digest and the same 65 bytes, so
        // Ethereum tooling and `ecrecover` read our signatures as we do.
        let digest = signing_digest(b"http://example.com/HelloWorld", b"hello world");
        assert_eq!(
            hex::encode(digest),
            "217751fac2c4f14edb2c9297fbc34abcb016ba88e74757e875ec4ac16fb6b6a1"
        );
        let sig = key0().sign_prehash(&digest).unwrap();
        assert_eq!(
            hex::encode(sig.as_bytes()),
            "0b337532a5b97513e12861d86a8ee78b4b9784874145486d8fe4e22bab6994bf\
             65468ec75cb8d0c1980f1c006a20c6dc3adfc9f6c251a08c459a20aa8da83bea1b"
        );
    }

    #[test]
    fn round_trip() {
        let signed = signed();
        assert_eq!(
            signed.digest().as_b256().0,
            <[u8; 32]>::from(Sha256::digest(signed.bytes()))
        );
        let verified = verify(signed.bytes(), &expected().with_digest(signed.digest())).unwrap();
        assert_eq!(verified.signer(), key0().address());
        assert_eq!(verified.digest(), signed.digest());
        assert_eq!(verified.statement().predicate(), &sample_predicate());
        // Deterministic: signing again gives the same bytes.
        assert_eq!(self::signed(), signed);
        let envelope: Value = serde_json::from_slice(signed.bytes()).unwrap();
        assert_eq!(envelope["payloadType"], PAYLOAD_TYPE);
        assert_eq!(
            envelope["signatures"][0]["keyid"],
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn the_vote_check_names_the_differing_field() {
        let verified = verify(signed().bytes(), &expected()).unwrap();
        let p = sample_predicate();
        let image = p.image.digest();
        assert!(verified
            .ensure_vote(&p.source.commit, &p.system, &p.closure_manifest, &image)
            .is_ok());
        let other: Sha256Digest = format!("sha256:{}", "9".repeat(64)).parse().unwrap();
        let err = verified
            .ensure_vote(&p.source.commit, &p.system, &other, &image)
            .unwrap_err();
        assert_eq!(err.field, "closureManifest");
    }

    #[test]
    fn tampered_payload_fails() {
        let bytes = edited(|v| {
            let payload = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
            let text = String::from_utf8(payload)
                .unwrap()
                .replace("x86_64-linux", "aarch64-linux");
            v["payload"] = STANDARD.encode(text).into();
        });
        // The tampered statement still recovers to *someone*, just not to the
        // builder.
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::WrongSigner { .. } | VerifyError::Signature(_))
        ));
    }

    #[test]
    fn tampered_signature_fails() {
        let bytes = edited(|v| {
            let mut sig = STANDARD
                .decode(v["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            sig[10] ^= 1;
            v["signatures"][0]["sig"] = STANDARD.encode(sig).into();
        });
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::WrongSigner { .. } | VerifyError::Signature(_))
        ));
    }

    #[test]
    fn tampered_keyid_fails() {
        let other = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
        let bytes = edited(|v| v["signatures"][0]["keyid"] = other.into());
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::KeyIdMismatch { .. })
        ));
        let lowercase = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
        let bytes = edited(|v| v["signatures"][0]["keyid"] = lowercase.into());
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn wrong_expected_signer_or_deployment_fails() {
        let bytes = signed().into_bytes();
        let mut other = expected();
        other.signer = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        assert!(matches!(
            verify(&bytes, &other),
            Err(VerifyError::WrongSigner { .. })
        ));
        let mut other_chain = expected();
        other_chain.chain_id = 1;
        assert!(matches!(
            verify(&bytes, &other_chain),
            Err(VerifyError::WrongDeployment { .. })
        ));
        let mut other_registry = expected();
        other_registry.registry = Address::ZERO;
        assert!(matches!(
            verify(&bytes, &other_registry),
            Err(VerifyError::WrongDeployment { .. })
        ));
    }

    #[test]
    fn wrong_digest_fails() {
        let other: Sha256Digest = format!("sha256:{}", "9".repeat(64)).parse().unwrap();
        assert!(matches!(
            verify(signed().bytes(), &expected().with_digest(other)),
            Err(VerifyError::DigestMismatch { .. })
        ));
    }

    #[test]
    fn refuses_to_sign_for_another_builder() {
        let key1 = BuilderKey::from_hex(ANVIL_KEY_1).unwrap();
        let statement = Statement::new(sample_predicate()).unwrap();
        assert!(matches!(
            sign(&statement, &key1),
            Err(SignError::NotTheBuilder { .. })
        ));
    }

    #[test]
    fn a_statement_naming_another_builder_is_rejected_even_if_well_signed() {
        // Key 1 signs a statement that names builder 0: hand-craft the
        // envelope, since `sign` refuses to.
        let key1 = BuilderKey::from_hex(ANVIL_KEY_1).unwrap();
        let payload = Statement::new(sample_predicate())
            .unwrap()
            .to_canonical_json();
        let sig = key1
            .sign_prehash(&signing_digest(PAYLOAD_TYPE.as_bytes(), &payload))
            .unwrap();
        let bytes = to_canonical_json(&json!({
            "payload": STANDARD.encode(&payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": key1.address().to_checksum(None),
                            "sig": STANDARD.encode(sig.as_bytes())}],
        }))
        .unwrap();
        let mut expect = expected();
        expect.signer = key1.address();
        assert!(matches!(
            verify(&bytes, &expect),
            Err(VerifyError::BuilderMismatch { .. })
        ));
    }

    #[test]
    fn wrong_payload_type_fails() {
        let bytes = edited(|v| v["payloadType"] = "application/json".into());
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::WrongPayloadType { .. })
        ));
    }

    #[test]
    fn malformed_base64_fails() {
        for bad in ["not base64!", "YQ=", "YR==", "Y"] {
            let bytes = edited(|v| v["payload"] = bad.into());
            assert!(
                matches!(verify(&bytes, &expected()), Err(VerifyError::Base64 { .. })),
                "{bad}"
            );
        }
        let bytes = edited(|v| v["signatures"][0]["sig"] = "%%".into());
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::Base64 { .. })
        ));
    }

    #[test]
    fn url_safe_and_unpadded_base64_are_accepted() {
        let bytes = edited(|v| {
            let payload = STANDARD.decode(v["payload"].as_str().unwrap()).unwrap();
            v["payload"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(payload)
                .into();
        });
        assert!(verify(&bytes, &expected()).is_ok());
    }

    #[test]
    fn zero_or_several_signatures_need_consent() {
        let none = edited(|v| v["signatures"] = json!([]));
        assert!(matches!(
            verify(&none, &expected()),
            Err(VerifyError::NoSignatures)
        ));
        assert!(matches!(
            verify(&none, &expected().allowing_extra_signatures()),
            Err(VerifyError::NoSignatures)
        ));

        let stranger = json!({"keyid": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                              "sig": STANDARD.encode([1u8; 65])});
        let two = edited(|v| {
            let ours = v["signatures"][0].clone();
            v["signatures"] = json!([stranger, ours]);
        });
        assert!(matches!(
            verify(&two, &expected()),
            Err(VerifyError::MultipleSignatures { count: 2 })
        ));
        assert!(verify(&two, &expected().allowing_extra_signatures()).is_ok());

        let strangers_only = edited(|v| v["signatures"] = json!([stranger, stranger]));
        assert!(matches!(
            verify(&strangers_only, &expected().allowing_extra_signatures()),
            Err(VerifyError::NoSignatureFromSigner { .. })
        ));
    }

    #[test]
    fn high_s_twin_is_rejected() {
        let bytes = edited(|v| {
            let sig = STANDARD
                .decode(v["signatures"][0]["sig"].as_str().unwrap())
                .unwrap();
            let low = k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap();
            let (r, s) = low.split_scalars();
            let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
            let mut twin = high.to_bytes().to_vec();
            twin.push(55 - sig[64]); // 27 <-> 28
            v["signatures"][0]["sig"] = STANDARD.encode(twin).into();
        });
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::Signature(KeyError::HighS))
        ));
    }

    #[test]
    fn envelope_shape_is_strict() {
        let bytes = edited(|v| v["extra"] = 1.into());
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::Envelope(_))
        ));
        let bytes = edited(|v| {
            v["signatures"][0].as_object_mut().unwrap().remove("keyid");
        });
        assert!(matches!(
            verify(&bytes, &expected()),
            Err(VerifyError::Envelope(_))
        ));
        // A duplicate member must not let one reader see another payload.
        let mut text = String::from_utf8(signed().into_bytes()).unwrap();
        text.insert_str(1, r#""payload":"e30=","#);
        assert!(matches!(
            verify(text.as_bytes(), &expected()),
            Err(VerifyError::Envelope(_))
        ));
    }
}
