//! `RekorV2Server`: a **test double** of a Rekor v2 (rekor-tiles) log, which
//! cannot run here (the public one must never be contacted by tests).
//!
//! It serves its latest checkpoint (`GET /api/v2/checkpoint`) and logs
//! `hashedrekord` 0.0.2 entries (`POST /api/v2/log/entries`, the
//! signature over the digest checked first, a duplicate answered 409 with
//! `x-log-index`) on a real RFC 6962 tree, and answers each with a
//! `TransparencyLogEntry` proven against a checkpoint signed as rekor-tiles
//! signs it: a C2SP signed note by an Ed25519 key whose key id is
//! SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ key). No integrated time, no SET: a Rekor v2
//! bundle proves its time with an RFC 3161 timestamp ([`crate::tsa`]). The
//! formats: docs/measurements/rekor-v2-tsa/README.md, section 2.

use std::{
    io::BufReader,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_crypto::VerificationKey;
use sigstore_merkle::hash_leaf;
use sigstore_types::{DerCertificate, DerPublicKey, Sha256Hash, SignatureBytes};

use crate::{
    http::{read_request, serve_in_background, write_response},
    rekor::{audit_path, subtree_root},
};

/// The log's origin (its checkpoint's first line, and part of its key id).
const ORIGIN: &str = "log2026-1.rekor-v2.double.test";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The log: its key, its entries' bodies and leaves.
struct Log {
    key: Ed25519KeyPair,
    bodies: Vec<Vec<u8>>,
    leaves: Vec<Sha256Hash>,
}

impl Log {
    /// The 32-byte Ed25519 public key.
    fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The key id: SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ key) (C2SP signed-note).
    fn key_id(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(ORIGIN.as_bytes());
        hasher.update([0x0a, 0x01]);
        hasher.update(self.public_key());
        hasher.finalize().into()
    }

    /// The signed checkpoint of the whole tree.
    fn checkpoint(&self) -> String {
        let size = self.leaves.len();
        let body = format!(
            "{ORIGIN}\n{size}\n{}\n",
            STANDARD.encode(subtree_root(&self.leaves).as_bytes())
        );
        let mut signed = self.key_id()[..4].to_vec();
        signed.extend_from_slice(self.key.sign(body.as_bytes()).as_ref());
        format!("{body}\n— {ORIGIN} {}\n", STANDARD.encode(signed))
    }

    /// The `TransparencyLogEntry` of entry `index`, proven against the
    /// current tree.
    fn entry(&self, index: usize) -> Value {
        let size = self.leaves.len();
        json!({
            "logIndex": index.to_string(),
            "logId": { "keyId": STANDARD.encode(self.key_id()) },
            "kindVersion": { "kind": "hashedrekord", "version": "0.0.2" },
            "inclusionProof": {
                "logIndex": index.to_string(),
                "rootHash": STANDARD.encode(subtree_root(&self.leaves).as_bytes()),
                "treeSize": size.to_string(),
                "hashes": audit_path(index, &self.leaves)
                    .iter()
                    .map(|hash| STANDARD.encode(hash.as_bytes()))
                    .collect::<Vec<_>>(),
                "checkpoint": { "envelope": self.checkpoint() },
            },
            "canonicalizedBody": STANDARD.encode(&self.bodies[index]),
        })
    }
}

