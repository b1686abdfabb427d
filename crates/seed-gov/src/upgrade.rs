//! What a registry upgrade runs, shown before anyone signs it.
//!
//! `upgradeToAndCall(implementation, data)` runs `data` in the registry
//! proxy's context, with the registry's authority: it is the registry's
//! writer of the ledger, so an initializer can append a forged release or
//! hand roles away. The call data is decoded with the new implementation's
//! ABI (its forge artefact, `--artifact`), and the whole upgrade is traced
//! (`debug_traceCall` with the call tracer, from the timelock, at the latest
//! block) to list every call it makes and every event it emits. A
//! state-changing call into the ledger, the timelock or the Safe, and any
//! event that changes who may do what (a writer, an owner, a role, a
//! guardian, an implementation, a delay), is a danger the signer sees. What
//! cannot be checked is a danger too: call data the ABI does not decode, an
//! endpoint that cannot trace.

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::JsonAbi,
    primitives::{keccak256, Address, Bytes, B256},
    providers::Provider,
    sol_types::{SolCall, SolEvent},
};
use seed_chain::{bindings::SeedRegistry, Chain};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    action::Contracts,
    error::{GovError, Result},
    review::Danger,
};

/// EIP-170: the largest runtime code a contract may have.
pub const MAX_RUNTIME_CODE: usize = 24_576;
/// EIP-3860: the largest creation code a transaction may carry.
pub const MAX_CREATION_CODE: usize = 2 * MAX_RUNTIME_CODE;

/// A function call decoded with an ABI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecodedCall {
    /// `name(type,…)`.
    pub signature: String,
    /// The arguments, in order.
    pub arguments: Vec<Argument>,
}

/// One decoded argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Argument {
    /// Its name in the ABI (may be empty).
    pub name: String,
    /// Its Solidity type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its value, as a person reads it.
    pub value: String,
}

impl DecodedCall {
    /// `initializeV2(string note_ = "v2")`.
    pub fn describe(&self) -> String {
        let name = self.signature.split('(').next().unwrap_or_default();
        let arguments: Vec<String> = self
            .arguments
            .iter()
            .map(|a| format!("{} {} = {}", a.ty, a.name, a.value))
            .collect();
        format!("{name}({})", arguments.join(", "))
    }
}

/// Decodes `data` as a call of one of `abi`'s functions.
pub fn decode_call(abi: &JsonAbi, data: &[u8]) -> std::result::Result<DecodedCall, String> {
    let Some(selector) = data.get(..4) else {
        return Err(format!("{} bytes, shorter than a selector", data.len()));
    };
    let function = abi
        .functions()
        .find(|f| f.selector().as_slice() == selector)
        .ok_or_else(|| {
            format!(
                "selector 0x{} is no function of the artefact's ABI",
                alloy::hex::encode(selector)
            )
        })?;
    let values = function.abi_decode_input(&data[4..]).map_err(|e| {
        format!(
            "the arguments of {} do not decode: {e}",
            function.signature()
        )
    })?;
    // The decoder tolerates short padding and trailing bytes; a signer must see
    // everything the call carries, so only the canonical encoding is accepted.
    if function.abi_encode_input(&values).ok().as_deref() != Some(data) {
        return Err(format!(
            "the arguments of {} do not decode: {} bytes are not their canonical encoding (truncated, or carrying extra bytes)",
            function.signature(),
            data.len()
        ));
    }
    Ok(DecodedCall {
        signature: function.signature(),
        arguments: function
            .inputs
            .iter()
            .zip(&values)
            .map(|(param, value)| Argument {
                name: param.name.clone(),
                ty: param.ty.clone(),
                value: show(value),
            })
            .collect(),
    })
}

