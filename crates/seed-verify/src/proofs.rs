//! `verify --proofs`: the facts of the verdict read from data that hashes to one block hash.
//!
//! Without proofs, `lib.rs` reads the ledger's root with `eth_call`, the ledger's and
//! registry's events with `eth_getLogs` and the rules with `eth_call`, and believes the
//! endpoint. With proofs, once the finalisation block is known (the registry's stamp, or the
//! history search: where to look is still the endpoint's hint), a [`BlockProof`] of that block
//! replaces those reads (seed-proof does the checking):
//!
//! - the block's hash comes from the anchor (a quorum of endpoints, or the user), and its
//!   header must hash to it;
//! - the ledger's root and the registry's rules word, ledger, implementation slot and the
//!   numbers of the finalised systems come from `eth_getProof` against the header's state
//!   root; the two contracts' code hashes must be those this client deploys, and the registry
//!   must write to the deployment's ledger (the deployment file is not checked by calls
//!   first: `open_to_prove`);
//! - the `ReleaseRecorded` and `ReleaseFinalised` logs come from the block's receipts, whose
//!   trie root must be the header's;
//! - each vote the endpoint points to is taken from its block's receipts, that block's header
//!   proven by parent hashes down from the anchor; a vote the receipts do not hold is the
//!   endpoint lying, exit 3 naming it.
//!
//! Storage slots follow the contracts' layouts: the ledger's `_roots` mapping is its slot 3
//! (after Ownable2Step's two slots and `_writer`); the registry's ERC-7201 struct starts with
//! the rules word, and `systemNumber` is its field 5. The end-to-end tests verify releases
//! through these slots, so a layout change that forgets this file fails them.

use std::collections::BTreeMap;

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    sol_types::{SolEvent, SolValue},
};
use seed_chain::{
    bindings::{ERC1967Proxy, ReleaseLedger, SeedRegistry},
    events::{LedgerEntry, Recorded},
    Chain, Target,
};
use seed_proof::{
    anchor::{agree_on_block, nearest_checkpoint},
    Anchor, AnchorSource, Endpoint, ProofError, ProvenChain, ProvenHeader, ProvenLog, Prover,
};
use serde::Serialize;

use crate::{Finalised, Report, VerifyError, Vote};

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

/// What the proofs established, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofReport {
    /// The block hash everything was proven against, and who vouches for it.
    pub anchor: Anchor,
    /// The finalisation block's hash, proven from the anchor.
    pub block_hash: B256,
    /// Headers fetched and hashed to reach every block needed from the anchor.
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
/// `RegistryStorage.ledger`'s field index.
const LEDGER_FIELD: u64 = 1;
/// `RegistryStorage.systemNumber`'s field index.
const SYSTEM_NUMBER_FIELD: u64 = 5;
/// `ReleaseLedger._roots`'s slot.
const LEDGER_ROOTS_SLOT: u64 = 3;

/// The slot of `mapping[key]` for a mapping at `slot` (Solidity's layout).
fn mapping_slot(key: B256, slot: U256) -> B256 {
    keccak256((key, slot).abi_encode())
}

/// The finalisation block of one release, proven: everything `check_release` reads about it.
pub(crate) struct BlockProof {
    commit: B256,
    registry: Address,
    chain: ProvenChain,
    header: ProvenHeader,
    logs: Vec<ProvenLog>,
    ledger_root: B256,
    rules: Rules,
    /// The number of each system of the block's `ReleaseFinalised` event, by name.
    system_numbers: BTreeMap<String, u8>,
    implementation: Address,
    /// The contracts' code, where it is not this client's, and a registry writing to another
    /// ledger (exit 1 findings).
    deployment_findings: Vec<String>,
    facts: Vec<String>,
}

