//! OCI registry operations of seed-eth, on `oci-client`'s raw manifest calls
//! so that digests stay bit-exact:
//!
//! - [`RegistryClient::attach_statement`], [`RegistryClient::statements`],
//!   [`RegistryClient::fetch_statement`]: statement envelopes as OCI 1.1
//!   referrers of the image they attest, with the referrers tag schema for
//!   registries without the referrers API (CNCF Distribution 2.8, ghcr.io);
//! - [`RegistryClient::attach_annotated_referrer`],
//!   [`RegistryClient::referrer_annotations`]: small records carried in a
//!   referrer's annotations (the keeper's verdicts);
//! - [`RegistryClient::promote`]: pull a manifest by digest, check it, store
//!   the same bytes under a tag, read the tag back (what the keeper does);
//! - [`RegistryClient::push_image`] with [`ImageContent::synthetic`]: small
//!   real images for tests and the demo.
//!
//! Every byte read is checked against its digest here, and errors say whether
//! the registry was unreachable, the content missing, the digest wrong or the
//! caller unauthorised ([`OciError`]). Design: docs/decisions.md, D-020.

pub mod client;
pub mod error;
pub mod manifest;
pub mod name;
pub mod referrers;

pub use client::{BlobStream, ClientOptions, Credentials, Promotion, RegistryClient};
pub use error::OciError;
pub use manifest::{
    Descriptor, ImageContent, RawManifest, DSSE_ENVELOPE_MEDIA_TYPE, EMPTY_MEDIA_TYPE, OCI_INDEX,
    OCI_MANIFEST, SIGSTORE_BUNDLE_MEDIA_TYPE, STATEMENT_ARTIFACT_TYPE,
};
pub use name::{Repository, Tag};
pub use referrers::{
    AttachedStatement, BlobReferrer, FetchedStatement, MAX_STATEMENT_BYTES, SIGNED_VOTE_REFERRER,
    SIGSTORE_BUNDLE_REFERRER, STATEMENT_REFERRER, WITNESS_CHECKPOINT_REFERRER,
};
