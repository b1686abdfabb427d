//! The witness: reconciles every checkpoint it is shown (by polling a log,
//! by a log or peer through `add-checkpoint`, by a verified bundle) with the
//! newest one it holds for that log, and either moves forward (cosigning,
//! when it has a key), accepts a proven prefix, or raises an alarm that
//! stores both views and the failed proof.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Mutex, MutexGuard},
};

use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};

use crate::{
    checkpoint::{Checkpoint, LogKey, SignedCheckpoint},
    cosignature::Cosigner,
    log::{proof_to_base64, LogClient, LogError},
    note::{Note, NoteError, NoteSignature},
    proof::{verify_checkpoints, MAX_PROOF_HASHES},
    store::{now_ms, Advance, Alarm, AlarmKind, Store, StoreError},
};

/// How many times a reconciliation is redone when another writer moved the
/// held checkpoint in between (each redo is a real advance of the log).
const MAX_RACES: usize = 8;

/// A log this witness follows.
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    /// Its origin and key.
    pub key: LogKey,
    /// Where consistency proofs come from; without it, only checkpoints
    /// that come with their proof (add-checkpoint) can be reconciled.
    pub client: Option<LogClient>,
}

/// How a checkpoint relates to the one held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Nothing was held for the log; this one is now.
    First {
        /// Its size.
        size: u64,
    },
    /// Proven to extend the held one, and now held (and cosigned).
    Advanced {
        /// The size held before.
        from: u64,
        /// The size held now.
        to: u64,
    },
    /// The very checkpoint held.
    Same {
        /// Its size.
        size: u64,
    },
    /// Proven to be a prefix of the held one.
    Behind {
        /// Its size.
        size: u64,
        /// The size held.
        held: u64,
    },
}

/// Why a checkpoint was not reconciled.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// Not a log this witness follows.
    #[error("no log of origin {0:?} is witnessed here")]
    UnknownLog(String),
    /// Not signed by its log, or not a checkpoint.
    #[error("checkpoint refused: {0}")]
    Refused(#[from] NoteError),
    /// The log could not be asked for a proof; try again later.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The log has no URL here to ask for a proof.
    #[error("log {0:?} has no URL configured, so no consistency proof can be fetched")]
    NoLogUrl(String),
    /// **Split view**: the checkpoint contradicts the one held; the alarm
    /// (stored) carries both and the proof.
    #[error(
        "SPLIT VIEW of log {origin:?} ({kind:?}, alarm #{id}): {detail}; held size {held_size}, \
         seen from {source_name}",
        origin = .0.origin, kind = .0.kind, id = .0.id, detail = .0.detail,
        held_size = size_of(&.0.held), source_name = .0.source
    )]
    Alarm(Box<Alarm>),
    /// The state file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The held checkpoint kept moving under us.
    #[error("log {0:?}: the held checkpoint moved {MAX_RACES} times during one reconciliation")]
    Busy(String),
}

/// The size line of a stored note, for messages.
fn size_of(note: &str) -> String {
    note.lines().nth(1).unwrap_or("?").to_owned()
}

/// Why an add-checkpoint request was refused, each with its tlog-witness
/// status code.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// 400: the request is malformed, or old size > checkpoint size.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no valid signature of the log.
    #[error("forbidden: {0}")]
    Forbidden(NoteError),
    /// 404: the origin is not a witnessed log.
    #[error("unknown log origin {0:?}")]
    UnknownLog(String),
    /// 409: the old size is not the held one; here is the held size.
    #[error("the witness holds size {0}")]
    Conflict(u64),
    /// 422: the proof does not verify, or the roots of one size differ
    /// (then with the alarm recorded).
    #[error("unprocessable: {reason}")]
    Unprocessable {
        /// What failed.
        reason: String,
        /// The alarm, when the log itself equivocated.
        alarm: Option<Box<Alarm>>,
    },
    /// 500: the state file failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AddError {
    /// The HTTP status tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::UnknownLog(_) => 404,
            Self::Conflict(_) => 409,
            Self::Unprocessable { .. } => 422,
            Self::Store(_) => 500,
        }
    }
}

