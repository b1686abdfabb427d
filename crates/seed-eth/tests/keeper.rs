//! `seed-eth keeper` against a real anvil and a real OCI registry (Debian's
//! `docker-registry`): releases deployed with `seed-eth deploy` and voted by
//! the three default builders (anvil accounts 1-3), then promoted by the
//! keeper binary. Faults are real too: the keeper reaches the chain and the
//! registry through loopback TCP relays that the tests cut and restore, it
//! is stopped at named points of a promotion (`SEED_ETH_KEEPER_FAULT`) and
//! restarted, and anvil reorganises its chain (`anvil_reorg`).
//!
//! Needs anvil and `docker-registry`: `make setup` installs them. Missing
//! binaries fail the tests, they never skip them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::TransactionBuilder,
    primitives::{keccak256, Address},
    providers::{Provider, ProviderBuilder},
    rpc::types::{Filter, TransactionRequest},
    sol,
    sol_types::SolEvent,
};
use seed_chain::{
    bindings::{ReleaseLedger, SeedRegistry},
    Deployment,
};
use seed_core::{release_root, CommitId, Sha256Digest, System};
use seed_oci::{ImageContent, RegistryClient, Repository, Tag};
use seed_testkit::{
    anvil::TestAnvil,
    registry::TestRegistry,
    rpc::{RpcDouble, Rules},
};
use serde_json::Value;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

mod support;
use support::{assert_exit, creation_code, forge_build, http_get, json, seed_eth, text};

const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];
/// Anvil accounts of the default builders (ids 0, 1, 2).
const BUILDERS: [usize; 3] = [1, 2, 3];
const VERDICT: &str = "application/vnd.seed-eth.verdict.v1+json";
/// The verdict referrer's annotation holding the verdict (D-032).
const VERDICT_ANNOTATION: &str = "dev.seed-eth.verdict";
const CONFIRMATIONS: u64 = 3;

fn commit(label: &str) -> String {
    alloy::hex::encode(&keccak256(label.as_bytes())[..20])
}

fn digest(label: &str) -> Sha256Digest {
    Sha256Digest::from_bytes(keccak256(label.as_bytes())).unwrap()
}

/// What a [`Relay`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards them.
    Up,
    /// Closes them (connection refused or reset, as a service that is down).
    Down,
    /// Accepts them and never answers (a hung service).
    Hang,
}

/// A loopback TCP relay that can be cut (new connections are dropped, open
/// ones closed), made to hang, and restored: a real network fault between the
/// keeper and a real service.
struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, rx) = watch::channel(Mode::Up);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let mut rx = rx.clone();
                let initial = *rx.borrow();
                tokio::spawn(async move {
                    let changed = async {
                        while rx.changed().await.is_ok() {
                            if *rx.borrow() != initial {
                                break;
                            }
                        }
                    };
                    match initial {
                        Mode::Down => drop(inbound),
                        // Held open without a byte until the mode changes.
                        Mode::Hang => changed.await,
                        Mode::Up => {
                            let Ok(mut outbound) = TcpStream::connect(target).await else {
                                return;
                            };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                () = changed => {}
                            }
                        }
                    }
                });
            }
        });
        Self { addr, mode }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }
}

impl World {
    /// The repository as the keeper names it (through the registry relay).
    fn oci_repo(&self) -> String {
        format!("{}/seed", self.oci.host())
    }
}

struct World {
    anvil: TestAnvil,
    registry: TestRegistry,
    client: RegistryClient,
    /// The repository, addressed directly (for the test's own checks).
    repo: Repository,
    rpc: Relay,
    oci: Relay,
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
        let deployment = deploy(&anvil, dir.path());
        let rpc_addr: SocketAddr = anvil
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .unwrap();
        let rpc = Relay::start(rpc_addr).await;
        let oci = Relay::start(registry.host().parse().unwrap()).await;
        Self {
            anvil,
            registry,
            client,
            repo,
            rpc,
            oci,
            dir,
            deployment,
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("keeper.sqlite")
    }

    fn keeper_command(&self, state: &Path, extra: &[&str]) -> Command {
        self.keeper_command_via(&format!("http://{}", self.rpc.host()), state, extra)
    }

    /// [`Self::keeper_command`] against the RPC endpoint `rpc`.
    fn keeper_command_via(&self, rpc: &str, state: &Path, extra: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_seed-eth"));
        for (name, _) in std::env::vars() {
            if name.starts_with("SEED_ETH_") {
                command.env_remove(name);
            }
        }
        let source = format!("{}/seed", self.oci.host());
        command
            .current_dir(self.dir.path())
            .args(["keeper", "--rpc-url", rpc, "--source", &source])
            .args(["--plain-http", &self.oci.host()])
            .arg("--state")
            .arg(state)
            .args(["--retry-base-ms", "100", "--retry-max-ms", "400"])
            .args(extra);
        // "--finalized-tag" is this test's way of saying: no --confirmations.
        if extra.contains(&"--finalized-tag") {
            let args: Vec<String> = command
                .get_args()
                .filter(|a| *a != "--finalized-tag")
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let mut bare = Command::new(command.get_program());
            bare.current_dir(self.dir.path()).args(args);
            for (name, _) in std::env::vars() {
                if name.starts_with("SEED_ETH_") {
                    bare.env_remove(name);
                }
            }
            return bare;
        }
        if !extra.contains(&"--confirmations") {
            command.args(["--confirmations", &CONFIRMATIONS.to_string()]);
        }
        command
    }

    /// `seed-eth --json keeper --once`, with `fault` as the fault point.
    fn once_with(&self, state: &Path, fault: Option<&str>, extra: &[&str]) -> Output {
        let mut all = vec!["--once", "--json"];
        all.extend_from_slice(extra);
        let mut command = self.keeper_command(state, &all);
        if let Some(fault) = fault {
            command.env("SEED_ETH_KEEPER_FAULT", fault);
        }
        command.output().unwrap()
    }

    /// Runs `keeper --once` and expects `code`; returns its JSON.
    fn once(&self, code: i32) -> Value {
        let out = self.once_with(&self.state(), None, &[]);
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
    }

    async fn provider(&self) -> impl Provider {
        ProviderBuilder::new().connect_http(self.anvil.endpoint().parse().unwrap())
    }

    async fn mine(&self, blocks: u64) {
        let _: Value = self
            .provider()
            .await
            .raw_request("anvil_mine".into(), (format!("{blocks:#x}"),))
            .await
            .unwrap();
    }

    async fn block(&self) -> u64 {
        self.provider().await.get_block_number().await.unwrap()
    }

    /// Pushes the image builder `account` built for `system` of `commit`.
    async fn image(&self, commit: &str, account: usize, system: &str) -> Sha256Digest {
        let content = seed_image(commit, account, system);
        self.client
            .push_image(&self.repo, &content, None)
            .await
            .unwrap()
            .digest()
    }

    /// `attest` from anvil account `account`.
    async fn attest(
        &self,
        account: usize,
        commit: &str,
        system: &str,
        manifest: Sha256Digest,
        image: Sha256Digest,
    ) {
        let provider = ProviderBuilder::new()
            .wallet(self.anvil.signer(account))
            .connect_http(self.anvil.endpoint().parse().unwrap());
        let receipt = SeedRegistry::new(self.registry(), provider)
            .attest(
                commit.parse::<CommitId>().unwrap().to_b256(),
                system.to_owned(),
                manifest.as_b256(),
                image.as_b256(),
                digest(&format!("statement {account} {commit} {system}")).as_b256(),
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "vote by account {account} reverted");
    }

    fn registry(&self) -> Address {
        self.deployment.contracts.registry
    }

    /// Builder `account` builds and votes every system of `commit` honestly.
    /// Returns its images.
    async fn vote(&self, account: usize, commit: &str) -> Vec<Sha256Digest> {
        let mut images = Vec::new();
        for system in SYSTEMS {
            let image = self.image(commit, account, system).await;
            self.attest(account, commit, system, manifest(commit, system), image)
                .await;
            images.push(image);
        }
        images
    }

