//! What a signer sees before signing: the Safe transaction decoded from its
//! bytes into plain language, with danger flags.

use alloy::{
    json_abi::JsonAbi,
    primitives::{Address, B256, U256},
};
use serde::Serialize;

use crate::{
    action::{Action, Contracts},
    proposal::{decode, Decoded},
    safe::{SafeOperation, SafeTransaction},
    timelock::Operation,
    upgrade::{argument_dangers, decode_call, effect_dangers, DecodedCall, Traced},
};

/// Something a signer must not overlook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "flag", rename_all = "camelCase")]
pub enum Danger {
    /// The Safe would DELEGATECALL: foreign code running with the Safe's own storage and authority.
    Delegatecall,
    /// The Safe transaction calls a contract that is not part of this deployment.
    #[serde(rename_all = "camelCase")]
    UnknownTarget {
        /// The target.
        target: Address,
    },
    /// A call seed-eth does not recognise (unknown function or undecodable arguments).
    #[serde(rename_all = "camelCase")]
    UnrecognisedCall {
        /// The contract called.
        target: Address,
    },
    /// The operation calls the release ledger (its writer decides who may append releases).
    CallsLedger,
    /// The operation lowers the timelock delay, shortening everyone's warning time.
    #[serde(rename_all = "camelCase")]
    DelayReduction {
        /// The current minimum delay, seconds.
        current: U256,
        /// The proposed one.
        proposed: U256,
    },
    /// The operation is scheduled with less than the timelock's minimum delay (it would revert).
    #[serde(rename_all = "camelCase")]
    BelowMinDelay {
        /// The timelock's minimum delay.
        min_delay: U256,
        /// The delay requested.
        delay: U256,
    },
    /// The Safe or the timelock would send ETH.
    #[serde(rename_all = "camelCase")]
    SendsValue {
        /// Wei.
        value: U256,
    },
    /// Gas refund parameters are set: the Safe would pay the submitter.
    Refund,
    /// The new implementation of an upgrade has no code.
    #[serde(rename_all = "camelCase")]
    NoCode {
        /// The address.
        address: Address,
    },
    /// The Safe nonce is already used: the transaction can never execute.
    #[serde(rename_all = "camelCase")]
    StaleNonce {
        /// The proposal's nonce.
        nonce: U256,
        /// The Safe's current nonce.
        current: U256,
    },
    /// The upgrade makes a state-changing call into the ledger, the timelock or the Safe.
    #[serde(rename_all = "camelCase")]
    UpgradeCalls {
        /// Which of them.
        contract: String,
        /// Its address.
        target: Address,
        /// The function called.
        function: String,
    },
    /// The upgrade emits an event that changes who may do what (a writer, an owner, a role,
    /// a guardian, an implementation, a delay, a release).
    #[serde(rename_all = "camelCase")]
    UpgradeEmits {
        /// The event.
        event: String,
        /// Its emitter.
        emitter: Address,
    },
    /// The upgrade runs foreign code with the registry's storage and authority.
    #[serde(rename_all = "camelCase")]
    UpgradeDelegatecall {
        /// The code run.
        target: Address,
    },
    /// The upgrade's initializer is passed the address of the ledger, the timelock or the Safe.
    #[serde(rename_all = "camelCase")]
    UpgradeArgument {
        /// The argument.
        argument: String,
        /// Which contract's address it is.
        contract: String,
    },
    /// The upgrade's initializer call data could not be decoded.
    #[serde(rename_all = "camelCase")]
    UpgradeCallUndecoded {
        /// Why.
        reason: String,
    },
    /// The upgrade could not be traced, so what its initializer does is unchecked.
    #[serde(rename_all = "camelCase")]
    UpgradeUntraced {
        /// Why.
        reason: String,
    },
}

