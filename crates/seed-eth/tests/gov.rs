//! `seed-eth gov` against a real anvil, on a deployment made by `seed-eth deploy`: a real Safe
//! 1.4.1 (2-of-3, owners = anvil accounts 4, 5, 6) proposes to a real TimelockController (one
//! day) that owns the registry and the ledger. Every action goes propose → show → two
//! signatures → submit → execute refused before the delay → execute after it; cancellation,
//! listing, the emergency revocation path, refused signatures and nonces, and registry upgrades
//! (an incompatible storage layout refused, a compatible one preserving all state) are covered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol,
};
use seed_chain::bindings::{ReleaseLedger, Safe, SeedRegistry, TimelockController};
use seed_gov::{safe::sign_hash, Proposal, SafeOperation, SignatureEntry};
use seed_testkit::anvil::TestAnvil;
use serde_json::Value;

mod support;
use support::{assert_exit, forge_build, forge_build_with, json, seed_eth, text};

const DAY: u64 = 86_400;
const OWNERS: [usize; 3] = [4, 5, 6];
const NON_OWNER: usize = 7;
const SYSTEMS: [&str; 2] = ["aarch64-linux", "x86_64-linux"];

sol! {
    #[sol(rpc)]
    interface ISeedRegistryV2 {
        function implementationVersion() external pure returns (uint256);
        function migration() external view returns (uint256 migratedAt, string memory note);
        function initializeV2(string calldata note_) external;
    }
}

/// The registry and the upgrade candidates, built once for every test in this file (solc-js
/// takes seconds per build), under cargo's scratch directory for integration tests.
fn upgrade_candidates() -> &'static Path {
    static OUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OUT.get_or_init(|| {
        forge_build(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("gov-upgrade-candidates"),
            &[
                "contracts/SeedRegistry.sol",
                "tests/contracts/utils/SeedRegistryV2.sol",
                "tests/contracts/utils/SeedRegistryV2Hostile.sol",
                "tests/contracts/utils/GovRegistryIncompatible.sol",
            ],
        )
    })
}

struct Setup {
    anvil: TestAnvil,
    dir: tempfile::TempDir,
    deployment: Value,
    provider: DynProvider,
}

impl Setup {
    fn new() -> Self {
        let anvil = TestAnvil::spawn().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = seed_eth(
            dir.path(),
            &["deploy", "--rpc-url", &anvil.endpoint()],
            &[("SEED_ETH_PRIVATE_KEY", &anvil.private_key_hex(0))],
        );
        assert_exit(&out, 0, "");
        let deployment: Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("deployments/31337.json")).unwrap(),
        )
        .unwrap();
        let provider = ProviderBuilder::new()
            .connect_http(anvil.endpoint().parse().unwrap())
            .erased();
        Self {
            anvil,
            dir,
            deployment,
            provider,
        }
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    fn address(&self, name: &str) -> Address {
        self.deployment["contracts"][name]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.cwd().join(name)
    }

    /// `seed-eth gov ARGS --rpc-url URL`, with account `key`'s private key in the environment.
    fn gov(&self, key: Option<usize>, args: &[&str]) -> Output {
        let url = self.anvil.endpoint();
        let mut all = vec!["gov"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--rpc-url", &url]);
        let key = key.map(|k| self.anvil.private_key_hex(k));
        let envs: Vec<(&str, &str)> = key
            .as_deref()
            .map(|k| vec![("SEED_ETH_PRIVATE_KEY", k)])
            .unwrap_or_default();
        seed_eth(self.cwd(), &all, &envs)
    }

    fn gov_json(&self, key: Option<usize>, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.gov(key, &all);
        assert_exit(&out, 0, "");
        json(&out)
    }

    /// propose (args), show, sign by two owners (submit in between must name the missing
    /// signers), submit; returns the scheduled operation id, if any.
    fn approve(&self, file: &str, propose: &[&str]) -> Option<String> {
        let mut args = vec!["propose"];
        args.extend_from_slice(propose);
        args.extend_from_slice(&["--out", file]);
        let out = self.gov(None, &args);
        assert_exit(&out, 0, "safeTxHash");
        let show = self.gov(None, &["show", file]);
        assert_exit(&show, 0, "dangers:     none found");
        assert_exit(
            &self.gov(Some(OWNERS[0]), &["sign", file]),
            0,
            "1 of 2 signatures",
        );
        let early = self.gov(Some(0), &["submit", file]);
        assert_exit(&early, 1, "1 of 2 required signatures present");
        assert!(
            text(&early).contains(&self.anvil.address(OWNERS[1]).to_string()),
            "the missing signers are named: {}",
            text(&early)
        );
        assert_exit(
            &self.gov(Some(OWNERS[2]), &["sign", file]),
            0,
            "2 of 2 signatures",
        );
        let submitted = self.gov_json(Some(0), &["submit", file]);
        submitted["operationId"].as_str().map(str::to_owned)
    }

    /// execute is refused before the delay (naming the time left), succeeds after it.
    async fn execute_after_delay(&self, id: &str, delay: u64) {
        let early = self.gov(Some(0), &["execute", id]);
        assert_exit(&early, 1, "is not ready");
        assert!(text(&early).contains("left"), "{}", text(&early));
        self.warp(delay).await;
        let out = self.gov(Some(0), &["execute", id]);
        assert_exit(&out, 0, "executed operation");
        let again = self.gov(Some(0), &["execute", id]);
        assert_exit(&again, 1, "already executed");
    }

    async fn warp(&self, seconds: u64) {
        let _: Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .unwrap();
        let _: Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
    }

    fn registry(&self) -> SeedRegistry::SeedRegistryInstance<DynProvider> {
        SeedRegistry::new(self.address("registry"), self.provider.clone())
    }

    fn as_account(&self, index: usize) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(self.anvil.signer(index)))
            .connect_http(self.anvil.endpoint().parse().unwrap())
            .erased()
    }

    /// Builder account `account` votes `digest` for (commit, system).
    async fn attest(&self, account: usize, commit: B256, system: &str, digest: B256) {
        SeedRegistry::new(self.address("registry"), self.as_account(account))
            .attest(
                commit,
                system.to_owned(),
                digest,
                keccak256(format!("image {system}")),
                keccak256(format!("statement {account} {system}")),
            )
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }

    /// Genesis: all three builders vote the same digests for both systems.
    async fn genesis(&self) -> B256 {
        let commit = keccak256("genesis");
        for account in [1, 2, 3] {
            for system in SYSTEMS {
                self.attest(account, commit, system, keccak256(format!("m {system}")))
                    .await;
            }
        }
        assert!(self.registry().isFinalised(commit).call().await.unwrap());
        commit
    }

    async fn safe_nonce(&self) -> U256 {
        Safe::new(self.address("safe"), self.provider.clone())
            .nonce()
            .call()
            .await
            .unwrap()
    }

    async fn block(&self) -> u64 {
        self.provider.get_block_number().await.unwrap()
    }
}

