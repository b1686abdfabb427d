//! `make bench`'s Sigstore benchmark (docs/benchmarks.md): verifying one real
//! production bundle offline, cold (trust root parsed and verifier built each
//! time, as a fresh `seed-eth bundle verify` does) and warm (a verifier
//! reused, as the keeper does), beside sigstore-python 4.5.1 verifying the
//! same bundle in the same run (process start included, as a user runs it).
//!
//! `seed-eth bundle verify` on the same bundle is timed too (process start
//! included), the figure comparable with sigstore-python's.
//!
//! Usage: `bundle_bench SEED_ETH SIGSTORE_PYTHON OUT.json`; merges its keys
//! into OUT.json.

#![allow(clippy::unwrap_used, missing_docs)]

use std::{process::Command, time::Instant};

use seed_sigstore::{production_trust_root, BundleVerifier};

/// Runs of each measurement; the median is reported (the hosts are noisy).
const RUNS: usize = 50;
const PYTHON_RUNS: usize = 5;
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str =
    "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main";

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (seed_eth, python, out) = (&args[1], &args[2], &args[3]);
    let bundle = std::fs::read_to_string(data("conda-attestation.sigstore.json")).unwrap();
    let artifact = std::fs::read(data("signed-package-2.1.0-hb0f4dca_0.conda")).unwrap();

    let cold = median_ms(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let verifier = BundleVerifier::new(&production_trust_root().unwrap()).unwrap();
                verifier.verify(&bundle, artifact.as_slice(), &[]).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let verifier = BundleVerifier::new(&production_trust_root().unwrap()).unwrap();
    let warm = median_ms(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                verifier.verify(&bundle, artifact.as_slice(), &[]).unwrap();
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let cli_ms = median_ms(
        (0..PYTHON_RUNS * 2)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new(seed_eth)
                    .args(["bundle", "verify", "--bundle"])
                    .arg(data("conda-attestation.sigstore.json"))
                    .arg("--artifact")
                    .arg(data("signed-package-2.1.0-hb0f4dca_0.conda"))
                    .args(["--issuer", ISSUER, "--identity", IDENTITY])
                    .output()
                    .unwrap()
                    .status;
                assert!(status.success(), "seed-eth refused the bundle");
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    let home = tempfile::tempdir().unwrap();
    let python_ms = median_ms(
        (0..PYTHON_RUNS)
            .map(|_| {
                let start = Instant::now();
                let status = Command::new(python)
                    .args(["verify", "identity", "--offline", "--bundle"])
                    .arg(data("conda-attestation.sigstore.json"))
                    .args(["--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER])
                    .arg(data("signed-package-2.1.0-hb0f4dca_0.conda"))
                    .env("HOME", home.path())
                    .output()
                    .unwrap()
                    .status;
                assert!(status.success(), "sigstore-python refused the bundle");
                start.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    );
    println!(
        "one bundle: {cold:.2} ms cold, {warm:.2} ms warm in-process; `seed-eth bundle verify` \
         {cli_ms:.1} ms; sigstore-python {python_ms:.0} ms"
    );
    let mut results: serde_json::Map<String, serde_json::Value> = std::fs::read(out)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    for (key, value) in [
        ("bundle_verify_cold_ms", cold),
        ("bundle_verify_warm_ms", warm),
        ("seed_eth_bundle_verify_ms", cli_ms),
        ("sigstore_python_verify_ms", python_ms),
    ] {
        results.insert(key.to_owned(), serde_json::json!(value));
    }
    results.insert(
        "bundle_how".to_owned(),
        serde_json::json!("bundle_bench: a production GitHub Actions DSSE bundle (Rekor v1), offline; seed-sigstore in-process, median of 50 (cold: trust root parsed and verifier built each time); `seed-eth bundle verify` (median of 10) and sigstore-python 4.5.1's CLI (median of 5), process start included"),
    );
    std::fs::write(out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
}
