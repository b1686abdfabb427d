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
//! [`RekorServer`] serves it over Rekor's v1 REST API on loopback: creating
//! `hashedrekord` and `dsse` entries signed with a public key or, for keyless
//! signing, a certificate from the Fulcio double ([`crate::fulcio`]) (the
//! signature is checked first, as Rekor does, and the verifier stored as
//! Rekor stores it: PEM re-encoded with LF line endings; a duplicate is 409
//! with the existing entry's location), reading entries by UUID or index, the
//! log's signed tree head and consistency proofs; on demand it plays faults
//! ([`RekorServer::fail_next`]) or shows a split view ([`RekorServer::fork`]:
//! a second server for a copy of the log, same key, diverging from there).

use std::{
    collections::VecDeque,
    io::BufReader,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
pub use sigstore_crypto::KeyPair;
use sigstore_crypto::VerificationKey;
use sigstore_merkle::{hash_children, hash_leaf};
use sigstore_types::{DerCertificate, DerPublicKey, Sha256Hash, SignatureBytes};

use crate::http::{read_request, write_response, Request};

/// The origin line of the double's checkpoints, as Rekor v1 writes it
/// (`<host> - <tree id>`).
pub const ORIGIN: &str = "rekor.double.test - 1";
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

/// A Rekor v1 log double. Cloning it forks it: both copies sign with the
/// same key and diverge from there ([`RekorServer::fork`]).
#[derive(Clone)]
pub struct RekorLog {
    key: Arc<KeyPair>,
    entries: Vec<LoggedEntry>,
    leaves: Vec<Sha256Hash>,
}

impl RekorLog {
    /// An empty log with a fresh P-256 key.
    pub fn new() -> Self {
        Self {
            key: Arc::new(KeyPair::generate_ecdsa_p256().expect("a P-256 key")),
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

    /// The C2SP verifier key of its checkpoints, as a witness is configured
    /// with it: ECDSA (type 0x02), key id = the log id's first 4 bytes.
    pub fn vkey(&self) -> String {
        let mut key = vec![0x02];
        key.extend_from_slice(&self.public_key_der());
        format!(
            "{SIGNER_NAME}+{}+{}",
            hex::encode(&self.log_id()[..4]),
            STANDARD.encode(key)
        )
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

    /// The proof that the tree of the first `old` entries is a prefix of the
    /// tree of the first `new` (RFC 6962, section 2.1.2).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Vec<Sha256Hash> {
        subproof(old as usize, &self.leaves[..new as usize], true)
    }

    /// The entry whose leaf hash (hex) is `uuid`.
    fn entry_by_uuid(&self, uuid: &str) -> Option<&LoggedEntry> {
        self.leaves
            .iter()
            .position(|leaf| leaf.to_hex() == uuid)
            .map(|index| &self.entries[index])
    }

    /// The UUID Rekor names an entry by: its leaf hash, hex.
    fn uuid(&self, entry: &LoggedEntry) -> String {
        self.leaves[entry.index as usize].to_hex()
    }

    /// `{uuid: entry}` as Rekor v1's API answers, proven against the current
    /// tree (hashes hex, as the REST API has them).
    fn entry_response(&self, entry: &LoggedEntry) -> Value {
        let size = self.size();
        let mut response = serde_json::Map::new();
        response.insert(
            self.uuid(entry),
            json!({
                "body": STANDARD.encode(&entry.canonicalized_body),
                "integratedTime": entry.integrated_time,
                "logID": hex::encode(self.log_id()),
                "logIndex": entry.index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint(size),
                        "hashes": self
                            .inclusion_proof(entry.index, size)
                            .iter()
                            .map(Sha256Hash::to_hex)
                            .collect::<Vec<_>>(),
                        "logIndex": entry.index,
                        "rootHash": self.root(size).to_hex(),
                        "treeSize": size,
                    },
                    "signedEntryTimestamp": STANDARD.encode(&entry.signed_entry_timestamp),
                },
            }),
        );
        Value::Object(response)
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

/// A [`RekorLog`] served over Rekor's v1 REST API on a loopback port, for
/// the rest of the test process.
pub struct RekorServer {
    addr: SocketAddr,
    log: Arc<Mutex<RekorLog>>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    read_faults: Arc<Mutex<VecDeque<Fault>>>,
}

/// A failure the server plays instead of answering the next `POST` (or,
/// with [`RekorServer::fail_next_reads`], `GET`) normally, as a real log
/// under load or a lossy network would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally.
    Slow(std::time::Duration),
    /// Answer with this HTTP status, logging nothing.
    Status(u16),
    /// Log the entry, then close the connection without answering: the
    /// client cannot know it was logged.
    LogThenHangUp,
}

impl RekorServer {
    /// Starts a server for an empty log on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        Self::serve_log(RekorLog::new())
    }

    /// **Split view**: a second server for a copy of this log as it is now,
    /// signed with the same key. Entries appended to either from here on
    /// are seen by its clients only, so two parties given the two URLs see
    /// two trees that each verify on their own: what a lying log shows, and
    /// what witnessing (issue 14) must detect.
    pub fn fork(&self) -> std::io::Result<Self> {
        Self::serve_log(self.lock().clone())
    }

    fn serve_log(log: RekorLog) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(log));
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let read_faults = Arc::new(Mutex::new(VecDeque::new()));
        let (shared_log, shared_faults, shared_reads) =
            (log.clone(), faults.clone(), read_faults.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, faults, reads) = (
                    shared_log.clone(),
                    shared_faults.clone(),
                    shared_reads.clone(),
                );
                thread::spawn(move || {
                    let _ = serve(stream, &log, &faults, &reads);
                });
            }
        });
        Ok(Self {
            addr,
            log,
            faults,
            read_faults,
        })
    }

    /// Plays `faults`, one per coming `GET` (tree heads, proofs, entries),
    /// before answering normally again.
    pub fn fail_next_reads(&self, faults: &[Fault]) {
        self.read_faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(faults);
    }

    /// Plays `faults`, one per coming `POST`, before answering normally again.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.faults
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(faults);
    }

    /// The log's base URL, as clients are configured with it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its address, for [`crate::http::request`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `trusted_root.json` naming this log.
    pub fn trusted_root(&self) -> Value {
        self.lock().trusted_root(&self.url())
    }

    /// The log itself (to append directly, or to check what it holds).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, RekorLog> {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Serves the requests of one connection until the client closes it.