/// A value as a person reads it: checksummed addresses, 0x-hex bytes,
/// quoted strings, decimal numbers.
fn show(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Address(a) => a.to_checksum(None),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::FixedBytes(word, size) => format!("0x{}", alloy::hex::encode(&word[..*size])),
        DynSolValue::Bytes(b) => format!("0x{}", alloy::hex::encode(b)),
        DynSolValue::String(s) => format!("{s:?}"),
        DynSolValue::Function(f) => format!("0x{}", alloy::hex::encode(f.as_slice())),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
        DynSolValue::Tuple(items) => {
            format!(
                "({})",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

/// Refuses creation or runtime code a chain would refuse to deploy.
pub fn check_code_size(name: &str, creation: usize, runtime: usize) -> Result<()> {
    if runtime > MAX_RUNTIME_CODE || creation > MAX_CREATION_CODE {
        return Err(GovError::Invalid(format!(
            "{name} cannot be deployed: its runtime code is {runtime} bytes (EIP-170 allows {MAX_RUNTIME_CODE}) and its creation code {creation} bytes (EIP-3860 allows {MAX_CREATION_CODE}); shrink it (the optimizer, fewer or external libraries) before proposing"
        )));
    }
    Ok(())
}

/// What tracing an upgrade found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Traced {
    /// The calls and events of the upgrade.
    Effects(Effects),
    /// The endpoint could not trace it (no `debug_traceCall`, or it reverted).
    Untraced {
        /// Why.
        reason: String,
    },
}

/// Every call and event of a traced upgrade, besides the upgrade itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effects {
    /// Calls, depth first.
    pub calls: Vec<EffectCall>,
    /// Events, in order.
    pub events: Vec<EffectEvent>,
}

/// One call made during the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectCall {
    /// `CALL`, `STATICCALL`, `DELEGATECALL`, …
    pub kind: String,
    /// The caller.
    pub from: Address,
    /// The callee.
    pub to: Address,
    /// The function called, when seed-eth knows it, else its selector.
    pub function: String,
}

/// One event emitted during the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectEvent {
    /// The emitter.
    pub address: Address,
    /// The event's name when it is one that changes who may do what.
    pub name: Option<String>,
    /// Its first topic.
    pub topic0: Option<B256>,
    /// The implementation an `Upgraded` event names.
    pub upgraded_to: Option<Address>,
}

/// A frame of geth's `callTracer` output (what anvil, geth and reth return).
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    from: Address,
    to: Option<Address>,
    #[serde(default)]
    input: Bytes,
    #[serde(default)]
    calls: Vec<Frame>,
    #[serde(default)]
    logs: Vec<FrameLog>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct FrameLog {
    address: Address,
    #[serde(default)]
    topics: Vec<B256>,
}

/// Traces `upgradeToAndCall(implementation, call)` as the timelock will run
/// it, at the latest block, through the registry's `current` implementation.
pub async fn trace_upgrade(
    chain: &Chain,
    contracts: &Contracts,
    current: Address,
    implementation: Address,
    call: &Bytes,
) -> Result<Traced> {
    let data = SeedRegistry::upgradeToAndCallCall {
        newImplementation: implementation,
        data: call.clone(),
    }
    .abi_encode();
    let request = json!({
        "from": contracts.timelock,
        "to": contracts.registry,
        "data": Bytes::from(data),
    });
    let options = json!({"tracer": "callTracer", "tracerConfig": {"withLog": true}});
    let answer: std::result::Result<Frame, _> = chain
        .provider()
        .raw_request("debug_traceCall".into(), (request, "latest", options))
        .await;
    Ok(match answer {
        Ok(frame) => match &frame.error {
            Some(error) => Traced::Untraced {
                reason: format!("the traced upgrade reverts ({error})"),
            },
            None => Traced::Effects(effects_of(
                &frame,
                &Upgrade {
                    registry: contracts.registry,
                    current,
                    implementation,
                },
            )),
        },
        Err(e) => Traced::Untraced {
            reason: format!("the endpoint {} did not trace it: {e}", chain.url()),
        },
    })
}

/// The contracts of an upgrade: the proxy, its current implementation and
/// the new one.
struct Upgrade {
    registry: Address,
    current: Address,
    implementation: Address,
}

impl Upgrade {
    /// Whether a frame is the upgrade's own: the call to the proxy, the
    /// proxy's delegatecall into the current implementation (which runs
    /// `upgradeToAndCall`) and into the new one (the initializer), and the
    /// new implementation's `proxiableUUID` check.
    fn is_own(&self, frame: &Frame, depth: usize) -> bool {
        let to = frame.to.unwrap_or_default();
        depth == 0
            || (frame.kind == "DELEGATECALL"
                && frame.from == self.registry
                && (to == self.current || to == self.implementation))
            || (frame.kind == "STATICCALL"
                && to == self.implementation
                && frame.input.get(..4) == Some(&keccak256("proxiableUUID()")[..4]))
    }
}

/// Flattens a trace, leaving out the upgrade's own frames.
fn effects_of(top: &Frame, upgrade: &Upgrade) -> Effects {
    let mut effects = Effects::default();
    collect(top, 0, upgrade, &mut effects);
    effects
}

