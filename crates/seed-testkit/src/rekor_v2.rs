//! `RekorV2Server`: a **test double** of a Rekor v2 (rekor-tiles) log, which
//! cannot run here (the public one must never be contacted by tests).
//!
//! It serves what C2SP tlog-tiles names (`GET /api/v2/checkpoint`, hash tiles
//! `/api/v2/tile/<L>/<N>[.p/<W>]` and entry bundles
//! `/api/v2/tile/entries/<N>[.p/<W>]`, what a witness reads) and logs
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
pub const ORIGIN: &str = "log2026-1.rekor-v2.double.test";

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The log: its key (and its PKCS#8 form, to copy it for a fork), its
/// entries' bodies and leaves.
struct Log {
    key: Ed25519KeyPair,
    pkcs8: Vec<u8>,
    bodies: Vec<Vec<u8>>,
    leaves: Vec<Sha256Hash>,
}

impl Log {
    /// An empty log with a fresh key.
    fn new() -> std::io::Result<Self> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|_| std::io::Error::other("no Ed25519 key"))?;
        Self::with_key(pkcs8.as_ref().to_vec(), Vec::new(), Vec::new())
    }

    fn with_key(
        pkcs8: Vec<u8>,
        bodies: Vec<Vec<u8>>,
        leaves: Vec<Sha256Hash>,
    ) -> std::io::Result<Self> {
        let key = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| std::io::Error::other("a bad Ed25519 key"))?;
        Ok(Self {
            key,
            pkcs8,
            bodies,
            leaves,
        })
    }

    /// Appends an entry's body.
    fn append(&mut self, body: Vec<u8>) {
        self.leaves.push(hash_leaf(&body));
        self.bodies.push(body);
    }

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
        self.checkpoint_at(self.leaves.len())
    }

    /// The signed checkpoint of the tree of the first `size` entries.
    fn checkpoint_at(&self, size: usize) -> String {
        let body = format!(
            "{ORIGIN}\n{size}\n{}\n",
            STANDARD.encode(subtree_root(&self.leaves[..size]).as_bytes())
        );
        let mut signed = self.key_id()[..4].to_vec();
        signed.extend_from_slice(self.key.sign(body.as_bytes()).as_ref());
        format!("{body}\n— {ORIGIN} {}\n", STANDARD.encode(signed))
    }

    /// Hash tile `index` of `level`: the roots of the complete subtrees of
    /// 256^level leaves numbered `index * 256 ..`, all 256 of them, or the
    /// first `width` for a partial tile; `None` when the tree does not have
    /// them, and for a partial tile once the full one exists (tlog-tiles
    /// lets a log delete those, and Tessera does).
    fn hash_tile(&self, level: u32, index: u64, width: Option<usize>) -> Option<Vec<u8>> {
        let span = 256usize.checked_pow(level)?;
        let count = self.leaves.len() / span;
        let first = usize::try_from(index).ok()?.checked_mul(256)?;
        if width.is_some() && first.checked_add(256)? <= count {
            return None;
        }
        let width = width.unwrap_or(256);
        if first.checked_add(width)? > count {
            return None;
        }
        let mut bytes = Vec::with_capacity(width * 32);
        for node in first..first + width {
            let leaves = &self.leaves[node * span..(node + 1) * span];
            bytes.extend_from_slice(subtree_root(leaves).as_bytes());
        }
        Some(bytes)
    }

    /// Entry bundle `index`: the entries `index * 256 ..`, 256 of them or the
    /// first `width`, each a big-endian u16 length and the body.
    fn entry_bundle(&self, index: u64, width: Option<usize>) -> Option<Vec<u8>> {
        let first = usize::try_from(index).ok()?.checked_mul(256)?;
        let width = width.unwrap_or(256);
        let bodies = self.bodies.get(first..first.checked_add(width)?)?;
        let mut bytes = Vec::new();
        for body in bodies {
            bytes.extend_from_slice(&u16::try_from(body.len()).ok()?.to_be_bytes());
            bytes.extend_from_slice(body);
        }
        Some(bytes)
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
        Self::serve_log(Log::new()?)
    }

    /// **Split view**: a second server for a copy of this log as it is now,
    /// signed with the same key; entries appended to either from here on
    /// are seen by its clients only.
    pub fn fork(&self) -> std::io::Result<Self> {
        let copy = {
            let log = self.lock();
            (log.pkcs8.clone(), log.bodies.clone(), log.leaves.clone())
        };
        Self::serve_log(Log::with_key(copy.0, copy.1, copy.2)?)
    }

    /// Appends an entry's body (a witness reads only the tree).
    pub fn append(&self, body: &[u8]) {
        self.lock().append(body.to_vec());
    }

    /// The signed checkpoint of its first `size` entries.
    pub fn checkpoint(&self, size: usize) -> String {
        self.lock().checkpoint_at(size)
    }

    /// The log's C2SP vkey: `<origin>+<key id>+base64(0x01 ‖ key)`.
    pub fn vkey(&self) -> String {
        let log = self.lock();
        let mut key = vec![0x01];
        key.extend_from_slice(log.public_key());
        format!(
            "{ORIGIN}+{}+{}",
            hex::encode(&log.key_id()[..4]),
            STANDARD.encode(key)
        )
    }

    fn serve_log(log: Log) -> std::io::Result<Self> {
        let log = Arc::new(Mutex::new(log));
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
        let target = request.target.as_str();
        let (status, headers, body) = match (request.method.as_str(), target) {
            ("POST", "/api/v2/log/entries") => {
                let (status, headers, body) = create(&mut log, &request.body);
                (status, headers, body.to_string().into_bytes())
            }
            // C2SP tlog-tiles: the signed note as text, hash tiles and entry
            // bundles as bytes.
            ("GET", "/api/v2/checkpoint") => (200, Vec::new(), log.checkpoint().into_bytes()),
            ("GET", _) if target.starts_with("/api/v2/tile/entries/") => found(
                parse_tile_path(&target["/api/v2/tile/entries/".len()..])
                    .and_then(|(index, width)| log.entry_bundle(index, width)),
            ),
            ("GET", _) if target.starts_with("/api/v2/tile/") => {
                let rest = &target["/api/v2/tile/".len()..];
                found(rest.split_once('/').and_then(|(level, path)| {
                    let level = level.parse().ok()?;
                    let (index, width) = parse_tile_path(path)?;
                    log.hash_tile(level, index, width)
                }))
            }
            _ => (404, Vec::new(), b"not served by this double".to_vec()),
        };
        write_response(&mut writer, status, &headers, &body)?;
    }
    Ok(())
}