fn serve(
    stream: TcpStream,
    log: &Mutex<RekorLog>,
    faults: &Mutex<VecDeque<Fault>>,
    read_faults: &Mutex<VecDeque<Fault>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let queue = if request.method == "POST" {
            faults
        } else {
            read_faults
        };
        let fault = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        if let Some(Fault::Slow(delay)) = fault {
            thread::sleep(delay);
        }
        let mut log = log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (status, headers, body) = match fault {
            Some(Fault::Status(status)) => error(status, "a fault played by the double"),
            Some(Fault::LogThenHangUp) => {
                answer(&mut log, &request);
                return Ok(());
            }
            Some(Fault::Slow(_)) | None => answer(&mut log, &request),
        };
        write_response(&mut writer, status, &headers, body.to_string().as_bytes())?;
    }
    Ok(())
}

/// An error answer as Rekor gives it.
fn error(status: u16, message: impl Into<String>) -> (u16, Vec<(&'static str, String)>, Value) {
    (
        status,
        Vec::new(),
        json!({ "code": status, "message": message.into() }),
    )
}

fn answer(log: &mut RekorLog, request: &Request) -> (u16, Vec<(&'static str, String)>, Value) {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((request.target.as_str(), ""));
    let parameter = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse::<u64>().ok())
    };
    match (request.method.as_str(), path) {
        ("POST", "/api/v1/log/entries") => create(log, &request.body),
        ("GET", "/api/v1/log/entries") => match parameter("logIndex") {
            Some(index) if index < log.size() => {
                let entry = log.entries[index as usize].clone();
                (200, Vec::new(), log.entry_response(&entry))
            }
            _ => error(404, "no entry at that logIndex"),
        },
        ("GET", "/api/v1/log") => {
            let size = log.size();
            (
                200,
                Vec::new(),
                json!({
                    "rootHash": log.root(size).to_hex(),
                    "treeSize": size,
                    "signedTreeHead": log.checkpoint(size),
                    "treeID": "1",
                    "inactiveShards": [],
                }),
            )
        }
        ("GET", "/api/v1/log/proof") => match (parameter("firstSize"), parameter("lastSize")) {
            (Some(first), Some(last)) if 1 <= first && first <= last && last <= log.size() => (
                200,
                Vec::new(),
                json!({
                    "rootHash": log.root(last).to_hex(),
                    "hashes": log
                        .consistency_proof(first, last)
                        .iter()
                        .map(Sha256Hash::to_hex)
                        .collect::<Vec<_>>(),
                }),
            ),
            _ => error(
                400,
                "firstSize and lastSize must satisfy 1 <= firstSize <= lastSize <= treeSize",
            ),
        },
        ("GET", _) if path.starts_with("/api/v1/log/entries/") => {
            let uuid = &path["/api/v1/log/entries/".len()..];
            match log.entry_by_uuid(uuid).cloned() {
                Some(entry) => (200, Vec::new(), log.entry_response(&entry)),
                None => error(404, format!("no entry with UUID {uuid}")),
            }
        }
        _ => error(
            404,
            format!("{} {} is not served by this double", request.method, path),
        ),
    }
}

