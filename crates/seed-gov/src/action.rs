//! What a proposal does, as an enum: encoded to calldata when proposing, and
//! recovered from calldata when reviewing (so what a signer is shown is
//! derived from what they sign, never from a description in the file).

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    sol_types::{SolCall, SolInterface},
};
use seed_chain::bindings::{ReleaseLedger, Safe, SeedRegistry, TimelockController};
use serde::{Deserialize, Serialize};

/// The governed contracts of one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contracts {
    /// The Safe (proposer, canceller, guardian).
    pub safe: Address,
    /// The TimelockController (owner of registry and ledger).
    pub timelock: Address,
    /// The registry proxy.
    pub registry: Address,
    /// The write-once release ledger.
    pub ledger: Address,
}

impl Contracts {
    /// `address` with the role it has in this deployment, so a signer reads which contract a
    /// transaction touches rather than comparing hex: `0x… (timelock)`, or `(not this deployment)`.
    pub fn label(&self, address: Address) -> String {
        let role = match address {
            a if a == self.timelock => "timelock",
            a if a == self.registry => "registry proxy",
            a if a == self.ledger => "release ledger",
            a if a == self.safe => "Safe",
            _ => "not this deployment",
        };
        format!("{address} ({role})")
    }
}

/// One governance action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Action {
    /// `registry.addBuilder(signer, organisation, jurisdiction, infrastructure)` through the timelock.
    #[serde(rename_all = "camelCase")]
    AddBuilder {
        /// The builder's signing key.
        signer: Address,
        /// Organisation tag id.
        organisation: B256,
        /// Jurisdiction tag id.
        jurisdiction: B256,
        /// Infrastructure tag id.
        infrastructure: B256,
    },
    /// `registry.revokeBuilder(id)`; through the timelock, or directly by the Safe as guardian
    /// when `emergency` (no delay: it only removes power).
    #[serde(rename_all = "camelCase")]
    RevokeBuilder {
        /// The builder id.
        builder_id: u8,
        /// The guardian fast path instead of the timelock.
        emergency: bool,
    },
    /// `registry.rotateBuilderKey(id, newSigner)`.
    #[serde(rename_all = "camelCase")]
    RotateBuilderKey {
        /// The builder id.
        builder_id: u8,
        /// The new signing key.
        new_signer: Address,
    },
    /// `registry.setQuorum(k)`.
    SetQuorum {
        /// The new k.
        quorum: u8,
    },
    /// `registry.setRequiredSystems(systems)`.
    SetRequiredSystems {
        /// The systems, strictly ascending.
        systems: Vec<String>,
    },
    /// `registry.setIndependencePolicy(policy)`.
    SetIndependencePolicy {
        /// Bit 0 organisation, bit 1 jurisdiction, bit 2 infrastructure.
        policy: u8,
    },
    /// `timelock.updateDelay(seconds)` (the timelock calling itself).
    SetTimelockDelay {
        /// The new minimum delay, seconds.
        seconds: U256,
    },
    /// `registry.upgradeToAndCall(implementation, data)`.
    #[serde(rename_all = "camelCase")]
    UpgradeRegistry {
        /// The new implementation.
        implementation: Address,
        /// Calldata run in the proxy's context after the upgrade (empty for none).
        call: Bytes,
    },
    /// `ledger.setWriter(writer)`: who may append finalised releases.
    SetLedgerWriter {
        /// The new writer.
        writer: Address,
    },
    /// `timelock.cancel(id)`: drop a scheduled operation (the Safe is the canceller).
    CancelOperation {
        /// The operation id.
        id: B256,
    },
    /// `safe.swapOwner(prevOwner, oldOwner, newOwner)`, the Safe calling itself: replaces a
    /// governance signer (a lost or compromised key). Not timelocked: Safe membership is not a
    /// registry rule, and the Safe's own threshold approves it (D-042).
    #[serde(rename_all = "camelCase")]
    SwapSafeOwner {
        /// The owner before `old_owner` in the Safe's owner list (the sentinel `0x…01` for the first).
        prev_owner: Address,
        /// The owner leaving.
        old_owner: Address,
        /// The owner joining.
        new_owner: Address,
    },
}

/// Where an action's call goes and how it gets there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The Safe schedules the call on the timelock; it runs after the delay.
    Timelocked,
    /// The Safe calls the target itself: emergency revocation (guardian) and timelock cancellation.
    Direct,
}

impl Action {
    /// How this action travels.
    pub fn route(&self) -> Route {
        match self {
            Self::RevokeBuilder {
                emergency: true, ..
            }
            | Self::CancelOperation { .. }
            | Self::SwapSafeOwner { .. } => Route::Direct,
            _ => Route::Timelocked,
        }
    }