impl BlockProof {
    /// Proves block `block` for release `commit`: anchors it as `request` says, then reads its
    /// receipts and the two contracts' storage.
    pub(crate) async fn prove(
        chain: &Chain,
        target: &Target,
        commit: B256,
        block: u64,
        request: &ProofRequest,
    ) -> Result<Self, VerifyError> {
        let primary = Endpoint::with_provider(chain.url(), chain.provider().clone());
        let (anchor, header) = anchor(&primary, block, &request.anchor).await?;
        let prover = Prover::new(primary);
        let mut proven = match header {
            Some(header) => ProvenChain::from_header(prover, anchor, header, request.max_walk)?,
            None => ProvenChain::new(prover, anchor, request.max_walk).await?,
        };
        let header = proven.header(block).await?.clone();
        let prover = proven.prover().clone();
        let logs = prover.logs(&header).await?;
        let mut facts = vec![format!(
            "block {block} {:#x}: header hashed, receipts root recomputed ({} logs)",
            header.hash,
            logs.len()
        )];

        // The registry: its code, implementation, rules word and the finalised systems' numbers.
        let systems: Vec<String> = finalised_logs(&logs, target.registry, commit)
            .next()
            .map(|event| event.systems)
            .unwrap_or_default();
        let number_slot = |system: &str| {
            mapping_slot(
                keccak256(system.as_bytes()),
                REGISTRY_STORAGE + U256::from(SYSTEM_NUMBER_FIELD),
            )
        };
        let rules_slot = B256::from(REGISTRY_STORAGE);
        let ledger_slot = B256::from(REGISTRY_STORAGE + U256::from(LEDGER_FIELD));
        let mut slots = vec![rules_slot, ledger_slot, IMPLEMENTATION_SLOT];
        slots.extend(systems.iter().map(|s| number_slot(s)));
        let registry = prover.account(&header, target.registry, &slots).await?;
        let mut deployment_findings = Vec::new();
        let proxy_code = keccak256(&ERC1967Proxy::DEPLOYED_BYTECODE);
        if registry.code_hash != proxy_code {
            deployment_findings.push(format!(
                "the registry {} has code hash {} at block {block}, not the ERC-1967 proxy this client deploys ({proxy_code}): the deployment names another contract",
                target.registry, registry.code_hash
            ));
        }
        let value = |slot: &B256| registry.storage.get(slot).copied().unwrap_or_default();
        let implementation = Address::from_word(B256::from(value(&IMPLEMENTATION_SLOT)));
        // `ledger` shares its slot with `systemNumberCount`, in the byte above the address.
        let writes_to = Address::from_word(B256::from(
            value(&ledger_slot) & ((U256::from(1u8) << 160) - U256::from(1u8)),
        ));
        if writes_to != target.ledger {
            deployment_findings.push(format!(
                "the registry {} writes to the ledger {writes_to} at block {block}, but the deployment names {}",
                target.registry, target.ledger
            ));
        }
        let rules = Rules(value(&rules_slot));
        let system_numbers = systems
            .iter()
            .map(|s| (s.clone(), value(&number_slot(s)).byte(0)))
            .collect();
        facts.push(format!(
            "registry rules word (version {}), implementation {implementation} and system numbers: storage proof",
            rules.version()
        ));

        // The ledger: its code and the root it stores for the release.
        let root_slot = mapping_slot(commit, U256::from(LEDGER_ROOTS_SLOT));
        let ledger = prover.account(&header, target.ledger, &[root_slot]).await?;
        let ledger_code = keccak256(&ReleaseLedger::DEPLOYED_BYTECODE);
        if ledger.code_hash != ledger_code {
            deployment_findings.push(format!(
                "the ledger {} has code hash {} at block {block}, not this client's ReleaseLedger ({ledger_code}): the deployment names another contract",
                target.ledger, ledger.code_hash
            ));
        }
        let ledger_root = B256::from(ledger.storage.get(&root_slot).copied().unwrap_or_default());
        facts.push(format!("ledger root {ledger_root}: storage proof"));

        Ok(Self {
            commit,
            registry: target.registry,
            chain: proven,
            header,
            logs,
            ledger_root,
            rules,
            system_numbers,
            implementation,
            deployment_findings,
            facts,
        })
    }

