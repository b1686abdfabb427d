//! `seed-eth attest` and `seed-eth relay` against a real anvil and a real OCI
//! registry (CNCF Distribution), on a deployment made by `seed-eth deploy`:
//! three builders finalise a two-system release, re-running sends nothing,
//! the statement referrer is the one whose digest is on-chain, signed votes
//! go through one relayed batch, and every bad input fails closed with its
//! exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use alloy::providers::{Provider, ProviderBuilder};
use seed_core::Sha256Digest;
use seed_oci::{ImageContent, RegistryClient, Repository, SIGNED_VOTE_REFERRER};
use seed_statement::Expected;
use seed_testkit::{anvil::TestAnvil, registry::TestRegistry};
use serde_json::Value;

mod support;
use support::{assert_exit, json, seed_eth, text};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_2: &str = "89abcdef0123456789abcdef0123456789abcdef";
const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
const NIX_CONFIG: &str =
    "sandbox = true\nsubstituters = https://cache.nixos.org/\ntrusted-substituters = \ncores = 0\n";

/// A deployed registry and a working directory holding flake.lock and a Nix configuration.
struct Setup {
    anvil: TestAnvil,
    dir: tempfile::TempDir,
    registry: String,
}

impl Setup {
    fn new() -> Self {
        let anvil = TestAnvil::spawn().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("flake.lock"),
            b"{\"nodes\":{},\"version\":7}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("nix.conf"), NIX_CONFIG).unwrap();
        let url = anvil.endpoint();
        let key = anvil.private_key_hex(0);
        let out = seed_eth(
            dir.path(),
            &["deploy", "--rpc-url", &url],
            &[("SEED_ETH_PRIVATE_KEY", &key)],
        );
        assert_exit(&out, 0, "");
        let deployment: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("deployments/31337.json")).unwrap(),
        )
        .unwrap();
        let registry = deployment["contracts"]["registry"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            anvil,
            dir,
            registry,
        }
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    /// `attest` as anvil account `builder` with the common flags plus `extra` (an empty
    /// `manifest` leaves out --manifest-digest).
    fn attest(
        &self,
        builder: usize,
        commit: &str,
        system: &str,
        manifest: &str,
        image: &str,
        extra: &[&str],
    ) -> Output {
        let url = self.anvil.endpoint();
        let key = self.anvil.private_key_hex(builder);
        let mut args = vec![
            "--json",
            "attest",
            "--commit",
            commit,
            "--system",
            system,
            "--manifest-digest",
            manifest,
            "--image",
            image,
            "--repository",
            "https://github.com/seed-eth/example",
            "--nix-config",
            "nix.conf",
            "--rpc-url",
            &url,
        ];
        if manifest.is_empty() {
            // The test gives the manifest another way (in `extra`).
            args.retain(|a| *a != "--manifest-digest" && !a.is_empty());
        }
        if image.starts_with(FAKE_REGISTRY) {
            // Nothing to read: these tests are about other inputs.
            args.push("--no-content-check");
        }
        args.extend_from_slice(extra);
        seed_eth(
            self.cwd(),
            &args,
            &[("SEED_ETH_PRIVATE_KEY", &key), ("GITHUB_RUN_ID", "4242")],
        )
    }

    fn status(&self, commit: &str) -> (i32, Value) {
        let url = self.anvil.endpoint();
        let out = seed_eth(
            self.cwd(),
            &["--json", "status", "--commit", commit, "--rpc-url", &url],
            &[],
        );
        (out.status.code().unwrap(), json(&out))
    }

    fn relay(&self, files: &[PathBuf]) -> Output {
        let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        self.relay_args(&files)
    }

    /// `seed-eth --json relay ARGS`, paid by account 8.
    fn relay_args(&self, extra: &[&str]) -> Output {
        let url = self.anvil.endpoint();
        let key = self.anvil.private_key_hex(8);
        let mut args = vec!["--json", "relay", "--rpc-url", &url];
        args.extend_from_slice(extra);
        seed_eth(self.cwd(), &args, &[("SEED_ETH_PRIVATE_KEY", &key)])
    }

    async fn block(&self) -> u64 {
        ProviderBuilder::new()
            .connect_http(self.anvil.endpoint().parse().unwrap())
            .get_block_number()
            .await
            .unwrap()
    }
}

