//! Errors of the chain layer. Each names what is wrong and how to fix it, and
//! belongs to one [`ErrorClass`], which the CLI maps to its exit code.

use std::path::PathBuf;

use alloy::primitives::Address;

/// Who has to act on an error, which decides the CLI exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The configuration, a flag, a key or an input file is wrong (exit code 2).
    Config,
    /// The RPC endpoint could not be reached, or the chain answered wrongly (exit code 3).
    Network,
}

/// Everything that can go wrong talking to the chain or preparing to.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC URL does not parse.
    #[error("invalid RPC URL '{url}': {reason}; give an http(s) URL such as http://127.0.0.1:8545 (--rpc-url, SEED_ETH_RPC_URL or rpc-url in seed-eth.toml)")]
    InvalidRpcUrl {
        /// The rejected URL.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// No RPC URL was configured.
    #[error("no RPC endpoint configured: give --rpc-url, set SEED_ETH_RPC_URL or put rpc-url in seed-eth.toml")]
    NoRpcUrl,
    /// The endpoint did not answer `eth_chainId`.
    #[error("cannot reach the RPC endpoint {url}: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The endpoint answered, but not as a JSON-RPC endpoint does.
    #[error("the RPC endpoint {url} answered {received}; is it an Ethereum JSON-RPC endpoint (and the URL's path and API key right)?")]
    NotJsonRpc {
        /// The endpoint.
        url: String,
        /// What it answered.
        received: String,
        /// Whether it may answer properly later (an HTTP 5xx or 429): then
        /// it is the network's fault; otherwise (a page, a 4xx) the URL's.
        transient: bool,
    },
    /// A call or transaction failed at the endpoint.
    #[error("RPC request to {url} failed while {action}: {reason}")]
    Rpc {
        /// The endpoint.
        url: String,
        /// What was being done.
        action: String,
        /// The error the endpoint or transport reported.
        reason: String,
    },
    /// A transaction was mined but reverted.
    #[error("transaction {action} reverted (tx {tx})")]
    Reverted {
        /// What the transaction was meant to do.
        action: String,
        /// Its hash.
        tx: String,
    },
    /// The configured chain id and the RPC's chain id differ.
    #[error("chain id mismatch: {source_name} says chain {expected}, but the RPC endpoint {url} serves chain {actual}; point --rpc-url at chain {expected} or use the deployment of chain {actual}")]
    ChainIdMismatch {
        /// Where the expected chain id came from (a file or a flag).
        source_name: String,
        /// The expected chain id.
        expected: u64,
        /// The RPC's chain id.
        actual: u64,
        /// The endpoint.
        url: String,
    },
    /// The deployment file does not exist.
    #[error("deployment file {path} not found: deploy with `seed-eth deploy`, or name the file with --deployment (or SEED_ETH_DEPLOYMENT), or give --registry")]
    DeploymentMissing {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The deployment file cannot be read or is not the expected JSON.
    #[error("deployment file {path} is malformed: {reason}")]
    DeploymentMalformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// An address the deployment names holds no contract on this chain.
    #[error("{what} {address} (from {origin}) has no code on chain {chain_id}: the deployment did not complete or belongs to another chain; redeploy or fix the file")]
    NoCode {
        /// Which contract.
        what: String,
        /// Its address.
        address: Address,
        /// Where the address came from.
        origin: String,
        /// The chain that was asked.
        chain_id: u64,
    },
    /// The deployed contracts are not wired as the deployment file or docs/governance.md say.
    #[error("wiring check failed: {0}")]
    Wiring(String),
    /// The configuration file cannot be read or parsed.
    #[error("configuration file {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No signing key was configured.
    #[error("no signing key: set SEED_ETH_PRIVATE_KEY to a 0x-prefixed 32-byte hex key, or give --keystore FILE (password from SEED_ETH_KEYSTORE_PASSWORD or a prompt); keys are never accepted as flags")]
    NoKey,
    /// The key in the environment is not a valid secp256k1 key.
    #[error(
        "SEED_ETH_PRIVATE_KEY is not a valid private key: expected 0x followed by 64 hex digits"
    )]
    InvalidKey,
    /// The keystore cannot be decrypted.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What failed (a wrong password, an unreadable file).
        reason: String,
    },
    /// Writing the deployment file failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
}

impl ChainError {
    /// Whether the user's input or the network is at fault.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NotJsonRpc {
                transient: false, ..
            } => ErrorClass::Config,
            Self::Unreachable { .. }
            | Self::NotJsonRpc { .. }
            | Self::Rpc { .. }
            | Self::Reverted { .. }
            | Self::Wiring(_) => ErrorClass::Network,
            Self::InvalidRpcUrl { .. }
            | Self::NoRpcUrl
            | Self::ChainIdMismatch { .. }
            | Self::DeploymentMissing { .. }
            | Self::DeploymentMalformed { .. }
            | Self::NoCode { .. }
            | Self::ConfigFile { .. }
            | Self::Config(_)
            | Self::NoKey
            | Self::InvalidKey
            | Self::Keystore { .. }
            | Self::Write { .. } => ErrorClass::Config,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;
