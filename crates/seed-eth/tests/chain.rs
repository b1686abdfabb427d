//! `seed-eth deploy` and `seed-eth status` against a real anvil: a deployment
//! equivalent to the forge script's, the wiring it must have, a release voted
//! by the three default builders from nothing to finalised, and every way the
//! configuration can be wrong, each with its exact exit code and message.
//!
//! Needs anvil (and, for the forge comparison, forge): `make setup` installs
//! the pinned Foundry. Missing binaries fail the tests, they never skip them.

#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};
use seed_chain::{
    bindings::{ReleaseLedger, Safe, SeedRegistry, TimelockController},
    deploy::{check_wiring, read_deployment, IMPLEMENTATION_SLOT},
    ChainBuilder, ChainError, Deployment,
};
use seed_core::{release_root, Sha256Digest};
use seed_testkit::anvil::TestAnvil;
use serde_json::Value;

mod support;
use support::{assert_exit, json, seed_eth};

const COMMIT_A: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_B: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `seed-eth deploy` with anvil account 0 on the default configuration.
fn deploy(anvil: &TestAnvil, cwd: &Path, extra: &[&str]) -> Deployment {
    let key = anvil.private_key_hex(0);
    let mut args = vec!["deploy", "--rpc-url"];
    let url = anvil.endpoint();
    args.push(&url);
    args.extend_from_slice(extra);
    let out = seed_eth(cwd, &args, &[("SEED_ETH_PRIVATE_KEY", &key)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "deploy failed: {}",
        stderr(&out)
    );
    let path = extra.iter().position(|a| *a == "--deployment").map_or_else(
        || cwd.join("deployments/31337.json"),
        |i| cwd.join(extra[i + 1]),
    );
    Deployment::load(&path).unwrap()
}

fn digest(label: &str) -> B256 {
    alloy::primitives::keccak256(label.as_bytes())
}

fn commit_word(commit: &str) -> B256 {
    commit.parse::<seed_core::CommitId>().unwrap().to_b256()
}

/// Sends `attest` as `builder` (an anvil account index).
async fn vote(
    anvil: &TestAnvil,
    registry: Address,
    builder: usize,
    commit: &str,
    system: &str,
    manifest: B256,
) {
    let provider = ProviderBuilder::new()
        .wallet(anvil.signer(builder))
        .connect_http(anvil.endpoint().parse().unwrap());
    let receipt = SeedRegistry::new(registry, provider)
        .attest(
            commit_word(commit),
            system.to_owned(),
            manifest,
            digest("image"),
            digest(&format!("statement {builder}")),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(
        receipt.status(),
        "vote by builder account {builder} reverted"
    );
}

fn status(anvil: &TestAnvil, cwd: &Path, commit: &str, extra: &[&str]) -> (i32, Value) {
    let url = anvil.endpoint();
    let mut args = vec!["--json", "status", "--commit", commit, "--rpc-url", &url];
    args.extend_from_slice(extra);
    let out = seed_eth(cwd, &args, &[]);
    (out.status.code().unwrap(), json(&out))
}

fn system<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["system"] == name)
        .unwrap()
}

fn oci(d: B256) -> String {
    format!("sha256:{}", alloy::hex::encode(d))
}

