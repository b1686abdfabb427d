//! `make bench`'s keeper benchmark (docs/benchmarks.md): writes
//! `promotion_latency_ms_p50` / `_p95`, `backlog_releases`,
//! `backlog_seconds`, registry requests per promotion and `rss_mb` to a JSON
//! file.
//!
//! Real components only: a fresh anvil and a fresh CNCF Distribution registry
//! on loopback, the contracts deployed with `seed-eth deploy`, and the keeper
//! as the release `seed-eth keeper` process.
//!
//! 1. Latency: a keeper service (`--poll-ms`, `--confirmations 2`) runs while
//!    `LATENCY` releases are finalised one by one; for each, the clock starts
//!    when the block that makes the finalisation final is mined and stops when
//!    both systems' `{commit}-{system}` tags are readable in the registry.
//! 2. Backlog: with no keeper running, `BACKLOG` more releases are
//!    finalised; a fresh keeper (`--once`, new state file) then catches up on
//!    every release on the chain; its wall time is `backlog_seconds`, and
//!    the registry's access log gives what each promotion cost it
//!    (`backlog_registry_requests_per_promotion`, and apart from those the
//!    `/v2/` probes oci-client makes before each request to a registry that
//!    sets no auth challenge, `backlog_auth_probes_per_promotion`): counts,
//!    so unlike the seconds they do not depend on the host.
//! 3. `rss_mb`: the peak resident set (VmHWM) of either keeper process.
//! 4. A large seed (BIG_MB, default 1024, of synthetic store packed by
//!    mksquashfs as mkSeed does): the keeper's first promotion of it reads it
//!    whole (`big_seed_promotion_seconds`, `big_seed_bytes_pulled`); a
//!    second release with the same image digest reads nothing
//!    (`big_seed_again_*`), the content check being in the state file.
//!
//! Usage: `keeper_bench SEED_ETH_BINARY OUT.json [LATENCY] [BACKLOG] [POLL_MS] [BIG_MB]`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    primitives::{keccak256, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
};
use futures_util::StreamExt;
use seed_chain::{bindings::SeedRegistry, Deployment};
use seed_oci::{ImageContent, RegistryClient, Repository, Tag};
use seed_testkit::{anvil::TestAnvil, registry::TestRegistry};

const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
const CONFIRMATIONS: u64 = 2;

struct Bench {
    anvil: TestAnvil,
    client: RegistryClient,
    repo: Repository,
    host: String,
    registry: alloy::primitives::Address,
    builders: Vec<DynProvider>,
}

fn commit_of(i: usize) -> String {
    alloy::hex::encode(&keccak256(format!("bench release {i}").as_bytes())[..20])
}

/// What the synthetic seed of `system` of `commit` holds.
fn closure_of(commit: &str, system: &str) -> String {
    format!("closure {commit} {system}")
}

/// The manifest digest of that closure: what builders vote.
fn closure_digest(commit: &str, system: &str) -> seed_core::Sha256Digest {
    ImageContent::synthetic_seed(&closure_of(commit, system), "bench")
        .unwrap()
        .1
        .digest()
}

fn word(label: &str) -> B256 {
    keccak256(label.as_bytes())
}

impl Bench {
    async fn images(&self, commits: &[String]) -> Vec<Vec<seed_core::Sha256Digest>> {
        let jobs = commits.iter().map(|c| async move {
            let mut out = Vec::new();
            for s in SYSTEMS {
                let (image, _) = ImageContent::synthetic_seed(&closure_of(c, s), "bench").unwrap();
                out.push(
                    self.client
                        .push_image(&self.repo, &image, None)
                        .await
                        .unwrap()
                        .digest(),
                );
            }
            out
        });
        futures_util::stream::iter(jobs).buffered(8).collect().await
    }

    /// Builders `voters` vote every system of `commit` with its synthetic
    /// seed's manifest (the last vote finalises).
    async fn vote(&self, commit: &str, images: &[seed_core::Sha256Digest], voters: &[usize]) {
        let votes: Vec<_> = SYSTEMS
            .iter()
            .zip(images)
            .map(|(s, image)| (*image, closure_digest(commit, s)))
            .collect();
        self.vote_manifests(commit, &votes, voters).await;
    }

