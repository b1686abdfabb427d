//! Governance for seed-eth: everything `seed-eth gov` does, as a library.
//!
//! A governance change travels Safe → TimelockController → registry or ledger
//! (docs/governance.md). This crate builds the Safe transaction that schedules
//! (or cancels) a timelock operation, or, for emergency revocation, calls the
//! registry's `revokeBuilder` directly through the Safe as guardian; hashes it
//! the way Safe 1.4.1 does (EIP-712 `SafeTx`); writes and strictly re-reads
//! the proposal file signers pass around; decodes any Safe transaction back
//! into plain language with danger flags, deriving the description from the
//! signed bytes only; collects and checks owner signatures; refuses
//! registry upgrades whose ERC-7201 storage layout is not an append-only
//! extension of the current one, or whose code no chain would deploy; and
//! shows what an upgrade runs (its initializer decoded, its calls and events
//! traced).

pub mod action;
pub mod error;
pub mod layout;
pub mod ops;
pub mod proposal;
pub mod review;
pub mod safe;
pub mod timelock;
pub mod tx_builder;
pub mod upgrade;

pub use action::Action;
pub use error::{GovError, Result};
pub use proposal::{Proposal, SignatureEntry};
pub use review::{Danger, Review};
pub use safe::{SafeOperation, SafeTransaction};
