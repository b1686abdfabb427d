//! The builder kit's CI integration, run as the CI runners run it (seed-testkit's fake runner):
//! the seed-eth/attest and seed-eth/verify GitHub Actions and the GitLab attest and verify
//! components against a real anvil, a real deployment and a real OCI registry, asserting their
//! outputs, their job summaries and the votes on chain; and the installer's checks (a release
//! archive is installed only with its embedded checksum, the source fallback builds the
//! action's own tree, a wrong version is refused).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use seed_oci::{ImageContent, RegistryClient, Repository};
use seed_sigstore::SigningKey;
use seed_testkit::{
    anvil::TestAnvil, ci_runner::Runner, registry::TestRegistry, rekor::RekorServer,
};
use serde_json::Value;

mod support;
use support::{assert_exit, json, seed_eth};

const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
const ORIGIN: &str = "https://github.com/seed-eth/example";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `npm` and `cargo` that fail the step: the runner's PATH starts with them (after any
/// stand-ins a test gives), so a run that reaches the installer's build from source can never
/// run the real tools on this repository's tree.
fn no_source_builds() -> &'static Path {
    static GUARD: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    GUARD
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            for tool in ["npm", "cargo"] {
                let path = dir.path().join(tool);
                std::fs::write(
                    &path,
                    format!("#!/bin/sh\necho \"the test would have run the real {tool}\" >&2\nexit 97\n"),
                )
                .unwrap();
                Command::new("chmod").arg("+x").arg(&path).status().unwrap();
            }
            dir
        })
        .path()
}

/// Where the test's seed-eth binary is: the job's `install: none` finds it on PATH.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_seed-eth"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=ci", "-c", "user.email=ci@example.org"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A deployed registry, a registry holding each system's seed, and a job checkout (a git
/// repository with flake.lock, the deployment file and an origin, as actions/checkout leaves).
struct Job {
    anvil: TestAnvil,
    oci: TestRegistry,
    checkout: tempfile::TempDir,
    commit: String,
    images: Vec<String>,
}

impl Job {
    async fn new() -> Self {
        let anvil = TestAnvil::spawn().unwrap();
        let checkout = tempfile::tempdir().unwrap();
        let dir = checkout.path();
        std::fs::write(dir.join("flake.lock"), b"{\"nodes\":{},\"version\":7}\n").unwrap();
        let out = seed_eth(
            dir,
            &["deploy", "--rpc-url", &anvil.endpoint()],
            &[("SEED_ETH_PRIVATE_KEY", &anvil.private_key_hex(0))],
        );
        assert_exit(&out, 0, "");
        git(dir, &["init", "--quiet"]);
        git(dir, &["remote", "add", "origin", ORIGIN]);
        git(dir, &["add", "."]);
        git(dir, &["commit", "--quiet", "-m", "release"]);
        let commit = git(dir, &["rev-parse", "HEAD"]);

        let oci = TestRegistry::start().unwrap();
        let client = RegistryClient::plain_http(&[&oci.host()]).unwrap();
        let repo: Repository = format!("{}/seed", oci.host()).parse().unwrap();
        let mut images = Vec::new();
        for system in SYSTEMS {
            let (image, _) =
                ImageContent::synthetic_seed(&format!("closure {system}"), "ci").unwrap();
            let pushed = client.push_image(&repo, &image, None).await.unwrap();
            images.push(format!("{repo}@{}", pushed.descriptor().digest));
        }
        Self {
            anvil,
            oci,
            checkout,
            commit,
            images,
        }
    }

    fn dir(&self) -> &Path {
        self.checkout.path()
    }

    fn runner(&self) -> Runner {
        Runner::new(self.dir(), &[&bin_dir(), no_source_builds()])
    }

    /// The seed-eth/attest action as builder `builder` (an anvil account) for system `index`.
    fn attest_action(
        &self,
        builder: usize,
        index: usize,
        extra: &[(&str, &str)],
    ) -> seed_testkit::ci_runner::Run {
        let url = self.anvil.endpoint();
        let key = self.anvil.private_key_hex(builder);
        let host = self.oci.host();
        let mut with = vec![
            ("image", self.images[index].as_str()),
            ("system", SYSTEMS[index]),
            ("rpc-url", url.as_str()),
            ("deployment", "deployments/31337.json"),
            ("key", key.as_str()),
            ("plain-http", host.as_str()),
            ("install", "none"),
        ];
        with.retain(|(name, _)| !extra.iter().any(|(given, _)| given == name));
        with.extend_from_slice(extra);
        self.runner()
            .github_action(
                &repository_root().join("attest"),
                &with,
                &[("GITHUB_RUN_ID", "4242")],
            )
            .unwrap()
    }

    fn status(&self, commit: &str) -> Value {
        let out = seed_eth(
            self.dir(),
            &[
                "--json",
                "status",
                "--commit",
                commit,
                "--rpc-url",
                &self.anvil.endpoint(),
            ],
            &[],
        );
        json(&out)
    }
}

