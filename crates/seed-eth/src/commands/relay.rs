//! `seed-eth relay FILE...`: submit builder-signed votes in one `attestBatch`.
//!
//! Every file is checked before anything is sent, because one bad vote would
//! revert the whole batch and cost the relayer gas: the signature must
//! recover to the signer over this deployment's EIP-712 domain, the deadline
//! must not have passed, chain id and registry must be the target's, the
//! signer must be an active builder and the system required. Identical
//! duplicates and votes the registry already counted are dropped.

use std::fmt::Write as _;

use alloy::primitives::{Address, B256};
use eyre::eyre;
use seed_chain::{
    keys::{load_signer, TerminalPrompt},
    vote::{attested_in, builder_state, prior_vote, required_systems, send_batch},
    BuilderState, Chain, PriorVote, Target,
};
use seed_statement::Timestamp;
use serde_json::{json, Value};

use super::{
    chain::{block_on, config_file, failure, overrides, settings},
    vote_file::{self, LoadedVote},
};
use crate::{
    cli::RelayArgs,
    exit::ExitCode,
    output::{count, Failure, Outcome, Report},
};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// In the batch.
    Submitted,
    /// The same vote as an earlier file.
    Duplicate,
    /// The registry already has this builder's identical vote.
    AlreadyCounted,
}

impl Disposition {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Duplicate => "duplicate",
            Self::AlreadyCounted => "already counted",
        }
    }
}

/// Reads every file, checks every vote, and sends the rest in one transaction.
pub fn run(args: &RelayArgs) -> Outcome {
    let mut votes = Vec::new();
    for path in &args.files {
        let loaded = vote_file::load(path)
            .map_err(|e| Failure::usage(e.wrap_err(format!("signed vote {}", path.display()))))?;
        votes.push(loaded);
    }
    let file = config_file(&args.chain)?;
    let mut chain_overrides = overrides(&args.chain);
    chain_overrides.registry = args.registry;
    chain_overrides.keystore = args.keystore.clone();
    let settings = settings(chain_overrides, &file)?;
    let signer = load_signer(
        &settings.keys,
        |name| std::env::var(name).ok(),
        &TerminalPrompt,
    )
    .map_err(failure)?;
    block_on(async {
        let chain = settings
            .connect(|b| b.signer(signer))
            .await
            .map_err(failure)?;
        let target = settings.open(&chain).await.map_err(failure)?;
        let required = required_systems(&chain, target.registry)
            .await
            .map_err(failure)?;
        let now = latest_time(&chain).await?;
        let mut dispositions = Vec::new();
        for (index, loaded) in votes.iter().enumerate() {
            let reject = |reason: String| {
                Failure::usage(eyre!(
                    "signed vote {} rejected, nothing sent: {reason}",
                    loaded.path.display()
                ))
            };
            check_static(loaded, &chain, target.registry, now, &required).map_err(reject)?;
            if let Some(earlier) = votes[..index].iter().find(|v| same_slot(v, loaded)) {
                if earlier.vote.manifestDigest != loaded.vote.manifestDigest {
                    return Err(reject(format!(
                        "{} signed another manifest digest for the same release and system in {}",
                        loaded.vote.signer,
                        earlier.path.display()
                    )));
                }
                dispositions.push(Disposition::Duplicate);
                continue;
            }
            dispositions.push(
                check_on_chain(loaded, &chain, &target, settings.log_chunk)
                    .await?
                    .map_err(reject)?,
            );
        }
        let batch: Vec<_> = votes
            .iter()
            .zip(&dispositions)
            .filter(|(_, d)| **d == Disposition::Submitted)
            .map(|(v, _)| v.vote.with_signature(v.file.signature.clone()))
            .collect();
        let receipt = if batch.is_empty() {
            None
        } else {
            Some(
                send_batch(&chain, target.registry, batch)
                    .await
                    .map_err(failure)?,
            )
        };
        Ok(report(
            &votes,
            &dispositions,
            receipt.as_ref(),
            target.registry,
        ))
    })
}

/// The later of the local clock and the latest block's timestamp: the registry compares the
/// deadline with the block's time, and a vote about to expire is refused rather than sent.
async fn latest_time(chain: &Chain) -> Result<u64, Failure> {
    use alloy::providers::Provider;
    let block = chain
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .map_err(|e| failure(chain.rpc_error("reading the latest block", e)))?
        .ok_or_else(|| failure(chain.rpc_error("reading the latest block", "no block")))?;
    Ok(block.header.timestamp.max(Timestamp::now().unix_seconds()))
}

