//! `seed-eth bundle verify` as a user runs it, on real production and staging
//! bundles (crates/seed-sigstore/tests/data), offline.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const CONDA_IDENTITY: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";

fn data(name: &str) -> String {
    format!(
        "{}/../seed-sigstore/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn bundle_verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seed-eth"))
        .args(["--json", "bundle", "verify"])
        .args(args)
        .output()
        .unwrap()
}

fn conda(extra: &[&str]) -> Output {
    let bundle = data("conda-attestation.sigstore.json");
    let artifact = data("signed-package-2.1.0-hb0f4dca_0.conda");
    let mut args = vec!["--bundle", &bundle, "--artifact", &artifact];
    args.extend(extra);
    bundle_verify(&args)
}

fn outcome(out: &Output) -> (i32, Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code().unwrap(),
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("not JSON: {stdout}")),
    )
}

#[test]
fn a_production_bundle_verifies_for_its_signer_only() {
    let (code, report) = outcome(&conda(&["--issuer", GITHUB, "--identity", CONDA_IDENTITY]));
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["signer"]["identity"], CONDA_IDENTITY);
    assert_eq!(report["signer"]["issuer"], GITHUB);
    assert_eq!(report["logEntries"][0]["rekorVersion"], 1);
    assert_eq!(report["logEntries"][0]["logIndex"], 456_119_071);

    let (code, _) = outcome(&conda(&[
        "--issuer",
        GITHUB,
        "--identity-pattern",
        "^https://github\\.com/prefix-dev/sigstore-example/.*$",
    ]));
    assert_eq!(code, 0);

    // Another identity, another issuer, a pattern that does not match all of it.
    for signer in [
        [
            "--identity",
            "https://github.com/prefix-dev/other/.github/workflows/a.yaml@refs/heads/main",
        ],
        [
            "--identity-pattern",
            "^https://github\\.com/someone-else/.*$",
        ],
    ] {
        let (code, report) = outcome(&conda(&["--issuer", GITHUB, signer[0], signer[1]]));
        assert_eq!(code, 1, "{report}");
        assert!(
            report["error"].as_str().unwrap().contains(CONDA_IDENTITY),
            "{report}"
        );
    }
    let (code, _) = outcome(&conda(&[
        "--issuer",
        "https://gitlab.com",
        "--identity",
        CONDA_IDENTITY,
    ]));
    assert_eq!(code, 1);
}

#[test]
fn digests_trust_roots_and_rekor_v2() {
    // The npm provenance of sigstore 5.0.0, by its SHA-512 subject.
    let npm = data("npm_slsa_bundle_v03.json");
    let (code, report) = outcome(&bundle_verify(&[
        "--bundle",
        &npm,
        "--digest",
        "sha512:849a897e81bf7b8a8541a6ae40bd3473a27a16b1cb0462ad905bd6dc96d34881053a12eb4a375233f81677fc9439f628fe0b0445e8535c60b5559597fbd5f80e",
        "--issuer",
        GITHUB,
        "--identity",
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
    ]));
    assert_eq!(code, 0, "{report}");

    // A Rekor v2 bundle verifies against the staging root it was made with,
    // and not against the production root.
    let v2 = data("conda-attestation-rekor2.sigstore.json");
    let artifact = data("signed-package-2.1.0-hb0f4dca_0.conda");
    let staging = data("staging_trusted_root.json");
    let args = |root: Option<&str>| {
        let mut args = vec![
            "--bundle",
            &v2,
            "--artifact",
            &artifact,
            "--issuer",
            "https://github.com/login/oauth",
        ];
        args.extend(["--identity", "jku@goto.fi"]);
        if let Some(root) = root {
            args.extend(["--trusted-root", root]);
        }
        bundle_verify(&args)
    };
    let (code, report) = outcome(&args(Some(&staging)));
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["logEntries"][0]["rekorVersion"], 2);
    let (code, _) = outcome(&args(None));
    assert_eq!(code, 1);
}

