//! Builder votes: the EIP-712 digest a builder signs for a relayer, the checks
//! `attest` and `relay` make with `eth_call` before they send anything (is the
//! key an active builder, is the system required, has this builder already
//! voted), and the transactions (`attest`, `attestBatch`, and `finalise` with
//! signed votes, D-055).

use alloy::{
    primitives::{Address, Bytes, B256},
    rpc::types::{Filter, TransactionReceipt},
    signers::{local::PrivateKeySigner, SignerSync},
    sol,
    sol_types::{eip712_domain, Eip712Domain, SolEvent, SolStruct},
};

use crate::{
    bindings::{ISeedRegistry, SeedRegistry},
    chain::Chain,
    config::Target,
    error::{ChainError, Result},
    status::{logs_in_chunks, stamped_block},
};

sol! {
    /// The EIP-712 struct `SeedRegistry` hashes (`VOTE_TYPEHASH`): a `SignedVote` without its signature.
    #[derive(Debug, PartialEq, Eq)]
    struct Vote {
        address signer;
        bytes32 commit;
        string system;
        bytes32 manifestDigest;
        bytes32 imageDigest;
        bytes32 statementDigest;
        uint64 deadline;
    }
}

/// The EIP-712 domain of a registry: name and version are the contract's constants; chain id and
/// contract bind a signature to one deployment (trust property 4).
pub fn vote_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: "SeedRegistry",
        version: "1",
        chain_id: chain_id,
        verifying_contract: registry,
    }
}

impl Vote {
    /// The digest the builder signs, computed locally.
    pub fn signing_hash(&self, chain_id: u64, registry: Address) -> B256 {
        self.eip712_signing_hash(&vote_domain(chain_id, registry))
    }

    /// Signs the vote with `key` (65 bytes `r ‖ s ‖ v`, v 27 or 28, as `ECDSA.tryRecover` takes).
    pub fn sign(&self, key: &PrivateKeySigner, chain_id: u64, registry: Address) -> Result<Bytes> {
        let signature = key
            .sign_hash_sync(&self.signing_hash(chain_id, registry))
            .map_err(|e| ChainError::Config(format!("cannot sign the vote: {e}")))?;
        Ok(Bytes::from(signature.as_bytes().to_vec()))
    }

    /// The address that signed `signature` over this vote, if it recovers at all.
    pub fn recover(&self, signature: &[u8], chain_id: u64, registry: Address) -> Option<Address> {
        let signature = alloy::primitives::Signature::try_from(signature).ok()?;
        signature
            .recover_address_from_prehash(&self.signing_hash(chain_id, registry))
            .ok()
    }

    /// The vote as `finalise` takes it: the builder by id, the system by its index among the
    /// required systems, the same signature in ERC-2098 compact form (`r ‖ s` with the parity in
    /// the top bit of `s`).
    pub fn compact(
        &self,
        signature: &[u8],
        system_index: u8,
        builder_id: u8,
    ) -> Result<ISeedRegistry::CompactVote> {
        let signature = alloy::primitives::Signature::try_from(signature)
            .map_err(|e| ChainError::Config(format!("not a 65-byte vote signature: {e}")))?;
        let compact = signature.as_erc2098();
        Ok(ISeedRegistry::CompactVote {
            systemIndex: system_index,
            builderId: builder_id,
            deadline: self.deadline,
            imageDigest: self.imageDigest,
            statementDigest: self.statementDigest,
            r: B256::from_slice(&compact[..32]),
            vs: B256::from_slice(&compact[32..]),
        })
    }

    /// The calldata struct of `attestBySig` / `attestBatch`.
    pub fn with_signature(&self, signature: Bytes) -> ISeedRegistry::SignedVote {
        ISeedRegistry::SignedVote {
            signer: self.signer,
            commit: self.commit,
            system: self.system.clone(),
            manifestDigest: self.manifestDigest,
            imageDigest: self.imageDigest,
            statementDigest: self.statementDigest,
            deadline: self.deadline,
            signature,
        }
    }
}