/// Checks that need no more than the file and the target.
fn check_static(
    loaded: &LoadedVote,
    chain: &Chain,
    registry: Address,
    now: u64,
    required: &[String],
) -> Result<(), String> {
    let file = &loaded.file;
    if file.chain_id != chain.chain_id() {
        return Err(format!(
            "it is signed for chain {} but the endpoint {} serves chain {}",
            file.chain_id,
            chain.url(),
            chain.chain_id()
        ));
    }
    if file.registry != registry {
        return Err(format!(
            "it is signed for the registry {} but the target registry is {registry}",
            file.registry
        ));
    }
    if file.deadline <= now {
        return Err(format!(
            "its deadline {} has passed (now {now}); have the builder sign again",
            file.deadline
        ));
    }
    let recovered = loaded
        .vote
        .recover(&file.signature, file.chain_id, file.registry);
    if recovered != Some(file.signer) {
        return Err(format!(
            "the signature does not recover to its signer {} (it recovers to {}); the file was altered or signed for other values",
            file.signer,
            recovered.map_or_else(|| "nothing".to_owned(), |a| a.to_string())
        ));
    }
    if !required.contains(&loaded.vote.system) {
        return Err(format!(
            "system {} is not required; required systems: {}",
            loaded.vote.system,
            required.join(", ")
        ));
    }
    Ok(())
}

fn same_slot(a: &LoadedVote, b: &LoadedVote) -> bool {
    a.vote.signer == b.vote.signer
        && a.vote.commit == b.vote.commit
        && a.vote.system == b.vote.system
}

/// Checks against the registry: the signer is an active builder and has not voted otherwise.
/// The outer error is a network failure, the inner one a reason to reject the file.
async fn check_on_chain(
    loaded: &LoadedVote,
    chain: &Chain,
    target: &Target,
    log_chunk: u64,
) -> Result<Result<Disposition, String>, Failure> {
    let signer = loaded.vote.signer;
    let id = match builder_state(chain, target.registry, signer)
        .await
        .map_err(failure)?
    {
        BuilderState::Active(id) => id,
        BuilderState::Revoked(id) => {
            return Ok(Err(format!(
                "its signer {signer} (builder {id}) is revoked"
            )))
        }
        BuilderState::Unregistered => {
            return Ok(Err(format!(
                "its signer {signer} is not a registered builder"
            )))
        }
    };
    Ok(
        match prior_vote(chain, target, signer, id, &loaded.vote, log_chunk)
            .await
            .map_err(failure)?
        {
            PriorVote::None => Ok(Disposition::Submitted),
            PriorVote::Same { .. } => Ok(Disposition::AlreadyCounted),
            PriorVote::Conflict { earlier } => Err(format!(
                "builder {signer} already voted manifest {} on-chain; this vote says {}",
                oci(earlier),
                oci(loaded.vote.manifestDigest)
            )),
        },
    )
}

fn oci(digest: B256) -> String {
    format!("sha256:{}", alloy::hex::encode(digest))
}

fn report(
    votes: &[LoadedVote],
    dispositions: &[Disposition],
    receipt: Option<&alloy::rpc::types::TransactionReceipt>,
    registry: Address,
) -> Report {
    let mut text = String::new();
    let attested = receipt
        .map(|r| attested_in(r, registry))
        .unwrap_or_default();
    let mut entries: Vec<Value> = Vec::new();
    for (loaded, disposition) in votes.iter().zip(dispositions) {
        let _ = writeln!(
            text,
            "{}: {} {} {} by {}: {}",
            loaded.path.display(),
            loaded.file.commit,
            loaded.file.system,
            loaded.file.manifest_digest,
            loaded.vote.signer,
            disposition.as_str()
        );
        entries.push(json!({
            "file": loaded.path,
            "signer": loaded.vote.signer.to_checksum(None),
            "commit": loaded.file.commit,
            "system": loaded.file.system,
            "manifestDigest": loaded.file.manifest_digest,
            "result": disposition.as_str(),
        }));
    }
    match receipt {
        Some(r) => {
            let _ = writeln!(
                text,
                "attestBatch tx {} (block {}): {} recorded",
                r.transaction_hash,
                r.block_number.unwrap_or_default(),
                count(attested.len(), "vote", "votes")
            );
        }
        None => {
            let _ = writeln!(text, "nothing to send");
        }
    }
    Report {
        code: ExitCode::Ok,
        text,
        json: json!({
            "votes": entries,
            "tx": receipt.map(|r| r.transaction_hash),
            "block": receipt.and_then(|r| r.block_number),
            "recorded": attested.len(),
        }),
    }
}
