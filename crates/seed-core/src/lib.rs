//! Pure data types of seed-eth: the identifiers a release is made of and the
//! release root that the ledger stores. Nothing here does I/O, so every other
//! crate (chain client, keeper, verifier) agrees on one definition of each.

pub mod id;
pub mod image_choice;
pub mod release_root;
pub mod text;

pub use id::{CommitId, IdError, Sha256Digest, System};
pub use image_choice::image_candidates;
pub use release_root::{leaf_hash, node_hash, release_root, Leaf, RootError};
pub use text::excerpt;