    /// The contract called and the calldata: by the timelock for timelocked actions, by the Safe
    /// for direct ones.
    pub fn call(&self, contracts: &Contracts) -> (Address, Bytes) {
        let registry = |data: Vec<u8>| (contracts.registry, Bytes::from(data));
        match self {
            Self::AddBuilder {
                signer,
                organisation,
                jurisdiction,
                infrastructure,
            } => registry(
                SeedRegistry::addBuilderCall {
                    signer: *signer,
                    organisation: *organisation,
                    jurisdiction: *jurisdiction,
                    infrastructure: *infrastructure,
                }
                .abi_encode(),
            ),
            Self::RevokeBuilder { builder_id, .. } => registry(
                SeedRegistry::revokeBuilderCall {
                    builderId: *builder_id,
                }
                .abi_encode(),
            ),
            Self::RotateBuilderKey {
                builder_id,
                new_signer,
            } => registry(
                SeedRegistry::rotateBuilderKeyCall {
                    builderId: *builder_id,
                    newSigner: *new_signer,
                }
                .abi_encode(),
            ),
            Self::SetQuorum { quorum } => {
                registry(SeedRegistry::setQuorumCall { quorum_: *quorum }.abi_encode())
            }
            Self::SetRequiredSystems { systems } => registry(
                SeedRegistry::setRequiredSystemsCall {
                    systems: systems.clone(),
                }
                .abi_encode(),
            ),
            Self::SetIndependencePolicy { policy } => {
                registry(SeedRegistry::setIndependencePolicyCall { policy: *policy }.abi_encode())
            }
            Self::UpgradeRegistry {
                implementation,
                call,
            } => registry(
                SeedRegistry::upgradeToAndCallCall {
                    newImplementation: *implementation,
                    data: call.clone(),
                }
                .abi_encode(),
            ),
            Self::SetTimelockDelay { seconds } => (
                contracts.timelock,
                TimelockController::updateDelayCall { newDelay: *seconds }
                    .abi_encode()
                    .into(),
            ),
            Self::SetLedgerWriter { writer } => (
                contracts.ledger,
                ReleaseLedger::setWriterCall { newWriter: *writer }
                    .abi_encode()
                    .into(),
            ),
            Self::CancelOperation { id } => (
                contracts.timelock,
                TimelockController::cancelCall { id: *id }
                    .abi_encode()
                    .into(),
            ),
            Self::SwapSafeOwner {
                prev_owner,
                old_owner,
                new_owner,
            } => (
                contracts.safe,
                Safe::swapOwnerCall {
                    prevOwner: *prev_owner,
                    oldOwner: *old_owner,
                    newOwner: *new_owner,
                }
                .abi_encode()
                .into(),
            ),
        }
    }

    /// Recovers the action a timelocked call performs; `None` for anything seed-eth does not
    /// propose (shown as unrecognised and flagged).
    pub fn from_timelocked_call(
        contracts: &Contracts,
        target: Address,
        data: &[u8],
    ) -> Option<Self> {
        if target == contracts.registry {
            use SeedRegistry::SeedRegistryCalls as C;
            return match SeedRegistry::SeedRegistryCalls::abi_decode(data).ok()? {
                C::addBuilder(c) => Some(Self::AddBuilder {
                    signer: c.signer,
                    organisation: c.organisation,
                    jurisdiction: c.jurisdiction,
                    infrastructure: c.infrastructure,
                }),
                C::revokeBuilder(c) => Some(Self::RevokeBuilder {
                    builder_id: c.builderId,
                    emergency: false,
                }),
                C::rotateBuilderKey(c) => Some(Self::RotateBuilderKey {
                    builder_id: c.builderId,
                    new_signer: c.newSigner,
                }),
                C::setQuorum(c) => Some(Self::SetQuorum { quorum: c.quorum_ }),
                C::setRequiredSystems(c) => Some(Self::SetRequiredSystems { systems: c.systems }),
                C::setIndependencePolicy(c) => {
                    Some(Self::SetIndependencePolicy { policy: c.policy })
                }
                C::upgradeToAndCall(c) => Some(Self::UpgradeRegistry {
                    implementation: c.newImplementation,
                    call: c.data,
                }),
                _ => None,
            };
        }
        if target == contracts.timelock {
            let call = TimelockController::updateDelayCall::abi_decode(data).ok()?;
            return Some(Self::SetTimelockDelay {
                seconds: call.newDelay,
            });
        }
        if target == contracts.ledger {
            let call = ReleaseLedger::setWriterCall::abi_decode(data).ok()?;
            return Some(Self::SetLedgerWriter {
                writer: call.newWriter,
            });
        }
        None
    }