/// An add-checkpoint request body, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint.
    pub proof: Vec<[u8; 32]>,
    /// The signed checkpoint.
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    /// Parses `old <size>\n`, up to 63 base64 hash lines, a blank line and
    /// the checkpoint, exactly as tlog-witness writes them.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8".to_owned())?;
        let (head, checkpoint) = text
            .split_once("\n\n")
            .ok_or_else(|| "no blank line before the checkpoint".to_owned())?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && (*n == "0" || !n.starts_with('0')))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| "the first line is not `old <size>`".to_owned())?;
        let proof = lines
            .map(|line| {
                STANDARD
                    .decode(line)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| format!("proof line {line:?} is not a base64 hash"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_HASHES {
            return Err(format!("more than {MAX_PROOF_HASHES} proof lines"));
        }
        Ok(Self {
            old,
            proof,
            checkpoint: checkpoint.as_bytes().to_vec(),
        })
    }

    /// The body as a client sends it.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        let mut body = body.into_bytes();
        body.extend_from_slice(&self.checkpoint);
        body
    }
}

/// The witness: its logs, its key (none for a verifier that only checks)
/// and its state.
pub struct Witness {
    logs: BTreeMap<String, WitnessedLog>,
    cosigner: Option<Cosigner>,
    store: Mutex<Store>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("logs", &self.logs.keys().collect::<Vec<_>>())
            .field("cosigner", &self.cosigner)
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// A witness of `logs` with its state at `state`, cosigning with
    /// `cosigner` if given.
    pub fn open(
        logs: Vec<WitnessedLog>,
        cosigner: Option<Cosigner>,
        state: &Path,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            logs: logs
                .into_iter()
                .map(|log| (log.key.origin.clone(), log))
                .collect(),
            cosigner,
            store: Mutex::new(Store::open(state)?),
        })
    }

    /// The logs followed, by origin.
    pub fn logs(&self) -> impl Iterator<Item = &WitnessedLog> {
        self.logs.values()
    }

    /// The cosigning key, if any.
    pub fn cosigner(&self) -> Option<&Cosigner> {
        self.cosigner.as_ref()
    }

    /// The state, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn log(&self, origin: &str) -> Option<&WitnessedLog> {
        self.logs.get(origin)
    }

    /// The newest checkpoint held for `origin`, with the signatures stored.
    pub fn held(&self, origin: &str) -> Result<Option<SignedCheckpoint>, WitnessError> {
        let log = self
            .log(origin)
            .ok_or_else(|| WitnessError::UnknownLog(origin.to_owned()))?;
        let held = self.store().latest(origin)?;
        held.map(|(_, note)| SignedCheckpoint::verify(note.as_bytes(), &log.key))
            .transpose()
            .map_err(WitnessError::from)
    }

    /// The held checkpoint of the log whose origin hashes to `origin_hash`
    /// (lowercase hex SHA-256), as tlog-witness's monitoring endpoint serves it.
    pub fn held_by_origin_hash(&self, origin_hash: &str) -> Result<Option<String>, WitnessError> {
        let Some(origin) = self
            .logs
            .keys()
            .find(|origin| hex::encode(Sha256::digest(origin.as_bytes())) == origin_hash)
        else {
            return Ok(None);
        };
        Ok(self.held(origin)?.map(|held| held.encode()))
    }

    /// Reconciles a signed checkpoint with the one held, fetching the
    /// consistency proof from the log. `source` names who showed it (for
    /// the alarm). A smaller checkpoint must be proven a prefix; one the
    /// log cannot prove is a rollback when the log itself served it as
    /// its newest (`from_log_head`), an inconsistency otherwise.
    pub async fn observe(
        &self,
        bytes: &[u8],
        source: &str,
        from_log_head: bool,
    ) -> Result<Observed, WitnessError> {
        let origin = origin_of(bytes)?;
        let log = self
            .log(&origin)
            .ok_or_else(|| WitnessError::UnknownLog(origin.clone()))?;
        self.reconcile(bytes, source, from_log_head, log.client.as_ref())
            .await
    }

    /// Polls `log` for its newest checkpoint and reconciles it, asking the
    /// same endpoint for the proof: an endpoint showing us a view must be
    /// able to prove it from what we hold.
    pub async fn poll(&self, log: &WitnessedLog) -> Result<Observed, WitnessError> {
        let client = log
            .client
            .as_ref()
            .ok_or_else(|| WitnessError::NoLogUrl(log.key.origin.clone()))?;
        let bytes = client.checkpoint().await?;
        self.reconcile(&bytes, client.url(), true, Some(client))
            .await
    }

    async fn reconcile(
        &self,
        bytes: &[u8],
        source: &str,
        from_log_head: bool,
        proofs: Option<&LogClient>,
    ) -> Result<Observed, WitnessError> {
        let origin = origin_of(bytes)?;
        let log = self
            .log(&origin)
            .ok_or_else(|| WitnessError::UnknownLog(origin.clone()))?;
        let seen = SignedCheckpoint::verify(bytes, &log.key)?;
        for _ in 0..MAX_RACES {
            let Some(held) = self.held(&origin)? else {
                if self.store_checkpoint(&origin, None, &seen)? {
                    return Ok(Observed::First {
                        size: seen.checkpoint().size,
                    });
                }
                continue;
            };
            let (h, s) = (held.checkpoint(), seen.checkpoint());
            if s.size == h.size {
                if s.root == h.root {
                    return Ok(Observed::Same { size: s.size });
                }
                return Err(self.alarm(
                    AlarmKind::Fork,
                    source,
                    &held,
                    &seen,
                    &[],
                    format!(
                        "two checkpoints of size {} with roots {} and {}",
                        s.size,
                        h.root_base64(),
                        s.root_base64()
                    ),
                ));
            }
            let (old, new) = if s.size > h.size { (h, s) } else { (s, h) };
            let unproven = if s.size < h.size && from_log_head {
                AlarmKind::Rollback
            } else {
                AlarmKind::Inconsistent
            };
            let proof = if old.size == 0 {
                Vec::new()
            } else {
                let client = proofs.ok_or_else(|| WitnessError::NoLogUrl(origin.clone()))?;
                match client.consistency(old.size, new).await {
                    Ok(proof) => proof,
                    Err(LogError::Refused { reason, .. }) => {
                        return Err(self.alarm(
                            unproven,
                            source,
                            &held,
                            &seen,
                            &[],
                            format!(
                                "the log cannot prove size {} consistent with size {}: {reason}",
                                old.size, new.size
                            ),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            if old.size != 0 {
                if let Err(e) = verify_checkpoints(old, new, &proof) {
                    return Err(self.alarm(unproven, source, &held, &seen, &proof, e.to_string()));
                }
            }
            if s.size < h.size {
                return Ok(Observed::Behind {
                    size: s.size,
                    held: h.size,
                });
            }
            if self.store_checkpoint(&origin, Some(h.size), &seen)? {
                return Ok(Observed::Advanced {
                    from: h.size,
                    to: s.size,
                });
            }
        }
        Err(WitnessError::Busy(origin))
    }

    /// tlog-witness `add-checkpoint`: checks the request against the held
    /// checkpoint and, if it extends it, stores and cosigns it (the write
    /// is committed before this returns, so before any reply).
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        source: &str,
    ) -> Result<Vec<NoteSignature>, AddError> {
        let origin = origin_of(&request.checkpoint).map_err(|e| match e {
            WitnessError::Refused(e) => AddError::BadRequest(e.to_string()),
            other => AddError::BadRequest(other.to_string()),
        })?;
        let log = self
            .log(&origin)
            .ok_or_else(|| AddError::UnknownLog(origin.clone()))?;
        let seen =
            SignedCheckpoint::verify(&request.checkpoint, &log.key).map_err(|e| match e {
                NoteError::Malformed(why) => AddError::BadRequest(why),
                other => AddError::Forbidden(other),
            })?;
        let s = seen.checkpoint();
        if request.old > s.size {
            return Err(AddError::BadRequest(format!(
                "old size {} is larger than the checkpoint's {}",
                request.old, s.size
            )));
        }
        let unprocessable = |reason: String| AddError::Unprocessable {
            reason,
            alarm: None,
        };
        let held = self.held(&origin).map_err(|e| match e {
            WitnessError::Store(e) => AddError::Store(e),
            other => unprocessable(format!("the held checkpoint cannot be read: {other}")),
        })?;
        let held_size = held.as_ref().map_or(0, |h| h.checkpoint().size);
        if request.old != held_size {
            return Err(AddError::Conflict(held_size));
        }
        match &held {
            // Old size 0: the empty tree is a prefix of every tree.
            _ if request.old == 0 && !request.proof.is_empty() => {
                return Err(unprocessable("old size 0 takes no proof".to_owned()));
            }
            _ if request.old == 0 => {}
            Some(held) if held_size == s.size => {
                if held.checkpoint().root != s.root {
                    let alarm = self.alarm(
                        AlarmKind::Fork,
                        source,
                        held,
                        &seen,
                        &[],
                        format!(
                            "two checkpoints of size {} with roots {} and {}",
                            s.size,
                            held.checkpoint().root_base64(),
                            s.root_base64()
                        ),
                    );
                    return Err(AddError::Unprocessable {
                        reason: "the roots of one size differ".to_owned(),
                        alarm: match alarm {
                            WitnessError::Alarm(alarm) => Some(alarm),
                            _ => None,
                        },
                    });
                }
                if !request.proof.is_empty() {
                    return Err(unprocessable("equal sizes take no proof".to_owned()));
                }
            }
            Some(held) => verify_checkpoints(held.checkpoint(), s, &request.proof)
                .map_err(|e| unprocessable(e.to_string()))?,
            // Nothing held means a held size of 0, so old is 0: the first arm.
            None => {}
        }
        let from = held.as_ref().map(|h| h.checkpoint().size);
        match self.store_checkpoint(&origin, from, &seen)? {
            true => Ok(self
                .cosigner
                .iter()
                .map(|cosigner| cosigner.cosign(s.text().as_str(), now_ms() / 1000))
                .collect()),
            false => {
                let held = self.store().latest(&origin)?.map_or(0, |(size, _)| size);
                Err(AddError::Conflict(held))
            }
        }
    }

    /// Stores `seen` for `origin` if the held size is still `from`, as
    /// [`Self::cosigned_note`] makes it.
    fn store_checkpoint(
        &self,
        origin: &str,
        from: Option<u64>,
        seen: &SignedCheckpoint,
    ) -> Result<bool, StoreError> {
        let note = self.cosigned_note(&self.logs[origin], seen);
        let advance = self
            .store()
            .advance(origin, from, seen.checkpoint().size, &note.encode())?;
        Ok(advance == Advance::Stored)
    }

    /// The held checkpoint of `origin` with the log's signature and a fresh
    /// cosignature of this witness, as it is gossiped; `None` without a
    /// key, or when nothing is held yet.
    pub fn cosigned(&self, origin: &str) -> Result<Option<String>, WitnessError> {
        if self.cosigner.is_none() {
            return Ok(None);
        }
        let held = self.held(origin)?;
        Ok(held.map(|held| self.cosigned_note(&self.logs[origin], &held).encode()))
    }

    /// `seen` with only `log`'s signature and, with a key, this witness's
    /// cosignature made now: other lines are dropped, so only what was
    /// verified is served or gossiped again.
    fn cosigned_note(&self, log: &WitnessedLog, seen: &SignedCheckpoint) -> Note {
        let mut note = Note::new(
            seen.note().text().to_owned(),
            seen.note().signatures_of(&log.key.vkey).cloned().collect(),
        );
        if let Some(cosigner) = &self.cosigner {
            note.add_signature(cosigner.cosign(seen.note().text(), now_ms() / 1000));
        }
        note
    }

    /// Records an alarm and returns it as the error that reports it.
    fn alarm(
        &self,
        kind: AlarmKind,
        source: &str,
        held: &SignedCheckpoint,
        seen: &SignedCheckpoint,
        proof: &[[u8; 32]],
        detail: String,
    ) -> WitnessError {
        let alarm = Alarm {
            id: 0,
            origin: held.checkpoint().origin.clone(),
            kind,
            source: source.to_owned(),
            held: held.encode(),
            seen: seen.encode(),
            proof: proof_to_base64(proof),
            detail,
            at_ms: 0,
        };
        tracing::error!(origin = %alarm.origin, ?kind, source, detail = %alarm.detail, "split view detected");
        match self.store().record_alarm(alarm) {
            Ok(alarm) => WitnessError::Alarm(Box::new(alarm)),
            Err(e) => WitnessError::Store(e),
        }
    }
}

/// The origin line of a note, before anything is verified (to pick the key).
fn origin_of(bytes: &[u8]) -> Result<String, WitnessError> {
    let note = Note::parse(bytes)?;
    Ok(Checkpoint::parse_text(note.text())?.origin)
}
