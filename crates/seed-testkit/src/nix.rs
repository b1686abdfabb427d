//! Real Nix closures and real seeds for tests: store paths created offline
//! with `nix-store --add` and `builtins.toFile` (no nixpkgs), and squashfs
//! seeds packed by Debian's `mksquashfs` with the flags upstream's `mkSeed`
//! uses, as the independent producer our reader is checked against.

// Helpers for tests panic on failure; a fixture that cannot be built is a
// failed test that says why.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::{
    fs,
    os::unix::fs::{symlink, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
};

/// Runs a tool and returns its trimmed stdout; a missing tool or a failure
/// panics with the way to install it.
pub fn tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "this test needs '{program}' and it cannot be run ({e}); `make setup` installs it \
             (Debian: nix-bin, squashfs-tools)"
            )
        });
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Adds `path` to the Nix store and returns its store path.
pub fn add_to_store(path: &Path) -> PathBuf {
    PathBuf::from(tool("nix-store", &["--add", path.to_str().unwrap()]))
}

/// A text store path whose content names `refs`, so Nix records them as its
/// references.
pub fn to_file_referencing(name: &str, refs: &[&Path]) -> PathBuf {
    let body: String = refs
        .iter()
        .map(|r| format!("${{builtins.storePath {}}}\n", r.display()))
        .collect();
    let expr = format!("builtins.toFile \"{name}\" ''\n{body}''");
    let out = tool(
        "nix-instantiate",
        &["--eval", "--read-write-mode", "--json", "-E", &expr],
    );
    PathBuf::from(out.trim_matches('"'))
}

