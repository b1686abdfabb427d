//! The release root: one hash committing to every system of a release.
//!
//! The rule is the one the `SeedRegistry` contract applies before it appends
//! a release to the ledger, so anyone can recompute the ledger's root from the
//! registry's events:
//!
//! - leaf = keccak256(`0x00` ‖ u16be(len(system)) ‖ system ‖ manifestDigest)
//! - node = keccak256(`0x01` ‖ left ‖ right)
//! - leaves sorted by system (bytewise, strictly ascending)
//! - on a level with an odd number of nodes the last one is paired with itself.
//!
//! The distinct leaf and node prefixes keep a leaf from being passed off as a
//! node (second-preimage resistance of the tree).

use alloy_primitives::{keccak256, B256};

use crate::{Sha256Digest, System};

/// One system of a release and the closure-manifest digest its builders agreed on.
pub type Leaf = (System, Sha256Digest);

/// Why a release root cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// A release covers at least one system.
    #[error("a release root needs at least one system")]
    Empty,
    /// A system appears twice.
    #[error("system '{0}' appears more than once; give each system one digest")]
    DuplicateSystem(String),
    /// Systems must be sorted ascending (bytewise).
    #[error("systems must be sorted bytewise: '{previous}' is followed by '{next}'")]
    NotSorted {
        /// The earlier system.
        previous: String,
        /// The system that should have come before it.
        next: String,
    },
}

/// The hash of one leaf.
pub fn leaf_hash(system: &System, manifest_digest: &Sha256Digest) -> B256 {
    let name = system.as_bytes();
    // System names are validated to at most 255 bytes, so the length fits.
    let length = u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes();
    let mut bytes = Vec::with_capacity(1 + 2 + name.len() + 32);
    bytes.push(0x00);
    bytes.extend_from_slice(&length);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(manifest_digest.as_b256().as_slice());
    keccak256(bytes)
}

/// The hash of an inner node.
pub fn node_hash(left: &B256, right: &B256) -> B256 {
    let mut bytes = [0u8; 65];
    bytes[0] = 0x01;
    bytes[1..33].copy_from_slice(left.as_slice());
    bytes[33..].copy_from_slice(right.as_slice());
    keccak256(bytes)
}

/// The root over `leaves`, which must be sorted by system without duplicates.
pub fn release_root(leaves: &[Leaf]) -> Result<B256, RootError> {
    if leaves.is_empty() {
        return Err(RootError::Empty);
    }
    for pair in leaves.windows(2) {
        let (previous, next) = (&pair[0].0, &pair[1].0);
        if previous == next {
            return Err(RootError::DuplicateSystem(next.to_string()));
        }
        if previous.as_bytes() > next.as_bytes() {
            return Err(RootError::NotSorted {
                previous: previous.to_string(),
                next: next.to_string(),
            });
        }
    }
    let mut level: Vec<B256> = leaves
        .iter()
        .map(|(system, digest)| leaf_hash(system, digest))
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => node_hash(left, right),
                [last] => node_hash(last, last),
                _ => unreachable!("chunks(2) yields one or two nodes"),
            })
            .collect();
    }
    Ok(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(system: &str, last_byte: u8) -> Leaf {
        let mut bytes = [0u8; 32];
        bytes[31] = last_byte;
        (
            system.parse().unwrap(),
            Sha256Digest::from_bytes(B256::from(bytes)).unwrap(),
        )
    }

    #[test]
    fn leaf_bytes_follow_the_documented_layout() {
        let (system, digest) = leaf("x86_64-linux", 2);
        let mut expected = vec![0x00, 0x00, 12];
        expected.extend_from_slice(b"x86_64-linux");
        expected.extend_from_slice(digest.as_b256().as_slice());
        assert_eq!(leaf_hash(&system, &digest), keccak256(&expected));
    }

    #[test]
    fn single_leaf_root_is_the_leaf() {
        let only = leaf("x86_64-linux", 1);
        assert_eq!(
            release_root(std::slice::from_ref(&only)).unwrap(),
            leaf_hash(&only.0, &only.1)
        );
    }

    #[test]
    fn three_leaves_duplicate_the_last_node() {
        let leaves = [
            leaf("aarch64-darwin", 1),
            leaf("aarch64-linux", 2),
            leaf("x86_64-linux", 3),
        ];
        let hashes: Vec<B256> = leaves.iter().map(|(s, d)| leaf_hash(s, d)).collect();
        let expected = node_hash(
            &node_hash(&hashes[0], &hashes[1]),
            &node_hash(&hashes[2], &hashes[2]),
        );
        assert_eq!(release_root(&leaves).unwrap(), expected);
    }

    /// The expected value was computed independently with `cast keccak` over
    /// the documented byte layout (docs/decisions.md, D-005); the Solidity
    /// library pins the same vector in its own tests.
    #[test]
    fn pinned_vector_shared_with_the_contracts() {
        let leaves = [leaf("aarch64-linux", 1), leaf("x86_64-linux", 2)];
        assert_eq!(
            release_root(&leaves).unwrap().to_string(),
            PINNED_TWO_SYSTEM_ROOT,
        );
    }

    const PINNED_TWO_SYSTEM_ROOT: &str =
        "0x3d8c99c4f33e03c382b899129028fb180ea0d87c090a9bb931306965a84e8467";

    #[test]
    fn unsorted_duplicate_and_empty_inputs_are_rejected() {
        assert_eq!(release_root(&[]), Err(RootError::Empty));
        let unsorted = [leaf("x86_64-linux", 1), leaf("aarch64-linux", 2)];
        assert!(matches!(
            release_root(&unsorted),
            Err(RootError::NotSorted { .. })
        ));
        let duplicate = [leaf("x86_64-linux", 1), leaf("x86_64-linux", 2)];
        assert_eq!(
            release_root(&duplicate),
            Err(RootError::DuplicateSystem("x86_64-linux".into()))
        );
    }
}
