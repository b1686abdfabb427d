//! The `seed-eth` binary as a user runs it: arguments in, text or JSON and an
//! exit code out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

mod support;
use support::{assert_exit, json, seed_eth as seed_eth_in, text};

fn seed_eth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seed-eth"))
        .args(args)
        .output()
        .expect("run seed-eth")
}

fn digest(last_byte: u8) -> String {
    format!("sha256:{}{last_byte:02x}", "0".repeat(62))
}

#[test]
fn version_names_the_crate_version() {
    let out = seed_eth(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("seed-eth {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let out = seed_eth(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("root"));
}

#[test]
fn root_sorts_systems_and_matches_the_pinned_vector() {
    let x86 = format!("x86_64-linux={}", digest(2));
    let arm = format!("aarch64-linux={}", digest(1));
    let out = seed_eth(&["--json", "root", "--leaf", &x86, "--leaf", &arm]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["root"],
        "0x3d8c99c4f33e03c382b899129028fb180ea0d87c090a9bb931306965a84e8467"
    );
    assert_eq!(report["leaves"][0]["system"], "aarch64-linux");
}

#[test]
fn bad_inputs_exit_2_with_the_reason() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["root", "--leaf", "x86_64-linux"],
            "not of the form SYSTEM=DIGEST",
        ),
        (
            &["root", "--leaf", "x86_64-linux=sha256:abc"],
            "malformed digest",
        ),
        (&["root", "--leaf", "linux=0x01"], "malformed system"),
        (
            &[
                "root",
                "--leaf",
                "x86_64-linux=sha256:1",
                "--leaf",
                "x86_64-linux=sha256:2",
            ],
            "",
        ),
    ];
    for (args, reason) in cases {
        let out = seed_eth(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(reason),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let duplicate = [
        format!("x86_64-linux={}", digest(1)),
        format!("x86_64-linux={}", digest(2)),
    ];
    let out = seed_eth(&[
        "--json",
        "root",
        "--leaf",
        &duplicate[0],
        "--leaf",
        &duplicate[1],
    ]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["error"]
        .as_str()
        .unwrap()
        .contains("appears more than once"));
    assert_eq!(report["exitCode"], 2);
}

#[test]
fn missing_subcommand_is_a_usage_error() {
    assert_eq!(seed_eth(&[]).status.code(), Some(2));
}

/// Issue 11 §4: logs carry ANSI colours on a terminal only, and never with `NO_COLOR` set. The
/// terminal is a real pseudo-terminal (util-linux `script`); the command logs offline at trace
/// level while it fails to reach an endpoint that is not there.
#[test]
fn logs_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    let command = format!(
        "{} status --rpc-url http://127.0.0.1:1 --commit {}",
        env!("CARGO_BIN_EXE_seed-eth"),
        "0123456789abcdef".repeat(3).get(..40).unwrap()
    );
    let run = |terminal: bool, no_color: Option<&str>| {
        let mut process = if terminal {
            let mut script = Command::new("script");
            script.args(["-qec", &command, "/dev/null"]);
            script
        } else {
            let mut parts = command.split(' ');
            let mut direct = Command::new(parts.next().unwrap());
            direct.args(parts);
            direct
        };
        process.env("SEED_ETH_LOG", "trace").env_remove("NO_COLOR");
        if let Some(value) = no_color {
            process.env("NO_COLOR", value);
        }
        let out = process.output().expect("run seed-eth");
        let all = [out.stdout, out.stderr].concat();
        assert!(
            String::from_utf8_lossy(&all).contains("eth_chainId"),
            "no log: {}",
            String::from_utf8_lossy(&all)
        );
        all.contains(&0x1b)
    };
    assert!(run(true, None), "a terminal gets colours");
    assert!(!run(true, Some("1")), "NO_COLOR=1 turns them off");
    assert!(!run(false, None), "a pipe gets none");
}

/// Issue 11 §5: `script/demo` runs the builds cargo made under `$CARGO_TARGET_DIR` when that is
/// set (it used to look in `target/` only and die with exit 127), and says what to run when they
/// are missing. The second run is the whole demo, from a target directory elsewhere.
#[test]
fn the_demo_uses_the_builds_under_cargo_target_dir() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seed_eth = std::path::Path::new(env!("CARGO_BIN_EXE_seed-eth"));
    let demo = |target_dir: &std::path::Path| {
        Command::new(root.join("script/demo"))
            .env("CARGO_TARGET_DIR", target_dir)
            .output()
            .expect("run script/demo")
    };

    let empty = tempfile::tempdir().unwrap();
    let out = demo(empty.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run `make demo`, which builds it"),
        "{out:?}"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(elsewhere.path().join("debug/examples")).unwrap();
    std::os::unix::fs::symlink(seed_eth, elsewhere.path().join("debug/seed-eth")).unwrap();
    // The Rekor double of the Credulous scene: `cargo test` builds the workspace's examples
    // next to the binaries.
    let rekor_double = seed_eth.with_file_name("examples").join("rekor_double");
    assert!(
        rekor_double.exists(),
        "{} is missing: `cargo test --workspace` (or `make demo`) builds it",
        rekor_double.display()
    );
    std::os::unix::fs::symlink(
        &rekor_double,
        elsewhere.path().join("debug/examples/rekor_double"),
    )
    .unwrap();
    let out = demo(elsewhere.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("== done in"), "{stdout}");
    assert!(elsewhere.path().join("demo/deployment.json").exists());
}

