//! `seed-eth relay [FILE...] [--image REF...]`: submit builder-signed votes in
//! one transaction, from files or from the referrers `attest --sign-only`
//! attached to the images.
//!
//! Every file is checked before anything is sent, because one bad vote would
//! revert the whole transaction and cost the relayer gas: the signature must
//! recover to the signer over this deployment's EIP-712 domain, the deadline
//! must not have passed, chain id and registry must be the target's, the
//! signer must be an active builder and the system required. Identical
//! duplicates and votes the registry already counted are dropped. A file that
//! fails a check is refused and nothing is sent; a vote found on an image is
//! skipped with the reason instead, since whoever can push to the repository
//! can attach anything there (the registry only ever counts a builder's
//! signature, whoever relays it).
//!
//! When the votes are one release's and, with its stored votes, give every
//! required system a quorum for one digest, they finalise it in one
//! `finalise` call, which stores no vote (D-055: about a third of the gas).
//! Otherwise they go in one `attestBatch`, and the report says why.

use std::fmt::Write as _;

use alloy::{
    primitives::{Address, B256},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use eyre::{eyre, WrapErr};
use seed_chain::{
    bindings::{ISeedRegistry, SeedRegistry},
    keys::{load_signer, TerminalPrompt},
    vote::{
        attested_in, builder_state, prior_vote, quorum_rules, required_systems, send_batch,
        send_finalise, voters_for,
    },
    BuilderState, Chain, ChainSettings, PriorVote, Target,
};
use seed_nix::ImageRef;
use seed_oci::{OciError, RegistryClient, Repository, SIGNED_VOTE_REFERRER};
use seed_statement::Timestamp;
use serde_json::{json, Value};

use super::{
    chain::{block_on, config_file, failure, overrides, settings},
    oci::{registry_client, registry_failure},
    vote_file::{self, LoadedVote, VoteSource},
};
use crate::{
    cli::{RelayArgs, RelayerArgs},
    exit::ExitCode,
    output::{count, Failure, Outcome, Report},
};

/// What happened to one vote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Disposition {
    /// In the batch.
    Submitted,
    /// The same vote as an earlier one.
    Duplicate,
    /// The registry already has this builder's identical vote.
    AlreadyCounted,
    /// Found on an image but not relayable here, for this reason.
    Skipped(String),
}

