//! What a seed image holds, checked byte for byte against the closure the
//! quorum agreed on.
//!
//! Builders attest a *closure manifest* (one line per store path with its NAR
//! hash, [`seed_nix::ClosureManifest`]); consumers pull an *image*. This crate
//! connects the two without mounting, root or Nix:
//!
//! - [`squashfs`] reads a nix-seed squashfs (store paths at its root, a
//!   `.seed/` directory checked against them), resolving its tree the way
//!   the kernel does, and NAR-hashes every store path;
//! - [`layers`] does the same for tar-layer images (dockerTools,
//!   nix2container), streaming each layer once and refusing anything that
//!   could make two readers see different trees;
//! - [`format`] recognises which of the two an OCI image manifest describes;
//! - [`oci_layout`] reads and writes images in an OCI layout directory;
//! - [`registry`] checks an image in a registry, blob digests verified on the
//!   same pass as the content;
//! - [`build`] writes a seed from a closure, deterministically, so that honest
//!   builders agree on the image digest as well as on the manifest.
//!
//! Every reader produces the manifest [`seed_nix::tree_manifest`] and Nix
//! produce for the same closure, or an error naming the entry that prevents it.
//! Design and limits: docs/decisions.md, D-045 and D-046.

pub mod build;
mod digest_reader;
mod error;
pub mod format;
pub mod layers;
pub mod oci_layout;
pub mod registry;
pub mod squashfs;
mod tar_framing;

pub use digest_reader::DigestReader;
pub use error::ContentError;
pub use format::{ImageFormat, SEED_MEDIA_TYPE_PREFIX, SEED_SQUASHFS_MEDIA_TYPE};

use seed_nix::{ClosureManifest, HashedPath};

/// The version of what the readers accept and how they hash: raised whenever
/// a change could give another answer for the same image (a new refusal, a
/// fix), so that results cached under an older version are not reused.
pub const READER_VERSION: u32 = 2;

/// The closure an image holds: its manifest and every path's NAR hash and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageClosure {
    /// The closure manifest, as builders attest it.
    pub manifest: ClosureManifest,
    /// The store paths, sorted, with NAR hash and size.
    pub paths: Vec<HashedPath>,
    /// Tar entries outside `/nix/store` (a customisation layer's files), which
    /// the manifest does not cover; always 0 for a squashfs seed.
    pub entries_outside_store: u64,
}

impl ImageClosure {
    fn new(mut paths: Vec<HashedPath>, entries_outside_store: u64) -> Result<Self, ContentError> {
        paths.sort_by(|a, b| a.store_path.cmp(&b.store_path));
        let manifest = ClosureManifest::new(
            paths
                .iter()
                .map(|path| (path.store_path.clone(), path.nar_hash)),
        )?;
        Ok(Self {
            manifest,
            paths,
            entries_outside_store,
        })
    }
}
