//! `make bench`'s image-content benchmark (docs/benchmarks.md), side by side
//! with what a user would otherwise run, in the same run:
//!
//! 1. A synthetic store of SIZE_MB (default 600) is packed the way upstream's
//!    mkSeed packs it (`mksquashfs … -comp zstd -Xcompression-level 9`).
//! 2. `seed-eth manifest --squashfs` on it (release build, process start
//!    included; wall time and peak RSS from `/usr/bin/time`), against
//!    `unsquashfs -d DIR` followed by `nix-hash --type sha256 --base32` per
//!    store path. Both manifests must be equal.
//! 3. The same store as one tar layer (GNU tar), read by seed-image's tar
//!    reader on one thread: MB/s of uncompressed layer, plain, gzip (-6) and
//!    zstd (-3); and, as gzip's floor, inflating alone (flate2, zlib-rs).
//!
//! Usage: `content_bench SEED_ETH_BINARY OUT.json [SIZE_MB]`; merges its keys
//! into OUT.json. With `CONTENT_BENCH_KEEP=1` the store, the squashfs and the
//! layers are kept (for profiling) and their directory printed.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{fs::File, io::BufReader, path::Path, process::Command, time::Instant};

use seed_image::{format::Compression, layers::Layers};
use seed_testkit::nix::{synthetic_store, tool};
use sha2::{Digest, Sha256};

/// Runs of each measurement; the median is reported (the hosts are noisy).
const RUNS: usize = 5;

