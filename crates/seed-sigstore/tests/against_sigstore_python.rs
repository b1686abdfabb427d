//! Our verifier against an independent one, sigstore-python 4.5.1 (PyPI,
//! installed by the Makefile into `.venv-sigstore`), offline, on the real
//! bundles of tests/data and mutations of them: both must accept the same
//! bundles and refuse the same ones, except where D-047 makes ours stricter.
//!
//! Needs `SEED_ETH_SIGSTORE_PYTHON` (the `sigstore` program; `make test` sets
//! it) and fails, never skips, without it.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

mod support;

use seed_sigstore::{production_trust_root, trust_root_from_json, BundleVerifier, Signer};
use serde_json::{json, Value};
use support::{data, entry, flip, Mutation, GITHUB};

const CONDA_IDENTITY: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";

/// One verification question: a bundle (as JSON), an artifact file, the
/// signer asked for, and whether it is a staging bundle.
struct Case {
    name: &'static str,
    bundle: Value,
    artifact: String,
    issuer: &'static str,
    identity: &'static str,
    staging: bool,
}

fn case(name: &'static str, bundle: &str, artifact: &str) -> Case {
    Case {
        name,
        bundle: serde_json::from_str(&std::fs::read_to_string(data(bundle)).unwrap()).unwrap(),
        artifact: data(artifact),
        issuer: GITHUB,
        identity: CONDA_IDENTITY,
        staging: false,
    }
}

fn ours(case: &Case) -> bool {
    let root = if case.staging {
        trust_root_from_json(&std::fs::read_to_string(data("staging_trusted_root.json")).unwrap())
            .unwrap()
    } else {
        production_trust_root().unwrap()
    };
    let artifact = std::fs::read(&case.artifact).unwrap();
    BundleVerifier::new(&root)
        .unwrap()
        .verify(&case.bundle.to_string(), artifact.as_slice(), &[])
        .is_ok_and(|verified| {
            verified.signer
                == Signer::Certificate {
                    issuer: case.issuer.to_owned(),
                    identity: case.identity.to_owned(),
                }
        })
}

fn theirs(case: &Case, dir: &std::path::Path) -> bool {
    let program = std::env::var("SEED_ETH_SIGSTORE_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set SEED_ETH_SIGSTORE_PYTHON to sigstore-python's `sigstore` program \
             (`make test` installs it into .venv-sigstore)"
        )
    });
    let bundle = dir.join(format!("{}.sigstore.json", case.name.replace(' ', "-")));
    std::fs::write(&bundle, case.bundle.to_string()).unwrap();
    let mut command = Command::new(&program);
    if case.staging {
        command.arg("--staging");
    }
    let output = command
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&bundle)
        .args([
            "--cert-identity",
            case.identity,
            "--cert-oidc-issuer",
            case.issuer,
        ])
        .arg(&case.artifact)
        // An empty home: no cached trust material but what the package ships.
        .env("HOME", dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; `make test` installs it"));
    output.status.success()
}

#[test]
fn we_and_sigstore_python_agree_on_real_bundles_and_their_mutations() {
    let dir = tempfile::tempdir().unwrap();
    const CONDA: &str = "conda-attestation.sigstore.json";
    const PACKAGE: &str = "signed-package-2.1.0-hb0f4dca_0.conda";
    let mut cases = vec![
        case("conda", CONDA, PACKAGE),
        Case {
            issuer: "https://github.com/login/oauth",
            identity: "w.vollprecht@gmail.com",
            ..case(
                "cosign blob",
                "cosign-v3-blob.sigstore.json",
                "cosign-v3-blob.txt",
            )
        },
        Case {
            identity:
                "https://github.com/prefix-dev/other/.github/workflows/x.yaml@refs/heads/main",
            ..case("another identity", CONDA, PACKAGE)
        },
        Case {
            issuer: "https://gitlab.com",
            ..case("another issuer", CONDA, PACKAGE)
        },
        case("another artifact", CONDA, "cosign-v3-blob.txt"),
    ];
    let mutations: [(&'static str, Mutation); 6] = [
        ("proof hash", |b| {
            flip(&mut entry(b)["inclusionProof"]["hashes"][0])
        }),
        ("proof root", |b| {
            flip(&mut entry(b)["inclusionProof"]["rootHash"])
        }),
        ("SET", |b| {
            flip(&mut entry(b)["inclusionPromise"]["signedEntryTimestamp"])
        }),
        ("integrated time", |b| {
            entry(b)["integratedTime"] = json!("1756728840")
        }),
        ("signature", |b| {
            flip(&mut b["dsseEnvelope"]["signatures"][0]["sig"])
        }),
        ("checkpoint", |b| {
            let checkpoint = &mut entry(b)["inclusionProof"]["checkpoint"]["envelope"];
            let edited = checkpoint
                .as_str()
                .unwrap()
                .replacen("334214816", "334214817", 1);
            *checkpoint = json!(edited);
        }),
    ];
    for (name, mutate) in mutations {
        let mut mutated = case(name, CONDA, PACKAGE);
        mutate(&mut mutated.bundle);
        cases.push(mutated);
    }
    // Rekor v2 (staging): as made, and with the proof's copy of the index
    // edited, which both refuse.
    let v2 = || Case {
        issuer: "https://github.com/login/oauth",
        identity: "jku@goto.fi",
        staging: true,
        ..case(
            "rekor v2",
            "conda-attestation-rekor2.sigstore.json",
            PACKAGE,
        )
    };
    cases.push(v2());
    let mut proof_index = Case {
        name: "rekor v2 proof index",
        ..v2()
    };
    entry(&mut proof_index.bundle)["inclusionProof"]["logIndex"] = json!("0");
    cases.push(proof_index);

    let mut accepted = 0;
    for case in &cases {
        let (ours, theirs) = (ours(case), theirs(case, dir.path()));
        assert_eq!(
            ours, theirs,
            "{}: we say {ours}, sigstore-python {theirs}",
            case.name
        );
        accepted += usize::from(ours);
    }
    assert_eq!(
        accepted, 3,
        "the three unmodified bundles, for their own signers"
    );

    // Where D-047 makes us stricter: a Rekor v2 entry whose top-level index
    // differs from its proof's passes sigstore-python (which reads only the
    // proof's) and is refused here.
    let mut top_level = Case {
        name: "rekor v2 top-level index",
        ..v2()
    };
    entry(&mut top_level.bundle)["logIndex"] = json!("1");
    assert!(theirs(&top_level, dir.path()), "sigstore-python accepts it");
    assert!(!ours(&top_level), "we refuse it");
}