    /// A one-line description in plain language.
    pub fn describe(&self) -> String {
        match self {
            Self::AddBuilder {
                signer,
                organisation,
                jurisdiction,
                infrastructure,
            } => format!(
                "add builder {signer} (organisation {organisation}, jurisdiction {jurisdiction}, infrastructure {infrastructure})"
            ),
            Self::RevokeBuilder {
                builder_id,
                emergency: false,
            } => format!("revoke builder {builder_id} after the timelock delay"),
            Self::RevokeBuilder {
                builder_id,
                emergency: true,
            } => format!(
                "EMERGENCY: revoke builder {builder_id} immediately (the Safe acting as the registry's guardian; no timelock)"
            ),
            Self::RotateBuilderKey {
                builder_id,
                new_signer,
            } => format!("rotate builder {builder_id}'s signing key to {new_signer}"),
            Self::SetQuorum { quorum } => {
                format!("set the quorum k to {quorum} agreeing builders per system")
            }
            Self::SetRequiredSystems { systems } => {
                format!("set the required systems to [{}]", systems.join(", "))
            }
            Self::SetIndependencePolicy { policy } => format!(
                "set the independence policy to {policy} ({})",
                policy_names(*policy)
            ),
            Self::SetTimelockDelay { seconds } => {
                format!("set the timelock's minimum delay to {seconds} s")
            }
            Self::UpgradeRegistry {
                implementation,
                call,
            } => {
                if call.is_empty() {
                    format!("upgrade the registry to implementation {implementation}")
                } else {
                    format!(
                        "upgrade the registry to implementation {implementation} and call it with {call}"
                    )
                }
            }
            Self::SetLedgerWriter { writer } => format!(
                "make {writer} the release ledger's writer (the only contract that may append finalised releases)"
            ),
            Self::CancelOperation { id } => format!("cancel the scheduled timelock operation {id}"),
            Self::SwapSafeOwner {
                old_owner,
                new_owner,
                ..
            } => format!(
                "replace governance signer {old_owner} with {new_owner} as an owner of the Safe (threshold unchanged; no timelock)"
            ),
        }
    }
}

/// The tag names a policy bitmask requires to differ.
pub fn policy_names(policy: u8) -> String {
    let mut names = Vec::new();
    for (bit, name) in [
        (1, "organisation"),
        (2, "jurisdiction"),
        (4, "infrastructure"),
    ] {
        if policy & bit != 0 {
            names.push(name);
        }
    }
    if policy & !7 != 0 {
        names.push("unknown bits");
    }
    if names.is_empty() {
        "no tag must differ".to_owned()
    } else {
        format!("{} must differ", names.join(", "))
    }
}

/// A deployment's addresses for unit tests (0x…01 Safe, 0x…02 timelock, 0x…03 registry, 0x…04
/// ledger).
#[cfg(test)]
pub(crate) fn test_contracts() -> Contracts {
    use alloy::primitives::address;
    Contracts {
        safe: address!("0x0000000000000000000000000000000000000001"),
        timelock: address!("0x0000000000000000000000000000000000000002"),
        registry: address!("0x0000000000000000000000000000000000000003"),
        ledger: address!("0x0000000000000000000000000000000000000004"),
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    fn contracts() -> Contracts {
        test_contracts()
    }

    #[test]
    fn addresses_are_labelled_with_their_role_or_as_foreign() {
        let c = contracts();
        assert!(c.label(c.timelock).ends_with("(timelock)"));
        assert!(c.label(c.registry).ends_with("(registry proxy)"));
        assert!(c.label(c.ledger).ends_with("(release ledger)"));
        assert!(c.label(c.safe).ends_with("(Safe)"));
        let other = address!("0x00000000000000000000000000000000000000ff");
        assert_eq!(c.label(other), format!("{other} (not this deployment)"));
    }

    #[test]
    fn every_timelocked_action_round_trips() {
        let c = contracts();
        let actions = [
            Action::AddBuilder {
                signer: address!("0x00000000000000000000000000000000000000aa"),
                organisation: B256::repeat_byte(1),
                jurisdiction: B256::repeat_byte(2),
                infrastructure: B256::repeat_byte(3),
            },
            Action::RevokeBuilder {
                builder_id: 2,
                emergency: false,
            },
            Action::RotateBuilderKey {
                builder_id: 1,
                new_signer: address!("0x00000000000000000000000000000000000000bb"),
            },
            Action::SetQuorum { quorum: 3 },
            Action::SetRequiredSystems {
                systems: vec!["aarch64-linux".into(), "x86_64-linux".into()],
            },
            Action::SetIndependencePolicy { policy: 5 },
            Action::SetTimelockDelay {
                seconds: U256::from(3600),
            },
            Action::UpgradeRegistry {
                implementation: address!("0x00000000000000000000000000000000000000cc"),
                call: Bytes::from_static(&[1, 2, 3, 4]),
            },
            Action::SetLedgerWriter {
                writer: address!("0x00000000000000000000000000000000000000dd"),
            },
        ];
        for action in actions {
            assert_eq!(action.route(), Route::Timelocked);
            let (target, data) = action.call(&c);
            assert_eq!(
                Action::from_timelocked_call(&c, target, &data),
                Some(action.clone())
            );
        }
        // The same calldata sent somewhere else is not recognised.
        let (_, data) = Action::SetQuorum { quorum: 3 }.call(&c);
        assert_eq!(Action::from_timelocked_call(&c, c.safe, &data), None);
    }
}