/// The registry's own `hashVote`, to cross-check [`Vote::signing_hash`].
pub async fn hash_vote_on_chain(chain: &Chain, registry: Address, vote: &Vote) -> Result<B256> {
    SeedRegistry::new(registry, chain.provider())
        .hashVote(vote.with_signature(Bytes::new()))
        .call()
        .await
        .map_err(|e| chain.rpc_error("calling hashVote on the registry", e))
}

/// What the registry knows about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderState {
    /// The current key of an active builder.
    Active(u8),
    /// The current key of a revoked builder.
    Revoked(u8),
    /// Not the current key of any builder.
    Unregistered,
}

/// Asks the registry whether `signer` is an active builder's key.
pub async fn builder_state(
    chain: &Chain,
    registry: Address,
    signer: Address,
) -> Result<BuilderState> {
    let contract = SeedRegistry::new(registry, chain.provider());
    let id = match contract.builderIdOf(signer).call().await {
        Ok(id) => id,
        Err(e) => {
            // `UnknownSigner` is the answer "not registered"; anything else is a failed call.
            let unknown = e
                .as_decoded_interface_error::<SeedRegistry::SeedRegistryErrors>()
                .is_some_and(|err| {
                    matches!(err, SeedRegistry::SeedRegistryErrors::UnknownSigner(_))
                });
            if unknown {
                return Ok(BuilderState::Unregistered);
            }
            return Err(chain.rpc_error(format!("calling builderIdOf({signer})"), e));
        }
    };
    let builder = contract
        .builder(id)
        .call()
        .await
        .map_err(|e| chain.rpc_error(format!("calling builder({id})"), e))?;
    Ok(if builder.active {
        BuilderState::Active(id)
    } else {
        BuilderState::Revoked(id)
    })
}

/// The systems every release must cover, in the registry's order.
pub async fn required_systems(chain: &Chain, registry: Address) -> Result<Vec<String>> {
    SeedRegistry::new(registry, chain.provider())
        .requiredSystems()
        .call()
        .await
        .map_err(|e| chain.rpc_error("calling requiredSystems on the registry", e))
}

/// What `finalise` counts on a release, as the registry holds it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumRules {
    /// Votes needed per system (every active builder before genesis, else k).
    pub threshold: u8,
    /// Active builders, one bit per id.
    pub active: u64,
    /// Builders proven to have equivocated on the release: never counted in it.
    pub equivocators: u64,
    /// The release is already in the ledger.
    pub finalised: bool,
}

impl QuorumRules {
    /// Whether `voters` are enough for one system.
    pub const fn quorate(&self, voters: u64) -> bool {
        self.threshold != 0
            && (voters & self.active & !self.equivocators).count_ones() >= self.threshold as u32
    }
}

/// Reads the rules `finalise` applies to `commit`.
pub async fn quorum_rules(chain: &Chain, registry: Address, commit: B256) -> Result<QuorumRules> {
    let contract = SeedRegistry::new(registry, chain.provider());
    let call =
        |what: &'static str| move |e| chain.rpc_error(format!("calling {what} on the registry"), e);
    Ok(QuorumRules {
        threshold: contract
            .threshold()
            .call()
            .await
            .map_err(call("threshold"))?,
        active: contract
            .activeBuilderMask()
            .call()
            .await
            .map_err(call("activeBuilderMask"))?,
        equivocators: contract
            .equivocators(commit)
            .call()
            .await
            .map_err(call("equivocators"))?,
        finalised: contract
            .isFinalised(commit)
            .call()
            .await
            .map_err(call("isFinalised"))?,
    })
}

/// The builders whose stored votes on (commit, system) are for `digest`.
pub async fn voters_for(
    chain: &Chain,
    registry: Address,
    commit: B256,
    system: &str,
    digest: B256,
) -> Result<u64> {
    SeedRegistry::new(registry, chain.provider())
        .votersFor(commit, system.to_owned(), digest)
        .call()
        .await
        .map_err(|e| chain.rpc_error("calling votersFor on the registry", e))
}

/// A builder's earlier vote on (commit, system), compared with the one about to be cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorVote {
    /// The builder has not voted on (commit, system).
    None,
    /// The builder already voted this manifest digest; the earlier statement digest is given
    /// when its `Attested` event was found.
    Same {
        /// The statement digest recorded with the earlier vote.
        statement_digest: Option<B256>,
    },
    /// The builder already voted a different manifest digest.
    Conflict {
        /// The digest voted earlier.
        earlier: B256,
    },
}

