//! `verify --proofs`: every fact the verdict used, proven against a block hash.
//!
//! The checks in `lib.rs` read the endpoint's `eth_call` and `eth_getLogs`
//! answers. Here each answer they relied on is derived again from data that
//! hashes to the anchor (seed-proof): the ledger's root and the registry's rules
//! word from storage proofs at the finalisation block, the `ReleaseRecorded`,
//! `ReleaseFinalised` and counted `Attested` logs from their blocks' receipts.
//! An answer that differs from what the chain proves is the endpoint lying (or
//! serving another fork) and fails the verification with exit 3, naming the
//! fact, both values and the endpoint.
//!
//! Storage slots follow the contracts' layouts: the ledger's `_roots` mapping is
//! its slot 3 (after Ownable2Step's two slots and `_writer`); the registry's
//! ERC-7201 struct starts with the rules word, and `systemNumber` is its field 5.
//! The end-to-end tests compare every proven value with the contracts' views,
//! so a layout change that forgets this file fails them.

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    sol_types::{SolEvent, SolValue},
};
use seed_chain::{
    bindings::{ERC1967Proxy, ReleaseLedger, SeedRegistry},
    Chain, Target,
};
use seed_proof::{
    anchor::{agree_on_block, nearest_checkpoint},
    Anchor, AnchorSource, Endpoint, ProofError, ProvenChain, ProvenLog, Prover,
};
use serde::Serialize;

use crate::{Finalised, VerifyError, Vote};

/// Where the block hash the proofs are checked against comes from.
#[derive(Debug, Clone)]
pub enum AnchorRequest {
    /// The verifying endpoint and `others` name the finalisation block's hash; at least
    /// `quorum` of them must, all alike, each saying the block is final.
    Endpoints {
        /// Endpoints besides the verifying one.
        others: Vec<Endpoint>,
        /// How many must agree.
        quorum: usize,
    },
    /// A block hash the user trusts (`--block-hash`): the finalisation block or a later one.
    BlockHash(B256),
    /// Block hashes the user trusts, from a file (`--checkpoints`): the nearest at or after
    /// the finalisation block is used.
    Checkpoints {
        /// The file, for the report.
        file: String,
        /// Its `(number, hash)` pairs.
        checkpoints: Vec<(u64, B256)>,
    },
}

/// What `--proofs` asks for.
#[derive(Debug, Clone)]
pub struct ProofRequest {
    /// The anchor.
    pub anchor: AnchorRequest,
    /// The most headers walked down from the anchor to a block the proofs need.
    pub max_walk: u64,
}

/// The facts the verdict relied on, as the endpoint answered them.
#[derive(Debug)]
pub(crate) struct Relied {
    pub root: B256,
    pub rules_version: u32,
    pub event: Finalised,
    pub threshold: u8,
    pub votes: Vec<Vote>,
}

/// What the proofs established, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofReport {
    /// The block hash everything was proven against, and who vouches for it.
    pub anchor: Anchor,
    /// The finalisation block's hash, proven from the anchor.
    pub block_hash: B256,
    /// Headers fetched to reach every block needed from the anchor.
    pub headers: usize,
    /// The facts proven, in the order they were.
    pub facts: Vec<String>,
    /// The registry's implementation (the proxy's ERC-1967 slot) at the finalisation block.
    pub registry_implementation: Address,
}

/// `keccak256("eip1967.proxy.implementation") - 1`.
const IMPLEMENTATION_SLOT: B256 =
    alloy::primitives::b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");
/// The registry's ERC-7201 namespace (`SeedRegistry.STORAGE_LOCATION`).
const REGISTRY_STORAGE: U256 = alloy::primitives::uint!(
    0xaa7678a9d816dd30f03fb961a77f3d5a38dc97235fc53ef811e9ef9bd9e56100_U256
);
/// `RegistryStorage.systemNumber`'s field index.
const SYSTEM_NUMBER_FIELD: u64 = 5;
/// `ReleaseLedger._roots`'s slot.
const LEDGER_ROOTS_SLOT: u64 = 3;

/// The slot of `mapping[key]` for a mapping at `slot` (Solidity's layout).
fn mapping_slot(key: B256, slot: U256) -> B256 {
    keccak256((key, slot).abi_encode())
}

