//! Safe 1.4.1 transactions: the EIP-712 `SafeTx` hash owners sign, ECDSA
//! signatures, and the packed signature bytes `execTransaction` expects
//! (sorted by owner address, which is also how Safe rejects duplicates).

use alloy::{
    primitives::{Address, Bytes, Signature, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
    sol,
    sol_types::{Eip712Domain, SolStruct},
};
use serde::{Deserialize, Serialize};

use crate::error::{GovError, Result};

sol! {
    /// The struct Safe 1.4.1 hashes (`SAFE_TX_TYPEHASH` in Safe.sol).
    struct SafeTx {
        address to;
        uint256 value;
        bytes data;
        uint8 operation;
        uint256 safeTxGas;
        uint256 baseGas;
        uint256 gasPrice;
        address gasToken;
        address refundReceiver;
        uint256 nonce;
    }
}

/// How the Safe performs the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafeOperation {
    /// An ordinary `CALL` (0): the only operation seed-eth ever proposes.
    Call,
    /// `DELEGATECALL` (1): runs foreign code with the Safe's storage and authority; how the
    /// Bybit multisig was emptied. Never proposed by seed-eth; flagged and refused when signing.
    Delegatecall,
}

impl SafeOperation {
    /// The `uint8` Safe uses.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Call => 0,
            Self::Delegatecall => 1,
        }
    }
}

/// A Safe transaction with every field the owners sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SafeTransaction {
    /// The called contract.
    pub to: Address,
    /// Wei sent along.
    pub value: U256,
    /// Calldata.
    pub data: Bytes,
    /// CALL or DELEGATECALL.
    pub operation: SafeOperation,
    /// Gas for the inner call; 0 makes a failing inner call revert the whole transaction (nonce kept).
    pub safe_tx_gas: U256,
    /// Refund gas overhead; 0 (no refunds).
    pub base_gas: U256,
    /// Refund gas price; 0 (no refunds).
    pub gas_price: U256,
    /// Refund token; zero for ETH.
    pub gas_token: Address,
    /// Refund receiver; zero.
    pub refund_receiver: Address,
    /// The Safe nonce this transaction consumes.
    pub nonce: U256,
}

impl SafeTransaction {
    /// A plain CALL with no refund parameters, the only shape seed-eth proposes.
    pub fn call(to: Address, data: Bytes, nonce: U256) -> Self {
        Self {
            to,
            value: U256::ZERO,
            data,
            operation: SafeOperation::Call,
            safe_tx_gas: U256::ZERO,
            base_gas: U256::ZERO,
            gas_price: U256::ZERO,
            gas_token: Address::ZERO,
            refund_receiver: Address::ZERO,
            nonce,
        }
    }

    fn as_struct(&self) -> SafeTx {
        SafeTx {
            to: self.to,
            value: self.value,
            data: self.data.clone(),
            operation: self.operation.as_u8(),
            safeTxGas: self.safe_tx_gas,
            baseGas: self.base_gas,
            gasPrice: self.gas_price,
            gasToken: self.gas_token,
            refundReceiver: self.refund_receiver,
            nonce: self.nonce,
        }
    }

    /// The Safe transaction hash: EIP-712 over `SafeTx` in the domain
    /// `EIP712Domain(uint256 chainId,address verifyingContract)` (Safe ≥ 1.3 has no name or version).
    pub fn hash(&self, chain_id: u64, safe: Address) -> B256 {
        self.as_struct()
            .eip712_signing_hash(&domain(chain_id, safe))
    }
}

/// The EIP-712 domain of the Safe at `safe` on `chain_id`.
pub fn domain(chain_id: u64, safe: Address) -> Eip712Domain {
    Eip712Domain::new(None, None, Some(U256::from(chain_id)), Some(safe), None)
}

/// Signs `hash` directly (no `eth_sign` prefix): 65 bytes r ‖ s ‖ v with v ∈ {27, 28}, the ECDSA
/// form `checkNSignatures` accepts.
pub fn sign_hash(signer: &PrivateKeySigner, hash: B256) -> Result<Bytes> {
    let signature = signer
        .sign_hash_sync(&hash)
        .map_err(|e| GovError::Invalid(format!("signing the Safe transaction hash failed: {e}")))?;
    Ok(Bytes::from(signature.as_bytes().to_vec()))
}

