//! The Fulcio double (seed-testkit) proven honest: keyless signing with
//! sigstore-sign 0.15.1 end to end over HTTP (a token from the double's OIDC
//! issuer, a certificate from the Fulcio double, a `dsse` entry in the Rekor
//! double) yields a bundle v0.3 that two independent verifiers accept against
//! the doubles' trust root — ours (sigstore-verify plus D-047's rules) and
//! sigstore-python 4.5.1, offline — for the identity the token named. And
//! what the double must refuse, it refuses: a token signed by another key, an
//! expired token, a wrong proof of possession; what verifiers must refuse,
//! they refuse: a certificate from another instance of the double, an SCT
//! from a CT log the root does not name.
//!
//! Needs `SEED_ETH_SIGSTORE_PYTHON` (the `sigstore` program; `make test` sets
//! it) and fails, never skips, without it.

#![allow(clippy::unwrap_used, missing_docs)]

use std::{path::Path, process::Command};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use seed_sigstore::{parse_digest, trust_root_from_json, BundleError, BundleVerifier, Signer};
use seed_testkit::{
    fulcio::{client_trust_config, FulcioServer, TokenIdentity},
    http::request,
    rekor::{KeyPair, RekorServer},
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_oidc::IdentityToken;
use sigstore_sign::{SigningContext, SigningServices};

fn workflow() -> TokenIdentity {
    TokenIdentity::Workflow {
        job_workflow_ref: "seed-eth/builders/.github/workflows/attest.yml@refs/heads/main"
            .to_owned(),
    }
}

fn email() -> TokenIdentity {
    TokenIdentity::Email("builder@seed-eth.test".to_owned())
}

/// A Fulcio double and a Rekor double, and the trust root naming both.
struct Doubles {
    fulcio: FulcioServer,
    rekor: RekorServer,
}

impl Doubles {
    fn start() -> Self {
        Self {
            fulcio: FulcioServer::start().unwrap(),
            rekor: RekorServer::start().unwrap(),
        }
    }

    fn trusted_root(&self) -> Value {
        self.fulcio.trusted_root(&self.rekor.trusted_root())
    }

    /// Signs an in-toto statement about `artifact` keylessly with a token for
    /// `identity` (from `fulcio`'s issuer), certified by `fulcio` and logged
    /// in this Rekor: returns the bundle's JSON.
    fn sign(
        &self,
        fulcio: &FulcioServer,
        identity: &TokenIdentity,
        artifact: &[u8],
    ) -> Result<String, sigstore_sign::Error> {
        sign_with_token(fulcio, &self.rekor, &fulcio.token(identity), artifact)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An in-toto statement whose one subject is `artifact`'s SHA-256.
fn statement(artifact: &[u8]) -> Vec<u8> {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "seed.squashfs", "digest": { "sha256": hex::encode(Sha256::digest(artifact)) } }],
        "predicateType": "https://seed-eth.dev/attestation/v1",
        "predicate": { "commit": "0123456789abcdef0123456789abcdef01234567" }
    })
    .to_string()
    .into_bytes()
}

fn sign_with_token(
    fulcio: &FulcioServer,
    rekor: &RekorServer,
    token: &str,
    artifact: &[u8],
) -> Result<String, sigstore_sign::Error> {
    let context = SigningContext::new(SigningServices::new(fulcio.url(), rekor.url()));
    let signer = context.signer(IdentityToken::from_jwt(token)?);
    let bundle = runtime().block_on(signer.sign_raw_statement(&statement(artifact)))?;
    Ok(bundle.to_json()?)
}

/// Our verifier's verdict on `bundle` over `artifact`'s digest (the
/// statement's subject) against `root`.
fn ours(root: &Value, bundle: &str, artifact: &[u8]) -> Result<Signer, BundleError> {
    let root = trust_root_from_json(&root.to_string())?;
    let digest =
        parse_digest(&format!("sha256:{}", hex::encode(Sha256::digest(artifact)))).unwrap();
    BundleVerifier::new(&root)?
        .verify(bundle, digest, &[])
        .map(|verified| verified.signer)
}

