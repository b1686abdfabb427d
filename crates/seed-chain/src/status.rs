//! Where a release stands: every vote on it (from the registry's `Attested`
//! logs), the candidates per required system, who has not voted, whether the
//! threshold is reached, and whether the ledger has the release.
//!
//! Logs are always filtered by the registry's address as well as by topic, so
//! a contract that emits look-alike events cannot inject votes (EAS-sdk #132),
//! and they are fetched in bounded block ranges from the deployment block.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use seed_core::CommitId;
use serde::Serialize;

use crate::{
    bindings::SeedRegistry,
    chain::Chain,
    config::Target,
    deployment::checksummed,
    error::Result,
    events::{decode_attested, ledger_entry},
};

/// One builder's vote, as the `Attested` event recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// The builder's id.
    pub builder_id: u8,
    /// The key that voted.
    #[serde(serialize_with = "checksummed")]
    pub signer: Address,
    /// The closure-manifest digest: what quorum compares.
    #[serde(serialize_with = "oci_digest")]
    pub manifest_digest: B256,
    /// The builder's image digest.
    #[serde(serialize_with = "oci_digest")]
    pub image_digest: B256,
    /// The digest of the builder's signed statement.
    #[serde(serialize_with = "oci_digest")]
    pub statement_digest: B256,
    /// The block the vote is in.
    pub block: u64,
    /// The transaction that carried it.
    pub tx: Option<B256>,
}

/// The proof, on chain, that a builder signed two manifest digests for one system of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Equivocation {
    /// The builder.
    pub builder_id: u8,
    /// The system it signed both digests for (its id in hex if no vote or rule names it).
    pub system: String,
    /// One digest it signed.
    #[serde(serialize_with = "oci_digest")]
    pub first_digest: B256,
    /// The other.
    #[serde(serialize_with = "oci_digest")]
    pub second_digest: B256,
    /// The block of the report.
    pub block: u64,
}

/// One manifest digest proposed for a system and who voted for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The manifest digest.
    #[serde(serialize_with = "oci_digest")]
    pub manifest_digest: B256,
    /// Builders that voted for it.
    pub voters: Vec<u8>,
    /// Of those, the builders that count: still active, and not proven to equivocate on the
    /// release.
    pub active_voters: Vec<u8>,
    /// Whether those reach the threshold (the registry's rule, from the votes' events).
    pub quorum_reached: bool,
}

/// A builder referenced by id and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderRef {
    /// The builder's id.
    pub builder_id: u8,
    /// Its current signing key.
    #[serde(serialize_with = "checksummed")]
    pub signer: Address,
}

/// The state of one system of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatus {
    /// The Nix system.
    pub system: String,
    /// Whether the current rules require it.
    pub required: bool,
    /// Every vote, in chain order.
    pub votes: Vec<Vote>,
    /// Distinct manifest digests, most active voters first.
    pub candidates: Vec<Candidate>,
    /// More than one manifest digest was attested.
    pub disagreement: bool,
    /// Active builders that have not voted.
    pub missing: Vec<BuilderRef>,
    /// Some candidate has quorum.
    pub quorum_reached: bool,
    /// The digest the release finalised with, once final.
    #[serde(serialize_with = "oci_digest_opt")]
    pub finalised_digest: Option<B256>,
}

/// The ledger entry of a finalised release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finalisation {
    /// The release root.
    pub root: B256,
    /// The block it was recorded in.
    pub block: u64,
    /// The rule-set version that finalised it.
    pub rules_version: u32,
}

/// Where a release stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseStatus {
    /// The release's commit (as the `bytes32` the contracts use; printed as the git id).
    #[serde(serialize_with = "commit_id")]
    pub commit: B256,
    /// The registry asked.
    #[serde(serialize_with = "checksummed")]
    pub registry: Address,
    /// The ledger asked.
    #[serde(serialize_with = "checksummed")]
    pub ledger: Address,
    /// The block range scanned for votes.
    pub scanned_blocks: (u64, u64),
    /// `k`.
    pub quorum: u8,
    /// Votes needed per system now: every active builder before genesis, else `k`.
    pub threshold: u8,
    /// Whether the first release has been finalised.
    pub genesis_done: bool,
    /// The current rule-set version.
    pub rules_version: u32,
    /// Active builders.
    pub active_builders: Vec<BuilderRef>,
    /// Builders proven to have equivocated on this release (`reportEquivocation`): none of their
    /// votes counts toward it.
    pub equivocations: Vec<Equivocation>,
    /// Per system, required systems first (sorted), then any other system that has votes.
    pub systems: Vec<SystemStatus>,
    /// The ledger entry, once final.
    pub finalised: Option<Finalisation>,
}

