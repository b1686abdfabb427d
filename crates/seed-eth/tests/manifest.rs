//! `seed-eth manifest` as a user runs it, against real Nix store paths.
//!
//! Needs Nix (`nix-store`, `nix-instantiate`, `nix`) and fails, never skips,
//! without it; CI installs it.

// Helpers outside `#[test]` functions panic on failure too; that is the point.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn seed_eth(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seed-eth"))
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run seed-eth")
}

fn nix_tool(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| {
        panic!(
            "these tests need Nix, and '{program}' cannot be run ({e}). Install Nix \
             (Debian/Ubuntu: `apt-get install nix-bin`; elsewhere https://nixos.org/download); CI installs it"
        )
    });
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A three-path closure: a directory, a file, and a text file naming both.
fn closure(dir: &Path) -> (PathBuf, Vec<String>) {
    let tree = dir.join("seed-eth-cli-tree");
    fs::create_dir_all(tree.join("bin")).unwrap();
    fs::write(tree.join("bin/tool"), b"#!/bin/sh\n").unwrap();
    fs::write(tree.join("data"), b"seven b").unwrap();
    let tree = nix_tool("nix-store", &["--add", tree.to_str().unwrap()]);
    let file = dir.join("seed-eth-cli-file");
    fs::write(&file, b"").unwrap();
    let file = nix_tool("nix-store", &["--add", file.to_str().unwrap()]);
    let expr = format!(
        "builtins.toFile \"seed-eth-cli-top\" \"${{builtins.storePath {tree}}} ${{builtins.storePath {file}}}\""
    );
    let top = nix_tool(
        "nix-instantiate",
        &["--eval", "--read-write-mode", "--json", "-E", &expr],
    );
    let top = top.trim_matches('"').to_owned();
    let result = dir.join("result");
    symlink(&top, &result).unwrap();
    let mut paths = vec![tree, file, top];
    paths.sort();
    (result, paths)
}

/// Arguments, extra environment and the reason stderr must contain.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

