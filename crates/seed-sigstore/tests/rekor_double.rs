//! The Rekor v1 double (seed-testkit) proven against an independent
//! verifier: a bundle signed with a managed P-256 key and logged in the
//! double verifies with sigstore-verify against the trusted root the double
//! emits, and every part the log signs is checked (a change to any is refused).

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use seed_testkit::rekor::{hashedrekord_body, managed_key_bundle, KeyPair, RekorLog};
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

/// The double over Rekor's v1 REST API: what it answers parses with the
/// sigstore-rekor crate's own response types, converts with its
/// `to_bundle_entry` into a bundle that verifies; a duplicate is 409 with the
/// existing entry's location; a bad signature is refused before logging.
#[test]
fn the_rest_api_speaks_rekor_v1() {
    use seed_testkit::{http::request, rekor::RekorServer};
    use sigstore_verify::rekor::LogEntry;

    let server = RekorServer::start().unwrap();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let digest = sha2_digest(ARTIFACT);
    let signature = key.sign(ARTIFACT).unwrap();
    let pem = key.public_key_der().unwrap().to_pem();
    // A hashedrekord proposal has the shape of the body Rekor logs.
    let proposed =
        |signature: &[u8]| String::from_utf8(hashedrekord_body(&digest, signature, &pem)).unwrap();
    let post = |body: &str| {
        request(
            server.addr(),
            "POST",
            "/api/v1/log/entries",
            Some(body.as_bytes()),
        )
        .unwrap()
    };
    // Another entry first, so that the proof is not trivial.
    server
        .lock()
        .append(b"an earlier entry".to_vec(), 1_700_000_000);

    let created = post(&proposed(signature.as_bytes()));
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let entries: std::collections::HashMap<String, LogEntry> =
        serde_json::from_slice(&created.body).unwrap();
    let (uuid, entry) = entries.into_iter().next().unwrap();
    let tlog_entry = entry
        .to_bundle_entry(sigstore_types::KindVersion::HashedRekordV001)
        .unwrap();
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": { "hint": "" },
            "tlogEntries": [serde_json::to_value(&tlog_entry).unwrap()],
            "timestampVerificationData": {}
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
            "signature": STANDARD.encode(signature.as_bytes())
        }
    });
    let root = seed_sigstore::trust_root_from_json(&server.trusted_root().to_string()).unwrap();
    let managed =
        seed_sigstore::ManagedKey::from_der(key.public_key_der().unwrap().as_bytes().to_vec());
    let verified = seed_sigstore::BundleVerifier::new(&root)
        .unwrap()
        .verify(&bundle.to_string(), ARTIFACT, &[managed])
        .unwrap();
    assert_eq!(verified.log_entries[0].log_index, 1);

    // The same entry again: 409, and where the existing one is.
    let again = post(&proposed(signature.as_bytes()));
    assert_eq!(again.status, 409);
    let location = again.header("Location").unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/log/entries/{uuid}"));
    let fetched = request(server.addr(), "GET", &location, None).unwrap();
    assert_eq!(fetched.status, 200);
    let by_index = request(server.addr(), "GET", "/api/v1/log/entries?logIndex=1", None).unwrap();
    // The same entry both ways (the checkpoint's ECDSA signature differs
    // each time it is made, so the entry is compared, not the bytes).
    let parse = |body: &[u8]| -> (String, Value) {
        let map: serde_json::Map<String, Value> = serde_json::from_slice(body).unwrap();
        let (uuid, entry) = map.into_iter().next().unwrap();
        (
            uuid,
            json!([entry["body"], entry["logIndex"], entry["integratedTime"]]),
        )
    };
    assert_eq!(parse(&by_index.body), parse(&fetched.body));
    assert_eq!(parse(&fetched.body).0, uuid);

    // The tree head, and a consistency proof the field's Merkle code accepts.
    let head: Value = serde_json::from_slice(
        &request(server.addr(), "GET", "/api/v1/log", None)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(head["treeSize"], 2);
    server
        .lock()
        .append(b"a later entry".to_vec(), 1_800_000_000);
    let proof = request(
        server.addr(),
        "GET",
        "/api/v1/log/proof?firstSize=2&lastSize=3",
        None,
    )
    .unwrap();
    let proof: Value = serde_json::from_slice(&proof.body).unwrap();
    let hashes: Vec<sigstore_types::Sha256Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| sigstore_types::Sha256Hash::from_hex(h.as_str().unwrap()).unwrap())
        .collect();
    sigstore_merkle::verify_consistency_proof(
        2,
        3,
        &hashes,
        &sigstore_types::Sha256Hash::from_hex(head["rootHash"].as_str().unwrap()).unwrap(),
        &sigstore_types::Sha256Hash::from_hex(proof["rootHash"].as_str().unwrap()).unwrap(),
    )
    .unwrap();

    // A signature that does not verify is never logged.
    let mut forged = signature.as_bytes().to_vec();
    forged[8] ^= 1;
    let refused = post(&proposed(&forged));
    assert_eq!(refused.status, 400);
    assert_eq!(server.lock().size(), 3);
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// An in-toto statement in a DSSE envelope, logged in the double as a `dsse`
/// 0.0.1 entry (what sigstore-python accepts for DSSE on Rekor v1, D-047):
/// the bundle verifies with sigstore-verify and our verifier for the
/// statement's subject, and the REST API takes the same entry.
#[test]
fn dsse_statements_are_logged_as_dsse_entries() {
    use seed_testkit::{
        http::request,
        rekor::{managed_key_dsse_bundle, RekorServer},
    };

    let subject = sha2_digest(b"an image manifest");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "image", "digest": { "sha256": hex::encode(subject) } }],
        "predicateType": "https://seed-eth.dev/attestation/v1",
        "predicate": {}
    })
    .to_string();
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let managed =
        seed_sigstore::ManagedKey::from_der(key.public_key_der().unwrap().as_bytes().to_vec());
    let mut log = RekorLog::new();
    log.append(b"an earlier entry".to_vec(), 1_700_000_000);
    let bundle = managed_key_dsse_bundle(&mut log, &key, statement.as_bytes(), 2);
    let root =
        seed_sigstore::trust_root_from_json(&log.trusted_root("http://127.0.0.1:1").to_string())
            .unwrap();
    let verifier = seed_sigstore::BundleVerifier::new(&root).unwrap();
    let digest = sigstore_types::Sha256Hash::new(subject);
    let verified = verifier
        .verify(&bundle.to_string(), digest, std::slice::from_ref(&managed))
        .unwrap();
    assert_eq!(verified.dsse_payload.as_deref(), Some(statement.as_bytes()));
    // Another subject is not what was signed.
    let other = sigstore_types::Sha256Hash::new(sha2_digest(b"a trojan"));
    assert!(verifier
        .verify(&bundle.to_string(), other, &[managed])
        .is_err());

    // Over REST: the envelope and its verifier, as a client proposes them.
    let server = RekorServer::start().unwrap();
    let envelope = bundle["dsseEnvelope"].to_string();
    let pem = key.public_key_der().unwrap().to_pem();
    let proposed = |envelope: &str| {
        json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": { "proposedContent": { "envelope": envelope, "verifiers": [STANDARD.encode(&pem)] } }
        })
        .to_string()
    };
    let post = |body: String| {
        request(
            server.addr(),
            "POST",
            "/api/v1/log/entries",
            Some(body.as_bytes()),
        )
        .unwrap()
    };
    let created = post(proposed(&envelope));
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(post(proposed(&envelope)).status, 409);
    let tampered = envelope.replacen("\"payloadType\":\"application", "\"payloadType\":\"text", 1);
    assert_eq!(post(proposed(&tampered)).status, 400);
}