/// Proves every fact of `relied` against the anchor `request` names; a fact the chain does
/// not hold is [`VerifyError::Contradicted`].
pub(crate) async fn prove(
    chain: &Chain,
    target: &Target,
    commit: B256,
    relied: &Relied,
    request: &ProofRequest,
) -> Result<ProofReport, VerifyError> {
    let block = relied.event.block;
    let primary = Endpoint::with_provider(chain.url(), chain.provider().clone());
    let anchor = anchor(&primary, block, &request.anchor).await?;
    let mut proven = ProvenChain::new(Prover::new(primary), anchor, request.max_walk).await?;
    let header = proven.header(block).await?.clone();
    let prover = proven.prover().clone();
    let contradicted = |fact: &str, claimed: String, proven: String| VerifyError::Contradicted {
        fact: fact.to_owned(),
        claimed,
        proven,
        block,
        endpoint: prover.endpoint().to_owned(),
    };
    let mut facts = Vec::new();

    // The ledger: its code, and the root it stores for the release.
    let root_slot = mapping_slot(commit, U256::from(LEDGER_ROOTS_SLOT));
    let ledger = prover.account(&header, target.ledger, &[root_slot]).await?;
    let expected_code = keccak256(&ReleaseLedger::DEPLOYED_BYTECODE);
    if ledger.code_hash != expected_code {
        return Err(contradicted(
            "the ledger's code",
            format!("a ReleaseLedger at {}", target.ledger),
            format!(
                "code hash {} (this client's ReleaseLedger has {expected_code}): the deployment names another contract",
                ledger.code_hash
            ),
        ));
    }
    let root = B256::from(ledger.storage[&root_slot]);
    if root != relied.root {
        return Err(contradicted(
            "the ledger's root for the release",
            relied.root.to_string(),
            root.to_string(),
        ));
    }
    facts.push(format!("ledger code and root {root} (storage proof)"));

    // The registry: the proxy's code, its implementation, and the rules word.
    let rules_slot = B256::from(REGISTRY_STORAGE);
    let number_slots: Vec<B256> = relied
        .event
        .systems
        .iter()
        .map(|system| {
            mapping_slot(
                keccak256(system.as_bytes()),
                REGISTRY_STORAGE + U256::from(SYSTEM_NUMBER_FIELD),
            )
        })
        .collect();
    let mut slots = vec![rules_slot, IMPLEMENTATION_SLOT];
    slots.extend(&number_slots);
    let registry = prover.account(&header, target.registry, &slots).await?;
    let proxy_code = keccak256(&ERC1967Proxy::DEPLOYED_BYTECODE);
    if registry.code_hash != proxy_code {
        return Err(contradicted(
            "the registry's code",
            format!("an ERC-1967 proxy at {}", target.registry),
            format!(
                "code hash {} (the ERC1967Proxy this client deploys has {proxy_code})",
                registry.code_hash
            ),
        ));
    }
    let implementation = Address::from_word(B256::from(registry.storage[&IMPLEMENTATION_SLOT]));
    let rules = Rules(registry.storage[&rules_slot]);
    if rules.version() != relied.rules_version {
        return Err(contradicted(
            "the rules version at the finalisation block",
            relied.rules_version.to_string(),
            rules.version().to_string(),
        ));
    }
    let threshold = rules.threshold(relied.event.genesis);
    if threshold != relied.threshold {
        return Err(contradicted(
            "the threshold at the finalisation block",
            relied.threshold.to_string(),
            threshold.to_string(),
        ));
    }
    let numbers: Vec<u8> = number_slots
        .iter()
        .map(|slot| registry.storage[slot].byte(0))
        .collect();
    if numbers != rules.required_system_numbers() {
        return Err(contradicted(
            "the required systems at the finalisation block",
            format!(
                "[{}] (system numbers {numbers:?})",
                relied.event.systems.join(", ")
            ),
            format!("system numbers {:?}", rules.required_system_numbers()),
        ));
    }
    facts.push(format!(
        "rules version {}, threshold {threshold}, required systems [{}] (storage proof)",
        rules.version(),
        relied.event.systems.join(", ")
    ));

    // The finalisation's own logs, from the block's receipts.
    let logs = prover.logs(&header).await?;
    let recorded: Vec<_> = logs
        .iter()
        .filter(|l| l.log.address == target.ledger)
        .filter_map(|l| ReleaseLedger::ReleaseRecorded::decode_log(&l.log).ok())
        .filter(|e| e.commit == commit)
        .collect();
    match recorded.as_slice() {
        [one] if one.root == relied.root && one.rulesVersion == relied.rules_version => {}
        other => {
            return Err(contradicted(
                "the ledger's ReleaseRecorded log",
                format!(
                    "one, naming root {} and rules version {}",
                    relied.root, relied.rules_version
                ),
                format!("{} in the block's receipts", other.len()),
            ))
        }
    }
    let finalised: Vec<_> = logs
        .iter()
        .filter(|l| l.log.address == target.registry)
        .filter_map(|l| SeedRegistry::ReleaseFinalised::decode_log(&l.log).ok())
        .filter(|e| e.commit == commit)
        .collect();
    match finalised.as_slice() {
        [one] if matches_event(one, &relied.event) => {}
        other => {
            return Err(contradicted(
                "the registry's ReleaseFinalised log",
                format!(
                    "one, with systems [{}], their digests and voters",
                    relied.event.systems.join(", ")
                ),
                match other {
                    [one] => format!(
                        "systems [{}], digests {:?}, voters {:?}, rules version {}, genesis {}",
                        one.systems.join(", "),
                        one.manifestDigests,
                        one.voters,
                        one.rulesVersion,
                        one.genesis
                    ),
                    _ => format!("{} in the block's receipts", other.len()),
                },
            ))
        }
    }
    facts.push(format!(
        "ReleaseRecorded and ReleaseFinalised in block {block} (receipts root)"
    ));

    // Every counted vote, from its block's receipts.
    let mut vote_blocks: Vec<u64> = relied.votes.iter().map(|v| v.block).collect();
    vote_blocks.sort_unstable();
    vote_blocks.dedup();
    for vote_block in vote_blocks {
        let logs = if vote_block == block {
            logs.clone()
        } else {
            let header = proven.header(vote_block).await?.clone();
            prover.logs(&header).await?
        };
        for vote in relied.votes.iter().filter(|v| v.block == vote_block) {
            if !logs.iter().any(|l| is_vote(l, target.registry, vote)) {
                return Err(VerifyError::Contradicted {
                    fact: format!(
                        "builder {}'s Attested log for {} in block {vote_block}",
                        vote.builder_id, vote.system
                    ),
                    claimed: format!(
                        "manifest {}, image {}, statement {}, signer {}",
                        vote.manifest, vote.image, vote.statement, vote.signer
                    ),
                    proven: "no such log in the block's receipts".to_owned(),
                    block: vote_block,
                    endpoint: prover.endpoint().to_owned(),
                });
            }
        }
    }
    facts.push(format!(
        "{} counted Attested logs (receipts roots)",
        relied.votes.len()
    ));

    Ok(ProofReport {
        anchor: proven.anchor().clone(),
        block_hash: header.hash,
        headers: proven.headers_fetched(),
        facts,
        registry_implementation: implementation,
    })
}