    /// The ledger entry: the proven root and the block's `ReleaseRecorded` logs for the commit.
    pub(crate) fn ledger_entry(&self, ledger: Address) -> LedgerEntry {
        let records = self
            .logs
            .iter()
            .filter(|l| l.log.address == ledger)
            .filter_map(|l| ReleaseLedger::ReleaseRecorded::decode_log(&l.log).ok())
            .filter(|e| e.commit == self.commit)
            .map(|e| Recorded {
                root: e.root,
                rules_version: e.rulesVersion,
                block: self.header.number,
                block_hash: Some(self.header.hash),
                tx: None,
            })
            .collect();
        LedgerEntry {
            root: self.ledger_root,
            records,
        }
    }

    /// The block's `ReleaseFinalised` events for the commit.
    pub(crate) fn finalisations(&self) -> Vec<Finalised> {
        finalised_logs(&self.logs, self.registry, self.commit)
            .map(|event| Finalised::new(event, self.header.number))
            .collect()
    }

    /// The threshold in force, from the proven rules word (what `threshold_at` reads by call).
    pub(crate) fn threshold(&self, event: &Finalised) -> Result<u8, VerifyError> {
        if self.rules.version() != event.rules_version {
            return Err(VerifyError::RulesChanged {
                block: event.block,
                event: event.rules_version,
                state: self.rules.version(),
            });
        }
        Ok(self.rules.threshold(event.genesis))
    }

    /// The event's systems must be the required ones: their permanent numbers, proven, must be
    /// the rules word's list.
    pub(crate) fn check_required_systems(&self, event: &Finalised, report: &mut Report) {
        let numbers: Vec<u8> = event
            .systems
            .iter()
            .map(|s| self.system_numbers.get(s).copied().unwrap_or(0))
            .collect();
        let required = self.rules.required_system_numbers();
        if numbers != required {
            report.fail(format!(
                "the release finalised systems [{}] (system numbers {numbers:?}) but the rules at block {} required system numbers {required:?}",
                event.systems.join(", "),
                event.block
            ));
        }
    }

    /// The votes `hints` point to, each read from its block's proven receipts instead; one the
    /// receipts do not hold is the endpoint lying.
    pub(crate) async fn prove_votes(&mut self, hints: &[Vote]) -> Result<Vec<Vote>, VerifyError> {
        let mut by_block: BTreeMap<u64, Vec<ProvenLog>> = BTreeMap::new();
        by_block.insert(self.header.number, self.logs.clone());
        let mut proven = Vec::new();
        for hint in hints {
            if let std::collections::btree_map::Entry::Vacant(slot) = by_block.entry(hint.block) {
                let header = self.chain.header(hint.block).await?.clone();
                slot.insert(self.chain.prover().logs(&header).await?);
            }
            let vote = by_block
                .get(&hint.block)
                .into_iter()
                .flatten()
                .filter(|l| l.log.address == self.registry)
                .filter_map(|l| attested(l, hint.block))
                .find(|v| same_vote(v, hint));
            match vote {
                Some(vote) => proven.push(vote),
                None => {
                    return Err(VerifyError::Contradicted {
                        fact: format!(
                            "builder {}'s Attested log for {} in block {}",
                            hint.builder_id, hint.system, hint.block
                        ),
                        claimed: format!(
                            "manifest {}, image {}, statement {}, signer {}",
                            hint.manifest, hint.image, hint.statement, hint.signer
                        ),
                        proven: "no such log in the block's receipts".to_owned(),
                        block: hint.block,
                        endpoint: self.chain.prover().endpoint().to_owned(),
                    })
                }
            }
        }
        self.facts.push(format!(
            "{} votes: receipts of {} blocks, headers by parent hash",
            proven.len(),
            by_block.len()
        ));
        Ok(proven)
    }