/// A bundle logged in log A, with a copy of its entry relabelled as log B's
/// (its SET dropped, as Rekor v2 entries have none): the copy's proof and
/// checkpoint are A's, so it proves nothing about B. A verifier that counts
/// logs by `logId` (a policy's log quorum) must refuse it.
#[test]
fn an_entry_is_bound_to_the_log_its_log_id_names() {
    use seed_sigstore::{trust_root_from_json, BundleError, BundleVerifier, ManagedKey};

    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let (mut a, b) = (RekorLog::new(), RekorLog::new());
    let mut bundle = logged_bundle(&mut a, &key, 2);
    let mut root = a.trusted_root("http://127.0.0.1:1");
    root["tlogs"].as_array_mut().unwrap().extend(
        b.trusted_root("http://127.0.0.1:2")["tlogs"]
            .as_array()
            .unwrap()
            .iter()
            .cloned(),
    );
    let verifier = BundleVerifier::new(&trust_root_from_json(&root.to_string()).unwrap()).unwrap();
    let known = [ManagedKey::from_der(
        key.public_key_der().unwrap().as_bytes().to_vec(),
    )];
    assert_eq!(
        verifier
            .verify(&bundle.to_string(), ARTIFACT, &known)
            .unwrap()
            .log_entries
            .len(),
        1
    );
    let mut copy = entry(&mut bundle).clone();
    copy["logId"]["keyId"] = json!(STANDARD.encode(b.log_id()));
    copy.as_object_mut().unwrap().remove("inclusionPromise");
    bundle["verificationMaterial"]["tlogEntries"]
        .as_array_mut()
        .unwrap()
        .push(copy);
    let refused = verifier
        .verify(&bundle.to_string(), ARTIFACT, &known)
        .unwrap_err();
    assert!(
        matches!(refused, BundleError::NotItsLog { index: 1, .. }),
        "{refused}"
    );
}

