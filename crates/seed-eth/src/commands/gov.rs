//! `seed-eth gov ...`: governance through the Safe and the timelock.
//!
//! Thin: arguments are parsed here, everything else is `seed-gov`. A proposal
//! is a file; `propose` writes it, `show` decodes it, `sign` adds an owner's
//! signature, `submit` sends it once the threshold is met; `execute` runs a
//! ready timelock operation, `cancel` writes a proposal that cancels one, and
//! `list` shows every operation from the timelock's events.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    signers::local::PrivateKeySigner,
};
use clap::{Args, Subcommand};
use eyre::eyre;
use seed_chain::{
    keys::{load_signer, TerminalPrompt},
    tag_id, Chain, ChainSettings,
};
use seed_gov::{
    action::Contracts,
    error::GovClass,
    layout::Artifact,
    ops::{self, OperationState},
    proposal::NewProposal,
    review::ChainFacts,
    timelock::default_salt,
    upgrade::Traced,
    Action, GovError, Proposal, Review, SignatureEntry,
};
use serde_json::{json, Value};

use super::chain::{block_on, config_file, failure, overrides, settings};
use crate::{
    cli::ChainArgs,
    exit::ExitCode,
    output::{count, Failure, Outcome, Report},
};

/// Arguments of `seed-eth gov`.
#[derive(Debug, Args)]
pub struct GovArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: GovCommand,
}

/// The governance subcommands.
#[derive(Debug, Subcommand)]
pub enum GovCommand {
    /// Write a proposal file: the Safe transaction (current Safe nonce) that schedules the
    /// action on the timelock, or, for emergency revocation, revokes through the Safe as guardian.
    ///
    /// The call is simulated first (from the timelock, or the Safe) and refused if it would revert.
    Propose(ProposeArgs),

    /// Decode a proposal from its signed bytes: target, function, arguments, delay, earliest
    /// execution time, Safe transaction hash, signatures, and danger flags.
    ///
    /// Exits 1 when the file is inconsistent (its description is not what it signs).
    Show(ShowArgs),

    /// Show the decoded proposal and its hash, then add your EIP-712 signature to the file.
    ///
    /// The key comes from SEED_ETH_PRIVATE_KEY or --keystore and must be a Safe owner. A
    /// DELEGATECALL is refused unless --force-delegatecall.
    Sign(SignArgs),

    /// Check the signatures (owners, nonce, threshold) and execute the Safe transaction.
    ///
    /// Exits 1 naming the missing signers when the threshold is not met; nothing is sent.
    Submit(SubmitArgs),

    /// Execute a ready timelock operation (anyone may). Exits 1 with the time left before it.
    Execute(OperationArgs),

    /// Write a proposal that cancels a scheduled timelock operation (the Safe is the canceller);
    /// sign and submit it like any other.
    Cancel(CancelArgs),

    /// List the timelock's operations: pending, ready, done, cancelled, with times.
    List(ListArgs),

    /// Export a proposal for signers who use the Safe web app: its Transaction Builder batch
    /// file (JSON, with the checksum the app verifies on import).
    ///
    /// The app signs with its Safe's next nonce: the hash it shows must be the proposal's
    /// safeTxHash (`gov show`), which holds only at the proposal's nonce.
    Export(ExportArgs),
}

/// Arguments of `seed-eth gov export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The proposal file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the Transaction Builder batch file here (atomically; it must not exist).
    #[arg(long, value_name = "OUT")]
    pub safe_tx_builder: PathBuf,
}

/// A builder's independence tags; each must differ from every active builder's when the
/// independence policy requires it.
#[derive(Debug, Clone, Args)]
pub struct BuilderTags {
    /// Organisation tag (a name, hashed, or a 0x 32-byte id).
    #[arg(long, value_name = "TAG")]
    pub organisation: String,
    /// Jurisdiction tag.
    #[arg(long, value_name = "TAG")]
    pub jurisdiction: String,
    /// Infrastructure tag.
    #[arg(long, value_name = "TAG")]
    pub infrastructure: String,
}

/// Options every proposal shares.
#[derive(Debug, Clone, Args)]
pub struct ProposeCommon {
    /// Where to write the proposal file (it must not exist).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,

    /// The Safe nonce to use [default: the Safe's current nonce]; a higher one queues the
    /// proposal behind others.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,

    /// The timelock delay in seconds [default: the timelock's minimum delay].
    #[arg(long, value_name = "SECONDS")]
    pub delay: Option<u64>,

    /// The operation's salt (32-byte hex) [default: derived from the Safe and the nonce].
    #[arg(long, value_name = "HEX")]
    pub salt: Option<B256>,

