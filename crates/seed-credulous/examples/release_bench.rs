//! `make bench`'s Credulous release benchmark (docs/benchmarks.md): a
//! 3-builder × 4-system release (12 bundles, logged in the Rekor v1 double,
//! attached to four seed images in a real registry on loopback) verified from
//! the images' referrers: in-process with and without the content check, and
//! as a user runs it, `seed-eth verify --posture credulous` (process start
//! included).
//!
//! Usage: `release_bench SEED_ETH OUT.json`; merges its keys into OUT.json.

#![allow(clippy::unwrap_used, missing_docs)]

use std::{process::Command, time::Instant};

use seed_core::{CommitId, Sha256Digest};
use seed_credulous::{attest, verify_release};
use seed_oci::{ImageContent, RegistryClient, Repository};
use seed_sigstore::{
    trust_root_from_json, BundleVerifier, Credential, CredulousPolicy, RekorWriter, Retry,
    SigningKey,
};
use seed_statement::{Builder, NixSettings, Predicate, SigstoreBuilder, Source, Statement};
use seed_testkit::{registry::TestRegistry, rekor::RekorServer};

const SYSTEMS: [&str; 4] = [
    "aarch64-darwin",
    "aarch64-linux",
    "x86_64-darwin",
    "x86_64-linux",
];
const RUNS: usize = 20;
const CLI_RUNS: usize = 10;

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (seed_eth, out) = (&args[1], &args[2]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = TestRegistry::start().unwrap();
    let rekor = RekorServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = RegistryClient::plain_http(&[&registry.host()]).unwrap();
    let repo: Repository = format!("{}/seed", registry.host()).parse().unwrap();
    let commit: CommitId = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
    let root_json = rekor.trusted_root().to_string();
    let verifier = BundleVerifier::new(&trust_root_from_json(&root_json).unwrap()).unwrap();
    let keys: Vec<Credential> = (0..3)
        .map(|_| Credential::Key(SigningKey::generate().unwrap()))
        .collect();

    let mut policy = format!(
        "threshold = 2\nsystems = [{}]\n",
        SYSTEMS.map(|s| format!("\"{s}\"")).join(", ")
    );
    for (i, key) in keys.iter().enumerate() {
        policy += &format!(
            "\n[[builder]]\nname = \"b{i}\"\npublic-key = \"\"\"\n{}\"\"\"\norganisation = \"o{i}\"\njurisdiction = \"j{i}\"\ninfrastructure = \"i{i}\"\n",
            key.key().unwrap().public_key_pem()
        );
    }
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, &policy).unwrap();
    let root_path = dir.path().join("trusted_root.json");
    std::fs::write(&root_path, &root_json).unwrap();
    let policy = CredulousPolicy::from_toml(policy.as_bytes()).unwrap();

    let rekor_writer = RekorWriter::new(&rekor.url(), Retry::default()).unwrap();
    let mut images: Vec<(Repository, Sha256Digest)> = Vec::new();
    for system in SYSTEMS {
        let (content, holds) = ImageContent::synthetic_seed(system, "bench").unwrap();
        let image = runtime
            .block_on(client.push_image(&repo, &content, None))
            .unwrap()
            .digest();
        for key in &keys {
            let statement = Statement::new(Predicate {
                source: Source {
                    repository: "https://github.com/seed-eth/bench".parse().unwrap(),
                    commit,
                    flake_lock: holds.digest(),
                },
                system: system.parse().unwrap(),
                closure_manifest: holds.digest(),
                image: repo.image_ref(&image).unwrap(),
                builder: Builder::Sigstore(SigstoreBuilder::Key {
                    fingerprint: key.key().unwrap().fingerprint().parse().unwrap(),
                }),
                run_id: "1".parse().unwrap(),
                nix: NixSettings::from_show_config("sandbox = true\nsubstituters =\n").unwrap(),
                build_time: "2026-12-02T12:00:00Z".parse().unwrap(),
            })
            .unwrap();
            runtime
                .block_on(attest(
                    &statement,
                    key,
                    std::slice::from_ref(&rekor_writer),
                    None,
                    &verifier,
                    None,
                    Some((&client, &repo)),
                ))
                .unwrap();
        }
        images.push((repo.clone(), image));
    }

    let in_process = |content: bool| {
        median_ms(
            (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    let report = runtime
                        .block_on(verify_release(
                            &client, &verifier, &policy, &commit, &images, content, None,
                        ))
                        .unwrap();
                    assert!(report.verified(), "{:?}", report.failures);
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    let with_content = in_process(true);
    let without_content = in_process(false);
    let image_args: Vec<String> = images
        .iter()
        .flat_map(|(repo, digest)| ["--image".to_owned(), format!("{repo}@{digest}")])
        .collect();
    let cli = median_ms(
        (0..CLI_RUNS)
            .map(|_| {
                let start = Instant::now();
                let output = Command::new(seed_eth)
                    .args(["verify", "--posture", "credulous", "--policy"])
                    .arg(&policy_path)
                    .arg("--trusted-root")
                    .arg(&root_path)
                    .args([
                        "--commit",
                        &commit.to_string(),
                        "--plain-http",
                        &registry.host(),
                    ])
                    .args(&image_args)
                    .output()
                    .unwrap();
                assert!(
                    output.status.success(),
                    "seed-eth refused the release: {}",
                    String::from_utf8_lossy(&output.stdout)
                );
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    println!(
        "3 builders x 4 systems from referrers: {with_content:.1} ms in-process with content, \
         {without_content:.1} ms without; `seed-eth verify --posture credulous` {cli:.1} ms"
    );
    let mut results: serde_json::Map<String, serde_json::Value> = std::fs::read(out)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    for (key, value) in [
        ("credulous_release_verify_ms", with_content),
        ("credulous_release_verify_no_content_ms", without_content),
        ("seed_eth_verify_credulous_ms", cli),
    ] {
        results.insert(key.to_owned(), serde_json::json!(value));
    }
    results.insert(
        "credulous_how".to_owned(),
        serde_json::json!("release_bench: 3 managed-key builders x 4 systems, 12 bundles in the Rekor v1 double attached to 4 synthetic seeds in docker-registry on loopback; verify_release in-process (median of 20, with and without reading each image's content) and `seed-eth verify --posture credulous` (median of 10, process start included)"),
    );
    std::fs::write(out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
}