/// The double's split view: a fork shares the history up to the fork and the
/// key, then diverges. Each view's bundles verify on their own, and each
/// view's consistency proofs hold; only comparing the two views' signed
/// checkpoints (what a witness does, issue 14) shows two trees of one size.
#[test]
fn a_forked_log_shows_two_views_that_each_verify() {
    use seed_sigstore::{parse_digest, trust_root_from_json, BundleVerifier, Credential};
    use seed_testkit::{http::request, rekor::RekorServer};

    let server = RekorServer::start().unwrap();
    for i in 0..3u8 {
        server.lock().append(vec![i], 1_800_000_000);
    }
    let fork = server.fork().unwrap();
    let root = trust_root_from_json(&server.trusted_root().to_string()).unwrap();
    assert_eq!(
        server.trusted_root()["tlogs"][0]["publicKey"],
        fork.trusted_root()["tlogs"][0]["publicKey"],
        "one log, one key"
    );
    let verifier = BundleVerifier::new(&root).unwrap();
    let key = Credential::Key(seed_sigstore::SigningKey::generate().unwrap());
    let subject = "sha256:0000000000000000000000000000000000000000000000000000000000000002";
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","predicate":{{}},"predicateType":"x","subject":[{{"digest":{{"sha256":"{}"}},"name":"s"}}]}}"#,
        &subject[7..]
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let head = |server: &RekorServer| -> Value {
        serde_json::from_slice(
            &request(server.addr(), "GET", "/api/v1/log", None)
                .unwrap()
                .body,
        )
        .unwrap()
    };
    let mut heads = Vec::new();
    for view in [&server, &fork] {
        let writer =
            seed_sigstore::RekorWriter::new(&view.url(), seed_sigstore::Retry::default()).unwrap();
        let bundle = runtime
            .block_on(writer.sign_statement(statement.as_bytes(), &key))
            .unwrap();
        let known: Vec<_> = key.managed_key().into_iter().collect();
        verifier
            .verify(&bundle, parse_digest(subject).unwrap(), &known)
            .unwrap();
        heads.push(head(view));
    }
    assert_eq!(heads[0]["treeSize"], 4);
    assert_eq!(heads[1]["treeSize"], 4);
    assert_ne!(
        heads[0]["rootHash"], heads[1]["rootHash"],
        "two trees of one size: a split view"
    );
    assert_ne!(heads[0]["signedTreeHead"], heads[1]["signedTreeHead"]);
    // Each view proves itself consistent with the shared history.
    let common = sigstore_types::Sha256Hash::from_hex(&server.lock().root(3).to_hex()).unwrap();
    for (view, head) in [&server, &fork].into_iter().zip(&heads) {
        let proof: Value = serde_json::from_slice(
            &request(
                view.addr(),
                "GET",
                "/api/v1/log/proof?firstSize=3&lastSize=4",
                None,
            )
            .unwrap()
            .body,
        )
        .unwrap();
        let hashes: Vec<sigstore_types::Sha256Hash> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| sigstore_types::Sha256Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect();
        let new_root =
            sigstore_types::Sha256Hash::from_hex(head["rootHash"].as_str().unwrap()).unwrap();
        sigstore_merkle::verify_consistency_proof(3, 4, &hashes, &common, &new_root).unwrap();
    }
}
