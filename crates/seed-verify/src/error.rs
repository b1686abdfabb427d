//! Questions `verify` could not ask. A check that ran and said no is not an
//! error but a [`Finding`](crate::Finding).

use seed_chain::{ChainError, ErrorClass};
use seed_oci::OciError;

/// Why verification could not run to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The chain, the configuration or the deployment (its class decides the exit code).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The image (or lock) matches several finalised releases.
    #[error("{what} was attested in several finalised releases ({}); name the release with --commit", commits.join(", "))]
    Ambiguous {
        /// The image or lock.
        what: String,
        /// The releases it matches.
        commits: Vec<String>,
    },
    /// The registry's rules changed in the block that finalised the release, so the
    /// threshold that applied cannot be read from state.
    #[error("the rules changed in block {block}, which finalised the release (event: rules version {event}, state at the end of the block: {state}); the threshold that applied cannot be established")]
    RulesChanged {
        /// The finalisation block.
        block: u64,
        /// The rules version of the `ReleaseFinalised` event.
        event: u32,
        /// The rules version at the end of that block.
        state: u32,
    },
    /// `--statements` without a repository to fetch a system's statements from.
    #[error("no repository to fetch the statements of {system} from: give --repository REGISTRY/REPO (or use --lock or --image, whose references name it)")]
    NoRepository {
        /// The system.
        system: String,
    },
    /// The OCI registry could not be reached or failed.
    #[error("registry error for {repository}")]
    Registry {
        /// The repository.
        repository: String,
        /// What went wrong.
        #[source]
        source: OciError,
    },
    /// `--proofs`: a fact could not be proven against the anchor block hash.
    #[error("--proofs: {0}")]
    Proof(Box<seed_proof::ProofError>),
    /// `--proofs`: the endpoint's answer is not what the chain proves.
    #[error("--proofs: the endpoint {endpoint} answered {fact} as {claimed}, but block {block} proves {proven}: it lies or serves another chain; verify against another endpoint")]
    Contradicted {
        /// The fact.
        fact: String,
        /// What the endpoint answered.
        claimed: String,
        /// What the proofs show.
        proven: String,
        /// The block the fact is about.
        block: u64,
        /// The endpoint.
        endpoint: String,
    },
    /// `--checkpoints` holds no block at or after the finalisation block.
    #[error("--checkpoints {file} names no block at or after block {block}, which finalised the release; add one from your trusted source")]
    NoCheckpoint {
        /// The file.
        file: String,
        /// The finalisation block.
        block: u64,
    },
    /// A bug: an invariant established earlier did not hold.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl VerifyError {
    /// Whether the input (2) or the network (3) is at fault.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Chain(e) => e.class(),
            Self::Ambiguous { .. } | Self::NoRepository { .. } | Self::NoCheckpoint { .. } => {
                ErrorClass::Config
            }
            Self::RulesChanged { .. }
            | Self::Registry { .. }
            | Self::Proof(_)
            | Self::Contradicted { .. }
            | Self::Internal(_) => ErrorClass::Network,
        }
    }
}
