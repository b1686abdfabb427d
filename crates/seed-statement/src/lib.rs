//! The statement a seed-eth builder signs after a reproducible build.
//!
//! - [`Statement`]: an in-toto Statement v1 whose subject is the built image
//!   and whose predicate ([`PREDICATE_TYPE`]) binds source, commit,
//!   `flake.lock`, system, closure manifest, image, builder, deployment, CI
//!   run, Nix settings and build time;
//! - [`canonical`]: the one JSON encoding statements and envelopes use;
//! - [`sign`] / [`verify`]: a DSSE envelope signed with the builder's
//!   secp256k1 key (the same key that casts its on-chain vote), recoverable,
//!   so the verifier needs only the registered address.
//!
//! The statement digest the registry stores is the SHA-256 of the envelope
//! bytes ([`SignedStatement::digest`]), which are also the OCI blob the
//! statement is published as. Formats and reasons: docs/decisions.md, D-019.

pub mod canonical;
pub mod dsse;
pub mod key;
pub mod nix;
pub mod statement;
pub mod time;

pub use canonical::{is_canonical_json, to_canonical_json, CanonicalError};
pub use dsse::{
    pae, sign, signing_digest, verify, Expected, SignError, SignedStatement, VerifiedStatement,
    VerifyError, VoteMismatch, PAYLOAD_TYPE,
};
pub use key::{BuilderKey, KeyError, RecoverableSignature};
pub use nix::{NixSettings, NixSettingsError, RELEVANT_NIX_KEYS};
pub use statement::{
    Builder, Predicate, RegisteredBuilder, RepositoryUri, RunId, SigstoreBuilder, Source,
    Statement, StatementError, PREDICATE_TYPE, STATEMENT_TYPE,
};
pub use time::{Timestamp, TimestampError};