/// The closure manifest every honest builder of `system` attests: the one its
/// synthetic seed (`seed_image(system, …)`) holds.
fn manifest(system: &str) -> String {
    ImageContent::synthetic_seed(&format!("closure {system}"), "")
        .unwrap()
        .1
        .digest()
        .to_string()
}

/// The seed `builder` built for `system`: each builder's image differs, the closure does not.
fn seed_image(system: &str, builder: &str) -> ImageContent {
    ImageContent::synthetic_seed(&format!("closure {system}"), builder)
        .unwrap()
        .0
}

/// Where fake images live: a registry that does not exist.
const FAKE_REGISTRY: &str = "127.0.0.1:1/";

/// An image reference that need not exist (for --no-push runs).
fn fake_image(system: &str) -> String {
    format!(
        "{FAKE_REGISTRY}seed@sha256:{}",
        alloy::hex::encode(alloy::primitives::keccak256(format!("image {system}")))
    )
}

#[tokio::test]
async fn three_builders_finalise_two_systems_idempotently_with_statement_referrers() {
    let setup = Setup::new();
    let oci = TestRegistry::start().unwrap();
    let host = oci.host();
    let client = RegistryClient::plain_http(&[&host]).unwrap();
    let repo: Repository = format!("{}/seed", oci.host()).parse().unwrap();
    let mut images = Vec::new();
    for system in SYSTEMS {
        let pushed = client
            .push_image(&repo, &seed_image(system, "ci"), None)
            .await
            .unwrap();
        images.push(format!("{repo}@{}", pushed.descriptor().digest));
    }

    // Builders 1 and 2 name the plain-HTTP registry with the flag, builder 3 through
    // `[oci] plain-http` in seed-eth.toml.
    std::fs::write(
        setup.cwd().join("seed-eth.toml"),
        format!("[oci]\nplain-http = [\"{host}\"]\n"),
    )
    .unwrap();
    for builder in 1..=3 {
        let plain_http: &[&str] = match builder {
            3 => &[],
            _ => &["--plain-http", host.as_str()],
        };
        for (system, image) in SYSTEMS.iter().zip(&images) {
            let out = setup.attest(
                builder,
                COMMIT,
                system,
                &manifest(system),
                image,
                plain_http,
            );
            assert_exit(&out, 0, "");
            let report = json(&out);
            assert_eq!(report["sent"], true, "{}", text(&out));
            assert!(report["referrer"].is_string(), "{}", text(&out));
        }
    }
    let (code, status) = setup.status(COMMIT);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["isFinalised"], true);

    // Re-running sends nothing: no block is mined, the answer is still success.
    let before = setup.block().await;
    let out = setup.attest(
        1,
        COMMIT,
        SYSTEMS[1],
        &manifest(SYSTEMS[1]),
        &images[1],
        &["--plain-http", host.as_str()],
    );
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["alreadyVoted"], true);
    assert_eq!(json(&out)["progress"]["finalised"], true);
    assert_eq!(setup.block().await, before);

    // A conflicting vote is refused before sending, naming both digests.
    let other = manifest("something else");
    let out = setup.attest(
        1,
        COMMIT,
        SYSTEMS[1],
        &other,
        &images[1],
        &["--plain-http", host.as_str()],
    );
    assert_exit(&out, 1, &manifest(SYSTEMS[1]));
    assert!(text(&out).contains(&other));
    assert_eq!(setup.block().await, before);

    // Every on-chain statement digest is a referrer of its image, signed by its voter.
    let chain_id = 31337;
    let registry = setup.registry.parse().unwrap();
    for (system, image) in SYSTEMS.iter().zip(&images) {
        let image_digest: Sha256Digest = image.split_once('@').unwrap().1.parse().unwrap();
        let attached = client.statements(&repo, &image_digest).await.unwrap();
        let votes = status["systems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["system"] == *system)
            .unwrap()["votes"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(votes.len(), 3);
        for vote in votes {
            let digest: Sha256Digest = vote["statementDigest"].as_str().unwrap().parse().unwrap();
            let found = attached
                .iter()
                .find(|s| s.statement == digest)
                .unwrap_or_else(|| panic!("statement {digest} of {system} is not a referrer"));
            let signer = vote["signer"].as_str().unwrap().parse().unwrap();
            let verified = seed_statement::verify(
                &found.bytes,
                &Expected::new(signer, chain_id, registry).with_digest(digest),
            )
            .unwrap();
            assert_eq!(verified.statement().predicate().system.as_str(), *system);
            assert_eq!(
                verified
                    .statement()
                    .predicate()
                    .closure_manifest
                    .to_string(),
                manifest(system)
            );
        }
    }
}

/// Issue 17 §3: `attest --sign-only` attaches each signed vote to its image beside the
/// statement, and a relayer collects a release's votes from its images alone. What else is
/// attached there (a vote altered after signing, bytes that are no vote file) is skipped with the
/// reason, not sent, and does not stop the honest votes.
#[tokio::test]
async fn a_relayer_collects_the_votes_attached_to_the_images() {
    let setup = Setup::new();
    let oci = TestRegistry::start().unwrap();
    let host = oci.host();
    let client = RegistryClient::plain_http(&[&host]).unwrap();
    let repo: Repository = format!("{host}/seed").parse().unwrap();
    let mut images = Vec::new();
    for system in SYSTEMS {
        let pushed = client
            .push_image(&repo, &seed_image(system, "ci"), None)
            .await
            .unwrap();
        images.push(format!("{repo}@{}", pushed.descriptor().digest));
    }
    let mut first_vote = None;
    for builder in 1..=3 {
        for (system, image) in SYSTEMS.iter().zip(&images) {
            let file = setup.cwd().join(format!("vote-{builder}-{system}.json"));
            let out = setup.attest(
                builder,
                COMMIT,
                system,
                &manifest(system),
                image,
                &[
                    "--plain-http",
                    host.as_str(),
                    "--sign-only",
                    file.to_str().unwrap(),
                ],
            );
            assert_exit(&out, 0, "voteReferrer");
            let report = json(&out);
            assert!(report["voteReferrer"].is_string(), "{report}");
            first_vote.get_or_insert(file);
        }
    }
    let (code, _) = setup.status(COMMIT);
    assert_eq!(code, 1, "signing sent nothing");

    // Beside them on the first image: a vote changed after it was signed, and junk.
    let image: Sha256Digest = images[0].rsplit_once('@').unwrap().1.parse().unwrap();
    let mut altered: Value =
        serde_json::from_slice(&std::fs::read(first_vote.unwrap()).unwrap()).unwrap();
    altered["manifestDigest"] = Value::from(manifest("a trojan"));
    altered["statementDigest"] = altered["statement"]["digest"].clone();
    let altered = client
        .attach_blob(
            &repo,
            &image,
            SIGNED_VOTE_REFERRER,
            &serde_json::to_vec(&altered).unwrap(),
        )
        .await
        .unwrap()
        .referrer;
    let junk = client
        .attach_blob(&repo, &image, SIGNED_VOTE_REFERRER, b"not a vote")
        .await
        .unwrap()
        .referrer;

    let before = setup.block().await;
    let relay = || {
        setup.relay_args(&[
            "--image",
            &images[0],
            "--image",
            &images[1],
            "--plain-http",
            &host,
        ])
    };
    let out = relay();
    assert_exit(&out, 0, "");
    let report = json(&out);
    assert_eq!(report["call"], "finalise", "{report}");
    assert_eq!(report["finalised"], true, "{report}");
    assert_eq!(report["recorded"], 6, "{report}");
    assert_eq!(setup.block().await, before + 1, "one transaction");
    let votes = report["votes"].as_array().unwrap();
    let result_of = |referrer: &Sha256Digest| {
        votes
            .iter()
            .find(|v| v["referrer"] == referrer.to_string())
            .unwrap_or_else(|| panic!("{referrer} not reported: {report}"))
    };
    assert_eq!(result_of(&altered)["result"], "skipped");
    assert!(
        result_of(&altered)["reason"]
            .as_str()
            .unwrap()
            .contains("does not recover to its signer"),
        "{report}"
    );
    assert_eq!(result_of(&junk)["result"], "skipped");
    assert!(
        result_of(&junk)["reason"]
            .as_str()
            .unwrap()
            .contains("not a signed-vote file"),
        "{report}"
    );
    assert_eq!(
        votes.iter().filter(|v| v["result"] == "submitted").count(),
        6,
        "{report}"
    );
    assert!(votes.iter().all(|v| v["image"].is_string()), "{report}");
    let (code, status) = setup.status(COMMIT);
    assert_eq!(code, 0, "{status}");

    // Again: everything is counted or skipped, nothing is sent.
    let out = relay();
    assert_exit(&out, 0, "already counted");
    assert!(json(&out)["call"].is_null(), "{}", text(&out));
    assert_eq!(setup.block().await, before + 1);

    // The same altered vote given as a file is refused, naming it.
    let file = setup.cwd().join("altered.json");
    let mut bytes: Value = serde_json::from_slice(
        &std::fs::read(setup.cwd().join(format!("vote-1-{}.json", SYSTEMS[0]))).unwrap(),
    )
    .unwrap();
    bytes["manifestDigest"] = Value::from(manifest("a trojan"));
    std::fs::write(&file, serde_json::to_vec(&bytes).unwrap()).unwrap();
    let out = setup.relay(&[file]);
    assert_exit(&out, 2, "altered.json rejected, nothing sent");
}

#[tokio::test]
async fn signed_votes_relay_in_one_batch_and_bad_ones_are_rejected() {
    let setup = Setup::new();
    let mut files = Vec::new();
    for builder in 1..=3 {
        for system in SYSTEMS {
            let file = setup.cwd().join(format!("vote-{builder}-{system}.json"));
            let out = setup.attest(
                builder,
                COMMIT,
                system,
                &manifest(system),
                &fake_image(system),
                &["--no-push", "--sign-only", file.to_str().unwrap()],
            );
            assert_exit(&out, 0, "");
            assert_eq!(json(&out)["crossChecked"], true);
            assert!(file.with_extension("dsse.json").is_file());
            files.push(file);
        }
    }
    // Nothing was sent while signing.
    let (code, _) = setup.status(COMMIT);
    assert_eq!(code, 1);

    let before = setup.block().await;
    let mut with_duplicate = files.clone();
    with_duplicate.push(files[0].clone());
    let out = setup.relay(&with_duplicate);
    assert_exit(&out, 0, "");
    let report = json(&out);
    assert_eq!(report["recorded"], 6, "{report}");
    assert_eq!(report["votes"][6]["result"], "duplicate");
    // Every required system has its quorum among the files: one finalise call, no vote stored.
    assert_eq!(report["call"], "finalise", "{report}");
    assert_eq!(report["finalised"], true);
    assert_eq!(setup.block().await, before + 1, "one transaction");
    let (code, status) = setup.status(COMMIT);
    assert_eq!(code, 0, "{status}");
    // Verification reads the same events whichever path finalised the release.
    let out = seed_eth(
        setup.cwd(),
        &[
            "--json",
            "verify",
            "--commit",
            COMMIT,
            "--rpc-url",
            &setup.anvil.endpoint(),
        ],
        &[],
    );
    assert_exit(&out, 0, "");

    // Relaying again: every vote is already counted, nothing is sent.
    let out = setup.relay(&files);
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["votes"][0]["result"], "already counted");
    assert_eq!(setup.block().await, before + 1);

    // Bad votes on a new release: each rejected before sending, naming the file.
    let sign = |name: &str, extra: &[&str]| {
        let file = setup.cwd().join(name);
        let mut args = vec!["--no-push", "--sign-only", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = setup.attest(
            1,
            COMMIT_2,
            SYSTEMS[0],
            &manifest(SYSTEMS[0]),
            &fake_image(SYSTEMS[0]),
            &args,
        );
        assert_exit(&out, 0, "");
        file
    };
    let good = sign("good.json", &[]);
    // Valid for one second, then the chain's clock moves on a minute.
    let expired = sign("expired.json", &["--valid-for", "1"]);
    let provider = ProviderBuilder::new().connect_http(setup.anvil.endpoint().parse().unwrap());
    let _: Value = provider
        .raw_request("evm_increaseTime".into(), (60,))
        .await
        .unwrap();
    let _: Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    let tampered = sign("tampered.json", &[]);
    let mut vote: Value = serde_json::from_slice(&std::fs::read(&tampered).unwrap()).unwrap();
    vote["manifestDigest"] = Value::String(manifest("tampered"));
    std::fs::write(&tampered, serde_json::to_vec(&vote).unwrap()).unwrap();
    // Signed offline for another chain (no RPC: chain id and registry from flags).
    let other_chain = setup.cwd().join("other-chain.json");
    let key = setup.anvil.private_key_hex(1);
    let out = seed_eth(
        setup.cwd(),
        &[
            "attest",
            "--commit",
            COMMIT_2,
            "--system",
            SYSTEMS[0],
            "--manifest-digest",
            &manifest(SYSTEMS[0]),
            "--image",
            &fake_image(SYSTEMS[0]),
            "--no-content-check",
            "--repository",
            "https://github.com/seed-eth/example",
            "--nix-config",
            "nix.conf",
            "--run-id",
            "1",
            "--no-push",
            "--chain-id",
            "1",
            "--registry",
            &setup.registry,
            "--sign-only",
            other_chain.to_str().unwrap(),
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 0, "cross-checked with hashVote: false");

    let before = setup.block().await;
    for (bad, reason) in [
        (&expired, "deadline"),
        (&tampered, "does not recover"),
        (&other_chain, "signed for chain 1"),
    ] {
        let out = setup.relay(&[good.clone(), bad.clone()]);
        assert_exit(&out, 2, reason);
        assert!(text(&out).contains(bad.to_str().unwrap()), "{}", text(&out));
    }
    assert_eq!(setup.block().await, before, "nothing sent");

    // The good vote alone goes through; the count reads as a person writes it.
    let key = setup.anvil.private_key_hex(8);
    let url = setup.anvil.endpoint();
    let out = seed_eth(
        setup.cwd(),
        &["relay", "--rpc-url", &url, good.to_str().unwrap()],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 0, "): 1 vote recorded");
    // One vote cannot finalise the release, so it goes in a batch, and the report says why.
    assert_exit(
        &out,
        0,
        "a batch, not finalise: aarch64-linux would have 1 of the 2 votes it needs",
    );
}

/// `attest` reads the image: with no manifest source the manifest is the one the
/// image holds; a manifest source the image does not hold is refused (exit 1,
/// both digests and the differing store path named) before anything is signed,
/// pushed or sent; an image that is no seed is exit 2 pointing at
/// --no-content-check, which needs a manifest source.
#[tokio::test]
async fn the_image_must_hold_the_attested_closure() {
    let setup = Setup::new();
    let oci = TestRegistry::start().unwrap();
    let host = oci.host();
    let client = RegistryClient::plain_http(&[&host]).unwrap();
    let repo: Repository = format!("{host}/seed").parse().unwrap();
    let system = SYSTEMS[0];
    let push = |content: ImageContent| {
        let client = &client;
        let repo = &repo;
        async move {
            let pushed = client.push_image(repo, &content, None).await.unwrap();
            format!("{repo}@{}", pushed.descriptor().digest)
        }
    };
    let honest = push(seed_image(system, "builder 1")).await;
    let (trojan_content, trojan_manifest) =
        ImageContent::synthetic_seed(&format!("trojan {system}"), "builder 1").unwrap();
    let trojan = push(trojan_content).await;
    let not_a_seed = push(ImageContent::synthetic("no store paths")).await;
    let plain = ["--plain-http", host.as_str()];
    let before = setup.block().await;

    // The honest manifest with the trojan image: refused, nothing sent or attached.
    let out = setup.attest(1, COMMIT, system, &manifest(system), &trojan, &plain);
    assert_exit(
        &out,
        1,
        &format!("holds the closure manifest {}", trojan_manifest.digest()),
    );
    assert_exit(
        &out,
        1,
        &format!("not {} from --manifest-digest", manifest(system)),
    );
    assert_eq!(setup.block().await, before);
    let trojan_digest = trojan.rsplit_once('@').unwrap().1.parse().unwrap();
    assert!(client
        .list_referrers(&repo, &trojan_digest, None)
        .await
        .unwrap()
        .is_empty());

    // A manifest file names the store path that differs.
    let file = setup.cwd().join("closure.manifest");
    let (_, honest_manifest) =
        ImageContent::synthetic_seed(&format!("closure {system}"), "").unwrap();
    std::fs::write(&file, honest_manifest.as_bytes()).unwrap();
    let file_flag = [
        "--manifest-file",
        file.to_str().unwrap(),
        "--plain-http",
        &host,
    ];
    let out = setup.attest(1, COMMIT, system, "", &trojan, &file_flag);
    assert_exit(&out, 1, "-synthetic-seed: missing");

    // No seed at all: exit 2, pointing at --no-content-check.
    let out = setup.attest(1, COMMIT, system, &manifest(system), &not_a_seed, &plain);
    assert_exit(&out, 2, "--no-content-check");
    let out = setup.attest(1, COMMIT, system, "", &not_a_seed, &["--no-content-check"]);
    assert_exit(
        &out,
        2,
        "--no-content-check needs the manifest from elsewhere",
    );
    assert_eq!(setup.block().await, before);

    // No manifest source: the image's own closure is attested.
    let out = setup.attest(1, COMMIT, system, "", &honest, &plain);
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["manifestDigest"], manifest(system));
    assert_eq!(json(&out)["sent"], true);
}

#[tokio::test]
async fn bad_inputs_fail_closed() {
    let setup = Setup::new();
    let system = SYSTEMS[0];
    let image = fake_image(system);
    let digest = manifest(system);
    let no_push = ["--no-push"];

    let out = setup.attest(1, "main", system, &digest, &image, &no_push);
    assert_exit(&out, 2, "malformed commit");
    let out = setup.attest(1, COMMIT, system, "sha256:1234", &image, &no_push);
    assert_exit(&out, 2, "malformed digest");
    let out = setup.attest(
        1,
        COMMIT,
        system,
        &digest,
        "127.0.0.1:1/seed:latest",
        &no_push,
    );
    assert_exit(&out, 2, "--image");
    // A signed vote that expires as it is written.
    let vote = setup.cwd().join("expired.json");
    let out = setup.attest(
        1,
        COMMIT,
        system,
        &digest,
        &image,
        &[
            "--no-push",
            "--sign-only",
            vote.to_str().unwrap(),
            "--valid-for",
            "0",
        ],
    );
    assert_exit(&out, 2, "0 seconds: the vote would already have expired");
    assert!(!vote.exists());
    let out = setup.attest(1, COMMIT, "riscv64-linux", &digest, &image, &no_push);
    assert_exit(&out, 2, "required systems: aarch64-linux, x86_64-linux");
    let stranger = setup.anvil.address(7).to_string();
    let out = setup.attest(7, COMMIT, system, &digest, &image, &no_push);
    assert_exit(&out, 2, &format!("{stranger} is not a registered builder"));
    let out = setup.attest(
        1,
        COMMIT,
        system,
        &digest,
        &image,
        &["--no-push", "--flake-lock", "missing.lock"],
    );
    assert_exit(&out, 2, "missing.lock");
    let out = setup.attest(
        1,
        COMMIT,
        system,
        "",
        &image,
        &["--no-push", "--manifest-file", "flake.lock"],
    );
    assert_exit(&out, 2, "manifest file");
    // Without --nix-config and without Nix.
    let url = setup.anvil.endpoint();
    let key = setup.anvil.private_key_hex(1);
    let out = seed_eth(
        setup.cwd(),
        &[
            "attest",
            "--commit",
            COMMIT,
            "--system",
            system,
            "--manifest-digest",
            &digest,
            "--image",
            &image,
            "--no-content-check",
            "--repository",
            "https://github.com/seed-eth/example",
            "--run-id",
            "1",
            "--no-push",
            "--nix",
            "/nonexistent/nix",
            "--rpc-url",
            &url,
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 2, "--nix-config");
    // No CI run id anywhere.
    let out = seed_eth(
        setup.cwd(),
        &[
            "attest",
            "--commit",
            COMMIT,
            "--system",
            system,
            "--manifest-digest",
            &digest,
            "--image",
            &image,
            "--no-content-check",
            "--repository",
            "https://github.com/seed-eth/example",
            "--nix-config",
            "nix.conf",
            "--no-push",
            "--rpc-url",
            &url,
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 2, "--run-id");

    // The image's registry does not answer: exit 3, and no vote was sent.
    let before = setup.block().await;
    let out = setup.attest(
        1,
        COMMIT,
        system,
        &digest,
        &image,
        &["--plain-http", "127.0.0.1:1"],
    );
    assert_exit(&out, 3, "unreachable");
    assert_eq!(setup.block().await, before);
    let (code, _) = setup.status(COMMIT);
    assert_eq!(code, 1);
}

fn tool(program: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}); install it (Nix: apt-get install nix-bin)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn inputs_come_from_git_nix_the_ci_and_manifest_files() {
    let setup = Setup::new();
    let cwd = setup.cwd();
    tool("git", &["init", "-q"], cwd);
    tool(
        "git",
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        cwd,
    );
    tool(
        "git",
        &["remote", "add", "origin", "https://example.org/seed/repo"],
        cwd,
    );
    let head = tool("git", &["rev-parse", "HEAD"], cwd);
    let content = cwd.join("content");
    std::fs::write(&content, format!("built at {head}\n")).unwrap();
    let store_path = tool("nix-store", &["--add", content.to_str().unwrap()], cwd);
    let out = seed_eth(
        cwd,
        &[
            "manifest",
            "--store-path",
            &store_path,
            "--output",
            "closure.manifest",
        ],
        &[],
    );
    assert_exit(&out, 0, "");
    let expected = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let system = tool(
        "nix",
        &[
            "--extra-experimental-features",
            "nix-command",
            "eval",
            "--impure",
            "--raw",
            "--expr",
            "builtins.currentSystem",
        ],
        cwd,
    );

    // Commit, repository and system by default, the manifest from the store, Nix's own settings,
    // the run id from GitLab's variable.
    let url = setup.anvil.endpoint();
    let image = fake_image(&system);
    let key = setup.anvil.private_key_hex(1);
    let out = seed_eth(
        cwd,
        &[
            "--json",
            "attest",
            "--store-path",
            &store_path,
            "--image",
            &image,
            "--no-content-check",
            "--no-push",
            "--statement-out",
            "statement.dsse.json",
            "--rpc-url",
            &url,
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key), ("CI_JOB_ID", "gitlab-77")],
    );
    assert_exit(&out, 0, "");
    let report = json(&out);
    assert_eq!(report["commit"], head.as_str());
    assert_eq!(report["system"], system.as_str());
    assert_eq!(report["manifestDigest"], expected.as_str());
    let envelope = std::fs::read(cwd.join("statement.dsse.json")).unwrap();
    let signer = setup.anvil.address(1);
    let verified = seed_statement::verify(
        &envelope,
        &Expected::new(signer, 31337, setup.registry.parse().unwrap()),
    )
    .unwrap();
    let predicate = verified.statement().predicate();
    assert_eq!(
        predicate.source.repository.to_string(),
        "https://example.org/seed/repo"
    );
    assert_eq!(predicate.run_id.to_string(), "gitlab-77");
    assert_eq!(
        predicate.source.flake_lock,
        seed_oci::manifest::sha256(&std::fs::read(cwd.join("flake.lock")).unwrap())
    );
    assert_eq!(
        report["statementDigest"],
        verified.digest().to_string().as_str()
    );

    // The same digest from the manifest file, by the second builder.
    let key = setup.anvil.private_key_hex(2);
    let out = seed_eth(
        cwd,
        &[
            "--json",
            "attest",
            "--manifest-file",
            "closure.manifest",
            "--image",
            &image,
            "--no-content-check",
            "--no-push",
            "--rpc-url",
            &url,
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key), ("GITHUB_RUN_ID", "1")],
    );
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["manifestDigest"], expected.as_str());
    assert_eq!(json(&out)["progress"]["votes"], 2);
}