/// A project set up as a builder's is, for the example workflows: the deployment file and
/// the registry's plain-HTTP setting committed (ghcr.io needs none), and per system a real
/// closure packed as mkSeed packs it, with the runner tools that hand it out.
struct ExampleProject {
    commit: String,
    /// Per system of [`SYSTEMS`], the tools of a runner of that architecture.
    tools: Vec<tempfile::TempDir>,
    _seeds: tempfile::TempDir,
}

impl Job {
    fn example_project(&self, label: &str) -> ExampleProject {
        let dir = self.dir();
        std::fs::create_dir(dir.join(".seed-eth")).unwrap();
        std::fs::copy(
            dir.join("deployments/31337.json"),
            dir.join(".seed-eth/deployment.json"),
        )
        .unwrap();
        let plain_http = format!("[oci]\nplain-http = [\"{}\"]\n", self.oci.host());
        std::fs::write(dir.join("seed-eth.toml"), plain_http).unwrap();
        git(dir, &["add", "."]);
        git(dir, &["commit", "--quiet", "-m", "seed-eth setup"]);
        let seeds = tempfile::tempdir().unwrap();
        let tools = SYSTEMS
            .iter()
            .map(|system| {
                let closure = seed_testkit::nix::closure(&format!("{label}-{system}"), "");
                let seed_dir = seeds.path().join(system);
                std::fs::create_dir(&seed_dir).unwrap();
                let squashfs = seed_dir.join("store.squashfs");
                seed_testkit::nix::mksquashfs_seed(&closure.paths, &squashfs, &[]);
                runner_tools(system, &seed_dir)
            })
            .collect();
        ExampleProject {
            commit: git(dir, &["rev-parse", "HEAD"]),
            tools,
            _seeds: seeds,
        }
    }
}

/// This tree's `ci/` and `Cargo.toml` as a git repository of their own: the seed-eth source a
/// GitLab component fetches at its commit. Returns the repository and that commit.
fn component_source() -> (tempfile::TempDir, String) {
    let source = tempfile::tempdir().unwrap();
    let root = repository_root();
    std::fs::create_dir(source.path().join("ci")).unwrap();
    for entry in std::fs::read_dir(root.join("ci")).unwrap() {
        let entry = entry.unwrap();
        let to = source.path().join("ci").join(entry.file_name());
        std::fs::copy(entry.path(), to).unwrap();
    }
    std::fs::copy(root.join("Cargo.toml"), source.path().join("Cargo.toml")).unwrap();
    git(source.path(), &["init", "--quiet"]);
    git(source.path(), &["add", "."]);
    git(source.path(), &["commit", "--quiet", "-m", "seed-eth"]);
    let commit = git(source.path(), &["rev-parse", "HEAD"]);
    (source, commit)
}