impl ReleaseStatus {
    /// Whether the ledger records the release.
    pub fn is_finalised(&self) -> bool {
        self.finalised.is_some()
    }
}

/// Digests print in the OCI form `sha256:<hex>` that every other command uses.
fn oci_digest<S: serde::Serializer>(
    digest: &B256,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("sha256:{}", alloy::hex::encode(digest)))
}

fn oci_digest_opt<S: serde::Serializer>(
    digest: &Option<B256>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match digest {
        Some(digest) => oci_digest(digest, serializer),
        None => serializer.serialize_none(),
    }
}

fn commit_id<S: serde::Serializer>(
    word: &B256,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&CommitId::from_b256(*word).to_string())
}

/// The registry stamps a release with its finalisation block modulo this (D-050).
pub const STAMP_PERIOD: u64 = 1 << 29;

/// The latest block at or before `head` with the release's finalisation stamp (the block that
/// finalised it modulo 2^29, `finalisationStamp`, D-050); for a release 2^29 blocks old or more,
/// a multiple of 2^29 too late (the caller steps back). `None` for a release not final or not
/// stamped (finalised before stamps existed), an implementation without the view, or a block
/// outside the history; then the history is searched. What the endpoint names is only where to
/// look: the events found there are checked as before, and a wrong block finds none.
pub async fn stamped_block(chain: &Chain, target: &Target, commit: B256, head: u64) -> Option<u64> {
    let answer = SeedRegistry::new(target.registry, chain.provider())
        .finalisationStamp(commit)
        .block(alloy::eips::BlockId::number(head))
        .call()
        .await;
    match answer {
        Ok(stamp) if stamp != 0 => {
            let since = (head + STAMP_PERIOD - u64::from(stamp)) % STAMP_PERIOD;
            head.checked_sub(since)
                .filter(|block| *block >= target.from_block)
        }
        Ok(_) => None,
        Err(error) => {
            tracing::debug!(%error, "no finalisationStamp on the registry; searching its history");
            None
        }
    }
}

/// The logs of `address` matching `filter` in blocks `from..=to`, asked for
/// in ranges of at most `chunk` blocks.
///
/// Hosted endpoints cap `eth_getLogs` by range (5 to 10,000 blocks) or by
/// results (Infura: 10,000), and answer a wider query with a JSON-RPC error.
/// Such a refusal ([`is_size_refusal`]) of more than one block makes the range
/// smaller and the query is asked again: to the range the error suggests when
/// it names one (Alchemy and Infura do: `[0x…, 0x…]`), else half of it. The
/// size that was then answered is kept for the rest of the process (on the
/// [`Chain`], so every later scan starts there; it only ever shrinks), and the
/// first refusal is a WARN naming it, so `status`, `verify` and the keeper
/// work against a capped endpoint without tuning `--log-chunk`. Any other
/// error (the endpoint unreachable, a node error, a refusal of one block) is
/// returned, and learns nothing.
pub async fn logs_in_chunks(
    chain: &Chain,
    filter: &Filter,
    address: Address,
    from: u64,
    to: u64,
    chunk: u64,
) -> Result<Vec<Log>> {
    let mut logs = Vec::new();
    let mut start = from;
    let mut size = chunk
        .max(1)
        .min(chain.log_range_limit().unwrap_or(u64::MAX));
    // The first refused size of this call, and why, until a smaller one is answered.
    let mut refusal: Option<(u64, String)> = None;
    while start <= to {
        let end = start.saturating_add(size - 1).min(to);
        let window = filter
            .clone()
            .address(address)
            .from_block(start)
            .to_block(end);
        tracing::debug!(%address, start, end, "fetching logs");
        let batch = match chain.provider().get_logs(&window).await {
            Ok(batch) => batch,
            Err(e)
                if end > start
                    && e.as_error_resp()
                        .is_some_and(|r| is_size_refusal(r.code, &r.message)) =>
            {
                let refused = end - start + 1;
                let reason = e.to_string();
                size = suggested_range(&reason, start)
                    .filter(|&n| n < refused)
                    .unwrap_or(refused / 2)
                    .max(1);
                refusal.get_or_insert((refused, reason));
                continue;
            }
            Err(e) => {
                return Err(chain.rpc_error(
                    format!("fetching logs of {address} in blocks {start}..={end}"),
                    e,
                ))
            }
        };
        if let Some((refused, reason)) = refusal.take() {
            let answered = end - start + 1;
            // Said once at the default log level, when first learnt.
            if chain.log_range_limit().is_none() {
                tracing::warn!(
                    url = chain.url(),
                    refused,
                    answered,
                    %reason,
                    "the endpoint refused a log query of {refused} blocks and answered one of {answered}; asking for at most {answered} at a time from now on (--log-chunk {answered} skips the refusals)"
                );
            } else {
                tracing::info!(url = chain.url(), refused, answered, %reason, "log query refused again; asking for fewer blocks");
            }
            chain.limit_log_range(answered);
        }
        for log in batch {
            // The endpoint is not trusted to have applied the address filter.
            if log.address() != address {
                return Err(chain.rpc_error(
                    "fetching logs",
                    format!(
                        "the endpoint returned a log of {} for a filter on {address}",
                        log.address()
                    ),
                ));
            }
            logs.push(log);
        }
        if end == u64::MAX {
            break;
        }
        start = end + 1;
    }
    Ok(logs)
}

