//! `attest` and `verify` under `--posture credulous` as users run them: real
//! registry (docker-registry on loopback), the Rekor v1 double over HTTP,
//! keys made by openssl as docs/cli.md tells builders to make them.

#![allow(clippy::unwrap_used)]

use std::{path::Path, process::Output};

use base64::Engine as _;
use seed_oci::{ImageContent, RegistryClient, Repository};
use seed_sigstore::SigningKey;
use seed_testkit::{
    registry::TestRegistry,
    rekor::{RekorServer, ORIGIN},
};
use seed_witness::gossip::origin_hash;
use serde_json::Value;

mod support;
use support::{assert_exit, http_get, json, seed_eth, text};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const X86: &str = "x86_64-linux";
const ARM: &str = "aarch64-linux";
const NIX_CONFIG: &str = "sandbox = true\nsubstituters = https://cache.nixos.org/\n";

/// A working directory with flake.lock, nix.conf, three builder keys, a
/// policy (k = 2) and a seed-eth.toml naming them, the log and the registry;
/// one seed image per system.
struct Setup {
    dir: tempfile::TempDir,
    registry: TestRegistry,
    rekor: RekorServer,
    /// Per system: the image reference and the closure it holds.
    images: Vec<(&'static str, String, String)>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(path.join("flake.lock"), b"{\"nodes\":{},\"version\":7}\n").unwrap();
        std::fs::write(path.join("nix.conf"), NIX_CONFIG).unwrap();
        let registry = TestRegistry::start().unwrap();
        let rekor = RekorServer::start().unwrap();
        std::fs::write(
            path.join("trusted_root.json"),
            rekor.trusted_root().to_string(),
        )
        .unwrap();
        let mut policy = format!("threshold = 2\nsystems = [\"{X86}\", \"{ARM}\"]\n");
        for name in ["b0", "b1", "b2", "outsider"] {
            let key = path.join(format!("{name}.pem"));
            let made = std::process::Command::new("openssl")
                .args(["genpkey", "-algorithm", "EC", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-out"])
                .arg(&key)
                .output()
                .unwrap();
            assert!(made.status.success(), "openssl: {made:?}");
            if name == "outsider" {
                continue;
            }
            let public = SigningKey::from_pem(&std::fs::read_to_string(&key).unwrap())
                .unwrap()
                .public_key_pem();
            policy += &format!(
                "\n[[builder]]\nname = \"{name}\"\npublic-key = \"\"\"\n{public}\"\"\"\norganisation = \"org-{name}\"\njurisdiction = \"j-{name}\"\ninfrastructure = \"infra-{name}\"\n"
            );
        }
        std::fs::write(path.join("policy.toml"), policy).unwrap();
        std::fs::write(
            path.join("seed-eth.toml"),
            format!(
                "[oci]\nplain-http = [\"{}\"]\n\n[credulous]\npolicy = \"policy.toml\"\ntrusted-root = \"trusted_root.json\"\nrekor-urls = [\"{}\"]\n",
                registry.host(),
                rekor.url()
            ),
        )
        .unwrap();
        let client = RegistryClient::plain_http(&[&registry.host()]).unwrap();
        let repo: Repository = format!("{}/seed", registry.host()).parse().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let images = [X86, ARM]
            .into_iter()
            .map(|system| {
                let (content, holds) = ImageContent::synthetic_seed(system, "ci").unwrap();
                let pushed = runtime
                    .block_on(client.push_image(&repo, &content, None))
                    .unwrap();
                (
                    system,
                    repo.image_ref(&pushed.digest()).unwrap().to_string(),
                    holds.digest().to_string(),
                )
            })
            .collect();
        Self {
            dir,
            registry,
            rekor,
            images,
        }
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    fn image(&self, system: &str) -> (&str, &str) {
        let (_, image, holds) = self.images.iter().find(|(s, ..)| *s == system).unwrap();
        (image, holds)
    }

    /// `attest --posture credulous` as `builder`, attesting `manifest` (the
    /// image's own closure when `None`) for `system`.
    fn attest(
        &self,
        builder: &str,
        system: &str,
        manifest: Option<&str>,
        extra: &[&str],
    ) -> Output {
        let (image, holds) = self.image(system);
        let key = format!("{builder}.pem");
        let mut args = vec![
            "--json",
            "attest",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
            "--system",
            system,
            "--manifest-digest",
            manifest.unwrap_or(holds),
            "--image",
            image,
            "--repository",
            "https://github.com/seed-eth/example",
            "--nix-config",
            "nix.conf",
            "--signing-key",
            &key,
        ];
        if manifest.is_some() {
            // Another closure than the image holds: only a builder skipping the check can.
            args.push("--no-content-check");
        }
        args.extend_from_slice(extra);
        seed_eth(self.cwd(), &args, &[("GITHUB_RUN_ID", "4242")])
    }

    fn verify(&self, extra: &[&str]) -> (i32, Value, String) {
        let mut args = vec![
            "--json",
            "verify",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
        ];
        for system in [X86, ARM] {
            args.extend(["--image", self.image(system).0]);
        }
        args.extend_from_slice(extra);
        let out = seed_eth(self.cwd(), &args, &[]);
        (out.status.code().unwrap(), json(&out), text(&out))
    }
}

#[test]
fn builders_attest_and_a_consumer_verifies_a_credulous_release() {
    let setup = Setup::new();
    for builder in ["b0", "b1"] {
        for system in [X86, ARM] {
            let out = setup.attest(builder, system, None, &[]);
            assert_exit(&out, 0, "");
            let report = json(&out);
            assert_eq!(report["posture"], "credulous");
            assert_eq!(report["alreadyAttested"], false);
            assert!(report["referrer"].as_str().unwrap().starts_with("sha256:"));
        }
    }
    // b2 attests another x86 closure; the outsider agrees with it.
    let other = format!("sha256:{}", "9".repeat(64));
    assert_exit(&setup.attest("b2", X86, Some(&other), &[]), 0, "");
    assert_exit(&setup.attest("outsider", X86, Some(&other), &[]), 0, "");

    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(report["verified"], true);
    let x86 = &report["systems"][0];
    assert_eq!(x86["system"], X86);
    assert_eq!(x86["manifestDigest"], setup.image(X86).1);
    assert_eq!(x86["voters"].as_array().unwrap().len(), 2);
    assert!(x86["voters"][0]["logEntries"][0]["logIndex"].is_u64());
    assert_eq!(x86["manifests"][&other], serde_json::json!(["b2"]));
    assert_eq!(report["content"].as_array().unwrap().len(), 2);
    let refused = report["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] == "refused")
        .count();
    assert_eq!(refused, 1, "the outsider's key is not in the policy: {all}");

    // k = 3: the disagreement holds the release back (exit 1), and says why.
    let strict = std::fs::read_to_string(setup.cwd().join("policy.toml"))
        .unwrap()
        .replace("threshold = 2", "threshold = 3");
    std::fs::write(setup.cwd().join("strict.toml"), strict).unwrap();
    let (code, report, all) = setup.verify(&["--policy", "strict.toml"]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(report["verified"], false);
    assert!(
        all.contains("no closure is attested by 3 distinct policy builders"),
        "{all}"
    );
}

#[test]
fn attesting_again_is_success_and_another_closure_is_a_conflict() {
    let setup = Setup::new();
    assert_exit(
        &setup.attest("b0", X86, None, &["--bundle-out", "b0.bundle.json"]),
        0,
        "",
    );
    let logged = setup.rekor.lock().size();
    let bundle = std::fs::read_to_string(setup.cwd().join("b0.bundle.json")).unwrap();
    assert!(bundle.contains("application/vnd.dev.sigstore.bundle.v0.3+json"));

    let again = setup.attest("b0", X86, None, &[]);
    assert_exit(&again, 0, "");
    assert_eq!(json(&again)["alreadyAttested"], true);
    assert_eq!(setup.rekor.lock().size(), logged, "nothing logged twice");

    let other = format!("sha256:{}", "9".repeat(64));
    assert_exit(&setup.attest("b0", X86, Some(&other), &[]), 1, "CONFLICT");
    assert_eq!(setup.rekor.lock().size(), logged);

    // The bundle written verifies on its own with `bundle verify --key`.
    let public =
        SigningKey::from_pem(&std::fs::read_to_string(setup.cwd().join("b0.pem")).unwrap())
            .unwrap()
            .public_key_pem();
    std::fs::write(setup.cwd().join("b0.pub"), public).unwrap();
    let image_digest = setup.image(X86).0.rsplit_once('@').unwrap().1.to_owned();
    let out = seed_eth(
        setup.cwd(),
        &[
            "bundle",
            "verify",
            "--bundle",
            "b0.bundle.json",
            "--digest",
            &image_digest,
            "--key",
            "b0.pub",
            "--trusted-root",
            "trusted_root.json",
        ],
        &[],
    );
    assert_exit(&out, 0, "");
}

#[test]
fn a_log_that_is_down_is_exit_3_and_publishes_nothing() {
    let setup = Setup::new();
    setup
        .rekor
        .fail_next(&[seed_testkit::rekor::Fault::Status(503); 2]);
    let out = setup.attest("b0", X86, None, &["--rekor-attempts", "2"]);
    assert_exit(&out, 3, "unavailable after 2 attempts");
    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 1, "{all}");
    assert!(report["bundles"].as_array().unwrap().is_empty(), "{all}");
    // The same command later succeeds.
    assert_exit(&setup.attest("b0", X86, None, &[]), 0, "");
}

#[test]
fn what_credulous_needs_is_asked_for_by_name() {
    let setup = Setup::new();
    std::fs::write(
        setup.cwd().join("seed-eth.toml"),
        format!("[oci]\nplain-http = [\"{}\"]\n", setup.registry.host()),
    )
    .unwrap();
    let (image, holds) = setup.image(X86);
    let out = seed_eth(
        setup.cwd(),
        &[
            "attest",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
            "--system",
            X86,
            "--manifest-digest",
            holds,
            "--image",
            image,
            "--repository",
            "https://github.com/seed-eth/example",
            "--nix-config",
            "nix.conf",
        ],
        &[("GITHUB_RUN_ID", "1")],
    );
    assert_exit(&out, 2, "--signing-key FILE");
    assert_exit(&out, 2, "--identity-token FILE");
    let out = seed_eth(
        setup.cwd(),
        &[
            "verify",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
            "--image",
            image,
        ],
        &[],
    );
    assert_exit(&out, 2, "--policy FILE");
    let out = seed_eth(
        setup.cwd(),
        &[
            "verify",
            "--posture",
            "credulous",
            "--policy",
            "policy.toml",
            "--image",
            image,
        ],
        &[],
    );
    assert_exit(&out, 2, "--commit COMMIT");
    std::fs::write(
        setup.cwd().join("sec1.pem"),
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = setup.attest("sec1", X86, None, &[]);
    assert_exit(&out, 2, "openssl pkcs8 -topk8");
}

impl Setup {
    /// Writes a follow file naming the release and both images.
    fn follow(&self) {
        let images: Vec<String> = self
            .images
            .iter()
            .map(|(_, image, _)| format!("\"{image}\""))
            .collect();
        std::fs::write(
            self.cwd().join("follow.toml"),
            format!(
                "[[release]]\ncommit = \"{COMMIT}\"\nimages = [{}]\n",
                images.join(", ")
            ),
        )
        .unwrap();
    }

    fn keeper(&self, extra: &[&str]) -> (i32, Value, String) {
        let source = format!("{}/seed", self.registry.host());
        let target = format!("{}/promoted", self.registry.host());
        let mut args = vec![
            "--json",
            "keeper",
            "--posture",
            "credulous",
            "--once",
            "--follow",
            "follow.toml",
            "--source",
            &source,
            "--target",
            &target,
            "--state",
            "keeper.sqlite",
        ];
        args.extend_from_slice(extra);
        let out = seed_eth(self.cwd(), &args, &[]);
        (out.status.code().unwrap(), json(&out), text(&out))
    }

    /// The digest `promoted:<tag>` serves, if any.
    fn promoted(&self, tag: &str) -> Option<String> {
        let client = RegistryClient::plain_http(&[&self.registry.host()]).unwrap();
        let repo: Repository = format!("{}/promoted", self.registry.host())
            .parse()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(client.pull_tag(&repo, &tag.parse().unwrap()))
            .unwrap()
            .map(|m| m.digest().to_string())
    }

    /// The Credulous verdicts attached to `image` in the promoted repository.
    fn verdicts(&self, image: &str) -> Vec<Value> {
        let client = RegistryClient::plain_http(&[&self.registry.host()]).unwrap();
        let repo: Repository = format!("{}/promoted", self.registry.host())
            .parse()
            .unwrap();
        let digest = image.rsplit_once('@').unwrap().1.parse().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let kind = seed_keeper::credulous::CREDULOUS_VERDICT_ARTIFACT_TYPE;
        runtime.block_on(async {
            let mut verdicts = Vec::new();
            for referrer in client
                .list_referrers(&repo, &digest, Some(kind))
                .await
                .unwrap()
            {
                let annotations = client
                    .referrer_annotations(&repo, &digest, &referrer.sha256().unwrap(), kind)
                    .await
                    .unwrap();
                verdicts.push(
                    serde_json::from_str(&annotations[seed_keeper::VERDICT_ANNOTATION]).unwrap(),
                );
            }
            verdicts
        })
    }
}

#[test]
fn the_keeper_promotes_a_credulous_release_once_its_quorum_verifies() {
    let setup = Setup::new();
    setup.follow();
    for system in [X86, ARM] {
        assert_exit(&setup.attest("b0", system, None, &[]), 0, "");
    }
    let (code, report, all) = setup.keeper(&[]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(report["releases"][0]["state"], "waiting", "{all}");
    assert!(all.contains("no closure is attested by 2"), "{all}");
    assert_eq!(setup.promoted(&format!("{COMMIT}-{X86}")), None);

    for system in [X86, ARM] {
        assert_exit(&setup.attest("b1", system, None, &[]), 0, "");
    }
    let (code, report, all) = setup.keeper(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(report["releases"][0]["state"], "promoted", "{all}");
    for system in [X86, ARM] {
        let (image, holds) = setup.image(system);
        let digest = image.rsplit_once('@').unwrap().1.to_owned();
        assert_eq!(
            setup.promoted(&format!("{COMMIT}-{system}")).as_deref(),
            Some(digest.as_str())
        );
        assert_eq!(
            setup.promoted(&format!("release-{system}")).as_deref(),
            Some(digest.as_str())
        );
        let verdicts = setup.verdicts(image);
        assert_eq!(verdicts.len(), 1, "{verdicts:?}");
        assert_eq!(verdicts[0]["manifestDigest"], holds);
        assert_eq!(verdicts[0]["builders"].as_array().unwrap().len(), 2);
        assert!(verdicts[0]["builders"][0]["logEntries"][0]["logIndex"].is_u64());
    }
    // Again: nothing changes, still promoted.
    let (code, report, all) = setup.keeper(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(report["releases"][0]["state"], "promoted");
    assert_eq!(setup.verdicts(setup.image(X86).0).len(), 1);
}

#[test]
fn a_release_past_its_deadline_is_expired_and_never_promoted() {
    let setup = Setup::new();
    setup.follow();
    for system in [X86, ARM] {
        assert_exit(&setup.attest("b0", system, None, &[]), 0, "");
    }
    let (code, report, all) = setup.keeper(&["--deadline-s", "0"]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(report["releases"][0]["state"], "expired", "{all}");
    for system in [X86, ARM] {
        assert_exit(&setup.attest("b1", system, None, &[]), 0, "");
    }
    let (code, report, all) = setup.keeper(&[]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(
        report["releases"][0]["state"], "expired",
        "an expired release stays expired: {all}"
    );
    assert_eq!(setup.promoted(&format!("{COMMIT}-{X86}")), None);
}

#[test]
fn a_lock_pins_the_policy_and_verification_holds_to_it() {
    let setup = Setup::new();
    for builder in ["b0", "b1"] {
        for system in [X86, ARM] {
            assert_exit(&setup.attest(builder, system, None, &[]), 0, "");
        }
    }
    let (x86, _) = setup.image(X86);
    let (arm, _) = setup.image(ARM);
    let out = seed_eth(
        setup.cwd(),
        &[
            "--json",
            "lock",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
            "--image",
            x86,
            "--image",
            arm,
            "--output",
            "seed.lock",
        ],
        &[],
    );
    assert_exit(&out, 0, "");
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.cwd().join("seed.lock")).unwrap())
            .unwrap();
    let policy = std::fs::read(setup.cwd().join("policy.toml")).unwrap();
    let digest = seed_oci::manifest::sha256(&policy).to_string();
    assert_eq!(lock["credulousPolicy"], digest.as_str());
    assert_eq!(lock["systems"][X86]["manifest"], setup.image(X86).1);

    let verify = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "verify",
            "--posture",
            "credulous",
            "--commit",
            COMMIT,
            "--lock",
            "seed.lock",
        ];
        args.extend_from_slice(extra);
        let out = seed_eth(setup.cwd(), &args, &[]);
        (out.status.code().unwrap(), text(&out))
    };
    let (code, all) = verify(&[]);
    assert_eq!(code, 0, "{all}");
    let other = std::fs::read_to_string(setup.cwd().join("policy.toml"))
        .unwrap()
        .replace(
            "organisation = \"org-b0\"",
            "organisation = \"org-b0-renamed\"",
        );
    std::fs::write(setup.cwd().join("other.toml"), other).unwrap();
    let (code, all) = verify(&["--policy", "other.toml"]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("the lock pins the Credulous policy"), "{all}");
}

#[test]
fn a_keyless_builder_attests_with_an_identity_token() {
    use seed_testkit::fulcio::{FulcioServer, TokenIdentity};

    let setup = Setup::new();
    let fulcio = FulcioServer::start().unwrap();
    let tsa = seed_testkit::tsa::TsaServer::start().unwrap();
    let identity = TokenIdentity::Workflow {
        job_workflow_ref: "org/seed/.github/workflows/seed.yaml@refs/heads/main".to_owned(),
    };
    let mut root = fulcio.trusted_root(&setup.rekor.trusted_root());
    tsa.add_to(&mut root);
    std::fs::write(setup.cwd().join("trusted_root.json"), root.to_string()).unwrap();
    let mut policy = std::fs::read_to_string(setup.cwd().join("policy.toml")).unwrap();
    policy += &format!(
        "\n[[issuer]]\nurl = \"{url}\"\noperator = \"test-ci\"\n\n[[builder]]\nname = \"ci\"\nissuer = \"{url}\"\nidentity = \"{san}\"\norganisation = \"org-ci\"\njurisdiction = \"j-ci\"\ninfrastructure = \"infra-ci\"\n",
        url = fulcio.url(),
        san = identity.san()
    );
    std::fs::write(setup.cwd().join("policy.toml"), policy).unwrap();
    std::fs::write(setup.cwd().join("token.jwt"), fulcio.token(&identity)).unwrap();
    let keyless = |system: &str, token: &str| {
        let (image, holds) = setup.image(system);
        seed_eth(
            setup.cwd(),
            &[
                "--json",
                "attest",
                "--posture",
                "credulous",
                "--commit",
                COMMIT,
                "--system",
                system,
                "--manifest-digest",
                holds,
                "--image",
                image,
                "--repository",
                "https://github.com/seed-eth/example",
                "--nix-config",
                "nix.conf",
                "--identity-token",
                token,
                "--fulcio-url",
                &fulcio.url(),
                "--tsa-url",
                &tsa.url(),
                "--bundle-out",
                &format!("{system}.bundle.json"),
            ],
            &[("GITHUB_RUN_ID", "4242")],
        )
    };
    for system in [X86, ARM] {
        let out = keyless(system, "token.jwt");
        assert_exit(&out, 0, "");
        assert_eq!(
            json(&out)["signer"],
            format!("{} (issuer {})", identity.san(), fulcio.url())
        );
        let bundle =
            std::fs::read_to_string(setup.cwd().join(format!("{system}.bundle.json"))).unwrap();
        assert!(bundle.contains("rfc3161Timestamps"), "{bundle}");
        assert_exit(&setup.attest("b0", system, None, &[]), 0, "");
    }
    // Again with a fresh certificate (a new key): already attested, nothing logged.
    let logged = setup.rekor.lock().size();
    let again = keyless(X86, "token.jwt");
    assert_exit(&again, 0, "");
    assert_eq!(json(&again)["alreadyAttested"], true);
    assert_eq!(setup.rekor.lock().size(), logged);

    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(
        report["systems"][0]["voters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["builder"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["b0", "ci"]
    );

    // A token the Fulcio does not trust, and one that is no token, are exit 2.
    let stranger = FulcioServer::start().unwrap();
    std::fs::write(setup.cwd().join("stranger.jwt"), stranger.token(&identity)).unwrap();
    assert_exit(&keyless(X86, "stranger.jwt"), 2, "refused to certify");
    std::fs::write(setup.cwd().join("junk.jwt"), "not a token").unwrap();
    assert_exit(
        &keyless(X86, "junk.jwt"),
        2,
        "identity token cannot be used",
    );
}

/// Polls `check` every 100 ms until it holds, or fails after `seconds`.
fn wait_for(what: &str, seconds: u64, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(seconds),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_credulous_keeper_service_rereads_its_follow_file_and_stops_on_sigterm() {
    let setup = Setup::new();
    std::fs::write(setup.cwd().join("follow.toml"), "").unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let source = format!("{}/seed", setup.registry.host());
    let target = format!("{}/promoted", setup.registry.host());
    let mut service = std::process::Command::new(env!("CARGO_BIN_EXE_seed-eth"))
        .current_dir(setup.cwd())
        .args([
            "keeper",
            "--posture",
            "credulous",
            "--follow",
            "follow.toml",
        ])
        .args([
            "--source",
            &source,
            "--target",
            &target,
            "--state",
            "keeper.sqlite",
        ])
        .args(["--poll-ms", "100", "--metrics-addr", &metrics.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("/healthz 200", 20, || {
        http_get(metrics, "/healthz").0 == 200
    });
    // Builders attest, then the release is appended to the follow file.
    for builder in ["b0", "b1"] {
        for system in [X86, ARM] {
            assert_exit(&setup.attest(builder, system, None, &[]), 0, "");
        }
    }
    setup.follow();
    let digest = setup.image(X86).0.rsplit_once('@').unwrap().1.to_owned();
    wait_for("the release to be promoted", 30, || {
        setup.promoted(&format!("{COMMIT}-{X86}")).as_deref() == Some(digest.as_str())
    });
    // A follow file that no longer parses makes the service unhealthy, not dead.
    std::fs::write(setup.cwd().join("follow.toml"), "[[release]]\ncommit = 1\n").unwrap();
    wait_for("/healthz 503", 20, || {
        http_get(metrics, "/healthz").0 == 503
    });
    assert!(service.try_wait().unwrap().is_none(), "the service exited");
    setup.follow();
    wait_for("/healthz 200 again", 20, || {
        http_get(metrics, "/healthz").0 == 200
    });

    let pid = service.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = service.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(10) {
            let _ = service.kill();
            panic!("no exit after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_builder_logs_in_rekor_v2_with_a_timestamp() {
    use seed_testkit::{rekor_v2::RekorV2Server, tsa::TsaServer};

    let setup = Setup::new();
    let v2 = RekorV2Server::start().unwrap();
    let tsa = TsaServer::start().unwrap();
    let mut root = setup.rekor.trusted_root();
    v2.add_to(&mut root);
    tsa.add_to(&mut root);
    std::fs::write(setup.cwd().join("trusted_root.json"), root.to_string()).unwrap();
    // Rekor v2 gives no SET: without a timestamp authority nothing is signed.
    let v2_url = v2.url();
    let out = setup.attest("b0", X86, None, &["--rekor-v2-url", &v2_url]);
    assert_exit(&out, 2, "--tsa-url");
    assert_eq!(v2.size(), 0);
    let tsa_url = tsa.url();
    for system in [X86, ARM] {
        let out = setup.attest(
            "b0",
            system,
            None,
            &["--rekor-v2-url", &v2_url, "--tsa-url", &tsa_url],
        );
        assert_exit(&out, 0, "");
        assert_exit(&setup.attest("b1", system, None, &[]), 0, "");
    }
    assert_eq!(v2.size(), 2);
    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(report["verified"], true);
}

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// A `seed-eth witness run` service process: its key, config and port.
struct WitnessProcess {
    name: &'static str,
    vkey: String,
    addr: std::net::SocketAddr,
    child: Option<std::process::Child>,
}

impl WitnessProcess {
    /// Makes the key with `seed-eth witness keygen` and picks a port.
    fn new(setup: &Setup, name: &'static str) -> Self {
        let out = seed_eth(
            setup.cwd(),
            &[
                "witness",
                "keygen",
                "--name",
                &format!("{name}.witness.test/w1"),
                "--out",
                &format!("{name}.key"),
            ],
            &[],
        );
        assert_exit(&out, 0, "");
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        Self {
            name,
            vkey: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            addr,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (Re)starts it following the log at `log_url`, gossiping with `peer`.
    fn start(&mut self, setup: &Setup, log_url: &str, peer: &WitnessProcess) {
        self.stop();
        let config = format!(
            "state = \"{name}.sqlite\"\nkey = \"{name}.key\"\nlisten = \"{addr}\"\npoll-ms = 200\n\n\
             [[log]]\norigin = \"{ORIGIN}\"\nvkey = \"{log}\"\nurl = \"{log_url}\"\n\n\
             [[peer]]\nname = \"{peer_name}\"\nvkey = \"{peer_vkey}\"\nurl = \"{peer_url}\"\n",
            name = self.name,
            addr = self.addr,
            log = setup.rekor.lock().vkey(),
            peer_name = peer.name,
            peer_vkey = peer.vkey,
            peer_url = peer.url(),
        );
        let file = format!("{}.toml", self.name);
        std::fs::write(setup.cwd().join(&file), config).unwrap();
        self.child = Some(
            std::process::Command::new(env!("CARGO_BIN_EXE_seed-eth"))
                .current_dir(setup.cwd())
                .args(["witness", "run", "--config", &file])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for("the witness to listen", 20, || {
            std::net::TcpStream::connect(self.addr).is_ok()
        });
    }

    /// The size of its cosigned checkpoint of the double's log (0: none).
    fn size(&self) -> u64 {
        let (status, response) =
            http_get(self.addr, &format!("/{}/checkpoint", origin_hash(ORIGIN)));
        match status {
            200 => body(&response).lines().nth(1).unwrap().parse().unwrap(),
            _ => 0,
        }
    }

    fn alarms(&self) -> Vec<Value> {
        let (status, response) = http_get(self.addr, "/alarms");
        assert_eq!(status, 200, "{response}");
        serde_json::from_str::<Value>(body(&response))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// SIGTERM, and the exit status.
    fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        assert!(std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > std::time::Duration::from_secs(10) {
                let _ = child.kill();
                panic!("witness {} did not exit after SIGTERM", self.name);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
        }
    }
}

/// Two witness processes gossip over loopback; the policy requires both.
/// While the log shows everyone one tree, the release verifies and is
/// promoted only once both have cosigned a tree that extends its bundles'.
/// When the log shows one witness another tree, gossip raises the alarm in
/// both (naming the peer, with both checkpoints), and verification and the
/// keeper refuse the release.
#[test]
fn witnesses_catch_a_split_view_of_rekor_and_it_blocks_verification_and_promotion() {
    let setup = Setup::new();
    let (mut alpha, mut bravo) = (
        WitnessProcess::new(&setup, "alpha"),
        WitnessProcess::new(&setup, "bravo"),
    );
    let log = setup.rekor.lock().vkey();
    let key_id = base64::engine::general_purpose::STANDARD.encode(setup.rekor.lock().log_id());
    let policy = std::fs::read_to_string(setup.cwd().join("policy.toml")).unwrap();
    std::fs::write(
        setup.cwd().join("policy.toml"),
        format!(
            "witnesses = \"\"\"\nwitness alpha {} {}\nwitness bravo {} {}\ngroup both all alpha bravo\nquorum both\n\"\"\"\n{policy}\n\
             [[log]]\nname = \"rekor-double\"\nkey-id = \"{key_id}\"\noperator = \"double\"\norigin = \"{ORIGIN}\"\nvkey = \"{log}\"\nurl = \"{}\"\n",
            alpha.vkey, alpha.url(), bravo.vkey, bravo.url(), setup.rekor.url()
        ),
    )
    .unwrap();
    setup.follow();
    for builder in ["b0", "b1"] {
        for system in [X86, ARM] {
            assert_exit(&setup.attest(builder, system, None, &[]), 0, "");
        }
    }
    // No witness has seen the log yet: not witnessed, not promoted.
    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("not witnessed"), "{all}");
    assert_eq!(report["verified"], false);
    let (code, _, all) = setup.keeper(&[]);
    assert_eq!(code, 1, "{all}");
    assert_eq!(setup.promoted(&format!("{COMMIT}-{X86}")), None);

    // Both witnesses follow the log and gossip: both cosign its tree.
    let size = setup.rekor.lock().size();
    alpha.start(&setup, &setup.rekor.url(), &bravo);
    bravo.start(&setup, &setup.rekor.url(), &alpha);
    wait_for("both witnesses to cosign the log", 30, || {
        alpha.size() == size && bravo.size() == size
    });
    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(report["alarms"], serde_json::json!([]));

    // The log splits: bravo is shown a tree alpha is not. Bravo is stopped while alpha takes
    // in its side of the split, so each witness first holds its own view (otherwise whichever
    // saw a side first would adopt it, and only the log would be blamed).
    let split = setup.rekor.fork().unwrap();
    bravo.stop();
    setup
        .rekor
        .lock()
        .append(b"seen by alpha".to_vec(), 1_700_000_000);
    wait_for("alpha to cosign its side of the split", 30, || {
        alpha.size() == size + 1
    });
    split
        .lock()
        .append(b"seen by bravo".to_vec(), 1_700_000_000);
    bravo.start(&setup, &split.url(), &alpha);
    // Bravo's push may reach alpha first: that alarm names only the client's
    // address (add-checkpoint is unauthenticated). Alpha's pull of bravo's
    // cosigned checkpoint names the peer.
    let from_peer = |alarms: Vec<Value>| {
        alarms
            .into_iter()
            .find(|a| a["source"].as_str().unwrap().contains("peer bravo"))
    };
    wait_for("gossip to raise the alarm in both witnesses", 30, || {
        from_peer(alpha.alarms()).is_some() && !bravo.alarms().is_empty()
    });
    let alarm = &from_peer(alpha.alarms()).unwrap();
    assert_eq!(alarm["kind"], "fork", "{alarm}");
    assert!(
        alarm["source"].as_str().unwrap().contains("peer bravo"),
        "{alarm}"
    );
    assert!(
        alarm["seen"]
            .as_str()
            .unwrap()
            .contains("bravo.witness.test/w1"),
        "{alarm}"
    );
    assert_eq!(
        alarm["held"].as_str().unwrap().lines().nth(1),
        Some(&*(size + 1).to_string())
    );
    assert!(
        http_get(alpha.addr, "/metrics")
            .1
            .contains("seed_witness_alarms_total"),
        "metrics served"
    );

    // Verification and promotion refuse the release, naming the split view.
    let (code, report, all) = setup.verify(&[]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("SPLIT VIEW"), "{all}");
    assert_eq!(report["alarms"][0]["kind"], "fork", "{all}");
    let (code, _, all) = setup.keeper(&[]);
    assert_eq!(code, 1, "{all}");
    assert!(all.contains("SPLIT VIEW"), "{all}");
    assert_eq!(setup.promoted(&format!("{COMMIT}-{X86}")), None);
    // `witness alarms` reads them from the state file too.
    let out = seed_eth(
        setup.cwd(),
        &["witness", "alarms", "--state", "alpha.sqlite"],
        &[],
    );
    assert_exit(&out, 1, "ALARM #1");

    assert_eq!(alpha.stop(), Some(0));
    assert_eq!(bravo.stop(), Some(0));
}

/// A builder's attest checks the new entry's checkpoint against its own
/// witness: a log that shows it a tree its witness cannot reconcile gets
/// exit 1, and nothing is attached to the image; otherwise the witness's
/// cosigned checkpoint is gossiped beside the bundle.
#[test]
fn attest_refuses_to_publish_an_entry_its_witness_cannot_reconcile() {
    let setup = Setup::new();
    let log = setup.rekor.lock().vkey();
    let split = setup.rekor.fork().unwrap();
    setup
        .rekor
        .lock()
        .append(b"the builder's witness saw this".to_vec(), 1_700_000_000);
    let out = seed_eth(
        setup.cwd(),
        &[
            "witness",
            "keygen",
            "--name",
            "own.witness.test",
            "--out",
            "own.key",
        ],
        &[],
    );
    assert_exit(&out, 0, "own.witness.test+");
    std::fs::write(
        setup.cwd().join("own-witness.toml"),
        format!(
            "state = \"own.sqlite\"\nkey = \"own.key\"\n\n[[log]]\norigin = \"{ORIGIN}\"\nvkey = \"{log}\"\nurl = \"{}\"\n",
            setup.rekor.url()
        ),
    )
    .unwrap();
    let out = seed_eth(
        setup.cwd(),
        &["witness", "run", "--once", "--config", "own-witness.toml"],
        &[],
    );
    assert_exit(&out, 0, "size 1");
    // The builder's log writes go to the other view.
    let split_url = split.url();
    let out = setup.attest(
        "b0",
        X86,
        None,
        &[
            "--rekor-url",
            &split_url,
            "--witness-config",
            "own-witness.toml",
        ],
    );
    assert_exit(&out, 1, "SPLIT VIEW");
    let (_, report, _) = setup.verify(&[]);
    assert_eq!(
        report["bundles"],
        serde_json::json!([]),
        "nothing was attached"
    );
    // Against the log its witness follows, the same build publishes.
    let rekor_url = setup.rekor.url();
    let out = setup.attest(
        "b0",
        X86,
        None,
        &[
            "--rekor-url",
            &rekor_url,
            "--witness-config",
            "own-witness.toml",
        ],
    );
    // With its witness's key, the builder gossips its cosigned checkpoint
    // beside the bundle.
    assert_exit(&out, 0, "\"witnessCheckpoints\":[\"sha256:");
}