#[tokio::test]
async fn the_actions_and_components_attest_and_verify_as_a_runner_runs_them() {
    let job = Job::new().await;

    // Builders 1 and 2 attest both systems with the GitHub Action, the manifest read from the
    // image, the commit from the checkout's HEAD.
    let mut sent = Vec::new();
    for builder in [1, 2] {
        for index in 0..SYSTEMS.len() {
            let run = job.attest_action(builder, index, &[]);
            assert_eq!(run.exit_code, 0, "{}", run.log);
            assert_eq!(run.output("sent"), "true", "{:?}", run.outputs);
            assert!(
                run.output("statement-digest").starts_with("sha256:"),
                "{:?}",
                run.outputs
            );
            assert!(run.output("tx").starts_with("0x"));
            assert_eq!(run.output("votes"), builder.to_string());
            assert_eq!(
                run.output("quorum-reached"),
                "false",
                "genesis needs all three"
            );
            assert_eq!(run.output("finalised"), "false");
            assert!(
                run.summary.starts_with("### seed-eth attest\n"),
                "{}",
                run.summary
            );
            assert!(
                run.summary.contains(&format!("attested {}", job.commit)),
                "{}",
                run.summary
            );
            sent.push((
                run.output("statement-digest").to_owned(),
                run.output("tx").to_owned(),
            ));
        }
    }
    // The votes on chain are the ones the outputs name.
    let status = job.status(&job.commit);
    let mut on_chain: Vec<(String, String)> = status["systems"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|system| system["votes"].as_array().unwrap().clone())
        .map(|vote| {
            (
                vote["statementDigest"].as_str().unwrap().to_owned(),
                vote["tx"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    on_chain.sort();
    sent.sort();
    assert_eq!(on_chain, sent, "{status}");

    // Builder 3 attests through the GitLab component, which fetches the installer and the
    // wrapper from the component's commit.
    let (source, component_sha) = component_source();
    let source_url = source.path().display().to_string();
    let url = job.anvil.endpoint();
    let key = job.anvil.private_key_hex(3);
    let host = job.oci.host();
    let template = repository_root().join("templates/attest.yml");
    let ci_variables = [
        ("CI_COMMIT_SHA", job.commit.as_str()),
        ("CI_JOB_ID", "77"),
        ("SEED_ETH_PRIVATE_KEY", key.as_str()),
    ];
    for (index, system) in SYSTEMS.iter().enumerate() {
        let run = job
            .runner()
            .gitlab_component(
                &template,
                &[
                    ("image", job.images[index].as_str()),
                    ("system", system),
                    ("rpc-url", url.as_str()),
                    ("deployment", "deployments/31337.json"),
                    ("plain-http", host.as_str()),
                    ("install", "none"),
                    ("source", source_url.as_str()),
                ],
                &component_sha,
                &ci_variables,
            )
            .unwrap();
        assert_eq!(run.exit_code, 0, "{}", run.log);
        assert_eq!(run.output("sent"), "true", "{:?}", run.outputs);
        assert_eq!(run.output("progress_quorum_reached"), "true");
        assert_eq!(run.output("exit_code"), "0");
        std::fs::remove_file(job.dir().join("seed-eth-attest.env")).unwrap();
    }
    assert_eq!(job.status(&job.commit)["isFinalised"], true);

    // Re-running a builder's job sends nothing and says so.
    let run = job.attest_action(1, 0, &[]);
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("sent"), "false");
    assert_eq!(run.output("already-voted"), "true");
    assert_eq!(run.output("finalised"), "true");

    // The consumer's verify action: the image's release is final and the image holds it.
    let verify = |with: &[(&str, &str)]| {
        let mut all = vec![
            ("rpc-url", url.as_str()),
            ("deployment", "deployments/31337.json"),
            ("plain-http", host.as_str()),
            ("install", "none"),
        ];
        all.extend_from_slice(with);
        job.runner()
            .github_action(&repository_root().join("verify"), &all, &[])
            .unwrap()
    };
    let run = verify(&[("image", &job.images[1])]);
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("verified"), "true");
    assert_eq!(run.output("commit"), job.commit);
    assert!(run.summary.contains("VERIFIED"), "{}", run.summary);

    // A signed-only vote for a second release: the vote file is the output, nothing is final.
    std::fs::write(job.dir().join("next.txt"), "next").unwrap();
    git(job.dir(), &["add", "."]);
    git(job.dir(), &["commit", "--quiet", "-m", "next"]);
    let next = git(job.dir(), &["rev-parse", "HEAD"]);
    let run = job.attest_action(
        1,
        0,
        &[("sign-only", "true"), ("vote-file", "votes/b1.json")],
    );
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("sent"), "false");
    let vote_file = job.dir().join("votes/b1.json");
    assert!(
        run.output("vote-file").ends_with("votes/b1.json"),
        "{:?}",
        run.outputs
    );
    // Attached to the image too, for `relay --image`.
    assert!(
        run.output("vote-referrer").starts_with("sha256:"),
        "{:?}",
        run.outputs
    );
    let vote: Value = serde_json::from_slice(&std::fs::read(&vote_file).unwrap()).unwrap();
    assert_eq!(
        vote["commit"].as_str().unwrap().trim_start_matches("0x"),
        next,
        "{vote}"
    );
    assert_eq!(job.status(&next)["isFinalised"], false);

    // An image no counted voter attested: the verify action fails the job, and says why.
    let client = RegistryClient::plain_http(&[&host]).unwrap();
    let repo: Repository = format!("{host}/seed").parse().unwrap();
    let (stray, _) = ImageContent::synthetic_seed("closure nobody voted for", "ci").unwrap();
    let pushed = client.push_image(&repo, &stray, None).await.unwrap();
    let stray = format!("{repo}@{}", pushed.descriptor().digest);
    let run = verify(&[("image", &stray)]);
    assert_eq!(run.exit_code, 1, "{}", run.log);
    assert!(
        run.summary.starts_with("### seed-eth verify: "),
        "{}",
        run.summary
    );
    assert!(run.summary.contains("(exit 1)"), "{}", run.summary);
    assert_eq!(
        run.output("verified"),
        "",
        "a failed step sets no action output"
    );

    // The verify component fails the same way on a lock file that is not there.
    let run = job
        .runner()
        .gitlab_component(
            &repository_root().join("templates/verify.yml"),
            &[
                ("rpc-url", url.as_str()),
                ("deployment", "deployments/31337.json"),
                ("install", "none"),
                ("source", source_url.as_str()),
            ],
            &component_sha,
            &ci_variables,
        )
        .unwrap();
    assert_eq!(run.exit_code, 2, "{}", run.log);
    assert!(
        run.log.contains("there is no lock file .seed.lock"),
        "{}",
        run.log
    );
}

#[tokio::test]
async fn bad_inputs_fail_the_step_before_anything_is_sent() {
    let job = Job::new().await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("image", "")], "the input image is required"),
        (
            &[("push-to", "r/seed")],
            "give image (a seed already pushed) or push-to",
        ),
        (
            &[("image", ""), ("push-to", "r/seed")],
            "push-to needs squashfs",
        ),
        (
            &[
                ("manifest-digest", "sha256:00"),
                ("squashfs", "seed.squashfs"),
            ],
            "give at most one of manifest-digest, store-path and squashfs",
        ),
        (&[("sign-only", "yes")], "sign-only must be true or false"),
        (
            &[("no-content-check", "1")],
            "no-content-check must be true or false",
        ),
        (
            &[("install", "pip")],
            "install must be auto, release, source or none",
        ),
    ];
    for (with, message) in cases {
        let run = job.attest_action(1, 0, with);
        assert_eq!(run.exit_code, 2, "{with:?}: {}", run.log);
        assert!(run.log.contains(message), "{with:?}: {}", run.log);
    }
    // A key that is not a registered builder's: seed-eth's own refusal, its exit code and the
    // error as outputs and in the summary.
    let stranger = job.anvil.private_key_hex(7);
    let run = job.attest_action(1, 0, &[("key", &stranger)]);
    assert_eq!(run.exit_code, 2, "{}", run.log);
    assert!(
        run.summary.contains("### seed-eth attest: failed (exit 2)"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("is not a registered builder"),
        "{}",
        run.summary
    );
    let status = job.status(&job.commit);
    for system in status["systems"].as_array().unwrap() {
        assert_eq!(system["votes"], Value::Array(vec![]), "{status}");
    }

    // The runner refuses an input the action does not declare, as a real one warns.
    let runner = job.runner();
    let attest = repository_root().join("attest");
    assert!(runner
        .github_action(&attest, &[("image", "x"), ("private-key", "k")], &[])
        .unwrap_err()
        .contains("private-key"));
    // The GitLab component checks its inputs: an image not pinned by digest, an unknown posture.
    let template = repository_root().join("templates/attest.yml");
    let unpinned = runner.gitlab_component(&template, &[("image", "r/seed:latest")], "0", &[]);
    assert!(unpinned.unwrap_err().contains("RegEx"));
    let posture = runner.gitlab_component(
        &template,
        &[("image", &job.images[0]), ("posture", "yolo")],
        "0",
        &[],
    );
    assert!(posture.unwrap_err().contains("allowed options"));
}

