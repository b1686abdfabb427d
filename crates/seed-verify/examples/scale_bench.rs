//! `make bench`'s verification-at-scale benchmark (docs/benchmarks.md, issue 15): RPC requests
//! and wall time of `seed-eth verify` as the chain ages, the old path beside the new, counted
//! by the RPC double in front of a real anvil.
//!
//! For each chain age N (blocks mined between the deployment and the release):
//! 1. a fresh anvil, the contracts deployed with `seed-eth deploy`, N blocks mined with
//!    `anvil_mine`, a genesis release voted by the three default builders on two systems
//!    (six votes, six blocks), then 70 blocks so it is final on anvil;
//! 2. through the double, `--log-chunk 10` (the 10-block cap of Alchemy's free tier):
//!    - `commit`: `verify --commit` as it is (the stamped finalisation block, D-050);
//!    - `proofs`: `verify --proofs --commit` with a second endpoint agreeing on the hash;
//!    - `commit_scan`: `verify --commit` once the release's stamp is cleared
//!      (`anvil_setStorageAt`), which is exactly the path every release took before D-050:
//!      the history scanned from the deployment block;
//! 3. each runs once through the double, which counts its requests (the same every run), then
//!    RUNS times as a new process straight against anvil for the median wall time (the scan
//!    once: it takes long at large ages).
//!
//! Usage: `scale_bench SEED_ETH_BINARY OUT.json RUNS AGE...`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    collections::BTreeMap,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{keccak256, B256, U256},
    providers::{Provider, ProviderBuilder},
    sol_types::SolValue,
};
use seed_chain::{bindings::SeedRegistry, Deployment};
use seed_testkit::{
    anvil::TestAnvil,
    rpc::{RpcDouble, Rules},
};
use serde_json::{json, Value};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
const LOG_CHUNK: &str = "10";

fn seed_eth(binary: &Path, cwd: &Path, args: &[&str], envs: &[(&str, String)]) -> (i32, String) {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("SEED_ETH_") {
            command.env_remove(name);
        }
    }
    let out = command
        .current_dir(cwd)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn mine(endpoint: &str, blocks: u64) {
    let _: Value = ProviderBuilder::new()
        .connect_http(endpoint.parse().unwrap())
        .raw_request("anvil_mine".into(), (format!("{blocks:#x}"),))
        .await
        .unwrap();
}

/// The requests of one run through the double (by method), and the median wall time of `runs`
/// straight against anvil (the double's own latency left out). `args` takes the endpoints.
fn measure(
    binary: &Path,
    cwd: &Path,
    doubles: &[&RpcDouble],
    anvil: &str,
    args: &dyn Fn(&[String]) -> Vec<String>,
    runs: usize,
) -> (BTreeMap<String, usize>, Duration) {
    let run = |urls: Vec<String>| {
        let args = args(&urls);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        let (code, out) = seed_eth(binary, cwd, &args, &[]);
        let elapsed = start.elapsed();
        assert_eq!(code, 0, "{args:?}: {out}");
        elapsed
    };
    for double in doubles {
        double.reset_counts();
    }
    run(doubles.iter().map(|d| d.endpoint()).collect());
    let counts = doubles[0].counts().into_iter().collect();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| run(vec![anvil.to_owned(); doubles.len()]))
        .collect();
    times.sort();
    (counts, times[times.len() / 2])
}