#[tokio::test]
async fn registry_rule_changes_go_through_safe_and_timelock() {
    let s = Setup::new();
    let registry = s.registry();

    // set-quorum
    let id = s
        .approve("quorum.json", &["set-quorum", "--quorum", "3"])
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(registry.quorum().call().await.unwrap(), 3);

    // add-builder (tags distinct from the three default builders: the policy requires it)
    let new_builder = s.anvil.address(7);
    let id = s
        .approve(
            "add.json",
            &[
                "add-builder",
                "--signer",
                &new_builder.to_string(),
                "--organisation",
                "delta-builders",
                "--jurisdiction",
                "JP",
                "--infrastructure",
                "hetzner",
            ],
        )
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(registry.builderCount().call().await.unwrap(), 4);
    assert_eq!(registry.builderIdOf(new_builder).call().await.unwrap(), 3);

    // rotate-key: builder 0 moves to account 8
    let rotated = s.anvil.address(8);
    let id = s
        .approve(
            "rotate.json",
            &[
                "rotate-key",
                "--builder",
                "0",
                "--new-signer",
                &rotated.to_string(),
            ],
        )
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(registry.builder(0).call().await.unwrap().signer, rotated);

    // set-systems
    let id = s
        .approve(
            "systems.json",
            &[
                "set-systems",
                "--system",
                "aarch64-darwin",
                "--system",
                "aarch64-linux",
                "--system",
                "x86_64-linux",
            ],
        )
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(
        registry.requiredSystems().call().await.unwrap(),
        vec!["aarch64-darwin", "aarch64-linux", "x86_64-linux"]
    );

    // set-independence-policy
    let id = s
        .approve("policy.json", &["set-independence-policy", "--policy", "3"])
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(registry.independencePolicy().call().await.unwrap(), 3);

    // revoke-builder through the timelock
    let id = s
        .approve("revoke.json", &["revoke-builder", "--builder", "3"])
        .unwrap();
    let before = registry.activeBuilderMask().call().await.unwrap();
    assert_eq!(before & (1 << 3), 1 << 3);
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(
        registry.activeBuilderMask().call().await.unwrap(),
        before & !(1 << 3)
    );

    // A proposal that would revert today is refused when proposing: k above the active builders.
    let out = s.gov(
        None,
        &[
            "propose",
            "set-quorum",
            "--quorum",
            "9",
            "--out",
            "bad.json",
        ],
    );
    assert_exit(&out, 2, "QuorumOutOfRange");
    assert!(!s.file("bad.json").exists());
}

#[tokio::test]
async fn timelock_delay_and_ledger_writer_changes() {
    let s = Setup::new();
    let timelock = TimelockController::new(s.address("timelock"), s.provider.clone());
    let ledger = ReleaseLedger::new(s.address("ledger"), s.provider.clone());

    // Raising the delay: no danger.
    let id = s
        .approve(
            "delay.json",
            &["set-delay", "--seconds", &(2 * DAY).to_string()],
        )
        .unwrap();
    s.execute_after_delay(&id, DAY).await;
    assert_eq!(
        timelock.getMinDelay().call().await.unwrap(),
        U256::from(2 * DAY)
    );

    // Lowering it is flagged by show (and still possible: the Safe decides).
    let out = s.gov(
        None,
        &[
            "propose",
            "set-delay",
            "--seconds",
            "3600",
            "--out",
            "lower.json",
        ],
    );
    assert_exit(&out, 0, "DANGER");
    let show = s.gov(None, &["show", "lower.json"]);
    assert_exit(
        &show,
        0,
        "timelock delay would drop from 172800 s to 3600 s",
    );

    // A delay below the minimum is refused.
    let out = s.gov(
        None,
        &[
            "propose",
            "set-quorum",
            "--quorum",
            "2",
            "--delay",
            "60",
            "--out",
            "short.json",
        ],
    );
    assert_exit(&out, 2, "below the timelock's minimum delay");

    // The ledger writer: flagged as a call to the ledger, executed after the (new) delay.
    let writer = s.anvil.address(9);
    let out = s.gov(
        None,
        &[
            "propose",
            "set-ledger-writer",
            "--writer",
            &writer.to_string(),
            "--out",
            "writer.json",
        ],
    );
    assert_exit(&out, 0, "calls the release ledger");
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "writer.json"]),
        0,
        "1 of 2",
    );
    assert_exit(
        &s.gov(Some(OWNERS[0]), &["sign", "writer.json"]),
        0,
        "2 of 2",
    );
    let submitted = s.gov_json(Some(0), &["submit", "writer.json"]);
    let id = submitted["operationId"].as_str().unwrap().to_owned();
    s.execute_after_delay(&id, 2 * DAY).await;
    assert_eq!(ledger.writer().call().await.unwrap(), writer);
}

