//! The proposal file: a versioned JSON document holding one Safe transaction,
//! the decoded intent and the owners' signatures. Signers pass it around;
//! `seed-eth gov sign` adds to it and `submit` sends it.
//!
//! Reading is strict: unknown fields, another format or version, a hash that
//! is not the transaction's, an intent that is not what the transaction's
//! bytes do, or a signature that does not recover to its signer are all
//! errors. The file therefore cannot describe one thing and sign another.

use std::{fs, path::Path};

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    sol_types::SolCall,
};
use seed_chain::bindings::{Safe, SeedRegistry, TimelockController};
use serde::{Deserialize, Serialize};

use crate::{
    action::{Action, Contracts, Route},
    error::{GovError, Result},
    safe::{recover, SafeTransaction},
    timelock::Operation,
};

/// The `format` field of every proposal file.
pub const FORMAT: &str = "seed-eth/gov-proposal";
/// The version this client writes and reads.
pub const VERSION: u32 = 1;

/// One owner's signature over the Safe transaction hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureEntry {
    /// The owner who signed.
    pub signer: Address,
    /// 65 bytes r ‖ s ‖ v (v = 27 or 28) over `safeTxHash`.
    pub signature: Bytes,
}

/// A governance proposal: one Safe transaction and its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Proposal {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// The chain the Safe lives on (part of the signed hash).
    pub chain_id: u64,
    /// The deployment's governed contracts.
    pub contracts: Contracts,
    /// What the transaction does (checked against its bytes when read).
    pub action: Action,
    /// The timelock operation the transaction schedules, for timelocked actions.
    pub timelock_operation: Option<Operation>,
    /// The Safe transaction the owners sign.
    pub safe_tx: SafeTransaction,
    /// Its EIP-712 hash (checked when read).
    pub safe_tx_hash: B256,
    /// Owners' signatures collected so far.
    pub signatures: Vec<SignatureEntry>,
}

/// What a Safe transaction does, decoded from its bytes alone.
#[allow(clippy::large_enum_variant)] // short-lived, never stored in bulk
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// `timelock.schedule(...)`; `action` is `None` when the scheduled call is not one seed-eth knows.
    Schedule {
        /// The operation scheduled.
        operation: Operation,
        /// The action it performs, if recognised.
        action: Option<Action>,
    },
    /// A call the Safe makes itself: emergency revocation, cancellation or an owner change.
    Direct(Action),
    /// Anything else.
    Unrecognised,
}

/// Decodes what `tx` does to the deployment's contracts.
pub fn decode(contracts: &Contracts, tx: &SafeTransaction) -> Decoded {
    if tx.to == contracts.timelock {
        if let Ok(call) = TimelockController::scheduleCall::abi_decode(&tx.data) {
            let action = Action::from_timelocked_call(contracts, call.target, &call.data);
            return Decoded::Schedule {
                operation: Operation::new(
                    call.target,
                    call.value,
                    call.data,
                    call.predecessor,
                    call.salt,
                    call.delay,
                ),
                action,
            };
        }
        if let Ok(call) = TimelockController::cancelCall::abi_decode(&tx.data) {
            return Decoded::Direct(Action::CancelOperation { id: call.id });
        }
    }
    if tx.to == contracts.safe {
        if let Ok(call) = Safe::swapOwnerCall::abi_decode(&tx.data) {
            return Decoded::Direct(Action::SwapSafeOwner {
                prev_owner: call.prevOwner,
                old_owner: call.oldOwner,
                new_owner: call.newOwner,
            });
        }
    }
    if tx.to == contracts.registry {
        if let Ok(call) = SeedRegistry::revokeBuilderCall::abi_decode(&tx.data) {
            return Decoded::Direct(Action::RevokeBuilder {
                builder_id: call.builderId,
                emergency: true,
            });
        }
    }
    Decoded::Unrecognised
}

