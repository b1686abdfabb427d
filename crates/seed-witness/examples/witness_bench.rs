//! The witness's costs (issue 14's goals), written as JSON to the file named
//! by the first argument:
//!
//! - verifying a consistency proof over a 10⁹-leaf tree (goal ≤ 50 µs);
//! - a witness following a log that grows by one entry per poll, over HTTP
//!   against the Rekor double: CPU per poll and state-file growth over
//!   1,800 polls (goal, for 3 logs at one checkpoint a second for 10
//!   minutes: ≤ 2 % of one core and ≤ 1 MB).
//!
//! `cargo run --release -p seed-witness --example witness_bench -- target/bench/witness.json`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::Path, time::Instant};

use seed_testkit::rekor::{RekorServer, ORIGIN};
use seed_witness::{
    log::{LogClient, RekorV1},
    proof::verify_consistency,
    Cosigner, LogKey, Observed, Vkey, Witness, WitnessedLog,
};
use sigstore_merkle::{hash_children, hash_leaf};
use sigstore_types::Sha256Hash;

/// The root of `n` identical leaves: only the size matters, so a 10⁹-leaf
/// tree costs O(log² n) hashes to describe (a perfect subtree of 2^k leaves
/// is k hashes up from the leaf).
fn uniform_root(n: u64, leaf: &Sha256Hash) -> Sha256Hash {
    if n.is_power_of_two() {
        let mut hash = *leaf;
        for _ in 0..n.trailing_zeros() {
            hash = hash_children(&hash, &hash);
        }
        return hash;
    }
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    hash_children(&uniform_root(k, leaf), &uniform_root(n - k, leaf))
}

/// RFC 6962 §2.1.2 PROOF(m, D[n]) over identical leaves.
fn subproof(m: u64, n: u64, complete: bool, leaf: &Sha256Hash, out: &mut Vec<[u8; 32]>) {
    if m == n {
        if !complete {
            out.push(*uniform_root(n, leaf).as_bytes());
        }
        return;
    }
    let k = 1u64 << (63 - (n - 1).leading_zeros());
    if m <= k {
        subproof(m, k, complete, leaf, out);
        out.push(*uniform_root(n - k, leaf).as_bytes());
    } else {
        subproof(m - k, n - k, false, leaf, out);
        out.push(*uniform_root(k, leaf).as_bytes());
    }
}

fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn state_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum()
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: witness_bench OUT.json");

    // 1. One consistency proof over a 10⁹-leaf tree.
    let leaf = hash_leaf(b"seed-eth");
    let (old, new) = (536_870_913, 1_000_000_000);
    let mut proof = Vec::new();
    subproof(old, new, true, &leaf, &mut proof);
    let (old_root, new_root) = (
        *uniform_root(old, &leaf).as_bytes(),
        *uniform_root(new, &leaf).as_bytes(),
    );
    verify_consistency(old, &old_root, new, &new_root, &proof).expect("the proof verifies");
    let rounds = 20_000;
    let start = Instant::now();
    for _ in 0..rounds {
        verify_consistency(old, &old_root, new, &new_root, &proof).unwrap();
    }
    let proof_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);

    // 2. A witness following a growing log over HTTP.
    let log = RekorServer::start().unwrap();
    log.lock().append(b"0".to_vec(), 1_700_000_000);
    let dir = tempfile::tempdir().unwrap();
    let followed = WitnessedLog {
        key: LogKey {
            origin: ORIGIN.to_owned(),
            vkey: Vkey::parse(&log.lock().vkey()).unwrap(),
        },
        client: Some(LogClient::RekorV1(RekorV1::new(&log.url()))),
    };
    let witness = Witness::open(
        vec![followed.clone()],
        Some(Cosigner::generate("bench.witness.test/w1").unwrap()),
        &dir.path().join("witness.sqlite"),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(witness.poll(&followed)).unwrap();
    let first_bytes = state_bytes(dir.path());
    let polls = 1_800u32;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for i in 1..=polls {
        log.lock().append(i.to_string().into_bytes(), 1_700_000_000);
        let observed = runtime.block_on(witness.poll(&followed)).unwrap();
        assert!(matches!(observed, Observed::Advanced { .. }));
    }
    let cpu = cpu_seconds() - cpu0;
    let wall = wall0.elapsed().as_secs_f64();
    let growth = state_bytes(dir.path()).saturating_sub(first_bytes);
    let cpu_per_poll_ms = cpu * 1e3 / f64::from(polls);
    // 3 logs, one checkpoint a second each: 3 polls a second.
    let cpu_percent_3_logs = cpu_per_poll_ms * 3.0 / 1e3 * 100.0;

    let result = serde_json::json!({
        "consistency_proof_1e9_us": proof_us,
        "consistency_proof_hashes": proof.len(),
        "polls": polls,
        "poll_wall_ms": wall * 1e3 / f64::from(polls),
        "poll_cpu_ms": cpu_per_poll_ms,
        "cpu_percent_3_logs_1_per_s": cpu_percent_3_logs,
        "state_growth_bytes_1800_checkpoints": growth,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    std::fs::write(out, serde_json::to_string_pretty(&result).unwrap()).unwrap();
}