    /// The deployment findings (exit 1): contracts whose code is not this client's, or a
    /// registry that writes to another ledger.
    pub(crate) fn deployment_findings(&self) -> &[String] {
        &self.deployment_findings
    }

    /// What was proven, for the report.
    pub(crate) fn report(&self) -> ProofReport {
        ProofReport {
            anchor: self.chain.anchor().clone(),
            block_hash: self.header.hash,
            headers: self.chain.headers_fetched(),
            facts: self.facts.clone(),
            registry_implementation: self.implementation,
        }
    }
}

/// The registry's `ReleaseFinalised` events for `commit` among `logs`.
fn finalised_logs(
    logs: &[ProvenLog],
    registry: Address,
    commit: B256,
) -> impl Iterator<Item = SeedRegistry::ReleaseFinalised> + '_ {
    logs.iter()
        .filter(move |l| l.log.address == registry)
        .filter_map(|l| SeedRegistry::ReleaseFinalised::decode_log(&l.log).ok())
        .map(|event| event.data)
        .filter(move |event| event.commit == commit)
}

/// Whether two votes say the same (the transaction aside: receipts do not name it).
fn same_vote(a: &Vote, b: &Vote) -> bool {
    (a.commit, &a.system, a.builder_id, a.signer, a.block)
        == (b.commit, &b.system, b.builder_id, b.signer, b.block)
        && (a.manifest, a.image, a.statement) == (b.manifest, b.image, b.statement)
}

/// The vote of a proven `Attested` log (its indexed system id must name its system).
fn attested(log: &ProvenLog, block: u64) -> Option<Vote> {
    let event = SeedRegistry::Attested::decode_log(&log.log).ok()?.data;
    if event.systemId != keccak256(event.system.as_bytes()) {
        return None;
    }
    Some(Vote {
        commit: event.commit,
        system: event.system,
        builder_id: event.builderId,
        signer: event.signer,
        manifest: event.manifestDigest,
        image: event.imageDigest,
        statement: event.statementDigest,
        block,
        tx: None,
    })
}

/// The anchor `request` names for the finalisation block `block`, with the verifying
/// endpoint's header of that block when it was fetched on the way (a quorum).
async fn anchor(
    primary: &Endpoint,
    block: u64,
    request: &AnchorRequest,
) -> Result<(Anchor, Option<alloy::consensus::Header>), VerifyError> {
    match request {
        AnchorRequest::Endpoints { others, quorum } => {
            let mut endpoints = vec![primary.clone()];
            endpoints.extend(others.iter().cloned());
            let (mut anchor, header) = agree_on_block(&endpoints, block, *quorum).await?;
            if endpoints.len() == 1 {
                anchor.source = AnchorSource::Endpoint {
                    endpoint: primary.label.clone(),
                };
            }
            Ok((anchor, header))
        }
        AnchorRequest::BlockHash(hash) => Ok((
            Anchor {
                number: None,
                hash: *hash,
                source: AnchorSource::Given {
                    origin: "--block-hash".to_owned(),
                },
            },
            None,
        )),
        AnchorRequest::Checkpoints { file, checkpoints } => {
            let (number, hash) = nearest_checkpoint(checkpoints, block).ok_or_else(|| {
                VerifyError::NoCheckpoint {
                    file: file.clone(),
                    block,
                }
            })?;
            Ok((
                Anchor {
                    number: Some(number),
                    hash,
                    source: AnchorSource::Given {
                        origin: format!("the checkpoint file {file}"),
                    },
                },
                None,
            ))
        }
    }
}

/// The registry's rules word (`SeedRegistry`'s rules-word constants).
struct Rules(U256);

impl Rules {
    fn field(&self, shift: usize, bits: usize) -> u64 {
        let mask = (U256::from(1u8) << bits) - U256::from(1u8);
        ((self.0 >> shift) & mask).to::<u64>()
    }

    fn version(&self) -> u32 {
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