async fn bench_age(binary: &Path, age: u64, runs: usize) -> Value {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = seed_eth(
        binary,
        dir.path(),
        &["deploy", "--rpc-url", &anvil.endpoint()],
        &[("SEED_ETH_PRIVATE_KEY", anvil.private_key_hex(0))],
    );
    assert_eq!(code, 0, "deploy: {out}");
    let deployment = Deployment::load(&dir.path().join("deployments/31337.json")).unwrap();
    let registry = deployment.contracts.registry;

    let mining = Instant::now();
    mine(&anvil.endpoint(), age).await;
    let mining = mining.elapsed();
    let commit = COMMIT.parse::<seed_core::CommitId>().unwrap().to_b256();
    for builder in 1..=3 {
        let provider = ProviderBuilder::new()
            .wallet(anvil.signer(builder))
            .connect_http(anvil.endpoint().parse().unwrap());
        for system in SYSTEMS {
            SeedRegistry::new(registry, &provider)
                .attest(
                    commit,
                    system.to_owned(),
                    keccak256(format!("closure {system}")),
                    keccak256(format!("image {builder} {system}")),
                    keccak256(format!("statement {builder} {system}")),
                )
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
        }
    }
    mine(&anvil.endpoint(), 70).await;

    let primary = RpcDouble::start(&anvil.endpoint(), Rules::default()).unwrap();
    let second = RpcDouble::start(&anvil.endpoint(), Rules::default()).unwrap();
    let plain = |urls: &[String]| -> Vec<String> {
        let mut args: Vec<String> = ["verify", "--log-chunk", LOG_CHUNK, "--commit", COMMIT]
            .map(str::to_owned)
            .to_vec();
        for url in urls {
            args.extend(["--rpc-url".to_owned(), url.clone()]);
        }
        args
    };
    let proven = |urls: &[String]| -> Vec<String> {
        let mut args = plain(urls);
        args.push("--proofs".to_owned());
        args
    };
    let endpoint = anvil.endpoint();
    let run = |doubles: &[&RpcDouble], args: &dyn Fn(&[String]) -> Vec<String>, runs: usize| {
        measure(binary, dir.path(), doubles, &endpoint, args, runs)
    };
    let commit_new = run(&[&primary], &plain, runs);
    let proofs = run(&[&primary, &second], &proven, runs);
    let second_requests = second.total_requests();

    // The release without its stamp: the path before D-050.
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint().parse().unwrap());
    let storage = U256::from_be_bytes(*alloy::primitives::b256!(
        "aa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100"
    )) + U256::from(7);
    let slot = keccak256((commit, storage).abi_encode());
    let word = provider
        .get_storage_at(registry, slot.into())
        .await
        .unwrap();
    let ones = |bits: usize| (U256::from(1) << bits) - U256::from(1);
    let stamp_bits: U256 = (ones(29) << 226) | (ones(14) << 146);
    let _: Value = provider
        .raw_request(
            "anvil_setStorageAt".into(),
            (registry, slot, B256::from(word & !stamp_bits)),
        )
        .await
        .unwrap();
    // The scan is slow at large ages: one timed run.
    let scan = run(&[&primary], &plain, 1);

    let entry = |(counts, time): &(BTreeMap<String, usize>, Duration)| {
        json!({
            "requests": counts.values().sum::<usize>(),
            "eth_getLogs": counts.get("eth_getLogs").copied().unwrap_or(0),
            "by_method": counts,
            "median_ms": (time.as_secs_f64() * 1e4).round() / 10.0,
        })
    };
    json!({
        "blocks_before_release": age,
        "anvil_mine_seconds": (mining.as_secs_f64() * 10.0).round() / 10.0,
        "commit": entry(&commit_new),
        "proofs": entry(&proofs),
        "proofs_second_endpoint_requests": second_requests,
        "commit_scan": entry(&scan),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, out, runs, ages @ ..] = args.as_slice() else {
        panic!("usage: scale_bench SEED_ETH_BINARY OUT.json RUNS AGE...");
    };
    let runs: usize = runs.parse().unwrap();
    // Each run's working directory is a fresh temporary one.
    let binary = std::fs::canonicalize(binary).unwrap();
    let mut results = Vec::new();
    for age in ages {
        let result = bench_age(&binary, age.parse().unwrap(), runs).await;
        eprintln!("{result}");
        results.push(result);
    }
    let document = json!({
        "log_chunk": LOG_CHUNK.parse::<u64>().unwrap(),
        "runs": runs,
        "ages": results,
    });
    if let Some(dir) = Path::new(out).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(out, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&document).unwrap());
}