/// The parameters of a new proposal besides the action.
#[derive(Debug, Clone)]
pub struct NewProposal {
    /// The chain id.
    pub chain_id: u64,
    /// The governed contracts.
    pub contracts: Contracts,
    /// The Safe nonce the transaction will consume.
    pub nonce: U256,
    /// The timelock delay, for timelocked actions.
    pub delay: U256,
    /// The operation's predecessor (zero for none).
    pub predecessor: B256,
    /// The operation's salt.
    pub salt: B256,
}

impl Proposal {
    /// Builds the Safe transaction for `action`.
    pub fn new(params: &NewProposal, action: Action) -> Self {
        let contracts = params.contracts;
        let (target, data) = action.call(&contracts);
        let (timelock_operation, safe_tx) = match action.route() {
            Route::Timelocked => {
                let op = Operation::new(
                    target,
                    U256::ZERO,
                    data,
                    params.predecessor,
                    params.salt,
                    params.delay,
                );
                let tx =
                    SafeTransaction::call(contracts.timelock, op.schedule_calldata(), params.nonce);
                (Some(op), tx)
            }
            Route::Direct => (None, SafeTransaction::call(target, data, params.nonce)),
        };
        let safe_tx_hash = safe_tx.hash(params.chain_id, contracts.safe);
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            chain_id: params.chain_id,
            contracts,
            action,
            timelock_operation,
            safe_tx,
            safe_tx_hash,
            signatures: Vec::new(),
        }
    }

    /// The hash owners sign, recomputed from the transaction.
    pub fn hash(&self) -> B256 {
        self.safe_tx.hash(self.chain_id, self.contracts.safe)
    }

    /// Parses and checks a proposal (see the module documentation); `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let bad = |reason: String| GovError::Proposal {
            path: origin.to_path_buf(),
            reason,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let proposal: Self = serde::Deserialize::deserialize(&mut deserializer)
            .map_err(|e| bad(format!("not a valid proposal file: {e}")))?;
        deserializer
            .end()
            .map_err(|e| bad(format!("trailing data: {e}")))?;
        proposal.check().map_err(bad)?;
        Ok(proposal)
    }

    /// Reads a proposal file without the consistency checks, so `show` can still display (and
    /// flag) a file that [`load`](Self::load) refuses. Never sign or submit what this returns.
    pub fn load_unchecked(path: &Path) -> Result<Self> {
        let bad = |reason: String| GovError::Proposal {
            path: path.to_path_buf(),
            reason,
        };
        let text = fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        serde_json::from_str(&text).map_err(|e| bad(format!("not a valid proposal file: {e}")))
    }

    /// Reads and checks a proposal file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| GovError::Proposal {
            path: path.to_path_buf(),
            reason: format!("cannot read it: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// The internal consistency checks of [`parse`](Self::parse).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is '{}', expected '{FORMAT}'", self.format));
        }
        if self.version != VERSION {
            return Err(format!(
                "version {} is not supported (this seed-eth reads version {VERSION})",
                self.version
            ));
        }
        let hash = self.hash();
        if hash != self.safe_tx_hash {
            return Err(format!(
                "safeTxHash {} is not the hash of safeTx ({hash}); the file was altered",
                self.safe_tx_hash
            ));
        }
        let (action, operation) = match decode(&self.contracts, &self.safe_tx) {
            Decoded::Schedule {
                operation,
                action: Some(action),
            } => (action, Some(operation)),
            Decoded::Direct(action) => (action, None),
            Decoded::Schedule { action: None, .. } | Decoded::Unrecognised => {
                return Err(
                    "safeTx does not perform any governance action seed-eth knows; review it with `seed-eth gov show` and do not sign"
                        .to_owned(),
                )
            }
        };
        if action != self.action {
            return Err(format!(
                "the stated action ({}) is not what safeTx does ({}); the file was altered",
                self.action.describe(),
                action.describe()
            ));
        }
        if operation != self.timelock_operation {
            return Err(
                "timelockOperation is not the operation safeTx schedules; the file was altered"
                    .to_owned(),
            );
        }
        for (index, entry) in self.signatures.iter().enumerate() {
            if self.signatures[..index]
                .iter()
                .any(|e| e.signer == entry.signer)
            {
                return Err(format!("{} signed twice", entry.signer));
            }
            match recover(hash, &entry.signature) {
                Ok(address) if address == entry.signer => {}
                Ok(address) => {
                    return Err(format!(
                        "the signature listed for {} recovers to {address}: it was made for another transaction (another nonce?) or by another key",
                        entry.signer
                    ))
                }
                Err(reason) => {
                    return Err(format!("the signature of {} {reason}", entry.signer))
                }
            }
        }
        Ok(())
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the proposal atomically, so a signer never leaves a half-written file behind and
    /// two signers adding signatures at once never share a temporary file.
    pub fn write(&self, path: &Path) -> Result<()> {
        seed_fs::write_atomic(path, self.to_json().as_bytes()).map_err(|e| GovError::Write {
            path: path.to_path_buf(),
            reason: e.source.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::{primitives::address, signers::local::PrivateKeySigner};

    use super::*;
    use crate::safe::sign_hash;

    fn params() -> NewProposal {
        NewProposal {
            chain_id: 31337,
            contracts: Contracts {
                safe: address!("0x0000000000000000000000000000000000000001"),
                timelock: address!("0x0000000000000000000000000000000000000002"),
                registry: address!("0x0000000000000000000000000000000000000003"),
                ledger: address!("0x0000000000000000000000000000000000000004"),
            },
            nonce: U256::from(4),
            delay: U256::from(86_400),
            predecessor: B256::ZERO,
            salt: B256::repeat_byte(9),
        }
    }

    #[test]
    fn round_trips_and_rejects_tampering() {
        let mut proposal = Proposal::new(&params(), Action::SetQuorum { quorum: 3 });
        let signer: PrivateKeySigner =
            "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
                .parse()
                .unwrap();
        proposal.signatures.push(SignatureEntry {
            signer: signer.address(),
            signature: sign_hash(&signer, proposal.safe_tx_hash).unwrap(),
        });
        let path = Path::new("p.json");
        let text = proposal.to_json();
        assert_eq!(Proposal::parse(&text, path).unwrap(), proposal);

        // The stated action differs from the bytes.
        let mut altered = proposal.clone();
        altered.action = Action::SetQuorum { quorum: 1 };
        let error = Proposal::parse(&altered.to_json(), path).unwrap_err();
        assert!(
            error.to_string().contains("is not what safeTx does"),
            "{error}"
        );

        // The transaction differs from its hash.
        let mut altered = proposal.clone();
        altered.safe_tx.nonce = U256::from(5);
        let error = Proposal::parse(&altered.to_json(), path).unwrap_err();
        assert!(error.to_string().contains("not the hash"), "{error}");

        // A re-hashed transaction invalidates the signature.
        altered.safe_tx_hash = altered.hash();
        let error = Proposal::parse(&altered.to_json(), path).unwrap_err();
        assert!(error.to_string().contains("recovers to"), "{error}");

        // Unknown fields and other versions are refused.
        let error = Proposal::parse(&text.replacen("{", "{\"extra\": 1,", 1), path).unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
        let error =
            Proposal::parse(&text.replace("\"version\": 1", "\"version\": 2"), path).unwrap_err();
        assert!(error.to_string().contains("not supported"), "{error}");
    }

    #[test]
    fn emergency_revocation_calls_the_registry_directly() {
        let proposal = Proposal::new(
            &params(),
            Action::RevokeBuilder {
                builder_id: 1,
                emergency: true,
            },
        );
        assert_eq!(proposal.safe_tx.to, params().contracts.registry);
        assert!(proposal.timelock_operation.is_none());
        proposal.check().unwrap();
    }
}
