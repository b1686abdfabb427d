//! Following the chain at finality: which block is final, the registry's and
//! the ledger's logs of a window of final blocks, and the promotions a
//! finalised release implies.
//!
//! Only logs of final blocks are ever read, so a finalisation that is
//! reorganised away before it is final is never seen. Below finality the
//! keeper trusts nothing blindly either: the block hash of the cursor is
//! stored and compared on every poll, so a reorganisation deeper than the
//! configured finality stops the keeper instead of going unnoticed.

use std::collections::HashMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::B256,
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use seed_chain::{
    bindings::{ReleaseLedger, SeedRegistry},
    decode_attested,
    status::logs_in_chunks,
    Chain,
};
use seed_core::{release_root, Sha256Digest, System};

use crate::{
    config::Finality,
    error::{KeeperError, Result},
    store::{now_ms, PromotionRow, StoredRelease, Window},
};

/// 0x-hex of a word, as the state database stores it.
pub fn hex(word: &B256) -> String {
    format!("{word:#x}")
}

/// The newest final block: its number and hash.
pub async fn final_block(chain: &Chain, finality: Finality) -> Result<(u64, B256)> {
    let tag = match finality {
        Finality::FinalizedTag => BlockNumberOrTag::Finalized,
        Finality::Confirmations(n) => {
            let latest = chain.block_number().await?;
            BlockNumberOrTag::Number(latest.saturating_sub(n))
        }
    };
    block_at(chain, tag).await
}

/// The number and hash of a block.
pub async fn block_at(chain: &Chain, tag: BlockNumberOrTag) -> Result<(u64, B256)> {
    let block = chain
        .provider()
        .get_block_by_number(tag)
        .await
        .map_err(|e| chain.rpc_error(format!("reading block {tag}"), e))?
        .ok_or_else(|| chain.rpc_error(format!("reading block {tag}"), "no such block"))?;
    Ok((block.header.number, block.header.hash))
}

/// The latest block number (for the lag metric).
pub async fn head(chain: &Chain) -> Result<u64> {
    Ok(chain.block_number().await?)
}

/// The registry's finalisation, as its event records it.
#[derive(Debug, Clone)]
pub(crate) struct Finalised {
    /// The transaction that finalised it.
    pub tx: B256,
    /// The release.
    pub commit: B256,
    /// The release root.
    pub root: B256,
    /// Its systems, ascending.
    pub systems: Vec<String>,
    /// The manifest digest of each system.
    pub digests: Vec<B256>,
    /// The counted voters of each system (bitmaps).
    pub voters: Vec<u64>,
    /// Whether it was the genesis release.
    pub genesis: bool,
}

/// Decodes a `ReleaseFinalised` log of the registry.
pub(crate) fn decode_finalised(chain: &Chain, log: &Log) -> Result<Finalised> {
    let event = log
        .log_decode::<SeedRegistry::ReleaseFinalised>()
        .map_err(|e| chain.rpc_error("decoding a ReleaseFinalised log", e))?;
    let d = event.inner.data;
    Ok(Finalised {
        tx: tx_of(chain, log)?,
        commit: d.commit,
        root: d.root,
        systems: d.systems,
        digests: d.manifestDigests,
        voters: d.voters,
        genesis: d.genesis,
    })
}

/// What one window held, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WindowSummary {
    /// Votes stored.
    pub votes: usize,
    /// Releases planned.
    pub releases: usize,
}