#[tokio::test]
async fn cancel_and_list() {
    let s = Setup::new();
    let listed = s.gov_json(None, &["list"]);
    assert_eq!(listed["operations"].as_array().unwrap().len(), 0);

    let done = s
        .approve("q2.json", &["set-quorum", "--quorum", "3"])
        .unwrap();
    let cancelled = s
        .approve("q1.json", &["set-quorum", "--quorum", "1"])
        .unwrap();
    let listed = s.gov_json(None, &["list"]);
    let ops = listed["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o["state"] == "pending"), "{listed}");
    assert!(ops
        .iter()
        .all(|o| o["secondsLeft"].as_u64().unwrap() > DAY - 60));
    let text_list = s.gov(None, &["list"]);
    assert_exit(&text_list, 0, "set the quorum k to 1");
    // Times for people: the UTC date the operation becomes ready, from its ready time.
    let ready_at = ops[0]["readyAt"].as_u64().unwrap();
    let ready = seed_statement::Timestamp::from_unix_seconds(ready_at).unwrap();
    assert!(
        text(&text_list).contains(&format!("ready at {ready}")),
        "{}",
        text(&text_list)
    );

    // Cancel through the Safe: a proposal like any other.
    let out = s.gov(None, &["cancel", &cancelled, "--out", "cancel.json"]);
    assert_exit(&out, 0, "cancel the scheduled timelock operation");
    assert_exit(
        &s.gov(Some(OWNERS[0]), &["sign", "cancel.json"]),
        0,
        "1 of 2",
    );
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "cancel.json"]),
        0,
        "2 of 2",
    );
    let submitted = s.gov_json(Some(0), &["submit", "cancel.json"]);
    assert!(submitted["operationId"].is_null());

    s.warp(DAY).await;
    assert_exit(
        &s.gov(Some(0), &["execute", &cancelled]),
        1,
        "was cancelled",
    );
    assert_exit(
        &s.gov(Some(0), &["execute", &done]),
        0,
        "executed operation",
    );
    assert_eq!(s.registry().quorum().call().await.unwrap(), 3);

    let listed = s.gov_json(None, &["list"]);
    let state_of = |id: &str| {
        listed["operations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["operation"]["id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state_of(&done), "done");
    assert_eq!(state_of(&cancelled), "cancelled");
    // Cancelling again, or cancelling what is done, is refused.
    assert_exit(
        &s.gov(None, &["cancel", &done, "--out", "again.json"]),
        1,
        "only a pending or ready operation",
    );
    assert_exit(
        &s.gov(Some(0), &["execute", &format!("0x{}", "ab".repeat(32))]),
        2,
        "no operation",
    );
}

#[tokio::test]
async fn bad_signatures_and_nonces_are_rejected_before_sending() {
    let s = Setup::new();
    let propose = |file: &str, extra: &[&str]| {
        let mut args = vec!["propose", "set-quorum", "--quorum", "3", "--out", file];
        args.extend_from_slice(extra);
        assert_exit(&s.gov(None, &args), 0, "wrote");
    };

    // A non-owner cannot sign...
    propose("p.json", &[]);
    assert_exit(
        &s.gov(Some(NON_OWNER), &["sign", "p.json"]),
        2,
        "is not an owner",
    );
    // ...and a non-owner signature slipped into the file is refused before anything is sent.
    assert_exit(&s.gov(Some(OWNERS[0]), &["sign", "p.json"]), 0, "1 of 2");
    let mut proposal = Proposal::load(&s.file("p.json")).unwrap();
    let outsider = s.anvil.signer(NON_OWNER);
    proposal.signatures.push(SignatureEntry {
        signer: outsider.address(),
        signature: sign_hash(&outsider, proposal.safe_tx_hash).unwrap(),
    });
    proposal.write(&s.file("p.json")).unwrap();
    let block = s.block().await;
    let out = s.gov(Some(0), &["submit", "p.json"]);
    assert_exit(&out, 2, "is not an owner of the Safe");
    assert_eq!(s.block().await, block, "nothing was sent");
    assert_eq!(s.safe_nonce().await, U256::ZERO);

    // A signature made for another transaction (another nonce) does not recover to its owner.
    let mut other = Proposal::load(&s.file("p.json")).unwrap();
    other.signatures.clear();
    other.safe_tx.nonce = U256::from(1);
    other.safe_tx_hash = other.hash();
    let owner = s.anvil.signer(OWNERS[1]);
    let foreign = sign_hash(&owner, other.safe_tx_hash).unwrap();
    let mut proposal = Proposal::load(&s.file("p.json")).unwrap();
    proposal.signatures = vec![SignatureEntry {
        signer: owner.address(),
        signature: foreign,
    }];
    proposal.write(&s.file("p.json")).unwrap();
    assert_exit(&s.gov(Some(0), &["submit", "p.json"]), 2, "recovers to");

    // A wrong (future) nonce: signed fine, refused at submit, nothing sent.
    propose("future.json", &["--nonce", "1"]);
    assert_exit(
        &s.gov(Some(OWNERS[0]), &["sign", "future.json"]),
        0,
        "after the ones before it",
    );
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "future.json"]),
        0,
        "2 of 2",
    );
    let block = s.block().await;
    assert_exit(
        &s.gov(Some(0), &["submit", "future.json"]),
        2,
        "Safe's nonce is 0",
    );
    assert_eq!(s.block().await, block, "nothing was sent");

    // A used nonce: two proposals for nonce 0, the second is stale once the first is submitted.
    propose("a.json", &[]);
    propose("b.json", &["--salt", &format!("0x{}", "11".repeat(32))]);
    for file in ["a.json", "b.json"] {
        assert_exit(&s.gov(Some(OWNERS[0]), &["sign", file]), 0, "signed");
        assert_exit(&s.gov(Some(OWNERS[2]), &["sign", file]), 0, "signed");
    }
    assert_exit(
        &s.gov(Some(0), &["submit", "a.json"]),
        0,
        "scheduled timelock operation",
    );
    assert_exit(&s.gov(Some(0), &["submit", "b.json"]), 2, "already used");
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "b.json"]),
        2,
        "can never execute",
    );
    assert_exit(&s.gov(None, &["show", "b.json"]), 0, "is already used");

    // A file whose description differs from what it signs is refused; show says why.
    let mut text = std::fs::read_to_string(s.file("future.json")).unwrap();
    text = text.replace("\"quorum\": 3", "\"quorum\": 1");
    std::fs::write(s.file("tampered.json"), text).unwrap();
    assert_exit(
        &s.gov(Some(OWNERS[0]), &["sign", "tampered.json"]),
        2,
        "the file was altered",
    );
    assert_exit(&s.gov(None, &["show", "tampered.json"]), 1, "INVALID FILE");

    // DELEGATECALL is flagged and refused unless forced.
    let mut proposal = Proposal::load(&s.file("future.json")).unwrap();
    proposal.signatures.clear();
    proposal.safe_tx.operation = SafeOperation::Delegatecall;
    proposal.safe_tx_hash = proposal.hash();
    proposal.write(&s.file("delegate.json")).unwrap();
    assert_exit(
        &s.gov(None, &["show", "delegate.json"]),
        0,
        "DANGER:      DELEGATECALL",
    );
    assert_exit(
        &s.gov(Some(OWNERS[0]), &["sign", "delegate.json"]),
        2,
        "refusing to sign a DELEGATECALL",
    );
    assert_exit(
        &s.gov(
            Some(OWNERS[0]),
            &["sign", "delegate.json", "--force-delegatecall"],
        ),
        0,
        "signed",
    );
}