/// Whether a JSON-RPC error answering `eth_getLogs` says the query asked for
/// too much: too wide a range or too many results. Providers word it their
/// own way (Infura "query returned more than 10000 results", Alchemy "Log
/// response size exceeded … up to a 2K block range", QuickNode "eth_getLogs is
/// limited to a 10000 range", Ankr "block range is too wide", others "block
/// range too large", "exceed maximum block range"); `-32005` is the EIP-1474
/// code for "limit exceeded". Other errors (a node that lost a block, bad
/// parameters) are not worth splitting for.
pub fn is_size_refusal(code: i64, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == -32005
        || [
            "range",
            "limit",
            "exceed",
            "too many",
            "too large",
            "too wide",
            "more than",
        ]
        .iter()
        .any(|word| message.contains(word))
}

/// The number of blocks in the range an endpoint's error suggests
/// (`… [0x10, 0x2f] …`), when it starts at `start`.
fn suggested_range(message: &str, start: u64) -> Option<u64> {
    let inside = message.split_once('[')?.1.split_once(']')?.0;
    let (low, high) = inside.split_once(',')?;
    let number = |text: &str| u64::from_str_radix(text.trim().strip_prefix("0x")?, 16).ok();
    let (low, high) = (number(low)?, number(high)?);
    (low == start && high >= low).then(|| high - low + 1)
}

/// The registry's `event` logs for one release (the commit is every such event's first topic),
/// from the deployment block to `head`.
async fn commit_logs(
    chain: &Chain,
    target: &Target,
    event: B256,
    commit_word: B256,
    head: u64,
    log_chunk: u64,
) -> Result<Vec<Log>> {
    let filter = Filter::new().event_signature(event).topic1(commit_word);
    logs_in_chunks(
        chain,
        &filter,
        target.registry,
        target.from_block,
        head,
        log_chunk,
    )
    .await
}