/// sigstore-python's verdict, offline, with the client trust config `config`:
/// `Ok` or its complaint.
fn theirs(
    dir: &Path,
    name: &str,
    config: &Value,
    bundle: &str,
    artifact: &[u8],
    identity: &str,
    issuer: &str,
) -> Result<(), String> {
    let program = std::env::var("SEED_ETH_SIGSTORE_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set SEED_ETH_SIGSTORE_PYTHON to sigstore-python's `sigstore` program \
             (`make test` installs it into .venv-sigstore)"
        )
    });
    let file = |suffix: &str, contents: &[u8]| {
        let path = dir.join(format!("{name}.{suffix}"));
        std::fs::write(&path, contents).unwrap();
        path
    };
    let config = file("trust-config.json", config.to_string().as_bytes());
    let bundle = file("sigstore.json", bundle.as_bytes());
    let artifact = file("artifact", artifact);
    let output = Command::new(&program)
        .arg("--trust-config")
        .arg(&config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(&artifact)
        // An empty home: no cached trust material but the config given.
        .env("HOME", dir)
        // Its complaint on one line, for the tests to read.
        .env("COLUMNS", "1000")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; `make test` installs it"));
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[test]
fn keyless_bundles_from_the_doubles_verify_with_both_verifiers() {
    let doubles = Doubles::start();
    let root = doubles.trusted_root();
    let config = client_trust_config(&root, &doubles.fulcio.url(), &doubles.rekor.url());
    let issuer = doubles.fulcio.url();
    let mut signed: Vec<Signed> = Vec::new();
    for (name, identity) in [("workflow", workflow()), ("email", email())] {
        let artifact = format!("the {name} builder's seed").into_bytes();
        let bundle = doubles
            .sign(&doubles.fulcio, &identity, &artifact)
            .unwrap_or_else(|e| panic!("{name}: keyless signing failed: {e}"));
        let parsed: Value = serde_json::from_str(&bundle).unwrap();
        assert_eq!(
            parsed["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert_eq!(
            parsed["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
            json!({ "kind": "dsse", "version": "0.0.1" })
        );
        assert_eq!(
            ours(&root, &bundle, &artifact).unwrap_or_else(|e| panic!("{name}: {e}")),
            Signer::Certificate {
                issuer: issuer.clone(),
                identity: identity.san(),
            },
            "{name}: the signer is who the token named"
        );
        // Another artifact is not what the statement is about.
        assert!(ours(&root, &bundle, b"another artifact").is_err());
        signed.push((name, identity, artifact, bundle));
    }
    assert_eq!(doubles.rekor.lock().size(), 2);

    // sigstore-python, its runs in parallel (its start-up is most of the
    // time): each bundle for its own signer, and not for another issuer.
    let dir = tempfile::tempdir().unwrap();
    let python = |case: &str, (name, identity, artifact, bundle): &Signed, issuer: &str| {
        let name = format!("{name}-{case}");
        theirs(
            dir.path(),
            &name,
            &config,
            bundle,
            artifact,
            &identity.san(),
            issuer,
        )
    };
    std::thread::scope(|scope| {
        let runs: Vec<_> = signed
            .iter()
            .map(|signed| scope.spawn(|| python("as-signed", signed, &issuer)))
            .collect();
        let other_issuer =
            scope.spawn(|| python("other-issuer", &signed[0], "https://issuer.test"));
        for (run, (name, ..)) in runs.into_iter().zip(&signed) {
            run.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: sigstore-python refuses it: {e}"));
        }
        let refusal = other_issuer.join().unwrap().unwrap_err();
        assert!(refusal.contains("OIDCIssuer does not match"), "{refusal}");
    });
}

/// A keyless bundle: its name, signer, artifact and JSON.
type Signed = (&'static str, TokenIdentity, Vec<u8>, String);

/// The request sigstore-fulcio 0.15.1 sends, with a proof of possession
/// made by `prover` over `challenge`.
fn signing_cert_request(token: &str, key: &KeyPair, prover: &KeyPair, challenge: &str) -> Value {
    json!({
        "credentials": { "oidcIdentityToken": token },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "", "content": key.public_key_der().unwrap().to_pem() },
            "proofOfPossession": STANDARD.encode(prover.sign(challenge.as_bytes()).unwrap().as_bytes())
        }
    })
}

#[test]
fn the_double_refuses_what_fulcio_refuses() {
    let doubles = Doubles::start();
    let fulcio = &doubles.fulcio;
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let token = fulcio.token(&workflow());
    let subject = fulcio.issuer().verify(&token).unwrap()["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |body: &Value| {
        let response = request(
            fulcio.addr(),
            "POST",
            "/api/v2/signingCert",
            Some(body.to_string().as_bytes()),
        )
        .unwrap();
        let answer: Value = serde_json::from_slice(&response.body).unwrap();
        (response.status, answer)
    };

    // As sigstore-fulcio asks: the chain, leaf first, the SCT embedded.
    let (status, answer) = post(&signing_cert_request(&token, &key, &key, &subject));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["signedCertificateEmbeddedSct"]["chain"]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let forged = seed_testkit::fulcio::OidcIssuer::new(fulcio.url()).token(&workflow());
    let mut expired = fulcio.issuer().claims(&workflow());
    expired["iat"] = json!(expired["iat"].as_u64().unwrap() - 1200);
    expired["nbf"] = expired["iat"].clone();
    expired["exp"] = json!(expired["exp"].as_u64().unwrap() - 1200);
    let expired = fulcio.issuer().sign_claims(&expired);
    let other = KeyPair::generate_ecdsa_p256().unwrap();
    let refusals = [
        (
            "a token signed by another key",
            signing_cert_request(&forged, &key, &key, &subject),
            401,
        ),
        (
            "an expired token",
            signing_cert_request(&expired, &key, &key, &subject),
            401,
        ),
        (
            "a proof over another string",
            signing_cert_request(&token, &key, &key, "repo:someone/else:ref:refs/heads/main"),
            400,
        ),
        (
            "a proof by another key",
            signing_cert_request(&token, &key, &other, &subject),
            400,
        ),
    ];
    for (what, body, expected) in refusals {
        let (status, answer) = post(&body);
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {answer}"
        );
    }

    // The client surfaces the refusal; nothing is logged.
    for token in [&forged, &expired] {
        let error = sign_with_token(fulcio, &doubles.rekor, token, b"x").unwrap_err();
        assert!(error.to_string().contains("HTTP 401"), "{error}");
    }
    assert_eq!(doubles.rekor.lock().size(), 0);
}

#[test]
fn a_certificate_from_another_double_is_refused() {
    let doubles = Doubles::start();
    let stranger = FulcioServer::start().unwrap();
    let artifact = b"a seed";
    // Certified by the stranger, logged in the same Rekor.
    let bundle = doubles.sign(&stranger, &workflow(), artifact).unwrap();

    let ours_root = doubles.trusted_root();
    let theirs_root = stranger.trusted_root(&doubles.rekor.trusted_root());
    assert!(
        ours(&theirs_root, &bundle, artifact).is_ok(),
        "the bundle is sound for the stranger's root"
    );
    let refused = ours(&ours_root, &bundle, artifact).unwrap_err().to_string();
    assert!(refused.contains("certificate chain"), "{refused}");

    // The SCT is checked on its own: the CA trusted, the CT log not.
    let mut other_ct_log = theirs_root.clone();
    other_ct_log["ctlogs"] = ours_root["ctlogs"].clone();
    let refused = ours(&other_ct_log, &bundle, artifact)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("SCT"), "{refused}");

    // sigstore-python refuses both, for those reasons.
    let dir = tempfile::tempdir().unwrap();
    let python = |name: &str, root: &Value| {
        theirs(
            dir.path(),
            name,
            &client_trust_config(root, &doubles.fulcio.url(), &doubles.rekor.url()),
            &bundle,
            artifact,
            &workflow().san(),
            &stranger.url(),
        )
    };
    std::thread::scope(|scope| {
        let foreign = scope.spawn(|| python("foreign-ca", &ours_root));
        let ct = scope.spawn(|| python("other-ct-log", &other_ct_log));
        let refusal = foreign.join().unwrap().unwrap_err();
        assert!(
            refusal.contains("failed to build timestamp certificate chain"),
            "{refusal}"
        );
        let refusal = ct.join().unwrap().unwrap_err();
        assert!(refusal.contains("SCT verify failed"), "{refusal}");
    });
}