fn timed(program: &str, args: &[&str]) -> (f64, f64, String) {
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%e %M", program])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap();
    let mut fields = last.split_whitespace();
    let seconds: f64 = fields.next().unwrap().parse().unwrap();
    let rss_kb: f64 = fields.next().unwrap().parse().unwrap();
    (
        seconds,
        rss_kb / 1024.0,
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn tar_throughput(layer: &Path, compression: Compression, tar_bytes: u64) -> f64 {
    let start = Instant::now();
    let mut layers = Layers::new();
    layers
        .add(
            BufReader::with_capacity(1 << 20, File::open(layer).unwrap()),
            compression,
            "bench",
        )
        .unwrap();
    layers.finish().unwrap();
    tar_bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed_eth = std::fs::canonicalize(&args[1]).expect("the seed-eth binary");
    let out = Path::new(&args[2]);
    let size_mb: u64 = args.get(3).map_or(600, |v| v.parse().unwrap());
    let bench_dir = out.parent().unwrap_or(Path::new("."));
    let dir = tempfile::tempdir_in(bench_dir).unwrap();
    let root = dir.path().join("root");
    let keep = std::env::var_os("CONTENT_BENCH_KEEP").is_some();

    eprintln!("content bench: writing a {size_mb} MB synthetic store ...");
    let paths = synthetic_store(&root, size_mb << 20, 42);
    let content_bytes: u64 = walk_size(&root);

    eprintln!("content bench: mksquashfs as mkSeed (zstd -9) ...");
    let squashfs = dir.path().join("store.squashfs");
    let start = Instant::now();
    seed_testkit::nix::mksquashfs_seed(&paths, &squashfs, &[]);
    let mksquashfs_seconds = start.elapsed().as_secs_f64();
    let squashfs_bytes = std::fs::metadata(&squashfs).unwrap().len();

    eprintln!("content bench: seed-eth manifest --squashfs ({RUNS} runs) ...");
    let file = squashfs.to_str().unwrap();
    let mut ours = Vec::new();
    let mut rss = 0f64;
    let mut digest = String::new();
    for _ in 0..RUNS {
        let (seconds, rss_mb, stdout) = timed(
            seed_eth.to_str().unwrap(),
            &["manifest", "--squashfs", file],
        );
        ours.push(seconds);
        rss = rss.max(rss_mb);
        digest = stdout;
    }

    eprintln!("content bench: unsquashfs + nix-hash per path ({RUNS} runs) ...");
    let mut baseline = Vec::new();
    let mut baseline_digest = String::new();
    for run in 0..RUNS {
        let unpacked = dir.path().join(format!("unpacked-{run}"));
        let start = Instant::now();
        tool(
            "unsquashfs",
            &[
                "-quiet",
                "-no-progress",
                "-d",
                unpacked.to_str().unwrap(),
                file,
            ],
        );
        let mut lines = Vec::new();
        for path in &paths {
            let name = path.file_name().unwrap().to_str().unwrap();
            let hash = tool(
                "nix-hash",
                &[
                    "--type",
                    "sha256",
                    "--base32",
                    unpacked.join(name).to_str().unwrap(),
                ],
            );
            lines.push(format!("sha256:{hash}  /nix/store/{name}\n"));
        }
        baseline.push(start.elapsed().as_secs_f64());
        // `paths` is sorted by name: the manifest's order.
        baseline_digest = format!("sha256:{}", hex::encode(Sha256::digest(lines.concat())));
        std::fs::remove_dir_all(&unpacked).unwrap();
    }
    assert_eq!(digest, baseline_digest, "the two manifests differ");

    eprintln!("content bench: tar layers ...");
    let tar = dir.path().join("layer.tar");
    let mut tar_args = vec![
        "-C".to_owned(),
        root.display().to_string(),
        "-cf".to_owned(),
        tar.display().to_string(),
    ];
    tar_args.extend(
        paths
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string()),
    );
    let tar_args: Vec<&str> = tar_args.iter().map(String::as_str).collect();
    tool("tar", &tar_args);
    let tar_bytes = std::fs::metadata(&tar).unwrap().len();
    tool("gzip", &["-6", "-k", tar.to_str().unwrap()]);
    let zst = dir.path().join("layer.tar.zst");
    let encoded = zstd::encode_all(File::open(&tar).unwrap(), 3).unwrap();
    std::fs::write(&zst, encoded).unwrap();
    let gz = dir.path().join("layer.tar.gz");
    let plain = median(
        (0..RUNS)
            .map(|_| tar_throughput(&tar, Compression::None, tar_bytes))
            .collect(),
    );
    let gzip = median(
        (0..RUNS)
            .map(|_| tar_throughput(&gz, Compression::Gzip, tar_bytes))
            .collect(),
    );
    let zstd_rate = median(
        (0..RUNS)
            .map(|_| tar_throughput(&zst, Compression::Zstd, tar_bytes))
            .collect(),
    );
    // The floor for gzip layers: inflating alone, nothing parsed or hashed.
    let inflate = median(
        (0..RUNS)
            .map(|_| {
                let start = Instant::now();
                let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                    1 << 20,
                    File::open(&gz).unwrap(),
                ));
                std::io::copy(&mut decoder, &mut std::io::sink()).unwrap();
                tar_bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
            })
            .collect(),
    );

    let ours = median(ours);
    let baseline = median(baseline);
    let mut results: serde_json::Map<String, serde_json::Value> = std::fs::read(out)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let entries = serde_json::json!({
        "content_seed_mb": content_bytes as f64 / 1e6,
        "content_store_paths": paths.len(),
        "content_squashfs_mb": squashfs_bytes as f64 / 1e6,
        "content_mksquashfs_seconds": mksquashfs_seconds,
        "manifest_squashfs_seconds": ours,
        "manifest_squashfs_rss_mb": rss,
        "baseline_unsquashfs_nix_hash_seconds": baseline,
        "manifest_squashfs_speedup": baseline / ours,
        "tar_layer_mb": tar_bytes as f64 / 1e6,
        "tar_mb_per_s_plain": plain,
        "tar_mb_per_s_gzip": gzip,
        "tar_mb_per_s_zstd": zstd_rate,
        "gzip_inflate_only_mb_per_s": inflate,
        "content_how": "content_bench: synthetic store, mksquashfs with mkSeed's flags; seed-eth manifest --squashfs (release, process start included) vs unsquashfs -d + nix-hash per path; seed-image tar reader on one thread; medians of 5 runs",
    });
    for (key, value) in entries.as_object().unwrap() {
        results.insert(key.clone(), value.clone());
    }
    std::fs::write(out, serde_json::to_vec_pretty(&results).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&entries).unwrap());
    if keep {
        eprintln!("content bench: kept {}", dir.keep().display());
    }
}

fn walk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            total += walk_size(&entry.path());
        } else {
            total += meta.len();
        }
    }
    total
}