/// Reads the status of `commit` from the registry and ledger of `target`.
pub async fn release_status(
    chain: &Chain,
    target: &Target,
    commit: CommitId,
    log_chunk: u64,
) -> Result<ReleaseStatus> {
    let provider = chain.provider();
    let call_error = |what: &str, e: alloy::contract::Error| {
        chain.rpc_error(format!("reading {what} from the registry"), e)
    };
    let registry = SeedRegistry::new(target.registry, provider);
    let commit_word = commit.to_b256();

    // Pin every read to one block so votes, rules and the ledger describe the same moment.
    let head = chain.block_number().await?;
    let at = alloy::eips::BlockId::number(head);
    // Every registry view is read at `at`, all at once (one round trip's
    // wait on a remote endpoint, not one per view), and a failure names the
    // view.
    macro_rules! read {
        ($view:ident ( $($arg:expr),* )) => {{
            let call = registry.$view($($arg),*).block(at);
            async move {
                call.call()
                    .await
                    .map_err(|e| call_error(stringify!($view), e))
            }
        }};
    }

    let (
        quorum,
        threshold,
        genesis_done,
        rules_version,
        required,
        active_mask,
        count,
        equivocators,
    ) = tokio::try_join!(
        read!(quorum()),
        read!(threshold()),
        read!(genesisDone()),
        read!(rulesVersion()),
        read!(requiredSystems()),
        read!(activeBuilderMask()),
        read!(builderCount()),
        read!(equivocators(commit_word)),
    )?;
    // What counts toward this release: active builders that did not equivocate on it.
    let counting = active_mask & !equivocators;
    let active_ids: Vec<u8> = (0..count).filter(|id| active_mask >> id & 1 == 1).collect();
    let signers =
        futures_util::future::try_join_all(active_ids.iter().map(|&id| read!(builder(id)))).await?;
    let active_builders: Vec<BuilderRef> = active_ids
        .into_iter()
        .zip(signers)
        .map(|(builder_id, b)| BuilderRef {
            builder_id,
            signer: b.signer,
        })
        .collect();

    // Votes.
    let logs = commit_logs(
        chain,
        target,
        SeedRegistry::Attested::SIGNATURE_HASH,
        commit_word,
        head,
        log_chunk,
    )
    .await?;
    let mut votes: BTreeMap<String, Vec<Vote>> = BTreeMap::new();
    for log in &logs {
        let vote = decode_attested(chain, log)?;
        votes.entry(vote.system).or_default().push(Vote {
            builder_id: vote.builder_id,
            signer: vote.signer,
            manifest_digest: vote.manifest,
            image_digest: vote.image,
            statement_digest: vote.statement,
            block: vote.block,
            tx: vote.tx,
        });
    }

    // Finalisation: the ledger's root and its ReleaseRecorded log (block, rules version).
    let entry = ledger_entry(
        chain,
        target.ledger,
        commit_word,
        (target.from_block, head),
        log_chunk,
    )
    .await?;
    let finalised = match (entry.root.is_zero(), entry.record()) {
        (true, _) => None,
        (false, Some(record)) => Some(Finalisation {
            root: entry.root,
            block: record.block,
            rules_version: record.rules_version,
        }),
        (false, None) => {
            return Err(chain.rpc_error(
                format!("reading the ledger entry of {commit} from {}", target.ledger),
                format!(
                    "the ledger stores root {} but {} ReleaseRecorded logs name it in blocks {}..={head}; \
                     check the deployment's start block",
                    entry.root,
                    entry.records.iter().filter(|r| r.root == entry.root).count(),
                    target.from_block
                ),
            ))
        }
    };
    let mut finalised_digests = BTreeMap::new();
    if finalised.is_some() {
        let logs = commit_logs(
            chain,
            target,
            SeedRegistry::ReleaseFinalised::SIGNATURE_HASH,
            commit_word,
            head,
            log_chunk,
        )
        .await?;
        if let Some(log) = logs.first() {
            let event = log
                .log_decode::<SeedRegistry::ReleaseFinalised>()
                .map_err(|e| chain.rpc_error("decoding a ReleaseFinalised log", e))?;
            let data = event.inner.data;
            for (system, digest) in data.systems.iter().zip(&data.manifestDigests) {
                finalised_digests.insert(system.clone(), *digest);
            }
        }
    }

    let mut order: Vec<(String, bool)> = required.iter().map(|s| (s.clone(), true)).collect();
    let names: BTreeMap<B256, String> = required
        .iter()
        .chain(votes.keys())
        .map(|s| (alloy::primitives::keccak256(s.as_bytes()), s.clone()))
        .collect();
    order.extend(
        votes
            .keys()
            .filter(|s| !required.contains(s))
            .map(|s| (s.clone(), false)),
    );
    let mut systems = Vec::new();
    for (system, is_required) in order {
        let system_votes = votes.remove(&system).unwrap_or_default();
        let mut by_digest: BTreeMap<B256, Vec<u8>> = BTreeMap::new();
        for vote in &system_votes {
            let voters = by_digest.entry(vote.manifest_digest).or_default();
            if !voters.contains(&vote.builder_id) {
                voters.push(vote.builder_id);
            }
        }
        // From the events, not the registry's stored votes: `finalise` counts signed votes
        // without storing them (D-055), and both paths log every vote they count.
        let mut candidates = Vec::new();
        for (digest, voters) in by_digest {
            let active_voters: Vec<u8> = voters
                .iter()
                .copied()
                .filter(|id| counting >> id & 1 == 1)
                .collect();
            candidates.push(Candidate {
                manifest_digest: digest,
                quorum_reached: threshold != 0 && active_voters.len() >= usize::from(threshold),
                voters,
                active_voters,
            });
        }
        candidates.sort_by_key(|c| std::cmp::Reverse(c.active_voters.len()));
        let missing = active_builders
            .iter()
            .filter(|b| !system_votes.iter().any(|v| v.builder_id == b.builder_id))
            .cloned()
            .collect();
        systems.push(SystemStatus {
            required: is_required,
            disagreement: candidates.len() > 1,
            quorum_reached: candidates.iter().any(|c| c.quorum_reached),
            finalised_digest: finalised_digests.get(&system).copied(),
            system,
            votes: system_votes,
            candidates,
            missing,
        });
    }

    Ok(ReleaseStatus {
        commit: commit_word,
        registry: target.registry,
        ledger: target.ledger,
        scanned_blocks: (target.from_block, head),
        quorum,
        threshold,
        genesis_done,
        rules_version,
        active_builders,
        equivocations: equivocations(chain, target, commit_word, head, log_chunk, &names).await?,
        systems,
        finalised,
    })
}

