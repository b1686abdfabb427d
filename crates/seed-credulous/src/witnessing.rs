//! Witnessing the checkpoints a release relies on. An inclusion proof shows
//! an entry is in *a* tree; a verifier also needs that tree to be the one
//! everybody else sees. For each checkpoint a verified bundle carries:
//!
//! 1. it is reconciled with the local witness state (`--witness-state`, the
//!    file a local `seed-eth witness` keeps, or a temporary one), so a tree
//!    this machine cannot reconcile with what it saw before is refused;
//! 2. each witness of the policy is asked for its newest cosigned checkpoint
//!    of that log, which is reconciled the same way (proofs from the log);
//! 3. a witness counts when its cosigned tree is at least as large as the
//!    bundle's: consistency being transitive, it then vouches for a tree
//!    extending the bundle's; the policy's quorum must hold.
//!
//! A conflict anywhere is a split-view alarm (kept in the state) and the
//! bundle is refused; a witness not yet caught up, or out of reach, only
//! leaves the bundle "not witnessed yet", which blocks promotion until a
//! later pass.

use std::{collections::BTreeSet, path::Path};

use seed_sigstore::{CredulousPolicy, LogEntry};
use seed_witness::{
    gossip::{self, origin_hash},
    note, Alarm, Note, Observed, StoreError, Witness, WitnessError, WitnessPolicy,
};

/// What witnessing found about one bundle's checkpoints.
#[derive(Debug, Clone)]
pub enum Witnessed {
    /// Every checkpoint is extended by trees a quorum of witnesses cosigned.
    Yes,
    /// Not (yet) enough witnesses vouch for a checkpoint: retry later.
    NotYet(String),
    /// A split view: the alarm (also stored) names both views.
    SplitView(Box<Alarm>),
}

/// The witness checks of a policy, with the local state they reconcile in.
pub struct Witnessing {
    policy: WitnessPolicy,
    observer: Witness,
    http: reqwest::Client,
    // Keeps a temporary state alive as long as the observer uses it.
    _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Witnessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witnessing")
            .field("quorum", &self.policy.describe())
            .finish_non_exhaustive()
    }
}

/// Why witnessing cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum WitnessingError {
    /// The state file cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No temporary state could be made.
    #[error("cannot make a temporary witness state: {0}")]
    Scratch(std::io::Error),
}

impl Witnessing {
    /// The checks `policy` asks for, reconciling in `state` (a temporary
    /// file when `None`); `None` when the policy asks for no witnessing.
    pub fn new(
        policy: &CredulousPolicy,
        state: Option<&Path>,
    ) -> Result<Option<Self>, WitnessingError> {
        let Some(witnesses) = &policy.witnesses else {
            return Ok(None);
        };
        let logs = policy
            .logs
            .iter()
            .filter_map(|log| log.witnessed.clone())
            .collect();
        let (path, scratch) = match state {
            Some(path) => (path.to_owned(), None),
            None => {
                let dir = tempfile::tempdir().map_err(WitnessingError::Scratch)?;
                (dir.path().join("witness.sqlite"), Some(dir))
            }
        };
        Ok(Some(Self {
            policy: witnesses.clone(),
            observer: Witness::open(logs, None, &path)?,
            http: gossip::client(),
            _scratch: scratch,
        }))
    }

    /// Reconciling in `witness`'s state, with no quorum: a builder's own
    /// witness, checked before it publishes (`attest`).
    pub fn local(witness: Witness) -> Self {
        Self {
            policy: WitnessPolicy::none(),
            observer: witness,
            http: gossip::client(),
            _scratch: None,
        }
    }

    /// The quorum rule in words.
    pub fn describe(&self) -> String {
        self.policy.describe()
    }

    /// Checks every checkpoint `entries` rely on (see the module docs).
    pub async fn check(&self, entries: &[LogEntry], what: &str) -> Witnessed {
        for entry in entries {
            match self.check_checkpoint(&entry.checkpoint, what).await {
                Witnessed::Yes => {}
                other => return other,
            }
        }
        Witnessed::Yes
    }

    /// Reconciles one checkpoint with the local state only (no quorum):
    /// what a builder checks before publishing (`attest`).
    pub async fn reconcile(&self, checkpoint: &str, what: &str) -> Witnessed {
        match self
            .observer
            .observe(checkpoint.as_bytes(), what, false)
            .await
        {
            Ok(_) => Witnessed::Yes,
            Err(WitnessError::Alarm(alarm)) => Witnessed::SplitView(alarm),
            Err(error) => {
                Witnessed::NotYet(format!("its checkpoint cannot be reconciled: {error}"))
            }
        }
    }

