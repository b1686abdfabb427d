//! `RekorLog`: a **test double** of a Rekor v1 transparency log, which cannot
//! run here (the public one must never be contacted by tests).
//!
//! It is a real RFC 6962 log over the entries it is given: leaf and node
//! hashes, inclusion proofs, a signed checkpoint (a C2SP signed note, ECDSA
//! P-256 like rekor.sigstore.dev, the key hint being the first four bytes of
//! the log id), and the signed entry timestamp (SET) over the canonical JSON
//! Rekor signs. What it produces is checked by independent verifiers
//! (sigstore-verify in this crate's tests; sigstore-python where the doubles
//! serve over HTTP). It emits a `trusted_root.json` naming its key.
//!
//! This is the log's core: entries in, proofs and signatures out. Serving it
//! over Rekor's REST API comes with the signing path that needs it.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
pub use sigstore_crypto::KeyPair;
use sigstore_merkle::{hash_children, hash_leaf};
use sigstore_types::Sha256Hash;

/// The origin line of the double's checkpoints, as Rekor v1 writes it
/// (`<host> - <tree id>`).
const ORIGIN: &str = "rekor.double.test - 1";
/// The name on the checkpoint's signature line.
const SIGNER_NAME: &str = "rekor.double.test";

/// One logged entry, as a bundle carries it.
#[derive(Debug, Clone)]
pub struct LoggedEntry {
    /// Its index in the log.
    pub index: u64,
    /// When it was integrated (seconds since the epoch).
    pub integrated_time: i64,
    /// The body as logged.
    pub canonicalized_body: Vec<u8>,
    /// The SET: the log's signature over the entry's canonical JSON.
    pub signed_entry_timestamp: Vec<u8>,
}

/// A Rekor v1 log double.
pub struct RekorLog {
    key: KeyPair,
    entries: Vec<LoggedEntry>,
    leaves: Vec<Sha256Hash>,
}

impl RekorLog {
    /// An empty log with a fresh P-256 key.
    pub fn new() -> Self {
        Self {
            key: KeyPair::generate_ecdsa_p256().expect("a P-256 key"),
            entries: Vec::new(),
            leaves: Vec::new(),
        }
    }

    /// The log's public key, DER (SubjectPublicKeyInfo).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .public_key_der()
            .expect("a DER public key")
            .as_bytes()
            .to_vec()
    }

    /// The log id: SHA-256 of the DER public key.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(self.public_key_der()).into()
    }

    /// Logs `body` at `integrated_time`; logging the same body again returns
    /// the existing entry, as Rekor answers a duplicate with 409 and the entry.
    pub fn append(&mut self, body: Vec<u8>, integrated_time: i64) -> LoggedEntry {
        if let Some(existing) = self.entries.iter().find(|e| e.canonicalized_body == body) {
            return existing.clone();
        }
        let index = self.entries.len() as u64;
        let payload = json!({
            "body": STANDARD.encode(&body),
            "integratedTime": integrated_time,
            "logID": hex::encode(self.log_id()),
            "logIndex": index,
        });
        // serde_json keeps keys sorted, which is the canonical JSON Rekor signs.
        let set = self
            .key
            .sign(payload.to_string().as_bytes())
            .expect("a signature");
        let entry = LoggedEntry {
            index,
            integrated_time,
            signed_entry_timestamp: set.as_bytes().to_vec(),
            canonicalized_body: body.clone(),
        };
        self.leaves.push(hash_leaf(&body));
        self.entries.push(entry.clone());
        entry
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The root of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Sha256Hash {
        subtree_root(&self.leaves[..size as usize])
    }

    /// The audit path of entry `index` in the tree of the first `size`
    /// entries (RFC 6962, section 2.1.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Vec<Sha256Hash> {
        audit_path(index as usize, &self.leaves[..size as usize])
    }

    /// The signed checkpoint of the tree of the first `size` entries.
    pub fn checkpoint(&self, size: u64) -> String {
        let body = format!(
            "{ORIGIN}\n{size}\n{}\n",
            STANDARD.encode(self.root(size).as_bytes())
        );
        let signature = self.key.sign(body.as_bytes()).expect("a signature");
        let mut signed = self.log_id()[..4].to_vec();
        signed.extend_from_slice(signature.as_bytes());
        format!("{body}\n— {SIGNER_NAME} {}\n", STANDARD.encode(signed))
    }

    /// The bundle's `tlogEntries` item for `entry`, proven against the
    /// current tree, with its kind and version.
    pub fn bundle_entry(&self, entry: &LoggedEntry, kind: &str, version: &str) -> Value {
        let size = self.size();
        json!({
            "logIndex": entry.index.to_string(),
            "logId": { "keyId": STANDARD.encode(self.log_id()) },
            "kindVersion": { "kind": kind, "version": version },
            "integratedTime": entry.integrated_time.to_string(),
            "inclusionPromise": {
                "signedEntryTimestamp": STANDARD.encode(&entry.signed_entry_timestamp)
            },
            "inclusionProof": {
                "logIndex": entry.index.to_string(),
                "rootHash": STANDARD.encode(self.root(size).as_bytes()),
                "treeSize": size.to_string(),
                "hashes": self
                    .inclusion_proof(entry.index, size)
                    .iter()
                    .map(|hash| STANDARD.encode(hash.as_bytes()))
                    .collect::<Vec<_>>(),
                "checkpoint": { "envelope": self.checkpoint(size) },
            },
            "canonicalizedBody": STANDARD.encode(&entry.canonicalized_body),
        })
    }

    /// A `trusted_root.json` whose only authority is this log, valid from
    /// 2020, for verifiers to trust it (and nothing else).
    pub fn trusted_root(&self, base_url: &str) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(self.public_key_der()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": { "start": "2020-01-01T00:00:00Z" }
                },
                "logId": { "keyId": STANDARD.encode(self.log_id()) }
            }],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": []
        })
    }
}

