//! Decoding the contracts' events: the one place that turns an `Attested` log
//! into a vote and a ledger entry into its root and `ReleaseRecorded` log, and
//! checks what a log can get wrong on its own.

use alloy::{
    eips::BlockId,
    primitives::{keccak256, Address, B256},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};

use crate::{
    bindings::{ReleaseLedger, SeedRegistry},
    chain::Chain,
    error::Result,
    status::logs_in_chunks,
};

/// One builder's vote, as its `Attested` event records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedVote {
    /// The release.
    pub commit: B256,
    /// The Nix system voted on.
    pub system: String,
    /// The builder's stable id.
    pub builder_id: u8,
    /// The key that voted (the builder's signer at the time).
    pub signer: Address,
    /// The closure-manifest digest: what quorum compares.
    pub manifest: B256,
    /// The builder's image digest.
    pub image: B256,
    /// The digest of the builder's signed statement.
    pub statement: B256,
    /// The block the vote is in.
    pub block: u64,
    /// The transaction that carried it.
    pub tx: Option<B256>,
}

/// Decodes an `Attested` log. The indexed system id must be the hash of the
/// system name in the data, or the log is refused: the name is what release
/// roots are computed from, the id is what log filters select by.
pub fn decode_attested(chain: &Chain, log: &Log) -> Result<AttestedVote> {
    let event = log
        .log_decode::<SeedRegistry::Attested>()
        .map_err(|e| chain.rpc_error("decoding an Attested log", e))?;
    let data = event.inner.data;
    if keccak256(data.system.as_bytes()) != data.systemId {
        return Err(chain.rpc_error(
            "decoding an Attested log",
            format!("system '{}' does not match its indexed id", data.system),
        ));
    }
    let block = log.block_number.ok_or_else(|| {
        chain.rpc_error(
            "decoding an Attested log",
            "the endpoint returned a pending log without a block number",
        )
    })?;
    Ok(AttestedVote {
        commit: data.commit,
        system: data.system,
        builder_id: data.builderId,
        signer: data.signer,
        manifest: data.manifestDigest,
        image: data.imageDigest,
        statement: data.statementDigest,
        block,
        tx: log.transaction_hash,
    })
}

/// A release's entry in the ledger: the root the ledger stores, and the
/// `ReleaseRecorded` logs the ledger emitted for the commit (exactly one for an
/// honest chain; the caller decides what any other number means).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The stored root; zero when the ledger has no entry for the commit.
    pub root: B256,
    /// The ledger's `ReleaseRecorded` logs for the commit, oldest first.
    pub records: Vec<Recorded>,
}

/// One `ReleaseRecorded` log: the finalisation metadata of a ledger entry (D-025).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The root the log names.
    pub root: B256,
    /// The rule-set version that finalised the release.
    pub rules_version: u32,
    /// The block the entry was recorded in: the release's finalisation block.
    pub block: u64,
    /// That block's hash, as the endpoint named it.
    pub block_hash: Option<B256>,
    /// The transaction that recorded it.
    pub tx: Option<B256>,
}

impl LedgerEntry {
    /// The single record naming the stored root, when the entry exists and is unambiguous.
    pub fn record(&self) -> Option<&Recorded> {
        match self.records.as_slice() {
            [only] if !self.root.is_zero() && only.root == self.root => Some(only),
            _ => None,
        }
    }
}

/// Reads the ledger entry of `commit` at block `head`: the stored root, and the
/// ledger's `ReleaseRecorded` logs for it in blocks `from..=head` (fetched in
/// windows of `log_chunk` blocks) only when a root is stored.
pub async fn ledger_entry(
    chain: &Chain,
    ledger: Address,
    commit: B256,
    (from, head): (u64, u64),
    log_chunk: u64,
) -> Result<LedgerEntry> {
    let root = ReleaseLedger::new(ledger, chain.provider())
        .rootOf(commit)
        .block(BlockId::number(head))
        .call()
        .await
        .map_err(|e| chain.rpc_error(format!("reading the ledger entry from {ledger}"), e))?;
    if root.is_zero() {
        return Ok(LedgerEntry {
            root,
            records: Vec::new(),
        });
    }
    let filter = Filter::new()
        .event_signature(ReleaseLedger::ReleaseRecorded::SIGNATURE_HASH)
        .topic1(commit);
    let mut records = Vec::new();
    for log in logs_in_chunks(chain, &filter, ledger, from, head, log_chunk).await? {
        let event = log
            .log_decode::<ReleaseLedger::ReleaseRecorded>()
            .map_err(|e| chain.rpc_error("decoding a ReleaseRecorded log", e))?;
        let block = log.block_number.ok_or_else(|| {
            chain.rpc_error(
                "decoding a ReleaseRecorded log",
                "the endpoint returned a pending log without a block number",
            )
        })?;
        records.push(Recorded {
            root: event.inner.data.root,
            rules_version: event.inner.data.rulesVersion,
            block,
            block_hash: log.block_hash,
            tx: log.transaction_hash,
        });
    }
    Ok(LedgerEntry { root, records })
}
