//! The builder's secp256k1 key and the recoverable signatures it makes.
//!
//! One key per builder signs both its on-chain vote and its statement
//! (docs/decisions.md, D-009), so statement signatures use Ethereum's
//! conventions: 65 bytes `r ‖ s ‖ v` with `v ∈ {27, 28}` and `s` in the lower
//! half of the group order. Such a signature over a 32-byte digest can be
//! checked by `ecrecover` on-chain as well as by this crate.

use std::fmt;

use alloy_primitives::Address;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};

/// Why a key or a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The private key is not 32 bytes of hex, or not a valid scalar.
    #[error("invalid builder private key: expected 32 bytes as 64 hex digits (optionally '0x'-prefixed), a non-zero number below the secp256k1 group order")]
    InvalidPrivateKey,
    /// The signer produced a recovery id Ethereum cannot express.
    ///
    /// Happens with probability about 2^-128; signing again with another
    /// statement (for example a new timestamp) avoids it.
    #[error("the signature's recovery id has x reduced modulo the group order, which Ethereum's v cannot express; sign again (e.g. with a new timestamp)")]
    UnrepresentableRecoveryId,
    /// A signature is not 65 bytes.
    #[error("signature is {len} bytes; expected 65 (r ‖ s ‖ v)")]
    SignatureLength {
        /// The length found.
        len: usize,
    },
    /// `v` is neither 27 nor 28.
    #[error("signature v is {v}; expected 27 or 28")]
    BadRecoveryByte {
        /// The byte found.
        v: u8,
    },
    /// `r` or `s` is zero or not below the group order.
    #[error("signature r or s is out of range (zero, or not below the secp256k1 group order)")]
    OutOfRange,
    /// `s` is in the upper half of the group order (a malleated signature).
    #[error("signature s is in the upper half of the group order; only low-s signatures are accepted, so each signature has one encoding")]
    HighS,
    /// No public key recovers from the signature and digest.
    #[error("no public key recovers from this signature and message")]
    Unrecoverable,
}

/// A builder's private key. It zeroes itself when dropped, and its `Debug`
/// shows only the address, so it cannot leak through logs.
#[derive(Clone)]
pub struct BuilderKey {
    key: SigningKey,
    address: Address,
}

impl BuilderKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = SigningKey::from_bytes(bytes.into()).map_err(|_| KeyError::InvalidPrivateKey)?;
        let address = Address::from_public_key(key.verifying_key());
        Ok(Self { key, address })
    }

    /// A key from 64 hex digits, with or without `0x`.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| KeyError::InvalidPrivateKey)?;
        let key = Self::from_bytes(&bytes);
        bytes.fill(0);
        key
    }

    /// The Ethereum address of the key: what the registry knows the builder by.
    pub const fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte digest (deterministically, RFC 6979), low-s.
    pub fn sign_prehash(&self, digest: &[u8; 32]) -> Result<RecoverableSignature, KeyError> {
        let (signature, recovery) = self
            .key
            .sign_prehash_recoverable(digest)
            .map_err(|_| KeyError::Unrecoverable)?;
        // k256 already normalises to low-s and adjusts the recovery id; keep
        // the invariant explicit rather than trusting that silently.
        let (signature, recovery) = match signature.normalize_s() {
            Some(low) => (
                low,
                RecoveryId::new(!recovery.is_y_odd(), recovery.is_x_reduced()),
            ),
            None => (signature, recovery),
        };
        if recovery.is_x_reduced() {
            return Err(KeyError::UnrepresentableRecoveryId);
        }
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&signature.to_bytes());
        bytes[64] = 27 + u8::from(recovery.is_y_odd());
        Ok(RecoverableSignature(bytes))
    }
}

impl fmt::Debug for BuilderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuilderKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A 65-byte `r ‖ s ‖ v` secp256k1 signature, `v ∈ {27, 28}`, low-s.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RecoverableSignature([u8; 65]);

