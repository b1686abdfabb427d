//! `seed-eth attest`: sign the build statement, attach it to the image, and
//! vote on-chain (or sign the vote for a relayer with `--sign-only`).
//!
//! Order matters for failing closed and for idempotency: every input is
//! checked offline first, then the key, then (with `eth_call`) that the key is
//! an active builder and the system is required, then whether this builder
//! already voted. Only then is anything written to a registry or the chain.

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use eyre::{eyre, WrapErr};
use seed_chain::{
    keys::{load_signer, KeySources, TerminalPrompt},
    release_status,
    vote::{builder_state, hash_vote_on_chain, prior_vote, required_systems, send_attest},
    BuilderState, Chain, ChainSettings, PriorVote, Target, Vote,
};
use seed_oci::{OciError, RegistryClient, Repository, SIGNED_VOTE_REFERRER};
use seed_statement::{Builder, BuilderKey, RegisteredBuilder, SignedStatement, Timestamp};
use serde_json::{json, Value};

use super::{
    build_inputs::{gather, BuildInputs},
    chain::{block_on, config_file, failure, overrides, settings},
    credulous,
    oci::{registry_client, registry_failure},
    vote_file::{self, VoteFile},
};
use crate::{
    cli::{AttestArgs, Posture},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Gathers the inputs, then attests (or signs for a relayer).
pub fn run(args: &AttestArgs) -> Outcome {
    if args.posture.posture == Posture::Credulous {
        return credulous::attest(args);
    }
    let file = config_file(&args.chain)?;
    let inputs = gather(args, |name| std::env::var(name).ok(), &file)?;
    // Only a push needs the registry; a bad registry configuration fails before anything is signed.
    let oci = match args.no_push {
        true => None,
        false => Some(registry_client(&args.plain_http, &file).map_err(oci_failure)?),
    };
    let oci = oci.as_ref();
    let mut chain_overrides = overrides(&args.chain);
    chain_overrides.registry = args.registry;
    chain_overrides.keystore = args.keystore.clone();
    let rpc_configured = chain_overrides.rpc_url.is_some() || file.rpc_url.is_some();
    if args.sign_only.is_some() && !rpc_configured {
        // Offline signing: the deployment must be named, since nothing can be looked up.
        let chain_id = args.chain.chain_id.or(file.chain_id);
        let registry = args.registry.or(file.registry);
        let (Some(chain_id), Some(registry)) = (chain_id, registry) else {
            return Err(Failure::usage(eyre!(
                "--sign-only without an RPC endpoint needs --chain-id and --registry (or give --rpc-url to look them up and cross-check)"
            )));
        };
        // A keystore path in the file is relative to the file, as for every other command.
        let keystore_file = file.keystore.as_ref().map(|path| {
            match file.origin.as_deref().and_then(Path::parent) {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.clone(),
            }
        });
        let keys = KeySources {
            keystore_flag: args.keystore.clone(),
            keystore_file,
        };
        let signer = load_key(&keys)?;
        return block_on(async {
            sign_only(args, &inputs, &signer, oci, None, chain_id, registry).await
        });
    }
    let settings = settings(chain_overrides, &file)?;
    let signer = load_key(&settings.keys)?;
    block_on(online(args, &inputs, &settings, signer, oci))
}

fn load_key(keys: &KeySources) -> Result<PrivateKeySigner, Failure> {
    load_signer(keys, |name| std::env::var(name).ok(), &TerminalPrompt).map_err(failure)
}

async fn online(
    args: &AttestArgs,
    inputs: &BuildInputs,
    settings: &ChainSettings,
    signer: PrivateKeySigner,
    oci: Option<&RegistryClient>,
) -> Outcome {
    let chain = settings
        .connect(|b| b.signer(signer.clone()))
        .await
        .map_err(failure)?;
    let target = settings.open(&chain).await.map_err(failure)?;
    let builder_id = check_builder(&chain, target.registry, signer.address()).await?;
    check_system(&chain, target.registry, inputs).await?;
    if args.sign_only.is_some() {
        return sign_only(
            args,
            inputs,
            &signer,
            oci,
            Some(&chain),
            chain.chain_id(),
            target.registry,
        )
        .await;
    }
    let probe = vote_of(inputs, signer.address(), B256::ZERO, 0);
    match prior_vote(
        &chain,
        &target,
        signer.address(),
        builder_id,
        &probe,
        settings.log_chunk,
    )
    .await
    .map_err(failure)?
    {
        PriorVote::None => {}
        PriorVote::Same { statement_digest } => {
            return already_voted(&chain, &target, settings, inputs, statement_digest).await
        }
        PriorVote::Conflict { earlier } => return Ok(conflict(inputs, signer.address(), earlier)),
    }
    let signed = sign_statement(inputs, &signer, chain.chain_id(), target.registry)?;
    let pushed = publish(args, inputs, &signed, oci).await?;
    let vote = vote_of(inputs, signer.address(), signed.digest().as_b256(), 0);
    let receipt = send_attest(&chain, target.registry, &vote)
        .await
        .map_err(failure)?;
    let status = release_status(&chain, &target, inputs.commit, settings.log_chunk)
        .await
        .map_err(failure)?;
    let progress = progress(&status, inputs);
    let text = format!(
        "attested {} {} manifest {} statement {} in tx {} (block {})\n{}",
        inputs.commit,
        inputs.system,
        inputs.manifest,
        signed.digest(),
        receipt.transaction_hash,
        receipt.block_number.unwrap_or_default(),
        progress.0
    );
    Ok(Report {
        code: ExitCode::Ok,
        text,
        json: json!({
            "sent": true,
            "commit": inputs.commit.to_string(),
            "system": inputs.system.to_string(),
            "builder": signer.address().to_checksum(None),
            "builderId": builder_id,
            "manifestDigest": inputs.manifest.to_string(),
            "image": inputs.image.to_string(),
            "statementDigest": signed.digest().to_string(),
            "referrer": pushed,
            "tx": receipt.transaction_hash,
            "block": receipt.block_number,
            "progress": progress.1,
        }),
    })
}

/// The builder id of `signer`, or exit 2 naming the address when it is not an active builder.
async fn check_builder(chain: &Chain, registry: Address, signer: Address) -> Result<u8, Failure> {
    match builder_state(chain, registry, signer).await.map_err(failure)? {
        BuilderState::Active(id) => Ok(id),
        BuilderState::Revoked(id) => Err(Failure::usage(eyre!(
            "the key {signer} belongs to builder {id}, which is revoked in the registry {registry}; its votes no longer count"
        ))),
        BuilderState::Unregistered => Err(Failure::usage(eyre!(
            "the key {signer} is not a registered builder of the registry {registry} on chain {}; use the builder's key (SEED_ETH_PRIVATE_KEY or --keystore) or have governance add it",
            chain.chain_id()
        ))),
    }
}

/// Exit 2 with the required list when the system is not required (the registry would revert).
async fn check_system(
    chain: &Chain,
    registry: Address,
    inputs: &BuildInputs,
) -> Result<(), Failure> {
    let required = required_systems(chain, registry).await.map_err(failure)?;
    if required.iter().any(|s| s == inputs.system.as_str()) {
        return Ok(());
    }
    Err(Failure::usage(eyre!(
        "system {} is not required by the registry {registry}; required systems: {}",
        inputs.system,
        required.join(", ")
    )))
}

fn vote_of(inputs: &BuildInputs, signer: Address, statement: B256, deadline: u64) -> Vote {
    Vote {
        signer,
        commit: inputs.commit.to_b256(),
        system: inputs.system.as_str().to_owned(),
        manifestDigest: inputs.manifest.as_b256(),
        imageDigest: inputs.image.digest().as_b256(),
        statementDigest: statement,
        deadline,
    }
}

fn sign_statement(
    inputs: &BuildInputs,
    signer: &PrivateKeySigner,
    chain_id: u64,
    registry: Address,
) -> Result<SignedStatement, Failure> {
    let key = BuilderKey::from_bytes(&signer.to_bytes().0).map_err(Failure::usage)?;
    let statement = inputs.statement(Builder::Registered(RegisteredBuilder {
        address: signer.address(),
        chain_id,
        registry,
    }))?;
    seed_statement::sign(&statement, &key).map_err(Failure::usage)
}

/// Writes `--statement-out` and attaches the envelope to the image when a registry client is
/// given (none with `--no-push`); returns the referrer digest when pushed.
async fn publish(
    args: &AttestArgs,
    inputs: &BuildInputs,
    signed: &SignedStatement,
    oci: Option<&RegistryClient>,
) -> Result<Option<String>, Failure> {
    if let Some(path) = &args.statement_out {
        write_file(path, signed.bytes())?;
    }
    let Some(client) = oci else {
        return Ok(None);
    };
    let repo = Repository::from(&inputs.image);
    let attached = client
        .attach_statement(&repo, &inputs.image.digest(), signed.bytes())
        .await
        .map_err(oci_failure)?;
    Ok(Some(attached.referrer.to_string()))
}

/// A registry error while attaching the statement.
pub(super) fn oci_failure(error: OciError) -> Failure {
    registry_failure(
        error,
        "attaching the statement to the image (--no-push skips it)",
    )
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    seed_fs::write_atomic(path, bytes)
        .wrap_err_with(|| format!("writing {}", path.display()))
        .map_err(Failure::usage)
}

/// `--sign-only`: statement, referrer, EIP-712 signature, vote file.
async fn sign_only(
    args: &AttestArgs,
    inputs: &BuildInputs,
    signer: &PrivateKeySigner,
    oci: Option<&RegistryClient>,
    chain: Option<&Chain>,
    chain_id: u64,
    registry: Address,
) -> Outcome {
    let out = args
        .sign_only
        .clone()
        .ok_or_else(|| Failure::usage(eyre!("--sign-only FILE is required here")))?;
    let signed = sign_statement(inputs, signer, chain_id, registry)?;
    let pushed = publish(args, inputs, &signed, oci).await?;
    let deadline = Timestamp::now()
        .unix_seconds()
        .saturating_add(args.valid_for);
    let vote = vote_of(
        inputs,
        signer.address(),
        signed.digest().as_b256(),
        deadline,
    );
    let local = vote.signing_hash(chain_id, registry);
    if let Some(chain) = chain {
        let remote = hash_vote_on_chain(chain, registry, &vote)
            .await
            .map_err(failure)?;
        if remote != local {
            return Err(Failure {
                code: ExitCode::Network,
                error: eyre!("the registry {registry} hashes this vote to {remote} but seed-eth computes {local}; the contract is not the SeedRegistry this client signs for"),
            });
        }
    }
    let signature = vote.sign(signer, chain_id, registry).map_err(failure)?;
    let envelope_path = envelope_path(&out);
    write_file(&envelope_path, signed.bytes())?;
    let relative = envelope_path
        .file_name()
        .map_or_else(|| envelope_path.clone(), PathBuf::from);
    let file = VoteFile::new(&vote, signature, chain_id, registry, relative);
    let bytes = vote_file::encode(&file).map_err(Failure::usage)?;
    vote_file::write(&out, &bytes).map_err(Failure::usage)?;
    let vote_referrer = publish_vote(inputs, &bytes, oci).await?;
    let json: Value = serde_json::to_value(&file).unwrap_or_default();
    let attached = vote_referrer
        .as_ref()
        .map(|r| format!("; attached to the image as referrer {r}"))
        .unwrap_or_default();
    Ok(Report {
        code: ExitCode::Ok,
        text: format!(
            "signed vote for {} {} manifest {} (valid until unix {deadline}, cross-checked with hashVote: {}) written to {}{attached}; statement {} in {}\n",
            inputs.commit,
            inputs.system,
            inputs.manifest,
            chain.is_some(),
            out.display(),
            signed.digest(),
            envelope_path.display()
        ),
        json: json!({
            "sent": false,
            "voteFile": out,
            "vote": json,
            "referrer": pushed,
            "voteReferrer": vote_referrer,
            "crossChecked": chain.is_some(),
        }),
    })
}

/// Attaches the signed vote to the image beside its statement, so that `relay --image` finds it
/// (none with `--no-push`); returns the referrer digest when pushed.
async fn publish_vote(
    inputs: &BuildInputs,
    vote: &[u8],
    oci: Option<&RegistryClient>,
) -> Result<Option<String>, Failure> {
    let Some(client) = oci else {
        return Ok(None);
    };
    let attached = client
        .attach_blob(
            &Repository::from(&inputs.image),
            &inputs.image.digest(),
            SIGNED_VOTE_REFERRER,
            vote,
        )
        .await
        .map_err(|e| {
            registry_failure(
                e,
                "attaching the signed vote to the image (--no-push skips it)",
            )
        })?;
    Ok(Some(attached.referrer.to_string()))
}

/// `vote.json` → `vote.dsse.json`, next to the vote file.
fn envelope_path(vote_file: &Path) -> PathBuf {
    vote_file.with_extension("dsse.json")
}

async fn already_voted(
    chain: &Chain,
    target: &Target,
    settings: &ChainSettings,
    inputs: &BuildInputs,
    statement: Option<B256>,
) -> Outcome {
    let status = release_status(chain, target, inputs.commit, settings.log_chunk)
        .await
        .map_err(failure)?;
    let progress = progress(&status, inputs);
    let statement = statement.map(|d| format!("sha256:{}", alloy::hex::encode(d)));
    Ok(Report {
        code: ExitCode::Ok,
        text: format!(
            "already attested: {} {} manifest {} (statement {}); nothing sent\n{}",
            inputs.commit,
            inputs.system,
            inputs.manifest,
            statement.as_deref().unwrap_or("unknown"),
            progress.0
        ),
        json: json!({
            "sent": false,
            "alreadyVoted": true,
            "commit": inputs.commit.to_string(),
            "system": inputs.system.to_string(),
            "manifestDigest": inputs.manifest.to_string(),
            "statementDigest": statement,
            "progress": progress.1,
        }),
    })
}

fn conflict(inputs: &BuildInputs, signer: Address, earlier: B256) -> Report {
    let earlier = format!("sha256:{}", alloy::hex::encode(earlier));
    Report {
        code: ExitCode::CheckFailed,
        text: format!(
            "CONFLICT: builder {signer} already voted manifest {earlier} for {} {}, but this build's manifest is {}; a builder gets one vote per release and system, nothing sent\n",
            inputs.commit, inputs.system, inputs.manifest
        ),
        json: json!({
            "sent": false,
            "conflict": true,
            "commit": inputs.commit.to_string(),
            "system": inputs.system.to_string(),
            "earlierManifestDigest": earlier,
            "manifestDigest": inputs.manifest.to_string(),
        }),
    }
}

/// One line and a JSON object about the attested system's quorum and the release.
pub fn progress(status: &seed_chain::ReleaseStatus, inputs: &BuildInputs) -> (String, Value) {
    let system = status
        .systems
        .iter()
        .find(|s| s.system == inputs.system.as_str());
    let votes = system.map_or(0, |s| {
        s.candidates
            .iter()
            .find(|c| c.manifest_digest == inputs.manifest.as_b256())
            .map_or(0, |c| c.active_voters.len())
    });
    let quorum = system.is_some_and(|s| s.quorum_reached);
    let line = format!(
        "  {}: {votes} of {} votes for this manifest{}; release {}\n",
        inputs.system,
        status.threshold,
        if quorum { ", quorum reached" } else { "" },
        if status.is_finalised() {
            "FINALISED"
        } else {
            "not finalised"
        }
    );
    (
        line,
        json!({
            "votes": votes,
            "threshold": status.threshold,
            "quorumReached": quorum,
            "finalised": status.is_finalised(),
        }),
    )
}