/// The address a 65-byte ECDSA signature over `hash` recovers to, or why it does not.
pub fn recover(hash: B256, signature: &[u8]) -> std::result::Result<Address, String> {
    if signature.len() != 65 {
        return Err(format!(
            "is {} bytes long, not 65 (r ‖ s ‖ v)",
            signature.len()
        ));
    }
    let v = signature[64];
    if v != 27 && v != 28 {
        // v > 30 would be Safe's eth_sign form, 0/1 a contract or approved-hash signature: seed-eth
        // writes and accepts plain ECDSA only, so there is one way to read a file.
        return Err(format!(
            "has v = {v}; only plain ECDSA signatures (v = 27 or 28) are accepted"
        ));
    }
    let parsed = Signature::try_from(signature).map_err(|e| format!("does not parse: {e}"))?;
    parsed
        .recover_address_from_prehash(&hash)
        .map_err(|e| format!("does not recover: {e}"))
}

/// Concatenates signatures sorted by signer address, ascending, as `checkNSignatures` requires.
pub fn pack_signatures(mut signatures: Vec<(Address, Bytes)>) -> Bytes {
    signatures.sort_by_key(|(signer, _)| *signer);
    let mut packed = Vec::with_capacity(signatures.len() * 65);
    for (_, signature) in signatures {
        packed.extend_from_slice(&signature);
    }
    Bytes::from(packed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::primitives::{address, b256, bytes, keccak256};

    use super::*;

    #[test]
    fn typehash_is_safes() {
        // SAFE_TX_TYPEHASH in Safe 1.4.1's Safe.sol.
        assert_eq!(
            SafeTx::eip712_type_hash(&SafeTx {
                to: Address::ZERO,
                value: U256::ZERO,
                data: Bytes::new(),
                operation: 0,
                safeTxGas: U256::ZERO,
                baseGas: U256::ZERO,
                gasPrice: U256::ZERO,
                gasToken: Address::ZERO,
                refundReceiver: Address::ZERO,
                nonce: U256::ZERO,
            }),
            b256!("bb8310d486368db6bd6f849402fdd73ad53d316b5a4b2644ad6efe0f941286d8")
        );
        // DOMAIN_SEPARATOR_TYPEHASH.
        assert_eq!(
            keccak256("EIP712Domain(uint256 chainId,address verifyingContract)"),
            b256!("47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218")
        );
        let domain = domain(1, Address::ZERO);
        assert_eq!(
            domain.encode_type(),
            "EIP712Domain(uint256 chainId,address verifyingContract)"
        );
    }

    #[test]
    fn signatures_recover_and_sort() {
        let a: PrivateKeySigner =
            "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
                .parse()
                .unwrap();
        let b: PrivateKeySigner =
            "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba"
                .parse()
                .unwrap();
        let tx = SafeTransaction::call(
            address!("0x00000000000000000000000000000000000000aa"),
            bytes!("12345678"),
            U256::from(3),
        );
        let hash = tx.hash(
            31337,
            address!("0x00000000000000000000000000000000000000bb"),
        );
        let sa = sign_hash(&a, hash).unwrap();
        let sb = sign_hash(&b, hash).unwrap();
        assert_eq!(recover(hash, &sa).unwrap(), a.address());
        assert_eq!(recover(hash, &sb).unwrap(), b.address());
        // Another nonce is another hash: the signature no longer recovers to the owner.
        let other = SafeTransaction {
            nonce: U256::from(4),
            ..tx
        }
        .hash(
            31337,
            address!("0x00000000000000000000000000000000000000bb"),
        );
        assert_ne!(recover(other, &sa).unwrap(), a.address());
        let packed = pack_signatures(vec![(b.address(), sb.clone()), (a.address(), sa.clone())]);
        let first = if a.address() < b.address() { &sa } else { &sb };
        assert_eq!(&packed[..65], &first[..]);
        assert!(recover(hash, &sa[..64]).is_err());
    }
}
