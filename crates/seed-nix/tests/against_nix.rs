//! seed-nix against real Nix: store paths created offline with
//! `nix-store --add` and `builtins.toFile`, hashed by Nix and by us.
//!
//! These tests need Nix and fail, never skip, without it: a manifest that
//! was never compared with Nix's own hashes proves nothing.

// Helpers outside `#[test]` functions panic on failure too; that is the point.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use seed_nix::{
    found_path, manifest_of, nar, tree_manifest, ClosureManifest, NarHash, Nix, StorePath,
};

/// Runs a Nix tool and returns its trimmed stdout, failing loudly if Nix is missing.
fn nix_tool(program: &str, args: &[&str]) -> String {
    seed_testkit::nix::tool(program, args)
}

struct Fixture {
    /// The top of the closure.
    top: PathBuf,
    /// Every path of the closure.
    closure: Vec<PathBuf>,
}

/// The shared real closure (seed_testkit::nix::closure): every node kind,
/// file, executable and symlink store paths, and references between them.
fn fixture() -> Fixture {
    let closure = seed_testkit::nix::closure("seed-nix", "");
    Fixture {
        top: closure.top,
        closure: closure.paths,
    }
}

#[test]
fn nix_and_rust_agree_on_every_path_and_on_the_manifest() {
    let fx = fixture();
    let from_nix = Nix::default().closure_manifest(&fx.top).unwrap();

    // The closure is what `nix-store -qR` says, references included.
    let listed: Vec<PathBuf> = from_nix
        .entries()
        .iter()
        .map(|(path, _)| PathBuf::from(path.to_string()))
        .collect();
    let mut query_r: Vec<PathBuf> = nix_tool("nix-store", &["-qR", fx.top.to_str().unwrap()])
        .lines()
        .map(PathBuf::from)
        .collect();
    query_r.sort();
    assert_eq!(listed, query_r);
    assert_eq!(listed, fx.closure);

    // Each NAR hash equals Nix's, in all the ways Nix prints it.
    for (path, hash) in from_nix.entries() {
        let text = path.to_string();
        let (ours, size) = nar::hash_path(Path::new(&text)).unwrap();
        assert_eq!(&ours, hash, "{text}");
        let nix_hash = nix_tool("nix-hash", &["--type", "sha256", "--base32", &text]);
        assert_eq!(hash.to_string(), format!("sha256:{nix_hash}"), "{text}");
        let queried: NarHash = nix_tool("nix-store", &["--query", "--hash", &text])
            .parse()
            .unwrap();
        assert_eq!(&queried, hash, "{text}");
        let nar_size: u64 = nix_tool("nix-store", &["--query", "--size", &text])
            .parse()
            .unwrap();
        assert_eq!(size, nar_size, "{text}");
    }

    // (b) from an explicit list of the store paths, hashed in Rust.
    let found: Vec<_> = fx
        .closure
        .iter()
        .map(|p| found_path(p.clone()).unwrap())
        .collect();
    let (from_rust, hashed) = manifest_of(&found).unwrap();
    assert_eq!(from_rust, from_nix);
    assert_eq!(from_rust.digest(), from_nix.digest());
    assert_eq!(hashed.len(), fx.closure.len());

    // The manifest file format, checked against coreutils.
    let mut expected = String::new();
    for path in &fx.closure {
        let nix_hash = nix_tool(
            "nix-hash",
            &["--type", "sha256", "--base32", path.to_str().unwrap()],
        );
        expected.push_str(&format!("sha256:{nix_hash}  {}\n", path.display()));
    }
    assert_eq!(from_nix.to_string(), expected);
    let sha = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(expected.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let hex = String::from_utf8(sha.stdout).unwrap();
    assert_eq!(
        from_nix.digest().to_string(),
        format!("sha256:{}", &hex[..64])
    );
    assert_eq!(
        ClosureManifest::parse(expected.as_bytes()).unwrap(),
        from_nix
    );
}

#[test]
fn an_unpacked_tree_gives_the_same_manifest_as_nix() {
    let fx = fixture();
    let from_nix = Nix::default().closure_manifest(&fx.top).unwrap();
    for layout in ["nix/store", ""] {
        let root = tempfile::tempdir().unwrap();
        let store = root.path().join(layout);
        fs::create_dir_all(&store).unwrap();
        // `cp -a` keeps modes and symlinks, as unpacking an image does.
        let status = Command::new("cp")
            .arg("-a")
            .args(&fx.closure)
            .arg(&store)
            .status()
            .unwrap();
        assert!(status.success());
        // Seed-image metadata next to the store paths is not part of the manifest.
        fs::create_dir_all(store.join(".seed")).unwrap();
        fs::write(store.join(".seed/registration"), b"x").unwrap();
        let (from_tree, _) = tree_manifest(root.path()).unwrap();
        assert_eq!(from_tree, from_nix, "layout '{layout}'");
        make_writable(root.path());
    }
}

#[test]
fn nar_bytes_equal_nix_store_dump() {
    let fx = fixture();
    for path in &fx.closure {
        let dump = Command::new("nix-store")
            .arg("--dump")
            .arg(path)
            .output()
            .unwrap();
        assert!(dump.status.success());
        let mut ours = Vec::new();
        nar::dump(path, &mut ours).unwrap();
        assert!(
            ours == dump.stdout,
            "NAR of {} differs from nix-store --dump",
            path.display()
        );
    }
}

#[test]
fn store_paths_are_found_through_symlinks_and_from_inside() {
    let fx = fixture();
    let tree = fx
        .closure
        .iter()
        .find(|p| p.to_string_lossy().ends_with("-seed-nix-tree"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("result");
    symlink(&fx.top, &result).unwrap();
    let via_link = Nix::default().closure_manifest(&result).unwrap();
    assert_eq!(via_link, Nix::default().closure_manifest(&fx.top).unwrap());
    // A file inside a store path stands for the store path.
    let inside = Nix::default().closure(&tree.join("sub/run")).unwrap();
    assert_eq!(inside.len(), 1);
    assert_eq!(inside[0].0.to_string(), tree.to_string_lossy());
    // A store path that is itself a symlink is not followed out of itself.
    let link = fx
        .closure
        .iter()
        .find(|p| p.to_string_lossy().ends_with("-seed-nix-link"))
        .unwrap();
    assert_eq!(
        seed_nix::resolve_store_path(link).unwrap().to_string(),
        link.to_string_lossy()
    );
}

#[test]
fn nix_errors_are_reported_with_a_way_forward() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let err = Nix::default().closure(dir.path()).unwrap_err();
    assert!(err.to_string().contains("is not in the Nix store"), "{err}");
    let missing = StorePath::from_base_name("00000000000000000000000000000000-seed-nix-missing")
        .unwrap()
        .to_string();
    let err = Nix::default().closure(Path::new(&missing)).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // Nix's own refusal and unexpected output are passed on, named.
    for (script, expected) in [
        (
            "echo 'error: path is not valid' >&2; exit 1",
            "path is not valid",
        ),
        ("echo '{\"broken\"'", "unexpected output"),
    ] {
        let fake = dir.path().join("fake-nix");
        write_executable(&fake, &format!("#!/bin/sh\n{script}\n"));
        let err = Nix::new(&fake).closure(&fx.top).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    let err = Nix::new("/nonexistent/bin/nix")
        .closure(&fx.top)
        .unwrap_err();
    assert!(
        err.to_string().contains("install Nix") && err.to_string().contains("--tree"),
        "{err}"
    );
}

/// Writes a script that this process will execute, from a child process.
///
/// Writing it here would race with the other tests' threads: a thread that
/// forks to run Nix while this one holds the script open for writing gives the
/// child a copy of that descriptor until it execs, and executing the script in
/// that window fails with "Text file busy" (ETXTBSY). A descriptor that only a
/// short-lived child ever holds cannot leak into another thread's fork.
fn write_executable(path: &Path, body: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"printf '%s' "$2" > "$1" && chmod 755 "$1""#)
        .arg("write_executable")
        .arg(path)
        .arg(body)
        .status()
        .unwrap();
    assert!(status.success(), "could not write {}", path.display());
}

/// Copied store paths are read-only; make them removable so the temporary
/// directory is cleaned up when the test does not run as root.
fn make_writable(dir: &Path) {
    let _ = Command::new("chmod").arg("-R").arg("u+w").arg(dir).status();
}