/// The installer's own tree, copied so a test can embed checksums of its own.
fn installer_copy() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let root = repository_root();
    std::fs::create_dir(copy.path().join("ci")).unwrap();
    for file in ["install-seed-eth", "release-checksums.txt"] {
        std::fs::copy(
            root.join("ci").join(file),
            copy.path().join("ci").join(file),
        )
        .unwrap();
    }
    std::fs::copy(root.join("Cargo.toml"), copy.path().join("Cargo.toml")).unwrap();
    copy
}

fn install(tree: &Path, path: &str, env: &[(&str, &str)]) -> std::process::Output {
    Command::new(tree.join("ci/install-seed-eth"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", tree)
        .env("RUNNER_TEMP", tree.join("runner-temp"))
        .envs([("RUNNER_OS", "Linux"), ("RUNNER_ARCH", "X64")])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// A loopback HTTP server for `dir` (python3's http.server), stopped on drop.
struct Served(std::process::Child, u16);

impl Served {
    fn start(dir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let served = Self(child, port);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return served;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("http.server did not start");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_installer_takes_a_release_only_with_its_embedded_checksum() {
    let tree = installer_copy();
    let version = env!("CARGO_PKG_VERSION");
    let archive = format!("seed-eth-{version}-x86_64-unknown-linux-gnu.tar.gz");
    // The release page: the archive of this build's binary, under v<version>/.
    let page = tempfile::tempdir().unwrap();
    let release = page.path().join(format!("v{version}"));
    std::fs::create_dir(&release).unwrap();
    let status = Command::new("tar")
        .args(["-czf"])
        .arg(release.join(&archive))
        .arg("-C")
        .arg(bin_dir())
        .arg("seed-eth")
        .status()
        .unwrap();
    assert!(status.success());
    let served = Served::start(page.path());
    let url = format!("http://127.0.0.1:{}", served.1);
    let path = std::env::var("PATH").unwrap();
    let github_path = tree.path().join("github_path");
    std::fs::write(&github_path, "").unwrap();
    let install_dir = tree.path().join("strict").display().to_string();
    let github_path_text = github_path.display().to_string();
    let with_mode = [
        ("SEED_ETH_RELEASE_URL", url.as_str()),
        ("SEED_ETH_INSTALL_DIR", install_dir.as_str()),
        ("GITHUB_PATH", github_path_text.as_str()),
        ("SEED_ETH_INSTALL", "release"),
    ];

    // No checksum is embedded for the archive: `release` refuses, naming what is missing.
    let out = install(tree.path(), &path, &with_mode);
    assert_exit(&out, 2, &format!("no checksum for {archive}"));

    // A checksum that is not the archive's: refused, nothing installed.
    let checksums = tree.path().join("ci/release-checksums.txt");
    let original = std::fs::read_to_string(&checksums).unwrap();
    std::fs::write(
        &checksums,
        format!("{original}{}  {archive}\n", "ab".repeat(32)),
    )
    .unwrap();
    let out = install(tree.path(), &path, &with_mode);
    assert_exit(&out, 2, "refusing it");
    assert!(!tree.path().join("strict/bin/seed-eth").exists());

    // The archive's own checksum: installed, checked to run as this version, put on PATH.
    let digest = Command::new("sha256sum")
        .arg(release.join(&archive))
        .output()
        .unwrap();
    let digest = String::from_utf8(digest.stdout).unwrap();
    let digest = digest.split_whitespace().next().unwrap();
    std::fs::write(&checksums, format!("{original}{digest}  {archive}\n")).unwrap();
    let out = install(tree.path(), &path, &with_mode);
    assert_exit(&out, 0, &format!("seed-eth {version}"));
    let installed = tree.path().join("strict/bin");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        installed.display().to_string()
    );
    assert!(installed.join("seed-eth").exists());
    assert_eq!(
        std::fs::read_to_string(&github_path).unwrap().trim(),
        installed.display().to_string()
    );

    // A version this action has no checksum for is refused by `release`, and `none` refuses a
    // seed-eth on PATH of another version than the one asked for.
    let mut other = with_mode.to_vec();
    other.push(("SEED_ETH_VERSION", "9.9.9"));
    assert_exit(
        &install(tree.path(), &path, &other),
        2,
        "no checksum for seed-eth-9.9.9",
    );
    let on_path = format!("{}:{path}", bin_dir().display());
    let out = install(
        tree.path(),
        &on_path,
        &[("SEED_ETH_INSTALL", "none"), ("SEED_ETH_VERSION", "9.9.9")],
    );
    assert_exit(&out, 2, "not seed-eth 9.9.9");
    let out = install(tree.path(), &on_path, &[("SEED_ETH_INSTALL", "none")]);
    assert_exit(&out, 0, "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        bin_dir().display().to_string()
    );

    // The install action: its output and the job's PATH name the directory.
    let run = Runner::new(tree.path(), &[&bin_dir(), no_source_builds()])
        .github_action(
            &repository_root().join("install"),
            &[("install", "none")],
            &[],
        )
        .unwrap();
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("path"), bin_dir().display().to_string());
    assert_eq!(run.path_added, [bin_dir().display().to_string()]);
}

#[test]
fn without_a_release_the_installer_builds_the_actions_own_source_locked() {
    let tree = installer_copy();
    // Stand-ins for npm and cargo that record how they were called; cargo "builds" this test's
    // binary into the root it was given.
    let tools = tempfile::tempdir().unwrap();
    let log = tools.path().join("calls");
    std::fs::write(
        tools.path().join("npm"),
        format!("#!/bin/sh\necho \"npm $* in $PWD\" >> {}\n", log.display()),
    )
    .unwrap();
    std::fs::write(
        tools.path().join("cargo"),
        format!(
            "#!/bin/sh\necho \"cargo $*\" >> {log}\nwhile [ \"$1\" != --root ]; do shift; done\nmkdir -p \"$2/bin\" && cp {bin} \"$2/bin/\"\n",
            log = log.display(),
            bin = bin_dir().join("seed-eth").display()
        ),
    )
    .unwrap();
    for tool in ["npm", "cargo"] {
        Command::new("chmod")
            .arg("+x")
            .arg(tools.path().join(tool))
            .status()
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap()
    );
    let dir = tree.path().join("built");
    let out = install(
        tree.path(),
        &path,
        &[("SEED_ETH_INSTALL_DIR", dir.to_str().unwrap())],
    );
    assert_exit(&out, 0, "building seed-eth");
    let calls = std::fs::read_to_string(&log).unwrap();
    let root = tree.path().display().to_string();
    assert!(
        calls.contains("npm ci --ignore-scripts --omit=optional"),
        "{calls}"
    );
    assert!(calls.contains(&format!("in {root}")), "{calls}");
    assert!(
        calls.contains(&format!(
            "cargo install --locked --quiet --path {root}/crates/seed-eth --root {}/bin/..",
            dir.display()
        )),
        "{calls}"
    );
    assert!(dir.join("bin/seed-eth").exists());

    // From source, only the tree's own version can be built.
    let out = install(
        tree.path(),
        &path,
        &[
            ("SEED_ETH_INSTALL", "source"),
            ("SEED_ETH_VERSION", "0.0.1"),
        ],
    );
    assert_exit(
        &out,
        2,
        "building from source gives only the tree's own version",
    );
}

#[tokio::test]
async fn credulous_builders_attest_and_a_consumer_verifies_through_the_actions() {
    // Two builders with managed P-256 keys (made by openssl), a policy of k = 2 over them, the
    // Rekor v1 double and its trust root, named by seed-eth.toml in the job's checkout.
    let checkout = tempfile::tempdir().unwrap();
    let dir = checkout.path();
    std::fs::write(dir.join("flake.lock"), b"{\"nodes\":{},\"version\":7}\n").unwrap();
    git(dir, &["init", "--quiet"]);
    git(dir, &["remote", "add", "origin", ORIGIN]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "release"]);
    let commit = git(dir, &["rev-parse", "HEAD"]);
    let oci = TestRegistry::start().unwrap();
    let rekor = RekorServer::start().unwrap();
    std::fs::write(
        dir.join("trusted_root.json"),
        rekor.trusted_root().to_string(),
    )
    .unwrap();
    let mut policy = format!("threshold = 2\nsystems = [\"{}\"]\n", SYSTEMS[1]);
    for name in ["b0", "b1"] {
        let key = dir.join(format!("{name}.pem"));
        let made = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&key)
            .output()
            .unwrap();
        assert!(made.status.success(), "openssl: {made:?}");
        let public = SigningKey::from_pem(&std::fs::read_to_string(&key).unwrap())
            .unwrap()
            .public_key_pem();
        policy += &format!(
            "\n[[builder]]\nname = \"{name}\"\npublic-key = \"\"\"\n{public}\"\"\"\norganisation = \"org-{name}\"\njurisdiction = \"j-{name}\"\ninfrastructure = \"infra-{name}\"\n"
        );
    }
    std::fs::write(dir.join("policy.toml"), policy).unwrap();
    std::fs::write(
        dir.join("seed-eth.toml"),
        "[credulous]\npolicy = \"policy.toml\"\ntrusted-root = \"trusted_root.json\"\n",
    )
    .unwrap();
    let client = RegistryClient::plain_http(&[&oci.host()]).unwrap();
    let repo: Repository = format!("{}/seed", oci.host()).parse().unwrap();
    let (content, _) = ImageContent::synthetic_seed("credulous closure", "ci").unwrap();
    let pushed = client.push_image(&repo, &content, None).await.unwrap();
    let image = format!("{repo}@{}", pushed.descriptor().digest);

    let runner = Runner::new(dir, &[&bin_dir(), no_source_builds()]);
    let host = oci.host();
    let rekor_url = rekor.url();
    let mut indices = Vec::new();
    for name in ["b0", "b1"] {
        let key = format!("{name}.pem");
        let bundle = format!("{name}.sigstore.json");
        let run = runner
            .github_action(
                &repository_root().join("attest"),
                &[
                    ("image", &image),
                    ("system", SYSTEMS[1]),
                    ("posture", "credulous"),
                    ("rekor-url", &rekor_url),
                    ("signing-key", &key),
                    ("bundle-out", &bundle),
                    ("plain-http", &host),
                    ("install", "none"),
                ],
                &[("GITHUB_RUN_ID", "4242")],
            )
            .unwrap();
        assert_eq!(run.exit_code, 0, "{}", run.log);
        assert_eq!(run.output("sent"), "true", "{:?}", run.outputs);
        assert!(
            run.output("referrer").starts_with("sha256:"),
            "{:?}",
            run.outputs
        );
        assert!(dir.join(&bundle).exists(), "bundle-out was not written");
        let logged: Vec<u64> = serde_json::from_str(run.output("log-indices")).unwrap();
        assert_eq!(logged.len(), 1, "{:?}", run.outputs);
        indices.extend(logged);
        assert!(
            run.summary.starts_with("### seed-eth attest\n"),
            "{}",
            run.summary
        );
    }
    // Each builder's entry is its own in the log.
    indices.dedup();
    assert_eq!(indices.len(), 2);

    // The consumer's verify action counts the two policy builders and passes.
    let run = runner
        .github_action(
            &repository_root().join("verify"),
            &[
                ("image", &image),
                ("commit", &commit),
                ("posture", "credulous"),
                ("plain-http", &host),
                ("install", "none"),
            ],
            &[],
        )
        .unwrap();
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("verified"), "true");
    assert_eq!(run.output("commit"), commit);
}

