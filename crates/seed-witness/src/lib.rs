//! Witnessing transparency logs, so that a split view (a log showing
//! builders one tree and verifiers another) is detected before anything is
//! promoted.
//!
//! - [`note`], [`checkpoint`], [`cosignature`]: the C2SP signed-note,
//!   tlog-checkpoint and tlog-cosignature/v1 formats, parsed strictly.
//! - [`proof`]: RFC 6962 consistency proofs between two checkpoints.
//! - [`store`]: the SQLite state: the newest checkpoint per log and every
//!   alarm, with both views and the failed proof.
//! - [`witness`]: the reconciliation rule, shared by polling, the
//!   tlog-witness `add-checkpoint` endpoint and the checks of `verify`.
//! - [`policy`]: quorums of witnesses in tlog-policy syntax.
//! - [`log`], [`tiles`]: reading a log's checkpoint and consistency proofs,
//!   from Rekor v1's API or a tiled log's (Rekor v2) hash tiles.
//! - [`chain`]: Zero's blocks, compared across RPC endpoints.
//! - [`gossip`], [`server`], [`service`]: witnesses exchanging checkpoints
//!   over tlog-witness HTTP, the endpoints, and the polling loop.

pub mod chain;
pub mod checkpoint;
pub mod config;
pub mod cosignature;
pub mod gossip;
pub mod log;
pub mod note;
pub mod policy;
pub mod proof;
pub mod server;
pub mod service;
pub mod store;
pub mod tiles;
pub mod witness;

pub use checkpoint::{Checkpoint, LogKey, SignedCheckpoint};
pub use cosignature::Cosigner;
pub use note::{Note, NoteError, NoteSignature, Vkey};
pub use policy::WitnessPolicy;
pub use store::{Alarm, AlarmKind, BlockRecord, Store, StoreError};
pub use witness::{AddCheckpoint, AddError, Observed, Witness, WitnessError, WitnessedLog};