#[tokio::test]
async fn emergency_revocation_removes_weight_from_a_pending_release_at_once() {
    let s = Setup::new();
    s.genesis().await;
    let registry = s.registry();

    // After genesis k = 2: builders 0 and 1 agree on one system of a new release.
    let commit = keccak256("release 2");
    let digest = keccak256("m2 aarch64-linux");
    s.attest(1, commit, "aarch64-linux", digest).await;
    s.attest(2, commit, "aarch64-linux", digest).await;
    assert!(registry
        .hasQuorum(commit, "aarch64-linux".into(), digest)
        .call()
        .await
        .unwrap());

    // The guardian path: no timelock operation, effective on submit.
    let out = s.gov(
        None,
        &[
            "propose",
            "revoke-builder",
            "--builder",
            "1",
            "--emergency",
            "--out",
            "revoke.json",
        ],
    );
    assert_exit(&out, 0, "EMERGENCY: revoke builder 1 immediately");
    assert!(text(&out).contains("takes effect as soon as it is submitted"));
    // The first owner signs from an encrypted keystore (password from the environment).
    alloy::signers::local::PrivateKeySigner::encrypt_keystore(
        s.cwd(),
        &mut rand::thread_rng(),
        s.anvil.signer(OWNERS[2]).to_bytes(),
        "owner password",
        Some("owner.json"),
    )
    .unwrap();
    let url = s.anvil.endpoint();
    let signed = seed_eth(
        s.cwd(),
        &[
            "gov",
            "sign",
            "revoke.json",
            "--keystore",
            "owner.json",
            "--rpc-url",
            &url,
        ],
        &[("SEED_ETH_KEYSTORE_PASSWORD", "owner password")],
    );
    assert_exit(&signed, 0, "1 of 2");
    assert!(text(&signed).contains(&s.anvil.address(OWNERS[2]).to_string()));
    assert_exit(
        &s.gov(Some(0), &["submit", "revoke.json"]),
        1,
        "missing a signature",
    );
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "revoke.json"]),
        0,
        "2 of 2",
    );
    let out = s.gov(Some(0), &["submit", "revoke.json"]);
    assert_exit(&out, 0, "in effect now");

    assert_eq!(registry.activeBuilderMask().call().await.unwrap(), 0b101);
    assert!(!registry
        .hasQuorum(commit, "aarch64-linux".into(), digest)
        .call()
        .await
        .unwrap());
    // Nothing went through the timelock.
    let listed = s.gov_json(None, &["list"]);
    assert_eq!(listed["operations"].as_array().unwrap().len(), 0);
    // The release now needs another active builder's vote.
    s.attest(3, commit, "aarch64-linux", digest).await;
    assert!(registry
        .hasQuorum(commit, "aarch64-linux".into(), digest)
        .call()
        .await
        .unwrap());
}