/// `POST /api/v1/log/entries`: a `hashedrekord` 0.0.1 or `dsse` 0.0.1 entry
/// signed with a public key or certificate, its signature checked before it
/// is logged.
fn create(log: &mut RekorLog, body: &[u8]) -> (u16, Vec<(&'static str, String)>, Value) {
    let proposed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return error(400, format!("not JSON: {e}")),
    };
    let canonical = match (proposed["kind"].as_str(), proposed["apiVersion"].as_str()) {
        (Some("hashedrekord"), Some("0.0.1")) => hashedrekord_entry(&proposed["spec"]),
        (Some("dsse"), Some("0.0.1")) => dsse_entry(&proposed["spec"]["proposedContent"]),
        _ => Err("this double logs hashedrekord and dsse 0.0.1 entries only".to_owned()),
    };
    let canonical = match canonical {
        Ok(canonical) => canonical,
        Err(message) => return error(400, message),
    };
    if let Some(existing) = log
        .entries
        .iter()
        .find(|entry| entry.canonicalized_body == canonical)
    {
        let uuid = log.uuid(existing);
        return (
            409,
            vec![("Location", format!("/api/v1/log/entries/{uuid}"))],
            json!({
                "code": 409,
                "message": format!("An equivalent entry already exists in the transparency log with UUID {uuid}"),
            }),
        );
    }
    let entry = log.append(canonical, now());
    (201, Vec::new(), log.entry_response(&entry))
}

/// The canonical body of a proposed `hashedrekord`, whose signature over the
/// digest verifies with its key.
fn hashedrekord_entry(spec: &Value) -> Result<Vec<u8>, String> {
    let digest = spec["data"]["hash"]["value"]
        .as_str()
        .filter(|_| spec["data"]["hash"]["algorithm"] == "sha256")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok());
    let signature = base64_field(&spec["signature"]["content"]);
    let pem = base64_field(&spec["signature"]["publicKey"]["content"])
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let (Some(digest), Some(signature), Some(pem)) = (digest, signature, pem) else {
        return Err(
            "the entry needs a sha256 hash, a base64 signature and a base64 PEM key".to_owned(),
        );
    };
    let (key, pem) = verifier(&pem)?;
    key.verify_prehashed(&digest, &SignatureBytes::new(signature.clone()))
        .map_err(|e| format!("the signature does not verify with the key: {e}"))?;
    Ok(hashedrekord_body(&digest, &signature, &pem))
}