    /// Reconciles a witness checkpoint gossiped by `source` (see
    /// [`crate::gossip`]); `None` when it is no evidence here: a log this
    /// policy does not follow, or no valid signature of its log (anyone who
    /// can push can attach bytes to an image).
    pub async fn reconcile_gossiped(&self, note: &[u8], source: &str) -> Option<Witnessed> {
        match self.observer.observe(note, source, false).await {
            Ok(_) => Some(Witnessed::Yes),
            Err(WitnessError::UnknownLog(_) | WitnessError::Refused(_)) => None,
            Err(WitnessError::Alarm(alarm)) => Some(Witnessed::SplitView(alarm)),
            Err(error) => Some(Witnessed::NotYet(format!(
                "{source} cannot be reconciled yet: {error}"
            ))),
        }
    }

    /// Who cosigned `note`, for an alarm's source: the policy's witnesses
    /// whose cosignatures verify, by name; any other signer (the log's own
    /// aside) by the name and key id it claims, marked unverified.
    pub fn cosigners(&self, note: &Note) -> String {
        let verified = self.policy.cosigners(note);
        let logs: Vec<&seed_witness::Vkey> =
            self.observer.logs().map(|log| &log.key.vkey).collect();
        let mut names: Vec<String> = verified.iter().cloned().collect();
        for signature in note.signatures() {
            let of_log = logs
                .iter()
                .any(|key| key.name() == signature.name && key.id() == signature.id);
            let of_policy = self.policy.witnesses().iter().any(|w| {
                verified.contains(&w.name)
                    && w.vkey.name() == signature.name
                    && w.vkey.id() == signature.id
            });
            if !of_log && !of_policy {
                names.push(format!(
                    "{}+{} (unverified)",
                    signature.name,
                    hex::encode(signature.id)
                ));
            }
        }
        match names.is_empty() {
            true => "nobody".to_owned(),
            false => names.join(", "),
        }
    }

    /// The checkpoint of `origin` the local witness holds, freshly cosigned
    /// with its key (`None` without a key, or when nothing is held).
    pub fn cosigned(&self, origin: &str) -> Result<Option<String>, WitnessError> {
        self.observer.cosigned(origin)
    }

    async fn check_checkpoint(&self, checkpoint: &str, what: &str) -> Witnessed {
        let size = match self.reconcile(checkpoint, what).await {
            Witnessed::Yes => checkpoint_size(checkpoint),
            other => return other,
        };
        let origin = checkpoint.lines().next().unwrap_or_default();
        let mut vouching = BTreeSet::new();
        let mut missing = Vec::new();
        for witness in self.policy.witnesses() {
            let Some(url) = &witness.url else {
                missing.push(format!("{} (no URL in the policy)", witness.name));
                continue;
            };
            let cosigned = match self.cosigned_by(url, &witness.vkey, origin).await {
                Ok(note) => note,
                Err(reason) => {
                    missing.push(format!("{} ({reason})", witness.name));
                    continue;
                }
            };
            let source = format!("witness {} ({url})", witness.name);
            match self
                .observer
                .observe(cosigned.as_bytes(), &source, false)
                .await
            {
                Ok(Observed::Behind { size: theirs, .. }) if theirs < size => {
                    missing.push(format!(
                        "{} (at size {theirs}, before {size})",
                        witness.name
                    ));
                }
                Ok(_) => {
                    vouching.insert(witness.name.clone());
                }
                Err(WitnessError::Alarm(alarm)) => return Witnessed::SplitView(alarm),
                Err(error) => missing.push(format!("{} ({error})", witness.name)),
            }
        }
        if self.policy.satisfied_by(&vouching) {
            Witnessed::Yes
        } else {
            Witnessed::NotYet(format!(
                "its checkpoint of {origin:?} at size {size} is vouched for by {} of the witness \
                 quorum {}; not yet: {}",
                if vouching.is_empty() {
                    "none".to_owned()
                } else {
                    vouching.into_iter().collect::<Vec<_>>().join(", ")
                },
                self.policy.describe(),
                missing.join(", ")
            ))
        }
    }

    /// The witness's newest cosigned checkpoint of `origin`, with its
    /// cosignature verified.
    async fn cosigned_by(
        &self,
        url: &str,
        vkey: &seed_witness::Vkey,
        origin: &str,
    ) -> Result<String, String> {
        let url = format!(
            "{}/{}/checkpoint",
            url.trim_end_matches('/'),
            origin_hash(origin)
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let text = response.text().await.map_err(|e| e.to_string())?;
        let note = Note::parse(text.as_bytes()).map_err(|e| e.to_string())?;
        note::verify(&note, std::slice::from_ref(vkey))
            .map_err(|e| format!("its cosignature: {e}"))?;
        Ok(text)
    }
}

fn checkpoint_size(checkpoint: &str) -> u64 {
    checkpoint
        .lines()
        .nth(1)
        .and_then(|line| line.parse().ok())
        .unwrap_or(0)
}
