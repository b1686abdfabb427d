//! Governance on a live chain: reading the Safe and the timelock, checking
//! signatures before anything is sent, submitting Safe transactions,
//! executing ready operations, listing operations from the timelock's events,
//! and deploying a checked registry implementation.

use std::collections::BTreeMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{b256, keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{Filter, TransactionReceipt, TransactionRequest},
    sol_types::SolEvent,
};
use seed_chain::{
    bindings::{Safe, SeedRegistry, TimelockController},
    status::logs_in_chunks,
    Chain, ChainError, Deployment,
};
use serde::Serialize;

use crate::{
    action::{Action, Contracts},
    error::{GovError, Result},
    layout::{compare, Artifact},
    proposal::Proposal,
    review::{ChainFacts, CodeInfo},
    safe::{pack_signatures, recover},
    timelock::Operation,
};

/// The ERC-1967 implementation slot, `keccak256("eip1967.proxy.implementation") - 1`.
pub const IMPLEMENTATION_SLOT: B256 =
    b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// The governed contracts named by a deployment file.
pub fn contracts_of(deployment: &Deployment) -> Contracts {
    Contracts {
        safe: deployment.contracts.safe,
        timelock: deployment.contracts.timelock,
        registry: deployment.contracts.registry,
        ledger: deployment.contracts.ledger,
    }
}

fn rpc(chain: &Chain, what: &str, e: impl std::fmt::Display) -> GovError {
    GovError::Chain(chain.rpc_error(what, e))
}

/// The Safe's owners, threshold and nonce.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeState {
    /// Owners, in the Safe's order.
    pub owners: Vec<Address>,
    /// Signatures required.
    pub threshold: U256,
    /// The nonce the next transaction must use.
    pub nonce: U256,
}

/// Reads the Safe's owners, threshold and nonce.
pub async fn safe_state(chain: &Chain, safe: Address) -> Result<SafeState> {
    let contract = Safe::new(safe, chain.provider());
    let owners = contract
        .getOwners()
        .call()
        .await
        .map_err(|e| rpc(chain, "reading the Safe's owners", e))?;
    let threshold = contract
        .getThreshold()
        .call()
        .await
        .map_err(|e| rpc(chain, "reading the Safe's threshold", e))?;
    let nonce = contract
        .nonce()
        .call()
        .await
        .map_err(|e| rpc(chain, "reading the Safe's nonce", e))?;
    Ok(SafeState {
        owners,
        threshold,
        nonce,
    })
}