/// Reads whether builder `builder_id` (key `signer`) already voted on (commit, system), with
/// `votedMask` and `votersFor`, and finds the earlier vote's `Attested` event for its digests.
pub async fn prior_vote(
    chain: &Chain,
    target: &Target,
    signer: Address,
    builder_id: u8,
    vote: &Vote,
    log_chunk: u64,
) -> Result<PriorVote> {
    let contract = SeedRegistry::new(target.registry, chain.provider());
    let voted = contract
        .votedMask(vote.commit, vote.system.clone())
        .call()
        .await
        .map_err(|e| chain.rpc_error("calling votedMask on the registry", e))?;
    if voted >> builder_id & 1 == 0 {
        return counted_unstored(chain, target, signer, vote).await;
    }
    let earlier = earlier_vote(chain, target, signer, vote, log_chunk).await?;
    let same = contract
        .votersFor(vote.commit, vote.system.clone(), vote.manifestDigest)
        .call()
        .await
        .map_err(|e| chain.rpc_error("calling votersFor on the registry", e))?;
    if same >> builder_id & 1 == 1 {
        return Ok(PriorVote::Same {
            statement_digest: earlier.map(|e| e.statementDigest),
        });
    }
    let earlier = earlier.ok_or_else(|| {
        chain.rpc_error(
            "looking up an earlier vote",
            format!(
                "votedMask says builder {builder_id} voted on this release and system, but no Attested event of {signer} was found from block {}",
                target.from_block
            ),
        )
    })?;
    Ok(PriorVote::Conflict {
        earlier: earlier.manifestDigest,
    })
}

/// A vote `finalise` counted without storing it (D-055): its `Attested` event is in the block
/// that finalised the release, which the registry's stamp names.
async fn counted_unstored(
    chain: &Chain,
    target: &Target,
    signer: Address,
    vote: &Vote,
) -> Result<PriorVote> {
    let head = chain.block_number().await?;
    let Some(block) = stamped_block(chain, target, vote.commit, head).await else {
        return Ok(PriorVote::None);
    };
    let logs = logs_in_chunks(
        chain,
        &attested_filter(signer, vote),
        target.registry,
        block,
        block,
        1,
    )
    .await?;
    let Some(log) = logs.first() else {
        return Ok(PriorVote::None);
    };
    let earlier = log
        .log_decode::<SeedRegistry::Attested>()
        .map_err(|e| chain.rpc_error("decoding an Attested log", e))?
        .inner
        .data;
    Ok(if earlier.manifestDigest == vote.manifestDigest {
        PriorVote::Same {
            statement_digest: Some(earlier.statementDigest),
        }
    } else {
        PriorVote::Conflict {
            earlier: earlier.manifestDigest,
        }
    })
}

/// The `Attested` events of `signer` on the vote's (commit, system).
fn attested_filter(signer: Address, vote: &Vote) -> Filter {
    Filter::new()
        .event_signature(SeedRegistry::Attested::SIGNATURE_HASH)
        .topic1(vote.commit)
        .topic2(alloy::primitives::keccak256(vote.system.as_bytes()))
        .topic3(signer.into_word())
}

/// The first `Attested` event of `signer` on (commit, system), if any.
async fn earlier_vote(
    chain: &Chain,
    target: &Target,
    signer: Address,
    vote: &Vote,
    log_chunk: u64,
) -> Result<Option<SeedRegistry::Attested>> {
    let head = chain.block_number().await?;
    let logs = logs_in_chunks(
        chain,
        &attested_filter(signer, vote),
        target.registry,
        target.from_block,
        head,
        log_chunk,
    )
    .await?;
    logs.first()
        .map(|log| {
            log.log_decode::<SeedRegistry::Attested>()
                .map(|event| event.inner.data)
                .map_err(|e| chain.rpc_error("decoding an Attested log", e))
        })
        .transpose()
}