#[test]
fn bad_inputs_exit_2_and_bundles_that_do_not_verify_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_bundle = dir.path().join("x.json");
    std::fs::write(&not_a_bundle, "{}").unwrap();
    let not_a_bundle = not_a_bundle.to_str().unwrap();
    let artifact = data("signed-package-2.1.0-hb0f4dca_0.conda");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["--bundle", not_a_bundle, "--artifact", &artifact],
            2,
            "not a readable Sigstore bundle",
        ),
        (
            vec!["--bundle", "/nonexistent", "--artifact", &artifact],
            2,
            "/nonexistent",
        ),
        (
            vec!["--bundle", not_a_bundle, "--digest", "md5:00"],
            2,
            "sha256:<hex>",
        ),
        (
            vec!["--bundle", not_a_bundle, "--artifact", "/nonexistent"],
            2,
            "--artifact",
        ),
        (
            vec![
                "--bundle",
                not_a_bundle,
                "--artifact",
                &artifact,
                "--trusted-root",
                not_a_bundle,
            ],
            2,
            "trust root",
        ),
    ];
    for (mut args, code, needle) in cases {
        args.extend(["--issuer", GITHUB, "--identity", CONDA_IDENTITY]);
        let (got, report) = outcome(&bundle_verify(&args));
        assert_eq!(got, code, "{args:?}: {report}");
        assert!(
            report["error"].as_str().unwrap().contains(needle),
            "{needle}: {report}"
        );
    }
    let (code, report) = outcome(&conda(&[
        "--issuer",
        GITHUB,
        "--identity-pattern",
        "prefix-dev",
    ]));
    assert_eq!(code, 2);
    assert!(
        report["error"].as_str().unwrap().contains("anchored"),
        "{report}"
    );

    // A forged inclusion proof, and another artifact: verified, and refused.
    let mut forged: Value = serde_json::from_str(
        &std::fs::read_to_string(data("conda-attestation.sigstore.json")).unwrap(),
    )
    .unwrap();
    let hash = &mut forged["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0];
    let flipped = hash
        .as_str()
        .unwrap()
        .replacen('A', "B", 1)
        .replacen('i', "j", 1);
    *hash = Value::String(flipped);
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let (code, report) = outcome(&bundle_verify(&[
        "--bundle",
        forged_path.to_str().unwrap(),
        "--artifact",
        &artifact,
        "--issuer",
        GITHUB,
        "--identity",
        CONDA_IDENTITY,
    ]));
    assert_eq!(code, 1, "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("inclusion proof"),
        "{report}"
    );
    let (code, _) = outcome(&bundle_verify(&[
        "--bundle",
        &data("conda-attestation.sigstore.json"),
        "--artifact",
        &data("cosign-v3-blob.txt"),
        "--issuer",
        GITHUB,
        "--identity",
        CONDA_IDENTITY,
    ]));
    assert_eq!(code, 1);
}

/// A bundle signed with a managed key and logged in the Rekor double verifies
/// for that key (given as --key) against the double's trusted root, and for
/// no other key.
#[test]
fn a_managed_key_bundle_verifies_for_its_key_only() {
    use seed_testkit::rekor::{managed_key_bundle, KeyPair, RekorLog};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let mut log = RekorLog::new();
    let artifact = write("artifact.txt", "a seed manifest");
    let bundle = managed_key_bundle(&mut log, &key, b"a seed manifest", 4);
    let bundle = write("bundle.json", &bundle.to_string());
    let root = write(
        "root.json",
        &log.trusted_root("http://127.0.0.1:1").to_string(),
    );
    let pem = write("key.pem", &key.public_key_der().unwrap().to_pem());
    let other = KeyPair::generate_ecdsa_p256().unwrap();
    let other_pem = write("other.pem", &other.public_key_der().unwrap().to_pem());

    let run = |key: &str| {
        outcome(&bundle_verify(&[
            "--bundle",
            &bundle,
            "--artifact",
            &artifact,
            "--key",
            key,
            "--trusted-root",
            &root,
        ]))
    };
    let (code, report) = run(&pem);
    assert_eq!(code, 0, "{report}");
    assert!(report["signer"]["key"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let (code, report) = run(&other_pem);
    assert_eq!(code, 1, "{report}");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("none of the 1 known keys"),
        "{report}"
    );
    // Without the double's root, its log is not trusted.
    let (code, _) = outcome(&bundle_verify(&[
        "--bundle",
        &bundle,
        "--artifact",
        &artifact,
        "--key",
        &pem,
    ]));
    assert_eq!(code, 1);
    // --key and --issuer are two ways of naming the signer, not one (a usage
    // error, from the argument parser).
    let out = bundle_verify(&[
        "--bundle",
        &bundle,
        "--artifact",
        &artifact,
        "--key",
        &pem,
        "--issuer",
        GITHUB,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--issuer"));
}
