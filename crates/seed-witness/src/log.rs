//! Reading a log as a witness needs it: its newest signed checkpoint and a
//! consistency proof between two sizes. Rekor v1 serves both over its REST
//! API; a tiled log (Rekor v2) serves tiles the proof is built from
//! ([`crate::tiles`]). Nothing a log answers is trusted before it is
//! verified.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;

use crate::{checkpoint::Checkpoint, tiles::TiledLog};

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
            http: http_client(),
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
        let body = get(&self.http, url).await?;
        serde_json::from_slice(&body).map_err(|e| LogError::Unavailable {
            url: url.to_owned(),
            reason: format!("unreadable answer: {e}"),
        })
    }
}

/// A client for reading logs, with [`LOG_TIMEOUT`].
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(LOG_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// GETs `url`: a 4xx other than 429 is [`LogError::Refused`] (the log says
/// it cannot), anything else that is not a success is
/// [`LogError::Unavailable`].
pub(crate) async fn get(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, LogError> {
    let unavailable = |reason: String| LogError::Unavailable {
        url: url.to_owned(),
        reason,
    };
    let response = http
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
    Ok(body.to_vec())
}

/// Where a witness reads a log: a Rekor v1 REST API, or a tiled log (C2SP
/// tlog-tiles, as Rekor v2 serves it).
#[derive(Debug, Clone)]
pub enum LogClient {
    /// Rekor v1: proofs from `/api/v1/log/proof`.
    RekorV1(RekorV1),
    /// A tiled log: proofs built from its hash tiles.
    Tiles(TiledLog),
}

impl LogClient {
    /// The client a configuration names: `url` for a Rekor v1 log,
    /// `tiles_url` for a tiled log's prefix (Rekor v2: its URL with
    /// `/api/v2`), at most one of them; `None` for neither.
    pub fn from_urls(url: Option<&str>, tiles_url: Option<&str>) -> Result<Option<Self>, String> {
        match (url, tiles_url) {
            (Some(_), Some(_)) => Err(
                "give `url` (a Rekor v1 log) or `tiles-url` (a tiled log, Rekor v2), not both"
                    .to_owned(),
            ),
            (Some(url), None) => Ok(Some(Self::RekorV1(RekorV1::new(url)))),
            (None, Some(prefix)) => Ok(Some(Self::Tiles(TiledLog::new(prefix)))),
            (None, None) => Ok(None),
        }
    }

    /// Its base URL.
    pub fn url(&self) -> &str {
        match self {
            Self::RekorV1(log) => log.url(),
            Self::Tiles(log) => log.url(),
        }
    }

    /// Its newest signed checkpoint.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, LogError> {
        match self {
            Self::RekorV1(log) => log.checkpoint().await,
            Self::Tiles(log) => log.checkpoint().await,
        }
    }

    /// The consistency proof from `old` leaves to the tree of `new` (a
    /// tiled log's tiles are authenticated against `new`'s root).
    pub async fn consistency(&self, old: u64, new: &Checkpoint) -> Result<Vec<[u8; 32]>, LogError> {
        match self {
            Self::RekorV1(log) => log.consistency(old, new.size).await,
            Self::Tiles(log) => log.consistency(old, new.size, new.root).await,
        }
    }
}

/// Base64 of each hash, how proofs are written in notes and alarms.
pub fn proof_to_base64(proof: &[[u8; 32]]) -> Vec<String> {
    proof.iter().map(|hash| STANDARD.encode(hash)).collect()
}
