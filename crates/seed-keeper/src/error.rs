//! The keeper's errors, and whether retrying later can help.

use seed_chain::{ChainError, ErrorClass};
use seed_oci::OciError;

/// Why a keeper operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeeperError {
    /// The chain could not be read, or answered something we refuse.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A registry operation failed.
    #[error(transparent)]
    Oci(#[from] OciError),
    /// The state database failed.
    #[error("keeper state database {path}: {source}")]
    Store {
        /// The database file.
        path: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The configuration is wrong (tag templates, repositories, options).
    #[error("keeper configuration: {0}")]
    Config(String),
    /// The chain's events contradict each other or the state database (a
    /// registry event without its ledger record, a root that does not
    /// recompute, a reorganisation below finality, a database for another
    /// deployment). The keeper stops rather than guess.
    #[error("inconsistent on-chain data: {0}")]
    Inconsistent(String),
    /// A block the keeper processed is no longer on the chain: a
    /// reorganisation deeper than the configured finality. The keeper halts:
    /// what it promoted from the replaced blocks may no longer be final.
    #[error("block {block} was {was} when processed and is {now} now: a reorganisation deeper than the configured finality; the keeper halts until the chain returns to the blocks it processed, or an operator recovers it (docs/runbooks.md, \"Keeper operations\")")]
    DeepReorg {
        /// The block.
        block: u64,
        /// Its hash when the keeper processed it.
        was: String,
        /// Its hash now.
        now: String,
    },
    /// An immutable tag already points at another digest: it is never moved.
    #[error(
        "tag {tag} already points at {existing}, not {wanted}; immutable tags are never moved"
    )]
    TagConflict {
        /// The tag reference.
        tag: String,
        /// What it points at.
        existing: String,
        /// What the release needs.
        wanted: String,
    },
    /// seed-verify refused the release, or could not check it.
    #[error("{0}")]
    Refused(String),
    /// No counted voter's image holds the finalised closure manifest: the
    /// promotion is poisoned, never substituted (D-031, D-033).
    #[error(
        "no image of a counted voter holds the finalised closure manifest {manifest}: {refused}"
    )]
    NoMatchingImage {
        /// The finalised manifest (`sha256:…`).
        manifest: String,
        /// Each candidate and why it was refused.
        refused: String,
    },
    /// An image's content could not be read for a reason other than its
    /// content (a temporary file, a worker thread); retried.
    #[error("reading image content: {0}")]
    Content(String),
    /// A service pass took longer than the configured limit and was abandoned.
    #[error(
        "the pass took longer than {0:?} and was abandoned (a hung RPC endpoint or registry?)"
    )]
    Timeout(std::time::Duration),
    /// The metrics endpoint could not be served.
    #[error("metrics endpoint {addr}: {source}")]
    Http {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl KeeperError {
    /// Whether the error is about configuration or input (exit code 2) rather
    /// than the network, the chain or the registry (exit code 3).
    pub fn is_config(&self) -> bool {
        match self {
            Self::Chain(e) => e.class() == ErrorClass::Config,
            Self::Config(_) => true,
            _ => false,
        }
    }

    /// Whether the keeper must halt until an operator acts (or the chain
    /// returns to what was processed): on-chain data it cannot account for.
    pub fn is_halt(&self) -> bool {
        matches!(self, Self::Inconsistent(_) | Self::DeepReorg { .. })
    }

    /// Whether the promotion failed because of what the registry holds (image
    /// missing, digest mismatch, conflicting immutable tag): a poisoned
    /// release, reported and retried later, rather than a transient fault.
    pub fn is_poison(&self) -> bool {
        match self {
            Self::Oci(e) => !e.is_transient(),
            Self::TagConflict { .. } | Self::Refused(_) | Self::NoMatchingImage { .. } => true,
            _ => false,
        }
    }
}

/// The keeper's result type.
pub type Result<T> = std::result::Result<T, KeeperError>;