#[tokio::test]
async fn a_revoked_builder_can_neither_attest_nor_be_relayed() {
    use seed_chain::bindings::SeedRegistry;

    let setup = Setup::new();
    let system = SYSTEMS[0];
    let vote_file = setup.cwd().join("vote.json");
    let out = setup.attest(
        3,
        COMMIT,
        system,
        &manifest(system),
        &fake_image(system),
        &["--no-push", "--sign-only", vote_file.to_str().unwrap()],
    );
    assert_exit(&out, 0, "");

    // The guardian (the Safe) revokes builder 2 (anvil account 3); anvil impersonates it.
    let provider = ProviderBuilder::new().connect_http(setup.anvil.endpoint().parse().unwrap());
    let registry = SeedRegistry::new(setup.registry.parse().unwrap(), &provider);
    let guardian = registry.guardian().call().await.unwrap();
    let _: () = provider
        .raw_request("anvil_impersonateAccount".into(), (guardian,))
        .await
        .unwrap();
    let _: () = provider
        .raw_request("anvil_setBalance".into(), (guardian, "0xde0b6b3a7640000"))
        .await
        .unwrap();
    let receipt = registry
        .revokeBuilder(2)
        .from(guardian)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());

    let revoked = setup.anvil.address(3).to_string();
    let out = setup.attest(
        3,
        COMMIT,
        system,
        &manifest(system),
        &fake_image(system),
        &["--no-push"],
    );
    assert_exit(
        &out,
        2,
        &format!("{revoked} belongs to builder 2, which is revoked"),
    );
    let out = setup.relay(std::slice::from_ref(&vote_file));
    assert_exit(&out, 2, "revoked");
    assert!(text(&out).contains(vote_file.to_str().unwrap()));
}