    /// A release after genesis finalised the other way (D-055): builders 0 and 1 build every
    /// system of `commit` and sign their votes, and a relayer (account 9) sends them in one
    /// `finalise` call, which stores no vote. Returns builder 0's images.
    async fn finalised_by_signatures(&self, commit: &str) -> Vec<Sha256Digest> {
        let relayer = ProviderBuilder::new()
            .wallet(self.anvil.signer(9))
            .connect_http(self.anvil.endpoint().parse().unwrap());
        let registry = SeedRegistry::new(self.registry(), relayer);
        let chain_id = self.provider().await.get_chain_id().await.unwrap();
        let release = commit.parse::<CommitId>().unwrap().to_b256();
        let mut images = Vec::new();
        let mut votes = Vec::new();
        for (index, system) in SYSTEMS.iter().enumerate() {
            for account in [BUILDERS[0], BUILDERS[1]] {
                let image = self.image(commit, account, system).await;
                if account == BUILDERS[0] {
                    images.push(image);
                }
                let key = self.anvil.signer(account);
                let vote = seed_chain::vote::Vote {
                    signer: key.address(),
                    commit: release,
                    system: (*system).to_owned(),
                    manifestDigest: manifest(commit, system).as_b256(),
                    imageDigest: image.as_b256(),
                    statementDigest: digest(&format!("statement {account} {commit} {system}"))
                        .as_b256(),
                    deadline: u64::from(u32::MAX),
                };
                let signature = vote.sign(&key, chain_id, self.registry()).unwrap();
                let id = registry.builderIdOf(key.address()).call().await.unwrap();
                votes.push(vote.compact(&signature, index as u8, id).unwrap());
            }
        }
        let digests = SYSTEMS
            .iter()
            .map(|system| manifest(commit, system).as_b256())
            .collect();
        let receipt = registry
            .finalise(release, digests, votes)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "finalise reverted");
        images
    }

    /// A release after genesis: builders 0 and 1 vote honestly (k = 2).
    /// Returns builder 0's images (the ones promoted: the lowest id wins a tie).
    async fn release(&self, commit: &str) -> Vec<Sha256Digest> {
        let images = self.vote(BUILDERS[0], commit).await;
        self.vote(BUILDERS[1], commit).await;
        images
    }

    /// Genesis, made final and promoted (checked). Returns the promoted images.
    async fn promoted_genesis(&self) -> Vec<Sha256Digest> {
        let genesis = commit("genesis");
        let images = self.genesis(&genesis).await;
        self.mine(CONFIRMATIONS).await;
        self.once(0);
        self.assert_promoted(&genesis, &images).await;
        images
    }

    /// Lets the test send as the governance timelock (anvil impersonation, with gas money): the
    /// governance path itself is tested in gov.rs. Returns the timelock's address.
    async fn impersonate_timelock(&self) -> Address {
        let provider = self.provider().await;
        let timelock = self.deployment.contracts.timelock;
        let _: Value = provider
            .raw_request("anvil_impersonateAccount".into(), (timelock,))
            .await
            .unwrap();
        let _: Value = provider
            .raw_request("anvil_setBalance".into(), (timelock, "0xde0b6b3a7640000"))
            .await
            .unwrap();
        timelock
    }

    /// Deploys `contract` (from `tests/contracts/utils/<contract>.sol`, built into `out`) and
    /// upgrades the registry proxy to it as the timelock: what a captured governance can do.
    /// Returns a provider for anvil account 9, which the hostile registry's backdoors obey.
    async fn upgrade_registry_to(&self, out: &Path, contract: &str) -> impl Provider {
        let deployer = ProviderBuilder::new()
            .wallet(self.anvil.signer(9))
            .connect_http(self.anvil.endpoint().parse().unwrap());
        let deployed = deployer
            .send_transaction(
                TransactionRequest::default()
                    .with_deploy_code(creation_code(out, contract, contract)),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let implementation = deployed.contract_address.unwrap();
        let provider = self.provider().await;
        self.as_timelock(
            SeedRegistry::new(self.registry(), &provider)
                .upgradeToAndCall(implementation, Default::default()),
            &format!("upgrade to {contract}"),
        )
        .await;
        deployer
    }

    /// Sends `call` as the governance timelock (impersonated) and expects it to succeed.
    async fn as_timelock<P: Provider, D: CallDecoder>(&self, call: CallBuilder<P, D>, what: &str) {
        let timelock = self.impersonate_timelock().await;
        let receipt = call
            .from(timelock)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "{what} as the timelock");
    }

    /// `seed-eth verify --commit` against the chain.
    fn verify(&self, commit: &str) -> Output {
        let rpc = self.anvil.endpoint();
        seed_eth(
            self.dir.path(),
            &["verify", "--rpc-url", &rpc, "--commit", commit],
            &[],
        )
    }

    /// Genesis: all three builders. Returns builder 0's images.
    async fn genesis(&self, commit: &str) -> Vec<Sha256Digest> {
        let images = self.release(commit).await;
        self.vote(BUILDERS[2], commit).await;
        images
    }

    async fn tag(&self, tag: &str) -> Option<Sha256Digest> {
        let tag: Tag = tag.parse().unwrap();
        // Distribution answers 500 to a read racing a write of the same tag
        // (the keeper service may be writing it): read again.
        let mut attempts = 0;
        loop {
            match self.client.pull_tag(&self.repo, &tag).await {
                Ok(found) => return found.map(|m| m.digest()),
                Err(e) if e.is_transient() && attempts < 10 => attempts += 1,
                Err(e) => panic!("reading tag {}: {e}", tag.as_str()),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The verdicts attached to `image`.
    async fn verdicts(&self, image: &Sha256Digest) -> Vec<Value> {
        let mut out = Vec::new();
        for referrer in self
            .client
            .list_referrers(&self.repo, image, Some(VERDICT))
            .await
            .unwrap()
        {
            let annotations = self
                .client
                .referrer_annotations(&self.repo, image, &referrer.sha256().unwrap(), VERDICT)
                .await
                .unwrap();
            // The listing shows the verdict too, as the manifest holds it.
            assert_eq!(referrer.annotations, Some(annotations.clone()));
            out.push(serde_json::from_str(&annotations[VERDICT_ANNOTATION]).unwrap());
        }
        out
    }

    /// Checks that `commit` is promoted exactly once: its permanent tags serve
    /// `images`, and each image carries exactly one verdict naming the release.
    async fn assert_promoted(&self, commit: &str, images: &[Sha256Digest]) {
        for (system, image) in SYSTEMS.iter().zip(images) {
            assert_eq!(
                self.tag(&format!("{commit}-{system}")).await,
                Some(*image),
                "{commit}-{system}"
            );
            let verdicts = self.verdicts(image).await;
            assert_eq!(
                verdicts.len(),
                1,
                "exactly one verdict on {image}: {verdicts:?}"
            );
            let v = &verdicts[0];
            assert_eq!(v["commit"], commit);
            assert_eq!(v["system"], *system);
            assert_eq!(v["imageDigest"], image.to_string());
            assert_eq!(v["manifestDigest"], manifest(commit, system).to_string());
            assert_eq!(v["chainId"], 31337);
            assert_eq!(
                v["ledger"].as_str().unwrap().to_lowercase(),
                self.deployment.contracts.ledger.to_string().to_lowercase()
            );
        }
    }

    async fn assert_not_promoted(&self, commit: &str) {
        for system in SYSTEMS {
            assert_eq!(
                self.tag(&format!("{commit}-{system}")).await,
                None,
                "{commit}-{system}"
            );
        }
    }

    /// A keeper run meets the forged release `forged` and stops (exit 3) saying `reason`; nothing
    /// of it is promoted and the moving tags still serve `images`.
    async fn assert_keeper_stops_at(&self, forged: &str, reason: &str, images: &[Sha256Digest]) {
        let out = self.once_with(&self.state(), None, &[]);
        assert_exit(&out, 3, reason);
        self.assert_not_promoted(forged).await;
        self.assert_release_tags(images).await;
    }

    async fn assert_release_tags(&self, images: &[Sha256Digest]) {
        for (system, image) in SYSTEMS.iter().zip(images) {
            assert_eq!(
                self.tag(&format!("release-{system}")).await,
                Some(*image),
                "release-{system}"
            );
        }
    }
}

/// The closure manifest honest builders attest for `system` of `commit`:
/// the one [`seed_image`] holds.
fn manifest(commit: &str, system: &str) -> Sha256Digest {
    ImageContent::synthetic_seed(&format!("closure {commit} {system}"), "")
        .unwrap()
        .1
        .digest()
}

/// The seed builder `account` built for `system` of `commit`: every
/// builder's image differs (as packaging does), the closure it holds does not.
fn seed_image(commit: &str, account: usize, system: &str) -> ImageContent {
    ImageContent::synthetic_seed(
        &format!("closure {commit} {system}"),
        &format!("builder {account}"),
    )
    .unwrap()
    .0
}

/// The root a release of `commit` would have if every system finalised its honest manifest.
fn root_of(commit: &str) -> alloy::primitives::B256 {
    let leaves: Vec<_> = SYSTEMS
        .iter()
        .map(|s| (s.parse::<System>().unwrap(), manifest(commit, s)))
        .collect();
    release_root(&leaves).unwrap()
}

/// `seed-eth deploy` from anvil account 0 on the default configuration
/// (3 builders from 3 organisations, k = 2, two required systems).
fn deploy(anvil: &TestAnvil, cwd: &Path) -> Deployment {
    let out = seed_eth(
        cwd,
        &["deploy", "--rpc-url", &anvil.endpoint()],
        &[("SEED_ETH_PRIVATE_KEY", &anvil.private_key_hex(0))],
    );
    assert_eq!(out.status.code(), Some(0), "deploy: {}", text(&out));
    Deployment::load(&cwd.join("deployments/31337.json")).unwrap()
}

fn promoted(report: &Value) -> u64 {
    report["promoted"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promotes_only_final_releases_bit_exact_and_exactly_once() {
    let world = World::new().await;

    // Genesis, unanimous. Not final until CONFIRMATIONS more blocks exist.
    let genesis = commit("genesis");
    let genesis_images = world.genesis(&genesis).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 0, "{report}");
    world.assert_not_promoted(&genesis).await;

    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_promoted(&genesis, &genesis_images).await;
    world.assert_release_tags(&genesis_images).await;

    // A release where builder 2 disagrees on x86_64-linux: the quorum of
    // builders 0 and 1 decides, and of their images builder 0's (lowest id).
    let two = commit("two");
    let two_images = world.vote(BUILDERS[0], &two).await;
    let bad = world.image(&two, BUILDERS[2], "x86_64-linux").await;
    world
        .attest(BUILDERS[2], &two, "x86_64-linux", digest("tampered"), bad)
        .await;
    let arm_2 = world.image(&two, BUILDERS[2], "aarch64-linux").await;
    world
        .attest(
            BUILDERS[2],
            &two,
            "aarch64-linux",
            manifest(&two, "aarch64-linux"),
            arm_2,
        )
        .await;
    world.vote(BUILDERS[1], &two).await;
    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_promoted(&two, &two_images).await;
    world.assert_release_tags(&two_images).await;
    // The genesis tags are permanent.
    world.assert_promoted(&genesis, &genesis_images).await;
    assert!(world.verdicts(&bad).await.is_empty());
    let v = &world.verdicts(&two_images[1]).await[0];
    assert_eq!(v["voters"], serde_json::json!([0, 1]));
    assert_eq!(v["imageBuilder"], 0);
    assert_eq!(v["genesis"], false);

    // A keeper that sees less of the chain (a deeper finality) finds only
    // genesis final: it must not move the moving tags back to genesis, whose
    // verdict is of an earlier release than the one they serve.
    let lagging = world.dir.path().join("lagging.sqlite");
    let out = world.once_with(&lagging, None, &["--confirmations", "8"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["promotions"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    world.assert_release_tags(&two_images).await;
    // It says why: the chain proves the tags serve a later release.
    for tag in report["movingTags"].as_array().unwrap() {
        assert_eq!(tag["state"], "held", "{report}");
        assert_eq!(tag["heldBy"]["commit"], two, "{report}");
    }

    // Again: nothing to do. A second keeper with its own state does the same
    // work again and changes nothing.
    let report = world.once(0);
    assert_eq!(promoted(&report), 0, "{report}");
    // (This one also runs seed-eth verify's checks before promoting.)
    let other = world.dir.path().join("other.sqlite");
    let out = world.once_with(&other, None, &["--verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.assert_promoted(&genesis, &genesis_images).await;
    world.assert_promoted(&two, &two_images).await;
    world.assert_release_tags(&two_images).await;

    // Many releases finalised while no keeper ran: a fresh keeper catches up
    // in chain order, and the moving tags end on the newest.
    let mut latest = Vec::new();
    let mut commits = Vec::new();
    for i in 0..6 {
        let c = commit(&format!("backlog {i}"));
        latest = world.release(&c).await;
        commits.push((c, latest.clone()));
    }
    world.mine(CONFIRMATIONS).await;
    // Three fresh keepers at the same time: one in strict chain order, one
    // concurrent with its own state, one sharing the first one's state file;
    // their effects must be those of one.
    let fresh = world.dir.path().join("fresh.sqlite");
    let other_fresh = world.dir.path().join("fresh-2.sqlite");
    let spawn = |state: &Path, extra: &[&str]| {
        world
            .keeper_command(state, extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let racing = spawn(&other_fresh, &["--once", "--concurrency", "8"]);
    let sharing = spawn(&fresh, &["--once", "--concurrency", "8"]);
    let out = world.once_with(&fresh, None, &["--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for racer in [racing, sharing] {
        let racer = racer.wait_with_output().unwrap();
        assert_eq!(racer.status.code(), Some(0), "{}", text(&racer));
    }
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let blocks: Vec<u64> = report["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["block"].as_u64().unwrap())
        .collect();
    assert!(blocks.windows(2).all(|w| w[0] <= w[1]), "{blocks:?}");
    assert_eq!(blocks.len(), 16);
    for (c, images) in &commits {
        world.assert_promoted(c, images).await;
    }
    world.assert_release_tags(&latest).await;
    // The first keeper catches up too, with the same result.
    world.once(0);
    world.assert_release_tags(&latest).await;
    for (c, images) in &commits {
        world.assert_promoted(c, images).await;
    }
}

/// Issue 17 §3: a release finalised from signed votes in one `finalise` call (no vote stored)
/// is promoted exactly as one voted vote by vote: the same images, voters and tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_finalised_from_signed_votes_is_promoted_like_one_voted_on_chain() {
    let world = World::new().await;
    world.promoted_genesis().await;
    let release = commit("signed");
    let images = world.finalised_by_signatures(&release).await;
    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_promoted(&release, &images).await;
    world.assert_release_tags(&images).await;
    let verdict = &world.verdicts(&images[1]).await[0];
    assert_eq!(verdict["voters"], serde_json::json!([0, 1]), "{verdict}");
    assert_eq!(verdict["imageBuilder"], 0);
    assert_eq!(verdict["genesis"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restart_at_any_point_has_exactly_once_effects() {
    let world = World::new().await;
    world.promoted_genesis().await;

    for fault in [
        "scan-before-commit",
        "after-pull",
        "after-first-tag",
        "after-verdict",
        "after-done",
    ] {
        let c = commit(fault);
        let images = world.release(&c).await;
        world.mine(CONFIRMATIONS).await;
        let out = world.once_with(&world.state(), Some(fault), &[]);
        assert_eq!(out.status.code(), Some(86), "{fault}: {}", text(&out));
        if fault == "scan-before-commit" {
            world.assert_not_promoted(&c).await;
        }
        let report = world.once(0);
        assert!(
            report["pending"].as_array().unwrap().is_empty(),
            "{fault}: {report}"
        );
        world.assert_promoted(&c, &images).await;
        world.assert_release_tags(&images).await;
        // Each promotion is recorded once, as done.
        let rows: Vec<&Value> = report["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["commit"] == c)
            .collect();
        assert_eq!(rows.len(), 2, "{fault}: {report}");
        assert!(
            rows.iter().all(|p| p["state"] == "done"),
            "{fault}: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finalisation_reorganised_away_before_finality_is_never_promoted() {
    let world = World::new().await;
    let images = world.promoted_genesis().await;

    // Release "doomed" finalises (its last vote, in the newest block), but
    // the newest CONFIRMATIONS blocks are replaced before they are final; the
    // keeper looks in between and must not act.
    let before = world.block().await;
    let doomed = commit("doomed");
    world.release(&doomed).await;
    assert_eq!(world.block().await - before, 4, "one block per vote");
    let report = world.once(0);
    assert_eq!(promoted(&report), 0, "{report}");
    let _: Value = world
        .provider()
        .await
        .raw_request("anvil_reorg".into(), (CONFIRMATIONS, Vec::<Value>::new()))
        .await
        .unwrap();
    world.mine(CONFIRMATIONS + 2).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 0, "{report}");
    world.assert_not_promoted(&doomed).await;
    world.assert_release_tags(&images).await;

    // A release finalised on the new chain is promoted; "doomed" still not.
    let after = commit("after");
    let images = world.release(&after).await;
    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_promoted(&after, &images).await;
    world.assert_not_promoted(&doomed).await;

    // A reorganisation deeper than the configured finality changes blocks
    // the keeper already acted on: it stops and says so (exit 3).
    let _: Value = world
        .provider()
        .await
        .raw_request(
            "anvil_reorg".into(),
            (CONFIRMATIONS + 2, Vec::<Value>::new()),
        )
        .await
        .unwrap();
    let out = world.once_with(&world.state(), None, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("deeper than the configured finality"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poisoned_releases_are_retried_without_blocking_later_ones() {
    let world = World::new().await;
    let genesis = commit("genesis");
    let genesis_images = world.genesis(&genesis).await;

    // Builders attest an image that was never pushed.
    let poisoned = commit("poisoned");
    let missing: Vec<Sha256Digest> = SYSTEMS
        .iter()
        .map(|s| seed_image(&poisoned, BUILDERS[0], s).manifest().digest())
        .collect();
    for account in [BUILDERS[0], BUILDERS[1]] {
        for (system, image) in SYSTEMS.iter().zip(&missing) {
            world
                .attest(
                    account,
                    &poisoned,
                    system,
                    manifest(&poisoned, system),
                    *image,
                )
                .await;
        }
    }
    let good = commit("good");
    let good_images = world.release(&good).await;
    world.mine(CONFIRMATIONS).await;

    // The later release is promoted; the poisoned one is reported (exit 1).
    let report = world.once(1);
    let pending = report["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{report}");
    assert!(pending.iter().all(|p| p["commit"] == poisoned), "{report}");
    assert!(
        pending[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{report}"
    );
    world.assert_promoted(&genesis, &genesis_images).await;
    world.assert_promoted(&good, &good_images).await;
    world.assert_release_tags(&good_images).await;

    // Once the image appears it is promoted, and the moving tags stay on the
    // newer release.
    world.vote_images_only(&poisoned).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_promoted(&poisoned, &missing).await;
    world.assert_release_tags(&good_images).await;
}

/// Trust property 1 for the bytes people pull: a builder that attests the agreed
/// manifest with an image holding other content never gets that image promoted.
/// The keeper reads each counted voter's image in D-031 order before pushing
/// anything, skips (and names) the one that does not hold the closure and
/// promotes the next; when no image holds it the release is poisoned, never
/// substituted. An image is read once: its result is kept in the state file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trojan_image_is_never_promoted() {
    let world = World::new().await;
    world.promoted_genesis().await;

    // Builder 0 (the lowest id, first on a tie) attests the honest manifests with
    // trojans: same shape, another closure. Builder 1 is honest.
    let release = commit("trojan release");
    let trojan = |system: &str| {
        ImageContent::synthetic_seed(&format!("trojan {release} {system}"), "builder 0")
            .unwrap()
            .0
    };
    let mut trojans = Vec::new();
    for system in SYSTEMS {
        let image = world
            .client
            .push_image(&world.repo, &trojan(system), None)
            .await
            .unwrap()
            .digest();
        world
            .attest(
                BUILDERS[0],
                &release,
                system,
                manifest(&release, system),
                image,
            )
            .await;
        trojans.push(image);
    }
    let honest = world.vote(BUILDERS[1], &release).await;
    world.mine(CONFIRMATIONS).await;

    let out = world.once_with(&world.state(), None, &[]);
    assert_exit(
        &out,
        0,
        "image refused: its content does not hold the finalised closure",
    );
    world.assert_promoted(&release, &honest).await;
    world.assert_release_tags(&honest).await;
    for (system, (trojan, honest)) in SYSTEMS.iter().zip(trojans.iter().zip(&honest)) {
        // No tag of the release serves the trojan, and it carries no verdict.
        assert!(world.verdicts(trojan).await.is_empty());
        let verdict = &world.verdicts(honest).await[0];
        let refused = verdict["refusedImages"].as_array().unwrap();
        assert_eq!(refused.len(), 1, "{verdict}");
        assert_eq!(refused[0]["builder"], 0);
        assert_eq!(refused[0]["image"], trojan.to_string());
        assert!(
            refused[0]["reason"]
                .as_str()
                .unwrap()
                .contains(&format!("not the finalised {}", manifest(&release, system))),
            "{verdict}"
        );
    }

    // Every counted image a trojan: poisoned (exit 1, the reason named), nothing tagged.
    let all_bad = commit("all trojans");
    for account in [BUILDERS[0], BUILDERS[1]] {
        for system in SYSTEMS {
            let (content, _) = ImageContent::synthetic_seed(
                &format!("trojan {all_bad} {system}"),
                &format!("builder {account}"),
            )
            .unwrap();
            let image = world
                .client
                .push_image(&world.repo, &content, None)
                .await
                .unwrap()
                .digest();
            world
                .attest(account, &all_bad, system, manifest(&all_bad, system), image)
                .await;
        }
    }
    world.mine(CONFIRMATIONS).await;
    let report = world.once(1);
    let pending = report["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{report}");
    for p in pending {
        let error = p["lastError"].as_str().unwrap();
        assert!(
            error.contains("no image of a counted voter holds the finalised closure manifest")
                && error.contains("builder 0's image")
                && error.contains("builder 1's image"),
            "{report}"
        );
    }
    world.assert_not_promoted(&all_bad).await;
    world.assert_release_tags(&honest).await;

    // A second run reads no image again: the checks are in the state file.
    let blob_reads = || {
        world
            .registry
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/blobs/"))
            .count()
    };
    let before = blob_reads();
    let out = world.once_with(&world.state(), None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        blob_reads(),
        before,
        "the retried poisoned release read its images again"
    );
    let checked: i64 = state_count(&world.state(), "SELECT COUNT(*) FROM content_checks");
    assert_eq!(
        checked,
        2 + 2 + 2 + 4,
        "genesis, the trojans, honest, all-trojans"
    );

    // Someone with push access tags builder 1's trojan of the later (poisoned)
    // release as release-x86_64-linux, with a verdict whose every claim the
    // chain confirms (a counted voter attested that image for that release):
    // only its content gives it away. The keeper reads it, refutes the verdict
    // and moves the tag back.
    let x86 = SYSTEMS[1];
    let (content, _) = ImageContent::synthetic_seed(
        &format!("trojan {all_bad} {x86}"),
        &format!("builder {}", BUILDERS[1]),
    )
    .unwrap();
    let later_trojan = content.manifest().digest();
    world.write_tag("release-x86_64-linux", &later_trojan).await;
    let record = world.record_of(&all_bad).await;
    let mut forged = world.verdicts(&honest[1]).await.remove(0);
    forged["commit"] = all_bad.clone().into();
    forged["manifestDigest"] = manifest(&all_bad, x86).to_string().into();
    forged["root"] = format!("{:#x}", root_of(&all_bad)).into();
    forged["transaction"] = format!("{:#x}", record.transaction_hash.unwrap()).into();
    forged["block"] = record.block_number.unwrap().into();
    forged["logIndex"] = record.log_index.unwrap().into();
    forged["imageDigest"] = later_trojan.to_string().into();
    forged["imageBuilder"] = 1.into();
    forged.as_object_mut().unwrap().remove("refusedImages");
    world.attach_verdict(&later_trojan, &forged).await;
    let out = world.once_with(&world.state(), None, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the image holds the closure manifest"),
        "{}",
        text(&out)
    );
    world.assert_release_tags(&honest).await;
}

/// A seed format seed-eth cannot read (Darwin's `.dmg.zst`) poisons its
/// promotion by default, naming the format; `--no-content-check SYSTEM`
/// promotes it on the votes alone, and its verdict says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreadable_seed_is_promoted_only_when_its_system_is_exempted() {
    let world = World::new().await;
    world.promoted_genesis().await;
    let release = commit("darwin-like seed");
    let unreadable = ImageContent {
        config: b"{}".to_vec(),
        layers: vec![(
            "application/vnd.nix-seed.aarch64-darwin".to_owned(),
            b"a zstd HFS+ image, as far as anyone can tell".to_vec(),
        )],
    };
    let image = world
        .client
        .push_image(&world.repo, &unreadable, None)
        .await
        .unwrap()
        .digest();
    let mut images = Vec::new();
    for (i, system) in SYSTEMS.iter().enumerate() {
        for account in [BUILDERS[0], BUILDERS[1]] {
            let chosen = if i == 0 {
                image
            } else {
                world.image(&release, account, system).await
            };
            world
                .attest(
                    account,
                    &release,
                    system,
                    manifest(&release, system),
                    chosen,
                )
                .await;
            if account == BUILDERS[0] {
                images.push(chosen);
            }
        }
    }
    world.mine(CONFIRMATIONS).await;

    let report = world.once(1);
    let pending = report["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{report}");
    assert!(
        pending[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("Darwin seed"),
        "{report}"
    );

    let out = world.once_with(&world.state(), None, &["--no-content-check", SYSTEMS[0]]);
    assert_exit(&out, 0, "promoting without reading the image's content");
    world.assert_promoted(&release, &images).await;
    assert_eq!(
        world.verdicts(&images[0]).await[0]["contentUnchecked"],
        true
    );
    assert!(world.verdicts(&images[1]).await[0]
        .get("contentUnchecked")
        .is_none());
}

/// One number from the keeper's state file, read by Python's sqlite3 module
/// (an independent reader of the file).
fn state_count(state: &Path, query: &str) -> i64 {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])",
            state.to_str().unwrap(),
            query,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

impl World {
    /// Pushes builder 0's images of `commit` without voting.
    async fn vote_images_only(&self, commit: &str) {
        for system in SYSTEMS {
            self.image(commit, BUILDERS[0], system).await;
        }
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (_, body) = http_get(addr, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_rides_out_registry_and_rpc_outages_and_stops_on_sigterm() {
    let world = World::new().await;
    let metrics = free_port();
    let mut command = world.keeper_command(
        &world.state(),
        &[
            "--poll-ms",
            "200",
            "--pass-timeout-ms",
            "1500",
            "--metrics-addr",
            &metrics.to_string(),
        ],
    );
    command.env("SEED_ETH_LOG", "info");
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // Started while the RPC endpoint is down (a node restarting): the service waits for it,
    // unhealthy, instead of exiting.
    world.rpc.set(Mode::Down);
    let mut service = Service(command.spawn().unwrap());
    wait_for(
        "/healthz 503 at start",
        Duration::from_secs(20),
        async || http_get(metrics, "/healthz").0 == 503,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        service.0.try_wait().unwrap().is_none(),
        "exited during a start-up outage"
    );
    world.rpc.set(Mode::Up);
    wait_for("/healthz", Duration::from_secs(20), async || {
        http_get(metrics, "/healthz").0 == 200
    })
    .await;

    // The registry goes away while a release becomes final.
    world.oci.set(Mode::Down);
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    wait_for(
        "failed promotion attempts",
        Duration::from_secs(20),
        async || metric(metrics, "seed_keeper_promotion_failures_total") >= 2,
    )
    .await;
    world.assert_not_promoted(&genesis).await;
    world.oci.set(Mode::Up);
    wait_for(
        "promotion after the registry returned",
        Duration::from_secs(20),
        async || metric(metrics, "seed_keeper_promotions_total") == 2,
    )
    .await;
    world.assert_promoted(&genesis, &images).await;

    // The RPC endpoint goes away: unhealthy, then healthy again, and a
    // release finalised during the outage is promoted.
    world.rpc.set(Mode::Down);
    wait_for("/healthz 503", Duration::from_secs(20), async || {
        http_get(metrics, "/healthz").0 == 503
    })
    .await;
    let two = commit("two");
    let two_images = world.release(&two).await;
    world.mine(CONFIRMATIONS).await;
    world.rpc.set(Mode::Up);
    wait_for(
        "promotion after the RPC returned",
        Duration::from_secs(20),
        async || metric(metrics, "seed_keeper_promotions_total") == 4,
    )
    .await;
    wait_for("/healthz 200", Duration::from_secs(20), async || {
        http_get(metrics, "/healthz").0 == 200
    })
    .await;
    world.assert_promoted(&two, &two_images).await;
    world.assert_release_tags(&two_images).await;
    assert!(metric(metrics, "seed_keeper_loop_failures_total") >= 1);
    let cursor = metric(metrics, "seed_keeper_cursor_block");
    let head = world.block().await;
    assert!(
        cursor + CONFIRMATIONS >= head,
        "cursor {cursor} head {head}: {}",
        http_get(metrics, "/metrics").1
    );

    // The RPC endpoint hangs: the pass is abandoned after --pass-timeout-ms
    // (unhealthy), and everything resumes when it answers again.
    world.rpc.set(Mode::Hang);
    wait_for(
        "/healthz 503 on a hung RPC",
        Duration::from_secs(20),
        async || http_get(metrics, "/healthz").0 == 503,
    )
    .await;
    let three = commit("three");
    let three_images = world.release(&three).await;
    world.mine(CONFIRMATIONS).await;
    world.rpc.set(Mode::Up);
    wait_for(
        "promotion after the RPC stopped hanging",
        Duration::from_secs(20),
        async || metric(metrics, "seed_keeper_promotions_total") == 6,
    )
    .await;
    world.assert_promoted(&three, &three_images).await;

    // SIGTERM: a clean exit.
    let pid = service.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = service.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_confirmations_the_chains_finalized_tag_decides() {
    // anvil's `finalized` block is 64 blocks behind its head.
    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(60).await;
    let out = world.once_with(&world.state(), None, &["--finalized-tag"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.assert_not_promoted(&genesis).await;
    world.mine(4).await;
    let out = world.once_with(&world.state(), None, &["--finalized-tag"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    world.assert_promoted(&genesis, &images).await;
    assert!(
        !text(&out).contains("is its latest block"),
        "{}",
        text(&out)
    );

    // A node whose `finalized` block is its latest (Hardhat's node; here a double in front of
    // anvil): the default gives no confirmations, and the keeper says so.
    let hardhat_like = RpcDouble::start(
        &world.anvil.endpoint(),
        Rules {
            finalized_is_latest: true,
            ..Rules::default()
        },
    )
    .unwrap();
    let out = world
        .keeper_command_via(
            &hardhat_like.endpoint(),
            &world.dir.path().join("hardhat.sqlite"),
            &["--once", "--finalized-tag"],
        )
        .output()
        .unwrap();
    assert_exit(&out, 0, "the node's `finalized` block is its latest block");
    assert!(hardhat_like.requests("eth_getBlockByNumber") > 0);
}

/// Issue 11 §4: hosted endpoints cap `eth_getLogs` by range or by results. `status`, `verify`
/// and the keeper split their queries on the endpoint's refusals, say so once, and need no
/// `--log-chunk` tuning. The endpoints are a double in front of anvil: one refusing more than 10
/// blocks per query (no hint, as QuickNode), one refusing more than 2 logs per answer with a
/// range that would work (as Infura).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capped_log_queries_are_split_on_the_endpoints_refusals() {
    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    for (i, rules) in [
        Rules {
            max_log_range: Some(10),
            ..Rules::default()
        },
        Rules {
            max_log_results: Some(2),
            ..Rules::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        let capped = RpcDouble::start(&world.anvil.endpoint(), rules.clone()).unwrap();
        let rpc = capped.endpoint();
        // Halving from 10,000 blocks, 9 is the first size a 10-block cap answers; the results
        // cap names a range that works.
        let out = seed_eth(
            world.dir.path(),
            &["status", "--rpc-url", &rpc, "--commit", &genesis],
            &[],
        );
        let learnt = if rules.max_log_range.is_some() {
            "and answered one of 9; asking for at most 9 at a time from now on"
        } else {
            "asking for at most"
        };
        assert_exit(&out, 0, learnt);
        // verify reads the finalisation block the registry names (D-050) and the votes back
        // from it: on this short chain no query is wider than the cap, so only the results cap
        // (six votes in one answer) is ever met.
        let out = seed_eth(
            world.dir.path(),
            &["verify", "--rpc-url", &rpc, "--commit", &genesis],
            &[],
        );
        let learnt = if rules.max_log_range.is_some() {
            "VERIFIED"
        } else {
            "asking for at most"
        };
        assert_exit(&out, 0, learnt);
        let state = world.dir.path().join(format!("capped-{i}.sqlite"));
        let out = world
            .keeper_command_via(&rpc, &state, &["--once", "--json"])
            .output()
            .unwrap();
        assert_exit(&out, 0, "asking for at most");
        assert_eq!(
            json(&out)["promotions"].as_array().unwrap().len(),
            2,
            "{rules:?}"
        );
        assert!(capped.requests("eth_getLogs") > 2, "{rules:?}");
    }
    world.assert_promoted(&genesis, &images).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promotes_into_per_system_repositories_of_the_same_registry() {
    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    let target = format!("{}/seed-{{system}}", world.oci.host());
    let out = world.once_with(
        &world.state(),
        None,
        &["--target", &target, "--tag", "{commit}", "--tag", "release"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (system, image) in SYSTEMS.iter().zip(&images) {
        let repo: Repository = format!("{}/seed-{system}", world.registry.host())
            .parse()
            .unwrap();
        for tag in [genesis.as_str(), "release"] {
            let manifest = world
                .client
                .pull_tag(&repo, &tag.parse().unwrap())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{repo}:{tag} missing"));
            assert_eq!(manifest.digest(), *image, "{repo}:{tag}");
        }
        // The blobs were mounted, so the promoted image is complete there.
        let fields = world
            .client
            .pull_manifest(&repo, image)
            .await
            .unwrap()
            .fields()
            .unwrap();
        for layer in fields.layers.unwrap() {
            assert!(world
                .client
                .blob_exists(&repo, &layer.sha256().unwrap())
                .await
                .unwrap());
        }
        let verdicts = world
            .client
            .list_referrers(&repo, image, Some(VERDICT))
            .await
            .unwrap();
        assert_eq!(verdicts.len(), 1, "{repo}");
    }
    // Nothing was tagged in the source repository.
    assert_eq!(world.tag(&format!("{genesis}-x86_64-linux")).await, None);

    // A state file whose directory is in fact a file is refused, naming it.
    let blocker = world.dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let out = world.once_with(&blocker.join("state.sqlite"), None, &[]);
    assert_exit(
        &out,
        2,
        &format!("{} is not a directory (it is a file)", blocker.display()),
    );

    // A template set where two systems would share a tag is refused (exit 2).
    let out = world.once_with(
        &world.dir.path().join("bad.sqlite"),
        None,
        &["--tag", "{commit}"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("every system would write the same tag"),
        "{}",
        text(&out)
    );
}

/// Trust property: the keeper promotes only what the registry finalised. Governance hands the
/// ledger's writer to an account that records a release one builder voted for (no quorum); a
/// keeper that trusted `ReleaseRecorded` alone would promote that builder's images. Ours stops,
/// naming the foreign writer, and promotes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ledger_entry_the_registry_did_not_finalise_is_never_promoted() {
    let world = World::new().await;
    let images = world.promoted_genesis().await;

    // One vote per system: pending, not final.
    let forged = commit("forged");
    world.vote(BUILDERS[0], &forged).await;

    // The timelock moves the writer.
    let provider = world.provider().await;
    let ledger = world.deployment.contracts.ledger;
    let hostile = world.anvil.address(9);
    world
        .as_timelock(
            ReleaseLedger::new(ledger, &provider).setWriter(hostile),
            "setWriter",
        )
        .await;
    let root = root_of(&forged);
    let recorded = ReleaseLedger::new(
        ledger,
        ProviderBuilder::new()
            .wallet(world.anvil.signer(9))
            .connect_http(world.anvil.endpoint().parse().unwrap()),
    )
    .record(forged.parse::<CommitId>().unwrap().to_b256(), root, 1)
    .send()
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert!(recorded.status());
    world.mine(CONFIRMATIONS).await;

    world
        .assert_keeper_stops_at(
            &forged,
            &format!("from writer {hostile}, not the registry"),
            &images,
        )
        .await;
}

sol! {
    #[sol(rpc)]
    interface IMaliciousRegistry {
        function rewrite(bytes32 commit, bytes32 root) external;
    }
}

/// Trust properties 5 and 9 against a captured governance: the registry is upgraded to
/// `MaliciousRegistry`, which appends a release to the ledger (it is still the writer) without
/// any quorum or `ReleaseFinalised` event. The keeper promotes nothing of it and stops, naming
/// the record it cannot account for; earlier promotions stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_a_hostile_registry_upgrade_records_is_never_promoted() {
    let build = tempfile::tempdir().unwrap();
    let out = forge_build(
        build.path(),
        &["tests/contracts/utils/MaliciousRegistry.sol"],
    );
    let world = World::new().await;
    let images = world.promoted_genesis().await;

    let forged = commit("forged");
    world.vote(BUILDERS[0], &forged).await;

    let deployer = world.upgrade_registry_to(&out, "MaliciousRegistry").await;
    let recorded = IMaliciousRegistry::new(world.registry(), &deployer)
        .rewrite(
            forged.parse::<CommitId>().unwrap().to_b256(),
            root_of(&forged),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(recorded.status());
    world.mine(CONFIRMATIONS).await;

    world
        .assert_keeper_stops_at(
            &forged,
            "without a ReleaseFinalised event of the registry",
            &images,
        )
        .await;

    // `seed-eth verify` refuses it too, for the same reason.
    let verify = world.verify(&forged);
    assert_exit(
        &verify,
        1,
        "emitted no ReleaseFinalised event for it: the root cannot be recomputed",
    );
}

sol! {
    #[sol(rpc)]
    interface IForgingRegistry {
        function forgeFinalisation(
            bytes32 commit,
            string[] systems,
            bytes32[] digests,
            uint64[] voters,
            uint32 version,
            address ledger
        ) external;
    }
}

/// A captured governance that forges well: the registry is upgraded to `ForgingRegistry`, which
/// keeps every view and records a release whose `ReleaseFinalised` event and ledger entry agree
/// with each other and with its leaves, in one transaction, counting `voters` (the same bitmap
/// for every system). Builder 0 alone voted the release, honestly. Returns its commit, made final.
async fn forged_release(world: &World, label: &str, voters: u64) -> String {
    let build = tempfile::tempdir().unwrap();
    let out = forge_build(build.path(), &["tests/contracts/utils/ForgingRegistry.sol"]);
    let backdoor = world.upgrade_registry_to(&out, "ForgingRegistry").await;
    let forged = commit(label);
    world.vote(BUILDERS[0], &forged).await;
    let registry = SeedRegistry::new(world.registry(), &backdoor);
    let version = registry.rulesVersion().call().await.unwrap();
    let ledger = registry.ledger().call().await.unwrap();
    let recorded = IForgingRegistry::new(world.registry(), &backdoor)
        .forgeFinalisation(
            forged.parse::<CommitId>().unwrap().to_b256(),
            SYSTEMS.map(str::to_owned).to_vec(),
            SYSTEMS.map(|s| manifest(&forged, s).as_b256()).to_vec(),
            vec![voters; SYSTEMS.len()],
            version,
            ledger,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(recorded.status());
    world.mine(CONFIRMATIONS).await;
    forged
}

/// Trust properties 1 and 9: a finalisation that counts a builder with no vote for the release
/// is refused by the keeper's follower itself, without `--verify` (it needs no state at old
/// blocks): the keeper stops, naming the builder, and promotes nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_finalisation_counting_a_builder_that_never_voted_is_never_promoted() {
    let world = World::new().await;
    let images = world.promoted_genesis().await;
    let forged = forged_release(&world, "phantom voter", 0b011).await;

    world
        .assert_keeper_stops_at(
            &forged,
            "the registry counts builder 1, which has no Attested vote",
            &images,
        )
        .await;
}

/// Trust properties 1 and 9: a forged finalisation whose counted voters all voted, but fewer
/// than k = 2 of them, is consistent in every log; only the threshold in force at the
/// finalisation block shows it. `keeper --verify` reads it (seed-verify) and refuses the
/// release: reported, kept for retry, never promoted. `seed-eth verify` names the shortfall.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keeper_verify_refuses_a_forged_finalisation_below_the_threshold() {
    let world = World::new().await;
    let images = world.promoted_genesis().await;
    let forged = forged_release(&world, "one voter", 0b001).await;
    let shortfall = "1 verified voters, below the threshold of 2";

    for _attempt in 0..2 {
        let out = world.once_with(&world.state(), None, &["--verify"]);
        assert_exit(&out, 1, shortfall);
        let report = json(&out);
        assert_eq!(report["promoted"], 0, "{}", text(&out));
        assert_eq!(report["pending"].as_array().unwrap().len(), SYSTEMS.len());
    }
    world.assert_not_promoted(&forged).await;
    world.assert_release_tags(&images).await;

    // Someone points release-* at the refused release's image: its pending, refused promotion
    // holds no moving tag, so the keeper moves it back.
    let refused_image = world.image(&forged, BUILDERS[0], "x86_64-linux").await;
    world
        .write_tag("release-x86_64-linux", &refused_image)
        .await;
    let out = world.once_with(&world.state(), None, &["--verify"]);
    assert_exit(&out, 1, shortfall);
    world.assert_release_tags(&images).await;

    let verify = world.verify(&forged);
    assert_exit(&verify, 1, shortfall);
}

/// With a witness state, the keeper records the finalisation block of each
/// release it verified (number and hash, and the endpoint that named it), for
/// `seed-eth witness` to compare with other endpoints; a state that already
/// holds another hash for that block (another endpoint showed another chain)
/// refuses the release: reported, kept for retry, never promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_keeper_records_the_block_it_relied_on_and_refuses_a_contradicted_one() {
    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    let verified = json(&{
        let rpc = world.anvil.endpoint();
        seed_eth(
            world.dir.path(),
            &["verify", "--json", "--rpc-url", &rpc, "--commit", &genesis],
            &[],
        )
    });
    let block = verified["block"].as_u64().unwrap();
    let hash = verified["blockHash"].as_str().unwrap().to_owned();
    let chain_id = world.anvil.chain_id();

    // Another endpoint named another hash for that block.
    let contradicted = world.dir.path().join("contradicted.sqlite");
    seed_witness::Store::open(&contradicted)
        .unwrap()
        .record_block(&seed_witness::BlockRecord {
            chain_id,
            number: block,
            hash: format!("0x{}", "ab".repeat(32)),
            source: "endpoint https://elsewhere.example".to_owned(),
        })
        .unwrap();
    let witness_state = contradicted.display().to_string();
    let out = world.once_with(&world.state(), None, &["--witness-state", &witness_state]);
    assert_exit(&out, 1, "SPLIT VIEW of eip155:");
    assert_eq!(json(&out)["promoted"], 0, "{}", text(&out));
    world.assert_not_promoted(&genesis).await;

    // On a state without contradiction it promotes, and records the block.
    let fresh = world.dir.path().join("fresh.sqlite");
    let witness_state = fresh.display().to_string();
    let out = world.once_with(&world.state(), None, &["--witness-state", &witness_state]);
    assert_exit(&out, 0, "");
    world.assert_promoted(&genesis, &images).await;
    let recorded = seed_witness::Store::open(&fresh)
        .unwrap()
        .blocks(chain_id)
        .unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        (recorded[0].number, recorded[0].hash.as_str()),
        (block, hash.as_str())
    );
    assert!(
        recorded[0]
            .source
            .starts_with("keeper via http://127.0.0.1:"),
        "{}",
        recorded[0].source
    );
}

/// The keeper's settings can live in seed-eth.toml (`[keeper]`, `[oci]`), under flags and the
/// environment; without a source anywhere it refuses to start and says where to give one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_keeper_reads_its_settings_from_seed_eth_toml() {
    let world = World::new().await;
    let rpc = world.anvil.endpoint();
    let out = seed_eth(
        world.dir.path(),
        &["keeper", "--once", "--rpc-url", &rpc],
        &[],
    );
    assert_exit(&out, 2, "`source` in the [keeper] table of seed-eth.toml");

    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    std::fs::write(
        world.dir.path().join("seed-eth.toml"),
        format!(
            "[oci]\nplain-http = [\"{host}\"]\n\n[keeper]\nsource = \"{host}/seed\"\nconfirmations = {CONFIRMATIONS}\nstate = \"from-file.sqlite\"\n",
            host = world.registry.host()
        ),
    )
    .unwrap();
    let out = seed_eth(
        world.dir.path(),
        &["--json", "keeper", "--once", "--rpc-url", &rpc],
        &[],
    );
    assert_exit(&out, 0, "");
    assert_eq!(promoted(&json(&out)), 2, "{}", text(&out));
    assert!(world.dir.path().join("from-file.sqlite").exists());
    world.assert_promoted(&genesis, &images).await;
}

impl World {
    /// Attaches `verdict` to `image` as anyone with push access can.
    async fn attach_verdict(&self, image: &Sha256Digest, verdict: &Value) {
        let subject = self.client.pull_manifest(&self.repo, image).await.unwrap();
        self.client
            .attach_annotated_referrer(
                &self.repo,
                &subject,
                VERDICT,
                [(VERDICT_ANNOTATION.to_owned(), verdict.to_string())].into(),
            )
            .await
            .unwrap();
    }

    /// Points `tag` at `image` as anyone with push access can.
    async fn write_tag(&self, tag: &str, image: &Sha256Digest) {
        let manifest = self.client.pull_manifest(&self.repo, image).await.unwrap();
        self.client
            .push_manifest_to_tag(&self.repo, &tag.parse().unwrap(), &manifest)
            .await
            .unwrap();
    }

    /// The ledger's `ReleaseRecorded` log of `commit`.
    async fn record_of(&self, commit: &str) -> alloy::rpc::types::Log {
        let filter = Filter::new()
            .address(self.deployment.contracts.ledger)
            .event_signature(ReleaseLedger::ReleaseRecorded::SIGNATURE_HASH)
            .topic1(commit.parse::<CommitId>().unwrap().to_b256())
            .from_block(0);
        let logs = self.provider().await.get_logs(&filter).await.unwrap();
        assert_eq!(logs.len(), 1, "{commit}: {logs:?}");
        logs.into_iter().next().unwrap()
    }

    async fn reorg(&self, depth: u64) {
        let _: Value = self
            .provider()
            .await
            .raw_request("anvil_reorg".into(), (depth, Vec::<Value>::new()))
            .await
            .unwrap();
    }
}

/// Issue 11 §1, trust property 9: anyone who can push to the target repository (every builder,
/// by default) can attach verdicts and write tags. A verdict claiming a far-future block on the
/// image behind `release-*` used to freeze the moving tags for good; a trojan image written under
/// `release-*` with verdicts copied from the chain stayed there. Verdicts now count only once the
/// chain proves them, and the moving tags are converged on every run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_verdicts_and_rewritten_tags_never_freeze_or_hijack_the_moving_tags() {
    let world = World::new().await;
    world.promoted_genesis().await;
    let two = commit("two");
    let two_images = world.release(&two).await;
    world.mine(CONFIRMATIONS).await;
    world.once(0);
    world.assert_release_tags(&two_images).await;

    // The issue's reproduction: a verdict naming block 10^12 on the image behind release-*.
    for image in &two_images {
        let mut forged = world.verdicts(image).await.remove(0);
        forged["block"] = serde_json::json!(1_000_000_000_000u64);
        world.attach_verdict(image, &forged).await;
    }
    let three = commit("three");
    let three_images = world.release(&three).await;
    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_release_tags(&three_images).await;

    // A trojan image under release-x86_64-linux, carrying a verdict built from the chain for
    // release "four" (finalised, but not final for this keeper yet), and the far-block one.
    let four = commit("four");
    world.release(&four).await;
    let trojan = world
        .client
        .push_image(&world.repo, &ImageContent::synthetic("trojan"), None)
        .await
        .unwrap()
        .digest();
    world.write_tag("release-x86_64-linux", &trojan).await;
    let record = world.record_of(&four).await;
    let mut copied = world.verdicts(&three_images[1]).await.remove(0);
    copied["commit"] = four.clone().into();
    copied["manifestDigest"] = manifest(&four, "x86_64-linux").to_string().into();
    copied["root"] = format!("{:#x}", root_of(&four)).into();
    copied["transaction"] = format!("{:#x}", record.transaction_hash.unwrap()).into();
    copied["block"] = record.block_number.unwrap().into();
    copied["logIndex"] = record.log_index.unwrap().into();
    copied["imageDigest"] = trojan.to_string().into();
    world.attach_verdict(&trojan, &copied).await;
    let mut far = copied.clone();
    far["block"] = serde_json::json!(1_000_000_000_000u64);
    world.attach_verdict(&trojan, &far).await;
    // One naming block 0, and copies of the copied one, which cost nothing more.
    let mut early = copied.clone();
    early["block"] = serde_json::json!(0);
    world.attach_verdict(&trojan, &early).await;
    for copy in 0..3 {
        let mut again = copied.clone();
        again["rulesVersion"] = serde_json::json!(100 + copy);
        world.attach_verdict(&trojan, &again).await;
    }

    let out = world.once_with(&world.state(), None, &[]);
    assert_exit(&out, 0, "");
    world.assert_release_tags(&three_images).await;
    let log = text(&out);
    for expected in [
        "verdict ignored",
        &format!("no counted voter of release {four} attested {trojan} for x86_64-linux"),
        "beyond the chain head",
        "moving tag serves an image of no release this keeper can prove",
    ] {
        assert!(log.contains(expected), "{expected}: {log}");
    }
    // The copies were proven once (one per claimed record), block 0 refuted without freezing.
    assert_eq!(
        log.matches("no counted voter of release").count(),
        1,
        "{log}"
    );
    assert!(log.contains("no record of"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "plain logs when not on a terminal: {log}"
    );
    let report = json(&out);
    assert_eq!(
        report["moved"],
        serde_json::json!([format!("{}:release-x86_64-linux", world.oci_repo())]),
        "{report}"
    );
    let x86 = report["movingTags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["system"] == "x86_64-linux")
        .unwrap();
    assert_eq!(x86["state"], "moved", "{report}");
    assert_eq!(x86["from"], trojan.to_string(), "{report}");

    // A manifest the registry accepts but seed-eth cannot read (its config descriptor has no
    // mediaType) under release-*: it is no release's image, so it is replaced.
    let empty_json = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    let unreadable = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"digest":"sha256:{empty_json}","size":2}},"layers":[]}}"#
    );
    put_raw_manifest(
        &world.registry.host(),
        "seed",
        "release-x86_64-linux",
        &unreadable,
    );
    let out = world.once_with(&world.state(), None, &[]);
    assert_exit(
        &out,
        0,
        "moving tag holds something that is no image seed-eth can read",
    );
    world.assert_release_tags(&three_images).await;
}

/// PUTs `body` as an OCI image manifest under `repo:tag`, as any registry client can, whether or
/// not seed-eth would accept it.
fn put_raw_manifest(host: &str, repo: &str, tag: &str, body: &str) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "PUT /v2/{repo}/manifests/{tag} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

/// Issue 11 §2: release D finalised on a fork that a reorganisation deeper than the keeper's
/// finality dropped. The keeper that promoted it halts (as a service: up, unhealthy,
/// `seed_keeper_halted 1`); the runbook's recovery (a fresh state file, a deeper finality) moves
/// `release-*` back to the canonical newest release E, since D's verdict no longer proves.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_reorganisation_deeper_than_finality_the_moving_tags_return_to_the_canonical_newest_release(
) {
    let world = World::new().await;
    world.promoted_genesis().await;
    let e = commit("E");
    let e_images = world.release(&e).await;
    world.mine(CONFIRMATIONS).await;
    world.once(0);
    let d = commit("D");
    let d_images = world.release(&d).await;
    world.mine(CONFIRMATIONS).await;
    let report = world.once(0);
    assert_eq!(promoted(&report), 2, "{report}");
    world.assert_release_tags(&d_images).await;

    // D's finalising vote and the blocks after it are replaced by empty ones.
    world.reorg(CONFIRMATIONS + 1).await;
    world.mine(2).await;

    // As a service, the keeper that promoted D halts and says so, and keeps running.
    let metrics = free_port();
    let mut command = world.keeper_command(
        &world.state(),
        &["--poll-ms", "200", "--metrics-addr", &metrics.to_string()],
    );
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let service = Service(command.spawn().unwrap());
    wait_for(
        "seed_keeper_halted 1",
        Duration::from_secs(20),
        async || metric(metrics, "seed_keeper_halted") == 1,
    )
    .await;
    assert_eq!(http_get(metrics, "/healthz").0, 503);
    drop(service);
    let out = world.once_with(&world.state(), None, &[]);
    assert_exit(&out, 3, "deeper than the configured finality");

    // The runbook: a fresh state file and a deeper finality.
    world.mine(10).await;
    let recovered = world.dir.path().join("recovered.sqlite");
    let out = world.once_with(&recovered, None, &["--confirmations", "6"]);
    assert_exit(&out, 0, "the ledger has no record of");
    let report = json(&out);
    assert_eq!(report["moved"].as_array().unwrap().len(), 2, "{report}");
    world.assert_release_tags(&e_images).await;
    world.assert_promoted(&e, &e_images).await;
    // D's permanent tags stay (they are never moved), and verify refuses D.
    assert_eq!(
        world.tag(&format!("{d}-x86_64-linux")).await,
        Some(d_images[1])
    );
    assert_exit(&world.verify(&d), 1, "");
}

/// Issue 11 §1: a moving tag that cannot be moved is an error that is reported (WARN, the
/// `/metrics` counters, the exit status of `--once`) and tried again, never recorded as done.
/// Here the registry is down while the promotions are already done: only the moving tags
/// (configured after the promotions) have work to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_moving_tag_that_cannot_be_moved_is_reported_and_moved_later() {
    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    world.mine(CONFIRMATIONS).await;
    let out = world.once_with(&world.state(), None, &["--tag", "{commit}-{system}"]);
    assert_exit(&out, 0, "");
    world.assert_promoted(&genesis, &images).await;
    assert_eq!(world.tag("release-x86_64-linux").await, None);

    world.oci.set(Mode::Down);
    let out = world.once_with(&world.state(), None, &[]);
    assert_exit(&out, 1, "moving tag not moved; retried on the next pass");
    let report = json(&out);
    let states: Vec<&Value> = report["movingTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["state"])
        .collect();
    assert_eq!(states, ["failed", "failed"], "{report}");

    // The service reports it on /metrics, then moves the tags once the registry is back.
    let metrics = free_port();
    let mut command = world.keeper_command(
        &world.state(),
        &["--poll-ms", "200", "--metrics-addr", &metrics.to_string()],
    );
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let _service = Service(command.spawn().unwrap());
    wait_for("failing moving tags", Duration::from_secs(20), async || {
        metric(metrics, "seed_keeper_moving_tags_failing") == 2
            && metric(metrics, "seed_keeper_moving_tag_failures_total") >= 2
    })
    .await;
    world.oci.set(Mode::Up);
    wait_for("moved tags", Duration::from_secs(20), async || {
        metric(metrics, "seed_keeper_moving_tags_failing") == 0
            && metric(metrics, "seed_keeper_moving_tags_moved_total") == 2
    })
    .await;
    world.assert_release_tags(&images).await;
}

/// Issue 11 §4: during a catch-up the moving tags follow each completed release in chain order,
/// instead of waiting for the whole backlog. The keeper is stopped right after its first move: by
/// then `release-aarch64-linux` already serves a backlog release that is not the last, and
/// `release-x86_64-linux` still serves genesis. A rerun finishes the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moving_tags_follow_a_catch_up_release_by_release() {
    let world = World::new().await;
    let genesis_images = world.promoted_genesis().await;
    let mut backlog = Vec::new();
    for i in 0..3 {
        let c = commit(&format!("backlog {i}"));
        backlog.push(world.release(&c).await);
    }
    world.mine(CONFIRMATIONS).await;

    let out = world.once_with(&world.state(), Some("after-move"), &["--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(86), "{}", text(&out));
    let arm = world.tag("release-aarch64-linux").await.unwrap();
    assert!(
        backlog[..2].iter().any(|images| images[0] == arm),
        "release-aarch64-linux serves {arm}, not an early backlog release"
    );
    assert_eq!(
        world.tag("release-x86_64-linux").await,
        Some(genesis_images[1])
    );

    world.once(0);
    world.assert_release_tags(&backlog[2]).await;
}

/// Issue 11 §5: `seed-eth lock` writes a `.seed.lock` v1 for a finalised release (the promoted
/// images, read back from the registry), `verify --lock` accepts it, and nix-seed's own lock
/// format (images only) is recognised and verified through its images. Nothing is written for a
/// release that does not verify, or whose image is not in the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_writes_a_verified_release_and_verify_reads_both_lock_formats() {
    let world = World::new().await;
    let images = world.promoted_genesis().await;
    let genesis = commit("genesis");
    let rpc = world.anvil.endpoint();
    let host = world.registry.host();
    let repository = format!("{host}/seed");
    let lock = |commit: &str, repository: &str, output: &str| {
        seed_eth(
            world.dir.path(),
            &[
                "lock",
                "--rpc-url",
                &rpc,
                "--commit",
                commit,
                "--repository",
                repository,
                "--plain-http",
                &host,
                "--output",
                output,
            ],
            &[],
        )
    };
    // verify reads the lock's images for their content.
    let verify_lock = |file: &str| {
        seed_eth(
            world.dir.path(),
            &[
                "verify",
                "--rpc-url",
                &rpc,
                "--lock",
                file,
                "--plain-http",
                &host,
            ],
            &[],
        )
    };

    let out = lock(&genesis, &repository, ".seed.lock");
    assert_exit(&out, 0, &format!("wrote .seed.lock for release {genesis}"));
    let written = seed_nix::SeedLock::read(&world.dir.path().join(".seed.lock")).unwrap();
    for (system, image) in SYSTEMS.iter().zip(&images) {
        let entry = written.get(&system.parse().unwrap()).unwrap();
        assert_eq!(entry.manifest, manifest(&genesis, system));
        assert_eq!(entry.image.to_string(), format!("{repository}@{image}"));
    }
    assert_exit(&verify_lock(".seed.lock"), 0, "VERIFIED");

    // nix-seed's own format: images and the git revision, no closure manifests.
    let upstream = |tag: &str, images: &[Sha256Digest]| {
        serde_json::json!({
            "repository": repository,
            "systems": SYSTEMS.iter().zip(images).map(|(s, i)| (s.to_string(), Value::from(i.to_string()))).collect::<serde_json::Map<_, _>>(),
            "tag": tag,
            "version": 1,
        })
        .to_string()
    };
    std::fs::write(
        world.dir.path().join("nix-seed.lock"),
        upstream(&genesis, &images),
    )
    .unwrap();
    let out = verify_lock("nix-seed.lock");
    assert_exit(&out, 0, "note: the lock is nix-seed's own format");
    assert_exit(&out, 0, "VERIFIED");
    std::fs::write(
        world.dir.path().join("other-tag.lock"),
        upstream(&commit("other"), &images),
    )
    .unwrap();
    assert_exit(
        &verify_lock("other-tag.lock"),
        1,
        &format!("the lock's tag names commit {}", commit("other")),
    );
    let unattested = [digest("not attested"), images[1]];
    std::fs::write(
        world.dir.path().join("unattested.lock"),
        upstream(&genesis, &unattested),
    )
    .unwrap();
    assert_exit(
        &verify_lock("unattested.lock"),
        1,
        "was not attested by any counted voter",
    );

    // No lock for a release that is not finalised, or whose images are not where it points.
    let pending = commit("pending");
    world.vote(BUILDERS[0], &pending).await;
    assert_exit(
        &lock(&pending, &repository, "pending.lock"),
        1,
        "does not verify, so no lock was written",
    );
    assert_exit(
        &lock(&genesis, &format!("{host}/elsewhere"), "elsewhere.lock"),
        1,
        "so no lock was written: run the keeper",
    );
    for file in ["pending.lock", "elsewhere.lock"] {
        assert!(!world.dir.path().join(file).exists(), "{file}");
    }
}

/// Issue 15: `keeper --proofs` proves each release before promoting it, against the hash its
/// endpoints agree on for the finalisation block (`--rpc-url` repeated): an endpoint serving
/// another fork of the chain blocks the promotion (reported, retried), an agreeing one lets it
/// through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keeper_proofs_promotes_only_what_its_endpoints_agree_on() {
    use seed_testkit::rpc::Lie;

    let world = World::new().await;
    let genesis = commit("genesis");
    let images = world.genesis(&genesis).await;
    // Final on anvil, whose finalized block lags its head by 64.
    world.mine(70).await;
    let other = TestAnvil::spawn().unwrap();
    let _: Value = ProviderBuilder::new()
        .connect_http(other.endpoint().parse().unwrap())
        .raw_request("anvil_mine".into(), ("0xc8",))
        .await
        .unwrap();
    let fork = RpcDouble::start(
        &world.anvil.endpoint(),
        Rules {
            lie: Some(Lie::Fork {
                upstream: other.endpoint(),
            }),
            ..Rules::default()
        },
    )
    .unwrap();
    let out = world.once_with(
        &world.state(),
        None,
        &["--proofs", "--rpc-url", &fork.endpoint()],
    );
    assert_exit(&out, 1, "the endpoints disagree on block");
    assert_eq!(json(&out)["promoted"], 0, "{}", text(&out));
    world.assert_not_promoted(&genesis).await;

    let honest = RpcDouble::start(&world.anvil.endpoint(), Rules::default()).unwrap();
    let out = world.once_with(
        &world.state(),
        None,
        &["--proofs", "--rpc-url", &honest.endpoint()],
    );
    assert_exit(&out, 0, "");
    world.assert_promoted(&genesis, &images).await;
    assert!(
        honest.requests("eth_getBlockByNumber") >= 2,
        "{:?}",
        honest.counts()
    );
}
