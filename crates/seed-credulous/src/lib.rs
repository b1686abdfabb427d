//! The Credulous posture, end to end: a builder's statement signed with
//! Sigstore, logged in Rekor and attached to its image as a bundle referrer
//! ([`attest`]); a release found again from its images' referrers, each
//! bundle verified offline and the builders counted k-of-n under a Credulous
//! policy ([`release`]).
//!
//! Under Zero the chain is the source of truth and a statement is looked up
//! by the digest a vote recorded; under Credulous nothing indexes the votes,
//! so every bundle attached to an image is read, and the registry is trusted
//! for nothing but availability: a bundle counts only if it verifies against
//! the trust root, its statement is about this image and this release, and
//! its signer is the builder the statement names and a builder the policy
//! names. The referrers a registry hides can hold a release back; none it
//! invents can count.

pub mod attest;
pub mod check;
pub mod gossip;
pub mod release;
pub mod witnessing;

pub use attest::{attest, AttestError, Attested};
pub use check::{check_bundle, Refusal, VerifiedStatement};
pub use release::{verify_release, BundleFinding, FindingStatus, ReleaseReport};
pub use witnessing::{Witnessed, Witnessing, WitnessingError};
