//! The Rekor v1 double (seed-testkit) proven against an independent
//! verifier: a bundle signed with a managed P-256 key and logged in the
//! double verifies with sigstore-verify against the trusted root the double
//! emits, and every part the log signs is checked (a change to any is refused).

#![allow(clippy::unwrap_used, missing_docs)]

use base64::{engine::general_purpose::STANDARD, Engine as _};
use seed_testkit::rekor::{hashedrekord_body, RekorLog};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_crypto::KeyPair;
use sigstore_types::{Bundle, DerPublicKey};
use sigstore_verify::{verify, PublicKeyVerificationPolicy};

const ARTIFACT: &[u8] = b"a seed image manifest, say";

/// A managed-key bundle for `ARTIFACT`, logged in `log` after `before` other
/// entries (so its proof is not trivial).
fn logged_bundle(log: &mut RekorLog, key: &KeyPair, before: u8) -> Value {
    for i in 0..before {
        log.append(vec![i], 1_750_000_000);
    }
    let digest: [u8; 32] = Sha256::digest(ARTIFACT).into();
    let signature = key.sign(ARTIFACT).unwrap();
    let pem = key.public_key_der().unwrap().to_pem();
    let entry = log.append(
        hashedrekord_body(&digest, signature.as_bytes(), &pem),
        1_760_000_000,
    );
    for i in 0..3u8 {
        log.append(vec![100 + i], 1_760_000_001);
    }
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": { "hint": "builder-key" },
            "tlogEntries": [log.bundle_entry(&entry, "hashedrekord", "0.0.1")],
            "timestampVerificationData": {}
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
            "signature": STANDARD.encode(signature.as_bytes())
        }
    })
}

fn check(log: &RekorLog, key: &KeyPair, bundle: &Value) -> Result<(), String> {
    let root = sigstore_trust_root::TrustedRoot::from_json(
        &log.trusted_root("http://127.0.0.1:1").to_string(),
    )
    .unwrap();
    let bundle = Bundle::from_json(&bundle.to_string()).map_err(|e| e.to_string())?;
    let policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(
        key.public_key_der().unwrap().as_bytes().to_vec(),
    ));
    verify(ARTIFACT, &bundle, &policy, &root)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn bundles_logged_in_the_double_verify_with_sigstore_verify() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    for before in [0u8, 1, 6, 17] {
        let mut log = RekorLog::new();
        let bundle = logged_bundle(&mut log, &key, before);
        check(&log, &key, &bundle).unwrap_or_else(|e| panic!("after {before}: {e}"));
    }
}

/// Flips a bit of a base64 field.
fn flip(field: &mut Value) {
    let mut bytes = STANDARD.decode(field.as_str().unwrap()).unwrap();
    bytes[2] ^= 1;
    *field = json!(STANDARD.encode(bytes));
}

/// A change made to a bundle's JSON.
type Mutation = fn(&mut Value);

fn entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn what_the_double_signs_is_checked() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let mut log = RekorLog::new();
    let bundle = logged_bundle(&mut log, &key, 5);
    let mutations: Vec<(&str, Mutation)> = vec![
        ("SET", |b| {
            flip(&mut entry(b)["inclusionPromise"]["signedEntryTimestamp"])
        }),
        ("integrated time", |b| {
            entry(b)["integratedTime"] = json!("1760000002")
        }),
        ("log index", |b| entry(b)["logIndex"] = json!("4")),
        ("proof hash", |b| {
            flip(&mut entry(b)["inclusionProof"]["hashes"][0])
        }),
        ("checkpoint", |b| {
            let checkpoint = &mut entry(b)["inclusionProof"]["checkpoint"]["envelope"];
            let grown = checkpoint.as_str().unwrap().replace("\n9\n", "\n10\n");
            *checkpoint = json!(grown);
        }),
        ("signature", |b| {
            flip(&mut b["messageSignature"]["signature"])
        }),
    ];
    for (what, mutate) in mutations {
        let mut mutated = bundle.clone();
        mutate(&mut mutated);
        assert!(
            check(&log, &key, &mutated).is_err(),
            "a changed {what} must be refused"
        );
    }
    // Another log's key: the entry is not in a log the root trusts.
    let other = RekorLog::new();
    assert!(check(&other, &key, &bundle).is_err());
}
