//! `seed-eth verify` against a real anvil and a real OCI registry: a release
//! deployed with `seed-eth deploy`, voted by the three default builders (anvil
//! accounts 1-3) with statements signed by seed-statement and attached as
//! referrers by seed-oci; then every way verification must say no.
//!
//! Needs anvil and Debian's `docker-registry`: `make setup` installs them.
//! Missing binaries fail the tests, they never skip them.

#![allow(clippy::unwrap_used)]

use std::{
    collections::BTreeMap,
    path::Path,
    process::{Command, Output},
};

use alloy::{
    primitives::{keccak256, Address},
    providers::ProviderBuilder,
};
use seed_chain::{bindings::SeedRegistry, Deployment};
use seed_core::{release_root, CommitId, Sha256Digest};
use seed_oci::{ImageContent, RegistryClient, Repository};
use seed_statement::{
    sign, Builder, BuilderKey, NixSettings, Predicate, RegisteredBuilder, Source, Statement,
};
use seed_testkit::{anvil::TestAnvil, registry::TestRegistry};
use serde_json::Value;

mod support;
use support::{assert_exit, json, seed_eth, text};

const COMMIT_A: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_B: &str = "89abcdef0123456789abcdef0123456789abcdef";
const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
/// Anvil accounts of the default builders (ids 0, 1, 2).
const BUILDERS: [usize; 3] = [1, 2, 3];

/// The closure manifest honest builders attest for `system`: the one their
/// synthetic seeds ([`World::image`]) hold.
fn manifest_of(system: &str) -> Sha256Digest {
    ImageContent::synthetic_seed(&format!("closure {system}"), "")
        .unwrap()
        .1
        .digest()
}

/// One chain, one registry, one deployment, and helpers to release on them.
struct World {
    anvil: TestAnvil,
    registry: TestRegistry,
    client: RegistryClient,
    repo: Repository,
    /// Builders (anvil accounts) that publish somewhere other than `repo`.
    published_at: BTreeMap<usize, Repository>,
    dir: tempfile::TempDir,
    deployment: Deployment,
}

impl World {
    async fn new() -> Self {
        let anvil = TestAnvil::spawn().unwrap();
        let registry = TestRegistry::start().unwrap();
        let client = RegistryClient::plain_http(&[&registry.host()]).unwrap();
        let repo = format!("{}/seed", registry.host()).parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let deployment = deploy(&anvil, dir.path(), &[]);
        Self {
            anvil,
            registry,
            client,
            repo,
            published_at: BTreeMap::new(),
            dir,
            deployment,
        }
    }

    /// Starts a second registry, where builder `account` publishes its images and statements
    /// from now on (infrastructure of its own). Returns it (dropping it stops it) and the
    /// repository.
    fn publish_elsewhere(&mut self, account: usize) -> (TestRegistry, Repository) {
        let other = TestRegistry::start().unwrap();
        let repo: Repository = format!("{}/seed", other.host()).parse().unwrap();
        self.client = RegistryClient::plain_http(&[&self.registry.host(), &other.host()]).unwrap();
        self.published_at.insert(account, repo.clone());
        (other, repo)
    }

    /// Where builder `account` publishes.
    fn repo_of(&self, account: usize) -> &Repository {
        self.published_at.get(&account).unwrap_or(&self.repo)
    }

    fn run(&self, args: &[&str]) -> Output {
        let url = self.anvil.endpoint();
        let host = self.registry.host();
        // The local registry speaks plain HTTP: images are read for their content.
        let mut all = vec!["verify", "--rpc-url", &url, "--plain-http", &host];
        all.extend_from_slice(args);
        seed_eth(self.dir.path(), &all, &[])
    }