impl Danger {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Self::Delegatecall => "DELEGATECALL: the Safe would run the target's code with its own storage and authority (how the Bybit Safe was drained); never sign unless you know exactly why".to_owned(),
            Self::UnknownTarget { target } => format!("the Safe transaction calls {target}, which is not this deployment's timelock, registry or Safe"),
            Self::UnrecognisedCall { target } => format!("the call to {target} is not a governance action seed-eth knows; decode it independently before signing"),
            Self::CallsLedger => "the operation calls the release ledger: its writer decides who may append finalised releases".to_owned(),
            Self::DelayReduction { current, proposed } => format!("the timelock delay would drop from {current} s to {proposed} s, shortening everyone's time to react to later proposals"),
            Self::BelowMinDelay { min_delay, delay } => format!("scheduled with a delay of {delay} s, below the timelock's minimum {min_delay} s (it would revert)"),
            Self::SendsValue { value } => format!("sends {value} wei"),
            Self::Refund => "gas refund parameters are set: the Safe would pay whoever submits it".to_owned(),
            Self::NoCode { address } => format!("the upgrade's new implementation {address} has no code"),
            Self::StaleNonce { nonce, current } => format!("nonce {nonce} is already used (the Safe is at {current}): this transaction can never execute"),
            Self::UpgradeCalls { contract, target, function } => format!("the upgrade calls {contract} ({target}): {function}; an initializer runs with the registry's authority (it is the ledger's writer)"),
            Self::UpgradeEmits { event, emitter } => format!("the upgrade makes {emitter} emit {event}: it changes who may do what"),
            Self::UpgradeDelegatecall { target } => format!("the upgrade DELEGATECALLs {target}, code that is neither the current nor the new implementation, with the registry's storage and authority"),
            Self::UpgradeArgument { argument, contract } => format!("the initializer is given the address of {contract} (argument `{argument}`); read what the new code does with it"),
            Self::UpgradeCallUndecoded { reason } => format!("the upgrade runs an initializer call that is not decoded ({reason}); decode it before signing (`seed-eth gov show FILE --artifact out/<File>.sol/<Contract>.json`)"),
            Self::UpgradeUntraced { reason } => format!("what the upgrade's initializer does was not traced ({reason}); use an endpoint with debug_traceCall, or read the new code's initializer yourself"),
        }
    }
}

/// What the chain says, when it could be asked.
#[derive(Debug, Clone, Default)]
pub struct ChainFacts {
    /// The latest block's timestamp.
    pub now: u64,
    /// The timelock's minimum delay.
    pub min_delay: U256,
    /// The Safe's current nonce.
    pub safe_nonce: U256,
    /// `getTimestamp(id)` of the scheduled operation (0 when not scheduled, 1 when done).
    pub operation_timestamp: Option<U256>,
    /// The code at the address an upgrade would install, when the proposal is an upgrade.
    pub implementation: Option<CodeInfo>,
    /// What the upgrade does when it runs, traced, when the proposal is an upgrade.
    pub upgrade_trace: Option<Traced>,
}

/// What is deployed at an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeInfo {
    /// The address.
    pub address: Address,
    /// Runtime code size in bytes (0: no contract).
    pub size: usize,
    /// keccak256 of the runtime code, to compare with an independent build.
    pub code_hash: B256,
}

/// A decoded Safe transaction.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    /// The hash owners sign.
    pub safe_tx_hash: B256,
    /// The Safe.
    pub safe: Address,
    /// The Safe nonce.
    pub nonce: U256,
    /// What the transaction does, recovered from its bytes (`None` when unrecognised).
    pub action: Option<Action>,
    /// The action in plain language.
    pub summary: String,
    /// The timelock operation, for scheduled actions.
    pub operation: Option<Operation>,
    /// When the operation may run, if known: `now + delay` before scheduling, the timelock's
    /// timestamp after.
    pub earliest_execution: Option<u64>,
    /// An upgrade's initializer call, decoded with the new implementation's ABI.
    pub initializer: Option<DecodedCall>,
    /// What an upgrade does when it runs (traced; `None` offline).
    pub upgrade_trace: Option<Traced>,
    /// Warnings.
    pub dangers: Vec<Danger>,
}