    /// Builders `voters` vote `(image, manifest)` for each system of `commit`.
    async fn vote_manifests(
        &self,
        commit: &str,
        votes: &[(seed_core::Sha256Digest, seed_core::Sha256Digest)],
        voters: &[usize],
    ) {
        let word_commit = commit.parse::<seed_core::CommitId>().unwrap().to_b256();
        for &b in voters {
            for (s, (image, manifest)) in SYSTEMS.iter().zip(votes) {
                let registry = SeedRegistry::new(self.registry, &self.builders[b]);
                // Automine: the transaction is mined when the call returns;
                // receipts are not awaited (alloy would poll for them).
                let pending = registry
                    .attest(
                        word_commit,
                        (*s).to_owned(),
                        manifest.as_b256(),
                        image.as_b256(),
                        word(&format!("statement {b} {commit} {s}")),
                    )
                    .send()
                    .await
                    .unwrap();
                let _ = pending.tx_hash();
            }
        }
    }

    async fn mine(&self, blocks: u64) {
        let provider = ProviderBuilder::new().connect_http(self.anvil.endpoint().parse().unwrap());
        let _: serde_json::Value = provider
            .raw_request("anvil_mine".into(), (format!("{blocks:#x}"),))
            .await
            .unwrap();
    }

    async fn tagged(&self, commit: &str) -> bool {
        for s in SYSTEMS {
            let tag: Tag = format!("{commit}-{s}").parse().unwrap();
            if self
                .client
                .pull_tag(&self.repo, &tag)
                .await
                .ok()
                .flatten()
                .is_none()
            {
                return false;
            }
        }
        true
    }

    /// Waits (up to 10 s) until the registry says `commit` is final: sent
    /// transactions are mined right after `send` returns, not before.
    async fn is_finalised(&self, commit: &str) -> bool {
        let registry = SeedRegistry::new(self.registry, &self.builders[0]);
        let word_commit = commit.parse::<seed_core::CommitId>().unwrap().to_b256();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if registry.isFinalised(word_commit).call().await.unwrap() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    }
}