/// The anchor `request` names for the finalisation block `block`.
async fn anchor(
    primary: &Endpoint,
    block: u64,
    request: &AnchorRequest,
) -> Result<Anchor, VerifyError> {
    match request {
        AnchorRequest::Endpoints { others, quorum } => {
            let mut endpoints = vec![primary.clone()];
            endpoints.extend(others.iter().cloned());
            let mut anchor = agree_on_block(&endpoints, block, *quorum).await?;
            if endpoints.len() == 1 {
                anchor.source = AnchorSource::Endpoint {
                    endpoint: primary.label.clone(),
                };
            }
            Ok(anchor)
        }
        AnchorRequest::BlockHash(hash) => Ok(Anchor {
            number: None,
            hash: *hash,
            source: AnchorSource::Given {
                origin: "--block-hash".to_owned(),
            },
        }),
        AnchorRequest::Checkpoints { file, checkpoints } => {
            let (number, hash) = nearest_checkpoint(checkpoints, block).ok_or_else(|| {
                VerifyError::NoCheckpoint {
                    file: file.clone(),
                    block,
                }
            })?;
            Ok(Anchor {
                number: Some(number),
                hash,
                source: AnchorSource::Given {
                    origin: format!("the checkpoint file {file}"),
                },
            })
        }
    }
}

/// Whether the proven `ReleaseFinalised` log says what the endpoint's did.
fn matches_event(proven: &SeedRegistry::ReleaseFinalised, relied: &Finalised) -> bool {
    proven.root == relied.root_topic
        && proven.systems == relied.systems
        && proven.manifestDigests == relied.digests
        && proven.voters == relied.voters
        && proven.rulesVersion == relied.rules_version
        && proven.genesis == relied.genesis
}

/// Whether `log` is the registry's `Attested` log of exactly `vote`.
fn is_vote(log: &ProvenLog, registry: Address, vote: &Vote) -> bool {
    log.log.address == registry
        && SeedRegistry::Attested::decode_log(&log.log).is_ok_and(|e| {
            e.commit == vote.commit
                && e.systemId == keccak256(vote.system.as_bytes())
                && e.system == vote.system
                && e.builderId == vote.builder_id
                && e.signer == vote.signer
                && e.manifestDigest == vote.manifest
                && e.imageDigest == vote.image
                && e.statementDigest == vote.statement
        })
}

/// The registry's rules word (`SeedRegistry`'s rules-word constants).
struct Rules(U256);

impl Rules {
    fn field(&self, shift: usize, bits: usize) -> u64 {
        let mask = (U256::from(1u8) << bits) - U256::from(1u8);
        ((self.0 >> shift) & mask).to::<u64>()
    }

    fn version(&self) -> u32 {
        // 32 bits.
        u32::try_from(self.field(96, 32)).unwrap_or(u32::MAX)
    }

    /// Every active builder for genesis, `k` otherwise.
    fn threshold(&self, genesis: bool) -> u8 {
        let count = if genesis {
            u64::from(self.field(0, 64).count_ones())
        } else {
            self.field(64, 8)
        };
        u8::try_from(count).unwrap_or(u8::MAX)
    }

    /// The numbers of the required systems, in the order of their names.
    fn required_system_numbers(&self) -> Vec<u8> {
        (0..self.field(128, 8) as usize)
            .map(|i| self.field(136 + 8 * i, 8) as u8)
            .collect()
    }
}

impl From<ProofError> for VerifyError {
    fn from(error: ProofError) -> Self {
        Self::Proof(Box::new(error))
    }
}