impl Review {
    /// Decodes `tx` (never the file's own description) and flags what is dangerous. `abi`, the
    /// new implementation's, decodes an upgrade's initializer call.
    pub fn of(
        chain_id: u64,
        contracts: &Contracts,
        tx: &SafeTransaction,
        facts: Option<&ChainFacts>,
        abi: Option<&JsonAbi>,
    ) -> Self {
        let mut dangers = Vec::new();
        if tx.operation == SafeOperation::Delegatecall {
            dangers.push(Danger::Delegatecall);
        }
        // The Safe may call itself (owner changes); any self-call other than those decodes to no
        // action and is flagged as unrecognised below.
        if tx.to != contracts.timelock && tx.to != contracts.registry && tx.to != contracts.safe {
            dangers.push(Danger::UnknownTarget { target: tx.to });
        }
        if !tx.value.is_zero() {
            dangers.push(Danger::SendsValue { value: tx.value });
        }
        if !tx.gas_price.is_zero()
            || !tx.base_gas.is_zero()
            || tx.gas_token != Address::ZERO
            || tx.refund_receiver != Address::ZERO
        {
            dangers.push(Danger::Refund);
        }
        if let Some(facts) = facts {
            if tx.nonce < facts.safe_nonce {
                dangers.push(Danger::StaleNonce {
                    nonce: tx.nonce,
                    current: facts.safe_nonce,
                });
            }
        }
        let (action, operation) = match decode(contracts, tx) {
            Decoded::Schedule { operation, action } => (action, Some(operation)),
            Decoded::Direct(action) => (Some(action), None),
            Decoded::Unrecognised => (None, None),
        };
        if let Some(op) = &operation {
            if action.is_none() {
                dangers.push(Danger::UnrecognisedCall { target: op.target });
            }
            if op.target == contracts.ledger {
                dangers.push(Danger::CallsLedger);
            }
            if op.target != contracts.registry
                && op.target != contracts.ledger
                && op.target != contracts.timelock
            {
                dangers.push(Danger::UnknownTarget { target: op.target });
            }
            if !op.value.is_zero() {
                dangers.push(Danger::SendsValue { value: op.value });
            }
        } else if action.is_none() && !dangers.contains(&Danger::UnknownTarget { target: tx.to }) {
            dangers.push(Danger::UnrecognisedCall { target: tx.to });
        }
        let mut earliest_execution = None;
        if let Some(facts) = facts {
            if let Some(op) = &operation {
                if op.delay < facts.min_delay {
                    dangers.push(Danger::BelowMinDelay {
                        min_delay: facts.min_delay,
                        delay: op.delay,
                    });
                }
                earliest_execution = match facts.operation_timestamp {
                    Some(ts) if ts > U256::from(1) => u64::try_from(ts).ok(),
                    _ => u64::try_from(op.delay)
                        .ok()
                        .map(|d| facts.now.saturating_add(d)),
                };
            }
            if let (Some(Action::UpgradeRegistry { .. }), Some(code)) =
                (&action, &facts.implementation)
            {
                if code.size == 0 {
                    dangers.push(Danger::NoCode {
                        address: code.address,
                    });
                }
            }
            if let Some(Action::SetTimelockDelay { seconds }) = &action {
                if *seconds < facts.min_delay {
                    dangers.push(Danger::DelayReduction {
                        current: facts.min_delay,
                        proposed: *seconds,
                    });
                }
            }
        }
        let mut initializer = None;
        if let Some(Action::UpgradeRegistry {
            implementation,
            call,
        }) = &action
        {
            if !call.is_empty() {
                let decoded = abi
                    .ok_or_else(|| "no artefact was given".to_owned())
                    .and_then(|abi| decode_call(abi, call));
                match decoded {
                    Ok(decoded) => {
                        dangers.extend(argument_dangers(contracts, &decoded));
                        initializer = Some(decoded);
                    }
                    Err(reason) => dangers.push(Danger::UpgradeCallUndecoded { reason }),
                }
            }
            match facts.and_then(|f| f.upgrade_trace.as_ref()) {
                Some(Traced::Effects(effects)) => {
                    dangers.extend(effect_dangers(contracts, *implementation, effects));
                }
                Some(Traced::Untraced { reason }) if !call.is_empty() => {
                    dangers.push(Danger::UpgradeUntraced {
                        reason: reason.clone(),
                    });
                }
                Some(Traced::Untraced { .. }) | None => {}
            }
        }
        let summary = match (&action, &operation) {
            (Some(action), Some(op)) => format!(
                "schedule on the timelock, to run no earlier than {} s after scheduling: {}",
                op.delay,
                action.describe()
            ),
            (Some(action), None) => action.describe(),
            (None, Some(op)) => format!(
                "schedule an UNRECOGNISED call to {} with data {}",
                op.target, op.data
            ),
            (None, None) => format!("an UNRECOGNISED call to {} with data {}", tx.to, tx.data),
        };
        Self {
            safe_tx_hash: tx.hash(chain_id, contracts.safe),
            safe: contracts.safe,
            nonce: tx.nonce,
            action,
            summary,
            operation,
            earliest_execution,
            initializer,
            upgrade_trace: facts.and_then(|f| f.upgrade_trace.clone()),
            dangers,
        }
    }

    /// Whether the transaction would DELEGATECALL.
    pub fn is_delegatecall(&self) -> bool {
        self.dangers.contains(&Danger::Delegatecall)
    }
}

#[cfg(test)]
mod tests {
    use alloy::{
        primitives::{address, Bytes},
        sol_types::SolCall,
    };