/// A Rekor v2 log double served on a loopback port for the rest of the test
/// process.
pub struct RekorV2Server {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl RekorV2Server {
    /// Starts an empty log with a fresh Ed25519 key on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        let key =
            Ed25519KeyPair::generate().map_err(|_| std::io::Error::other("no Ed25519 key"))?;
        let log = Arc::new(Mutex::new(Log {
            key,
            bodies: Vec::new(),
            leaves: Vec::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        serve_in_background(listener, log.clone(), serve);
        Ok(Self { addr, log })
    }

    /// The log's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its address, for [`crate::http::request`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many entries it holds.
    pub fn size(&self) -> usize {
        self.lock().leaves.len()
    }

    /// The `tlogs` entry naming this log in a `trusted_root.json`.
    pub fn tlog(&self) -> Value {
        let log = self.lock();
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(log.public_key());
        json!({
            "baseUrl": self.url(),
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(spki),
                "keyDetails": "PKIX_ED25519",
                "validFor": { "start": "2020-01-01T00:00:00Z" }
            },
            "logId": { "keyId": STANDARD.encode(log.key_id()) }
        })
    }

    /// Adds this log to a `trusted_root.json`.
    pub fn add_to(&self, trusted_root: &mut Value) {
        match trusted_root["tlogs"].as_array_mut() {
            Some(tlogs) => tlogs.push(self.tlog()),
            None => trusted_root["tlogs"] = json!([self.tlog()]),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn serve(stream: TcpStream, log: &Mutex<Log>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let mut log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (status, headers, body) = match (request.method.as_str(), request.target.as_str()) {
            ("POST", "/api/v2/log/entries") => create(&mut log, &request.body),
            // The signed note as text (tlog-tiles' `/checkpoint`); JSON-quoted by
            // the test HTTP helper, so clients read it as a JSON string.
            ("GET", "/api/v2/checkpoint") => (200, Vec::new(), json!(log.checkpoint())),
            _ => (
                404,
                Vec::new(),
                json!({ "message": "not served by this double" }),
            ),
        };
        write_response(&mut writer, status, &headers, body.to_string().as_bytes())?;
    }
    Ok(())
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

/// `POST /api/v2/log/entries`: a `hashedRekordRequestV002`, its signature over
/// the digest checked, then logged (or found, 409).
fn create(log: &mut Log, body: &[u8]) -> Answer {
    let refuse = |message: String| (400, Vec::new(), json!({ "message": message }));
    let request: Value = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(e) => return refuse(format!("not JSON: {e}")),
    };
    let request = &request["hashedRekordRequestV002"];
    let field = |value: &Value| value.as_str().and_then(|b64| STANDARD.decode(b64).ok());
    let (Some(digest), Some(signature)) = (
        field(&request["digest"]),
        field(&request["signature"]["content"]),
    ) else {
        return refuse("a hashedRekordRequestV002 needs a digest and a signature".to_owned());
    };
    let verifier = &request["signature"]["verifier"];
    let key = if let Some(der) = field(&verifier["x509Certificate"]["rawBytes"]) {
        sigstore_crypto::x509::parse_certificate_info(&DerCertificate::new(der))
            .map(|info| info.public_key)
            .map_err(|e| e.to_string())
    } else if let Some(der) = field(&verifier["publicKey"]["rawBytes"]) {
        Ok(DerPublicKey::new(der))
    } else {
        Err("the verifier is neither a certificate nor a public key".to_owned())
    };
    let checked = key
        .and_then(|key| VerificationKey::from_spki(&key).map_err(|e| e.to_string()))
        .and_then(|key| {
            key.verify_prehashed(&digest, &SignatureBytes::new(signature))
                .map_err(|e| format!("the signature does not verify: {e}"))
        });
    if let Err(message) = checked {
        return refuse(message);
    }
    let entry = json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": { "hashedRekordV002": {
            "data": { "algorithm": "SHA2_256", "digest": STANDARD.encode(&digest) },
            "signature": request["signature"],
        }},
    })
    // serde_json keeps keys sorted: the JCS form Rekor v2 logs.
    .to_string()
    .into_bytes();
    if let Some(index) = log.bodies.iter().position(|b| *b == entry) {
        return (
            409,
            vec![("x-log-index", index.to_string())],
            json!({ "message": "an equivalent entry already exists" }),
        );
    }
    log.leaves.push(hash_leaf(&entry));
    log.bodies.push(entry);
    (201, Vec::new(), log.entry(log.leaves.len() - 1))
}