type Answer = (u16, Vec<(&'static str, String)>, Value);

/// 200 with the bytes, or 404.
fn found(bytes: Option<Vec<u8>>) -> (u16, Vec<(&'static str, String)>, Vec<u8>) {
    match bytes {
        Some(bytes) => (200, Vec::new(), bytes),
        None => (404, Vec::new(), b"no such tile".to_vec()),
    }
}

/// A tile path's index and partial width: `x001/x234/067` is 1234067, and
/// `.p/W` names a partial tile of W entries (C2SP tlog-tiles).
fn parse_tile_path(path: &str) -> Option<(u64, Option<usize>)> {
    let (path, width) = match path.split_once(".p/") {
        Some((path, width)) => {
            let width = width
                .parse::<usize>()
                .ok()
                .filter(|w| (1..256).contains(w))?;
            (path, Some(width))
        }
        None => (path, None),
    };
    let groups: Vec<&str> = path.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut index: u64 = 0;
    for group in leading {
        let digits = group.strip_prefix('x')?;
        index = index
            .checked_mul(1000)?
            .checked_add(three_digits(digits)?)?;
    }
    index
        .checked_mul(1000)?
        .checked_add(three_digits(last)?)
        .map(|i| (i, width))
}

fn three_digits(text: &str) -> Option<u64> {
    (text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

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
    log.append(entry);
    (201, Vec::new(), log.entry(log.leaves.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::parse_tile_path;

    #[test]
    fn tile_paths_are_read_as_c2sp_writes_them() {
        assert_eq!(parse_tile_path("000"), Some((0, None)));
        assert_eq!(parse_tile_path("x001/x234/067"), Some((1_234_067, None)));
        assert_eq!(parse_tile_path("x001/234.p/7"), Some((1_234, Some(7))));
        for bad in [
            "",
            "1",
            "0001",
            "x001",
            "001/234",
            "x1/234",
            "005.p/0",
            "005.p/256",
            "00a",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }
}
