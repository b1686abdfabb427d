//! Signing with a managed key and logging in Rekor: against the Rekor v1
//! double over HTTP, with its faults (a 5xx, a lost answer, a refusal, no
//! log at all). Every bundle produced is verified by our verifier (that is,
//! sigstore-verify plus D-047's rules) against the double's trust root.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use seed_sigstore::{
    parse_digest, trust_root_from_json, BundleVerifier, Credential, ManagedKey, RekorWriter, Retry,
    SignError, Signer, SigningKey,
};
use seed_testkit::rekor::{Fault, RekorServer};

/// The statement's subject: what its bundle is verified against.
const SUBJECT: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"https://seed-eth.dev/attestation/v1","subject":[{"digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000001"},"name":"r/seed"}]}"#;

/// Quick retries: the faults are played at once.
fn retry(attempts: u32) -> Retry {
    Retry {
        attempts,
        first_delay: Duration::from_millis(10),
        timeout: Duration::from_secs(10),
    }
}

fn managed() -> Credential {
    Credential::Key(SigningKey::generate().unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sign(url: &str, key: &Credential, attempts: u32) -> Result<String, SignError> {
    let writer = RekorWriter::new(url, retry(attempts)).unwrap();
    runtime().block_on(writer.sign_statement(STATEMENT, key))
}

/// Verifies `bundle` against the server's trust root and `key`.
fn verified_signer(server: &RekorServer, key: &Credential, bundle: &str) -> Signer {
    let root = trust_root_from_json(&server.trusted_root().to_string()).unwrap();
    let known = key.managed_key().unwrap();
    let verified = BundleVerifier::new(&root)
        .unwrap()
        .verify(bundle, parse_digest(SUBJECT).unwrap(), &[known])
        .unwrap();
    assert_eq!(verified.dsse_payload.as_deref(), Some(STATEMENT));
    verified.signer
}

#[test]
fn a_signed_statement_is_logged_once_and_verifies() {
    let server = RekorServer::start().unwrap();
    let key = managed();
    let bundle = sign(&server.url(), &key, 1).unwrap();
    assert_eq!(verified_signer(&server, &key, &bundle), key.signer());
    assert!(matches!(key.signer(), Signer::Key { .. }));
    assert_eq!(server.lock().size(), 1);
    let json: serde_json::Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        json["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
}

#[test]
fn an_answer_lost_after_logging_is_recovered_from_the_409_without_a_second_entry() {
    let server = RekorServer::start().unwrap();
    let key = managed();
    server.fail_next(&[Fault::LogThenHangUp]);
    let bundle = sign(&server.url(), &key, 3).unwrap();
    verified_signer(&server, &key, &bundle);
    assert_eq!(server.lock().size(), 1, "the retry must not log twice");
}

#[test]
fn a_failing_log_is_retried_with_backoff() {
    let server = RekorServer::start().unwrap();
    let key = managed();
    server.fail_next(&[Fault::Status(503), Fault::Status(429), Fault::Status(500)]);
    let bundle = sign(&server.url(), &key, 4).unwrap();
    verified_signer(&server, &key, &bundle);
    assert_eq!(server.lock().size(), 1);
}

#[test]
fn a_log_that_keeps_failing_is_unavailable_and_nothing_is_logged() {
    let server = RekorServer::start().unwrap();
    let key = managed();
    server.fail_next(&[Fault::Status(503); 3]);
    let error = sign(&server.url(), &key, 3).unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(
        matches!(&error, SignError::Unavailable { attempts: 3, last, .. } if last.contains("503")),
        "{error}"
    );
    assert_eq!(server.lock().size(), 0);
}

#[test]
fn no_log_at_all_is_unavailable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let key = managed();
    let error = sign(&url, &key, 2).unwrap_err();
    assert!(
        matches!(error, SignError::Unavailable { attempts: 2, .. }),
        "{error}"
    );
}

#[test]
fn a_refusal_is_not_retried() {
    let server = RekorServer::start().unwrap();
    let key = managed();
    server.fail_next(&[Fault::Status(400)]);
    let error = sign(&server.url(), &key, 5).unwrap_err();
    assert!(
        matches!(error, SignError::Refused { status: 400, .. }),
        "{error}"
    );
    assert!(!error.is_transient());
    assert_eq!(server.lock().size(), 0);
}

#[test]
fn keys_are_p256_pkcs8_and_named_by_their_fingerprint() {
    let key = SigningKey::generate().unwrap();
    let public = ManagedKey::from_pem(&key.public_key_pem()).unwrap();
    assert_eq!(public.fingerprint(), key.fingerprint());
    let refused = |pem: &str| SigningKey::from_pem(pem).unwrap_err().to_string();
    assert!(refused(&key.public_key_pem()).contains("'PUBLIC KEY'"));
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    assert!(refused(sec1).contains("openssl pkcs8 -topk8"));
    let junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(refused(junk).contains("not a P-256 PKCS#8 key"));
    assert!(refused("not pem").contains("not PEM"));
}