/// A builder that signed two manifest digests for one release and system is reported with the
/// two files; `status` names it, and its votes no longer count: the release waits for two
/// other builders (issue 17, D-055).
#[tokio::test]
async fn an_equivocating_builder_is_reported_and_stops_counting() {
    let setup = Setup::new();
    let sign = |builder: usize, commit: &str, system: &str, manifest_digest: &str, name: &str| {
        let file = setup.cwd().join(name);
        let out = setup.attest(
            builder,
            commit,
            system,
            manifest_digest,
            &fake_image(system),
            &["--no-push", "--sign-only", file.to_str().unwrap()],
        );
        assert_exit(&out, 0, "");
        file
    };
    // Genesis, so that k = 2 counts from here on.
    let mut genesis = Vec::new();
    for builder in 1..=3 {
        for system in SYSTEMS {
            genesis.push(sign(
                builder,
                COMMIT,
                system,
                &manifest(system),
                &format!("g-{builder}-{system}.json"),
            ));
        }
    }
    let out = setup.relay(&genesis);
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["finalised"], true);

    let honest = sign(
        1,
        COMMIT_2,
        SYSTEMS[0],
        &manifest(SYSTEMS[0]),
        "honest.json",
    );
    let other = sign(1, COMMIT_2, SYSTEMS[0], &manifest("other"), "other.json");
    let report = |files: [&PathBuf; 2]| {
        let key = setup.anvil.private_key_hex(8);
        let url = setup.anvil.endpoint();
        seed_eth(
            setup.cwd(),
            &[
                "report-equivocation",
                "--rpc-url",
                &url,
                files[0].to_str().unwrap(),
                files[1].to_str().unwrap(),
            ],
            &[("SEED_ETH_PRIVATE_KEY", &key)],
        )
    };
    // Two files that prove nothing are refused before anything is sent.
    let before = setup.block().await;
    let third = sign(2, COMMIT_2, SYSTEMS[0], &manifest("other"), "third.json");
    assert_exit(
        &report([&honest, &third]),
        2,
        "prove no equivocation, nothing sent: signed by",
    );
    assert_exit(&report([&honest, &honest]), 2, "both vote manifest");
    assert_eq!(setup.block().await, before);

    assert_exit(
        &report([&honest, &other]),
        0,
        "equivocated on 89abcdef0123456789abcdef0123456789abcdef aarch64-linux",
    );
    assert_exit(&report([&other, &honest]), 0, "already reported");
    let (code, status) = setup.status(COMMIT_2);
    assert_eq!(code, 1, "{status}");
    let equivocation = &status["equivocations"][0];
    assert_eq!(equivocation["system"], SYSTEMS[0], "{status}");
    assert_eq!(equivocation["firstDigest"], manifest(SYSTEMS[0]));
    assert_eq!(equivocation["secondDigest"], manifest("other"));

    // Builders 1 (the equivocator) and 2 vote the same digests: only builder 2 counts, so the
    // relay cannot finalise and sends a batch; builder 3's votes then finalise the release.
    let mut votes = vec![
        sign(1, COMMIT_2, SYSTEMS[1], &manifest(SYSTEMS[1]), "b1.json"),
        honest.clone(),
    ];
    for system in SYSTEMS {
        votes.push(sign(
            2,
            COMMIT_2,
            system,
            &manifest(system),
            &format!("b2-{system}.json"),
        ));
    }
    let out = setup.relay(&votes);
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["call"], "attestBatch");
    assert_eq!(
        json(&out)["batchBecause"],
        "aarch64-linux would have 1 of the 2 votes it needs"
    );
    let (code, status) = setup.status(COMMIT_2);
    assert_eq!(code, 1, "{status}");
    assert_eq!(
        status["systems"][0]["candidates"][0]["voters"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        status["systems"][0]["candidates"][0]["activeVoters"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let last: Vec<PathBuf> = SYSTEMS
        .iter()
        .map(|system| {
            sign(
                3,
                COMMIT_2,
                system,
                &manifest(system),
                &format!("b3-{system}.json"),
            )
        })
        .collect();
    let out = setup.relay(&last);
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["finalised"], true, "{}", text(&out));
    let (code, status) = setup.status(COMMIT_2);
    assert_eq!(code, 0, "{status}");
}
