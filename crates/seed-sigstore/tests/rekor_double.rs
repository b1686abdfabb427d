//! The Rekor v1 double (seed-testkit) proven against an independent
//! verifier: a bundle signed with a managed P-256 key and logged in the
//! double verifies with sigstore-verify against the trusted root the double
//! emits, and every part the log signs is checked (a change to any is refused).

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use seed_testkit::rekor::{managed_key_bundle, KeyPair, RekorLog};
use serde_json::{json, Value};
use sigstore_types::{Bundle, DerPublicKey};
use sigstore_verify::{verify, PublicKeyVerificationPolicy};
use support::{entry, flip, Mutation};

const ARTIFACT: &[u8] = b"a seed image manifest, say";

/// A managed-key bundle for `ARTIFACT`, logged in `log` after `before` other
/// entries (so its proof is not trivial).
fn logged_bundle(log: &mut RekorLog, key: &KeyPair, before: u8) -> Value {
    for i in 0..before {
        log.append(vec![i], 1_750_000_000);
    }
    managed_key_bundle(log, key, ARTIFACT, 3)
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

/// seed-sigstore's own verifier on the same bundles: the managed key is the
/// signer, found by the bundle's hint or by trying the known keys, and a key
/// the caller does not know is no signer.
#[test]
fn managed_key_bundles_name_their_key() {
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let mut log = RekorLog::new();
    let bundle = logged_bundle(&mut log, &key, 2).to_string();
    let root =
        seed_sigstore::trust_root_from_json(&log.trusted_root("http://127.0.0.1:1").to_string())
            .unwrap();
    let verifier = seed_sigstore::BundleVerifier::new(&root).unwrap();
    let managed =
        seed_sigstore::ManagedKey::from_der(key.public_key_der().unwrap().as_bytes().to_vec());
    let other = seed_sigstore::ManagedKey::from_der(
        KeyPair::generate_ecdsa_p256()
            .unwrap()
            .public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec(),
    );
    let verified = verifier
        .verify(&bundle, ARTIFACT, &[other.clone(), managed.clone()])
        .unwrap();
    assert_eq!(
        verified.signer,
        seed_sigstore::Signer::Key {
            fingerprint: managed.fingerprint().to_owned()
        }
    );
    let err = verifier.verify(&bundle, ARTIFACT, &[other]).unwrap_err();
    assert!(
        matches!(err, seed_sigstore::BundleError::UnknownKey { .. }),
        "{err}"
    );
    // The right key on another artifact is a verification failure, named.
    let err = verifier
        .verify(&bundle, b"other".as_slice(), &[managed])
        .unwrap_err();
    assert!(
        matches!(err, seed_sigstore::BundleError::Verification(_)),
        "{err}"
    );
}