/// The end of the Safe's linked owner list, and the "previous owner" of its first owner.
const SENTINEL_OWNER: Address =
    Address::new([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/// The owner before `owner` in the Safe's linked owner list (the sentinel for the first), which
/// `swapOwner` takes; an address that is not an owner is refused, naming the owners.
pub async fn previous_owner(chain: &Chain, safe: Address, owner: Address) -> Result<Address> {
    let owners = safe_state(chain, safe).await?.owners;
    match owners.iter().position(|o| *o == owner) {
        Some(0) => Ok(SENTINEL_OWNER),
        Some(i) => Ok(owners[i - 1]),
        None => Err(GovError::Invalid(format!(
            "{owner} is not an owner of the Safe {safe}; its owners are {}",
            owners
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The latest block's timestamp: what the timelock compares ready times with.
pub async fn latest_timestamp(chain: &Chain) -> Result<u64> {
    let block = chain
        .provider()
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| rpc(chain, "reading the latest block", e))?
        .ok_or_else(|| rpc(chain, "reading the latest block", "no block"))?;
    Ok(block.header.timestamp)
}

/// The timelock's minimum delay.
pub async fn min_delay(chain: &Chain, timelock: Address) -> Result<U256> {
    TimelockController::new(timelock, chain.provider())
        .getMinDelay()
        .call()
        .await
        .map_err(|e| rpc(chain, "reading the timelock's minimum delay", e))
}

/// `getTimestamp(id)`: 0 unset or cancelled, 1 done, otherwise the ready time.
pub async fn operation_timestamp(chain: &Chain, timelock: Address, id: B256) -> Result<U256> {
    TimelockController::new(timelock, chain.provider())
        .getTimestamp(id)
        .call()
        .await
        .map_err(|e| rpc(chain, "reading the operation's timestamp", e))
}

/// What the chain says about a proposal, for [`crate::Review::of`].
pub async fn chain_facts(
    chain: &Chain,
    contracts: &Contracts,
    operation: Option<&Operation>,
) -> Result<ChainFacts> {
    let now = latest_timestamp(chain).await?;
    let min_delay = min_delay(chain, contracts.timelock).await?;
    let safe_nonce = safe_state(chain, contracts.safe).await?.nonce;
    let operation_timestamp = match operation {
        Some(op) => Some(operation_timestamp(chain, contracts.timelock, op.id).await?),
        None => None,
    };
    let (implementation, upgrade_trace) = match operation
        .and_then(|op| Action::from_timelocked_call(contracts, op.target, &op.data))
    {
        Some(Action::UpgradeRegistry {
            implementation,
            call,
        }) => {
            let code = chain.code_at(implementation).await?;
            let current = current_implementation(chain, contracts.registry).await?;
            let trace =
                crate::upgrade::trace_upgrade(chain, contracts, current, implementation, &call)
                    .await?;
            (
                Some(CodeInfo {
                    address: implementation,
                    size: code.len(),
                    code_hash: keccak256(&code),
                }),
                Some(trace),
            )
        }
        _ => (None, None),
    };
    Ok(ChainFacts {
        now,
        min_delay,
        safe_nonce,
        operation_timestamp,
        implementation,
        upgrade_trace,
    })
}

/// Fails unless the proposal belongs to this chain and the Safe computes the same hash for it
/// (an independent check of seed-eth's EIP-712 encoding against the contract's own).
pub async fn check_against_chain(chain: &Chain, proposal: &Proposal) -> Result<()> {
    if proposal.chain_id != chain.chain_id() {
        return Err(GovError::Invalid(format!(
            "the proposal is for chain {} but the endpoint {} serves chain {}",
            proposal.chain_id,
            chain.url(),
            chain.chain_id()
        )));
    }
    let tx = &proposal.safe_tx;
    let on_chain = Safe::new(proposal.contracts.safe, chain.provider())
        .getTransactionHash(
            tx.to,
            tx.value,
            tx.data.clone(),
            tx.operation.as_u8(),
            tx.safe_tx_gas,
            tx.base_gas,
            tx.gas_price,
            tx.gas_token,
            tx.refund_receiver,
            tx.nonce,
        )
        .call()
        .await
        .map_err(|e| rpc(chain, "asking the Safe for the transaction hash", e))?;
    if on_chain != proposal.safe_tx_hash {
        return Err(GovError::Invalid(format!(
            "the Safe at {} computes the hash {on_chain} for this transaction, not {}; do not sign",
            proposal.contracts.safe, proposal.safe_tx_hash
        )));
    }
    Ok(())
}

/// The outcome of checking a proposal's signatures against the Safe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureCheck {
    /// Owners whose valid signatures are present, sorted by address.
    pub signed: Vec<Address>,
    /// Owners who have not signed.
    pub missing: Vec<Address>,
    /// Signatures required.
    pub threshold: U256,
}

/// Checks every signature against the Safe: the proposal's nonce must be the Safe's current one,
/// each signature must recover to its listed signer and that signer must be an owner. Any
/// problem is an error naming it; nothing is sent.
pub async fn check_signatures(chain: &Chain, proposal: &Proposal) -> Result<SignatureCheck> {
    let state = safe_state(chain, proposal.contracts.safe).await?;
    if proposal.safe_tx.nonce != state.nonce {
        let why = if proposal.safe_tx.nonce < state.nonce {
            "already used: this transaction can never execute; propose again"
        } else {
            "not yet current: earlier Safe transactions must execute first"
        };
        return Err(GovError::Invalid(format!(
            "the proposal uses Safe nonce {} but the Safe's nonce is {}: {why}",
            proposal.safe_tx.nonce, state.nonce
        )));
    }
    let mut signed = Vec::new();
    for entry in &proposal.signatures {
        let recovered = recover(proposal.safe_tx_hash, &entry.signature).map_err(|reason| {
            GovError::Invalid(format!("the signature of {} {reason}", entry.signer))
        })?;
        if recovered != entry.signer {
            return Err(GovError::Invalid(format!(
                "the signature listed for {} recovers to {recovered}",
                entry.signer
            )));
        }
        if !state.owners.contains(&entry.signer) {
            return Err(GovError::Invalid(format!(
                "{} signed but is not an owner of the Safe {} (owners: {}); remove that signature",
                entry.signer,
                proposal.contracts.safe,
                join(&state.owners)
            )));
        }
        if !signed.contains(&entry.signer) {
            signed.push(entry.signer);
        }
    }
    signed.sort();
    let missing = state
        .owners
        .iter()
        .filter(|o| !signed.contains(o))
        .copied()
        .collect();
    Ok(SignatureCheck {
        signed,
        missing,
        threshold: state.threshold,
    })
}

fn join(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `submit` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    /// The `execTransaction` transaction.
    pub tx: B256,
    /// The owners whose signatures were used.
    pub signers: Vec<Address>,
    /// The scheduled operation's id, for timelocked actions.
    pub operation_id: Option<B256>,
    /// When the operation becomes executable (timelock timestamp).
    pub ready_at: Option<u64>,
}

/// Checks the proposal against the chain and its signatures against the Safe, then sends
/// `execTransaction` with the signatures sorted by owner.
pub async fn submit(chain: &Chain, proposal: &Proposal) -> Result<Submitted> {
    check_against_chain(chain, proposal).await?;
    let check = check_signatures(chain, proposal).await?;
    if U256::from(check.signed.len()) < check.threshold {
        return Err(GovError::NotEnoughSignatures(format!(
            "{} of {} required signatures present (signed: {}); still missing a signature from {} of: {}",
            check.signed.len(),
            check.threshold,
            if check.signed.is_empty() { "nobody".to_owned() } else { join(&check.signed) },
            check.threshold - U256::from(check.signed.len()),
            join(&check.missing)
        )));
    }
    if let Some(op) = &proposal.timelock_operation {
        let ts = operation_timestamp(chain, proposal.contracts.timelock, op.id).await?;
        if !ts.is_zero() {
            return Err(GovError::Invalid(format!(
                "operation {} is already scheduled or done on the timelock",
                op.id
            )));
        }
    }
    let signatures: Vec<(Address, Bytes)> = proposal
        .signatures
        .iter()
        .filter(|e| check.signed.contains(&e.signer))
        .map(|e| (e.signer, e.signature.clone()))
        .collect();
    let tx = &proposal.safe_tx;
    let call = Safe::execTransactionCall {
        to: tx.to,
        value: tx.value,
        data: tx.data.clone(),
        operation: tx.operation.as_u8(),
        safeTxGas: tx.safe_tx_gas,
        baseGas: tx.base_gas,
        gasPrice: tx.gas_price,
        gasToken: tx.gas_token,
        refundReceiver: tx.refund_receiver,
        signatures: pack_signatures(signatures),
    };
    let receipt = send_call(
        chain,
        "submitting the Safe transaction (execTransaction)",
        proposal.contracts.safe,
        alloy::sol_types::SolCall::abi_encode(&call).into(),
    )
    .await?;
    // Safe reports an inner failure with ExecutionFailure instead of reverting when gas fields are
    // set; seed-eth never sets them, but check the event anyway.
    let failed = receipt.inner.logs().iter().any(|log| {
        log.address() == proposal.contracts.safe
            && log.topic0() == Some(&Safe::ExecutionFailure::SIGNATURE_HASH)
    });
    if failed {
        return Err(GovError::Chain(ChainError::Reverted {
            action: "the Safe transaction's inner call (ExecutionFailure)".to_owned(),
            tx: receipt.transaction_hash.to_string(),
        }));
    }
    let (operation_id, ready_at) = match &proposal.timelock_operation {
        Some(op) => {
            let ts = operation_timestamp(chain, proposal.contracts.timelock, op.id).await?;
            (Some(op.id), u64::try_from(ts).ok())
        }
        None => (None, None),
    };
    Ok(Submitted {
        tx: receipt.transaction_hash,
        signers: check.signed,
        operation_id,
        ready_at,
    })
}

async fn send_call(
    chain: &Chain,
    action: &str,
    to: Address,
    data: Bytes,
) -> Result<TransactionReceipt> {
    use alloy::network::TransactionBuilder;
    Ok(chain
        .send(
            action,
            TransactionRequest::default().with_to(to).with_input(data),
        )
        .await?)
}

/// The state of a timelock operation as seed-eth reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OperationState {
    /// Scheduled; the delay has not passed.
    Pending,
    /// Scheduled and executable now.
    Ready,
    /// Executed.
    Done,
    /// Cancelled by the Safe.
    Cancelled,
}

impl OperationState {
    /// The word used in output.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One operation found in the timelock's events.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedOperation {
    /// The operation.
    pub operation: Operation,
    /// Its state now.
    pub state: OperationState,
    /// What it does, if recognised.
    pub action: Option<Action>,
    /// Plain language.
    pub summary: String,
    /// Block and time it was scheduled.
    pub scheduled_block: u64,
    /// When it was scheduled (block timestamp).
    pub scheduled_at: Option<u64>,
    /// When it becomes (or became) executable: scheduled time plus delay.
    pub ready_at: Option<u64>,
    /// Seconds until ready (0 when ready or finished).
    pub seconds_left: u64,
    /// The block of its execution or cancellation.
    pub closed_block: Option<u64>,
}

/// Every single-call operation the timelock announced, with its state, oldest first.
pub async fn list_operations(
    chain: &Chain,
    contracts: &Contracts,
    from_block: u64,
    chunk: u64,
) -> Result<Vec<ListedOperation>> {
    let head = chain.block_number().await?;
    let now = latest_timestamp(chain).await?;
    let fetch = |event: B256| {
        let filter = Filter::new().event_signature(event);
        async move {
            logs_in_chunks(chain, &filter, contracts.timelock, from_block, head, chunk)
                .await
                .map_err(GovError::from)
        }
    };
    let scheduled = fetch(TimelockController::CallScheduled::SIGNATURE_HASH).await?;
    let salts = fetch(TimelockController::CallSalt::SIGNATURE_HASH).await?;
    let executed = fetch(TimelockController::CallExecuted::SIGNATURE_HASH).await?;
    let cancelled = fetch(TimelockController::Cancelled::SIGNATURE_HASH).await?;
    let mut salt_of = BTreeMap::new();
    for log in &salts {
        if let Ok(decoded) = log.log_decode::<TimelockController::CallSalt>() {
            salt_of.insert(decoded.inner.data.id, decoded.inner.data.salt);
        }
    }
    let mut closed = BTreeMap::new();
    for log in &executed {
        if let Ok(decoded) = log.log_decode::<TimelockController::CallExecuted>() {
            closed.insert(
                decoded.inner.data.id,
                (OperationState::Done, log.block_number),
            );
        }
    }
    for log in &cancelled {
        if let Ok(decoded) = log.log_decode::<TimelockController::Cancelled>() {
            closed.insert(
                decoded.inner.data.id,
                (OperationState::Cancelled, log.block_number),
            );
        }
    }
    let mut block_times: BTreeMap<u64, u64> = BTreeMap::new();
    let mut listed = Vec::new();
    for log in &scheduled {
        let Ok(decoded) = log.log_decode::<TimelockController::CallScheduled>() else {
            continue;
        };
        let event = decoded.inner.data;
        let salt = salt_of.get(&event.id).copied().unwrap_or(B256::ZERO);
        let operation = Operation::new(
            event.target,
            event.value,
            event.data,
            event.predecessor,
            salt,
            event.delay,
        );
        if operation.id != event.id {
            // Part of a batch (seed-eth never schedules batches): the id covers several calls.
            continue;
        }
        let block = log.block_number.unwrap_or_default();
        let scheduled_at = match block_times.get(&block) {
            Some(t) => Some(*t),
            None => {
                let time = chain
                    .provider()
                    .get_block_by_number(BlockNumberOrTag::Number(block))
                    .await
                    .map_err(|e| rpc(chain, "reading a block's time", e))?
                    .map(|b| b.header.timestamp);
                if let Some(t) = time {
                    block_times.insert(block, t);
                }
                time
            }
        };
        let ready_at = scheduled_at.and_then(|t| {
            u64::try_from(operation.delay)
                .ok()
                .map(|d| t.saturating_add(d))
        });
        let (state, closed_block) = match closed.get(&operation.id) {
            Some((state, block)) => (*state, *block),
            None if ready_at.is_some_and(|r| r <= now) => (OperationState::Ready, None),
            None => (OperationState::Pending, None),
        };
        let seconds_left = match (state, ready_at) {
            (OperationState::Pending, Some(r)) => r.saturating_sub(now),
            _ => 0,
        };
        let action = Action::from_timelocked_call(contracts, operation.target, &operation.data);
        let summary = action.as_ref().map_or_else(
            || {
                format!(
                    "UNRECOGNISED call to {} with data {}",
                    operation.target, operation.data
                )
            },
            Action::describe,
        );
        listed.push(ListedOperation {
            operation,
            state,
            action,
            summary,
            scheduled_block: block,
            scheduled_at,
            ready_at,
            seconds_left,
            closed_block,
        });
    }
    Ok(listed)
}

/// Finds operation `id` in the timelock's events.
pub async fn find_operation(
    chain: &Chain,
    contracts: &Contracts,
    id: B256,
    from_block: u64,
    chunk: u64,
) -> Result<ListedOperation> {
    list_operations(chain, contracts, from_block, chunk)
        .await?
        .into_iter()
        .find(|l| l.operation.id == id)
        .ok_or_else(|| {
            GovError::Invalid(format!(
                "no operation {id} was scheduled on the timelock {} (since block {from_block})",
                contracts.timelock
            ))
        })
}

/// Executes a ready operation (anyone may: the executor role is open). Refuses, naming the time
/// left, before the delay has passed, and refuses done or cancelled operations.
pub async fn execute(
    chain: &Chain,
    contracts: &Contracts,
    id: B256,
    from_block: u64,
    chunk: u64,
) -> Result<(ListedOperation, B256)> {
    let listed = find_operation(chain, contracts, id, from_block, chunk).await?;
    match listed.state {
        OperationState::Done => {
            return Err(GovError::NotReady(format!(
                "operation {id} was already executed (block {})",
                listed.closed_block.unwrap_or_default()
            )))
        }
        OperationState::Cancelled => {
            return Err(GovError::NotReady(format!(
                "operation {id} was cancelled (block {}); it can never execute",
                listed.closed_block.unwrap_or_default()
            )))
        }
        OperationState::Pending => {
            return Err(GovError::NotReady(format!(
                "operation {id} is not ready: {} left (ready at unix time {}, the chain's time is {}); {}",
                human_duration(listed.seconds_left),
                listed.ready_at.unwrap_or_default(),
                listed
                    .ready_at
                    .unwrap_or_default()
                    .saturating_sub(listed.seconds_left),
                listed.summary
            )))
        }
        OperationState::Ready => {}
    }
    // The chain is the judge: the local view of "ready" came from event times.
    let ts = operation_timestamp(chain, contracts.timelock, id).await?;
    if ts <= U256::from(1) {
        return Err(GovError::NotReady(format!(
            "operation {id} is not pending on the timelock (timestamp {ts})"
        )));
    }
    // Rules may have changed since it was scheduled: run it first, and refuse
    // (naming the custom error) rather than send a transaction that reverts.
    let data = listed.operation.execute_calldata();
    if let Err(reason) =
        would_revert(chain, chain.sender(), contracts.timelock, data.clone()).await?
    {
        return Err(GovError::WouldRevert(format!(
            "operation {id} would revert if executed now with {reason}: {}; nothing was sent. The chain's state changed since it was scheduled; propose a corrected change (and cancel this one: `seed-eth gov cancel {id} --out cancel.json`, then sign and submit it)",
            listed.summary
        )));
    }
    let receipt = send_call(
        chain,
        "executing the timelock operation",
        contracts.timelock,
        data,
    )
    .await?;
    Ok((listed, receipt.transaction_hash))
}

/// `3d 2h 5m 7s`.
pub fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// Runs the proposal's effective call with `eth_call` as it will run (from the timelock for
/// timelocked actions, from the Safe for direct ones), so a call that would revert today (a
/// quorum out of range, a duplicate signer, an inactive builder) is refused when proposing
/// rather than discovered after the delay. State may still change before execution.
pub async fn simulate(chain: &Chain, proposal: &Proposal) -> Result<()> {
    let (from, to, data) = match &proposal.timelock_operation {
        Some(op) => (proposal.contracts.timelock, op.target, op.data.clone()),
        None => (
            proposal.contracts.safe,
            proposal.safe_tx.to,
            proposal.safe_tx.data.clone(),
        ),
    };
    would_revert(chain, Some(from), to, data)
        .await?
        .map_err(|reason| {
            GovError::Invalid(format!(
                "the proposed call would revert today with {reason}: {}",
                proposal.action.describe()
            ))
        })
}

/// Runs a call with `eth_call`: `Ok(Err(reason))` when it reverts (the custom
/// error named when seed-eth knows it), `Err` when the endpoint cannot be asked.
async fn would_revert(
    chain: &Chain,
    from: Option<Address>,
    to: Address,
    data: Bytes,
) -> Result<std::result::Result<(), String>> {
    use alloy::network::TransactionBuilder;
    let mut request = TransactionRequest::default().with_to(to).with_input(data);
    if let Some(from) = from {
        request = request.with_from(from);
    }
    match chain.provider().call(request).await {
        Ok(_) => Ok(Ok(())),
        Err(e) => {
            // A revert carries revert data, or at least says so; any other
            // error answer (a rate limit, a node fault) is the endpoint's.
            let Some(payload) = e.as_error_resp() else {
                return Err(rpc(chain, "simulating the call", e));
            };
            match payload.as_revert_data() {
                Some(data) => Ok(Err(seed_chain::bindings::describe_revert(&data)
                    .unwrap_or_else(|| format!("an error seed-eth cannot name ({e})")))),
                None if payload.message.to_ascii_lowercase().contains("revert") => {
                    Ok(Err(format!("a revert without a reason ({e})")))
                }
                None => Err(rpc(chain, "simulating the call", e)),
            }
        }
    }
}

/// The registry proxy's current implementation.
pub async fn current_implementation(chain: &Chain, registry: Address) -> Result<Address> {
    let word = chain.storage_at(registry, IMPLEMENTATION_SLOT).await?;
    Ok(Address::from_word(word))
}

/// A deployed, checked upgrade candidate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedUpgrade {
    /// The current implementation.
    pub current: Address,
    /// The new implementation (deployed by this call, or reused when `existing` was given).
    pub implementation: Address,
    /// The new contract's name.
    pub contract: String,
    /// The deployment transaction, when one was sent.
    pub tx: Option<B256>,
}

/// Checks that `current` is the artefact of the implementation behind the proxy and that `new`
/// keeps its storage layout, then deploys `new` (nothing is sent when a check fails) and checks
/// that it is a UUPS implementation for this proxy (`proxiableUUID`).
pub async fn prepare_upgrade(
    chain: &Chain,
    registry: Address,
    current: &Artifact,
    new: &Artifact,
) -> Result<PreparedUpgrade> {
    new.check_deployable()?;
    let current_impl = current_implementation(chain, registry).await?;
    let code = chain.code_at(current_impl).await?;
    if !current.runtime_matches(&code) {
        return Err(GovError::Invalid(format!(
            "{} ({}) is not the code of the registry's current implementation {current_impl}: the layout check needs the artefact the running implementation was built from; give it with --current-artifact",
            current.path.display(),
            current.name
        )));
    }
    let problems = compare(&current.layout()?, &new.layout()?);
    if !problems.is_empty() {
        return Err(GovError::IncompatibleLayout(problems));
    }
    use alloy::network::TransactionBuilder;
    let receipt = chain
        .send(
            &format!("deploying the new registry implementation {}", new.name),
            TransactionRequest::default()
                .into_create()
                .input(new.bytecode.clone().into()),
        )
        .await?;
    let implementation = receipt.contract_address.ok_or_else(|| {
        rpc(
            chain,
            "deploying the new implementation",
            "the receipt names no contract",
        )
    })?;
    let uuid = SeedRegistry::new(implementation, chain.provider())
        .proxiableUUID()
        .call()
        .await
        .map_err(|e| {
            GovError::Invalid(format!(
                "{} at {implementation} is not a UUPS implementation (proxiableUUID failed: {e})",
                new.name
            ))
        })?;
    if uuid != IMPLEMENTATION_SLOT {
        return Err(GovError::Invalid(format!(
            "{} at {implementation} answers proxiableUUID {uuid}, not the ERC-1967 slot",
            new.name
        )));
    }
    Ok(PreparedUpgrade {
        current: current_impl,
        implementation,
        contract: new.name.clone(),
        tx: Some(receipt.transaction_hash),
    })
}