/// Stand-ins for the tools a GitHub runner has that cannot run here: `nix` answers the
/// example's `nix build .#seed` with a real seed squashfs of a real closure and reports the
/// leg's system, and hands every other call to the real Nix; `npm` and `cargo` stand for the
/// installer's build from source (cargo "builds" this test's binary).
fn runner_tools(system: &str, seed_dir: &Path) -> tempfile::TempDir {
    let tools = tempfile::tempdir().unwrap();
    let real_nix = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v nix"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let scripts = [
        (
            "nix",
            format!(
                "#!/bin/sh\ncase \"$*\" in\n  *builtins.currentSystem*) printf %s {system} ;;\n  \"build --no-link --print-out-paths .#seed\") echo {seed} ;;\n  build) echo built > nix-build-ran ;;\n  *) exec {real_nix} \"$@\" ;;\nesac\n",
                seed = seed_dir.display()
            ),
        ),
        ("npm", "#!/bin/sh\nexit 0\n".to_owned()),
        (
            "cargo",
            format!(
                "#!/bin/sh\nwhile [ \"$1\" != --root ]; do shift; done\nmkdir -p \"$2/bin\" && cp {} \"$2/bin/\"\n",
                bin_dir().join("seed-eth").display()
            ),
        ),
    ];
    for (name, script) in scripts {
        let path = tools.path().join(name);
        std::fs::write(&path, script).unwrap();
        Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    }
    tools
}

