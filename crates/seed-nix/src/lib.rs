//! Closure manifests of Nix store paths, and the `.seed.lock` file.
//!
//! A closure manifest lists every store path of a seed with its NAR hash; its
//! SHA-256 is the value builders attest and the quorum compares. It can be
//! computed two ways that must agree byte for byte:
//!
//! - from Nix's own records ([`Nix::closure_manifest`], which runs
//!   `nix path-info --json --recursive`), on a machine with the store;
//! - without Nix, from an unpacked tree such as a seed image
//!   ([`tree_manifest`]), by NAR-serialising each path in Rust ([`nar`]).
//!
//! Formats and the reasons for them: docs/decisions.md, D-017 and D-018.

pub mod lock;
pub mod manifest;
pub mod nar;
pub mod nar_hash;
pub mod nix32;
pub mod nix_cli;
pub mod registration;
pub mod store_path;
pub mod tree;

pub use lock::{
    AnyLock, DeliveryKind, ImageRef, ImageRefError, LockEntry, LockError, SeedLock, UpstreamLock,
    LOCK_VERSION,
};
pub use manifest::{ClosureManifest, ManifestError};
pub use nar::NarError;
pub use nar_hash::{NarHash, NarHashError};
pub use nix_cli::{parse_path_info, resolve_store_path, Nix, NixError};
pub use registration::{parse_registrations, write_registrations, Registration, RegistrationError};
pub use store_path::{StorePath, StorePathError, STORE_DIR};
pub use tree::{
    default_threads, found_path, hash_paths, manifest_of, map_in_parallel, store_dir_of,
    store_paths_in, tree_manifest, FoundPath, HashedPath, TreeError,
};
