//! Real Sigstore bundles, verified against the production (and staging)
//! trust roots entirely offline, and every mutation of them refused with its
//! own error.
//!
//! The corpus is the sigstore-verify 0.15.1 crate's `test_data` (Apache-2.0),
//! copied unchanged into `tests/data/` (tests/data/SOURCE.md): bundles made by
//! GitHub Actions, cosign v3, npm and sigstore-python against the public-good
//! instance, logged in Rekor v1 and (staging) Rekor v2.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use seed_sigstore::{
    production_trust_root, ArtifactDigest, BundleError, BundleVerifier, Signer, TrustedRoot,
};
use serde_json::{json, Value};
use sigstore_types::HashAlgorithm;
use sigstore_verify::{Error as VerifyError, TransparencyLogError};
use support::{bytes, data, entry, flip, Mutation, GITHUB};

/// A corpus file's text.
fn text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn certified(issuer: &str, identity: &str) -> Signer {
    Signer::Certificate {
        issuer: issuer.to_owned(),
        identity: identity.to_owned(),
    }
}

fn production() -> BundleVerifier {
    BundleVerifier::new(&production_trust_root().unwrap()).unwrap()
}

fn staging() -> BundleVerifier {
    let root = TrustedRoot::from_json(sigstore_trust_root::SIGSTORE_STAGING_TRUSTED_ROOT).unwrap();
    BundleVerifier::new(&root).unwrap()
}

const CONDA_V1: &str = "conda-attestation.sigstore.json";
const CONDA_V2: &str = "conda-attestation-rekor2.sigstore.json";
const CONDA: &str = "signed-package-2.1.0-hb0f4dca_0.conda";

