//! Errors of the governance layer. Each says what is wrong and what to do,
//! and belongs to a [`GovClass`] the CLI maps to its exit code.

use std::path::PathBuf;

use seed_chain::{ChainError, ErrorClass};

/// Who has to act on an error, which decides the CLI exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GovClass {
    /// A flag, a key, the configuration or a proposal file is wrong (exit code 2).
    Config,
    /// The chain could not be asked or answered wrongly (exit code 3).
    Network,
    /// A check ran and said "not (yet)": too few signatures, an operation still waiting (exit code 1).
    CheckFailed,
}

/// Everything that can stop a governance command.
#[derive(Debug, thiserror::Error)]
pub enum GovError {
    /// From the chain layer (configuration, RPC, keys).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A proposal file cannot be read, does not parse, or does not match its own signed bytes.
    #[error("proposal {path}: {reason}")]
    Proposal {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An argument or input is invalid (a refused action, a wrong nonce, a bad signature).
    #[error("{0}")]
    Invalid(String),
    /// The signatures present do not reach the Safe's threshold.
    #[error("{0}")]
    NotEnoughSignatures(String),
    /// The timelock operation cannot be executed yet, or is in the wrong state.
    #[error("{0}")]
    NotReady(String),
    /// The operation is ready but would revert if executed now.
    #[error("{0}")]
    WouldRevert(String),
    /// A registry upgrade would break the storage layout.
    #[error("refusing the upgrade: the new implementation's storage layout is incompatible with the current one:\n  - {}", .0.join("\n  - "))]
    IncompatibleLayout(Vec<String>),
    /// A build artefact cannot be used.
    #[error("artefact {path}: {reason}")]
    Artifact {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

impl GovError {
    /// Whether the input, the chain or a negative check stopped the command.
    pub fn class(&self) -> GovClass {
        match self {
            Self::Chain(e) => match e.class() {
                ErrorClass::Config => GovClass::Config,
                ErrorClass::Network => GovClass::Network,
            },
            Self::NotEnoughSignatures(_) | Self::NotReady(_) | Self::WouldRevert(_) => {
                GovClass::CheckFailed
            }
            Self::Proposal { .. }
            | Self::Invalid(_)
            | Self::IncompatibleLayout(_)
            | Self::Artifact { .. }
            | Self::Write { .. } => GovClass::Config,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = GovError> = std::result::Result<T, E>;