/// Sends `attest` from the chain's signer and waits for the receipt.
pub async fn send_attest(
    chain: &Chain,
    registry: Address,
    vote: &Vote,
) -> Result<TransactionReceipt> {
    let tx = SeedRegistry::new(registry, chain.provider())
        .attest(
            vote.commit,
            vote.system.clone(),
            vote.manifestDigest,
            vote.imageDigest,
            vote.statementDigest,
        )
        .into_transaction_request();
    chain.send("sending attest", tx).await
}

/// Sends `attestBatch` with `votes` from the chain's signer (the relayer) and waits for the receipt.
pub async fn send_batch(
    chain: &Chain,
    registry: Address,
    votes: Vec<ISeedRegistry::SignedVote>,
) -> Result<TransactionReceipt> {
    let tx = SeedRegistry::new(registry, chain.provider())
        .attestBatch(votes)
        .into_transaction_request();
    chain.send("sending attestBatch", tx).await
}

/// Sends `finalise` (one digest per required system, signed votes sorted by system index and
/// builder id) from the chain's signer (the relayer) and waits for the receipt.
pub async fn send_finalise(
    chain: &Chain,
    registry: Address,
    commit: B256,
    digests: Vec<B256>,
    votes: Vec<ISeedRegistry::CompactVote>,
) -> Result<TransactionReceipt> {
    let tx = SeedRegistry::new(registry, chain.provider())
        .finalise(commit, digests, votes)
        .into_transaction_request();
    chain.send("sending finalise", tx).await
}

/// The `Attested` events of `registry` in a receipt.
pub fn attested_in(receipt: &TransactionReceipt, registry: Address) -> Vec<SeedRegistry::Attested> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == registry)
        .filter_map(|log| log.log_decode::<SeedRegistry::Attested>().ok())
        .map(|event| event.inner.data)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(signer: Address) -> Vote {
        Vote {
            signer,
            commit: B256::repeat_byte(1),
            system: "x86_64-linux".to_owned(),
            manifestDigest: B256::repeat_byte(2),
            imageDigest: B256::repeat_byte(3),
            statementDigest: B256::repeat_byte(4),
            deadline: 1_900_000_000,
        }
    }

    #[test]
    fn the_compact_form_carries_the_same_signature() {
        let key = PrivateKeySigner::random();
        let registry = Address::repeat_byte(9);
        let v = vote(key.address());
        let signature = v.sign(&key, 31337, registry).unwrap();
        let compact = v.compact(&signature, 1, 7).unwrap();
        assert_eq!((compact.systemIndex, compact.builderId), (1, 7));
        assert_eq!(compact.r.as_slice(), &signature[..32]);
        // s with the parity bit (v = 28) on top.
        let mut vs = signature[32..64].to_vec();
        vs[0] |= (signature[64] - 27) << 7;
        assert_eq!(compact.vs.as_slice(), vs.as_slice());
        assert!(v.compact(&signature[..64], 0, 0).is_err());
    }

    #[test]
    fn quorum_counts_active_builders_that_did_not_equivocate() {
        let rules = QuorumRules {
            threshold: 2,
            active: 0b0111,
            equivocators: 0b0010,
            finalised: false,
        };
        assert!(rules.quorate(0b0101));
        assert!(!rules.quorate(0b0011), "an equivocator does not count");
        assert!(!rules.quorate(0b1001), "an inactive builder does not count");
        assert!(!QuorumRules {
            threshold: 0,
            ..rules
        }
        .quorate(0b0111));
    }

    #[test]
    fn a_signature_recovers_only_on_its_own_deployment() {
        let key = PrivateKeySigner::random();
        let registry = Address::repeat_byte(9);
        let v = vote(key.address());
        let signature = v.sign(&key, 31337, registry).unwrap();
        assert_eq!(signature.len(), 65);
        assert_eq!(v.recover(&signature, 31337, registry), Some(key.address()));
        assert_ne!(v.recover(&signature, 1, registry), Some(key.address()));
        assert_ne!(
            v.recover(&signature, 31337, Address::repeat_byte(8)),
            Some(key.address())
        );
        let mut other = v.clone();
        other.manifestDigest = B256::repeat_byte(5);
        assert_ne!(
            other.recover(&signature, 31337, registry),
            Some(key.address())
        );
    }
}