/// The in-toto subject's SHA-512 of a DSSE bundle (npm provenance), as the
/// artifact digest: the package itself is not in the corpus.
fn sha512_subject(bundle: &str) -> ArtifactDigest {
    let bundle: Value = serde_json::from_str(bundle).unwrap();
    let payload = STANDARD
        .decode(bundle["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let digest = hex::decode(
        statement["subject"][0]["digest"]["sha512"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    ArtifactDigest::new(HashAlgorithm::Sha2512, digest).unwrap()
}

#[test]
fn production_bundles_verify_and_name_their_signer() {
    let verifier = production();

    // GitHub Actions attesting a conda package, Rekor v1: the top-level
    // index (global, signed by the SET) and the proof's (within the shard)
    // differ by design and are both kept.
    let conda = verifier
        .verify(&text(CONDA_V1), bytes(CONDA).as_slice(), &[])
        .unwrap();
    assert_eq!(
        conda.signer,
        certified(
            GITHUB,
            "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main"
        )
    );
    let entry = &conda.log_entries[0];
    assert!(!entry.rekor_v2);
    assert_eq!(
        (entry.log_index, entry.proof_index),
        (456_119_071, 334_214_809)
    );
    assert!(conda.dsse_payload.is_some());
    assert_eq!(conda.signed_at.to_string(), "2025-09-01T12:13:59Z");

    // cosign v3 signing a blob with a GitHub-login identity.
    let blob = verifier
        .verify(
            &text("cosign-v3-blob.sigstore.json"),
            bytes("cosign-v3-blob.txt").as_slice(),
            &[],
        )
        .unwrap();
    assert_eq!(
        blob.signer,
        certified("https://github.com/login/oauth", "w.vollprecht@gmail.com")
    );
    assert!(blob.dsse_payload.is_none());

    // npm provenance of sigstore 5.0.0 (from the sigstore 0.15.0 crate) and of
    // sigstore.js 2.0.0: SHA-512 subjects (`npm pack sigstore@5.0.0` gives the
    // tarball whose digest that is).
    for name in [
        "npm_slsa_bundle_v03.json",
        "sigstore.js@2.0.0-provenance.sigstore.json",
    ] {
        let bundle = text(name);
        let verified = verifier
            .verify(&bundle, sha512_subject(&bundle), &[])
            .unwrap();
        assert!(
            matches!(&verified.signer, Signer::Certificate { issuer, .. } if issuer == GITHUB),
            "{name}"
        );
    }

    // A 2023 SLSA provenance (bundle v0.1) holding only the log's promise
    // (SET), no inclusion proof: nothing shows the entry is in the tree
    // everyone else sees, so it is refused.
    let promise_only = text("dsse.sigstore.json");
    let err = verifier
        .verify(&promise_only, sha512_subject(&promise_only), &[])
        .unwrap_err();
    assert!(matches!(err, BundleError::NoInclusionProof { .. }), "{err}");
}

#[test]
fn rekor_v2_bundles_verify_and_must_state_one_log_index() {
    let verifier = staging();
    let conda = bytes(CONDA);
    let verified = verifier
        .verify(&text(CONDA_V2), conda.as_slice(), &[])
        .unwrap();
    let entry = &verified.log_entries[0];
    assert!(entry.rekor_v2);
    assert_eq!(entry.log_index, entry.proof_index);

    // sigstore-python signing an in-toto statement into Rekor v2.
    let statement = verifier
        .verify(
            &text("a.dsse.staging-rekor-v2.txt.sigstore.json"),
            seed_sigstore::Sha256Hash::from_hex(
                "a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf",
            )
            .unwrap(),
            &[],
        )
        .unwrap();
    assert!(statement.log_entries[0].rekor_v2);
    assert!(statement.dsse_payload.is_some());

    // sigstore-verify ignores the proof's copy of the index for Rekor v2, and
    // sigstore-python reads only that copy: a bundle whose two copies differ
    // passes the former. It is refused here.
    let mut bundle: Value = serde_json::from_str(&text(CONDA_V2)).unwrap();
    bundle["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["logIndex"] = json!("0");
    let mutated = bundle.to_string();
    let lenient = sigstore_verify::verify(
        conda.as_slice(),
        &sigstore_types::Bundle::from_json(&mutated).unwrap(),
        &sigstore_verify::VerificationPolicy::any_identity(),
        &TrustedRoot::from_json(sigstore_trust_root::SIGSTORE_STAGING_TRUSTED_ROOT).unwrap(),
    );
    assert!(lenient.is_ok(), "sigstore-verify alone accepts it");
    let err = verifier
        .verify(&mutated, conda.as_slice(), &[])
        .unwrap_err();
    assert!(
        matches!(err, BundleError::LogIndexMismatch { in_proof: 0, .. }),
        "{err}"
    );

    // Rekor v2 has no SET: without its RFC 3161 timestamp nothing dates it.
    let mut untimed: Value = serde_json::from_str(&text(CONDA_V2)).unwrap();
    untimed["verificationMaterial"]["timestampVerificationData"] =
        json!({ "rfc3161Timestamps": [] });
    let err = verifier
        .verify(&untimed.to_string(), conda.as_slice(), &[])
        .unwrap_err();
    assert!(
        matches!(err, BundleError::Verification(VerifyError::Timestamp(_))),
        "{err}"
    );
}

/// Applies `mutate` to the production conda bundle and returns the error.
fn refused(mutate: impl FnOnce(&mut Value)) -> BundleError {
    let mut bundle: Value = serde_json::from_str(&text(CONDA_V1)).unwrap();
    mutate(&mut bundle);
    production()
        .verify(&bundle.to_string(), bytes(CONDA).as_slice(), &[])
        .unwrap_err()
}

#[test]
fn every_mutation_of_a_production_bundle_is_refused_with_its_own_error() {
    let tlog = |err: &BundleError| {
        matches!(
            err,
            BundleError::Verification(VerifyError::TransparencyLog(_))
        )
    };

    // The inclusion proof: a sibling hash, the root, the tree size.
    let err = refused(|b| flip(&mut entry(b)["inclusionProof"]["hashes"][0]));
    assert!(
        matches!(
            err,
            BundleError::Verification(VerifyError::TransparencyLog(
                TransparencyLogError::InclusionProof(_)
            ))
        ),
        "{err}"
    );
    let err = refused(|b| entry(b)["inclusionProof"]["treeSize"] = json!("334214817"));
    assert!(tlog(&err), "{err}");
    // The checkpoint: its signature, and its root against the proof's.
    let err = refused(|b| {
        let checkpoint = &mut entry(b)["inclusionProof"]["checkpoint"]["envelope"];
        let text = checkpoint.as_str().unwrap().to_owned();
        let (body, signature) = text.rsplit_once(' ').unwrap();
        let mut decoded = STANDARD.decode(signature.trim()).unwrap();
        let last = decoded.len() - 1;
        decoded[last] ^= 1;
        *checkpoint = json!(format!("{body} {}\n", STANDARD.encode(decoded)));
    });
    assert!(
        matches!(
            err,
            BundleError::Verification(VerifyError::TransparencyLog(
                TransparencyLogError::Checkpoint(_)
            ))
        ),
        "{err}"
    );
    // The indices and the time the SET signs.
    let err = refused(|b| entry(b)["logIndex"] = json!("456119072"));
    assert!(tlog(&err), "{err}");
    let err = refused(|b| entry(b)["inclusionProof"]["logIndex"] = json!("334214808"));
    assert!(tlog(&err), "{err}");
    let err = refused(|b| entry(b)["integratedTime"] = json!("1756728840"));
    assert!(tlog(&err), "{err}");
    let err = refused(|b| flip(&mut entry(b)["inclusionPromise"]["signedEntryTimestamp"]));
    assert!(tlog(&err), "{err}");
    // What was logged, and that it was logged with a proof at all.
    let err = refused(|b| flip(&mut entry(b)["canonicalizedBody"]));
    assert!(matches!(err, BundleError::Verification(_)), "{err}");
    let err = refused(|b| {
        entry(b).as_object_mut().unwrap().remove("inclusionProof");
    });
    assert!(matches!(err, BundleError::NoInclusionProof { .. }), "{err}");
    let err = refused(|b| b["verificationMaterial"]["tlogEntries"] = json!([]));
    assert!(matches!(err, BundleError::NotLogged), "{err}");
    // The signature, the signed statement, the certificate.
    let err = refused(|b| flip(&mut b["dsseEnvelope"]["signatures"][0]["sig"]));
    assert!(matches!(err, BundleError::Verification(_)), "{err}");
    let err = refused(|b| flip(&mut b["dsseEnvelope"]["payload"]));
    assert!(matches!(err, BundleError::Verification(_)), "{err}");
    let other: Value = serde_json::from_str(&text("cosign-v3-blob.sigstore.json")).unwrap();
    let err = refused(|b| {
        b["verificationMaterial"]["certificate"] =
            other["verificationMaterial"]["certificate"].clone();
    });
    assert!(matches!(err, BundleError::Verification(_)), "{err}");

    // Another artifact than the one signed.
    let err = production()
        .verify(&text(CONDA_V1), b"another package".as_slice(), &[])
        .unwrap_err();
    assert!(matches!(err, BundleError::Verification(_)), "{err}");

    // A root that does not hold the signing CA or the log.
    let staging_only = staging().verify(&text(CONDA_V1), bytes(CONDA).as_slice(), &[]);
    assert!(matches!(staging_only, Err(BundleError::Verification(_))));

    // Not a bundle at all.
    let err = production().verify("{}", b"x".as_slice(), &[]).unwrap_err();
    assert!(matches!(err, BundleError::Parse(_)), "{err}");
}

/// The forgeries the `sigstore` 0.15.0 crate's bundle verifier accepts on
/// this very bundle (measured: docs/measurements/sigstore-rs-0.15.0, D-047):
/// each is refused here.
#[test]
fn the_forgeries_the_sigstore_0_15_0_crate_accepts_are_refused() {
    let original = text("npm_slsa_bundle_v03.json");
    let digest = sha512_subject(&original);
    let verifier = production();
    verifier.verify(&original, digest.clone(), &[]).unwrap();
    let forgeries: [(&str, Mutation); 4] = [
        ("an inclusion-proof hash", |b| {
            flip(&mut entry(b)["inclusionProof"]["hashes"][0])
        }),
        ("the inclusion proof's root", |b| {
            flip(&mut entry(b)["inclusionProof"]["rootHash"])
        }),
        ("the checkpoint, removed", |b| {
            entry(b)["inclusionProof"]["checkpoint"]["envelope"] = json!("")
        }),
        ("the SET", |b| {
            flip(&mut entry(b)["inclusionPromise"]["signedEntryTimestamp"])
        }),
    ];
    for (forged, mutate) in forgeries {
        let mut bundle: Value = serde_json::from_str(&original).unwrap();
        mutate(&mut bundle);
        let err = verifier
            .verify(&bundle.to_string(), digest.clone(), &[])
            .unwrap_err();
        assert!(
            matches!(err, BundleError::Verification(_)),
            "{forged}: {err}"
        );
    }
}