fn collect(frame: &Frame, depth: usize, upgrade: &Upgrade, out: &mut Effects) {
    if !upgrade.is_own(frame, depth) {
        out.calls.push(EffectCall {
            kind: frame.kind.clone(),
            from: frame.from,
            to: frame.to.unwrap_or_default(),
            function: function_name(&frame.input),
        });
    }
    for log in &frame.logs {
        let topic0 = log.topics.first().copied();
        let name = topic0.and_then(governance_event);
        let upgraded_to = (topic0 == Some(event_topic("Upgraded(address)")))
            .then(|| log.topics.get(1).map(|t| Address::from_word(*t)))
            .flatten();
        out.events.push(EffectEvent {
            address: log.address,
            name,
            topic0,
            upgraded_to,
        });
    }
    for child in &frame.calls {
        collect(child, depth + 1, upgrade, out);
    }
}

fn event_topic(signature: &str) -> B256 {
    keccak256(signature.as_bytes())
}

/// Events of other contracts that change who may do what, by signature.
const GOVERNANCE_EVENTS: [&str; 14] = [
    "OwnershipTransferred(address,address)",
    "OwnershipTransferStarted(address,address)",
    "RoleGranted(bytes32,address,address)",
    "RoleRevoked(bytes32,address,address)",
    "RoleAdminChanged(bytes32,bytes32,bytes32)",
    "Upgraded(address)",
    "AdminChanged(address,address)",
    "BeaconUpgraded(address)",
    "MinDelayChange(uint256,uint256)",
    "AddedOwner(address)",
    "RemovedOwner(address)",
    "ChangedThreshold(uint256)",
    "EnabledModule(address)",
    "ChangedGuard(address)",
];

/// The name of an event that changes who may do what, or what counts as a
/// release: the ledger's and the registry's own (a builder added, a key
/// rotated, the quorum, systems or policy changed, a release finalised), and
/// the usual ownership, role, proxy, timelock and Safe events.
fn governance_event(topic: B256) -> Option<String> {
    use seed_chain::bindings::{ReleaseLedger as L, SeedRegistry as R};
    let own: [(&str, B256); 11] = [
        ("ReleaseRecorded", L::ReleaseRecorded::SIGNATURE_HASH),
        ("WriterChanged", L::WriterChanged::SIGNATURE_HASH),
        ("BuilderAdded", R::BuilderAdded::SIGNATURE_HASH),
        ("BuilderRevoked", R::BuilderRevoked::SIGNATURE_HASH),
        ("BuilderKeyRotated", R::BuilderKeyRotated::SIGNATURE_HASH),
        ("BuilderTagsChanged", R::BuilderTagsChanged::SIGNATURE_HASH),
        ("QuorumChanged", R::QuorumChanged::SIGNATURE_HASH),
        (
            "RequiredSystemsChanged",
            R::RequiredSystemsChanged::SIGNATURE_HASH,
        ),
        (
            "IndependencePolicyChanged",
            R::IndependencePolicyChanged::SIGNATURE_HASH,
        ),
        ("GuardianChanged", R::GuardianChanged::SIGNATURE_HASH),
        ("ReleaseFinalised", R::ReleaseFinalised::SIGNATURE_HASH),
    ];
    own.iter()
        .find(|(_, hash)| *hash == topic)
        .map(|(name, _)| (*name).to_owned())
        .or_else(|| {
            GOVERNANCE_EVENTS
                .iter()
                .find(|signature| event_topic(signature) == topic)
                .map(|signature| signature.split('(').next().unwrap_or_default().to_owned())
        })
}

/// Functions of the ledger, the timelock, the Safe and the usual role
/// contracts, by selector, to name a call in a danger.
const KNOWN_FUNCTIONS: [&str; 22] = [
    "record(bytes32,bytes32,uint32)",
    "setWriter(address)",
    "transferOwnership(address)",
    "renounceOwnership()",
    "acceptOwnership()",
    "grantRole(bytes32,address)",
    "revokeRole(bytes32,address)",
    "renounceRole(bytes32,address)",
    "schedule(address,uint256,bytes,bytes32,bytes32,uint256)",
    "scheduleBatch(address[],uint256[],bytes[],bytes32,bytes32,uint256)",
    "execute(address,uint256,bytes,bytes32,bytes32)",
    "cancel(bytes32)",
    "updateDelay(uint256)",
    "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)",
    "addOwnerWithThreshold(address,uint256)",
    "removeOwner(address,address,uint256)",
    "swapOwner(address,address,address)",
    "changeThreshold(uint256)",
    "enableModule(address)",
    "setGuard(address)",
    "upgradeToAndCall(address,bytes)",
    "setGuardian(address)",
];