/// Reads the logs of blocks `from..=to` (all final, `final_block` the newest
/// final block) and stores their votes, releases and planned promotions in
/// `window` (not yet committed).
pub async fn scan(
    chain: &Chain,
    contracts: &crate::Contracts,
    from: u64,
    to: u64,
    final_block: u64,
    log_chunk: u64,
    window: &Window<'_>,
) -> Result<WindowSummary> {
    let (registry, ledger) = (contracts.registry, contracts.ledger);
    let registry_filter = Filter::new().event_signature(vec![
        SeedRegistry::Attested::SIGNATURE_HASH,
        SeedRegistry::ReleaseFinalised::SIGNATURE_HASH,
    ]);
    let ledger_filter =
        Filter::new().event_signature(ReleaseLedger::ReleaseRecorded::SIGNATURE_HASH);
    let registry_logs =
        logs_in_chunks(chain, &registry_filter, registry, from, to, log_chunk).await?;
    let ledger_logs = logs_in_chunks(chain, &ledger_filter, ledger, from, to, log_chunk).await?;

    let mut summary = WindowSummary::default();
    // The registry's finalisations by (transaction, commit): the ledger
    // record of a release is written in the same transaction.
    let mut finalised: HashMap<(B256, B256), Finalised> = HashMap::new();
    for log in &registry_logs {
        let topic = log.topic0().copied().unwrap_or_default();
        if topic == SeedRegistry::Attested::SIGNATURE_HASH {
            let vote = decode_attested(chain, log)?;
            window.vote(
                &hex(&vote.commit),
                &vote.system,
                vote.builder_id,
                &hex(&vote.manifest),
                &hex(&vote.image),
                vote.block,
            )?;
            summary.votes += 1;
        } else {
            let f = decode_finalised(chain, log)?;
            finalised.insert((f.tx, f.commit), f);
        }
    }

    let mut records: Vec<&Log> = ledger_logs.iter().collect();
    records.sort_by_key(|l| (l.block_number, l.log_index));
    for log in records {
        let event = log
            .log_decode::<ReleaseLedger::ReleaseRecorded>()
            .map_err(|e| chain.rpc_error("decoding a ReleaseRecorded log", e))?;
        let d = event.inner.data;
        let tx = tx_of(chain, log)?;
        let block = log.block_number.unwrap_or_default();
        let log_index = log.log_index.unwrap_or_default();
        if d.writer != registry {
            return Err(KeeperError::Inconsistent(format!(
                "the ledger recorded {} in block {block} from writer {}, not the registry {registry}",
                hex(&d.commit),
                d.writer
            )));
        }
        let f = finalised.get(&(tx, d.commit)).ok_or_else(|| {
            KeeperError::Inconsistent(format!(
                "the ledger recorded {} in transaction {tx} without a ReleaseFinalised event of the registry in it",
                hex(&d.commit)
            ))
        })?;
        check_root(&d.commit, d.root, f)?;
        // The ledger itself, read at the newest final block, must hold that
        // root: the ledger is the authority, events are how we find its
        // entries. Entries are write-once, so the newest final block gives the
        // same answer as the record's block, and needs no archive state.
        let stored = ReleaseLedger::new(ledger, chain.provider())
            .rootOf(d.commit)
            .block(final_block.into())
            .call()
            .await
            .map_err(|e| {
                chain.rpc_error(
                    format!("reading rootOf({}) from the ledger", hex(&d.commit)),
                    e,
                )
            })?;
        if stored != d.root {
            return Err(KeeperError::Inconsistent(format!(
                "release {}: the ledger holds root {stored} at block {final_block}, its event says {}",
                hex(&d.commit),
                d.root
            )));
        }
        let commit = hex(&d.commit);
        window.release(&StoredRelease {
            commit: commit.clone(),
            root: hex(&d.root),
            block,
            log_index,
            tx: hex(&tx),
            rules_version: d.rulesVersion,
            genesis: f.genesis,
            seen_final_ms: now_ms(),
        })?;
        for (i, system) in f.systems.iter().enumerate() {
            let manifest = hex(&f.digests[i]);
            let voters = f.voters.get(i).copied().unwrap_or_default();
            let votes = window.votes(&commit, system)?;
            if let Some(id) = unbacked_voter(&votes, &manifest, voters, block) {
                return Err(KeeperError::Inconsistent(format!(
                    "release {commit} {system}: the registry counts builder {id}, which has no Attested vote for {manifest} at or before block {block}"
                )));
            }
            let candidates = image_candidates(&votes, &manifest, voters);
            let (builder, image) = candidates.first().cloned().ok_or_else(|| {
                KeeperError::Inconsistent(format!(
                    "release {commit} {system}: no stored vote of a counted voter for {manifest}"
                ))
            })?;
            window.candidates(&commit, system, &candidates)?;
            window.plan(&PromotionRow {
                commit: commit.clone(),
                system: system.clone(),
                manifest,
                image,
                builder,
                voters: voter_ids(voters)
                    .iter()
                    .map(u8::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                block,
                log_index,
                state: "pending".to_owned(),
                step: "planned".to_owned(),
                attempts: 0,
                last_error: None,
                next_attempt_ms: 0,
            })?;
        }
        summary.releases += 1;
    }
    Ok(summary)
}

fn tx_of(chain: &Chain, log: &Log) -> Result<B256> {
    log.transaction_hash.ok_or_else(|| {
        chain
            .rpc_error("reading logs", "a log without a transaction hash")
            .into()
    })
}

/// The ledger's root must equal the registry's and the root recomputed from
/// the event's leaves: the keeper promotes exactly what the ledger holds.
pub(crate) fn check_root(commit: &B256, ledger_root: B256, f: &Finalised) -> Result<()> {
    let bad = |why: String| KeeperError::Inconsistent(format!("release {}: {why}", hex(commit)));
    if f.systems.len() != f.digests.len() || f.systems.is_empty() {
        return Err(bad(
            "ReleaseFinalised has mismatched systems and digests".to_owned()
        ));
    }
    let mut leaves = Vec::new();
    for (system, digest) in f.systems.iter().zip(&f.digests) {
        let system: System = system
            .parse()
            .map_err(|e| bad(format!("system '{system}': {e}")))?;
        let digest = Sha256Digest::from_bytes(*digest).map_err(|e| bad(e.to_string()))?;
        leaves.push((system, digest));
    }
    let computed = release_root(&leaves).map_err(|e| bad(e.to_string()))?;
    if ledger_root != f.root || computed != ledger_root {
        return Err(bad(format!(
            "ledger root {ledger_root}, registry root {}, recomputed {computed}",
            f.root
        )));
    }
    Ok(())
}

/// Builder ids in a voters bitmap, ascending.
pub fn voter_ids(bitmap: u64) -> Vec<u8> {
    (0u8..64).filter(|i| bitmap & (1u64 << i) != 0).collect()
}

/// The first voter that a finalisation counts for one system without a vote of
/// that builder for the finalised manifest at or before the finalisation
/// block, if any (seed-verify's `check_voters` applies the same rule). The
/// registry never counts such a voter; a registry upgraded to forge
/// finalisations would.
pub fn unbacked_voter(
    votes: &[crate::store::StoredVote],
    manifest: &str,
    voters: u64,
    block: u64,
) -> Option<u8> {
    voter_ids(voters).into_iter().find(|&id| {
        !votes
            .iter()
            .any(|v| v.builder == id && v.manifest == manifest && v.block <= block)
    })
}

/// The images a promotion of one system tries, in order:
/// [`seed_core::image_candidates`] (docs/decisions.md, D-031) over the stored
/// votes. The first whose content holds the manifest is promoted.
pub fn image_candidates(
    votes: &[crate::store::StoredVote],
    manifest: &str,
    voters: u64,
) -> Vec<(u8, String)> {
    seed_core::image_candidates(
        votes
            .iter()
            .map(|v| (v.builder, v.manifest.as_str(), v.image.as_str())),
        &manifest,
        voters,
    )
    .into_iter()
    .map(|(builder, image)| (builder, image.to_owned()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredVote;

    fn v(builder: u8, manifest: &str, image: &str) -> StoredVote {
        at(builder, manifest, image, 10)
    }

    fn at(builder: u8, manifest: &str, image: &str, block: u64) -> StoredVote {
        StoredVote {
            builder,
            manifest: manifest.to_owned(),
            image: image.to_owned(),
            block,
        }
    }

    #[test]
    fn every_counted_voter_needs_a_vote_for_the_manifest_no_later_than_the_finalisation() {
        let votes = [v(0, "m", "i0"), v(1, "m2", "i1"), at(2, "m", "i2", 11)];
        assert_eq!(unbacked_voter(&votes, "m", 0b001, 10), None);
        // Builder 1 voted another manifest, builder 3 never voted.
        assert_eq!(unbacked_voter(&votes, "m", 0b011, 10), Some(1));
        assert_eq!(unbacked_voter(&votes, "m", 0b1001, 10), Some(3));
        // Builder 2's vote came a block after the finalisation.
        assert_eq!(unbacked_voter(&votes, "m", 0b101, 10), Some(2));
        assert_eq!(unbacked_voter(&votes, "m", 0b101, 11), None);
    }

    #[test]
    fn the_stored_votes_go_through_the_shared_rule() {
        let votes = [v(0, "m", "i0"), v(1, "m", "i1"), v(2, "m", "i1")];
        assert_eq!(
            image_candidates(&votes, "m", 0b111),
            vec![(1, "i1".to_owned()), (0, "i0".to_owned())]
        );
    }

    #[test]
    fn bitmaps_list_ids() {
        assert_eq!(voter_ids(0b1011), vec![0, 1, 3]);
    }
}
