//! Why an image's content could not be read as a closure.

use std::{io, path::PathBuf};

use seed_nix::{ManifestError, StorePathError};

/// Why an image's content could not be turned into a closure manifest. Each
/// variant names what is wrong in the image, so that a builder can fix the
/// image and a consumer knows which bytes to distrust.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Reading a local file or directory failed.
    #[error("cannot read {what}: {source}")]
    Io {
        /// What was being read.
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The squashfs image is not one this reader accepts.
    #[error("{what} is not a readable squashfs image: {reason}")]
    Squashfs {
        /// Which image.
        what: String,
        /// What the squashfs reader found wrong.
        reason: String,
    },
    /// A tar layer could not be parsed.
    #[error("{what} is not a readable tar layer: {reason}")]
    Tar {
        /// Which layer.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One entry of the image cannot be part of a Nix closure, or could be read
    /// differently by another tool.
    #[error("{what}: entry '{entry}' {problem}")]
    Entry {
        /// Which image or layer.
        what: String,
        /// The entry, as named in the image.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A top-level entry is not a store path name.
    #[error("{what}: '{name}' is not a store path ({source}); a seed holds only store paths and dot-directories such as .seed")]
    NotAStorePath {
        /// Which image or layer.
        what: String,
        /// The entry's name.
        name: String,
        /// Which rule it breaks.
        #[source]
        source: StorePathError,
    },
    /// The same store path is in two layers, or twice in one.
    #[error("store path '{path}' is in {first} and again in {second}; each store path must be in exactly one layer, once")]
    DuplicateStorePath {
        /// The store path.
        path: String,
        /// Where it was first seen.
        first: String,
        /// Where it was seen again.
        second: String,
    },
    /// A blob's bytes do not hash to the digest that names it.
    #[error("{what}: the bytes hash to {actual}, not to {expected}; the registry or the layout served other content")]
    DigestMismatch {
        /// Which blob.
        what: String,
        /// Its digest in the manifest.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// The image is not a seed format this reader knows.
    #[error("{what}: {reason}")]
    UnsupportedFormat {
        /// Which image or layer.
        what: String,
        /// What it is and what would be accepted.
        reason: String,
    },
    /// Reading the image made the reader panic: a bug in this crate that the
    /// image sets off, so the image is refused as every reader would refuse it.
    #[error("{what}: reading it made the image reader panic; the image is refused (please report this as a seed-image bug, with the image)")]
    ReaderPanic {
        /// Which image or layer.
        what: String,
    },
    /// The image exceeds a bound that keeps memory and time finite.
    #[error("{what}: {limit}")]
    Limit {
        /// Which image or layer.
        what: String,
        /// Which bound, and its value.
        limit: String,
    },
    /// The paths found do not make a manifest (for example, none at all).
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Talking to the registry failed.
    #[error(transparent)]
    Registry(#[from] seed_oci::OciError),
    /// Building a seed failed.
    #[error("cannot build the seed: {reason}")]
    Build {
        /// What went wrong.
        reason: String,
    },
    /// A path that should exist does not, or is not what it should be.
    #[error("'{path}': {problem}")]
    Path {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl ContentError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn entry(
        what: impl Into<String>,
        entry: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self::Entry {
            what: what.into(),
            entry: entry.into(),
            problem: problem.into(),
        }
    }

    /// Whether the image (not the machine, the network or the registry) is at
    /// fault: the content is wrong, so retrying cannot help and the image must
    /// be refused. Bytes that do not hash to their digest are the registry's
    /// fault, not the image's: the image is what the digest names.
    pub fn is_content_fault(&self) -> bool {
        !matches!(
            self,
            Self::Io { .. }
                | Self::Registry(_)
                | Self::Path { .. }
                | Self::Build { .. }
                | Self::DigestMismatch { .. }
        )
    }
}