/// Quick retries for tests.
fn quick() -> seed_sigstore::Retry {
    seed_sigstore::Retry {
        attempts: 2,
        first_delay: std::time::Duration::from_millis(10),
        timeout: std::time::Duration::from_secs(10),
    }
}

#[test]
fn our_keyless_signer_is_accepted_by_both_verifiers() {
    use seed_sigstore::{Credential, Keyless, RekorWriter, SignError};

    let doubles = Doubles::start();
    let root = doubles.trusted_root();
    let config = client_trust_config(&root, &doubles.fulcio.url(), &doubles.rekor.url());
    let issuer = doubles.fulcio.url();
    let artifact = b"a seed built by our keyless signer".to_vec();
    let token = doubles.fulcio.token(&workflow());
    let keyless = runtime()
        .block_on(Keyless::certify(&doubles.fulcio.url(), &token, quick()))
        .unwrap();
    // The identity is the certificate's, as verifiers will see it.
    assert_eq!(keyless.issuer(), issuer);
    assert_eq!(keyless.identity(), workflow().san());
    let credential = Credential::Keyless(keyless);
    let writer = RekorWriter::new(&doubles.rekor.url(), quick()).unwrap();
    let bundle = runtime()
        .block_on(writer.sign_statement(&statement(&artifact), &credential))
        .unwrap();
    assert_eq!(
        ours(&root, &bundle, &artifact).unwrap(),
        credential.signer()
    );
    let dir = tempfile::tempdir().unwrap();
    theirs(
        dir.path(),
        "ours",
        &config,
        &bundle,
        &artifact,
        &workflow().san(),
        &issuer,
    )
    .unwrap_or_else(|e| panic!("sigstore-python refuses our keyless bundle: {e}"));

    // A token from another issuer's key is refused by Fulcio, by name.
    let stranger = FulcioServer::start().unwrap();
    let refused = runtime()
        .block_on(Keyless::certify(
            &doubles.fulcio.url(),
            &stranger.token(&workflow()),
            quick(),
        ))
        .unwrap_err();
    assert!(
        matches!(refused, SignError::TokenRefused { .. }),
        "{refused}"
    );
    // Not a JWT at all.
    let garbage = runtime()
        .block_on(Keyless::certify(
            &doubles.fulcio.url(),
            "not-a-jwt",
            quick(),
        ))
        .unwrap_err();
    assert!(matches!(garbage, SignError::Token(_)), "{garbage}");
    // Fulcio unreachable: transient, after the retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = runtime()
        .block_on(Keyless::certify(&url, &token, quick()))
        .unwrap_err();
    assert!(
        matches!(down, SignError::Unavailable { attempts: 2, .. }),
        "{down}"
    );
    assert!(down.is_transient());
}