/// The canonical body of a proposed `dsse` entry (an envelope and its
/// verifiers), whose one signature over the envelope's PAE verifies.
fn dsse_entry(content: &Value) -> Result<Vec<u8>, String> {
    let envelope: Value = content["envelope"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or("proposedContent.envelope must be a DSSE envelope as a JSON string")?;
    let payload = base64_field(&envelope["payload"]).ok_or("the envelope has no payload")?;
    let payload_type = envelope["payloadType"]
        .as_str()
        .ok_or("the envelope has no payloadType")?;
    let [signature] = envelope["signatures"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    else {
        return Err("this double logs envelopes with exactly one signature".to_owned());
    };
    let signature = base64_field(&signature["sig"]).ok_or("the signature is not base64")?;
    let pem = content["verifiers"][0]
        .as_str()
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("proposedContent.verifiers must hold the base64 PEM key")?;
    let pae = seed_statement::dsse::pae(payload_type.as_bytes(), &payload);
    let (key, pem) = verifier(&pem)?;
    key.verify(&pae, &SignatureBytes::new(signature.clone()))
        .map_err(|e| format!("the envelope's signature does not verify with the key: {e}"))?;
    Ok(dsse_body(&envelope, &payload, &signature, &pem))
}

fn base64_field(field: &Value) -> Option<Vec<u8>> {
    field.as_str().and_then(|b64| STANDARD.decode(b64).ok())
}

/// A proposed entry's verifier, a PEM public key or certificate (Rekor v1
/// takes either; keyless signers send their Fulcio certificate): its key, and
/// the PEM as Rekor stores it, re-encoded from the DER with LF line endings
/// as Go writes PEM (sigstore-python compares the stored verifier with the
/// bundle's certificate byte for byte).
fn verifier(pem: &str) -> Result<(VerificationKey, String), String> {
    let (key, canonical) = match DerCertificate::from_pem(pem) {
        Ok(certificate) => (
            sigstore_crypto::parse_certificate_info(&certificate)
                .map_err(|e| format!("the certificate is not usable: {e}"))?
                .public_key,
            crate::fulcio::pem("CERTIFICATE", certificate.as_bytes()),
        ),
        Err(_) => {
            let key = DerPublicKey::from_pem(pem).map_err(|e| {
                format!("the verifier is neither a PEM public key nor a certificate: {e}")
            })?;
            let canonical = crate::fulcio::pem("PUBLIC KEY", key.as_bytes());
            (key, canonical)
        }
    };
    VerificationKey::from_spki(&key)
        .map(|key| (key, canonical))
        .map_err(|e| format!("the verifier's key is not usable: {e}"))
}

/// Now, in seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
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

/// The canonicalized body Rekor v1 stores for a `dsse` 0.0.1 entry: hashes of
/// the envelope (its JSON, keys sorted) and of its payload, and its one
/// signature with the signer's PEM key.
pub fn dsse_body(
    envelope: &Value,
    payload: &[u8],
    signature: &[u8],
    verifier_pem: &str,
) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {
                "algorithm": "sha256",
                "value": hex::encode(Sha256::digest(envelope.to_string()))
            },
            "payloadHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(payload)) },
            "signatures": [{
                "signature": STANDARD.encode(signature),
                "verifier": STANDARD.encode(verifier_pem)
            }]
        }
    })
    .to_string()
    .into_bytes()
}

/// A bundle (v0.3) of an in-toto `statement` in a DSSE envelope signed with
/// the managed key `key` and logged in `log` as a `dsse` 0.0.1 entry, proven
/// against the log as it is after `later` more entries.
pub fn managed_key_dsse_bundle(
    log: &mut RekorLog,
    key: &KeyPair,
    statement: &[u8],
    later: u8,
) -> Value {
    const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
    let signature = key
        .sign(&seed_statement::dsse::pae(
            PAYLOAD_TYPE.as_bytes(),
            statement,
        ))
        .expect("a signature");
    let der = key.public_key_der().expect("a DER key");
    let envelope = json!({
        "payload": STANDARD.encode(statement),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{ "keyid": "", "sig": STANDARD.encode(signature.as_bytes()) }]
    });
    let entry = log.append(
        dsse_body(&envelope, statement, signature.as_bytes(), &der.to_pem()),
        1_760_000_000,
    );
    for i in 0..later {
        log.append(vec![0xfe, i], 1_760_000_001);
    }
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": { "hint": format!("sha256:{}", hex::encode(Sha256::digest(der.as_bytes()))) },
            "tlogEntries": [log.bundle_entry(&entry, "dsse", "0.0.1")],
            "timestampVerificationData": {}
        },
        "dsseEnvelope": envelope
    })
}

/// The Merkle tree hash of `leaves` (RFC 6962, section 2.1).
pub(crate) fn subtree_root(leaves: &[Sha256Hash]) -> Sha256Hash {
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
pub(crate) fn audit_path(index: usize, leaves: &[Sha256Hash]) -> Vec<Sha256Hash> {
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

/// RFC 6962's SUBPROOF(m, D[n], b): the consistency proof of the first `m`
/// leaves within `leaves`; `whole` is true while the old tree is a whole
/// subtree of the one being proven.
fn subproof(m: usize, leaves: &[Sha256Hash], whole: bool) -> Vec<Sha256Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![subtree_root(leaves)]
        };
    }
    let split = split_point(n);
    if m <= split {
        let mut proof = subproof(m, &leaves[..split], whole);
        proof.push(subtree_root(&leaves[split..]));
        proof
    } else {
        let mut proof = subproof(m - split, &leaves[split..], false);
        proof.push(subtree_root(&leaves[..split]));
        proof
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
        for old in 1..=log.size() {
            for new in old..=log.size() {
                sigstore_merkle::verify_consistency_proof(
                    old,
                    new,
                    &log.consistency_proof(old, new),
                    &log.root(old),
                    &log.root(new),
                )
                .unwrap_or_else(|e| panic!("{old} to {new}: {e}"));
            }
        }
        // A duplicate body is the entry already logged.
        assert_eq!(log.append(vec![0; 3], 1).index, 0);
        assert_eq!(log.size(), 13);
    }
}