/// The release's `Equivocation` events, each system named by `names` (system id to name).
async fn equivocations(
    chain: &Chain,
    target: &Target,
    commit_word: B256,
    head: u64,
    log_chunk: u64,
    names: &BTreeMap<B256, String>,
) -> Result<Vec<Equivocation>> {
    let logs = commit_logs(
        chain,
        target,
        SeedRegistry::Equivocation::SIGNATURE_HASH,
        commit_word,
        head,
        log_chunk,
    )
    .await?;
    logs.iter()
        .map(|log| {
            let event = log
                .log_decode::<SeedRegistry::Equivocation>()
                .map_err(|e| chain.rpc_error("decoding an Equivocation log", e))?
                .inner
                .data;
            Ok(Equivocation {
                builder_id: event.builderId,
                system: names
                    .get(&event.systemId)
                    .cloned()
                    .unwrap_or_else(|| event.systemId.to_string()),
                first_digest: event.firstDigest,
                second_digest: event.secondDigest,
                block: log.block_number.unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{is_size_refusal, suggested_range};

    #[test]
    fn size_refusals_are_told_from_other_node_errors() {
        for (code, message) in [
            (-32005, "query returned more than 10000 results"),
            (-32600, "Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range."),
            (-32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range"),
            (-32614, "eth_getLogs is limited to a 10000 range"),
            (-32000, "block range is too wide"),
            (-32000, "exceed maximum block range: 5000"),
            (-32000, "Block range too large"),
        ] {
            assert!(is_size_refusal(code, message), "{code} {message}");
        }
        for (code, message) in [
            (-32000, "header not found"),
            (-32602, "invalid argument 0: hex string without 0x prefix"),
            (-32603, "internal error"),
            (-32000, "missing trie node"),
        ] {
            assert!(!is_size_refusal(code, message), "{code} {message}");
        }
    }

    #[test]
    fn the_range_an_endpoint_suggests_is_read_from_its_error() {
        // Infura's and Alchemy's wording.
        let infura =
            "query returned more than 10000 results. Try with this block range [0x10, 0x2f].";
        assert_eq!(suggested_range(infura, 0x10), Some(0x20));
        let alchemy = "Log response size exceeded. … this block range should work: [0x1, 0x7d0]";
        assert_eq!(suggested_range(alchemy, 1), Some(2000));
        // A range that does not start where the query did, or is reversed, or is
        // not hex, suggests nothing: the caller halves instead.
        for (message, start) in [
            (infura, 0x11),
            ("limited to a 10 range", 0),
            ("range [0x2f, 0x10]", 0x2f),
            ("range [16, 47]", 16),
            ("range [0x10 0x2f]", 0x10),
            ("range [0x10, 0xzz]", 0x10),
            ("range [0x10, 0x1ffffffffffffffff]", 0x10),
            ("]0x10, 0x2f[", 0x10),
            ("", 0),
        ] {
            assert_eq!(suggested_range(message, start), None, "{message}");
        }
    }
}