/// `uses:` of the examples: this repository's actions run from the working tree; the others
/// (checkout, install-nix) are what the test environment already provides.
fn example_actions(uses: &str) -> Option<PathBuf> {
    let path = uses.strip_prefix("seed-eth/seed-eth/")?;
    let (action, pin) = path.split_once('@')?;
    assert_eq!(
        pin.len(),
        40,
        "examples pin seed-eth's actions by full commit SHA: {uses}"
    );
    Some(repository_root().join(action))
}

#[tokio::test]
async fn the_example_workflows_attest_and_verify_with_two_secrets_each() {
    let job = Job::new().await;
    let dir = job.dir();
    let url = job.anvil.endpoint();
    let host = job.oci.host();
    let project = job.example_project("github");
    let commit = &project.commit;
    let legs = ["ubuntu-24.04-arm", "ubuntu-24.04"];
    let tools = &project.tools;

    // Three builders run the seed workflow on both legs with their two secrets.
    let seed_workflow = repository_root().join("examples/github/seed.yaml");
    for builder in 1..=3 {
        let key = job.anvil.private_key_hex(builder);
        for (os, tools) in legs.iter().zip(tools) {
            let runner = Runner::new(dir, &[tools.path(), no_source_builds()]);
            let run = runner
                .github_workflow_job(
                    &seed_workflow,
                    "seed",
                    &[
                        ("secrets.SEED_BUILDER_KEY", &key),
                        ("secrets.SEED_RPC_URL", &url),
                        ("github.actor", "builder"),
                        ("github.token", "token"),
                        ("github.repository", "org/project"),
                        ("matrix.os", os),
                        ("env.SEED_REGISTRY", &host),
                        ("env.GITHUB_RUN_ID", "4242"),
                    ],
                    example_actions,
                )
                .unwrap();
            assert_eq!(run.exit_code, 0, "{}", run.log);
            assert!(
                run.summary.contains(&format!("attested {commit}")),
                "{}",
                run.summary
            );
            let quorum = builder == 3;
            assert!(
                run.log
                    .contains(&format!("quorum reached for this system {quorum}")),
                "{}",
                run.log
            );
        }
    }
    let status = job.status(commit);
    assert_eq!(status["isFinalised"], true, "{status}");

    // A maintainer locks the release; the consumer's build verifies it (with proofs, once the
    // release is final on chain) before it builds.
    let repository = format!("{host}/org/project/seed");
    let out = seed_eth(
        dir,
        &[
            "lock",
            "--commit",
            commit,
            "--repository",
            &repository,
            "--rpc-url",
            &url,
            "--deployment",
            ".seed-eth/deployment.json",
        ],
        &[],
    );
    assert_exit(&out, 0, "");
    git(dir, &["add", ".seed.lock"]);
    git(dir, &["commit", "--quiet", "-m", "seed lock"]);
    job.anvil.mine(70).await.unwrap();
    let build_workflow = repository_root().join("examples/github/build.yaml");
    let build = |tools: &Path| {
        Runner::new(dir, &[tools, no_source_builds()])
            .github_workflow_job(
                &build_workflow,
                "build",
                &[
                    ("secrets.SEED_RPC_URL", &url),
                    ("matrix.os", "ubuntu-24.04"),
                ],
                example_actions,
            )
            .unwrap()
    };
    let run = build(tools[1].path());
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert!(run.summary.contains("VERIFIED"), "{}", run.summary);
    assert!(
        dir.join("nix-build-ran").exists(),
        "the build ran after the verify step"
    );
    std::fs::remove_file(dir.join("nix-build-ran")).unwrap();

    // A lock naming another closure: the verify step fails the job and the build never runs.
    let lock = std::fs::read_to_string(dir.join(".seed.lock")).unwrap();
    let (_, agreed) = lock.split_once("\"manifest\": \"").unwrap();
    let agreed = &agreed[..71];
    let forged = lock.replace(agreed, &format!("sha256:{}", "ab".repeat(32)));
    assert_ne!(forged, lock);
    std::fs::write(dir.join(".seed.lock"), &forged).unwrap();
    let run = build(tools[1].path());
    assert_eq!(run.exit_code, 1, "{}", run.log);
    assert!(
        !dir.join("nix-build-ran").exists(),
        "the build ran on a lock that did not verify"
    );

    // The lock guard: a fork's pull request that changes .seed.lock is refused before any
    // build; the same change from the repository's own branch passes.
    git(
        dir,
        &[
            "commit",
            "--quiet",
            "-am",
            "a pull request changing the lock",
        ],
    );
    let base = git(dir, &["rev-parse", "HEAD~1"]);
    let guard = |head_repo: &str| {
        Runner::new(dir, &[no_source_builds()])
            .github_workflow_job(
                &build_workflow,
                "guard",
                &[
                    ("github.event.pull_request.base.sha", &base),
                    ("github.event.pull_request.head.repo.full_name", head_repo),
                    ("github.repository", "org/project"),
                ],
                example_actions,
            )
            .unwrap()
    };
    let run = guard("fork/project");
    assert_eq!(run.exit_code, 1, "{}", run.log);
    assert!(
        run.log.contains("changes flake.lock or .seed.lock"),
        "{}",
        run.log
    );
    assert_eq!(guard("org/project").exit_code, 0);
}

