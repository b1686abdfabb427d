//! What the CLI integration tests share: running the binary in a clean
//! environment and reading its output. Each test file uses a subset.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

/// Runs seed-eth in `cwd` with exactly the given `SEED_ETH_*` and CI variables: inherited ones
/// are removed, so a developer's environment cannot change the outcome.
pub fn seed_eth(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seed-eth"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SEED_ETH_") || name.ends_with("_RUN_ID") || name.ends_with("_JOB_ID") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(cwd)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("run seed-eth")
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The run exited with `code` and said `needle` (on stdout or stderr).
#[track_caller]
pub fn assert_exit(out: &Output, code: i32, needle: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(code), "expected exit {code}; {all}");
    assert!(all.contains(needle), "expected '{needle}' in {all}");
}

/// Stdout as the one JSON document `--json` prints.
#[track_caller]
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

/// Compiles `sources` (paths from the repository root) with the project's forge into `dir`;
/// returns the output directory (`<File>.sol/<Contract>.json` artefacts).
pub fn forge_build(dir: &Path, sources: &[&str]) -> PathBuf {
    forge_build_with(dir, sources, &[])
}

/// [`forge_build`] with extra `forge build` options (e.g. the optimizer runs a release shipped with).
pub fn forge_build_with(dir: &Path, sources: &[&str], options: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = dir.join("out");
    let status = Command::new(root.join("script/foundry"))
        .current_dir(&root)
        .args(["forge", "build"])
        .args(sources)
        .args(options)
        .arg("--out")
        .arg(&out)
        .arg("--cache-path")
        .arg(dir.join("cache"))
        .output()
        .expect("run forge");
    assert!(
        status.status.success(),
        "forge build failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

/// The creation bytecode of `contract` (declared in `file`.sol) from a [`forge_build`] output.
pub fn creation_code(out: &Path, file: &str, contract: &str) -> Vec<u8> {
    let path = out.join(format!("{file}.sol/{contract}.json"));
    let artefact: Value = serde_json::from_slice(&std::fs::read(&path).expect("read artefact"))
        .expect("artefact is JSON");
    let hex = artefact["bytecode"]["object"]
        .as_str()
        .expect("bytecode.object");
    alloy::hex::decode(hex).expect("bytecode is hex")
}

/// A GET on loopback (`/healthz`, `/metrics`): the status and the whole
/// response; status 0 when nothing answers.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return (0, String::new());
    };
    // Read to the end: the server must close, keep-alive or not.
    let _ = write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}