fn function_name(input: &[u8]) -> String {
    let Some(selector) = input.get(..4) else {
        return "(no call data)".to_owned();
    };
    KNOWN_FUNCTIONS
        .iter()
        .find(|signature| &keccak256(signature.as_bytes())[..4] == selector)
        .map_or_else(
            || format!("selector 0x{}", alloy::hex::encode(selector)),
            |signature| (*signature).to_owned(),
        )
}

/// The dangers in a traced upgrade's effects.
pub fn effect_dangers(
    contracts: &Contracts,
    implementation: Address,
    effects: &Effects,
) -> Vec<Danger> {
    let role = |address: Address| {
        if address == contracts.ledger {
            Some("the release ledger")
        } else if address == contracts.timelock {
            Some("the timelock")
        } else if address == contracts.safe {
            Some("the Safe")
        } else {
            None
        }
    };
    let mut dangers = Vec::new();
    for call in &effects.calls {
        if call.kind == "STATICCALL" {
            continue;
        }
        if call.kind == "DELEGATECALL" && call.from == contracts.registry {
            dangers.push(Danger::UpgradeDelegatecall { target: call.to });
        } else if let Some(role) = role(call.to) {
            dangers.push(Danger::UpgradeCalls {
                contract: role.to_owned(),
                target: call.to,
                function: call.function.clone(),
            });
        }
    }
    for event in &effects.events {
        let Some(name) = &event.name else { continue };
        // The upgrade's own `Upgraded(implementation)` by the proxy is expected.
        if event.address == contracts.registry && event.upgraded_to == Some(implementation) {
            continue;
        }
        dangers.push(Danger::UpgradeEmits {
            event: name.clone(),
            emitter: event.address,
        });
    }
    dangers
}