impl Default for RekorLog {
    fn default() -> Self {
        Self::new()
    }
}

/// A bundle (v0.3) of `artifact` signed with the managed key `key` and logged
/// in `log`, proven against the log as it is after `later` more entries (so
/// that the proof is not trivial). Its key hint is the key's fingerprint
/// (`sha256:<hex>` of the DER key).
pub fn managed_key_bundle(log: &mut RekorLog, key: &KeyPair, artifact: &[u8], later: u8) -> Value {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let signature = key.sign(artifact).expect("a signature");
    let der = key.public_key_der().expect("a DER key");
    let entry = log.append(
        hashedrekord_body(&digest, signature.as_bytes(), &der.to_pem()),
        1_760_000_000,
    );
    for i in 0..later {
        log.append(vec![0xff, i], 1_760_000_001);
    }
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": { "hint": format!("sha256:{}", hex::encode(Sha256::digest(der.as_bytes()))) },
            "tlogEntries": [log.bundle_entry(&entry, "hashedrekord", "0.0.1")],
            "timestampVerificationData": {}
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
            "signature": STANDARD.encode(signature.as_bytes())
        }
    })
}

/// The canonicalized body Rekor v1 stores for a `hashedrekord` 0.0.1 entry:
/// a SHA-256 digest, a signature over it and the signer's PEM public key (or
/// certificate), keys sorted.
pub fn hashedrekord_body(digest: &[u8; 32], signature: &[u8], verifier_pem: &str) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex::encode(digest) } },
            "signature": {
                "content": STANDARD.encode(signature),
                "publicKey": { "content": STANDARD.encode(verifier_pem) }
            }
        }
    })
    .to_string()
    .into_bytes()
}

/// The Merkle tree hash of `leaves` (RFC 6962, section 2.1).
fn subtree_root(leaves: &[Sha256Hash]) -> Sha256Hash {
    match leaves {
        [] => Sha256Hash::new(Sha256::digest([]).into()),
        [leaf] => *leaf,
        _ => {
            let split = split_point(leaves.len());
            hash_children(
                &subtree_root(&leaves[..split]),
                &subtree_root(&leaves[split..]),
            )
        }
    }
}

/// The audit path of leaf `index` among `leaves`.
fn audit_path(index: usize, leaves: &[Sha256Hash]) -> Vec<Sha256Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let split = split_point(leaves.len());
    if index < split {
        let mut path = audit_path(index, &leaves[..split]);
        path.push(subtree_root(&leaves[split..]));
        path
    } else {
        let mut path = audit_path(index - split, &leaves[split..]);
        path.push(subtree_root(&leaves[..split]));
        path
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split_point(n: usize) -> usize {
    let mut split = 1;
    while split * 2 < n {
        split *= 2;
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_verify_for_every_entry_of_every_tree_size() {
        let mut log = RekorLog::new();
        for i in 0..13u8 {
            log.append(vec![i; 3], 1_700_000_000);
        }
        for size in 1..=log.size() {
            for index in 0..size {
                let leaf = hash_leaf(&[index as u8; 3]);
                sigstore_merkle::verify_inclusion_proof(
                    &leaf,
                    index,
                    size,
                    &log.inclusion_proof(index, size),
                    &log.root(size),
                )
                .unwrap_or_else(|e| panic!("index {index} of {size}: {e}"));
            }
        }
        // A duplicate body is the entry already logged.
        assert_eq!(log.append(vec![0; 3], 1).index, 0);
        assert_eq!(log.size(), 13);
    }
}