/// Writes a directory with every kind of NAR node and the padding and
/// ordering edge cases, named `name`, under `dir`; `variant` changes one
/// file's contents (a trojan of the same shape).
pub fn write_tree(dir: &Path, name: &str, variant: &str) -> PathBuf {
    let root = dir.join(name);
    fs::create_dir_all(root.join("sub/deep/er")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("eight"), b"12345678").unwrap();
    fs::write(root.join("odd"), format!("thirteen byte{variant}")).unwrap();
    // Larger than a squashfs block and a read buffer, and not a multiple of 8.
    let big: Vec<u8> = (0..300_003u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(root.join("sub/big.bin"), big).unwrap();
    fs::write(root.join("sub/deep/er/leaf"), b"leaf\n").unwrap();
    let exe = root.join("sub/run");
    fs::write(&exe, b"#!/bin/sh\necho seed\n").unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    symlink("../odd", root.join("sub/relative-link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    // Names whose byte order differs from a case-insensitive or locale order.
    for name in ["B", "a", "a-b", "a.b", "_", "\u{e4}"] {
        fs::write(root.join(name), name.as_bytes()).unwrap();
    }
    root
}

/// A real closure in the local Nix store: a tree of every node kind, a
/// single-file path, an executable path, a symlink path, and two text paths
/// whose references pull the others in.
pub struct Closure {
    /// The top of the closure: what a builder would attest.
    pub top: PathBuf,
    /// Every path of the closure, sorted.
    pub paths: Vec<PathBuf>,
}

/// Builds [`Closure`] with store paths named after `label` (different labels
/// give disjoint closures; the same label gives the same store paths).
/// `variant` changes one file of the tree path, which changes its store path
/// too, so a trojan built this way has other path names than the honest one.
pub fn closure(label: &str, variant: &str) -> Closure {
    let dir = tempfile::tempdir().unwrap();
    let tree = add_to_store(&write_tree(dir.path(), &format!("{label}-tree"), variant));
    let single = dir.path().join(format!("{label}-single"));
    fs::write(&single, b"a single regular file").unwrap();
    let single = add_to_store(&single);
    let exe = dir.path().join(format!("{label}-exe"));
    fs::write(&exe, b"#!/bin/sh\n").unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let exe = add_to_store(&exe);
    let link = dir.path().join(format!("{label}-link"));
    symlink(&single, &link).unwrap();
    let link = add_to_store(&link);
    let middle = to_file_referencing(&format!("{label}-middle"), &[&tree, &link, &single]);
    let top = to_file_referencing(&format!("{label}-top"), &[&middle, &exe]);
    let mut paths = vec![tree, single, exe, link, middle, top.clone()];
    paths.sort();
    Closure { top, paths }
}

/// The `.seed/registration` of `paths` (in a real store or a test tree): each
/// path's NAR hash and size, as `nix-store --dump-db` writes them, without
/// references or derivers.
pub fn registration(paths: &[PathBuf]) -> Vec<u8> {
    let mut records: Vec<seed_nix::Registration> = paths
        .iter()
        .map(|path| {
            // NAR hashing recurses per directory level; some tests nest deep.
            let (nar_hash, nar_size) = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(scope, || seed_nix::nar::hash_path(path).unwrap())
                    .unwrap()
                    .join()
                    .unwrap()
            });
            seed_nix::Registration {
                path: seed_nix::StorePath::from_base_name(
                    path.file_name().unwrap().to_str().unwrap(),
                )
                .unwrap(),
                nar_hash,
                nar_size,
                deriver: String::new(),
                references: Vec::new(),
            }
        })
        .collect();
    records.sort_by(|a, b| a.path.cmp(&b.path));
    seed_nix::write_registrations(&records)
}

/// Packs `paths` into a squashfs seed at `out` exactly as upstream's `mkSeed`
/// does on Linux: `-keep-as-directory -all-root -no-hardlinks`, zstd level 9,
/// and a `.seed/` directory holding `registration` and an `env` link.
/// Extra `mksquashfs` arguments (`-b 4096`, `-comp gzip`, …) follow.
pub fn mksquashfs_seed(paths: &[PathBuf], out: &Path, extra: &[&str]) {
    let staging = tempfile::tempdir().unwrap();
    let seed_dir = staging.path().join(".seed");
    fs::create_dir_all(&seed_dir).unwrap();
    fs::write(seed_dir.join("registration"), registration(paths)).unwrap();
    symlink(
        Path::new(seed_nix::STORE_DIR).join(paths[0].file_name().unwrap()),
        seed_dir.join("env"),
    )
    .unwrap();
    let mut roots = paths.to_vec();
    roots.push(seed_dir);
    mksquashfs_roots(&roots, out, extra);
}

/// Packs `roots` (each becomes an entry of the image's root) with `mkSeed`'s
/// flags, and `extra` after them.
pub fn mksquashfs_roots(roots: &[PathBuf], out: &Path, extra: &[&str]) {
    let mut args: Vec<String> = roots.iter().map(|p| p.display().to_string()).collect();
    args.push(out.display().to_string());
    for flag in [
        "-keep-as-directory",
        "-all-root",
        "-no-hardlinks",
        "-noappend",
        "-quiet",
        "-no-progress",
    ] {
        args.push(flag.to_owned());
    }
    if !extra.contains(&"-comp") {
        args.extend(["-comp", "zstd", "-Xcompression-level", "9"].map(str::to_owned));
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("mksquashfs", &args);
}

/// Writes `paths` (under `root`, which stands for `/`: `/` itself for the
/// real store) as one tar layer the way nixpkgs' dockerTools
/// `streamLayeredImage` does (Python's `tarfile`, as `stream_layered_image.py`
/// uses it): `/nix` and `/nix/store` first, then each path and everything
/// under it, sorted, with absolute names, fixed owners and times, and hard
/// links written as files. `compression` is `""`, `"gz"` or `"xz"` (a
/// `tarfile` mode suffix).
pub fn docker_tools_layer(root: &Path, paths: &[PathBuf], out: &Path, compression: &str) {
    const SCRIPT: &str = r#"
import pathlib, sys, tarfile
out, mode, root, paths = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4:]
def fix(ti):
    ti.mtime = 1; ti.uid = ti.gid = 0; ti.uname = ti.gname = "root"
    return ti
with tarfile.open(out, "w:" + mode if mode else "w", format=tarfile.PAX_FORMAT) as tar:
    for d in ("/nix", "/nix/store"):
        ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o555
        tar.addfile(fix(ti))
    for path in paths:
        path = pathlib.Path(path)
        files = [path] if path.is_symlink() else [path, *path.rglob("*")]
        for name in sorted(files):
            ti = fix(tar.gettarinfo(name))
            ti.name = "/" + str(name.relative_to(root))
            if ti.islnk():
                ti.type = tarfile.REGTYPE; ti.linkname = ""; ti.size = name.stat().st_size
            if ti.isreg():
                with open(name, "rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)
"#;
    let mut args = vec![
        "-c".to_owned(),
        SCRIPT.to_owned(),
        out.display().to_string(),
        compression.to_owned(),
        root.display().to_string(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("python3", &args);
}

/// Writes `paths` (under `root`, which stands for `/`) as a tar layer with
/// GNU tar, relative names (`nix/store/…`), in the order the file system
/// lists directories (no `--sort`), hard links kept as links: the layer a
/// hand-written script makes.
pub fn gnu_tar_layer(root: &Path, paths: &[PathBuf], out: &Path) {
    let mut args = vec![
        "-C".to_owned(),
        root.display().to_string(),
        "-cf".to_owned(),
        out.display().to_string(),
        "--format=gnu".to_owned(),
    ];
    args.extend(paths.iter().map(|p| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .display()
            .to_string()
            .trim_start_matches('/')
            .to_owned()
    }));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("tar", &args);
}

/// Writes a synthetic store of about `total_bytes` under `root/nix/store` for
/// benchmarks, deterministically from `seed`, shaped like a devShell closure:
/// many store paths (most under 2 MB, some up to 20 MB, a few up to 80 MB),
/// each a `bin/`, `lib/` and `share/doc/` tree of files (most small, some
/// medium, a few of several MB) whose bytes compress about as well as
/// binaries do under zstd (roughly 2.5:1: half repeated runs, half drawn from
/// a small alphabet). Returns the store paths, sorted.
pub fn synthetic_store(root: &Path, total_bytes: u64, seed: u64) -> Vec<PathBuf> {
    const NIX32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let store = root.join("nix/store");
    fs::create_dir_all(&store).unwrap();
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut written = 0u64;
    let mut paths = Vec::new();
    let mut chunk = vec![0u8; 64];
    while written < total_bytes {
        let hash: String = (0..32)
            .map(|_| NIX32[(next() % 32) as usize] as char)
            .collect();
        let path = store.join(format!("{hash}-bench-{}", paths.len()));
        for dir in ["bin", "lib", "share/doc"] {
            fs::create_dir_all(path.join(dir)).unwrap();
        }
        let path_bytes = match next() % 10 {
            0..=5 => 50_000 + next() % 2_000_000,
            6..=8 => 2_000_000 + next() % 18_000_000,
            _ => 20_000_000 + next() % 60_000_000,
        };
        let mut in_path = 0u64;
        let mut i = 0;
        while in_path < path_bytes {
            let size = match next() % 100 {
                0..=69 => 100 + next() % 16_000,
                70..=94 => 16_000 + next() % 1_000_000,
                _ => 1_000_000 + next() % 8_000_000,
            }
            .min(path_bytes - in_path + 100);
            let dir = ["bin", "lib", "share/doc"][(next() % 3) as usize];
            let mut bytes = Vec::with_capacity(size as usize);
            while (bytes.len() as u64) < size {
                if next() % 2 == 0 && bytes.len() >= 64 {
                    let from = (next() as usize) % (bytes.len() - 63);
                    chunk.copy_from_slice(&bytes[from..from + 64]);
                } else {
                    for byte in chunk.iter_mut() {
                        *byte = b"etaoinshrdlu_./0"[(next() % 16) as usize];
                    }
                }
                bytes.extend_from_slice(&chunk);
            }
            bytes.truncate(size as usize);
            let file = path.join(dir).join(format!("f{i}"));
            fs::write(&file, &bytes).unwrap();
            if dir == "bin" {
                fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
            }
            in_path += size;
            i += 1;
        }
        written += in_path;
        paths.push(path);
    }
    paths.sort();
    paths
}