    /// An operation that must execute first (32-byte id) [default: none].
    #[arg(long, value_name = "ID")]
    pub predecessor: Option<B256>,

    /// Chain and deployment file (the Safe and the timelock come from it).
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov propose`.
#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The action.
    #[command(subcommand)]
    pub action: ProposeAction,
}

/// The actions governance can propose.
#[derive(Debug, Subcommand)]
pub enum ProposeAction {
    /// Register a new builder (timelocked).
    AddBuilder {
        /// The builder's signing address.
        #[arg(long, value_name = "ADDRESS")]
        signer: Address,
        /// Its independence tags.
        #[command(flatten)]
        tags: BuilderTags,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Revoke a builder: timelocked, or at once through the Safe as guardian with --emergency.
    RevokeBuilder {
        /// The builder id.
        #[arg(long, value_name = "ID")]
        builder: u8,
        /// Revoke immediately (Safe → registry.revokeBuilder as guardian; no timelock delay).
        #[arg(long)]
        emergency: bool,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Replace a builder's signing key (timelocked).
    RotateKey {
        /// The builder id.
        #[arg(long, value_name = "ID")]
        builder: u8,
        /// The new signing address.
        #[arg(long, value_name = "ADDRESS")]
        new_signer: Address,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Set k, the agreeing builders per system after genesis (timelocked).
    SetQuorum {
        /// The new k.
        #[arg(long, value_name = "K")]
        quorum: u8,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Set the systems every release must cover (timelocked).
    SetSystems {
        /// A system; repeat, in ascending order.
        #[arg(long = "system", value_name = "SYSTEM", required = true)]
        systems: Vec<String>,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Set which tags must differ between builders: 1 organisation + 2 jurisdiction + 4 infrastructure (timelocked).
    SetIndependencePolicy {
        /// The bitmask.
        #[arg(long, value_name = "MASK")]
        policy: u8,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Change the timelock's minimum delay (timelocked by the current delay).
    SetDelay {
        /// The new minimum delay in seconds.
        #[arg(long, value_name = "SECONDS")]
        seconds: u64,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Deploy a new registry implementation from a forge artefact and propose the upgrade
    /// (timelocked). Refused when its ERC-7201 storage layout is not an append-only extension
    /// of the current implementation's.
    UpgradeRegistry {
        /// The new implementation's forge artefact (out/<File>.sol/<Contract>.json; the
        /// build-info next to it is read for the layout).
        #[arg(long, value_name = "FILE")]
        artifact: PathBuf,
        /// The forge artefact of the implementation running now; its code must match the chain.
        #[arg(
            long,
            value_name = "FILE",
            default_value = "out/SeedRegistry.sol/SeedRegistry.json"
        )]
        current_artifact: PathBuf,
        /// Calldata to run on the proxy after the upgrade (e.g. a reinitializer), hex.
        #[arg(long, value_name = "HEX")]
        call: Option<Bytes>,
        /// Encrypted keystore of the account that deploys the implementation (else SEED_ETH_PRIVATE_KEY).
        #[arg(long, value_name = "FILE")]
        keystore: Option<PathBuf>,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Change the release ledger's writer, e.g. to a new registry proxy (timelocked).
    SetLedgerWriter {
        /// The new writer.
        #[arg(long, value_name = "ADDRESS")]
        writer: Address,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
    /// Replace a governance signer (an owner of the Safe) whose key is lost or compromised; the
    /// Safe's threshold approves it and it takes effect when submitted (no timelock).
    SwapOwner {
        /// The owner leaving.
        #[arg(long, value_name = "ADDRESS")]
        old: Address,
        /// The owner joining.
        #[arg(long, value_name = "ADDRESS")]
        new: Address,
        /// Common options.
        #[command(flatten)]
        common: ProposeCommon,
    },
}

/// Arguments of `seed-eth gov show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The proposal file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Decode without asking the chain (no nonce, delay or time checks).
    #[arg(long, conflicts_with = "artifact")]
    pub offline: bool,
    /// For an upgrade: a forge artefact you built yourself from the audited source; the new
    /// implementation's code on chain must be its runtime code (exit 1 otherwise).
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The proposal file (the signature is added to it).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sign even though the Safe transaction is a DELEGATECALL.
    #[arg(long)]
    pub force_delegatecall: bool,
    /// For an upgrade: the new implementation's forge artefact, from your own build of the audited
    /// source. Its ABI decodes the initializer call, and nothing is signed unless the deployed code
    /// is its runtime code.
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
    /// Encrypted keystore holding the owner key (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The signed proposal file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Encrypted keystore of the account that pays (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov execute`.
#[derive(Debug, Args)]
pub struct OperationArgs {
    /// The timelock operation id (from `submit` or `list`).
    #[arg(value_name = "ID")]
    pub id: B256,
    /// Encrypted keystore of the account that pays (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// Blocks per eth_getLogs request [default: 10000].
    #[arg(long, value_name = "BLOCKS", env = "SEED_ETH_LOG_CHUNK")]
    pub log_chunk: Option<u64>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The timelock operation id.
    #[arg(value_name = "ID")]
    pub id: B256,
    /// Where to write the cancellation proposal (it must not exist).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// The Safe nonce to use [default: the Safe's current nonce].
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    /// Blocks per eth_getLogs request [default: 10000].
    #[arg(long, value_name = "BLOCKS", env = "SEED_ETH_LOG_CHUNK")]
    pub log_chunk: Option<u64>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Arguments of `seed-eth gov list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Blocks per eth_getLogs request [default: 10000].
    #[arg(long, value_name = "BLOCKS", env = "SEED_ETH_LOG_CHUNK")]
    pub log_chunk: Option<u64>,
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,
}

/// Runs a `gov` subcommand.
pub fn run(args: &GovArgs) -> Outcome {
    match &args.command {
        GovCommand::Propose(args) => propose(&args.action),
        GovCommand::Show(args) => show(args),
        GovCommand::Export(args) => export(args),
        GovCommand::Sign(args) => sign(args),
        GovCommand::Submit(args) => submit(args),
        GovCommand::Execute(args) => execute(args),
        GovCommand::Cancel(args) => cancel(args),
        GovCommand::List(args) => list(args),
    }
}

/// Maps a governance error to its exit code.
fn gov_failure(error: GovError) -> Failure {
    let code = match error.class() {
        GovClass::Config => ExitCode::Usage,
        GovClass::Network => ExitCode::Network,
        GovClass::CheckFailed => ExitCode::CheckFailed,
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}

/// Resolved settings for a gov command.
fn resolve(
    chain: &ChainArgs,
    keystore: Option<&PathBuf>,
    log_chunk: Option<u64>,
) -> Result<ChainSettings, Failure> {
    let file = config_file(chain)?;
    let mut chain_overrides = overrides(chain);
    chain_overrides.keystore = keystore.cloned();
    chain_overrides.log_chunk = log_chunk;
    settings(chain_overrides, &file)
}

fn signer(settings: &ChainSettings) -> Result<PrivateKeySigner, Failure> {
    load_signer(
        &settings.keys,
        |name| std::env::var(name).ok(),
        &TerminalPrompt,
    )
    .map_err(failure)
}

/// Connects and reads the governed contracts and the first block worth scanning from the
/// deployment file (governance needs the Safe and the timelock, which only the file names).
async fn open(settings: &ChainSettings, chain: &Chain) -> Result<(Contracts, u64), Failure> {
    let target = settings.open(chain).await.map_err(failure)?;
    let (path, deployment) = target.file.as_ref().ok_or_else(|| {
        Failure::usage(eyre!(
            "governance needs the deployment file (it names the Safe and the timelock); give --deployment instead of a registry address"
        ))
    })?;
    // Governance acts through the Safe and the timelock: they must be live too.
    deployment.check_live(chain, path).await.map_err(failure)?;
    Ok((ops::contracts_of(deployment), target.from_block))
}

/// Writes the proposal as a Safe Transaction Builder batch (D-052).
fn export(args: &ExportArgs) -> Outcome {
    refuse_existing(&args.safe_tx_builder)?;
    let proposal = Proposal::load(&args.file).map_err(gov_failure)?;
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let batch = seed_gov::tx_builder::batch(&proposal, created_at)
        .map_err(|e| Failure::usage(eyre!("{}: {e}", args.file.display())))?;
    let text = serde_json::to_string_pretty(&batch).unwrap_or_default();
    seed_fs::write_atomic(&args.safe_tx_builder, format!("{text}\n").as_bytes())
        .map_err(|e| Failure::usage(eyre::Report::new(e)))?;
    Ok(Report {
        code: ExitCode::Ok,
        text: format!(
            "wrote {} (Safe Transaction Builder batch, checksum {})\n  import it in the Safe app's Transaction Builder; before signing, check the app shows safeTxHash {} (it does only at Safe nonce {})\n",
            args.safe_tx_builder.display(),
            batch["meta"]["checksum"].as_str().unwrap_or_default(),
            proposal.safe_tx_hash,
            proposal.safe_tx.nonce
        ),
        json: serde_json::json!({
            "file": args.safe_tx_builder.display().to_string(),
            "batch": batch,
            "safeTxHash": proposal.safe_tx_hash,
            "nonce": proposal.safe_tx.nonce,
        }),
    })
}

pub(crate) fn refuse_existing(path: &Path) -> Result<(), Failure> {
    if path.exists() {
        return Err(Failure::usage(eyre!(
            "{} already exists; choose another --out (proposal files are never overwritten)",
            path.display()
        )));
    }
    Ok(())
}

pub(crate) fn propose(action: &ProposeAction) -> Outcome {
    let (common, keystore) = match action {
        ProposeAction::AddBuilder { common, .. }
        | ProposeAction::RevokeBuilder { common, .. }
        | ProposeAction::RotateKey { common, .. }
        | ProposeAction::SetQuorum { common, .. }
        | ProposeAction::SetSystems { common, .. }
        | ProposeAction::SetIndependencePolicy { common, .. }
        | ProposeAction::SetDelay { common, .. }
        | ProposeAction::SetLedgerWriter { common, .. }
        | ProposeAction::SwapOwner { common, .. } => (common, None),
        ProposeAction::UpgradeRegistry {
            common, keystore, ..
        } => (common, keystore.as_ref()),
    };
    refuse_existing(&common.out)?;
    // An upgrade's artefacts are read and checked first, offline: a missing
    // build or code no chain would deploy is said before anything is sent.
    let artifacts = match action {
        ProposeAction::UpgradeRegistry {
            artifact,
            current_artifact,
            ..
        } => {
            let current = Artifact::load(current_artifact).map_err(gov_failure)?;
            let new = Artifact::load(artifact).map_err(gov_failure)?;
            new.check_deployable().map_err(gov_failure)?;
            Some((current, new))
        }
        _ => None,
    };
    let settings = resolve(&common.chain, keystore, None)?;
    let deployer = match action {
        ProposeAction::UpgradeRegistry { .. } => Some(signer(&settings)?),
        _ => None,
    };
    block_on(async {
        let chain = match deployer {
            Some(key) => settings.connect(|b| b.signer(key)).await,
            None => settings.connect(|b| b).await,
        }
        .map_err(failure)?;
        let (contracts, _) = open(&settings, &chain).await?;
        let mut upgrade = None;
        let decoded = match action {
            ProposeAction::AddBuilder { signer, tags, .. } => Action::AddBuilder {
                signer: *signer,
                organisation: tag_id(&tags.organisation).map_err(failure)?,
                jurisdiction: tag_id(&tags.jurisdiction).map_err(failure)?,
                infrastructure: tag_id(&tags.infrastructure).map_err(failure)?,
            },
            ProposeAction::RevokeBuilder {
                builder, emergency, ..
            } => Action::RevokeBuilder {
                builder_id: *builder,
                emergency: *emergency,
            },
            ProposeAction::RotateKey {
                builder,
                new_signer,
                ..
            } => Action::RotateBuilderKey {
                builder_id: *builder,
                new_signer: *new_signer,
            },
            ProposeAction::SetQuorum { quorum, .. } => Action::SetQuorum { quorum: *quorum },
            ProposeAction::SetSystems { systems, .. } => Action::SetRequiredSystems {
                systems: systems.clone(),
            },
            ProposeAction::SetIndependencePolicy { policy, .. } => {
                Action::SetIndependencePolicy { policy: *policy }
            }
            ProposeAction::SetDelay { seconds, .. } => Action::SetTimelockDelay {
                seconds: U256::from(*seconds),
            },
            ProposeAction::SetLedgerWriter { writer, .. } => {
                Action::SetLedgerWriter { writer: *writer }
            }
            ProposeAction::SwapOwner { old, new, .. } => Action::SwapSafeOwner {
                prev_owner: ops::previous_owner(&chain, contracts.safe, *old)
                    .await
                    .map_err(gov_failure)?,
                old_owner: *old,
                new_owner: *new,
            },
            ProposeAction::UpgradeRegistry { call, .. } => {
                let Some((current, new)) = &artifacts else {
                    return Err(Failure::usage(eyre!(
                        "the upgrade's artefacts were not loaded"
                    )));
                };
                let prepared = ops::prepare_upgrade(&chain, contracts.registry, current, new)
                    .await
                    .map_err(gov_failure)?;
                let action = Action::UpgradeRegistry {
                    implementation: prepared.implementation,
                    call: call.clone().unwrap_or_default(),
                };
                upgrade = Some(prepared);
                action
            }
        };
        let proposal = build(&chain, &contracts, common.into(), decoded).await?;
        ops::simulate(&chain, &proposal)
            .await
            .map_err(gov_failure)?;
        proposal.write(&common.out).map_err(gov_failure)?;
        let facts = ops::chain_facts(&chain, &contracts, proposal.timelock_operation.as_ref())
            .await
            .map_err(gov_failure)?;
        let review = Review::of(
            proposal.chain_id,
            &contracts,
            &proposal.safe_tx,
            Some(&facts),
            artifacts.as_ref().map(|(_, new)| &new.abi),
        );
        let mut text = format!("wrote {}\n", common.out.display());
        text.push_str(&review_text(&proposal, &review, &facts));
        if let Some(prepared) = &upgrade {
            let _ = writeln!(
                text,
                "  new implementation {} deployed at {} (storage layout checked against {})",
                prepared.contract, prepared.implementation, prepared.current
            );
        }
        let _ = writeln!(
            text,
            "next: each signer runs `seed-eth gov sign {}`, then anyone runs `seed-eth gov submit {}`",
            common.out.display(),
            common.out.display()
        );
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({
                "file": common.out,
                "proposal": proposal,
                "review": review,
                "upgrade": upgrade,
            }),
        })
    })
}

/// The options of a proposal besides its action.
#[derive(Debug, Clone, Copy, Default)]
struct Knobs {
    nonce: Option<u64>,
    delay: Option<u64>,
    salt: Option<B256>,
    predecessor: Option<B256>,
}

impl From<&ProposeCommon> for Knobs {
    fn from(common: &ProposeCommon) -> Self {
        Self {
            nonce: common.nonce,
            delay: common.delay,
            salt: common.salt,
            predecessor: common.predecessor,
        }
    }
}

/// The proposal for `action` with the options applied and checked against the chain.
async fn build(
    chain: &Chain,
    contracts: &Contracts,
    common: Knobs,
    action: Action,
) -> Result<Proposal, Failure> {
    let state = ops::safe_state(chain, contracts.safe)
        .await
        .map_err(gov_failure)?;
    let nonce = match common.nonce {
        Some(n) if U256::from(n) < state.nonce => {
            return Err(Failure::usage(eyre!(
                "--nonce {n} is already used: the Safe's nonce is {}",
                state.nonce
            )))
        }
        Some(n) => U256::from(n),
        None => state.nonce,
    };
    let min_delay = ops::min_delay(chain, contracts.timelock)
        .await
        .map_err(gov_failure)?;
    let delay = match common.delay {
        Some(d) if U256::from(d) < min_delay => {
            return Err(Failure::usage(eyre!(
                "--delay {d} is below the timelock's minimum delay of {min_delay} s (the timelock would refuse it)"
            )))
        }
        Some(d) => U256::from(d),
        None => min_delay,
    };
    let params = NewProposal {
        chain_id: chain.chain_id(),
        contracts: *contracts,
        nonce,
        delay,
        predecessor: common.predecessor.unwrap_or_default(),
        salt: common
            .salt
            .unwrap_or_else(|| default_salt(contracts.safe, nonce)),
    };
    Ok(Proposal::new(&params, action))
}

/// A chain time (Unix seconds) for people: the UTC date and time.
fn time(unix: u64) -> String {
    match seed_statement::Timestamp::from_unix_seconds(unix) {
        Some(at) => at.to_string(),
        None => format!("unix {unix}"),
    }
}

/// The human review of a proposal.
fn review_text(proposal: &Proposal, review: &Review, facts: &ChainFacts) -> String {
    let mut out = String::new();
    let tx = &proposal.safe_tx;
    let _ = writeln!(out, "proposal on chain {}:", proposal.chain_id);
    let _ = writeln!(out, "  action:      {}", review.summary);
    if let Some(call) = &review.initializer {
        let _ = writeln!(out, "  initializer: {}", call.describe());
    }
    if let Some(Traced::Effects(effects)) = &review.upgrade_trace {
        let _ = writeln!(
            out,
            "  runs:        {} and {} besides the upgrade itself (traced)",
            count(effects.calls.len(), "call", "calls"),
            count(effects.events.len(), "event", "events")
        );
        for call in &effects.calls {
            let _ = writeln!(
                out,
                "               {} {} {}",
                call.kind,
                proposal.contracts.label(call.to),
                call.function
            );
        }
        for event in &effects.events {
            let name = match (&event.name, event.topic0) {
                (Some(name), _) => name.clone(),
                (None, Some(topic)) => format!("topic {topic}"),
                (None, None) => "anonymous".to_owned(),
            };
            let _ = writeln!(
                out,
                "               event {name} from {}",
                proposal.contracts.label(event.address)
            );
        }
    }
    let _ = writeln!(
        out,
        "  Safe tx:     Safe {} calls {} with {}, value {}, nonce {} (Safe nonce now {})",
        proposal.contracts.safe,
        proposal.contracts.label(tx.to),
        if tx.operation == seed_gov::SafeOperation::Call {
            "CALL"
        } else {
            "DELEGATECALL"
        },
        tx.value,
        tx.nonce,
        facts.safe_nonce
    );
    if let Some(op) = &review.operation {
        let _ = writeln!(out, "  timelock:    operation {}", op.id);
        let _ = writeln!(
            out,
            "               target {}, calldata {}",
            proposal.contracts.label(op.target),
            op.data
        );
        let _ = writeln!(
            out,
            "               delay {} s (minimum {} s), predecessor {}, salt {}",
            op.delay, facts.min_delay, op.predecessor, op.salt
        );
        if let Some(at) = review.earliest_execution {
            let _ = writeln!(
                out,
                "               earliest execution {} ({} from the chain's current time)",
                time(at),
                ops::human_duration(at.saturating_sub(facts.now))
            );
        }
    } else {
        let _ = writeln!(out, "  calldata:    {}", tx.data);
        let _ = writeln!(
            out,
            "  timelock:    none: takes effect as soon as it is submitted"
        );
    }
    if let Some(code) = &facts.implementation {
        let _ = writeln!(
            out,
            "  new code:    {} holds {} bytes of runtime code, keccak256 {}",
            code.address, code.size, code.code_hash
        );
    }
    let _ = writeln!(out, "  safeTxHash:  {}", review.safe_tx_hash);
    let _ = writeln!(
        out,
        "  signatures:  {}",
        if proposal.signatures.is_empty() {
            "none".to_owned()
        } else {
            proposal
                .signatures
                .iter()
                .map(|s| s.signer.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    if review.dangers.is_empty() {
        let _ = writeln!(out, "  dangers:     none found");
    } else {
        for danger in &review.dangers {
            let _ = writeln!(out, "  DANGER:      {}", danger.describe());
        }
    }
    out
}

fn show(args: &ShowArgs) -> Outcome {
    let proposal = Proposal::load_unchecked(&args.file).map_err(gov_failure)?;
    let consistency = proposal.check();
    let artifact = match &args.artifact {
        Some(path) => Some(Artifact::load(path).map_err(gov_failure)?),
        None => None,
    };
    let settings = if args.offline {
        None
    } else {
        Some(resolve(&args.chain, None, None)?)
    };
    let (facts, artifact_match) = match &settings {
        None => (None, None),
        Some(settings) => block_on(async {
            let chain = settings.connect(|b| b).await.map_err(failure)?;
            ops::check_against_chain(&chain, &proposal)
                .await
                .map_err(gov_failure)?;
            let facts = ops::chain_facts(
                &chain,
                &proposal.contracts,
                proposal.timelock_operation.as_ref(),
            )
            .await
            .map_err(gov_failure)?;
            let artifact_match =
                artifact_matches(&chain, artifact.as_ref(), &facts, &proposal).await?;
            Ok((Some(facts), artifact_match))
        })?,
    };
    let review = Review::of(
        proposal.chain_id,
        &proposal.contracts,
        &proposal.safe_tx,
        facts.as_ref(),
        artifact.as_ref().map(|a| &a.abi),
    );
    let mut text = review_text(&proposal, &review, &facts.clone().unwrap_or_default());
    if facts.is_none() {
        text.push_str(
            "  (offline: the nonce, the delay and the hash were not checked against the chain)\n",
        );
    }
    let mut code = ExitCode::Ok;
    if let (Some(matches), Some(artifact)) = (artifact_match, &artifact) {
        if matches {
            let _ = writeln!(
                text,
                "  new code matches {} ({}), immutables aside",
                artifact.path.display(),
                artifact.name
            );
        } else {
            let _ = writeln!(
                text,
                "  NEW CODE DOES NOT MATCH {} ({}); do not sign",
                artifact.path.display(),
                artifact.name
            );
            code = ExitCode::CheckFailed;
        }
    }
    if let Err(reason) = &consistency {
        let _ = writeln!(text, "  INVALID FILE: {reason}; do not sign it");
        code = ExitCode::CheckFailed;
    }
    Ok(Report {
        code,
        text,
        json: json!({
            "file": args.file,
            "review": review,
            "signatures": proposal.signatures,
            "consistent": consistency.is_ok(),
            "problem": consistency.err(),
            "implementation": facts.as_ref().and_then(|f| f.implementation.clone()),
            "artifactMatches": artifact_match,
        }),
    })
}

/// Whether an upgrade's new implementation is `artifact`'s runtime code (immutables aside);
/// `None` without an artefact. An artefact for a proposal that is no upgrade is a usage error.
async fn artifact_matches(
    chain: &Chain,
    artifact: Option<&Artifact>,
    facts: &ChainFacts,
    proposal: &Proposal,
) -> Result<Option<bool>, Failure> {
    match (artifact, &facts.implementation) {
        (Some(artifact), Some(code)) => {
            let bytes = chain.code_at(code.address).await.map_err(failure)?;
            Ok(Some(artifact.runtime_matches(&bytes)))
        }
        (Some(_), None) => Err(Failure::usage(eyre!(
            "--artifact applies to registry upgrades only; this proposal is: {}",
            proposal.action.describe()
        ))),
        (None, _) => Ok(None),
    }
}

fn sign(args: &SignArgs) -> Outcome {
    let mut proposal = Proposal::load(&args.file).map_err(gov_failure)?;
    let artifact = match &args.artifact {
        Some(path) => Some(Artifact::load(path).map_err(gov_failure)?),
        None => None,
    };
    let settings = resolve(&args.chain, args.keystore.as_ref(), None)?;
    let key = signer(&settings)?;
    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        ops::check_against_chain(&chain, &proposal)
            .await
            .map_err(gov_failure)?;
        let facts = ops::chain_facts(
            &chain,
            &proposal.contracts,
            proposal.timelock_operation.as_ref(),
        )
        .await
        .map_err(gov_failure)?;
        let review = Review::of(
            proposal.chain_id,
            &proposal.contracts,
            &proposal.safe_tx,
            Some(&facts),
            artifact.as_ref().map(|a| &a.abi),
        );
        let mut text = review_text(&proposal, &review, &facts);
        if let (Some(false), Some(artifact)) = (
            artifact_matches(&chain, artifact.as_ref(), &facts, &proposal).await?,
            &artifact,
        ) {
            return Err(Failure::check_failed(eyre!(
                "{text}NEW CODE DOES NOT MATCH {} ({}); not signed",
                artifact.path.display(),
                artifact.name
            )));
        }
        if review.is_delegatecall() && !args.force_delegatecall {
            return Err(Failure::usage(eyre!(
                "{text}refusing to sign a DELEGATECALL Safe transaction; if you have verified exactly what it runs, pass --force-delegatecall"
            )));
        }
        let state = ops::safe_state(&chain, proposal.contracts.safe)
            .await
            .map_err(gov_failure)?;
        let me = key.address();
        if !state.owners.contains(&me) {
            return Err(Failure::usage(eyre!(
                "{me} is not an owner of the Safe {}; owners: {}",
                proposal.contracts.safe,
                state
                    .owners
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if proposal.safe_tx.nonce < state.nonce {
            return Err(Failure::usage(eyre!(
                "the proposal uses Safe nonce {} but the Safe is already at {}: it can never execute; propose again",
                proposal.safe_tx.nonce,
                state.nonce
            )));
        }
        let already = proposal.signatures.iter().any(|s| s.signer == me);
        if already {
            let _ = writeln!(
                text,
                "{me} has already signed {}; nothing changed",
                args.file.display()
            );
        } else {
            let signature =
                seed_gov::safe::sign_hash(&key, proposal.safe_tx_hash).map_err(gov_failure)?;
            proposal.signatures.push(SignatureEntry {
                signer: me,
                signature,
            });
            proposal.write(&args.file).map_err(gov_failure)?;
            let _ = writeln!(
                text,
                "signed safeTxHash {} as {me}; {} of {} signatures",
                proposal.safe_tx_hash,
                proposal.signatures.len(),
                state.threshold
            );
        }
        if proposal.safe_tx.nonce > state.nonce {
            let _ = writeln!(
                text,
                "note: the Safe is at nonce {}; this proposal (nonce {}) can be submitted only after the ones before it",
                state.nonce, proposal.safe_tx.nonce
            );
        }
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({
                "file": args.file,
                "signer": me,
                "alreadySigned": already,
                "safeTxHash": proposal.safe_tx_hash,
                "signatures": proposal.signatures.len(),
                "threshold": state.threshold,
                "review": review,
            }),
        })
    })
}

fn submit(args: &SubmitArgs) -> Outcome {
    let proposal = Proposal::load(&args.file).map_err(gov_failure)?;
    let settings = resolve(&args.chain, args.keystore.as_ref(), None)?;
    let key = signer(&settings)?;
    block_on(async {
        let chain = settings.connect(|b| b.signer(key)).await.map_err(failure)?;
        let submitted = ops::submit(&chain, &proposal).await.map_err(gov_failure)?;
        let mut text = format!(
            "submitted {} (tx {}), signed by {}\n",
            args.file.display(),
            submitted.tx,
            submitted
                .signers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        match (submitted.operation_id, submitted.ready_at) {
            (Some(id), Some(ready)) => {
                let _ = writeln!(
                    text,
                    "scheduled timelock operation {id}; executable from {} (`seed-eth gov execute {id}`)",
                    time(ready)
                );
            }
            _ => {
                let _ = writeln!(text, "in effect now: {}", proposal.action.describe());
            }
        }
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: serde_json::to_value(&submitted).unwrap_or(Value::Null),
        })
    })
}

fn execute(args: &OperationArgs) -> Outcome {
    let settings = resolve(&args.chain, args.keystore.as_ref(), args.log_chunk)?;
    let key = signer(&settings)?;
    block_on(async {
        let chain = settings.connect(|b| b.signer(key)).await.map_err(failure)?;
        let (contracts, from_block) = open(&settings, &chain).await?;
        let (listed, tx) =
            ops::execute(&chain, &contracts, args.id, from_block, settings.log_chunk)
                .await
                .map_err(gov_failure)?;
        Ok(Report {
            code: ExitCode::Ok,
            text: format!(
                "executed operation {} (tx {tx}): {}\n",
                args.id, listed.summary
            ),
            json: json!({ "id": args.id, "tx": tx, "operation": listed }),
        })
    })
}

fn cancel(args: &CancelArgs) -> Outcome {
    refuse_existing(&args.out)?;
    let settings = resolve(&args.chain, None, args.log_chunk)?;
    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        let (contracts, from_block) = open(&settings, &chain).await?;
        let listed =
            ops::find_operation(&chain, &contracts, args.id, from_block, settings.log_chunk)
                .await
                .map_err(gov_failure)?;
        if !matches!(
            listed.state,
            OperationState::Pending | OperationState::Ready
        ) {
            return Err(gov_failure(GovError::NotReady(format!(
                "operation {} is {}; only a pending or ready operation can be cancelled",
                args.id,
                listed.state.as_str()
            ))));
        }
        let knobs = Knobs {
            nonce: args.nonce,
            ..Knobs::default()
        };
        let proposal = build(
            &chain,
            &contracts,
            knobs,
            Action::CancelOperation { id: args.id },
        )
        .await?;
        ops::simulate(&chain, &proposal)
            .await
            .map_err(gov_failure)?;
        proposal.write(&args.out).map_err(gov_failure)?;
        let facts = ops::chain_facts(&chain, &contracts, None)
            .await
            .map_err(gov_failure)?;
        let review = Review::of(
            proposal.chain_id,
            &contracts,
            &proposal.safe_tx,
            Some(&facts),
            None,
        );
        let mut text = format!(
            "wrote {}: cancels operation {} ({}, {})\n",
            args.out.display(),
            args.id,
            listed.state.as_str(),
            listed.summary
        );
        text.push_str(&review_text(&proposal, &review, &facts));
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({ "file": args.out, "proposal": proposal, "review": review, "operation": listed }),
        })
    })
}

fn list(args: &ListArgs) -> Outcome {
    let settings = resolve(&args.chain, None, args.log_chunk)?;
    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        let (contracts, from_block) = open(&settings, &chain).await?;
        let listed = ops::list_operations(&chain, &contracts, from_block, settings.log_chunk)
            .await
            .map_err(gov_failure)?;
        let mut text = String::new();
        if listed.is_empty() {
            let _ = writeln!(text, "no timelock operations since block {from_block}");
        }
        for op in &listed {
            let when = match op.state {
                OperationState::Pending => format!(
                    "ready at {} ({} left)",
                    op.ready_at.map_or_else(|| "?".to_owned(), time),
                    ops::human_duration(op.seconds_left)
                ),
                OperationState::Ready => format!(
                    "ready since {}",
                    op.ready_at.map_or_else(|| "?".to_owned(), time)
                ),
                OperationState::Done => {
                    format!("executed in block {}", op.closed_block.unwrap_or_default())
                }
                OperationState::Cancelled => {
                    format!("cancelled in block {}", op.closed_block.unwrap_or_default())
                }
            };
            let _ = writeln!(
                text,
                "{} {:<9} scheduled block {} ({}), {}: {}",
                op.operation.id,
                op.state.as_str(),
                op.scheduled_block,
                op.scheduled_at.map_or_else(|| "?".to_owned(), time),
                when,
                op.summary
            );
        }
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({ "timelock": contracts.timelock, "operations": listed }),
        })
    })
}
