//! RFC 6962 consistency proofs between two checkpoints of one log, checked
//! with sigstore-merkle (whose answers on the transparency-dev vectors are
//! asserted in `tests/vectors.rs`).

use sigstore_types::Sha256Hash;

use crate::checkpoint::Checkpoint;

/// The most hashes a consistency proof can need: 2·log2(2⁶³) ≈ 63 is what
/// tlog-witness allows a client to send.
pub const MAX_PROOF_HASHES: usize = 63;

/// Why two checkpoints were not proven consistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof has more hashes than any tree needs.
    #[error("the proof has {0} hashes, more than {MAX_PROOF_HASHES}")]
    TooLong(usize),
    /// The proof does not take the old root to the new one.
    #[error("the proof from size {old} to size {new} does not verify: {reason}")]
    Invalid {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
        /// What failed.
        reason: String,
    },
}

/// Checks that the tree of `new_size` leaves and root `new_root` extends the
/// tree of `old_size` and `old_root`. A proof from the empty tree proves
/// nothing and is refused (transparency-dev's rule); callers treat "no
/// previous checkpoint" before asking.
pub fn verify_consistency(
    old_size: u64,
    old_root: &[u8; 32],
    new_size: u64,
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
) -> Result<(), ProofError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(ProofError::TooLong(proof.len()));
    }
    let invalid = |reason: String| ProofError::Invalid {
        old: old_size,
        new: new_size,
        reason,
    };
    if old_size == 0 && new_size != 0 {
        return Err(invalid(
            "a proof from the empty tree proves nothing".to_owned(),
        ));
    }
    let proof: Vec<Sha256Hash> = proof.iter().map(|h| Sha256Hash::from(*h)).collect();
    sigstore_merkle::verify_consistency_proof(
        old_size,
        new_size,
        &proof,
        &Sha256Hash::from(*old_root),
        &Sha256Hash::from(*new_root),
    )
    .map_err(|e| invalid(e.to_string()))
}

/// [`verify_consistency`] between two checkpoints, `old` no larger.
pub fn verify_checkpoints(
    old: &Checkpoint,
    new: &Checkpoint,
    proof: &[[u8; 32]],
) -> Result<(), ProofError> {
    verify_consistency(old.size, &old.root, new.size, &new.root, proof)
}