#[tokio::test]
async fn upgrades_refuse_incompatible_layouts_and_preserve_state() {
    let s = Setup::new();
    let out = upgrade_candidates();
    let artifact = |file: &str, name: &str| {
        out.join(format!("{file}.sol/{name}.json"))
            .display()
            .to_string()
    };
    let current = artifact("SeedRegistry", "SeedRegistry");
    let genesis = s.genesis().await;
    let registry = s.registry();
    let ledger = ReleaseLedger::new(s.address("ledger"), s.provider.clone());
    let root_before = ledger.rootOf(genesis).call().await.unwrap();
    let deployer_nonce =
        |p: DynProvider, a: Address| async move { p.get_transaction_count(a).await.unwrap() };
    let deployer = s.anvil.address(9);

    // Incompatible: refused before anything is deployed or written.
    let nonce = deployer_nonce(s.provider.clone(), deployer).await;
    let refused = s.gov(
        Some(9),
        &[
            "propose",
            "upgrade-registry",
            "--artifact",
            &artifact("GovRegistryIncompatible", "GovRegistryIncompatible"),
            "--current-artifact",
            &current,
            "--out",
            "broken.json",
        ],
    );
    assert_exit(&refused, 2, "storage layout is incompatible");
    assert!(text(&refused).contains("member 0"), "{}", text(&refused));
    assert!(!s.file("broken.json").exists());
    assert_eq!(deployer_nonce(s.provider.clone(), deployer).await, nonce);

    // A wrong current artefact is refused too (the layout must be the running one's).
    let wrong = s.gov(
        Some(9),
        &[
            "propose",
            "upgrade-registry",
            "--artifact",
            &artifact("SeedRegistryV2", "SeedRegistryV2"),
            "--current-artifact",
            &artifact("SeedRegistryV2", "SeedRegistryV2"),
            "--out",
            "wrong.json",
        ],
    );
    assert_exit(
        &wrong,
        2,
        "is not the code of the registry's current implementation",
    );

    // Compatible: deployed, proposed, approved, executed with its reinitializer.
    let state_before = (
        registry.quorum().call().await.unwrap(),
        registry.builderCount().call().await.unwrap(),
        registry.activeBuilderMask().call().await.unwrap(),
        registry.requiredSystems().call().await.unwrap(),
        registry.guardian().call().await.unwrap(),
        registry.owner().call().await.unwrap(),
        registry.builder(2).call().await.unwrap(),
    );
    let call = ISeedRegistryV2::initializeV2Call {
        note_: "v2 via seed-eth gov".into(),
    };
    let call_hex = Bytes::from(alloy::sol_types::SolCall::abi_encode(&call)).to_string();
    let v2 = artifact("SeedRegistryV2", "SeedRegistryV2");
    let proposed = s.gov(
        Some(9),
        &[
            "--json",
            "propose",
            "upgrade-registry",
            "--artifact",
            &v2,
            "--current-artifact",
            &current,
            "--call",
            &call_hex,
            "--out",
            "upgrade.json",
        ],
    );
    assert_exit(&proposed, 0, "");
    let proposed = json(&proposed);
    let implementation: Address = proposed["upgrade"]["implementation"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_exit(
        &s.gov(None, &["show", "upgrade.json"]),
        0,
        &format!("upgrade the registry to implementation {implementation}"),
    );
    // Signers compare the deployed code with their own build of the audited source, which also
    // decodes the initializer; the traced upgrade touches nothing it must not.
    let shown = s.gov(None, &["show", "upgrade.json", "--artifact", &v2]);
    assert_exit(&shown, 0, "new code matches");
    assert_exit(
        &shown,
        0,
        "initializer: initializeV2(string note_ = \"v2 via seed-eth gov\")",
    );
    assert_exit(&shown, 0, "dangers:     none found");
    // Without the artefact the initializer cannot be read, and the review says so.
    assert_exit(
        &s.gov(None, &["show", "upgrade.json"]),
        0,
        "initializer call that is not decoded (no artefact was given)",
    );
    assert_exit(
        &s.gov(None, &["show", "upgrade.json", "--artifact", &current]),
        1,
        "NEW CODE DOES NOT MATCH",
    );
    // A signer with a build of other code signs nothing; with the audited build, the
    // initializer is decoded and nothing is flagged.
    assert_exit(
        &s.gov(
            Some(OWNERS[0]),
            &["sign", "upgrade.json", "--artifact", &current],
        ),
        1,
        "NEW CODE DOES NOT MATCH",
    );
    let signed = s.gov(
        Some(OWNERS[0]),
        &["sign", "upgrade.json", "--artifact", &v2],
    );
    assert_exit(&signed, 0, "1 of 2");
    assert_exit(&signed, 0, "dangers:     none found");
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "upgrade.json"]),
        0,
        "2 of 2",
    );
    let submitted = s.gov_json(Some(0), &["submit", "upgrade.json"]);
    let id = submitted["operationId"].as_str().unwrap().to_owned();
    s.execute_after_delay(&id, DAY).await;

    let v2 = ISeedRegistryV2::new(s.address("registry"), s.provider.clone());
    assert_eq!(
        v2.implementationVersion().call().await.unwrap(),
        U256::from(2)
    );
    assert_eq!(
        v2.migration().call().await.unwrap().note,
        "v2 via seed-eth gov"
    );
    let state_after = (
        registry.quorum().call().await.unwrap(),
        registry.builderCount().call().await.unwrap(),
        registry.activeBuilderMask().call().await.unwrap(),
        registry.requiredSystems().call().await.unwrap(),
        registry.guardian().call().await.unwrap(),
        registry.owner().call().await.unwrap(),
        registry.builder(2).call().await.unwrap(),
    );
    assert_eq!(state_after, state_before);
    assert!(registry.isFinalised(genesis).call().await.unwrap());
    assert_eq!(ledger.rootOf(genesis).call().await.unwrap(), root_before);
    assert_eq!(ledger.writer().call().await.unwrap(), s.address("registry"));
    // Votes still count after the upgrade.
    let commit = keccak256("after upgrade");
    for account in [1, 2] {
        for system in SYSTEMS {
            s.attest(account, commit, system, keccak256(format!("u {system}")))
                .await;
        }
    }
    assert!(registry.isFinalised(commit).call().await.unwrap());
}