fn stdout(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn store_path_and_tree_give_the_same_digest_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let (result, paths) = closure(dir.path());
    let result = result.to_str().unwrap();

    let digest = stdout(&seed_eth(&["manifest", "--store-path", result], &[]));
    assert!(
        digest.starts_with("sha256:") && digest.len() == 72,
        "{digest:?}"
    );

    let file = dir.path().join("closure.manifest");
    let out = seed_eth(
        &[
            "--json",
            "manifest",
            "--store-path",
            result,
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["digest"], digest.trim());
    assert_eq!(report["manifestFile"], file.to_str().unwrap());
    let listed: Vec<&str> = report["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, paths);
    let written = fs::read(&file).unwrap();
    let sha = Command::new("sha256sum").arg(&file).output().unwrap();
    assert_eq!(
        format!("sha256:{}", &String::from_utf8_lossy(&sha.stdout)[..64]),
        digest.trim()
    );
    assert!(written.ends_with(b"\n"));
    assert_eq!(written.iter().filter(|b| **b == b'\n').count(), 3);

    // The same closure copied out of the store, as an unpacked image would be.
    let image = dir.path().join("image");
    fs::create_dir_all(image.join("nix/store")).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .args(&paths)
        .arg(image.join("nix/store"))
        .status()
        .unwrap();
    assert!(copied.success());
    let from_tree = stdout(&seed_eth(
        &["manifest", "--tree", image.to_str().unwrap()],
        &[],
    ));
    assert_eq!(from_tree, digest);
    // Without Nix on PATH the tree still works.
    let from_tree = stdout(&seed_eth(
        &["manifest", "--tree", image.to_str().unwrap()],
        &[
            ("PATH", "/nonexistent"),
            ("SEED_ETH_NIX", "/nonexistent/nix"),
        ],
    ));
    assert_eq!(from_tree, digest);
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("u+w")
        .arg(&image)
        .status();
}

#[test]
fn bad_inputs_exit_2_and_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (result, _) = closure(dir.path());
    let result = result.to_str().unwrap();
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let stray = dir.path().join("stray");
    fs::create_dir(&stray).unwrap();
    fs::write(stray.join("notes.txt"), b"x").unwrap();
    let absent = dir.path().join("absent");
    let cases: Vec<Case> = vec![
        (
            vec!["manifest", "--store-path", absent.to_str().unwrap()],
            vec![],
            "does not exist",
        ),
        (
            vec!["manifest", "--store-path", empty.to_str().unwrap()],
            vec![],
            "not in the Nix store",
        ),
        (
            vec!["manifest", "--store-path", result],
            vec![("SEED_ETH_NIX", "/nonexistent/nix")],
            "install Nix",
        ),
        (
            vec![
                "manifest",
                "--store-path",
                result,
                "--nix",
                "/nonexistent/nix",
            ],
            vec![],
            "--tree DIR",
        ),
        (
            vec!["manifest", "--tree", empty.to_str().unwrap()],
            vec![],
            "no store paths",
        ),
        (
            vec!["manifest", "--tree", stray.to_str().unwrap()],
            vec![],
            "notes.txt' is not a store path",
        ),
        (
            vec!["manifest", "--tree", absent.to_str().unwrap()],
            vec![],
            "cannot read the store directory",
        ),
        (
            vec![
                "manifest",
                "--store-path",
                result,
                "--output",
                "/nonexistent/dir/m",
            ],
            vec![],
            "cannot write '/nonexistent/dir/m'",
        ),
        (vec!["manifest"], vec![], "--store-path"),
        (
            vec!["manifest", "--store-path", result, "--tree", result],
            vec![],
            "cannot be used with",
        ),
    ];
    for (args, envs, reason) in cases {
        let out = seed_eth(&args, &envs);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
    let out = seed_eth(
        &["--json", "manifest", "--tree", empty.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["exitCode"], 2);
    assert!(report["error"].as_str().unwrap().contains("no store paths"));
}

/// `seed build` writes the same image from two directories; `manifest` reads
/// the same closure from the store, the seed's squashfs, its OCI layout and
/// the registry `seed push` put it in; a file that is no seed is exit 2.
#[test]
fn a_seed_built_from_a_closure_reads_back_everywhere_to_its_manifest() {
    let closure = seed_testkit::nix::closure("seed-eth-cli-seed", "");
    let dir = tempfile::tempdir().unwrap();
    let top = closure.top.to_str().unwrap();
    let from_store = stdout(&seed_eth(&["manifest", "--store-path", top], &[]));
    let build = |name: &str| {
        let layout = dir.path().join(name);
        let squashfs = dir.path().join(format!("{name}.squashfs"));
        let image = stdout(&seed_eth(
            &[
                "seed",
                "build",
                "--store-path",
                top,
                "--system",
                "x86_64-linux",
                "--oci-layout",
                layout.to_str().unwrap(),
                "--squashfs",
                squashfs.to_str().unwrap(),
            ],
            // A dev shell's SOURCE_DATE_EPOCH must not change the bytes.
            &[(
                "SOURCE_DATE_EPOCH",
                if name == "one" { "1" } else { "315532800" },
            )],
        ));
        (image, layout, squashfs)
    };
    let (image, layout, squashfs) = build("one");
    assert_eq!(build("two").0, image, "seed build is not deterministic");

    let squashfs = squashfs.to_str().unwrap();
    assert_eq!(
        stdout(&seed_eth(&["manifest", "--squashfs", squashfs], &[])),
        from_store
    );
    let layout_ref = format!("{}:seed", layout.display());
    assert_eq!(
        stdout(&seed_eth(&["manifest", "--oci-layout", &layout_ref], &[])),
        from_store
    );

    let registry = seed_testkit::registry::TestRegistry::start().unwrap();
    let host = registry.host();
    let pushed = stdout(&seed_eth(
        &[
            "seed",
            "push",
            "--squashfs",
            squashfs,
            "--system",
            "x86_64-linux",
            "--to",
            &format!("{host}/seeds:v1"),
            "--plain-http",
            &host,
        ],
        &[],
    ));
    assert_eq!(
        pushed, image,
        "seed push and seed build disagree on the image"
    );
    let reference = format!("{host}/seeds@{}", image.trim());
    assert_eq!(
        stdout(&seed_eth(
            &["manifest", "--image", &reference, "--plain-http", &host],
            &[]
        )),
        from_store
    );

    let not_a_seed = dir.path().join("not-a-seed");
    fs::write(&not_a_seed, b"plain text").unwrap();
    let out = seed_eth(
        &["manifest", "--squashfs", not_a_seed.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("squashfs magic"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
