//! Throughput of seed-nix's parallel NAR hashing against `nix-hash`.
//!
//! ```console
//! $ cargo run --release -p seed-nix --example hash_throughput -- OUT.json [TOTAL_MB]
//! ```
//!
//! Creates about TOTAL_MB (default 200) of synthetic store paths with
//! `nix-store --add` (large files, many small files, executables, symlinks,
//! nested directories), reads them once to warm the page cache, then times
//! hashing all of them with seed-nix (all cores, and one thread) and with
//! `nix-hash --type sha256` (Nix's own NAR hashing, single-threaded), best
//! of three each. Checks that both agree, deletes the store paths again and
//! writes `{nar_hash_mb_s, nix_hash_mb_s, total_mb, paths, ...}` to OUT.json.
//! MB are 10^6 bytes of NAR serialisation.

use std::{
    error::Error,
    fs,
    num::NonZeroUsize,
    os::unix::fs::{symlink, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use seed_nix::{found_path, hash_paths, FoundPath, NarHash};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// Store paths to create: enough that every core has work, few enough that
/// a single path's size still matters.
const PATHS: usize = 24;
const ROUNDS: usize = 3;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: hash_throughput OUT.json [TOTAL_MB]")?,
    );
    let total_mb: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);

    let work = tempfile::tempdir()?;
    eprintln!("creating {total_mb} MB of synthetic store paths ...");
    let store_paths = create_store_paths(work.path(), total_mb * 1_000_000)?;
    let outcome = measure(&store_paths);
    // Delete the store paths whatever happened; they have no GC roots.
    let deleted = Command::new("nix-store")
        .arg("--delete")
        .args(&store_paths)
        .output();
    if !deleted.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("warning: could not delete the benchmark's store paths; `nix-store --gc` will");
    }
    let report = outcome?;
    fs::write(
        &out,
        format!("{}\n", serde_json::to_string_pretty(&report)?),
    )?;
    println!("{report}");
    Ok(())
}

fn measure(store_paths: &[PathBuf]) -> Result<serde_json::Value> {
    let found: Vec<FoundPath> = store_paths
        .iter()
        .map(|p| found_path(p.clone()))
        .collect::<std::result::Result<_, _>>()?;
    let threads = seed_nix::default_threads();

    // Warm the page cache so that neither side pays for the disk.
    let warm = hash_paths(&found, threads)?;
    let nar_bytes: u64 = warm.iter().map(|h| h.nar_size).sum();
    let ours: Vec<NarHash> = warm.iter().map(|h| h.nar_hash).collect();

    let parallel = best_of(|| Ok(hash_paths(&found, threads).map(drop)?))?;
    let single = best_of(|| Ok(hash_paths(&found, NonZeroUsize::MIN).map(drop)?))?;
    let mut theirs = Vec::new();
    let nix = best_of(|| {
        theirs = nix_hash(store_paths)?;
        Ok(())
    })?;
    if theirs != ours {
        return Err("seed-nix and nix-hash disagree on a NAR hash".into());
    }

    let mb = nar_bytes as f64 / 1e6;
    let rate = |d: Duration| (mb / d.as_secs_f64() * 10.0).round() / 10.0;
    Ok(serde_json::json!({
        "nar_hash_mb_s": rate(parallel),
        "nix_hash_mb_s": rate(nix),
        "total_mb": (mb * 10.0).round() / 10.0,
        "paths": store_paths.len(),
        "threads": threads.get(),
        "nar_hash_single_thread_mb_s": rate(single),
        "nix_version": nix_version(),
        "method": format!("best of {ROUNDS} warm-cache runs; MB = 10^6 bytes of NAR; nix-hash --type sha256 over all paths in one process"),
    }))
}

fn best_of(mut run: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

/// `nix-hash --type sha256` over all paths in one process: Nix's NAR hashing.
fn nix_hash(paths: &[PathBuf]) -> Result<Vec<NarHash>> {
    let output = Command::new("nix-hash")
        .args(["--type", "sha256"])
        .args(paths)
        .output()
        .map_err(|e| format!("cannot run nix-hash ({e}); install Nix"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned().into());
    }
    String::from_utf8(output.stdout)?
        .lines()
        .map(|hex| Ok(format!("sha256:{hex}").parse()?))
        .collect()
}

fn nix_version() -> String {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Creates `PATHS` store paths totalling about `total` bytes and returns them.
/// Half the bytes are in one large file per path, the rest in 4 KiB to
/// 256 KiB files over nested directories, as in a real closure.
fn create_store_paths(dir: &Path, total: u64) -> Result<Vec<PathBuf>> {
    let per_path = total / PATHS as u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut store_paths = Vec::with_capacity(PATHS);
    for index in 0..PATHS {
        let root = dir.join(format!("seed-nix-bench-{index}"));
        fs::create_dir_all(root.join("lib"))?;
        write_random(&root.join("lib/big.so"), per_path / 2, &mut rng)?;
        let mut written = per_path / 2;
        let mut file = 0;
        while written < per_path {
            let size = (4096 << (next(&mut rng) % 7)).min(per_path - written);
            let sub = root.join(format!("share/{}/{}", file % 7, file % 3));
            fs::create_dir_all(&sub)?;
            let path = sub.join(format!("f{file}"));
            write_random(&path, size, &mut rng)?;
            if file % 5 == 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            }
            written += size;
            file += 1;
        }
        symlink("lib/big.so", root.join("link"))?;
        let added = Command::new("nix-store").arg("--add").arg(&root).output()?;
        if !added.status.success() {
            return Err(String::from_utf8_lossy(&added.stderr).into_owned().into());
        }
        store_paths.push(PathBuf::from(String::from_utf8(added.stdout)?.trim()));
        fs::remove_dir_all(&root)?;
    }
    Ok(store_paths)
}

fn write_random(path: &Path, size: u64, rng: &mut u64) -> Result<()> {
    let mut bytes = Vec::with_capacity(size as usize + 8);
    while (bytes.len() as u64) < size {
        bytes.extend_from_slice(&next(rng).to_le_bytes());
    }
    // Odd sizes exercise NAR padding.
    bytes.truncate(size.saturating_sub(3) as usize);
    fs::write(path, bytes)?;
    Ok(())
}

/// xorshift64: fast, deterministic, incompressible enough for hashing.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