/// The dangers in decoded initializer arguments: the address of the ledger,
/// the timelock or the Safe passed to the new code.
pub fn argument_dangers(contracts: &Contracts, call: &DecodedCall) -> Vec<Danger> {
    call.arguments
        .iter()
        .filter_map(|a| {
            let role = [
                (contracts.ledger, "the release ledger"),
                (contracts.timelock, "the timelock"),
                (contracts.safe, "the Safe"),
            ]
            .into_iter()
            .find(|(address, _)| a.value.contains(&address.to_checksum(None)))?
            .1;
            Some(Danger::UpgradeArgument {
                argument: if a.name.is_empty() {
                    a.ty.clone()
                } else {
                    a.name.clone()
                },
                contract: role.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    fn abi() -> JsonAbi {
        JsonAbi::parse([
            "function initializeV2(string note_) external",
            "function configure(address ledger_, uint256[] amounts, bytes32 tag) external",
        ])
        .unwrap()
    }

    fn contracts() -> Contracts {
        crate::action::test_contracts()
    }

    #[test]
    fn calls_decode_with_the_artefacts_abi() {
        let function = abi().function("configure").unwrap()[0].clone();
        let data = function
            .abi_encode_input(&[
                DynSolValue::Address(contracts().ledger),
                DynSolValue::Array(vec![DynSolValue::Uint(
                    alloy::primitives::U256::from(7),
                    256,
                )]),
                DynSolValue::FixedBytes(B256::repeat_byte(0xab), 32),
            ])
            .unwrap();
        let decoded = decode_call(&abi(), &data).unwrap();
        assert_eq!(decoded.signature, "configure(address,uint256[],bytes32)");
        assert_eq!(
            decoded.describe(),
            format!(
                "configure(address ledger_ = {}, uint256[] amounts = [7], bytes32 tag = 0x{})",
                contracts().ledger.to_checksum(None),
                "ab".repeat(32)
            )
        );
        assert_eq!(
            argument_dangers(&contracts(), &decoded),
            vec![Danger::UpgradeArgument {
                argument: "ledger_".into(),
                contract: "the release ledger".into()
            }]
        );
    }

    /// Malformed call data is refused with the reason, never half-decoded.
    #[test]
    fn undecodable_call_data_says_why() {
        let good = abi().function("initializeV2").unwrap()[0]
            .abi_encode_input(&[DynSolValue::String("v2".into())])
            .unwrap();
        for (data, reason) in [
            (vec![], "shorter than a selector"),
            (vec![0xde, 0xad], "shorter than a selector"),
            (vec![0xde, 0xad, 0xbe, 0xef], "is no function"),
            (good[..good.len() - 1].to_vec(), "do not decode"),
            (good[..4].to_vec(), "do not decode"),
            ([good.as_slice(), &[0]].concat(), "extra bytes"),
        ] {
            let err = decode_call(&abi(), &data).unwrap_err();
            assert!(err.contains(reason), "{data:?}: {err}");
        }
        // Every truncation of a valid call is refused.
        for cut in 0..good.len() {
            assert!(decode_call(&abi(), &good[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn code_over_the_eip_170_and_3860_limits_is_refused() {
        assert!(check_code_size("ok", 40_000, 24_576).is_ok());
        let err = check_code_size("Big", 30_000, 24_577)
            .unwrap_err()
            .to_string();
        assert!(err.contains("24577 bytes (EIP-170 allows 24576)"), "{err}");
        assert!(check_code_size("BigInit", 49_153, 100).is_err());
    }

    #[test]
    fn calls_into_the_ledger_timelock_or_safe_and_role_events_are_dangers() {
        let c = contracts();
        let implementation = address!("0x00000000000000000000000000000000000000aa");
        let frame: Frame = serde_json::from_value(json!({
            "type": "CALL", "from": c.timelock, "to": c.registry, "input": "0x",
            "logs": [
                {"address": c.registry, "topics": [event_topic("Upgraded(address)"), implementation.into_word()]},
            ],
            "calls": [{
                "type": "DELEGATECALL", "from": c.registry, "to": implementation,
                "input": "0x12345678",
                "logs": [
                    {"address": c.registry, "topics": [event_topic("OwnershipTransferred(address,address)")]},
                    {"address": c.registry, "topics": [event_topic("SomethingHarmless()")]},
                ],
                "calls": [
                    {"type": "STATICCALL", "from": c.registry, "to": c.ledger, "input": "0x3a8e03f2"},
                    {"type": "CALL", "from": c.registry, "to": c.ledger,
                     "input": format!("0x{}", alloy::hex::encode(&keccak256("record(bytes32,bytes32,uint32)")[..4])),
                     "logs": [{"address": c.ledger, "topics": [event_topic("ReleaseRecorded(bytes32,bytes32,address,uint32)")]}]},
                    {"type": "CALL", "from": c.registry, "to": c.safe, "input": "0xdeadbeef"},
                ]
            }]
        }))
        .unwrap();
        let upgrade = Upgrade {
            registry: c.registry,
            current: address!("0x00000000000000000000000000000000000000a1"),
            implementation,
        };
        let effects = effects_of(&frame, &upgrade);
        assert_eq!(
            effects.calls.len(),
            3,
            "the upgrade's own frames are left out"
        );
        assert_eq!(
            effect_dangers(&c, implementation, &effects),
            vec![
                Danger::UpgradeCalls {
                    contract: "the release ledger".into(),
                    target: c.ledger,
                    function: "record(bytes32,bytes32,uint32)".into()
                },
                Danger::UpgradeCalls {
                    contract: "the Safe".into(),
                    target: c.safe,
                    function: "selector 0xdeadbeef".into()
                },
                Danger::UpgradeEmits {
                    event: "OwnershipTransferred".into(),
                    emitter: c.registry
                },
                Danger::UpgradeEmits {
                    event: "ReleaseRecorded".into(),
                    emitter: c.ledger
                },
            ]
        );
        // The registry's own rule changes are flagged too.
        let rules = Effects {
            calls: vec![],
            events: vec![EffectEvent {
                address: c.registry,
                name: governance_event(
                    seed_chain::bindings::SeedRegistry::QuorumChanged::SIGNATURE_HASH,
                ),
                topic0: None,
                upgraded_to: None,
            }],
        };
        assert_eq!(
            effect_dangers(&c, implementation, &rules),
            vec![Danger::UpgradeEmits {
                event: "QuorumChanged".into(),
                emitter: c.registry
            }]
        );
        // Foreign code run with the registry's storage is flagged.
        let foreign = Effects {
            calls: vec![EffectCall {
                kind: "DELEGATECALL".into(),
                from: c.registry,
                to: address!("0x00000000000000000000000000000000000000cc"),
                function: "selector 0x12345678".into(),
            }],
            events: vec![],
        };
        assert_eq!(
            effect_dangers(&c, implementation, &foreign),
            vec![Danger::UpgradeDelegatecall {
                target: address!("0x00000000000000000000000000000000000000cc")
            }]
        );
        // An upgrade to another implementation than the proposed one is flagged.
        let other = Effects {
            calls: vec![],
            events: vec![EffectEvent {
                address: c.registry,
                name: Some("Upgraded".into()),
                topic0: Some(event_topic("Upgraded(address)")),
                upgraded_to: Some(address!("0x00000000000000000000000000000000000000bb")),
            }],
        };
        assert_eq!(effect_dangers(&c, implementation, &other).len(), 1);
    }
}
