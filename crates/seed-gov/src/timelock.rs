//! TimelockController operations: the id the timelock derives, and the
//! `schedule`, `execute` and `cancel` calldata.

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol_types::{SolCall, SolValue},
};
use seed_chain::bindings::TimelockController;
use serde::{Deserialize, Serialize};

/// One single-call timelock operation (seed-eth never uses `scheduleBatch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// The operation id, `keccak256(abi.encode(target, value, data, predecessor, salt))`.
    pub id: B256,
    /// The contract the timelock will call.
    pub target: Address,
    /// Wei sent along.
    pub value: U256,
    /// The calldata the timelock will send.
    pub data: Bytes,
    /// An operation that must be done first (zero for none).
    pub predecessor: B256,
    /// Distinguishes otherwise identical operations.
    pub salt: B256,
    /// Seconds between scheduling and the earliest execution.
    pub delay: U256,
}

impl Operation {
    /// An operation with its id computed.
    pub fn new(
        target: Address,
        value: U256,
        data: Bytes,
        predecessor: B256,
        salt: B256,
        delay: U256,
    ) -> Self {
        let id = operation_id(target, value, &data, predecessor, salt);
        Self {
            id,
            target,
            value,
            data,
            predecessor,
            salt,
            delay,
        }
    }

    /// `schedule(target, value, data, predecessor, salt, delay)` calldata.
    pub fn schedule_calldata(&self) -> Bytes {
        TimelockController::scheduleCall {
            target: self.target,
            value: self.value,
            data: self.data.clone(),
            predecessor: self.predecessor,
            salt: self.salt,
            delay: self.delay,
        }
        .abi_encode()
        .into()
    }

    /// `execute(target, value, data, predecessor, salt)` calldata.
    pub fn execute_calldata(&self) -> Bytes {
        TimelockController::executeCall {
            target: self.target,
            value: self.value,
            payload: self.data.clone(),
            predecessor: self.predecessor,
            salt: self.salt,
        }
        .abi_encode()
        .into()
    }
}

/// `hashOperation`: the id under which the timelock tracks a single-call operation.
pub fn operation_id(
    target: Address,
    value: U256,
    data: &Bytes,
    predecessor: B256,
    salt: B256,
) -> B256 {
    keccak256((target, value, data.clone(), predecessor, salt).abi_encode_params())
}

/// `cancel(id)` calldata.
pub fn cancel_calldata(id: B256) -> Bytes {
    TimelockController::cancelCall { id }.abi_encode().into()
}

/// The default salt of a proposal: unique per Safe and Safe nonce, so two proposals with the
/// same call never collide on one operation id (and the salt is never zero, so the timelock
/// announces it in `CallSalt`).
pub fn default_salt(safe: Address, nonce: U256) -> B256 {
    keccak256(("seed-eth gov", safe, nonce).abi_encode_params())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    #[test]
    fn id_is_abi_encoded_params_hash() {
        let op = Operation::new(
            address!("0x0000000000000000000000000000000000000001"),
            U256::ZERO,
            Bytes::from_static(&[1, 2, 3]),
            B256::ZERO,
            B256::repeat_byte(7),
            U256::from(86_400),
        );
        // abi.encode of (address, uint256, bytes, bytes32, bytes32): the dynamic `bytes` goes by offset.
        let mut encoded = Vec::new();
        encoded.extend_from_slice(&B256::left_padding_from(op.target.as_slice()).0);
        encoded.extend_from_slice(&[0u8; 32]);
        encoded.extend_from_slice(&U256::from(160).to_be_bytes::<32>());
        encoded.extend_from_slice(&[0u8; 32]);
        encoded.extend_from_slice(&[7u8; 32]);
        encoded.extend_from_slice(&U256::from(3).to_be_bytes::<32>());
        let mut data = [0u8; 32];
        data[..3].copy_from_slice(&[1, 2, 3]);
        encoded.extend_from_slice(&data);
        assert_eq!(op.id, keccak256(encoded));
        assert_ne!(
            default_salt(op.target, U256::ZERO),
            default_salt(op.target, U256::from(1))
        );
    }
}