/// The registry as it shipped before `finalise` (1.0.0, issue 17): built from its frozen sources
/// with the optimizer runs it shipped with, and checked to be exactly the implementation the forge
/// upgrade test deploys (`tests/contracts/fixtures/SeedRegistry-1.0.0.json`).
fn registry_1_0_0() -> &'static Path {
    static OUT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    OUT.get_or_init(|| {
        let out = forge_build_with(
            &Path::new(env!("CARGO_TARGET_TMPDIR")).join("gov-registry-1.0.0"),
            &["crates/seed-eth/tests/fixtures/registry-1.0.0/SeedRegistry.sol"],
            &["--optimizer-runs", "10000"],
        );
        let runtime = |path: &Path| {
            let artefact: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            artefact["deployedBytecode"]["object"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(
            runtime(&out.join("SeedRegistry.sol/SeedRegistry.json")),
            runtime(&root.join("tests/contracts/fixtures/SeedRegistry-1.0.0.json")),
            "the frozen 1.0.0 sources no longer build the 1.0.0 implementation"
        );
        out
    })
}

/// Issue 17: the upgrade that ships `finalise` and `reportEquivocation`, proposed with `gov` to a
/// registry running 1.0.0 that holds a final genesis and a release with stored votes. State and
/// ledger are preserved, and the pending release is finalised by signed votes on top of the
/// stored ones, which count once.
#[tokio::test]
async fn the_upgrade_from_1_0_0_ships_finalise_and_preserves_state() {
    let s = Setup::new();
    let registry = s.registry();
    // The stand-in for a registry deployed at 1.0.0: its implementation, deployed as shipped, put
    // behind the proxy (which `seed-eth deploy` initialised; `initialize` is the same in both).
    let v1 = registry_1_0_0()
        .join("SeedRegistry.sol/SeedRegistry.json")
        .display()
        .to_string();
    let code = support::creation_code(registry_1_0_0(), "SeedRegistry", "SeedRegistry");
    let deployed = s
        .as_account(9)
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default().with_deploy_code(Bytes::from(code)),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let implementation_slot = B256::from(
        U256::from_be_slice(&keccak256("eip1967.proxy.implementation").0) - U256::from(1),
    );
    let _: Value = s
        .provider
        .raw_request(
            "anvil_setStorageAt".into(),
            (
                s.address("registry"),
                implementation_slot,
                B256::left_padding_from(deployed.contract_address.unwrap().as_slice()),
            ),
        )
        .await
        .unwrap();
    assert_eq!(registry.VERSION().call().await.unwrap(), "1.0.0");

    // Under 1.0.0: a final genesis and a release with builder 1's stored votes.
    let genesis = s.genesis().await;
    let pending = keccak256("pending across the upgrade");
    let digest = |system: &str| keccak256(format!("pending {system}"));
    for system in SYSTEMS {
        s.attest(1, pending, system, digest(system)).await;
    }
    assert!(!registry.isFinalised(pending).call().await.unwrap());
    let ledger = ReleaseLedger::new(s.address("ledger"), s.provider.clone());
    let root_before = ledger.rootOf(genesis).call().await.unwrap();
    let state = || async {
        (
            registry.quorum().call().await.unwrap(),
            registry.activeBuilderMask().call().await.unwrap(),
            registry.requiredSystems().call().await.unwrap(),
            registry.guardian().call().await.unwrap(),
            registry.owner().call().await.unwrap(),
            registry.builder(0).call().await.unwrap(),
            registry.genesisDone().call().await.unwrap(),
            registry.rulesVersion().call().await.unwrap(),
            registry
                .votedMask(pending, SYSTEMS[0].into())
                .call()
                .await
                .unwrap(),
            registry
                .votedMask(pending, SYSTEMS[1].into())
                .call()
                .await
                .unwrap(),
        )
    };
    let state_before = state().await;

    // The current artefact is not what runs: refused, nothing deployed.
    let current = upgrade_candidates()
        .join("SeedRegistry.sol/SeedRegistry.json")
        .display()
        .to_string();
    assert_exit(
        &s.gov(
            Some(9),
            &[
                "propose",
                "upgrade-registry",
                "--artifact",
                &current,
                "--current-artifact",
                &current,
                "--out",
                "wrong.json",
            ],
        ),
        2,
        "is not the code of the registry's current implementation",
    );

    // Proposed from the 1.0.0 build, reviewed against the new build, approved, executed.
    let proposed = s.gov(
        Some(9),
        &[
            "propose",
            "upgrade-registry",
            "--artifact",
            &current,
            "--current-artifact",
            &v1,
            "--out",
            "upgrade.json",
        ],
    );
    assert_exit(&proposed, 0, "safeTxHash");
    let shown = s.gov(None, &["show", "upgrade.json", "--artifact", &current]);
    assert_exit(&shown, 0, "new code matches");
    assert_exit(&shown, 0, "dangers:     none found");
    for owner in [OWNERS[0], OWNERS[1]] {
        assert_exit(
            &s.gov(
                Some(owner),
                &["sign", "upgrade.json", "--artifact", &current],
            ),
            0,
            "dangers:     none found",
        );
    }
    let submitted = s.gov_json(Some(0), &["submit", "upgrade.json"]);
    s.execute_after_delay(submitted["operationId"].as_str().unwrap(), DAY)
        .await;

    assert_eq!(registry.VERSION().call().await.unwrap(), "1.1.0");
    assert_eq!(state().await, state_before);
    assert_eq!(ledger.rootOf(genesis).call().await.unwrap(), root_before);
    assert_eq!(ledger.writer().call().await.unwrap(), s.address("registry"));
    assert_eq!(registry.equivocators(pending).call().await.unwrap(), 0);

    // Builder 2's signed votes finalise the pending release in one call by a relayer; builder 1's
    // votes stored under 1.0.0 count and are not logged again.
    let chain_id = s.provider.get_chain_id().await.unwrap();
    let now = s
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let signer = s.anvil.signer(2);
    let id = registry.builderIdOf(signer.address()).call().await.unwrap();
    let mut digests = Vec::new();
    let mut votes = Vec::new();
    for (index, system) in SYSTEMS.iter().enumerate() {
        let vote = seed_chain::vote::Vote {
            signer: signer.address(),
            commit: pending,
            system: (*system).to_owned(),
            manifestDigest: digest(system),
            imageDigest: keccak256(format!("image {system}")),
            statementDigest: keccak256(format!("statement 2 {system}")),
            deadline: now + 3_600,
        };
        let signature = vote.sign(&signer, chain_id, s.address("registry")).unwrap();
        votes.push(vote.compact(&signature, index as u8, id).unwrap());
        digests.push(digest(system));
    }
    let receipt = SeedRegistry::new(s.address("registry"), s.as_account(0))
        .finalise(pending, digests, votes)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert!(registry.isFinalised(pending).call().await.unwrap());
    let logged: Vec<_> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<SeedRegistry::Attested>().ok())
        .map(|log| log.inner.data.builderId)
        .collect();
    assert_eq!(logged, vec![id, id], "only the signed votes are logged");
    let finalised = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<SeedRegistry::ReleaseFinalised>().ok())
        .unwrap();
    let builder1 = registry
        .builderIdOf(s.anvil.address(1))
        .call()
        .await
        .unwrap();
    let both = (1u64 << builder1) | (1u64 << id);
    assert_eq!(finalised.inner.data.voters, vec![both, both]);
    assert_eq!(
        u64::from(registry.finalisationStamp(pending).call().await.unwrap()),
        receipt.block_number.unwrap() % (1 << 29)
    );
}