#[tokio::test]
async fn the_example_gitlab_pipeline_attests_and_verifies_with_its_two_variables() {
    let job = Job::new().await;
    let dir = job.dir();
    let url = job.anvil.endpoint();
    let host = job.oci.host();
    let project = job.example_project("gitlab");
    let commit = project.commit.clone();
    let tools = &project.tools;

    // The components come from this tree, their `source` from a mirror of it (the test's
    // GitLab instance cannot reach GitHub).
    let (source, component_sha) = component_source();
    let source_url = source.path().display().to_string();
    let components = |reference: &str| {
        let name = reference.strip_prefix("$CI_SERVER_FQDN/seed-eth/seed-eth/")?;
        let (name, _version) = name.split_once('@')?;
        Some((
            repository_root().join(format!("templates/{name}.yml")),
            component_sha.clone(),
            vec![("source".to_owned(), source_url.clone())],
        ))
    };
    let pipeline = repository_root().join("examples/gitlab/.gitlab-ci.yml");
    let project_image = format!("{host}/org/project");
    let variables = |key: &str| {
        vec![
            ("CI_COMMIT_SHA".to_owned(), commit.clone()),
            ("CI_JOB_ID".to_owned(), "77".to_owned()),
            ("CI_REGISTRY_IMAGE".to_owned(), project_image.clone()),
            ("CI_REGISTRY_USER".to_owned(), "gitlab-ci-token".to_owned()),
            ("CI_REGISTRY_PASSWORD".to_owned(), "token".to_owned()),
            ("SEED_ETH_PRIVATE_KEY".to_owned(), key.to_owned()),
            ("SEED_ETH_RPC_URL".to_owned(), url.clone()),
        ]
    };
    let run_job = |tools: &Path, name: &str, variables: &[(String, String)]| {
        let variables: Vec<(&str, &str)> = variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Runner::new(dir, &[tools, no_source_builds()])
            .gitlab_pipeline_job(&pipeline, name, components, &variables)
            .unwrap()
    };

    // Three builders' pipelines, one runner per architecture: the seed job, then the attest
    // component's job, which pushes the seed and votes.
    for builder in 1..=3 {
        let variables = variables(&job.anvil.private_key_hex(builder));
        for tools in tools {
            let run = run_job(tools.path(), "seed", &variables);
            assert_eq!(run.exit_code, 0, "{}", run.log);
            let run = run_job(tools.path(), "seed-eth-attest", &variables);
            assert_eq!(run.exit_code, 0, "{}", run.log);
            assert_eq!(run.output("sent"), "true", "{:?}", run.outputs);
            assert!(run
                .output("image")
                .starts_with(&format!("{project_image}/seed@sha256:")));
            assert_eq!(
                run.output("progress_quorum_reached"),
                (builder == 3).to_string()
            );
            std::fs::remove_file(dir.join("seed-eth-attest.env")).unwrap();
        }
    }
    assert_eq!(job.status(&commit)["isFinalised"], true);

    // The consumer's pipeline: the verify component's job passes on the lock, then the build.
    let out = seed_eth(
        dir,
        &[
            "lock",
            "--commit",
            &commit,
            "--repository",
            &format!("{project_image}/seed"),
            "--rpc-url",
            &url,
            "--deployment",
            ".seed-eth/deployment.json",
        ],
        &[],
    );
    assert_exit(&out, 0, "");
    job.anvil.mine(70).await.unwrap();
    let consumer = variables("");
    let run = run_job(tools[1].path(), "seed-eth-verify", &consumer);
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert_eq!(run.output("verified"), "true", "{:?}", run.outputs);
    let run = run_job(tools[1].path(), "build", &consumer);
    assert_eq!(run.exit_code, 0, "{}", run.log);
    assert!(dir.join("nix-build-ran").exists());
}