impl Disposition {
    const fn as_str(&self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Duplicate => "duplicate",
            Self::AlreadyCounted => "already counted",
            Self::Skipped(_) => "skipped",
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Self::Skipped(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Reads every file and the votes attached to every image, checks every vote, and sends the
/// rest in one transaction.
pub fn run(args: &RelayArgs) -> Outcome {
    let mut votes = Vec::new();
    for path in &args.files {
        let loaded = vote_file::load(path)
            .map_err(|e| Failure::usage(e.wrap_err(format!("signed vote {}", path.display()))))?;
        votes.push(loaded);
    }
    let images = args
        .image
        .iter()
        .map(|image| {
            image
                .parse::<ImageRef>()
                .wrap_err_with(|| format!("--image {image}"))
                .map_err(Failure::usage)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let oci = match images.is_empty() {
        true => None,
        false => {
            let file = config_file(&args.relayer.chain)?;
            Some(
                registry_client(&args.plain_http, &file)
                    .map_err(|e| registry_failure(e, "setting up the OCI registry client"))?,
            )
        }
    };
    let (settings, signer) = relayer(&args.relayer)?;
    block_on(async {
        let mut unreadable = Vec::new();
        if let Some(client) = &oci {
            for image in &images {
                for found in votes_on(client, image).await? {
                    match found {
                        Ok(loaded) => votes.push(loaded),
                        Err(skipped) => unreadable.push(skipped),
                    }
                }
            }
        }
        let (chain, target) = connect(&settings, signer).await?;
        let required = required_systems(&chain, target.registry)
            .await
            .map_err(failure)?;
        let now = latest_time(&chain).await?;
        let mut dispositions: Vec<Disposition> = Vec::new();
        let mut builders = Vec::new();
        for (index, loaded) in votes.iter().enumerate() {
            let discovered = matches!(loaded.source, VoteSource::Referrer { .. });
            let reject = |reason: String| {
                Failure::usage(eyre!(
                    "signed vote {} rejected, nothing sent: {reason}",
                    loaded.source
                ))
            };
            let outcome = match check_static(loaded, &chain, target.registry, now, &required) {
                Err(reason) => Err(reason),
                Ok(()) => match earlier_in_slot(&votes[..index], &dispositions, loaded) {
                    Some(earlier) if earlier.vote.manifestDigest != loaded.vote.manifestDigest => {
                        return Err(reject(format!(
                            "{} signed another manifest digest for the same release and system in {} (an equivocation: `seed-eth report-equivocation` takes both as proof)",
                            loaded.vote.signer, earlier.source
                        )));
                    }
                    Some(_) => Ok((Disposition::Duplicate, 0)),
                    None => check_on_chain(loaded, &chain, &target, settings.log_chunk).await?,
                },
            };
            // A vote found on an image that fails a check is skipped; a file is refused.
            let (disposition, builder) = match outcome {
                Ok(checked) => checked,
                Err(reason) if discovered => (Disposition::Skipped(reason), 0),
                Err(reason) => return Err(reject(reason)),
            };
            dispositions.push(disposition);
            builders.push(builder);
        }
        let checked: Vec<Checked<'_>> = votes
            .iter()
            .zip(&dispositions)
            .zip(&builders)
            .filter(|((_, d), _)| matches!(d, Disposition::Submitted | Disposition::AlreadyCounted))
            .map(|((loaded, d), b)| Checked {
                loaded,
                builder: *b,
                to_send: *d == Disposition::Submitted,
            })
            .collect();
        if !checked.iter().any(|c| c.to_send) {
            return Ok(report(
                &votes,
                &dispositions,
                &unreadable,
                None,
                target.registry,
            ));
        }
        let sent = match plan_finalise(&chain, target.registry, &checked, &required).await? {
            Ok(plan) => Sent {
                receipt: send_finalise(
                    &chain,
                    target.registry,
                    plan.commit,
                    plan.digests,
                    plan.votes,
                )
                .await
                .map_err(failure)?,
                batch_because: None,
            },
            Err(because) => {
                let batch = checked
                    .iter()
                    .filter(|c| c.to_send)
                    .map(|c| {
                        c.loaded
                            .vote
                            .with_signature(c.loaded.file.signature.clone())
                    })
                    .collect();
                Sent {
                    receipt: send_batch(&chain, target.registry, batch)
                        .await
                        .map_err(failure)?,
                    batch_because: Some(because),
                }
            }
        };
        Ok(report(
            &votes,
            &dispositions,
            &unreadable,
            Some(&sent),
            target.registry,
        ))
    })
}

/// A vote that passed every check and is not a duplicate of an earlier one.
struct Checked<'a> {
    loaded: &'a LoadedVote,
    /// Its signer's builder id.
    builder: u8,
    /// Not stored on chain yet.
    to_send: bool,
}

/// One release finalised in one call: a digest per required system and the signed votes that,
/// with its stored votes, give each system its quorum.
struct FinalisePlan {
    commit: B256,
    digests: Vec<B256>,
    votes: Vec<ISeedRegistry::CompactVote>,
}

/// The transaction sent, and why it is a batch when it is one.
struct Sent {
    receipt: TransactionReceipt,
    batch_because: Option<String>,
}

/// Plans `finalise` when the votes to send are one release's and, with the votes the registry
/// holds, give every required system a quorum for the one digest the votes name; otherwise the
/// inner error says why a batch is sent instead.
async fn plan_finalise(
    chain: &Chain,
    registry: Address,
    checked: &[Checked<'_>],
    required: &[String],
) -> Result<Result<FinalisePlan, String>, Failure> {
    let mut commits: Vec<B256> = checked.iter().map(|c| c.loaded.vote.commit).collect();
    commits.sort_unstable();
    commits.dedup();
    let [commit] = commits[..] else {
        return Ok(Err(format!("the votes are for {} releases", commits.len())));
    };
    let rules = quorum_rules(chain, registry, commit)
        .await
        .map_err(failure)?;
    if rules.finalised {
        return Ok(Err(
            "the release is final already: these are late votes".to_owned()
        ));
    }
    let mut digests = Vec::with_capacity(required.len());
    let mut compact = Vec::new();
    for (index, system) in required.iter().enumerate() {
        let on_system: Vec<&Checked<'_>> = checked
            .iter()
            .filter(|c| c.loaded.vote.system == *system)
            .collect();
        let Some(first) = on_system.first() else {
            return Ok(Err(format!("no vote for {system}")));
        };
        let digest = first.loaded.vote.manifestDigest;
        if on_system
            .iter()
            .any(|c| c.loaded.vote.manifestDigest != digest)
        {
            return Ok(Err(format!("the builders disagree on {system}")));
        }
        let stored = voters_for(chain, registry, commit, system, digest)
            .await
            .map_err(failure)?;
        let voters = on_system
            .iter()
            .fold(stored, |voters, c| voters | 1 << c.builder);
        if !rules.quorate(voters) {
            return Ok(Err(format!(
                "{system} would have {} of the {} votes it needs",
                (voters & rules.active & !rules.equivocators).count_ones(),
                rules.threshold
            )));
        }
        let index = u8::try_from(index)
            .map_err(|_| Failure::usage(eyre!("the registry requires more than 255 systems")))?;
        for c in on_system.iter().filter(|c| c.to_send) {
            compact.push(
                c.loaded
                    .vote
                    .compact(&c.loaded.file.signature, index, c.builder)
                    .map_err(failure)?,
            );
        }
        digests.push(digest);
    }
    compact.sort_by_key(|v| (v.systemIndex, v.builderId));
    Ok(Ok(FinalisePlan {
        commit,
        digests,
        votes: compact,
    }))
}

/// The chain settings and the relayer's key, which pays: `--registry` and `--keystore` over the
/// chain flags and seed-eth.toml.
pub(super) fn relayer(args: &RelayerArgs) -> Result<(ChainSettings, PrivateKeySigner), Failure> {
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
    Ok((settings, signer))
}

/// The endpoint, sending as the relayer, and the deployment it serves.
pub(super) async fn connect(
    settings: &ChainSettings,
    signer: PrivateKeySigner,
) -> Result<(Chain, Target), Failure> {
    let chain = settings
        .connect(|b| b.signer(signer))
        .await
        .map_err(failure)?;
    let target = settings.open(&chain).await.map_err(failure)?;
    Ok((chain, target))
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

/// The earlier vote (not skipped) of the same builder on the same release and system.
fn earlier_in_slot<'a>(
    earlier: &'a [LoadedVote],
    dispositions: &[Disposition],
    loaded: &LoadedVote,
) -> Option<&'a LoadedVote> {
    earlier
        .iter()
        .zip(dispositions)
        .find(|(v, d)| !matches!(d, Disposition::Skipped(_)) && same_slot(v, loaded))
        .map(|(v, _)| v)
}

/// The signed votes attached to `image` by `attest --sign-only`. A referrer that is not a
/// well-formed vote file is returned as skipped, with the reason; a registry that cannot answer
/// fails the command.
async fn votes_on(
    client: &RegistryClient,
    image: &ImageRef,
) -> Result<Vec<Result<LoadedVote, Unreadable>>, Failure> {
    let repo = Repository::from(image);
    let reading = || format!("reading the signed votes attached to {image}");
    let referrers = client
        .list_referrers(
            &repo,
            &image.digest(),
            Some(SIGNED_VOTE_REFERRER.artifact_type),
        )
        .await
        .map_err(|e| registry_failure(e, reading()))?;
    let mut found = Vec::with_capacity(referrers.len());
    for descriptor in referrers {
        let referrer = descriptor
            .sha256()
            .map_err(|e| registry_failure(e, reading()))?;
        let source = VoteSource::Referrer {
            image: image.to_string(),
            referrer,
        };
        let fetched = match client
            .fetch_blob_referrer(&repo, &image.digest(), &referrer, SIGNED_VOTE_REFERRER)
            .await
        {
            Ok(fetched) => fetched,
            Err(error @ OciError::Invalid { .. }) => {
                found.push(Err(Unreadable {
                    source,
                    reason: error.to_string(),
                }));
                continue;
            }
            Err(error) => return Err(registry_failure(error, reading())),
        };
        found.push(
            vote_file::parse(&fetched.bytes, source.clone()).map_err(|error| Unreadable {
                source,
                reason: format!("{error:#}"),
            }),
        );
    }
    Ok(found)
}

/// A referrer found on an image that is not a readable vote.
struct Unreadable {
    source: VoteSource,
    reason: String,
}

/// Checks against the registry: the signer is an active builder (whose id is returned) and has
/// not voted otherwise.
/// The outer error is a network failure, the inner one a reason to reject the file.
async fn check_on_chain(
    loaded: &LoadedVote,
    chain: &Chain,
    target: &Target,
    log_chunk: u64,
) -> Result<Result<(Disposition, u8), String>, Failure> {
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
            PriorVote::None => Ok((Disposition::Submitted, id)),
            PriorVote::Same { .. } => Ok((Disposition::AlreadyCounted, id)),
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

/// Where a reported vote came from: `file`, or `image` and `referrer`.
fn add_source(entry: &mut Value, source: &VoteSource) {
    match source {
        VoteSource::File(path) => entry["file"] = json!(path),
        VoteSource::Referrer { image, referrer } => {
            entry["image"] = json!(image);
            entry["referrer"] = json!(referrer.to_string());
        }
    }
}

fn report(
    votes: &[LoadedVote],
    dispositions: &[Disposition],
    unreadable: &[Unreadable],
    sent: Option<&Sent>,
    registry: Address,
) -> Report {
    let mut text = String::new();
    let receipt = sent.map(|s| &s.receipt);
    let attested = receipt
        .map(|r| attested_in(r, registry))
        .unwrap_or_default();
    let finalised = receipt.is_some_and(|r| {
        r.inner.logs().iter().any(|log| {
            log.address() == registry && log.log_decode::<SeedRegistry::ReleaseFinalised>().is_ok()
        })
    });
    let mut entries: Vec<Value> = Vec::new();
    for (loaded, disposition) in votes.iter().zip(dispositions) {
        let because = disposition
            .reason()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "{}: {} {} {} by {}: {}{because}",
            loaded.source,
            loaded.file.commit,
            loaded.file.system,
            loaded.file.manifest_digest,
            loaded.vote.signer,
            disposition.as_str()
        );
        let mut entry = json!({
            "signer": loaded.vote.signer.to_checksum(None),
            "commit": loaded.file.commit,
            "system": loaded.file.system,
            "manifestDigest": loaded.file.manifest_digest,
            "result": disposition.as_str(),
            "reason": disposition.reason(),
        });
        add_source(&mut entry, &loaded.source);
        entries.push(entry);
    }
    for skipped in unreadable {
        let _ = writeln!(text, "{}: skipped: {}", skipped.source, skipped.reason);
        let mut entry = json!({ "result": "skipped", "reason": skipped.reason });
        add_source(&mut entry, &skipped.source);
        entries.push(entry);
    }
    let call = sent.map(|s| {
        if s.batch_because.is_some() {
            "attestBatch"
        } else {
            "finalise"
        }
    });
    match (sent, call) {
        (Some(sent), Some(call)) => {
            let r = &sent.receipt;
            let _ = writeln!(
                text,
                "{call} tx {} (block {}): {} recorded{}",
                r.transaction_hash,
                r.block_number.unwrap_or_default(),
                count(attested.len(), "vote", "votes"),
                if finalised { ", release final" } else { "" }
            );
            if let Some(because) = &sent.batch_because {
                let _ = writeln!(text, "a batch, not finalise: {because}");
            }
        }
        _ => {
            let _ = writeln!(text, "nothing to send");
        }
    }
    Report {
        code: ExitCode::Ok,
        text,
        json: json!({
            "votes": entries,
            "call": call,
            "batchBecause": sent.and_then(|s| s.batch_because.clone()),
            "tx": receipt.map(|r| r.transaction_hash),
            "block": receipt.and_then(|r| r.block_number),
            "recorded": attested.len(),
            "finalised": finalised,
        }),
    }
}
