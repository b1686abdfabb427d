//! Zero's counterpart of a split view, cheaply: an RPC endpoint that shows
//! `verify` or the keeper another chain. Each of them records the block it
//! relied on (chain id, number, hash, and which endpoint named it) in the
//! witness state; the witness asks other endpoints for the same blocks once
//! they are final there, and two hashes for one block are an alarm naming
//! both sources. Only final blocks are compared, so a reorganisation of
//! recent blocks is never mistaken for a lie.

use std::path::Path;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::B256,
    providers::{DynProvider, Provider, ProviderBuilder},
};

use crate::{
    store::{Alarm, BlockRecord, Store, StoreError},
    witness::Witness,
};

/// An RPC endpoint of a chain the witness compares recorded blocks with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEndpoint {
    /// The chain it must serve (EIP-155 id).
    pub chain_id: u64,
    /// Its JSON-RPC URL.
    pub url: String,
}

/// Why an endpoint could not be compared with.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Not an http(s) URL.
    #[error("chain endpoint {url}: not an http(s) URL: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// It failed to answer: try again later.
    #[error("chain endpoint {url} is unavailable: {reason}")]
    Unavailable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// It serves another chain than configured.
    #[error("chain endpoint {url} serves chain {served}, not the configured {configured}")]
    WrongChain {
        /// The URL.
        url: String,
        /// Its chain id.
        served: u64,
        /// The configured one.
        configured: u64,
    },
    /// The state file failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What one comparison found.
#[derive(Debug, Default)]
pub struct ChainCheck {
    /// Blocks compared (final at the endpoint, not compared before).
    pub compared: usize,
    /// Blocks not yet final at the endpoint, compared on a later pass.
    pub pending: usize,
    /// Mismatches (also stored).
    pub alarms: Vec<Alarm>,
}

/// Records in the witness state at `state` that `who` (`verify`, the
/// keeper) relied on block `number` of `chain_id` with `hash`, as the
/// endpoint at `rpc_url` named it. Another hash already recorded for that
/// block is an alarm: returned, and kept in the state.
pub fn record_relied_on(
    state: &Path,
    chain_id: u64,
    (number, hash): (u64, B256),
    who: &str,
    rpc_url: &str,
) -> Result<Option<Alarm>, StoreError> {
    Store::open(state)?.record_block(&BlockRecord {
        chain_id,
        number,
        hash: format!("{hash:#x}"),
        source: format!("{who} via {}", endpoint_label(rpc_url)),
    })
}

pub use seed_proof::endpoint_label;

impl ChainEndpoint {
    /// How records name this endpoint.
    pub fn source(&self) -> String {
        format!("endpoint {}", endpoint_label(&self.url))
    }

    /// Compares every block of its chain recorded in `witness`'s state that
    /// is final at this endpoint and that it has not named before.
    pub async fn check(&self, witness: &Witness) -> Result<ChainCheck, ChainError> {
        let source = self.source();
        let recorded = witness.store().blocks(self.chain_id)?;
        let mut due: Vec<u64> = recorded
            .iter()
            .map(|record| record.number)
            .filter(|number| {
                !recorded
                    .iter()
                    .any(|r| r.number == *number && r.source == source)
            })
            .collect();
        due.dedup();
        let mut check = ChainCheck::default();
        if due.is_empty() {
            return Ok(check);
        }
        let provider = self.connect()?;
        let served = provider
            .get_chain_id()
            .await
            .map_err(|e| self.unavailable(e))?;
        if served != self.chain_id {
            return Err(ChainError::WrongChain {
                url: self.url.clone(),
                served,
                configured: self.chain_id,
            });
        }
        let finalized = self.block(&provider, BlockNumberOrTag::Finalized).await?.0;
        for number in due {
            if number > finalized {
                check.pending += 1;
                continue;
            }
            let (_, hash) = self
                .block(&provider, BlockNumberOrTag::Number(number))
                .await?;
            let record = BlockRecord {
                chain_id: self.chain_id,
                number,
                hash,
                source: source.clone(),
            };
            check.compared += 1;
            if let Some(alarm) = witness.store().record_block(&record)? {
                check.alarms.push(alarm);
            }
        }
        Ok(check)
    }

    fn connect(&self) -> Result<DynProvider, ChainError> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| ChainError::BadUrl {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChainError::BadUrl {
                url: self.url.clone(),
                reason: format!("the scheme is '{}'", url.scheme()),
            });
        }
        Ok(ProviderBuilder::new().connect_http(url).erased())
    }

    async fn block(
        &self,
        provider: &DynProvider,
        tag: BlockNumberOrTag,
    ) -> Result<(u64, String), ChainError> {
        let block = provider
            .get_block_by_number(tag)
            .await
            .map_err(|e| self.unavailable(e))?
            .ok_or_else(|| self.unavailable(format!("it has no block {tag}")))?;
        Ok((block.header.number, format!("{:#x}", block.header.hash)))
    }

    fn unavailable(&self, reason: impl std::fmt::Display) -> ChainError {
        ChainError::Unavailable {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::endpoint_label;

    #[test]
    fn endpoint_labels_keep_no_api_key() {
        for (url, label) in [
            (
                "https://base-mainnet.g.alchemy.com/v2/SECRETKEY",
                "https://base-mainnet.g.alchemy.com",
            ),
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            (
                "https://user:SECRETKEY@rpc.example/?key=SECRETKEY",
                "https://rpc.example",
            ),
            ("not a url", "an unparsable endpoint URL"),
        ] {
            assert_eq!(endpoint_label(url), label);
        }
    }
}