fn keeper(seed_eth: &Path, dir: &Path, bench: &Bench, state: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(seed_eth);
    for (name, _) in std::env::vars() {
        if name.starts_with("SEED_ETH_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(dir)
        .args(["keeper", "--rpc-url", &bench.anvil.endpoint()])
        .args([
            "--source",
            &bench.repo.to_string(),
            "--plain-http",
            &bench.host,
        ])
        .args([
            "--confirmations",
            &CONFIRMATIONS.to_string(),
            "--state",
            state,
        ])
        .args(extra)
        .stdout(Stdio::null());
    match std::env::var_os("KEEPER_BENCH_LOG") {
        Some(path) => {
            command
                .env("SEED_ETH_LOG", "info")
                .stderr(std::fs::File::create(path).unwrap());
        }
        None => {
            command.stderr(Stdio::null());
        }
    }
    command
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Waits for `child`, sampling its peak RSS; returns (exit ok, peak kB).
fn wait_sampling(child: &mut Child) -> (bool, u64) {
    let mut peak = 0;
    loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.success(), peak);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed_eth = std::fs::canonicalize(&args[1]).expect("the seed-eth binary");
    let out = &args[2];
    let latency_releases: usize = args.get(3).map_or(50, |v| v.parse().unwrap());
    let backlog_releases: usize = args.get(4).map_or(1000, |v| v.parse().unwrap());
    let poll_ms: u64 = args.get(5).map_or(500, |v| v.parse().unwrap());
    let big_seed_mb: u64 = args.get(6).map_or(1024, |v| v.parse().unwrap());

    let anvil = TestAnvil::spawn().unwrap();
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deploy = Command::new(&seed_eth)
        .current_dir(dir.path())
        .args(["deploy", "--rpc-url", &anvil.endpoint()])
        .env("SEED_ETH_PRIVATE_KEY", anvil.private_key_hex(0))
        .output()
        .unwrap();
    assert!(
        deploy.status.success(),
        "{}",
        String::from_utf8_lossy(&deploy.stderr)
    );
    let deployment = Deployment::load(&dir.path().join("deployments/31337.json")).unwrap();
    let builders = (1..=3)
        .map(|i| {
            ProviderBuilder::new()
                .wallet(EthereumWallet::from(anvil.signer(i)))
                .connect_http(anvil.endpoint().parse().unwrap())
                .erased()
        })
        .collect();
    let host = registry.host();
    let bench = Bench {
        client: RegistryClient::plain_http(&[&host]).unwrap(),
        repo: format!("{host}/seed").parse().unwrap(),
        host,
        registry: deployment.contracts.registry,
        builders,
        anvil,
    };

    // Genesis (all three builders), promoted by the service below.
    let genesis = commit_of(usize::MAX);
    let images = bench.images(std::slice::from_ref(&genesis)).await;
    bench.vote(&genesis, &images[0], &[0, 1, 2]).await;
    assert!(bench.is_finalised(&genesis).await);

    // 1. Latency, against the keeper service.
    let poll = poll_ms.to_string();
    let mut service = keeper(
        &seed_eth,
        dir.path(),
        &bench,
        "service.sqlite",
        &["--poll-ms", &poll],
    )
    .spawn()
    .unwrap();
    bench.mine(CONFIRMATIONS).await;
    let start = Instant::now();
    while !bench.tagged(&genesis).await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the keeper did not promote genesis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let commits: Vec<String> = (0..latency_releases).map(commit_of).collect();
    let images = bench.images(&commits).await;
    let mut latencies = Vec::new();
    let mut service_peak = 0;
    for (commit, images) in commits.iter().zip(&images) {
        bench.vote(commit, images, &[0, 1]).await;
        assert!(bench.is_finalised(commit).await);
        // Desynchronise from the keeper's poll phase, as real blocks are.
        tokio::time::sleep(Duration::from_millis(rand_ms(commit, poll_ms))).await;
        bench.mine(CONFIRMATIONS).await;
        let t0 = Instant::now();
        while !bench.tagged(commit).await {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "no promotion of {commit}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
        service_peak = service_peak.max(peak_rss_kb(service.id()).unwrap_or(0));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status();
    let _ = service.wait();

    // 2. Backlog: finalise many releases with no keeper running.
    let commits: Vec<String> = (latency_releases..latency_releases + backlog_releases)
        .map(commit_of)
        .collect();
    let t = Instant::now();
    let images = bench.images(&commits).await;
    eprintln!("pushed {} images in {:?}", images.len() * 2, t.elapsed());
    let t = Instant::now();
    for (commit, images) in commits.iter().zip(&images) {
        bench.vote(commit, images, &[0, 1]).await;
    }
    assert!(bench.is_finalised(commits.last().unwrap()).await);
    eprintln!("finalised {} releases in {:?}", commits.len(), t.elapsed());
    bench.mine(CONFIRMATIONS).await;
    let total_releases = 1 + latency_releases + backlog_releases;
    let round = |v: f64, digits: i32| (v * 10f64.powi(digits)).round() / 10f64.powi(digits);
    let served_before = registry.requests().len();
    let t = Instant::now();
    let mut catch_up = keeper(&seed_eth, dir.path(), &bench, "backlog.sqlite", &["--once"])
        .spawn()
        .unwrap();
    let (ok, backlog_peak) = wait_sampling(&mut catch_up);
    let backlog_seconds = t.elapsed().as_secs_f64();
    assert!(ok, "the catch-up keeper failed");
    let served = registry.requests().split_off(served_before);
    let backlog_promotions = total_releases * SYSTEMS.len();
    let per_promotion = |n: usize| round(n as f64 / backlog_promotions as f64, 2);
    // oci-client asks `/v2/` for an auth challenge before every request to a
    // registry that sets none (as this one); counted apart.
    let auth_probes = served.iter().filter(|r| r.path == "/v2/").count();
    assert!(bench.tagged(commits.last().unwrap()).await);

    // 4. A large seed: its first promotion reads it whole (bytes pulled,
    // seconds); a second release of the same image digest reads nothing.
    let big = big_seed(&bench, dir.path(), big_seed_mb).await;
    let mut big_runs = Vec::new();
    for label in ["big seed", "big seed again"] {
        let commit = commit_of_label(label);
        let tiny = bench.images(std::slice::from_ref(&commit)).await.remove(0);
        bench
            .vote_manifests(
                &commit,
                &[
                    (tiny[0], closure_digest(&commit, SYSTEMS[0])),
                    (big.image, big.manifest),
                ],
                &[0, 1],
            )
            .await;
        assert!(bench.is_finalised(&commit).await);
        bench.mine(CONFIRMATIONS).await;
        let served_before = registry.requests().len();
        let t = Instant::now();
        let mut run = keeper(&seed_eth, dir.path(), &bench, "backlog.sqlite", &["--once"])
            .spawn()
            .unwrap();
        let (ok, peak) = wait_sampling(&mut run);
        let seconds = t.elapsed().as_secs_f64();
        assert!(ok, "the keeper failed to promote {label}");
        assert!(bench.tagged(&commit).await);
        let layer_path = format!("/blobs/{}", big.layer);
        let layer_reads = registry.requests()[served_before..]
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(&layer_path))
            .count();
        big_runs.push((seconds, layer_reads as u64 * big.layer_size, peak));
    }

    latencies.sort_by(f64::total_cmp);
    let result = serde_json::json!({
        "promotion_latency_ms_p50": round(percentile(&latencies, 50.0), 1),
        "promotion_latency_ms_p95": round(percentile(&latencies, 95.0), 1),
        "promotion_latency_releases": latencies.len(),
        "poll_interval_ms": poll_ms,
        "confirmations": CONFIRMATIONS,
        "backlog_releases": total_releases,
        "backlog_promotions": backlog_promotions,
        "backlog_seconds": round(backlog_seconds, 2),
        "backlog_registry_requests_per_promotion": per_promotion(served.len() - auth_probes),
        "backlog_auth_probes_per_promotion": per_promotion(auth_probes),
        "rss_mb": round(service_peak.max(backlog_peak) as f64 / 1024.0, 1),
        "rss_mb_service": round(service_peak as f64 / 1024.0, 1),
        "rss_mb_backlog": round(backlog_peak as f64 / 1024.0, 1),
        "binary": "target/release/seed-eth keeper",
        "big_seed_mb": round(big.content_bytes as f64 / 1e6, 1),
        "big_seed_layer_mb": round(big.layer_size as f64 / 1e6, 1),
        "big_seed_promotion_seconds": round(big_runs[0].0, 2),
        "big_seed_bytes_pulled": big_runs[0].1,
        "big_seed_rss_mb": round(big_runs[0].2 as f64 / 1024.0, 1),
        "big_seed_again_promotion_seconds": round(big_runs[1].0, 2),
        "big_seed_again_bytes_pulled": big_runs[1].1,
    });
    std::fs::write(out, serde_json::to_string_pretty(&result).unwrap()).unwrap();
    println!("{result}");
}

/// A seed pushed for the large-seed phase.
struct BigSeed {
    image: seed_core::Sha256Digest,
    manifest: seed_core::Sha256Digest,
    layer: seed_core::Sha256Digest,
    layer_size: u64,
    content_bytes: u64,
}

/// A synthetic store of `size_mb`, packed like a mkSeed squashfs (zstd, as
/// upstream) and pushed, streamed, as a seed image; its closure read once
/// here to know the manifest builders vote.
async fn big_seed(bench: &Bench, dir: &Path, size_mb: u64) -> BigSeed {
    let root = dir.join("big-store");
    let paths = seed_testkit::nix::synthetic_store(&root, size_mb << 20, 7);
    let squashfs = dir.join("big.squashfs");
    seed_testkit::nix::mksquashfs_seed(&paths, &squashfs, &[]);
    let closure =
        seed_image::squashfs::closure_of_file(&squashfs, "the big seed").expect("its closure");
    let pushed =
        seed_image::build::push_seed(&bench.client, &bench.repo, None, &squashfs, SYSTEMS[1])
            .await
            .expect("pushing the big seed");
    std::fs::remove_dir_all(&root).unwrap();
    BigSeed {
        image: pushed.manifest,
        manifest: closure.manifest.digest(),
        layer: pushed.layer,
        layer_size: pushed.layer_size,
        content_bytes: closure.paths.iter().map(|p| p.nar_size).sum(),
    }
}

fn commit_of_label(label: &str) -> String {
    alloy::hex::encode(&keccak256(label.as_bytes())[..20])
}

/// A deterministic pseudo-random delay in `0..poll_ms` per release.
fn rand_ms(commit: &str, poll_ms: u64) -> u64 {
    let h = keccak256(commit.as_bytes());
    u64::from(u16::from_be_bytes([h[0], h[1]])) % poll_ms.max(1)
}