impl RecoverableSignature {
    /// Checks the encoding: 65 bytes, `v ∈ {27, 28}`, `r` and `s` in range,
    /// `s` low. Whether it recovers to anyone is [`Self::recover`]'s job.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; 65] = bytes
            .try_into()
            .map_err(|_| KeyError::SignatureLength { len: bytes.len() })?;
        if !matches!(bytes[64], 27 | 28) {
            return Err(KeyError::BadRecoveryByte { v: bytes[64] });
        }
        let signature = Signature::from_slice(&bytes[..64]).map_err(|_| KeyError::OutOfRange)?;
        if signature.normalize_s().is_some() {
            return Err(KeyError::HighS);
        }
        Ok(Self(bytes))
    }

    /// The 65 bytes.
    pub const fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    /// The address whose key made this signature over `digest`.
    pub fn recover(&self, digest: &[u8; 32]) -> Result<Address, KeyError> {
        let signature = Signature::from_slice(&self.0[..64]).map_err(|_| KeyError::OutOfRange)?;
        let recovery = RecoveryId::new(self.0[64] == 28, false);
        let key = VerifyingKey::recover_from_prehash(digest, &signature, recovery)
            .map_err(|_| KeyError::Unrecoverable)?;
        Ok(Address::from_public_key(&key))
    }
}

impl fmt::Debug for RecoverableSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoverableSignature(0x{})", hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    /// anvil's (and hardhat's) first default account.
    const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn anvil_key_0_has_the_well_known_address() {
        let key = BuilderKey::from_hex(ANVIL_KEY_0).unwrap();
        assert_eq!(
            key.address(),
            address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            key.address().to_checksum(None),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert!(
            !format!("{key:?}").contains("ac0974"),
            "Debug leaks the key"
        );
    }

    #[test]
    fn signatures_recover_and_are_low_s() {
        let key = BuilderKey::from_hex(ANVIL_KEY_0).unwrap();
        for i in 0u8..32 {
            let digest = [i; 32];
            let sig = key.sign_prehash(&digest).unwrap();
            let parsed = RecoverableSignature::from_slice(sig.as_bytes()).unwrap();
            assert_eq!(parsed.recover(&digest).unwrap(), key.address());
        }
    }

    #[test]
    fn rejects_high_s_twins_and_bad_v() {
        let key = BuilderKey::from_hex(ANVIL_KEY_0).unwrap();
        let digest = [7u8; 32];
        let sig = key.sign_prehash(&digest).unwrap();
        // The malleated twin (r, n - s, v ^ 1) recovers to the same key but
        // must be rejected: one statement, one signature encoding.
        let low = Signature::from_slice(&sig.as_bytes()[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        let mut twin = [0u8; 65];
        twin[..64].copy_from_slice(&high.to_bytes());
        twin[64] = 55 - sig.as_bytes()[64]; // 27 <-> 28
        assert_eq!(
            RecoverableSignature::from_slice(&twin),
            Err(KeyError::HighS)
        );
        let mut bad_v = *sig.as_bytes();
        bad_v[64] = 1;
        assert_eq!(
            RecoverableSignature::from_slice(&bad_v),
            Err(KeyError::BadRecoveryByte { v: 1 })
        );
        assert_eq!(
            RecoverableSignature::from_slice(&sig.as_bytes()[..64]),
            Err(KeyError::SignatureLength { len: 64 })
        );
        let mut zero = [0u8; 65];
        zero[64] = 27;
        assert_eq!(
            RecoverableSignature::from_slice(&zero),
            Err(KeyError::OutOfRange)
        );
    }

    #[test]
    fn rejects_bad_private_keys() {
        for bad in [
            "",
            "0x",
            &"0".repeat(64),
            &"f".repeat(64), // above the group order
            &ANVIL_KEY_0[..65],
            "zz",
        ] {
            assert_eq!(
                BuilderKey::from_hex(bad).map(|k| k.address()),
                Err(KeyError::InvalidPrivateKey),
                "{bad}"
            );
        }
    }
}