/// Governance signer loss: the Safe replaces the lost owner with a new key by its own threshold,
/// at once (no timelock); afterwards the new key signs proposals and the old one is refused.
#[tokio::test]
async fn a_lost_governance_signer_is_replaced_through_the_safe() {
    let s = Setup::new();
    let lost = s.anvil.address(OWNERS[1]);
    let replacement = s.anvil.address(NON_OWNER);

    let refused = s.gov(
        None,
        &[
            "propose",
            "swap-owner",
            "--old",
            &replacement.to_string(),
            "--new",
            &lost.to_string(),
            "--out",
            "wrong.json",
        ],
    );
    assert_exit(&refused, 2, "is not an owner of the Safe");
    assert!(!s.file("wrong.json").exists());

    let id = s.approve(
        "swap.json",
        &[
            "swap-owner",
            "--old",
            &lost.to_string(),
            "--new",
            &replacement.to_string(),
        ],
    );
    assert_eq!(id, None, "an owner change is not timelocked");
    let owners = Safe::new(s.address("safe"), s.provider.clone())
        .getOwners()
        .call()
        .await
        .unwrap();
    assert!(
        owners.contains(&replacement) && !owners.contains(&lost),
        "{owners:?}"
    );

    let out = s.gov(
        None,
        &[
            "propose",
            "set-quorum",
            "--quorum",
            "3",
            "--out",
            "next.json",
        ],
    );
    assert_exit(&out, 0, "safeTxHash");
    assert_exit(
        &s.gov(Some(OWNERS[1]), &["sign", "next.json"]),
        2,
        "is not an owner",
    );
    assert_exit(
        &s.gov(Some(NON_OWNER), &["sign", "next.json"]),
        0,
        "1 of 2 signatures",
    );
}

sol! {
    interface ISeedRegistryV2Hostile {
        function migrate(string calldata note_, bytes32 commit, bytes32 root, address heir) external;
    }
}

/// Issue 11 §3: an upgrade whose initializer looks like a migration but appends a forged release
/// to the ledger, tries to move the ledger's writer and hands the registry to another owner. It
/// passes the layout check and the simulation; `propose` and `show` decode the call with the new
/// artefact's ABI, trace it, and flag every call into the ledger and every role change.
#[tokio::test]
async fn an_upgrade_initializer_that_touches_the_ledger_or_roles_is_decoded_and_flagged() {
    let s = Setup::new();
    let out = upgrade_candidates();
    let current = out.join("SeedRegistry.sol/SeedRegistry.json");
    let hostile = out.join("SeedRegistryV2Hostile.sol/SeedRegistryV2Hostile.json");
    let heir = s.anvil.address(9);
    let forged = keccak256("forged release");
    let call = ISeedRegistryV2Hostile::migrateCall {
        note_: "routine migration".into(),
        commit: forged,
        root: keccak256("forged root"),
        heir,
    };
    let call_hex = Bytes::from(alloy::sol_types::SolCall::abi_encode(&call)).to_string();
    let proposed = s.gov(
        Some(9),
        &[
            "propose",
            "upgrade-registry",
            "--artifact",
            hostile.to_str().unwrap(),
            "--current-artifact",
            current.to_str().unwrap(),
            "--call",
            &call_hex,
            "--out",
            "upgrade.json",
        ],
    );
    let ledger = s.address("ledger");
    let expected = [
        format!(
            "initializer: migrate(string note_ = \"routine migration\", bytes32 commit = {forged}, bytes32 root = {}, address heir = {heir})",
            keccak256("forged root")
        ),
        format!("DANGER:      the upgrade calls the release ledger ({ledger}): record(bytes32,bytes32,uint32)"),
        format!("DANGER:      the upgrade calls the release ledger ({ledger}): setWriter(address)"),
        format!("DANGER:      the upgrade makes {ledger} emit ReleaseRecorded"),
        "emit OwnershipTransferred".to_owned(),
    ];
    for line in &expected {
        assert_exit(&proposed, 0, line);
    }
    // Every signer's `show` (with their own build of the artefact) says the same, and without
    // the artefact the trace still shows what it does.
    let shown = s.gov(
        None,
        &[
            "show",
            "upgrade.json",
            "--artifact",
            hostile.to_str().unwrap(),
        ],
    );
    for line in &expected {
        assert_exit(&shown, 0, line);
    }
    let bare = s.gov(None, &["show", "upgrade.json"]);
    assert_exit(&bare, 0, &expected[1]);
    assert_exit(&bare, 0, "not decoded (no artefact was given)");
    // Nothing happened on chain: the ledger has no such release.
    let ledger = ReleaseLedger::new(ledger, s.provider.clone());
    assert_eq!(ledger.rootOf(forged).call().await.unwrap(), B256::ZERO);
}

/// Issue 11 §3: code no chain would deploy (over EIP-170's 24,576 bytes) is refused offline, exit
/// 2, naming both sizes, before anything is sent; a fresh clone without `out/` is told to build.
#[tokio::test]
async fn an_upgrade_is_refused_offline_when_its_code_is_too_large_or_not_built() {
    let s = Setup::new();
    let out = upgrade_candidates();
    let current = out.join("SeedRegistry.sol/SeedRegistry.json");
    // SeedRegistryV2 with 25,000 more bytes of runtime code (as a build that outgrew the limit).
    let v2 = out.join("SeedRegistryV2.sol/SeedRegistryV2.json");
    let mut artefact: Value = serde_json::from_slice(&std::fs::read(&v2).unwrap()).unwrap();
    let runtime = artefact["deployedBytecode"]["object"]
        .as_str()
        .unwrap()
        .to_owned();
    artefact["deployedBytecode"]["object"] = format!("{runtime}{}", "00".repeat(25_000)).into();
    let size = (runtime.len() - 2) / 2 + 25_000;
    let big = out.join("SeedRegistryV2.sol/SeedRegistryV2Big.json");
    std::fs::write(&big, artefact.to_string()).unwrap();

    let deployer = s.anvil.address(9);
    let nonce = s.provider.get_transaction_count(deployer).await.unwrap();
    let propose = |artifact: &str| {
        s.gov(
            Some(9),
            &[
                "propose",
                "upgrade-registry",
                "--artifact",
                artifact,
                "--current-artifact",
                current.to_str().unwrap(),
                "--out",
                "upgrade.json",
            ],
        )
    };
    assert_exit(
        &propose(big.to_str().unwrap()),
        2,
        &format!("its runtime code is {size} bytes (EIP-170 allows 24576)"),
    );
    assert_exit(
        &propose("out/SeedRegistry.sol/SeedRegistry.json"),
        2,
        "does not exist: build the contracts first (`forge build`",
    );
    assert!(!s.file("upgrade.json").exists());
    assert_eq!(
        s.provider.get_transaction_count(deployer).await.unwrap(),
        nonce,
        "nothing was sent"
    );
}