#[tokio::test]
async fn votes_progress_to_a_finalised_release() {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let deployment = deploy(&anvil, dir.path(), &[]);
    let registry = deployment.contracts.registry;
    let (m_arm, m_x86) = (digest("aarch64 closure"), digest("x86_64 closure"));

    // Nothing yet: every active builder is missing; genesis needs all three.
    let (code, s) = status(&anvil, dir.path(), COMMIT_A, &[]);
    assert_eq!(code, 1);
    assert_eq!(s["isFinalised"], false);
    assert_eq!(s["threshold"], 3);
    assert_eq!(s["commit"], COMMIT_A);
    assert_eq!(
        system(&s, "x86_64-linux")["missing"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Two builders agree: not enough for genesis.
    for builder in [1, 2] {
        vote(&anvil, registry, builder, COMMIT_A, "aarch64-linux", m_arm).await;
        vote(&anvil, registry, builder, COMMIT_A, "x86_64-linux", m_x86).await;
    }
    let (code, s) = status(&anvil, dir.path(), COMMIT_A, &[]);
    assert_eq!(code, 1);
    let x86 = system(&s, "x86_64-linux");
    assert_eq!(x86["votes"].as_array().unwrap().len(), 2);
    assert_eq!(x86["votes"][0]["builderId"], 0);
    assert_eq!(x86["votes"][0]["signer"], anvil.address(1).to_string());
    assert_eq!(x86["votes"][0]["manifestDigest"], oci(m_x86));
    assert_eq!(x86["votes"][0]["imageDigest"], oci(digest("image")));
    assert_eq!(
        x86["votes"][1]["statementDigest"],
        oci(digest("statement 2"))
    );
    assert_eq!(x86["candidates"][0]["voters"], serde_json::json!([0, 1]));
    assert_eq!(x86["quorumReached"], false);
    assert_eq!(x86["missing"][0]["builderId"], 2);
    assert_eq!(x86["disagreement"], false);

    // The third builder completes genesis; the registry writes the root to the ledger.
    vote(&anvil, registry, 3, COMMIT_A, "aarch64-linux", m_arm).await;
    vote(&anvil, registry, 3, COMMIT_A, "x86_64-linux", m_x86).await;
    let (code, s) = status(&anvil, dir.path(), COMMIT_A, &[]);
    assert_eq!(code, 0, "{s}");
    let leaves = [
        (
            "aarch64-linux".parse().unwrap(),
            Sha256Digest::from_bytes(m_arm).unwrap(),
        ),
        (
            "x86_64-linux".parse().unwrap(),
            Sha256Digest::from_bytes(m_x86).unwrap(),
        ),
    ];
    assert_eq!(
        s["finalised"]["root"],
        release_root(&leaves).unwrap().to_string()
    );
    assert_eq!(system(&s, "x86_64-linux")["finalisedDigest"], oci(m_x86));
    assert_eq!(system(&s, "aarch64-linux")["quorumReached"], true);
    let text = seed_eth(
        dir.path(),
        &[
            "status",
            "--commit",
            COMMIT_A,
            "--rpc-url",
            &anvil.endpoint(),
        ],
        &[],
    );
    assert_eq!(text.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&text.stdout).contains("FINALISED"));

    // After genesis k = 2. Two builders disagree on x86_64-linux: visible, and not final.
    vote(&anvil, registry, 1, COMMIT_B, "x86_64-linux", digest("one")).await;
    vote(&anvil, registry, 2, COMMIT_B, "x86_64-linux", digest("two")).await;
    vote(&anvil, registry, 1, COMMIT_B, "aarch64-linux", m_arm).await;
    vote(&anvil, registry, 2, COMMIT_B, "aarch64-linux", m_arm).await;

    // Look-alike votes from another registry (a second deployment on the same chain) must not
    // count: logs are filtered by the registry's address, not only by topic.
    let other = deploy(
        &anvil,
        dir.path(),
        &["--deployment", "other.json", "--safe-salt-nonce", "1"],
    );
    assert_ne!(other.contracts.registry, registry);
    vote(
        &anvil,
        other.contracts.registry,
        3,
        COMMIT_B,
        "x86_64-linux",
        digest("one"),
    )
    .await;

    let (code, s) = status(&anvil, dir.path(), COMMIT_B, &["--log-chunk", "2"]);
    assert_eq!(code, 1);
    assert_eq!(s["threshold"], 2);
    let x86 = system(&s, "x86_64-linux");
    assert_eq!(x86["disagreement"], true);
    assert_eq!(x86["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(
        x86["votes"].as_array().unwrap().len(),
        2,
        "the other registry's vote leaked in: {x86}"
    );
    assert_eq!(x86["quorumReached"], false);
    assert_eq!(system(&s, "aarch64-linux")["quorumReached"], true);
    let text = seed_eth(
        dir.path(),
        &[
            "status",
            "--commit",
            COMMIT_B,
            "--rpc-url",
            &anvil.endpoint(),
        ],
        &[],
    );
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("DISAGREEMENT"));

    // The same answer from a registry address instead of the file.
    let (code, by_address) = status(
        &anvil,
        dir.path(),
        COMMIT_B,
        &["--registry", &registry.to_string(), "--from-block", "0"],
    );
    assert_eq!(code, 1);
    assert_eq!(by_address["systems"], s["systems"]);
}

#[tokio::test]
async fn deployment_is_wired_as_governance_requires() {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = deploy(&anvil, dir.path(), &[]);
    let c = d.contracts;
    let provider = ProviderBuilder::new().connect_http(anvil.endpoint().parse().unwrap());
    let deployer = anvil.address(0);

    let timelock = TimelockController::new(c.timelock, &provider);
    let admin = timelock.DEFAULT_ADMIN_ROLE().call().await.unwrap();
    let proposer = timelock.PROPOSER_ROLE().call().await.unwrap();
    let canceller = timelock.CANCELLER_ROLE().call().await.unwrap();
    let executor = timelock.EXECUTOR_ROLE().call().await.unwrap();
    assert!(
        !timelock.hasRole(admin, deployer).call().await.unwrap(),
        "deployer is timelock admin"
    );
    assert!(timelock.hasRole(admin, c.timelock).call().await.unwrap());
    assert!(timelock.hasRole(proposer, c.safe).call().await.unwrap());
    assert!(timelock.hasRole(canceller, c.safe).call().await.unwrap());
    assert!(timelock
        .hasRole(executor, Address::ZERO)
        .call()
        .await
        .unwrap());
    assert!(!timelock.hasRole(proposer, deployer).call().await.unwrap());
    assert_eq!(
        timelock.getMinDelay().call().await.unwrap(),
        U256::from(86_400)
    );

    let ledger = ReleaseLedger::new(c.ledger, &provider);
    assert_eq!(
        ledger.writer().call().await.unwrap(),
        c.registry,
        "ledger writer is the registry proxy"
    );
    assert_eq!(ledger.owner().call().await.unwrap(), c.timelock);

    let registry = SeedRegistry::new(c.registry, &provider);
    assert_eq!(registry.owner().call().await.unwrap(), c.timelock);
    assert_eq!(registry.guardian().call().await.unwrap(), c.safe);
    assert_eq!(registry.ledger().call().await.unwrap(), c.ledger);
    let slot = alloy::providers::Provider::get_storage_at(
        &provider,
        c.registry,
        IMPLEMENTATION_SLOT.into(),
    )
    .await
    .unwrap();
    assert_eq!(Address::from_word(slot.into()), c.registry_implementation);

    let safe = Safe::new(c.safe, &provider);
    let owners = safe.getOwners().call().await.unwrap();
    assert_eq!(
        owners,
        [anvil.address(4), anvil.address(5), anvil.address(6)]
    );
    assert_eq!(safe.getThreshold().call().await.unwrap(), U256::from(2));
    assert_eq!(d.governance.safe_owners, owners);

    // The library's wiring check agrees, and catches a deployment whose parts do not belong together.
    let chain = ChainBuilder::new(anvil.endpoint()).connect().await.unwrap();
    check_wiring(&chain, &c, Some(deployer), None)
        .await
        .unwrap();
    let mut swapped = c;
    swapped.safe = anvil.address(4);
    let error = check_wiring(&chain, &swapped, Some(deployer), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ChainError::Wiring(ref what) if what.contains("proposer")),
        "{error}"
    );

    // A second deployment governed by the existing Safe; a contract that is not a Safe is refused
    // before anything is sent.
    let second = deploy(
        &anvil,
        dir.path(),
        &["--deployment", "second.json", "--safe", &c.safe.to_string()],
    );
    assert_eq!(second.contracts.safe, c.safe);
    assert_eq!(second.governance, d.governance);
    check_wiring(&chain, &second.contracts, Some(deployer), None)
        .await
        .unwrap();
    let before = chain.block_number().await.unwrap();
    let out = seed_eth(
        dir.path(),
        &[
            "deploy",
            "--rpc-url",
            &anvil.endpoint(),
            "--deployment",
            "third.json",
            "--safe",
            &c.ledger.to_string(),
        ],
        &[("SEED_ETH_PRIVATE_KEY", &anvil.private_key_hex(0))],
    );
    assert_exit(&out, 2, "so it is not a Safe");
    assert_eq!(chain.block_number().await.unwrap(), before);

    // A transaction the registry refuses is reported with the custom error it reverted with.
    let outsider = ChainBuilder::new(anvil.endpoint())
        .signer(anvil.signer(9))
        .connect()
        .await
        .unwrap();
    let call = SeedRegistry::attestCall {
        commit: commit_word(COMMIT_A),
        system: "x86_64-linux".to_owned(),
        manifestDigest: digest("m"),
        imageDigest: digest("i"),
        statementDigest: digest("s"),
    };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(c.registry)
        .input(alloy::sol_types::SolCall::abi_encode(&call).into());
    let error = outsider
        .send("voting as an outsider", tx)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("UnknownSigner"), "{error}");
    assert_eq!(error.class(), seed_chain::ErrorClass::Network);
}