    fn run_statements(&self, args: &[&str]) -> Output {
        let repo = self.repo.to_string();
        let host = self.registry.host();
        let mut all = vec!["--statements", "--repository", &repo, "--plain-http", &host];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Pushes the image builder `account` built for `system` of `commit`.
    async fn image(&self, commit: &str, account: usize, system: &str) -> Sha256Digest {
        let (content, _) = ImageContent::synthetic_seed(
            &format!("closure {system}"),
            &format!("{commit} {account}"),
        )
        .unwrap();
        self.client
            .push_image(self.repo_of(account), &content, None)
            .await
            .unwrap()
            .digest()
    }

    /// Signs a statement with `signer`'s key (an anvil account) naming it as builder,
    /// attaches it to the image in `repo` and returns its digest.
    async fn statement(
        &self,
        repo: &Repository,
        signer: usize,
        commit: &str,
        system: &str,
        manifest: Sha256Digest,
        image: Sha256Digest,
    ) -> Sha256Digest {
        let key = BuilderKey::from_hex(&self.anvil.private_key_hex(signer)).unwrap();
        let predicate = Predicate {
            source: Source {
                repository: "https://github.com/seed-eth/example".parse().unwrap(),
                commit: commit.parse().unwrap(),
                flake_lock: manifest_of("flake.lock"),
            },
            system: system.parse().unwrap(),
            closure_manifest: manifest,
            image: repo.image_ref(&image).unwrap(),
            builder: Builder::Registered(RegisteredBuilder {
                address: key.address(),
                chain_id: self.anvil.chain_id(),
                registry: self.deployment.contracts.registry,
            }),
            run_id: format!("run-{signer}-{system}").parse().unwrap(),
            nix: NixSettings::from_show_config("sandbox = true\nsubstituters =\n").unwrap(),
            build_time: "2026-11-25T12:00:00Z".parse().unwrap(),
        };
        let signed = sign(&Statement::new(predicate).unwrap(), &key).unwrap();
        self.client
            .attach_statement(repo, &image, signed.bytes())
            .await
            .unwrap()
            .statement
    }

    /// Builder `account` builds, signs (with `signer`'s key) and votes every system of `commit`.
    /// Returns its images per system.
    async fn vote_signed_by(
        &self,
        registry: Address,
        account: usize,
        signer: usize,
        commit: &str,
    ) -> Vec<Sha256Digest> {
        let mut images = Vec::new();
        for system in SYSTEMS {
            let manifest = manifest_of(system);
            let image = self.image(commit, account, system).await;
            let statement = self
                .statement(
                    self.repo_of(account),
                    signer,
                    commit,
                    system,
                    manifest,
                    image,
                )
                .await;
            attest(
                &self.anvil,
                registry,
                account,
                commit,
                system,
                [manifest, image, statement],
            )
            .await;
            images.push(image);
        }
        images
    }

    async fn vote(&self, account: usize, commit: &str) -> Vec<Sha256Digest> {
        self.vote_signed_by(self.deployment.contracts.registry, account, account, commit)
            .await
    }
}

/// `seed-eth deploy` from anvil account 0 on the default configuration.
fn deploy(anvil: &TestAnvil, cwd: &Path, extra: &[&str]) -> Deployment {
    let url = anvil.endpoint();
    let key = anvil.private_key_hex(0);
    let mut args = vec!["deploy", "--rpc-url", &url];
    args.extend_from_slice(extra);
    let mut command = Command::new(env!("CARGO_BIN_EXE_seed-eth"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SEED_ETH_") {
            command.env_remove(name);
        }
    }
    let out = command
        .current_dir(cwd)
        .args(&args)
        .env("SEED_ETH_PRIVATE_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "deploy: {}", text(&out));
    let path = extra.iter().position(|a| *a == "--deployment").map_or_else(
        || cwd.join("deployments/31337.json"),
        |i| cwd.join(extra[i + 1]),
    );
    Deployment::load(&path).unwrap()
}

/// `attest(commit, system, manifest, image, statement)` from anvil account `account`.
async fn attest(
    anvil: &TestAnvil,
    registry: Address,
    account: usize,
    commit: &str,
    system: &str,
    [manifest, image, statement]: [Sha256Digest; 3],
) {
    let provider = ProviderBuilder::new()
        .wallet(anvil.signer(account))
        .connect_http(anvil.endpoint().parse().unwrap());
    let receipt = SeedRegistry::new(registry, provider)
        .attest(
            commit.parse::<CommitId>().unwrap().to_b256(),
            system.to_owned(),
            manifest.as_b256(),
            image.as_b256(),
            statement.as_b256(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "vote by account {account} reverted");
}

fn lock(world: &World, name: &str, entries: &[(&str, Sha256Digest, Sha256Digest)]) -> String {
    let systems: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(system, manifest, image)| {
            let entry = serde_json::json!({
                "kind": "oci",
                "manifest": manifest.to_string(),
                "image": format!("{}@{image}", world.repo),
            });
            ((*system).to_owned(), entry)
        })
        .collect();
    let body = serde_json::json!({"version": 1, "systems": systems});
    let path = world.dir.path().join(name);
    std::fs::write(&path, body.to_string()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_finalised_release_verifies_and_every_mismatch_fails() {
    let world = World::new().await;

    // Genesis needs all three builders: two votes per system is one vote short.
    let images_0 = world.vote(BUILDERS[0], COMMIT_A).await;
    world.vote(BUILDERS[1], COMMIT_A).await;
    let out = world.run(&["--commit", COMMIT_A]);
    assert_exit(&out, 1, "is not finalised");

    world.vote(BUILDERS[2], COMMIT_A).await;
    let out = world.run(&["--commit", COMMIT_A]);
    assert_exit(&out, 0, "VERIFIED");
    assert!(text(&out).contains("recomputed from the registry's ReleaseFinalised event: equal"));

    // The JSON report: the ledger root equals the root computed offline.
    let out = world.run(&["--json", "--commit", COMMIT_A]);
    let report = json(&out);
    let leaves: Vec<_> = SYSTEMS
        .iter()
        .map(|s| (s.parse().unwrap(), manifest_of(s)))
        .collect();
    let root = release_root(&leaves).unwrap();
    assert_eq!(report["verified"], true);
    assert_eq!(report["rootRecomputed"], true);
    assert_eq!(report["root"], root.to_string());
    assert_eq!(report["genesis"], true);
    assert_eq!(report["threshold"], 3);
    assert_eq!(report["systems"][1]["voters"].as_array().unwrap().len(), 3);

    // Statements: fetched by their on-chain digests, signed by each voter.
    let out = world.run_statements(&["--commit", COMMIT_A]);
    assert_exit(&out, 0, "(verified)");

    // One system with its digest; then a wrong digest and an unknown system.
    let x86 = manifest_of("x86_64-linux").to_string();
    let out = world.run(&[
        "--commit",
        COMMIT_A,
        "--system",
        "x86_64-linux",
        "--manifest",
        &x86,
    ]);
    assert_exit(&out, 0, "VERIFIED");
    let wrong = manifest_of("something else").to_string();
    let out = world.run(&[
        "--commit",
        COMMIT_A,
        "--system",
        "x86_64-linux",
        "--manifest",
        &wrong,
    ]);
    assert_exit(&out, 1, "x86_64-linux: expected manifest");
    let out = world.run(&[
        "--commit",
        COMMIT_A,
        "--system",
        "riscv64-linux",
        "--manifest",
        &x86,
    ]);
    assert_exit(&out, 1, "release has no system riscv64-linux");

    // By image: builder 0's x86_64 image finds the release; an unattested image does not.
    let image = format!("{}@{}", world.repo, images_0[1]);
    let out = world.run(&["--json", "--image", &image]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["commit"], COMMIT_A);
    let out = world.run_statements(&["--image", &image]);
    assert_exit(&out, 0, "VERIFIED");
    let stranger = world.image(COMMIT_A, 9, "x86_64-linux").await;
    let out = world.run(&["--image", &format!("{}@{stranger}", world.repo)]);
    assert_exit(&out, 1, "no finalised release of this registry has image");

    // A lock: good; a wrong manifest; an image nobody attested; pinned with --commit.
    let good = lock(
        &world,
        "good.lock",
        &[
            ("aarch64-linux", manifest_of("aarch64-linux"), images_0[0]),
            ("x86_64-linux", manifest_of("x86_64-linux"), images_0[1]),
        ],
    );
    assert_exit(&world.run(&["--lock", &good]), 0, "VERIFIED");
    assert_exit(
        &world.run(&["--lock", &good, "--commit", COMMIT_A]),
        0,
        "VERIFIED",
    );
    let host = world.registry.host();
    let out = world.run(&["--lock", &good, "--statements", "--plain-http", &host]);
    assert_exit(&out, 0, "(verified)");
    let bad = lock(
        &world,
        "bad.lock",
        &[("x86_64-linux", manifest_of("aarch64-linux"), images_0[1])],
    );
    assert_exit(
        &world.run(&["--lock", &bad]),
        1,
        "x86_64-linux: expected manifest",
    );
    let unattested = lock(
        &world,
        "unattested.lock",
        &[("x86_64-linux", manifest_of("x86_64-linux"), stranger)],
    );
    assert_exit(
        &world.run(&["--lock", &unattested, "--commit", COMMIT_A]),
        1,
        "was not attested by any counted voter",
    );

    // Another envelope attached to builder 0's image as a new referrer (signed by a
    // non-builder, for another manifest) is never read: statements are fetched by the
    // on-chain digest, not by browsing referrers.
    world
        .statement(
            &world.repo,
            7,
            COMMIT_A,
            "x86_64-linux",
            manifest_of("evil"),
            images_0[1],
        )
        .await;
    let out = world.run_statements(&["--commit", COMMIT_A]);
    assert_exit(&out, 0, "(verified)");

    // Tampering with a stored statement (builder 0's x86_64 one) is caught by its digest.
    let report = json(&world.run(&["--json", "--commit", COMMIT_A]));
    let statement = report["systems"][1]["voters"][0]["statementDigest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let blob = world.registry.blob_path(&statement);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let out = world.run_statements(&["--commit", COMMIT_A]);
    assert_exit(&out, 1, "x86_64-linux: statement of builder 0");
    // Without --statements the on-chain checks still pass.
    assert_exit(&world.run(&["--commit", COMMIT_A]), 0, "VERIFIED");
}

/// Trust property 1 for the bytes consumers pull: `verify --image`, `--lock` and
/// `--squashfs` read the image and refuse one that does not hold the finalised
/// closure, although a counted voter attested it; the report names the store
/// path that differs. `--no-content` gives the weaker answer and says so.
#[tokio::test]
async fn a_trojan_image_is_never_verified() {
    let world = World::new().await;
    for builder in BUILDERS {
        world.vote(builder, COMMIT_A).await;
    }
    // Release B: builder 0 attests the honest manifests with trojans, builder 1 is honest.
    let registry = world.deployment.contracts.registry;
    let mut trojans = Vec::new();
    for system in SYSTEMS {
        let (content, _) =
            ImageContent::synthetic_seed(&format!("trojan {system}"), "builder 0").unwrap();
        let trojan = world
            .client
            .push_image(&world.repo, &content, None)
            .await
            .unwrap()
            .digest();
        let statement = manifest_of(&format!("statement {system}"));
        attest(
            &world.anvil,
            registry,
            BUILDERS[0],
            COMMIT_B,
            system,
            [manifest_of(system), trojan, statement],
        )
        .await;
        trojans.push(trojan);
    }
    let honest = world.vote(BUILDERS[1], COMMIT_B).await;
    let x86_trojan = format!("{}@{}", world.repo, trojans[1]);

    let out = world.run(&["--image", &x86_trojan]);
    assert_exit(&out, 1, "does not hold the release's closure");
    assert_exit(&out, 1, "content: x86_64-linux image");
    assert_exit(&out, 1, "MISMATCH");
    // The honest store path, read from builder 1's image, is what the trojan lacks.
    let honest_path = ImageContent::synthetic_seed("closure x86_64-linux", "")
        .unwrap()
        .1
        .entries()[0]
        .0
        .to_string();
    assert_exit(&out, 1, &format!("{honest_path}: missing"));
    let report = json(&world.run(&["--json", "--image", &x86_trojan]));
    assert_eq!(
        report["content"][0]["result"]["result"], "mismatch",
        "{report}"
    );

    let out = world.run(&["--image", &x86_trojan, "--no-content"]);
    assert_exit(&out, 0, "VERIFIED");
    let out = world.run(&["--image", &format!("{}@{}", world.repo, honest[1])]);
    assert_exit(&out, 0, "matches the finalised closure");

    let bad_lock = lock(
        &world,
        "trojan.lock",
        &[
            ("aarch64-linux", manifest_of("aarch64-linux"), honest[0]),
            ("x86_64-linux", manifest_of("x86_64-linux"), trojans[1]),
        ],
    );
    assert_exit(&world.run(&["--lock", &bad_lock]), 1, "x86_64-linux: image");
    let good_lock = lock(
        &world,
        "honest.lock",
        &[
            ("aarch64-linux", manifest_of("aarch64-linux"), honest[0]),
            ("x86_64-linux", manifest_of("x86_64-linux"), honest[1]),
        ],
    );
    assert_exit(&world.run(&["--lock", &good_lock]), 0, "VERIFIED");

    // A local seed, checked before it is mounted: the honest closure as a
    // squashfs verifies, the trojan's does not.
    let squashfs = |label: &str, name: &str| {
        let (_, manifest) = ImageContent::synthetic_seed(label, "").unwrap();
        let dir = world.dir.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(manifest.entries()[0].0.base_name());
        std::fs::write(&path, label).unwrap();
        let file = world.dir.path().join(format!("{name}.squashfs"));
        seed_testkit::nix::mksquashfs_seed(&[path], &file, &[]);
        file.display().to_string()
    };
    let good = squashfs("closure x86_64-linux", "good-seed");
    let bad = squashfs("trojan x86_64-linux", "bad-seed");
    let local = |file: &str| {
        world.run(&[
            "--commit",
            COMMIT_B,
            "--system",
            "x86_64-linux",
            "--squashfs",
            file,
        ])
    };
    assert_exit(&local(&good), 0, "VERIFIED");
    assert_exit(&local(&bad), 1, "x86_64-linux: expected manifest");
}

#[tokio::test]
async fn statements_by_a_non_builder_and_look_alike_registries_fail() {
    let mut world = World::new().await;
    let registry = world.deployment.contracts.registry;
    for account in BUILDERS {
        world.vote(account, COMMIT_A).await;
    }
    // After genesis k = 2: builder 0 votes honestly, builder 1's statements are signed by
    // anvil account 7, which is not a builder.
    world.vote(BUILDERS[0], COMMIT_B).await;
    world
        .vote_signed_by(registry, BUILDERS[1], 7, COMMIT_B)
        .await;
    let out = world.run(&["--commit", COMMIT_B]);
    assert_exit(&out, 0, "VERIFIED");
    let out = world.run_statements(&["--commit", COMMIT_B]);
    assert_exit(&out, 1, "statement of builder 1");
    assert!(text(&out).contains("was signed by"), "{}", text(&out));

    // A second registry on the same chain finalises a third release; the first registry's
    // verification must not see it, whichever way it is asked.
    let other = deploy(
        &world.anvil,
        world.dir.path(),
        &["--deployment", "other.json", "--safe-salt-nonce", "1"],
    );
    let other_registry = other.contracts.registry;
    assert_ne!(other_registry, registry);
    let commit_c = "fedcba9876543210fedcba9876543210fedcba98";
    let mut images = Vec::new();
    for account in BUILDERS {
        images = world
            .vote_signed_by(other_registry, account, account, commit_c)
            .await;
    }
    assert_exit(&world.run(&["--commit", commit_c]), 1, "is not finalised");
    let image = format!("{}@{}", world.repo, images[0]);
    assert_exit(
        &world.run(&["--image", &image]),
        1,
        "no finalised release of this registry",
    );
    let other_file = world.dir.path().join("other.json").display().to_string();
    assert_exit(
        &world.run(&["--commit", commit_c, "--deployment", &other_file]),
        0,
        "VERIFIED",
    );

    // A release whose statements were never published fails --statements, naming the builder.
    let commit_d = "00112233445566778899aabbccddeeff00112233";
    for account in [BUILDERS[0], BUILDERS[1]] {
        for system in SYSTEMS {
            let image = world.image(commit_d, account, system).await;
            let missing =
                Sha256Digest::from_bytes(keccak256(format!("unpublished {account}"))).unwrap();
            attest(
                &world.anvil,
                registry,
                account,
                commit_d,
                system,
                [manifest_of(system), image, missing],
            )
            .await;
        }
    }
    assert_exit(&world.run(&["--commit", commit_d]), 0, "VERIFIED");
    let out = world.run_statements(&["--commit", commit_d]);
    assert_exit(&out, 1, "aarch64-linux: statement of builder 0");
    assert!(text(&out).contains("not found"), "{}", text(&out));

    // A registry that does not answer is a network error, not a verdict.
    world.registry.stop();
    let out = world.run_statements(&["--commit", COMMIT_A]);
    assert_exit(&out, 3, "registry error");
}

/// Trust property 8 in practice: independent builders publish on infrastructure of their own.
/// Builder 1's images and statements live on a second registry; a statement is found by its
/// on-chain digest in whichever given repository holds it, and is missing only if none does.
#[tokio::test]
async fn statements_are_found_in_each_builders_own_repository() {
    let mut world = World::new().await;
    let (mut elsewhere, other_repo) = world.publish_elsewhere(BUILDERS[1]);
    let mut images_0 = Vec::new();
    for account in BUILDERS {
        let images = world.vote(account, COMMIT_A).await;
        if account == BUILDERS[0] {
            images_0 = images;
        }
    }
    let (shared, own) = (world.repo.to_string(), other_repo.to_string());
    let (host, other_host) = (world.registry.host(), elsewhere.host());
    let statements = |repositories: &[&str]| {
        let mut args = vec!["--commit", COMMIT_A, "--statements"];
        for repository in repositories {
            args.extend(["--repository", repository]);
        }
        args.extend(["--plain-http", &host, "--plain-http", &other_host]);
        world.run(&args)
    };

    for order in [[&shared, &own], [&own, &shared]] {
        let out = statements(&[order[0], order[1]]);
        assert_exit(&out, 0, "VERIFIED");
        assert_eq!(
            text(&out).matches("(verified)").count(),
            6,
            "{}",
            text(&out)
        );
    }
    // Without builder 1's repository its statements are missing, and named.
    let out = statements(&[&shared]);
    assert_exit(&out, 1, "statement of builder 1");
    assert!(text(&out).contains("not found"), "{}", text(&out));
    assert!(
        !text(&out).contains("statement of builder 0"),
        "{}",
        text(&out)
    );
    // A repository that holds nothing of the release finds nothing.
    let empty = format!("{host}/nothing-here");
    assert_exit(&statements(&[&empty]), 1, "statement of builder 0");
    // A lock's image repository is searched first, then the given ones.
    let lock = lock(
        &world,
        "seed.lock",
        &[
            ("aarch64-linux", manifest_of("aarch64-linux"), images_0[0]),
            ("x86_64-linux", manifest_of("x86_64-linux"), images_0[1]),
        ],
    );
    let out = world.run(&[
        "--lock",
        &lock,
        "--statements",
        "--repository",
        &own,
        "--plain-http",
        &host,
        "--plain-http",
        &other_host,
    ]);
    assert_exit(&out, 0, "VERIFIED");

    // Builder 1's registry is down: whether it holds the statements cannot be known.
    elsewhere.stop();
    assert_exit(&statements(&[&shared, &own]), 3, "registry error");
}

#[tokio::test]
async fn bad_inputs_fail_closed_with_their_exit_codes() {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = anvil.endpoint();
    let run = |args: &[&str]| {
        let mut all = vec!["verify", "--rpc-url", &url];
        all.extend_from_slice(args);
        seed_eth(dir.path(), &all, &[])
    };
    // Before any deployment file exists.
    assert_exit(&run(&["--commit", COMMIT_A]), 2, "deployment file");
    deploy(&anvil, dir.path(), &[]);
    assert_exit(&run(&["--commit", "0123"]), 2, "--commit");
    assert_exit(
        &run(&[
            "--commit",
            COMMIT_A,
            "--system",
            "x86_64-linux",
            "--manifest",
            "sha256:12",
        ]),
        2,
        "--manifest",
    );
    assert_exit(
        &run(&[
            "--commit",
            COMMIT_A,
            "--system",
            "x86 64",
            "--manifest",
            &manifest_of("a").to_string(),
        ]),
        2,
        "--system",
    );
    assert_exit(
        &run(&["--image", "127.0.0.1:5000/seed:latest"]),
        2,
        "--image",
    );
    assert_exit(&run(&[]), 2, "required");
    assert_exit(
        &run(&["--commit", COMMIT_A, "--statements"]),
        2,
        "--repository",
    );
    let lock = dir.path().join("malformed.lock");
    std::fs::write(&lock, r#"{"version": 2, "systems": {}}"#).unwrap();
    assert_exit(&run(&["--lock", &lock.display().to_string()]), 2, "--lock");
    assert_exit(
        &run(&["--commit", COMMIT_A, "--chain-id", "1"]),
        2,
        "chain id mismatch",
    );

    let out = seed_eth(
        dir.path(),
        &[
            "verify",
            "--rpc-url",
            "http://127.0.0.1:9",
            "--commit",
            COMMIT_A,
        ],
        &[],
    );
    assert_exit(&out, 3, "cannot reach the RPC endpoint");
    let out = seed_eth(
        dir.path(),
        &[
            "--json",
            "verify",
            "--rpc-url",
            "http://127.0.0.1:9",
            "--commit",
            COMMIT_A,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["exitCode"], 3);
    // Not finalised is a check failure, not an error.
    assert_exit(&run(&["--commit", COMMIT_B]), 1, "is not finalised");
}

/// Zero's split view, cheaply: `verify --witness-state` records the
/// finalisation block it relied on (number and hash); `seed-eth witness`
/// compares it with other endpoints once final there. An endpoint of the
/// same chain id that serves another history is an alarm naming it, and a
/// later `verify` on that state fails closed.
#[tokio::test]
async fn the_block_a_verification_relied_on_is_compared_with_other_endpoints() {
    let world = World::new().await;
    for builder in BUILDERS {
        world.vote(builder, COMMIT_A).await;
    }
    let out = world.run(&[
        "--json",
        "--commit",
        COMMIT_A,
        "--witness-state",
        "w.sqlite",
    ]);
    assert_exit(&out, 0, "");
    let report = json(&out);
    let block = report["block"].as_u64().unwrap();
    let hash = report["blockHash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 66, "{hash}");

    // Another node with the same chain id and its own history: what a lying
    // or misconfigured endpoint shows.
    let other = TestAnvil::spawn().unwrap();
    assert_eq!(other.chain_id(), world.anvil.chain_id());
    for anvil in [&world.anvil, &other] {
        anvil.mine(80).await.unwrap();
    }
    let witness = |name: &str, endpoint: &str| {
        std::fs::write(
            world.dir.path().join(format!("{name}.toml")),
            format!(
                "state = \"w.sqlite\"\n\n[[chain]]\nchain-id = {}\nrpc-url = \"{endpoint}\"\n",
                world.anvil.chain_id()
            ),
        )
        .unwrap();
        seed_eth(
            world.dir.path(),
            &[
                "witness",
                "run",
                "--once",
                "--config",
                &format!("{name}.toml"),
            ],
            &[],
        )
    };
    let out = witness("same", &world.anvil.endpoint());
    assert_exit(&out, 0, "chain blocks compared with endpoints: 1");
    let out = witness("other", &other.endpoint());
    assert_exit(&out, 1, "SPLIT VIEW: 1 alarm");
    let all = text(&out);
    assert!(all.contains("BlockMismatch"), "{all}");
    assert!(all.contains(&hash), "the hash verify relied on: {all}");
    assert!(
        all.contains(&format!("from endpoint {}", other.endpoint())),
        "names the endpoint: {all}"
    );
    // Compared once: a second pass asks nothing again and raises nothing new.
    let out = witness("other", &other.endpoint());
    assert_exit(&out, 0, "");
    let out = seed_eth(
        world.dir.path(),
        &["witness", "alarms", "--state", "w.sqlite"],
        &[],
    );
    assert_exit(
        &out,
        1,
        &format!("block {block} hash {hash} (from verify via"),
    );

    // Verification on that state now fails closed: two hashes for its block.
    let out = world.run(&["--commit", COMMIT_A, "--witness-state", "w.sqlite"]);
    assert_exit(&out, 1, "SPLIT VIEW of eip155:31337");
}

/// D-050: the registry names the block that finalised a release, so `verify --commit` reads
/// that block's events and the votes back to the first counted one: its requests do not grow
/// with the blocks between deployment and release. A release whose stamp is missing (finalised
/// before stamps existed) is still verified, by searching the history, at a cost that does.
#[tokio::test]
async fn verify_commit_costs_the_same_whatever_the_chains_age() {
    use alloy::{primitives::U256, providers::Provider as _};
    use seed_testkit::rpc::{RpcDouble, Rules};

    let world = World::new().await;
    // 2,000 blocks between the deployment and the release: a hundred windows of 20.
    world.anvil.mine(2_000).await.unwrap();
    let mut images = Vec::new();
    for builder in BUILDERS {
        images = world.vote(builder, COMMIT_A).await;
    }
    let proxy = RpcDouble::start(&world.anvil.endpoint(), Rules::default()).unwrap();
    let verify = |proxy: &RpcDouble| {
        proxy.reset_counts();
        let url = proxy.endpoint();
        let out = seed_eth(
            world.dir.path(),
            &[
                "verify",
                "--rpc-url",
                &url,
                "--log-chunk",
                "20",
                "--commit",
                COMMIT_A,
            ],
            &[],
        );
        (out, proxy.requests("eth_getLogs"), proxy.counts())
    };
    let (out, logs, total) = verify(&proxy);
    assert_exit(&out, 0, "VERIFIED");
    assert_eq!(logs, 3, "one window each: ledger, registry, votes");
    assert!(total.values().sum::<usize>() <= 12, "{total:?}");

    // --image: the image's own statement names the release, checked at its stamped block.
    proxy.reset_counts();
    let (url, host) = (proxy.endpoint(), world.registry.host());
    let image = format!("{}@{}", world.repo, images[0]);
    let out = seed_eth(
        world.dir.path(),
        &[
            "verify",
            "--rpc-url",
            &url,
            "--plain-http",
            &host,
            "--log-chunk",
            "20",
            "--image",
            &image,
        ],
        &[],
    );
    assert_exit(&out, 0, "VERIFIED");
    let counts = proxy.counts();
    assert_eq!(counts["eth_getLogs"], 5, "{counts:?}");
    assert!(counts.values().sum::<usize>() <= 20, "{counts:?}");

    // The same release without its stamp: found by searching a hundred windows per event type.
    let provider = ProviderBuilder::new().connect_http(world.anvil.endpoint().parse().unwrap());
    let commit = COMMIT_A.parse::<CommitId>().unwrap().to_b256();
    // SeedRegistry's ERC-7201 namespace; `releases` is its eighth member.
    let storage = U256::from_be_bytes(*alloy::primitives::b256!(
        "aa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100"
    )) + U256::from(7);
    let slot = keccak256(alloy::sol_types::SolValue::abi_encode(&(commit, storage)));
    let registry = world.deployment.contracts.registry;
    let word = provider
        .get_storage_at(registry, slot.into())
        .await
        .unwrap();
    let ones = |bits: usize| (U256::from(1) << bits) - U256::from(1);
    let stamp_bits: U256 = (ones(29) << 226) | (ones(14) << 146);
    assert_ne!(word & stamp_bits, U256::ZERO, "stamped");
    let _: Value = provider
        .raw_request(
            "anvil_setStorageAt".into(),
            (
                registry,
                slot,
                alloy::primitives::B256::from(word & !stamp_bits),
            ),
        )
        .await
        .unwrap();
    let (out, logs, _) = verify(&proxy);
    assert_exit(&out, 0, "VERIFIED");
    assert!(
        logs > 3 * 100,
        "{logs} log queries: the history was searched"
    );
}

/// The hash anvil gives block `number`.
async fn block_hash(endpoint: &str, number: u64) -> String {
    use alloy::providers::Provider as _;
    let block = ProviderBuilder::new()
        .connect_http(endpoint.parse().unwrap())
        .get_block_by_number(number.into())
        .await
        .unwrap()
        .unwrap();
    format!("{:#x}", block.header.hash)
}

/// `verify --proofs` against the endpoints `urls` (the first answers everything).
fn verify_proofs(world: &World, urls: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["verify", "--proofs"];
    for url in urls {
        args.extend(["--rpc-url", url]);
    }
    args.extend_from_slice(extra);
    seed_eth(world.dir.path(), &args, &[])
}

/// Issue 15: with `--proofs` every fact the verdict uses is proven against the finalisation
/// block's hash, which the endpoints must agree on (or the user gives): the ledger's root and
/// the registry's rules by storage proofs, the finalisation and the counted votes by their
/// blocks' receipts. The report says where the hash came from.
#[tokio::test]
async fn verify_proofs_proves_every_fact_against_an_agreed_block_hash() {
    use seed_testkit::rpc::{RpcDouble, Rules};

    let world = World::new().await;
    let mut images = Vec::new();
    for builder in BUILDERS {
        images = world.vote(builder, COMMIT_A).await;
    }
    let first = RpcDouble::start(&world.anvil.endpoint(), Rules::default()).unwrap();
    let second = RpcDouble::start(&world.anvil.endpoint(), Rules::default()).unwrap();
    let (a, b) = (first.endpoint(), second.endpoint());

    // Not final yet on anvil (its finalized block lags the head by 64): no hash to rely on.
    let out = verify_proofs(&world, &[&a, &b], &["--commit", COMMIT_A]);
    assert_exit(&out, 3, "is not final on");
    world.anvil.mine(70).await.unwrap();

    first.reset_counts();
    second.reset_counts();
    let out = verify_proofs(&world, &[&a, &b], &["--json", "--commit", COMMIT_A]);
    assert_exit(&out, 0, "");
    let report = json(&out);
    let block = report["block"].as_u64().unwrap();
    let hash = block_hash(&world.anvil.endpoint(), block).await;
    let proof = &report["proof"];
    assert_eq!(proof["anchor"]["source"]["kind"], "quorum", "{proof}");
    assert_eq!(
        proof["anchor"]["source"]["agreed"],
        serde_json::json!([a, b]),
        "{proof}"
    );
    assert_eq!(proof["anchor"]["number"], block);
    assert_eq!(proof["anchor"]["hash"], hash.as_str());
    assert_eq!(proof["blockHash"], hash.as_str());
    assert_eq!(report["blockHash"], hash.as_str());
    assert_eq!(proof["facts"].as_array().unwrap().len(), 4, "{proof}");
    assert_eq!(
        proof["registryImplementation"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        format!("{:#x}", world.deployment.contracts.registry_implementation).to_lowercase()
    );
    // The cost, counted by the proxies (docs/benchmarks.md): the verifying endpoint says where
    // to look (the stamp, the votes' window) and serves the proofs that replace the calls and
    // log reads: two storage proofs, the receipts of each block holding a counted vote (six
    // here: one vote per block) and the headers from the finalisation block down to the first
    // vote. The second endpoint only names the block.
    let counts = first.counts();
    let total: usize = counts.values().sum();
    assert_eq!(counts["eth_getProof"], 2, "{counts:?}");
    assert_eq!(counts["eth_getBlockReceipts"], 6, "{counts:?}");
    assert_eq!(counts["eth_call"], 1, "only the stamp is asked: {counts:?}");
    assert!(total <= 20, "{total} requests: {counts:?}");
    assert_eq!(second.total_requests(), 2, "{:?}", second.counts());

    // --image: the release its statement names, then its content, on proven votes.
    let image = format!("{}@{}", world.repo, images[0]);
    let host = world.registry.host();
    let out = verify_proofs(
        &world,
        &[&a, &b],
        &["--json", "--image", &image, "--plain-http", &host],
    );
    assert_exit(&out, 0, "");
    let report = json(&out);
    assert_eq!(report["commit"], COMMIT_A);
    assert_eq!(report["proof"]["blockHash"], hash.as_str());
    assert_eq!(
        report["content"][0]["result"]["result"], "matches",
        "{report}"
    );

    // An endpoint capped at 10 blocks per eth_getLogs (Alchemy's free tier): the log reads
    // split on its refusals, the proofs need none.
    let capped = RpcDouble::start(
        &world.anvil.endpoint(),
        Rules {
            max_log_range: Some(10),
            ..Rules::default()
        },
    )
    .unwrap();
    let out = verify_proofs(&world, &[&capped.endpoint(), &b], &["--commit", COMMIT_A]);
    assert_exit(&out, 0, "VERIFIED");
    assert!(capped.requests("eth_getLogs") >= 3, "{:?}", capped.counts());

    // One endpoint: every fact is still proven consistent with one block, but that block is
    // the endpoint's word, and the report says so.
    let out = verify_proofs(&world, &[&a], &["--commit", COMMIT_A]);
    assert_exit(&out, 0, "alone (not verified");

    // A hash from elsewhere: the finalisation block's itself, or a later block's (its headers
    // are walked down, within --max-header-walk).
    let out = verify_proofs(
        &world,
        &[&a],
        &["--commit", COMMIT_A, "--block-hash", &hash],
    );
    assert_exit(&out, 0, "given by --block-hash");
    let later = block_hash(&world.anvil.endpoint(), block + 10).await;
    let out = verify_proofs(
        &world,
        &[&a],
        &["--json", "--commit", COMMIT_A, "--block-hash", &later],
    );
    assert_exit(&out, 0, "");
    // Ten headers down to the finalisation block, five more to the first vote.
    assert_eq!(json(&out)["proof"]["headers"], 16);
    let out = verify_proofs(
        &world,
        &[&a],
        &[
            "--commit",
            COMMIT_A,
            "--block-hash",
            &later,
            "--max-header-walk",
            "5",
        ],
    );
    assert_exit(&out, 3, "10 blocks below the anchor");
    let unknown = format!("{:#x}", keccak256("no such block"));
    let out = verify_proofs(
        &world,
        &[&a],
        &["--commit", COMMIT_A, "--block-hash", &unknown],
    );
    assert_exit(&out, 3, "does not know block");

    // A checkpoint file: the nearest block at or after the finalisation one.
    std::fs::write(
        world.dir.path().join("checkpoints"),
        format!("# from another organisation\n{} {later}\n", block + 10),
    )
    .unwrap();
    let out = verify_proofs(
        &world,
        &[&a],
        &["--commit", COMMIT_A, "--checkpoints", "checkpoints"],
    );
    assert_exit(&out, 0, "given by the checkpoint file checkpoints");
    std::fs::write(
        world.dir.path().join("early"),
        format!("{} {hash}\n", block - 1),
    )
    .unwrap();
    let out = verify_proofs(
        &world,
        &[&a],
        &["--commit", COMMIT_A, "--checkpoints", "early"],
    );
    assert_exit(&out, 2, "names no block at or after block");

    // A deployment file that names another ledger: without proofs, a call to the registry
    // refuses it (exit 2); with proofs, the registry's own storage names the ledger it writes to.
    let path = world.dir.path().join("deployments/31337.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let ledger = world.deployment.contracts.ledger.to_checksum(None);
    let registry = world.deployment.contracts.registry.to_checksum(None);
    assert!(original.contains(&ledger), "{original}");
    std::fs::write(&path, original.replace(&ledger, &registry)).unwrap();
    let out = verify_proofs(&world, &[&a], &["--commit", COMMIT_A]);
    assert_exit(&out, 1, &format!("writes to the ledger {ledger}"));
    std::fs::write(&path, original).unwrap();

    // Flags that cannot work are refused before anything is asked.
    let out = verify_proofs(
        &world,
        &[&a, &b],
        &["--commit", COMMIT_A, "--rpc-quorum", "3"],
    );
    assert_exit(&out, 2, "3 endpoints must agree but 2 were given");
    let out = seed_eth(
        world.dir.path(),
        &[
            "verify",
            "--rpc-url",
            &a,
            "--rpc-url",
            &b,
            "--commit",
            COMMIT_A,
        ],
        &[],
    );
    assert_exit(
        &out,
        2,
        "only `verify --proofs` and `keeper --proofs` ask several",
    );
}

/// Issue 15: an endpoint that lies. Each lie is told by the RPC double in front of the real
/// anvil; without `--proofs` the verdict is whatever the liar wants (recorded here as today's
/// behaviour), with `--proofs` it is exit 3 naming the fact that failed.
#[tokio::test]
async fn a_lying_endpoint_cannot_make_verify_proofs_accept_what_the_chain_does_not_hold() {
    use alloy::sol_types::{SolCall as _, SolEvent as _};
    use seed_testkit::rpc::{Lie, RpcDouble, Rules};

    let world = World::new().await;
    for builder in BUILDERS {
        world.vote(builder, COMMIT_A).await;
    }
    world.anvil.mine(70).await.unwrap();
    let honest = RpcDouble::start(&world.anvil.endpoint(), Rules::default()).unwrap();
    let liar = |lie: Lie, lie_to: Option<&str>| {
        RpcDouble::start(
            &world.anvil.endpoint(),
            Rules {
                lie: Some(lie),
                lie_to: lie_to.map(str::to_owned),
                ..Rules::default()
            },
        )
        .unwrap()
    };
    let hex = |commit: &str| alloy::hex::encode(commit.parse::<CommitId>().unwrap().to_b256());
    let plain = |url: &str, commit: &str| {
        seed_eth(
            world.dir.path(),
            &["verify", "--rpc-url", url, "--commit", commit],
            &[],
        )
    };

    // 1. A release the chain does not hold: COMMIT_B was never voted, but the liar answers
    //    every question about it with COMMIT_A's entry, stamp, logs and receipts.
    let alias = liar(
        Lie::Alias {
            real: hex(COMMIT_A),
            fake: hex(COMMIT_B),
        },
        None,
    );
    assert_exit(&plain(&honest.endpoint(), COMMIT_B), 1, "is not finalised");
    // Today's behaviour, trusting the endpoint: a forged release verifies.
    assert_exit(&plain(&alias.endpoint(), COMMIT_B), 0, "VERIFIED");
    let out = verify_proofs(
        &world,
        &[&alias.endpoint(), &honest.endpoint()],
        &["--commit", COMMIT_B],
    );
    // With proofs: the receipts it passes off do not hash to the block's receipts root.
    assert_exit(&out, 3, "receipts or logs were altered, added or dropped");
    assert!(
        text(&out).contains(&alias.endpoint()),
        "names the liar: {}",
        text(&out)
    );

    // 2. An altered eth_call: the active builder mask (genesis threshold) answered as one builder.
    let registry = format!("{:#x}", world.deployment.contracts.registry);
    let mask = liar(
        Lie::Call {
            to: registry.clone(),
            selector: format!(
                "0x{}",
                alloy::hex::encode(SeedRegistry::activeBuilderMaskCall::SELECTOR)
            ),
            result: format!("{:#066x}", 1),
        },
        None,
    );
    // Today: verified, reporting a threshold of 1 where every one of 3 builders was needed.
    assert_exit(
        &plain(&mask.endpoint(), COMMIT_A),
        0,
        "threshold 1 (genesis",
    );
    // With proofs the rules are read from the registry's storage, proven: the lie is never
    // consulted and the report states the true threshold.
    let out = verify_proofs(&world, &[&mask.endpoint()], &["--commit", COMMIT_A]);
    assert_exit(&out, 0, "threshold 3 (genesis");
    // The one call --proofs still makes is where to look (the finalisation stamp): pointing it
    // at another block finds no entry there, a refusal, never an acceptance.
    let stamp = liar(
        Lie::Call {
            to: registry.clone(),
            selector: format!(
                "0x{}",
                alloy::hex::encode(SeedRegistry::finalisationStampCall::SELECTOR)
            ),
            result: format!("{:#066x}", 3),
        },
        None,
    );
    let out = verify_proofs(&world, &[&stamp.endpoint()], &["--commit", COMMIT_A]);
    assert_exit(&out, 1, "is not finalised");

    // 3. Dropped logs: the votes of the release left out of eth_getLogs and of the receipts.
    let drop = liar(
        Lie::DropLogs {
            topic0: format!("{:#x}", SeedRegistry::Attested::SIGNATURE_HASH),
            topic: format!("0x{}", hex(COMMIT_A)),
        },
        None,
    );
    // Today: fails closed, but blames the release rather than the endpoint.
    assert_exit(
        &plain(&drop.endpoint(), COMMIT_A),
        1,
        "has no Attested event",
    );
    let out = verify_proofs(&world, &[&drop.endpoint()], &["--commit", COMMIT_A]);
    assert_exit(&out, 3, "receipts or logs were altered, added or dropped");

    // 4. Another fork's blocks: a node of the same chain id with its own history.
    let other = TestAnvil::spawn().unwrap();
    other.mine(200).await.unwrap();
    let fork = liar(
        Lie::Fork {
            upstream: other.endpoint(),
        },
        None,
    );
    // Today: verify never reads a block, so nothing is noticed.
    assert_exit(&plain(&fork.endpoint(), COMMIT_A), 0, "VERIFIED");
    let out = verify_proofs(
        &world,
        &[&honest.endpoint(), &fork.endpoint()],
        &["--commit", COMMIT_A],
    );
    assert_exit(&out, 3, "the endpoints disagree on block");
    let all = text(&out);
    assert!(
        all.contains(&format!("{} says", honest.endpoint()))
            && all.contains(&format!("{} says", fork.endpoint())),
        "names both endpoints and their hashes: {all}"
    );
    // As the verifying endpoint, against a hash the user trusts: its header is not that block.
    let report = json(&plain_json(&world, &honest.endpoint(), COMMIT_A));
    let hash = report["blockHash"].as_str().unwrap().to_owned();
    let out = verify_proofs(
        &world,
        &[&fork.endpoint()],
        &["--commit", COMMIT_A, "--block-hash", &hash],
    );
    assert_exit(&out, 3, "does not know block");

    // 5. Different answers to different clients: the liar forges COMMIT_B only for the client
    //    whose URL path is /victim (as a provider can, by API key); everyone else sees the truth.
    let targeted = liar(
        Lie::Alias {
            real: hex(COMMIT_A),
            fake: hex(COMMIT_B),
        },
        Some("/victim"),
    );
    let victim = format!("{}/victim", targeted.endpoint());
    assert_exit(
        &plain(&targeted.endpoint(), COMMIT_B),
        1,
        "is not finalised",
    );
    // Today: the victim verifies a forged release.
    assert_exit(&plain(&victim, COMMIT_B), 0, "VERIFIED");
    let out = verify_proofs(
        &world,
        &[&victim, &targeted.endpoint()],
        &["--commit", COMMIT_B],
    );
    assert_exit(&out, 3, "receipts or logs were altered, added or dropped");
}

fn plain_json(world: &World, url: &str, commit: &str) -> Output {
    seed_eth(
        world.dir.path(),
        &["verify", "--json", "--rpc-url", url, "--commit", commit],
        &[],
    )
}