    use super::*;
    use crate::proposal::{NewProposal, Proposal};

    fn params() -> NewProposal {
        NewProposal {
            chain_id: 31337,
            contracts: crate::action::test_contracts(),
            nonce: U256::from(4),
            delay: U256::from(86_400),
            predecessor: B256::ZERO,
            salt: B256::repeat_byte(9),
        }
    }

    fn facts() -> ChainFacts {
        ChainFacts {
            now: 1000,
            min_delay: U256::from(86_400),
            safe_nonce: U256::from(4),
            operation_timestamp: None,
            implementation: None,
            upgrade_trace: None,
        }
    }

    #[test]
    fn plain_proposals_have_no_dangers() {
        let p = Proposal::new(&params(), Action::SetQuorum { quorum: 2 });
        let review = Review::of(31337, &p.contracts, &p.safe_tx, Some(&facts()), None);
        assert!(review.dangers.is_empty(), "{:?}", review.dangers);
        assert_eq!(review.earliest_execution, Some(1000 + 86_400));
        assert!(
            review.summary.contains("quorum k to 2"),
            "{}",
            review.summary
        );
    }

    #[test]
    fn the_safe_may_swap_an_owner_but_no_other_self_call_passes_unflagged() {
        let c = params().contracts;
        let swap = Proposal::new(
            &params(),
            Action::SwapSafeOwner {
                prev_owner: address!("0x0000000000000000000000000000000000000001"),
                old_owner: address!("0x00000000000000000000000000000000000000aa"),
                new_owner: address!("0x00000000000000000000000000000000000000bb"),
            },
        );
        assert_eq!(swap.safe_tx.to, c.safe);
        let review = Review::of(31337, &c, &swap.safe_tx, Some(&facts()), None);
        assert!(review.dangers.is_empty(), "{:?}", review.dangers);
        assert!(
            review.summary.contains("replace governance signer"),
            "{}",
            review.summary
        );

        // Same target, another Safe function (here: a module that could act without signatures).
        let mut module = swap.clone();
        module.safe_tx.data = seed_chain::bindings::Safe::enableModuleCall {
            module: address!("0x00000000000000000000000000000000000000cc"),
        }
        .abi_encode()
        .into();
        let review = Review::of(31337, &c, &module.safe_tx, Some(&facts()), None);
        assert_eq!(
            review.dangers,
            vec![Danger::UnrecognisedCall { target: c.safe }]
        );
    }

    #[test]
    fn dangers_are_flagged() {
        let c = params().contracts;
        // DELEGATECALL to an unknown contract.
        let mut p = Proposal::new(&params(), Action::SetQuorum { quorum: 2 });
        p.safe_tx.operation = SafeOperation::Delegatecall;
        p.safe_tx.to = address!("0x00000000000000000000000000000000000000ee");
        let review = Review::of(31337, &c, &p.safe_tx, Some(&facts()), None);
        assert!(review.is_delegatecall());
        assert!(review.dangers.contains(&Danger::UnknownTarget {
            target: address!("0x00000000000000000000000000000000000000ee")
        }));
        // Ledger writer change.
        let p = Proposal::new(
            &params(),
            Action::SetLedgerWriter {
                writer: address!("0x00000000000000000000000000000000000000dd"),
            },
        );
        let review = Review::of(31337, &c, &p.safe_tx, Some(&facts()), None);
        assert_eq!(review.dangers, vec![Danger::CallsLedger]);
        // Delay reduction.
        let p = Proposal::new(
            &params(),
            Action::SetTimelockDelay {
                seconds: U256::from(60),
            },
        );
        let review = Review::of(31337, &c, &p.safe_tx, Some(&facts()), None);
        assert!(matches!(
            review.dangers[..],
            [Danger::DelayReduction { .. }]
        ));
        // A stale nonce and an unrecognised scheduled call.
        let mut p = Proposal::new(&params(), Action::SetQuorum { quorum: 2 });
        p.safe_tx.nonce = U256::from(1);
        let op = crate::timelock::Operation::new(
            c.registry,
            U256::ZERO,
            Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]),
            B256::ZERO,
            B256::ZERO,
            U256::from(86_400),
        );
        p.safe_tx.data = op.schedule_calldata();
        let review = Review::of(31337, &c, &p.safe_tx, Some(&facts()), None);
        assert!(review
            .dangers
            .contains(&Danger::UnrecognisedCall { target: c.registry }));
        assert!(matches!(review.dangers[0], Danger::StaleNonce { .. }));
    }
}