/// The forge script and `seed-eth deploy`, given the same (non-default) configuration on two
/// fresh anvils, produce the same deployment file, the same code at every address, and both
/// pass the same wiring check.
#[tokio::test]
async fn forge_script_and_seed_eth_deploy_agree() {
    let (forge_chain, rust_chain) = (TestAnvil::spawn().unwrap(), TestAnvil::spawn().unwrap());
    let key = forge_chain.private_key_hex(0);
    let id_tag = format!("0x{}", "ab".repeat(32));
    let owners = format!("{},{}", forge_chain.address(7), forge_chain.address(8));
    let signers = format!("{},{}", forge_chain.address(1), forge_chain.address(2));

    let root = repo_root();
    let out_dir = root.join("target/seed-chain-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let forge_file = out_dir.join(format!("forge-{}.json", forge_chain.instance().port()));
    let forge = Command::new(root.join("script/foundry"))
        .current_dir(&root)
        .args([
            "forge",
            "script",
            "script/Deploy.s.sol",
            "--rpc-url",
            &forge_chain.endpoint(),
            "--broadcast",
            "--private-key",
            &key,
            "--silent",
        ])
        .envs([
            ("DEPLOYMENT_FILE", forge_file.to_str().unwrap()),
            ("SAFE_OWNERS", &owners),
            ("SAFE_THRESHOLD", "1"),
            ("SAFE_SALT_NONCE", "7"),
            ("TIMELOCK_MIN_DELAY", "3600"),
            ("QUORUM", "1"),
            ("REQUIRED_SYSTEMS", "x86_64-linux"),
            ("INDEPENDENCE_POLICY", "5"),
            ("BUILDER_SIGNERS", &signers),
            ("BUILDER_ORGANISATIONS", &format!("org-a,{id_tag}")),
            ("BUILDER_JURISDICTIONS", "CH,CH"),
            ("BUILDER_INFRASTRUCTURES", "gha,self-hosted"),
        ])
        .output()
        .expect("run script/foundry forge (make setup installs it)");
    assert!(
        forge.status.success(),
        "forge script failed: {}{}",
        String::from_utf8_lossy(&forge.stdout),
        stderr(&forge)
    );

    let dir = tempfile::tempdir().unwrap();
    let b1 = format!("{},org-a,CH,gha", forge_chain.address(1));
    let b2 = format!("{},{id_tag},CH,self-hosted", forge_chain.address(2));
    let ours = deploy(
        &rust_chain,
        dir.path(),
        &[
            "--safe-owner",
            &forge_chain.address(7).to_string(),
            "--safe-owner",
            &forge_chain.address(8).to_string(),
            "--safe-threshold",
            "1",
            "--safe-salt-nonce",
            "7",
            "--timelock-delay",
            "3600",
            "--quorum",
            "1",
            "--system",
            "x86_64-linux",
            "--independence-policy",
            "5",
            "--builder",
            &b1,
            "--builder",
            &b2,
        ],
    );
    let forge_text = std::fs::read_to_string(&forge_file).unwrap();
    let theirs = Deployment::parse(&forge_text).unwrap();
    assert_eq!(ours.to_json(), forge_text, "the deployment files differ");
    assert_eq!(ours, theirs);
    assert_eq!(
        theirs.rules.builders[1].organisation,
        id_tag.parse::<B256>().unwrap()
    );

    let forge_rpc = ChainBuilder::new(forge_chain.endpoint())
        .connect()
        .await
        .unwrap();
    let rust_rpc = ChainBuilder::new(rust_chain.endpoint())
        .connect()
        .await
        .unwrap();
    for (name, address) in theirs.contracts.named() {
        let code = forge_rpc.code_at(address).await.unwrap();
        assert!(!code.is_empty(), "{name}");
        assert_eq!(
            code,
            rust_rpc.code_at(address).await.unwrap(),
            "{name} has different code"
        );
    }
    for (chain, d) in [(&forge_rpc, &theirs), (&rust_rpc, &ours)] {
        check_wiring(chain, &d.contracts, Some(forge_chain.address(0)), None)
            .await
            .unwrap();
        assert_eq!(
            &read_deployment(chain, d.contracts, d.deployed_at_block)
                .await
                .unwrap(),
            d
        );
    }
    let _ = std::fs::remove_file(&forge_file);
}

#[tokio::test]
async fn bad_configuration_fails_closed_with_the_right_exit_code() {
    let anvil = TestAnvil::spawn().unwrap();
    let url = anvil.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let status_args = ["status", "--commit", COMMIT_A, "--rpc-url", url.as_str()];

    // No deployment file.
    let out = seed_eth(cwd, &status_args, &[]);
    assert_exit(
        &out,
        2,
        &format!(
            "deployment file {} not found",
            cwd.join("deployments/31337.json").display()
        ),
    );

    // A malformed one names the field.
    std::fs::create_dir_all(cwd.join("deployments")).unwrap();
    std::fs::write(cwd.join("deployments/31337.json"), "{\"chainId\": 31337}").unwrap();
    let out = seed_eth(cwd, &status_args, &[]);
    assert_exit(&out, 2, "is malformed: missing field `contracts`");
    std::fs::write(cwd.join("deployments/31337.json"), "{\"chainId\": \"x\"}").unwrap();
    let out = seed_eth(cwd, &status_args, &[]);
    assert_exit(&out, 2, "chainId: invalid type");

    // A well-formed file whose contracts do not exist on this chain.
    let other_dir = tempfile::tempdir().unwrap();
    let other_anvil = TestAnvil::spawn().unwrap();
    let real = deploy(&other_anvil, other_dir.path(), &[]);
    real.write(&cwd.join("deployments/31337.json")).unwrap();
    let out = seed_eth(cwd, &status_args, &[]);
    assert_exit(
        &out,
        2,
        &format!("contracts.ledger {} (from", real.contracts.ledger),
    );
    assert_exit(&out, 2, "has no code on chain 31337");

    // Wrong chain: the file says 1, the endpoint serves 31337; both ids are named.
    let mut wrong = real.clone();
    wrong.chain_id = 1;
    wrong.write(&cwd.join("wrong.json")).unwrap();
    let out = seed_eth(
        cwd,
        &[
            "status",
            "--commit",
            COMMIT_A,
            "--rpc-url",
            &url,
            "--deployment",
            "wrong.json",
        ],
        &[],
    );
    assert_exit(
        &out,
        2,
        "chain id mismatch: deployment file wrong.json says chain 1, but the RPC endpoint",
    );
    assert_exit(&out, 2, "serves chain 31337");
    let out = seed_eth(cwd, &status_args, &[("SEED_ETH_CHAIN_ID", "5")]);
    assert_exit(&out, 2, "says chain 5, but the RPC endpoint");

    // Unreachable endpoint: exit 3, naming the URL.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let out = seed_eth(
        cwd,
        &["status", "--commit", COMMIT_A, "--rpc-url", &closed],
        &[],
    );
    assert_exit(&out, 3, &format!("cannot reach the RPC endpoint {closed}"));
    let out = seed_eth(
        cwd,
        &["--json", "status", "--commit", COMMIT_A],
        &[("SEED_ETH_RPC_URL", &closed)],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["exitCode"], 3);

    // No RPC configured at all, a bad commit, a bad URL: usage errors.
    assert_exit(
        &seed_eth(cwd, &["status", "--commit", COMMIT_A], &[]),
        2,
        "no RPC endpoint configured",
    );
    assert_exit(
        &seed_eth(cwd, &["status", "--commit", "main", "--rpc-url", &url], &[]),
        2,
        "malformed commit",
    );
    assert_exit(
        &seed_eth(
            cwd,
            &["status", "--commit", COMMIT_A, "--rpc-url", "ftp://x"],
            &[],
        ),
        2,
        "unsupported scheme",
    );

    // deploy without a key: exit 2, and nothing is sent.
    let out = seed_eth(
        cwd,
        &["deploy", "--rpc-url", &url, "--deployment", "new.json"],
        &[],
    );
    assert_exit(&out, 2, "no signing key: set SEED_ETH_PRIVATE_KEY");
    assert!(!cwd.join("new.json").exists());
    let out = seed_eth(
        cwd,
        &["deploy", "--rpc-url", &url],
        &[("SEED_ETH_PRIVATE_KEY", "0x1234")],
    );
    assert_exit(&out, 2, "SEED_ETH_PRIVATE_KEY is not a valid private key");

    // deploy refuses to overwrite an existing deployment file, and rejects a bad configuration
    // before sending anything.
    let key = anvil.private_key_hex(0);
    let out = seed_eth(
        cwd,
        &["deploy", "--rpc-url", &url],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 2, "already exists; pass --force");
    let out = seed_eth(
        cwd,
        &[
            "deploy",
            "--rpc-url",
            &url,
            "--deployment",
            "q.json",
            "--quorum",
            "4",
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 2, "quorum 4 is not between 1 and the 3 builders");
    let out = seed_eth(
        cwd,
        &[
            "deploy",
            "--rpc-url",
            &url,
            "--deployment",
            "c.json",
            "--chain-id",
            "1",
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_exit(&out, 2, "says chain 1, but the RPC endpoint");
    // A deployment file whose directory is in fact a file, or that is a directory.
    std::fs::write(cwd.join("blocker"), "").unwrap();
    for (path, reason) in [
        (
            "blocker/d.json".to_owned(),
            "blocker is not a directory (it is a file)".to_owned(),
        ),
        (
            "deployments".to_owned(),
            "it is a directory; name a file".to_owned(),
        ),
    ] {
        let out = seed_eth(
            cwd,
            &[
                "deploy",
                "--rpc-url",
                &url,
                "--deployment",
                &path,
                "--force",
            ],
            &[("SEED_ETH_PRIVATE_KEY", &key)],
        );
        assert_exit(&out, 2, &reason);
    }
    let chain = ChainBuilder::new(&url).connect().await.unwrap();
    assert_eq!(
        chain.block_number().await.unwrap(),
        0,
        "a rejected deploy sent transactions"
    );

    // The configuration file: values apply, unknown keys are errors.
    std::fs::write(
        cwd.join("seed-eth.toml"),
        format!("rpc-url = \"{url}\"\ndeployment = \"wrong.json\"\n"),
    )
    .unwrap();
    assert_exit(
        &seed_eth(cwd, &["status", "--commit", COMMIT_A], &[]),
        2,
        "says chain 1",
    );
    std::fs::write(cwd.join("seed-eth.toml"), "rpc_url = \"x\"\n").unwrap();
    assert_exit(
        &seed_eth(cwd, &["status", "--commit", COMMIT_A], &[]),
        2,
        "unknown field `rpc_url`",
    );
}

#[tokio::test]
async fn deploy_with_an_encrypted_keystore() {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = anvil.signer(0);
    let mut rng = rand::thread_rng();
    PrivateKeySigner::encrypt_keystore(
        dir.path(),
        &mut rng,
        key.to_bytes(),
        "correct horse",
        Some("deployer.json"),
    )
    .unwrap();
    let keystore = dir.path().join("deployer.json");
    let url = anvil.endpoint();
    let keystore_arg = keystore.to_str().unwrap();

    let out = seed_eth(
        dir.path(),
        &["deploy", "--rpc-url", &url, "--keystore", keystore_arg],
        &[("SEED_ETH_KEYSTORE_PASSWORD", "wrong")],
    );
    assert_exit(&out, 2, "cannot decrypt it");
    let out = seed_eth(
        dir.path(),
        &["deploy", "--rpc-url", &url, "--keystore", keystore_arg],
        &[("SEED_ETH_KEYSTORE_PASSWORD", "correct horse")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("deployments/31337.json").exists());
}

/// `SEED_ETH_LOG` turns on structured logs on stderr; stdout stays one JSON document.
#[tokio::test]
async fn logs_go_to_stderr_and_leave_json_output_intact() {
    let anvil = TestAnvil::spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = anvil.private_key_hex(0);
    let url = anvil.endpoint();

    let out = seed_eth(
        dir.path(),
        &["--json", "deploy", "--rpc-url", &url],
        &[("SEED_ETH_PRIVATE_KEY", &key), ("SEED_ETH_LOG", "info")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let transactions = report["transactions"].as_array().unwrap();
    let mined = stderr(&out).matches("transaction mined").count();
    assert_eq!(
        mined,
        transactions.len(),
        "one log line per transaction: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains(transactions[0]["tx"].as_str().unwrap()));

    // Without the variable nothing but warnings is logged.
    let quiet = seed_eth(
        dir.path(),
        &[
            "--json",
            "deploy",
            "--rpc-url",
            &url,
            "--deployment",
            "quiet.json",
        ],
        &[("SEED_ETH_PRIVATE_KEY", &key)],
    );
    assert_eq!(quiet.status.code(), Some(0), "{}", stderr(&quiet));
    assert!(!stderr(&quiet).contains("transaction mined"));
}