/// A loopback server that answers every request with `status` and `body` (a double for a URL
/// that is not a JSON-RPC endpoint: a web server, a proxy's error page). Returns its URL.
fn wrong_server(status: &'static str, body: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Issue 11 §5: an endpoint that answers, but not as a JSON-RPC endpoint does, is named with
/// what it sent, not reported as unreachable with a deserialisation error: a page or a 4xx is a
/// wrong URL or key (exit 2, and a keeper service stops at once), a 5xx a node behind a proxy
/// that is down (exit 3, and a keeper service waits for it).
#[test]
fn an_endpoint_that_is_not_json_rpc_is_named_with_what_it_answered() {
    let commit = "0123456789abcdef".repeat(3);
    for (status, body, code, expected) in [
        (
            "200 OK",
            "<html><body>It works!</body></html>",
            2,
            "answered \"<html><body>It works!</body></html>\" (not JSON-RPC)",
        ),
        (
            "401 Unauthorized",
            "invalid API key",
            2,
            "answered HTTP 401 with \"invalid API key\"",
        ),
        (
            "503 Service Unavailable",
            "no healthy upstream",
            3,
            "answered HTTP 503 with \"no healthy upstream\"",
        ),
    ] {
        let url = wrong_server(status, body);
        let out = seed_eth(&["status", "--rpc-url", &url, "--commit", &commit[..40]]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains(&format!("the RPC endpoint {url} {expected}")),
            "{stderr}"
        );
        assert!(!stderr.contains("cannot reach"), "{stderr}");
    }
}

/// Issue 11 §5: `forge build --root DIR` through `script/foundry` works from any directory (the
/// solc shim's path in foundry.toml is relative to the working directory, so the wrapper gives
/// forge an absolute one).
#[test]
fn forge_builds_with_root_from_another_directory() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(root.join("script/foundry"))
        .current_dir(elsewhere.path())
        .env_remove("FOUNDRY_SOLC")
        .args(["forge", "build", "--root"])
        .arg(&root)
        .arg("--out")
        .arg(elsewhere.path().join("out"))
        .args(["--cache-path"])
        .arg(elsewhere.path().join("cache"))
        .arg("contracts/ReleaseLedger.sol")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elsewhere
        .path()
        .join("out/ReleaseLedger.sol/ReleaseLedger.json")
        .exists());
}

/// Issue 16 §7: shell completions and man pages come from the clap definitions. The bash
/// script parses (`bash -n`) and completes the newest flags; every subcommand gets a page that
/// groff renders without a warning (with preconv, as man runs it), and the pages carry no date,
/// so the same binary writes the same bytes.
#[test]
fn completions_and_man_pages_are_generated_from_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = seed_eth_in(dir.path(), &["completions", shell], &[]);
        assert_exit(&out, 0, "verify");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("rpc-quorum"),
            "{shell}: {}",
            text(&out)
        );
    }
    let bash = seed_eth_in(dir.path(), &["completions", "bash"], &[]);
    let script = dir.path().join("seed-eth.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");
    assert_exit(
        &seed_eth_in(dir.path(), &["completions", "tcsh"], &[]),
        2,
        "invalid value 'tcsh'",
    );

    let out = seed_eth_in(dir.path(), &["--json", "man", "--dir", "pages"], &[]);
    assert_exit(&out, 0, "");
    let pages: Vec<String> = json(&out)["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "seed-eth.1",
        "seed-eth-verify.1",
        "seed-eth-gov-propose.1",
        "seed-eth-witness-run.1",
        "seed-eth-man.1",
    ] {
        assert!(pages.iter().any(|p| p == expected), "{expected}: {pages:?}");
    }
    for page in &pages {
        let path = dir.path().join("pages").join(page);
        let rendered = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .expect("groff (make setup installs groff-base)");
        assert!(
            rendered.status.success() && rendered.stderr.is_empty(),
            "{page}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
    }
    let verify = std::fs::read_to_string(dir.path().join("pages/seed-eth-verify.1")).unwrap();
    assert!(
        verify.starts_with(".ie") && verify.contains(".TH seed-eth-verify 1"),
        "{verify}"
    );
    assert!(verify.contains("\\-\\-proofs"), "{verify}");

    // The same binary writes the same bytes.
    let again = seed_eth_in(dir.path(), &["man", "--dir", "again"], &[]);
    assert_exit(&again, 0, &format!("{} man pages in again", pages.len()));
    for page in &pages {
        assert_eq!(
            std::fs::read(dir.path().join("pages").join(page)).unwrap(),
            std::fs::read(dir.path().join("again").join(page)).unwrap(),
            "{page}"
        );
    }

    // A directory that cannot be made is exit 2 naming it.
    std::fs::write(dir.path().join("file"), b"").unwrap();
    assert_exit(
        &seed_eth_in(dir.path(), &["man", "--dir", "file/sub"], &[]),
        2,
        "--dir file/sub",
    );
}
