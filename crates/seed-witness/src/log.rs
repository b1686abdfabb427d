//! Reading a log as a witness needs it: its newest signed checkpoint and a
//! consistency proof between two sizes. Rekor v1 serves both over its REST
//! API; nothing it answers is trusted before it is verified.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;

/// How long one request to a log may take.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// No answer, a 5xx or 429, or an unreadable body: try again later.
    #[error("log {url} is unavailable: {reason}")]
    Unavailable {
        /// What was asked.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The log answered that it cannot (a 4xx): for a consistency proof
    /// between two trees it signed, that is itself evidence.
    #[error("log {url} refused: {reason}")]
    Refused {
        /// What was asked.
        url: String,
        /// Its answer.
        reason: String,
    },
}

/// A Rekor v1 log's read API.
#[derive(Debug, Clone)]
pub struct RekorV1 {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogInfo {
    signed_tree_head: String,
}

#[derive(Deserialize)]
struct ConsistencyProof {
    hashes: Vec<String>,
}

impl RekorV1 {
    /// The log at `base` (e.g. `https://rekor.sigstore.dev`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(LOG_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Its newest signed checkpoint (`GET /api/v1/log`).
    pub async fn checkpoint(&self) -> Result<Vec<u8>, LogError> {
        let url = format!("{}/api/v1/log", self.base);
        let info: LogInfo = self.get_json(&url).await?;
        Ok(info.signed_tree_head.into_bytes())
    }

    /// The consistency proof from `old` to `new` leaves
    /// (`GET /api/v1/log/proof`).
    pub async fn consistency(&self, old: u64, new: u64) -> Result<Vec<[u8; 32]>, LogError> {
        let url = format!(
            "{}/api/v1/log/proof?firstSize={old}&lastSize={new}",
            self.base
        );
        let proof: ConsistencyProof = self.get_json(&url).await?;
        proof
            .hashes
            .iter()
            .map(|hash| {
                hex::decode(hash)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| LogError::Unavailable {
                        url: url.clone(),
                        reason: format!("proof hash {hash:?} is not 32 bytes of hex"),
                    })
            })
            .collect()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, LogError> {
        let unavailable = |reason: String| LogError::Unavailable {
            url: url.to_owned(),
            reason,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if status.is_client_error() && status.as_u16() != 429 {
            return Err(LogError::Refused {
                url: url.to_owned(),
                reason: format!("{status}: {}", String::from_utf8_lossy(&body)),
            });
        }
        if !status.is_success() {
            return Err(unavailable(format!("answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| unavailable(format!("unreadable answer: {e}")))
    }
}

/// Base64 of each hash, how proofs are written in notes and alarms.
pub fn proof_to_base64(proof: &[[u8; 32]]) -> Vec<String> {
    proof.iter().map(|hash| STANDARD.encode(hash)).collect()
}