/// Issue 11 §3: an operation that was valid when proposed but reverts when executed (here
/// `setQuorum(3)` after an emergency revocation left two active builders) is refused with the
/// registry's custom error by name, as `propose` names it.
#[tokio::test]
async fn executing_an_operation_that_now_reverts_names_the_custom_error() {
    let s = Setup::new();
    let id = s
        .approve("quorum.json", &["set-quorum", "--quorum", "3"])
        .unwrap();
    s.approve(
        "revoke.json",
        &["revoke-builder", "--builder", "2", "--emergency"],
    );
    s.warp(DAY).await;
    let out = s.gov(Some(0), &["execute", &id]);
    assert_exit(
        &out,
        1,
        &format!("operation {id} would revert if executed now with SeedRegistry error QuorumOutOfRange {{ quorum: 3, activeBuilders: 2 }}: set the quorum k to 3 agreeing builders per system; nothing was sent"),
    );
}

/// Issue 16 §6: `builder init` makes the builder's key (an encrypted keystore named after its
/// address) and writes the `add-builder` proposal, which `gov show` decodes for the Safe's
/// owners. An existing address works too; an existing proposal file or an empty password
/// makes nothing.
#[tokio::test]
async fn builder_init_makes_a_key_and_the_proposal_that_registers_it() {
    let s = Setup::new();
    let url = s.anvil.endpoint();
    let init = |args: &[&str], password: &str| {
        let mut all = vec!["--json", "builder", "init", "--rpc-url", &url];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--organisation",
            "delta-builders",
            "--jurisdiction",
            "JP",
            "--infrastructure",
            "hetzner",
        ]);
        seed_eth(s.cwd(), &all, &[("SEED_ETH_KEYSTORE_PASSWORD", password)])
    };
    let keys = || std::fs::read_dir(s.file("keys")).map_or(0, Iterator::count);

    let out = init(
        &["--keystore-dir", "keys", "--out", "add.json"],
        "builder password",
    );
    assert_exit(&out, 0, "");
    let report = json(&out);
    let signer: Address = report["signer"].as_str().unwrap().parse().unwrap();
    let keystore = report["keystore"].as_str().unwrap();
    assert!(keystore.ends_with(&format!("{signer}.json")), "{keystore}");
    let key = alloy::signers::local::PrivateKeySigner::decrypt_keystore(
        s.cwd().join(keystore),
        "builder password",
    )
    .unwrap();
    assert_eq!(key.address(), signer);
    assert_eq!(keys(), 1, "no staging directory is left behind");
    let show = s.gov(None, &["show", "add.json"]);
    assert_exit(&show, 0, "dangers:     none found");
    assert!(text(&show).contains(&signer.to_string()), "{}", text(&show));

    // Signers who use the Safe web app get its Transaction Builder batch: checked here by an
    // independent implementation of the app's checksum (JavaScript, node, js-sha3 from the
    // project's npm tree) and read back to the proposal's Safe transaction.
    let export = || {
        seed_eth(
            s.cwd(),
            &[
                "gov",
                "export",
                "add.json",
                "--safe-tx-builder",
                "batch.json",
            ],
            &[],
        )
    };
    let out = export();
    assert_exit(&out, 0, "Safe Transaction Builder batch");
    let batch: Value =
        serde_json::from_slice(&std::fs::read(s.file("batch.json")).unwrap()).unwrap();
    let proposal = seed_gov::Proposal::load(&s.file("add.json")).unwrap();
    assert_eq!(
        seed_gov::tx_builder::transactions(&batch).unwrap(),
        vec![(
            proposal.safe_tx.to,
            proposal.safe_tx.value,
            proposal.safe_tx.data.clone()
        )]
    );
    assert_eq!(batch["chainId"], "31337");
    assert_eq!(
        batch["meta"]["createdFromSafeAddress"],
        s.address("safe").to_checksum(None)
    );
    let checker = r#"
        const { keccak256 } = require(process.argv[1] + "/node_modules/js-sha3");
        const batch = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
        const ser = (v) => Array.isArray(v) ? "[" + v.map(ser).join(",") + "]"
          : v !== null && typeof v === "object"
            ? "{" + JSON.stringify(Object.keys(v).sort()) + Object.keys(v).sort().map((k) => ser(v[k]) + ",").join("") + "}"
            : JSON.stringify(v === undefined ? null : v);
        const meta = Object.assign({}, batch.meta, { name: null });
        delete meta.checksum;
        const sum = "0x" + keccak256(ser(Object.assign({}, batch, { meta })));
        if (sum !== batch.meta.checksum) { console.log("mismatch " + sum); process.exit(1); }
    "#;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node = Command::new("node")
        .args([
            "-e",
            checker,
            root.to_str().unwrap(),
            s.file("batch.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(node.status.success(), "{node:?}");
    assert_exit(&export(), 2, "already exists");

    // Nothing is made when the proposal file exists, or without a password.
    assert_exit(
        &init(
            &["--keystore-dir", "keys", "--out", "add.json"],
            "builder password",
        ),
        2,
        "already exists",
    );
    assert_exit(
        &init(&["--keystore-dir", "keys", "--out", "other.json"], ""),
        2,
        "empty password",
    );
    assert_eq!(keys(), 1);
    assert!(!s.file("other.json").exists());

    // A builder that has its key already gives its address.
    let existing = s.anvil.address(7).to_string();
    let out = init(&["--signer", &existing, "--out", "add7.json"], "");
    assert_exit(&out, 0, "");
    assert_eq!(json(&out)["keystore"], Value::Null);
    assert!(text(&s.gov(None, &["show", "add7.json"])).contains(&existing));
    assert_exit(&init(&["--out", "none.json"], ""), 2, "--keystore-dir");
}
