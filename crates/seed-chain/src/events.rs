//! Decoding the registry's events: the one place that turns an `Attested` log
//! into a vote and checks what a log can get wrong on its own.

use alloy::{
    primitives::{keccak256, Address, B256},
    rpc::types::Log,
};

use crate::{bindings::SeedRegistry, chain::Chain, error::Result};

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