#[test]
fn timestamps_from_the_tsa_double_verify_with_both_verifiers() {
    use seed_testkit::tsa::TsaServer;

    let doubles = Doubles::start();
    let tsa = TsaServer::start().unwrap();
    let mut root = doubles.trusted_root();
    tsa.add_to(&mut root);
    let config = client_trust_config(&root, &doubles.fulcio.url(), &doubles.rekor.url());
    let artifact = b"a timestamped seed".to_vec();
    let context = SigningContext::new(
        SigningServices::new(doubles.fulcio.url(), doubles.rekor.url()).with_tsa_url(tsa.url()),
    );
    let signer =
        context.signer(IdentityToken::from_jwt(&doubles.fulcio.token(&workflow())).unwrap());
    let bundle = runtime()
        .block_on(signer.sign_raw_statement(&statement(&artifact)))
        .unwrap()
        .to_json()
        .unwrap();
    let parsed: Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(
        parsed["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{parsed}"
    );
    ours(&root, &bundle, &artifact).unwrap();
    let dir = tempfile::tempdir().unwrap();
    theirs(
        dir.path(),
        "timestamped",
        &config,
        &bundle,
        &artifact,
        &workflow().san(),
        &doubles.fulcio.url(),
    )
    .unwrap_or_else(|e| panic!("sigstore-python refuses the timestamped bundle: {e}"));
    // Our own signer (keyless, with a TSA at `tsa_url`).
    let sign_ours = |tsa_url: &str| {
        let keyless = runtime()
            .block_on(seed_sigstore::Keyless::certify(
                &doubles.fulcio.url(),
                &doubles.fulcio.token(&workflow()),
                quick(),
            ))
            .unwrap();
        runtime().block_on(seed_sigstore::sign_and_log(
            &statement(&artifact),
            &seed_sigstore::Credential::Keyless(keyless),
            &[seed_sigstore::RekorWriter::new(&doubles.rekor.url(), quick()).unwrap()],
            Some(&seed_sigstore::Timestamper::new(tsa_url, quick()).unwrap()),
        ))
    };
    // Its bundles are the same for both verifiers.
    let ours_signed = sign_ours(&tsa.url()).unwrap();
    let parsed: Value = serde_json::from_str(&ours_signed).unwrap();
    assert_eq!(
        parsed["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    ours(&root, &ours_signed, &artifact).unwrap();
    theirs(
        dir.path(),
        "ours-timestamped",
        &config,
        &ours_signed,
        &artifact,
        &workflow().san(),
        &doubles.fulcio.url(),
    )
    .unwrap_or_else(|e| panic!("sigstore-python refuses our timestamped bundle: {e}"));
    // A TSA that is down: transient, nothing signed is returned.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_url = format!("http://{}/api/v1/timestamp", closed.local_addr().unwrap());
    drop(closed);
    let down = sign_ours(&down_url).unwrap_err();
    assert!(down.is_transient(), "{down}");

    // A timestamp from a TSA the root does not name: we refuse the bundle;
    // sigstore-python drops the timestamp and accepts on the SET alone (its
    // verifier counts the timestamps that verify, ours requires all to),
    // the one difference between them here.
    let stranger = TsaServer::start().unwrap();
    let mut other_root = doubles.trusted_root();
    stranger.add_to(&mut other_root);
    let refused = ours(&other_root, &bundle, &artifact).unwrap_err();
    assert!(refused.to_string().contains("imestamp"), "{refused}");
    let other_config =
        client_trust_config(&other_root, &doubles.fulcio.url(), &doubles.rekor.url());
    theirs(
        dir.path(),
        "stranger",
        &other_config,
        &bundle,
        &artifact,
        &workflow().san(),
        &doubles.fulcio.url(),
    )
    .expect("sigstore-python verifies on the SET and ignores the unverifiable timestamp");
}

#[test]
fn rekor_v2_bundles_from_the_doubles_verify_with_both_verifiers() {
    use seed_testkit::{rekor_v2::RekorV2Server, tsa::TsaServer};
    use sigstore_sign::rekor::RekorApiVersion;

    let fulcio = FulcioServer::start().unwrap();
    let rekor = RekorV2Server::start().unwrap();
    let tsa = TsaServer::start().unwrap();
    let mut root = fulcio.trusted_root(&json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [], "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []
    }));
    rekor.add_to(&mut root);
    tsa.add_to(&mut root);
    let config = client_trust_config(&root, &fulcio.url(), &rekor.url());
    let artifact = b"a seed logged in Rekor v2".to_vec();
    let context = SigningContext::new(
        SigningServices::new(fulcio.url(), rekor.url())
            .with_rekor(rekor.url(), RekorApiVersion::V2)
            .with_tsa_url(tsa.url()),
    );
    let signer = context.signer(IdentityToken::from_jwt(&fulcio.token(&workflow())).unwrap());
    let bundle = runtime()
        .block_on(signer.sign_raw_statement(&statement(&artifact)))
        .unwrap_or_else(|e| panic!("signing into the v2 double: {e}"))
        .to_json()
        .unwrap();
    let parsed: Value = serde_json::from_str(&bundle).unwrap();
    assert_eq!(
        parsed["verificationMaterial"]["tlogEntries"][0]["kindVersion"],
        json!({ "kind": "hashedrekord", "version": "0.0.2" })
    );
    assert_eq!(rekor.size(), 1);
    // The log's latest checkpoint is the one the entry is proven against.
    let checkpoint = String::from_utf8(
        request(rekor.addr(), "GET", "/api/v2/checkpoint", None)
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(
        parsed["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
            ["envelope"],
        checkpoint.as_str()
    );
    assert!(
        checkpoint.starts_with("log2026-1.rekor-v2.double.test\n1\n"),
        "{checkpoint}"
    );
    assert_eq!(
        ours(&root, &bundle, &artifact).unwrap_or_else(|e| panic!("ours: {e}")),
        Signer::Certificate {
            issuer: fulcio.url(),
            identity: workflow().san(),
        }
    );
    let dir = tempfile::tempdir().unwrap();
    theirs(
        dir.path(),
        "rekor-v2",
        &config,
        &bundle,
        &artifact,
        &workflow().san(),
        &fulcio.url(),
    )
    .unwrap_or_else(|e| panic!("sigstore-python refuses the Rekor v2 bundle: {e}"));
    // Our own signer into the v2 log, keyless: the same for both verifiers.
    let keyless = runtime()
        .block_on(seed_sigstore::Keyless::certify(
            &fulcio.url(),
            &fulcio.token(&workflow()),
            quick(),
        ))
        .unwrap();
    let timestamper = seed_sigstore::Timestamper::new(&tsa.url(), quick()).unwrap();
    let v2 = seed_sigstore::RekorWriter::new_v2(&rekor.url(), quick()).unwrap();
    let ours_v2 = runtime()
        .block_on(seed_sigstore::sign_and_log(
            &statement(&artifact),
            &seed_sigstore::Credential::Keyless(keyless),
            std::slice::from_ref(&v2),
            Some(&timestamper),
        ))
        .unwrap();
    assert_eq!(rekor.size(), 2);
    ours(&root, &ours_v2, &artifact).unwrap_or_else(|e| panic!("ours on our v2 bundle: {e}"));
    theirs(
        dir.path(),
        "ours-rekor-v2",
        &config,
        &ours_v2,
        &artifact,
        &workflow().san(),
        &fulcio.url(),
    )
    .unwrap_or_else(|e| panic!("sigstore-python refuses our Rekor v2 bundle: {e}"));
    // With a managed key (sigstore-python checks identities only: ours alone).
    let managed = seed_sigstore::Credential::Key(seed_sigstore::SigningKey::generate().unwrap());
    let managed_v2 = runtime()
        .block_on(seed_sigstore::sign_and_log(
            &statement(&artifact),
            &managed,
            std::slice::from_ref(&v2),
            Some(&timestamper),
        ))
        .unwrap();
    let root_v = trust_root_from_json(&root.to_string()).unwrap();
    let digest = parse_digest(&format!(
        "sha256:{}",
        hex::encode(Sha256::digest(&artifact))
    ))
    .unwrap();
    BundleVerifier::new(&root_v)
        .unwrap()
        .verify(&managed_v2, digest, &[managed.managed_key().unwrap()])
        .unwrap_or_else(|e| panic!("ours on a managed-key v2 bundle: {e}"));
    // A v2 log without a timestamp authority is refused before anything is logged.
    let untimestamped = runtime()
        .block_on(seed_sigstore::sign_and_log(
            &statement(&artifact),
            &managed,
            std::slice::from_ref(&v2),
            None,
        ))
        .unwrap_err();
    assert!(
        untimestamped.to_string().contains("--tsa-url"),
        "{untimestamped}"
    );
    assert_eq!(rekor.size(), 3);

    // The tiles, read with sigstore-rekor's own v2 client: the entry bundle's
    // leaves are the hash tile's, and they hash up to the checkpoint's root.
    let client = sigstore_rekor::RekorV2Client::new(rekor.url()).unwrap();
    let checkpoint = runtime().block_on(client.get_checkpoint()).unwrap();
    let size = usize::try_from(checkpoint.tree_size()).unwrap();
    assert_eq!(size, 3);
    let width = std::num::NonZeroU8::new(3);
    let tile = runtime().block_on(client.get_tile(0, 0, width)).unwrap();
    let entries = runtime()
        .block_on(client.get_entry_bundle(0, width))
        .unwrap();
    let mut leaves = Vec::new();
    let mut rest = entries.bytes.as_slice();
    while let [high, low, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*high, *low]));
        leaves.push(sigstore_merkle::hash_leaf(&tail[..length]));
        rest = &tail[length..];
    }
    assert_eq!(
        tile.bytes,
        leaves
            .iter()
            .flat_map(|leaf| leaf.as_bytes().to_vec())
            .collect::<Vec<u8>>()
    );
    let tree_root = sigstore_merkle::hash_children(
        &sigstore_merkle::hash_children(&leaves[0], &leaves[1]),
        &leaves[2],
    );
    assert_eq!(&tree_root, checkpoint.root_hash());
    // A tile the tree does not have yet is not served.
    assert!(runtime().block_on(client.get_tile(0, 0, None)).is_err());

    // Without its timestamp a v2 bundle has no proof of time: refused.
    let mut untimed = parsed.clone();
    untimed["verificationMaterial"]["timestampVerificationData"] = json!({});
    assert!(ours(&root, &untimed.to_string(), &artifact).is_err());
    assert!(theirs(
        dir.path(),
        "rekor-v2-untimed",
        &config,
        &untimed.to_string(),
        &artifact,
        &workflow().san(),
        &fulcio.url(),
    )
    .is_err());
}
