//! Why a fact could not be proven. Every variant names the endpoint that gave
//! the answer and the block it was about, so a lying endpoint is named.

use alloy::primitives::{Address, B256};

/// A fact that could not be proven against the anchor block hash.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The endpoint could not be asked, or its answer did not parse.
    #[error("{endpoint}: {action}: {reason}")]
    Rpc {
        /// The endpoint.
        endpoint: String,
        /// What was asked.
        action: String,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint does not know a block the proof needs.
    #[error("{endpoint} does not know block {block} (an endpoint on another chain or fork, or one that pruned it)")]
    MissingBlock {
        /// The endpoint.
        endpoint: String,
        /// The block, by number or hash.
        block: String,
    },
    /// A header whose hash is not the one it must have.
    #[error("{endpoint} served a header for block {block} that hashes to {computed}, but the block proven is {expected}: the endpoint serves another block (a fork, or a forged header)")]
    HeaderHash {
        /// The endpoint.
        endpoint: String,
        /// The block number.
        block: u64,
        /// The hash it must have (the anchor, or its child's parent hash).
        expected: B256,
        /// The hash of what was served.
        computed: B256,
    },
    /// An account proof that does not verify against the block's state root.
    #[error("{endpoint}: the account proof of {address} does not verify against the state root of block {block}: {reason}")]
    Account {
        /// The endpoint.
        endpoint: String,
        /// The account.
        address: Address,
        /// The block.
        block: u64,
        /// What did not match.
        reason: String,
    },
    /// A storage proof that does not verify against the account's storage root.
    #[error("{endpoint}: the proof of storage slot {slot} of {address} at block {block} does not verify against the account's proven storage root: {reason}")]
    Storage {
        /// The endpoint.
        endpoint: String,
        /// The account.
        address: Address,
        /// The slot.
        slot: B256,
        /// The block.
        block: u64,
        /// What did not match.
        reason: String,
    },
    /// Receipts whose trie root is not the header's.
    #[error("{endpoint}: the receipts it served for block {block} have the trie root {computed}, but the block's header holds {expected}: receipts or logs were altered, added or dropped")]
    ReceiptsRoot {
        /// The endpoint.
        endpoint: String,
        /// The block.
        block: u64,
        /// The header's receipts root.
        expected: B256,
        /// The root of the receipts served.
        computed: B256,
    },
    /// Endpoints that name different blocks at one height.
    #[error("the endpoints disagree on block {block}: {}; one of them serves another fork or lies, so nothing they say is relied on", answers.iter().map(|(e, h)| format!("{e} says {h}")).collect::<Vec<_>>().join(", "))]
    Disagreement {
        /// The block number.
        block: u64,
        /// Each endpoint's answer.
        answers: Vec<(String, B256)>,
    },
    /// The block is not final yet on an endpoint, so its hash may still change.
    #[error("block {block} is not final on {endpoint} yet (its finalized block is {finalized}); run again once it is")]
    NotFinal {
        /// The endpoint.
        endpoint: String,
        /// The block.
        block: u64,
        /// The endpoint's finalized block.
        finalized: u64,
    },
    /// Fewer endpoints answered than the quorum needs.
    #[error("{answered} of the {required} endpoints the quorum needs named block {block} ({}); give more --rpc-url or a lower --rpc-quorum", failures.join("; "))]
    NoQuorum {
        /// The block.
        block: u64,
        /// How many answered.
        answered: usize,
        /// How many must.
        required: usize,
        /// Why the others did not.
        failures: Vec<String>,
    },
    /// A block the proof needs is farther below the anchor than the walk allows.
    #[error("block {block} is {distance} blocks below the anchor block {anchor}: proving it needs every header between, more than the limit of {limit}; anchor at a nearer block (--block-hash or a checkpoint of a block at or after {block})")]
    TooFar {
        /// The block needed.
        block: u64,
        /// The anchor block.
        anchor: u64,
        /// How far apart they are.
        distance: u64,
        /// The most headers walked.
        limit: u64,
    },
    /// A block the proof needs is after the anchor.
    #[error("block {block} is after the anchor block {anchor}: the anchor must be that block or a later one")]
    AfterAnchor {
        /// The block needed.
        block: u64,
        /// The anchor block.
        anchor: u64,
    },
}
