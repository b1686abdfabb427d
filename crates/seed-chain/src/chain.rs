//! A connection to one chain through one RPC endpoint, with the chain id
//! checked once at connection time so later errors can name both.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    transports::{http::reqwest::Url, RpcError, TransportErrorKind},
};
use seed_core::excerpt;

use crate::error::{ChainError, Result};

/// How long the first request (`eth_chainId`) may take before the endpoint counts as unreachable.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for a transaction receipt before giving up.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// A provider together with the URL it talks to and the chain id it answered.
#[derive(Debug, Clone)]
pub struct Chain {
    provider: DynProvider,
    url: String,
    chain_id: u64,
    sender: Option<Address>,
    /// The widest `eth_getLogs` range the endpoint answered after refusing a
    /// wider one (0 until it refuses one); shared by every clone.
    log_range_limit: Arc<AtomicU64>,
}

/// Builds a [`Chain`]: URL, optional signer, timeout.
#[derive(Debug, Clone)]
pub struct ChainBuilder {
    url: String,
    signer: Option<PrivateKeySigner>,
    connect_timeout: Duration,
}

impl ChainBuilder {
    /// Starts a connection to `url` (http or https).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            signer: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Signs transactions locally with `signer`.
    pub fn signer(mut self, signer: PrivateKeySigner) -> Self {
        self.signer = Some(signer);
        self
    }

    /// How long `eth_chainId` may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Parses the URL, asks the endpoint for its chain id and returns the connection.
    ///
    /// A URL that does not parse is a configuration error; an endpoint that does not answer is
    /// a network error naming the URL.
    pub async fn connect(self) -> Result<Chain> {
        let url = Url::parse(&self.url).map_err(|e| ChainError::InvalidRpcUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChainError::InvalidRpcUrl {
                url: self.url,
                reason: format!(
                    "unsupported scheme '{}' (only http and https)",
                    url.scheme()
                ),
            });
        }
        let sender = self.signer.as_ref().map(PrivateKeySigner::address);
        let provider = match self.signer {
            Some(signer) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(url)
                .erased(),
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let chain_id = match tokio::time::timeout(self.connect_timeout, provider.get_chain_id())
            .await
        {
            Ok(Ok(id)) => id,
            Ok(Err(e)) => return Err(first_answer_error(self.url, e)),
            Err(_) => {
                return Err(ChainError::Unreachable {
                    url: self.url,
                    reason: format!("no answer to eth_chainId within {:?}", self.connect_timeout),
                })
            }
        };
        Ok(Chain {
            provider,
            url: self.url,
            chain_id,
            sender,
            log_range_limit: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// The error of the first request: an endpoint that answered, but not as a JSON-RPC endpoint
/// does (an HTML page, an HTTP error), is named with what it sent; silence is "unreachable".
fn first_answer_error(url: String, error: RpcError<TransportErrorKind>) -> ChainError {
    let (received, transient) = match &error {
        RpcError::DeserError { text, .. } => (
            format!("{} (not JSON-RPC)", excerpt(text.as_bytes())),
            false,
        ),
        RpcError::Transport(TransportErrorKind::HttpError(http))
        | RpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter {
            error: http, ..
        }) => (
            format!(
                "HTTP {} with {}",
                http.status,
                excerpt(http.body.as_bytes())
            ),
            // 5xx: a proxy whose node is down; 429: too many requests.
            http.status >= 500 || http.status == 429,
        ),
        _ => {
            return ChainError::Unreachable {
                url,
                reason: error.to_string(),
            }
        }
    };
    ChainError::NotJsonRpc {
        url,
        received,
        transient,
    }
}

impl Chain {
    /// The provider, for calls through the generated bindings.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The endpoint URL as configured.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id the endpoint reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The address transactions are sent from, when a signer was given.
    pub fn sender(&self) -> Option<Address> {
        self.sender
    }

    /// Fails with [`ChainError::ChainIdMismatch`] unless the endpoint serves `expected`.
    pub fn expect_chain_id(&self, expected: u64, source_name: &str) -> Result<()> {
        if expected == self.chain_id {
            return Ok(());
        }
        Err(ChainError::ChainIdMismatch {
            source_name: source_name.to_owned(),
            expected,
            actual: self.chain_id,
            url: self.url.clone(),
        })
    }

    /// Wraps an RPC or contract error with the endpoint and what was being done.
    pub fn rpc_error(
        &self,
        action: impl Into<String>,
        error: impl std::fmt::Display,
    ) -> ChainError {
        ChainError::Rpc {
            url: self.url.clone(),
            action: action.into(),
            reason: error.to_string(),
        }
    }

    /// The runtime code at `address` (empty for an account without code).
    pub async fn code_at(&self, address: Address) -> Result<Bytes> {
        self.provider
            .get_code_at(address)
            .await
            .map_err(|e| self.rpc_error(format!("reading the code at {address}"), e))
    }

    /// The widest `eth_getLogs` range, in blocks, this endpoint answered
    /// after it refused a wider one; `None` until it refuses one
    /// ([`crate::status::logs_in_chunks`]).
    pub fn log_range_limit(&self) -> Option<u64> {
        Some(self.log_range_limit.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }

    /// Records that the endpoint answered a range of `blocks` after refusing
    /// a wider one; the limit only ever shrinks (scans run concurrently).
    pub(crate) fn limit_log_range(&self, blocks: u64) {
        let blocks = blocks.max(1);
        let _ =
            self.log_range_limit
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |current| {
                    (current == 0 || blocks < current).then_some(blocks)
                });
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.rpc_error("reading the block number", e))
    }

    /// One storage word.
    pub async fn storage_at(&self, address: Address, slot: B256) -> Result<B256> {
        self.provider
            .get_storage_at(address, slot.into())
            .await
            .map(B256::from)
            .map_err(|e| self.rpc_error(format!("reading storage of {address}"), e))
    }

    /// Sends `tx`, waits for its receipt and fails unless it succeeded. `action` names the
    /// transaction in errors ("deploying the timelock").
    pub async fn send(&self, action: &str, tx: TransactionRequest) -> Result<TransactionReceipt> {
        let tx = match self.sender {
            Some(from) if tx.from.is_none() => tx.with_from(from),
            _ => tx,
        };
        let pending = self.provider.send_transaction(tx).await.map_err(|e| {
            // Gas estimation runs the transaction first; name the custom error it reverted with.
            let decoded = e
                .as_error_resp()
                .and_then(|payload| payload.as_revert_data())
                .and_then(|data| crate::bindings::describe_revert(&data));
            match decoded {
                Some(decoded) => self.rpc_error(action, format!("{e} ({decoded})")),
                None => self.rpc_error(action, e),
            }
        })?;
        tracing::info!(action, tx = %pending.tx_hash(), "transaction sent");
        let receipt = pending
            .with_timeout(Some(DEFAULT_RECEIPT_TIMEOUT))
            .get_receipt()
            .await
            .map_err(|e| self.rpc_error(format!("{action} (waiting for the receipt)"), e))?;
        tracing::info!(
            action,
            tx = %receipt.transaction_hash,
            block = receipt.block_number,
            gas_used = receipt.gas_used,
            success = receipt.status(),
            "transaction mined"
        );
        if !receipt.status() {
            return Err(ChainError::Reverted {
                action: action.to_owned(),
                tx: receipt.transaction_hash.to_string(),
            });
        }
        Ok(receipt)
    }
}
