//! The Ethereum side of seed-eth: bindings generated from the Solidity
//! sources at build time, the deployment file, configuration and keys, and the
//! operations the CLI and the keeper share (deploy, release status).
//!
//! Every fallible operation returns [`ChainError`], whose
//! [`class`](ChainError::class) tells the CLI which exit code to use: a wrong
//! configuration or input (2) or an unreachable or misbehaving chain (3).

pub mod bindings;
pub mod chain;
pub mod config;
pub mod deploy;
pub mod deployment;
pub mod error;
pub mod events;
pub mod keys;
pub mod status;
pub mod vote;
// Used by build.rs (through `#[path]`); compiled here for its tests.
#[cfg(test)]
mod solc_pin;

pub use chain::{Chain, ChainBuilder};
pub use config::{
    ChainOverrides, ChainSettings, ConfigFile, CredulousSection, DeployOverrides, DeploymentSource,
    Target,
};
pub use deploy::{deploy, tag_id, BuilderConfig, DeployConfig, DeployOutcome, DeployStep};
pub use deployment::Deployment;
pub use error::{ChainError, ErrorClass, Result};
pub use events::{decode_attested, ledger_entry, AttestedVote, LedgerEntry, Recorded};
pub use status::{release_status, ReleaseStatus};
pub use vote::{BuilderState, PriorVote, QuorumRules, Vote};
