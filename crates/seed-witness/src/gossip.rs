//! Gossip between witnesses over tlog-witness HTTP: each pass, a witness
//! *pulls* every peer's cosigned checkpoint of each log (its monitoring
//! endpoint) and reconciles it with its own, and *pushes* its own to the
//! peer's `add-checkpoint`. A peer whose checkpoint the log cannot prove
//! consistent with ours raises an alarm naming the peer.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{
    checkpoint::SignedCheckpoint,
    note::{self, Note, NoteError, Vkey},
    witness::{AddCheckpoint, Observed, Witness, WitnessError, WitnessedLog},
};

/// How long one request to a peer may take.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Another witness: its name (for alarms), cosignature key and URL prefix.
#[derive(Debug, Clone)]
pub struct Peer {
    /// How alarms name it.
    pub name: String,
    /// Its cosignature key.
    pub vkey: Vkey,
    /// Its URL prefix (`<url>/add-checkpoint`, `<url>/<origin hash>/checkpoint`).
    pub url: String,
}

/// What one exchange with a peer about one log found.
#[derive(Debug)]
pub enum Exchange {
    /// The peer holds nothing for the log yet.
    Nothing,
    /// The peer's checkpoint was reconciled with ours.
    Reconciled(Observed),
    /// The peer accepted (and cosigned) ours.
    Cosigned {
        /// The size it cosigned.
        size: u64,
    },
}

/// Why an exchange failed (an alarm among them: see [`WitnessError::Alarm`]).
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The peer could not be reached or answered nonsense.
    #[error("peer {peer}: {reason}")]
    Unavailable {
        /// The peer's name.
        peer: String,
        /// What failed.
        reason: String,
    },
    /// The peer's checkpoint lacks its valid cosignature.
    #[error("peer {peer} served a checkpoint without its valid cosignature: {source}")]
    NotCosigned {
        /// The peer's name.
        peer: String,
        /// Why.
        source: NoteError,
    },
    /// Reconciling failed; an alarm if the views conflict.
    #[error(transparent)]
    Witness(#[from] WitnessError),
}

/// The HTTP client gossip uses.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PEER_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// The lowercase hex SHA-256 of an origin: the monitoring path's key.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

impl Peer {
    fn unavailable(&self, reason: impl std::fmt::Display) -> GossipError {
        GossipError::Unavailable {
            peer: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// Fetches the peer's cosigned checkpoint of `log` and reconciles it with
    /// ours (proofs come from the log, never from the peer).
    pub async fn pull(
        &self,
        witness: &Witness,
        log: &WitnessedLog,
        http: &reqwest::Client,
    ) -> Result<Exchange, GossipError> {
        let url = format!(
            "{}/{}/checkpoint",
            self.url.trim_end_matches('/'),
            origin_hash(&log.key.origin)
        );
        let response = http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.unavailable(e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Exchange::Nothing);
        }
        if !response.status().is_success() {
            return Err(self.unavailable(format!("{url} answered {}", response.status())));
        }
        let bytes = response.bytes().await.map_err(|e| self.unavailable(e))?;
        let note = Note::parse(&bytes).map_err(|source| GossipError::NotCosigned {
            peer: self.name.clone(),
            source,
        })?;
        note::verify(&note, std::slice::from_ref(&self.vkey)).map_err(|source| {
            GossipError::NotCosigned {
                peer: self.name.clone(),
                source,
            }
        })?;
        let source = format!("peer {} ({})", self.name, self.url);
        Ok(Exchange::Reconciled(
            witness.observe(&bytes, &source, false).await?,
        ))
    }

    /// Offers our held checkpoint of `log` to the peer's add-checkpoint,
    /// learning its size from a 409 and proving ours from it with the log.
    pub async fn push(
        &self,
        witness: &Witness,
        log: &WitnessedLog,
        http: &reqwest::Client,
    ) -> Result<Exchange, GossipError> {
        let Some(held) = witness.held(&log.key.origin)? else {
            return Ok(Exchange::Nothing);
        };
        let size = held.checkpoint().size;
        let url = format!("{}/add-checkpoint", self.url.trim_end_matches('/'));
        let mut old = 0;
        // Two rounds: a guess, then the size a 409 named.
        for _ in 0..2 {
            let proof = match (old, &log.client) {
                (0, _) => Vec::new(),
                (old, _) if old == size => Vec::new(),
                (old, Some(client)) => client
                    .consistency(old, held.checkpoint())
                    .await
                    .map_err(WitnessError::from)?,
                (_, None) => return Err(WitnessError::NoLogUrl(log.key.origin.clone()).into()),
            };
            let body = AddCheckpoint {
                old,
                proof,
                checkpoint: log_signed(&held, log).encode().into_bytes(),
            };
            let response = http
                .post(&url)
                .body(body.encode())
                .send()
                .await
                .map_err(|e| self.unavailable(e))?;
            let status = response.status().as_u16();
            let text = response.text().await.map_err(|e| self.unavailable(e))?;
            match status {
                200 => {
                    let mut cosigned =
                        Note::parse(held.encode().as_bytes()).map_err(|e| self.unavailable(e))?;
                    for line in text.lines() {
                        cosigned.add_signature(
                            crate::note::NoteSignature::parse_line(line)
                                .map_err(|e| self.unavailable(e))?,
                        );
                    }
                    note::verify(&cosigned, std::slice::from_ref(&self.vkey)).map_err(
                        |source| GossipError::NotCosigned {
                            peer: self.name.clone(),
                            source,
                        },
                    )?;
                    return Ok(Exchange::Cosigned { size });
                }
                409 => {
                    let theirs: u64 = text
                        .trim_end()
                        .parse()
                        .map_err(|_| self.unavailable(format!("a 409 without a size: {text:?}")))?;
                    if theirs > size {
                        // The peer is ahead of us: pulling reconciles.
                        return self.pull(witness, log, http).await;
                    }
                    old = theirs;
                }
                422 => {
                    // The peer finds ours inconsistent with its own: pull its
                    // view, which the log must reconcile with ours or alarm.
                    return self.pull(witness, log, http).await;
                }
                _ => return Err(self.unavailable(format!("{url} answered {status}: {text}"))),
            }
        }
        Err(self.unavailable("its size kept moving"))
    }
}

/// The held note with only the log's signature lines: what a peer needs to
/// verify, without our cosignature (which it would ignore anyway).
fn log_signed(held: &SignedCheckpoint, log: &WitnessedLog) -> Note {
    Note::new(
        held.note().text().to_owned(),
        held.note().signatures_of(&log.key.vkey).cloned().collect(),
    )
}
