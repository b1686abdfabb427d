//! Chain facts proven against a block hash instead of taken from an RPC endpoint.
//!
//! An endpoint can answer `eth_call` and `eth_getLogs` with anything. What it
//! cannot forge, once a block hash is trusted (the [`Anchor`]), is anything
//! that hashes to it:
//!
//! - a **header** is accepted only if it hashes to the anchor, or to the parent
//!   hash of a header already accepted ([`ProvenChain`]); it gives the block's
//!   state root and receipts root;
//! - **storage** comes from `eth_getProof`: the account proof is checked against
//!   the header's state root and each slot's proof against the account's storage
//!   root ([`Prover::account`]);
//! - **logs** come from `eth_getBlockReceipts`: the receipts trie root is
//!   recomputed and must be the header's ([`Prover::logs`]), so no log can be
//!   added, dropped or altered.
//!
//! The Merkle-Patricia checks and the receipts root are alloy's (alloy-trie and
//! alloy-consensus); nothing here walks a trie by hand. Where the anchor comes
//! from is [`anchor`]'s job: a quorum of endpoints, or a hash the user trusts.

pub mod anchor;
mod error;
mod receipts;

use std::collections::BTreeMap;

use alloy::{
    consensus::Header,
    eips::{BlockId, BlockNumberOrTag},
    primitives::{keccak256, Address, Log, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rlp,
    rpc::types::EIP1186AccountProofResponse,
    transports::http::reqwest::Url,
    trie::{proof::verify_proof, root::ordered_trie_root_with_encoder, Nibbles, TrieAccount},
};

pub use anchor::{Anchor, AnchorSource};
pub use error::ProofError;
pub use receipts::BlockReceipt;

/// One endpoint: its provider and the label errors name it by (its URL).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The label (the URL, without credentials).
    pub label: String,
    /// The provider.
    pub provider: DynProvider,
}

impl Endpoint {
    /// An endpoint at `url` (http or https); nothing is asked until a proof is. The error says
    /// why the URL does not parse.
    pub fn http(url: &str) -> Result<Self, String> {
        let parsed = Url::parse(url).map_err(|e| format!("'{}': {e}", endpoint_label(url)))?;
        Ok(Self {
            label: endpoint_label(url),
            provider: ProviderBuilder::new().connect_http(parsed).erased(),
        })
    }

    /// An endpoint already connected (a [`DynProvider`]) at `url`.
    pub fn with_provider(url: &str, provider: DynProvider) -> Self {
        Self {
            label: endpoint_label(url),
            provider,
        }
    }
}

/// How reports and alarms name an RPC endpoint: its scheme, host and port only, since
/// providers put API keys in the path, the query or the user part of their URLs.
pub fn endpoint_label(url: &str) -> String {
    match Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
            (Some(host), None) => format!("{}://{host}", url.scheme()),
            (None, _) => "an endpoint without a host".to_owned(),
        },
        Err(_) => "an unparsable endpoint URL".to_owned(),
    }
}

/// A header whose hash was checked: it is the anchor or an ancestor of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenHeader {
    /// The block number.
    pub number: u64,
    /// The block hash (the header's own hash, recomputed).
    pub hash: B256,
    /// The header.
    pub header: Header,
}

/// An account's code hash and storage, proven at one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenAccount {
    /// The block the proof is for.
    pub block: u64,
    /// The hash of the account's code.
    pub code_hash: B256,
    /// The slots asked for, with their proven values (zero for an absent slot).
    pub storage: BTreeMap<B256, U256>,
}

/// A log proven by the receipts root of its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenLog {
    /// The block.
    pub block: u64,
    /// Its index among the block's logs.
    pub log_index: u64,
    /// Address, topics and data.
    pub log: Log,
}

/// Fetches facts from one endpoint and accepts only what verifies.
#[derive(Debug, Clone)]
pub struct Prover {
    endpoint: Endpoint,
}

impl Prover {
    /// A prover asking `endpoint`.
    pub fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }

    /// The endpoint's label.
    pub fn endpoint(&self) -> &str {
        &self.endpoint.label
    }

    fn rpc(&self, action: impl Into<String>, reason: impl std::fmt::Display) -> ProofError {
        ProofError::Rpc {
            endpoint: self.endpoint.label.clone(),
            action: action.into(),
            reason: reason.to_string(),
        }
    }

    /// The header of block `id`, accepted only if it hashes to `expected`.
    async fn header(&self, id: BlockId, expected: B256) -> Result<ProvenHeader, ProofError> {
        let block = self
            .endpoint
            .provider
            .get_block(id)
            .await
            .map_err(|e| self.rpc(format!("reading block {id}"), e))?
            .ok_or_else(|| ProofError::MissingBlock {
                endpoint: self.endpoint.label.clone(),
                block: id.to_string(),
            })?;
        check_header(block.header.inner, expected, &self.endpoint.label)
    }

    /// The account at `address` in the state of `header`, with the values of `slots`: the
    /// account proof is checked against the header's state root and every slot's proof against
    /// the proven storage root. An account that does not exist is an error (a contract is
    /// expected).
    pub async fn account(
        &self,
        header: &ProvenHeader,
        address: Address,
        slots: &[B256],
    ) -> Result<ProvenAccount, ProofError> {
        let response = self
            .endpoint
            .provider
            .get_proof(address, slots.to_vec())
            .block_id(BlockId::hash(header.hash))
            .await
            .map_err(|e| self.rpc(format!("eth_getProof for {address}"), e))?;
        check_account(header, address, slots, &response, &self.endpoint.label)
    }

    /// Every log of the block of `header`, in order: the block's receipts are fetched and their
    /// trie root recomputed; it must be the header's receipts root.
    pub async fn logs(&self, header: &ProvenHeader) -> Result<Vec<ProvenLog>, ProofError> {
        let action = format!("eth_getBlockReceipts for block {}", header.number);
        // Raw JSON: an OP-stack block's receipts include deposits, which alloy's Ethereum
        // receipt type does not parse.
        let receipts: Option<Vec<serde_json::Value>> = self
            .endpoint
            .provider
            .raw_request("eth_getBlockReceipts".into(), (BlockId::hash(header.hash),))
            .await
            .map_err(|e| self.rpc(action.clone(), e))?;
        let receipts = receipts
            .ok_or_else(|| ProofError::MissingBlock {
                endpoint: self.endpoint.label.clone(),
                block: header.hash.to_string(),
            })?
            .into_iter()
            .map(BlockReceipt::from_rpc)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.rpc(action, e))?;
        check_receipts(header, &receipts, &self.endpoint.label)
    }
}

/// `header`, accepted only if it hashes to `expected`.
fn check_header(
    header: Header,
    expected: B256,
    endpoint: &str,
) -> Result<ProvenHeader, ProofError> {
    let computed = header.hash_slow();
    if computed != expected {
        return Err(ProofError::HeaderHash {
            endpoint: endpoint.to_owned(),
            block: header.number,
            expected,
            computed,
        });
    }
    Ok(ProvenHeader {
        number: header.number,
        hash: computed,
        header,
    })
}

/// An `eth_getProof` answer for `address` and `slots`, checked against the state root of
/// `header`: the account proof, then each slot's proof against the proven storage root.
fn check_account(
    header: &ProvenHeader,
    address: Address,
    slots: &[B256],
    response: &EIP1186AccountProofResponse,
    endpoint: &str,
) -> Result<ProvenAccount, ProofError> {
    let account_error = |reason: String| ProofError::Account {
        endpoint: endpoint.to_owned(),
        address,
        block: header.number,
        reason,
    };
    if response.address != address {
        return Err(account_error(format!(
            "the answer is about {}",
            response.address
        )));
    }
    let account = TrieAccount::new(
        response.nonce,
        response.balance,
        response.storage_hash,
        response.code_hash,
    );
    // An empty account is not in the state trie (EIP-161): its proof must show it absent.
    let expected = (account != TrieAccount::default()).then(|| rlp::encode(account));
    verify_proof(
        header.header.state_root,
        Nibbles::unpack(keccak256(address)),
        expected,
        &response.account_proof,
    )
    .map_err(|e| account_error(e.to_string()))?;

    let mut storage = BTreeMap::new();
    for slot in slots {
        let proof = response
            .storage_proof
            .iter()
            .find(|p| p.key.as_b256() == *slot)
            .ok_or_else(|| account_error(format!("the answer has no proof for slot {slot}")))?;
        // The trie holds the RLP of the value; a zero value is an absent key.
        let expected = (!proof.value.is_zero()).then(|| rlp::encode(proof.value));
        verify_proof(
            response.storage_hash,
            Nibbles::unpack(keccak256(slot)),
            expected,
            &proof.proof,
        )
        .map_err(|e| ProofError::Storage {
            endpoint: endpoint.to_owned(),
            address,
            slot: *slot,
            block: header.number,
            reason: e.to_string(),
        })?;
        storage.insert(*slot, proof.value);
    }
    Ok(ProvenAccount {
        block: header.number,
        code_hash: response.code_hash,
        storage,
    })
}

/// The logs of `receipts`, in order, once their trie root is the receipts root of `header`.
fn check_receipts(
    header: &ProvenHeader,
    receipts: &[BlockReceipt],
    endpoint: &str,
) -> Result<Vec<ProvenLog>, ProofError> {
    let computed = ordered_trie_root_with_encoder(receipts, BlockReceipt::encode_2718);
    if computed != header.header.receipts_root {
        return Err(ProofError::ReceiptsRoot {
            endpoint: endpoint.to_owned(),
            block: header.number,
            expected: header.header.receipts_root,
            computed,
        });
    }
    Ok(receipts
        .iter()
        .flat_map(BlockReceipt::logs)
        .zip(0u64..)
        .map(|(log, log_index)| ProvenLog {
            block: header.number,
            log_index,
            log: log.clone(),
        })
        .collect())
}

/// The anchor's header and the ancestors proven so far: each one's hash is its child's parent
/// hash, so each is as trusted as the anchor.
#[derive(Debug)]
pub struct ProvenChain {
    prover: Prover,
    anchor: Anchor,
    anchor_number: u64,
    /// Headers from the lowest proven to the anchor, by number.
    headers: BTreeMap<u64, ProvenHeader>,
    max_walk: u64,
}

impl ProvenChain {
    /// Fetches the anchor's header from `prover`'s endpoint and checks its hash; ancestors more
    /// than `max_walk` blocks below it are refused rather than walked to.
    pub async fn new(prover: Prover, anchor: Anchor, max_walk: u64) -> Result<Self, ProofError> {
        let header = prover
            .header(BlockId::hash(anchor.hash), anchor.hash)
            .await?;
        Self::anchored(prover, anchor, header, max_walk)
    }

    /// A chain anchored at `header`, already fetched (by [`anchor::agree_on_block`]), accepted
    /// only if it hashes to the anchor's hash and has its number.
    pub fn from_header(
        prover: Prover,
        anchor: Anchor,
        header: Header,
        max_walk: u64,
    ) -> Result<Self, ProofError> {
        let header = check_header(header, anchor.hash, prover.endpoint())?;
        Self::anchored(prover, anchor, header, max_walk)
    }

    fn anchored(
        prover: Prover,
        anchor: Anchor,
        header: ProvenHeader,
        max_walk: u64,
    ) -> Result<Self, ProofError> {
        if anchor.number.is_some_and(|n| n != header.number) {
            return Err(ProofError::HeaderHash {
                endpoint: prover.endpoint().to_owned(),
                block: anchor.number.unwrap_or_default(),
                expected: anchor.hash,
                computed: header.hash,
            });
        }
        let anchor = Anchor {
            number: Some(header.number),
            ..anchor
        };
        Ok(Self {
            prover,
            anchor,
            anchor_number: header.number,
            headers: BTreeMap::from([(header.number, header)]),
            max_walk,
        })
    }

    /// The anchor, with its number established.
    pub fn anchor(&self) -> &Anchor {
        &self.anchor
    }

    /// How many headers were fetched and proven (the anchor's included).
    pub fn headers_fetched(&self) -> usize {
        self.headers.len()
    }

    /// The prover.
    pub fn prover(&self) -> &Prover {
        &self.prover
    }

    /// The proven header of block `number`: the anchor, or an ancestor reached by following
    /// parent hashes down from the lowest header proven so far (one request per block).
    pub async fn header(&mut self, number: u64) -> Result<&ProvenHeader, ProofError> {
        let anchor = self.anchor_number;
        if number > anchor {
            return Err(ProofError::AfterAnchor {
                block: number,
                anchor,
            });
        }
        if anchor - number > self.max_walk {
            return Err(ProofError::TooFar {
                block: number,
                anchor,
                distance: anchor - number,
                limit: self.max_walk,
            });
        }
        while let Some((_, lowest)) = self
            .headers
            .first_key_value()
            .filter(|(lowest, _)| **lowest > number)
        {
            let parent = self
                .prover
                .header(
                    BlockNumberOrTag::Number(lowest.number - 1).into(),
                    lowest.header.parent_hash,
                )
                .await?;
            self.headers.insert(parent.number, parent);
        }
        self.headers
            .get(&number)
            .ok_or_else(|| ProofError::MissingBlock {
                endpoint: self.prover.endpoint().to_owned(),
                block: number.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::{
        network::TransactionBuilder,
        primitives::{Bytes, U256},
        rpc::types::TransactionRequest,
    };
    use seed_testkit::anvil::TestAnvil;

    use super::*;

    /// A contract whose every call logs one word (`LOG1(0, 32, topic 1)` of 0x2a); its init
    /// code returns that runtime.
    const LOGGER_INIT: &str = "6c602a600052600160206000a100600052600d6013f3";

    struct Fixture {
        _anvil: TestAnvil,
        prover: Prover,
        header: ProvenHeader,
        logger: Address,
        slots: [B256; 2],
        proof: EIP1186AccountProofResponse,
        receipts: Vec<BlockReceipt>,
    }

    /// A provider signing as anvil's account 0, and the logger it deployed.
    async fn with_logger(anvil: &TestAnvil) -> (DynProvider, Address) {
        let provider = ProviderBuilder::new()
            .wallet(anvil.signer(0))
            .connect_http(anvil.endpoint().parse().unwrap())
            .erased();
        let deploy = TransactionRequest::default()
            .with_deploy_code(Bytes::from(alloy::hex::decode(LOGGER_INIT).unwrap()));
        let logger = provider
            .send_transaction(deploy)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .contract_address
            .unwrap();
        (provider, logger)
    }

    /// A real node: a contract with one set slot and one absent, and a block with its log.
    async fn fixture() -> Fixture {
        let anvil = TestAnvil::spawn().unwrap();
        let (provider, logger) = with_logger(&anvil).await;
        let set = B256::with_last_byte(7);
        let _: bool = provider
            .raw_request(
                "anvil_setStorageAt".into(),
                (logger, set, B256::with_last_byte(0x2a)),
            )
            .await
            .unwrap();
        let call = provider
            .send_transaction(TransactionRequest::default().with_to(logger))
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let block = call.block_hash.unwrap();
        let prover = Prover::new(Endpoint::with_provider(&anvil.endpoint(), provider.clone()));
        let header = prover.header(BlockId::hash(block), block).await.unwrap();
        let slots = [set, B256::with_last_byte(8)];
        let proof = provider
            .get_proof(logger, slots.to_vec())
            .block_id(BlockId::hash(block))
            .await
            .unwrap();
        let receipts = block_receipts(&provider, block).await;
        Fixture {
            _anvil: anvil,
            prover,
            header,
            logger,
            slots,
            proof,
            receipts,
        }
    }

    /// The receipts of `block`, as `Prover::logs` reads them.
    async fn block_receipts(provider: &DynProvider, block: B256) -> Vec<BlockReceipt> {
        let receipts: Vec<serde_json::Value> = provider
            .raw_request("eth_getBlockReceipts".into(), (BlockId::hash(block),))
            .await
            .unwrap();
        receipts
            .into_iter()
            .map(|r| BlockReceipt::from_rpc(r).unwrap())
            .collect()
    }

    /// Every node of `proof`, with one byte changed at a few places each.
    fn tampered(proof: &[Bytes]) -> Vec<Vec<Bytes>> {
        let mut all = Vec::new();
        for (i, node) in proof.iter().enumerate() {
            for at in [0, node.len() / 2, node.len() - 1] {
                let mut nodes = proof.to_vec();
                let mut bytes = node.to_vec();
                bytes[at] ^= 0x01;
                nodes[i] = bytes.into();
                all.push(nodes);
            }
        }
        let mut short = proof.to_vec();
        short.pop();
        all.push(short);
        all
    }

    #[tokio::test]
    async fn answers_of_a_real_node_prove_and_every_tampered_one_fails() {
        let f = fixture().await;
        let endpoint = f.prover.endpoint().to_owned();
        let check = |proof: &EIP1186AccountProofResponse| {
            check_account(&f.header, f.logger, &f.slots, proof, &endpoint)
        };

        // The honest answers prove: the set slot, the absent slot, the code, the log.
        let account = check(&f.proof).unwrap();
        assert_eq!(account.storage[&f.slots[0]], U256::from(0x2a));
        assert_eq!(account.storage[&f.slots[1]], U256::ZERO);
        let code = f
            .prover
            .endpoint
            .provider
            .get_code_at(f.logger)
            .await
            .unwrap();
        assert_eq!(account.code_hash, keccak256(&code));
        let logs = check_receipts(&f.header, &f.receipts, &endpoint).unwrap();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].log.address, f.logger);
        assert_eq!(
            logs[0].log.data.data.as_ref(),
            B256::with_last_byte(0x2a).as_slice()
        );

        // The account: any node changed or missing, or another balance, nonce or code.
        let mut failures = 0;
        for nodes in tampered(&f.proof.account_proof) {
            let proof = EIP1186AccountProofResponse {
                account_proof: nodes,
                ..f.proof.clone()
            };
            assert!(matches!(check(&proof), Err(ProofError::Account { .. })));
            failures += 1;
        }
        for lie in [
            EIP1186AccountProofResponse {
                balance: f.proof.balance + U256::from(1),
                ..f.proof.clone()
            },
            EIP1186AccountProofResponse {
                nonce: f.proof.nonce + 1,
                ..f.proof.clone()
            },
            EIP1186AccountProofResponse {
                code_hash: keccak256("other code"),
                ..f.proof.clone()
            },
            EIP1186AccountProofResponse {
                address: Address::repeat_byte(9),
                ..f.proof.clone()
            },
        ] {
            assert!(matches!(check(&lie), Err(ProofError::Account { .. })));
        }

        // Storage: a changed value, a value claimed for the absent slot, a tampered node, a
        // proof missing.
        for (slot, value) in [(0, U256::from(0x2b)), (0, U256::ZERO), (1, U256::from(1))] {
            let mut proof = f.proof.clone();
            proof.storage_proof[slot].value = value;
            assert!(
                matches!(check(&proof), Err(ProofError::Storage { .. })),
                "{slot} {value}"
            );
        }
        for slot in 0..2 {
            for nodes in tampered(&f.proof.storage_proof[slot].proof) {
                let mut proof = f.proof.clone();
                proof.storage_proof[slot].proof = nodes;
                assert!(matches!(check(&proof), Err(ProofError::Storage { .. })));
                failures += 1;
            }
        }
        // An account that does not exist: proven absent, its slots zero; claiming code or a
        // balance for it fails.
        let nobody = Address::repeat_byte(0x77);
        let absent = f
            .prover
            .endpoint
            .provider
            .get_proof(nobody, vec![f.slots[0]])
            .block_id(BlockId::hash(f.header.hash))
            .await
            .unwrap();
        let proven = check_account(&f.header, nobody, &f.slots[..1], &absent, &endpoint).unwrap();
        assert_eq!(proven.code_hash, alloy::primitives::KECCAK256_EMPTY);
        assert_eq!(proven.storage[&f.slots[0]], U256::ZERO);
        let claimed = EIP1186AccountProofResponse {
            code_hash: f.proof.code_hash,
            ..absent.clone()
        };
        assert!(matches!(
            check_account(&f.header, nobody, &f.slots[..1], &claimed, &endpoint),
            Err(ProofError::Account { .. })
        ));

        let mut missing = f.proof.clone();
        missing.storage_proof.pop();
        assert!(matches!(check(&missing), Err(ProofError::Account { .. })));
        assert!(failures > 10, "{failures} tampered proofs tried");

        // Receipts: a log dropped, altered or added, a status changed.
        let mut variants: Vec<Vec<BlockReceipt>> = Vec::new();
        let with = |change: &dyn Fn(&mut alloy::consensus::Receipt)| {
            let mut receipts = f.receipts.clone();
            if let BlockReceipt::Ethereum(envelope) = &mut receipts[0] {
                if let Some(with_bloom) = envelope.as_receipt_with_bloom_mut() {
                    change(&mut with_bloom.receipt);
                }
            }
            receipts
        };
        variants.push(with(&|r| r.logs.clear()));
        variants.push(with(&|r| {
            r.logs[0].data = alloy::primitives::LogData::new_unchecked(vec![], Bytes::new())
        }));
        variants.push(with(&|r| {
            let copy = r.logs[0].clone();
            r.logs.push(copy);
        }));
        variants.push(with(&|r| r.status = false.into()));
        variants.push(Vec::new());
        for receipts in variants {
            assert!(matches!(
                check_receipts(&f.header, &receipts, &endpoint),
                Err(ProofError::ReceiptsRoot { .. })
            ));
        }

        // A header that is not the block: any field changed.
        let mut header = f.header.header.clone();
        header.gas_used += 1;
        assert!(matches!(
            check_header(header, f.header.hash, &endpoint),
            Err(ProofError::HeaderHash { .. })
        ));
        let mut header = f.header.header.clone();
        header.receipts_root = B256::ZERO;
        assert!(matches!(
            check_header(header, f.header.hash, &endpoint),
            Err(ProofError::HeaderHash { .. })
        ));
    }

    #[tokio::test]
    async fn ancestors_are_proven_by_parent_hashes_within_the_walk_limit() {
        let f = fixture().await;
        let number = f.header.number;
        let anchor = Anchor {
            number: Some(number),
            hash: f.header.hash,
            source: AnchorSource::Given {
                origin: "test".to_owned(),
            },
        };
        let mut chain = ProvenChain::new(f.prover.clone(), anchor.clone(), 1)
            .await
            .unwrap();
        let parent = chain.header(number - 1).await.unwrap().clone();
        assert_eq!(parent.hash, f.header.header.parent_hash);
        assert_eq!(chain.headers_fetched(), 2);
        assert!(matches!(
            chain.header(number - 2).await,
            Err(ProofError::TooFar {
                distance: 2,
                limit: 1,
                ..
            })
        ));
        assert!(matches!(
            chain.header(number + 1).await,
            Err(ProofError::AfterAnchor { .. })
        ));
        // An anchor whose number is not its block's.
        let wrong = Anchor {
            number: Some(number + 1),
            ..anchor
        };
        assert!(matches!(
            ProvenChain::new(f.prover.clone(), wrong, 1).await,
            Err(ProofError::HeaderHash { .. })
        ));
    }

    /// An OP-stack block (anvil's optimism network): a deposit (type 0x7e, with its deposit
    /// nonce and receipt version) and a call that logs, mined together. The receipts root is
    /// recomputed over both, the log keeps its index, and a changed deposit field fails.
    #[tokio::test]
    async fn op_stack_blocks_with_deposits_prove_their_logs() {
        let anvil = TestAnvil::spawn_with(|a| a.args(["--network", "optimism"])).unwrap();
        let (provider, logger) = with_logger(&anvil).await;
        let _: () = provider
            .raw_request("evm_setAutomine".into(), (false,))
            .await
            .unwrap();
        // From another account than the call's: a deposit carries no nonce of its sender.
        let deposit = serde_json::json!({
            "from": anvil.address(1),
            "to": anvil.address(2),
            "value": "0x1",
            "type": "0x7e",
            "sourceHash": B256::with_last_byte(1),
            "mint": "0x0",
            "isSystemTx": false,
            "gas": "0x5208",
        });
        let _: B256 = provider
            .raw_request("eth_sendTransaction".into(), (deposit,))
            .await
            .unwrap();
        let _pending = provider
            .send_transaction(
                TransactionRequest::default()
                    .with_to(logger)
                    .with_gas_limit(100_000),
            )
            .await
            .unwrap();
        let _: String = provider.raw_request("evm_mine".into(), ()).await.unwrap();
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap();
        let prover = Prover::new(Endpoint::with_provider(&anvil.endpoint(), provider.clone()));
        let header = prover
            .header(BlockId::hash(block.header.hash), block.header.hash)
            .await
            .unwrap();
        let logs = prover.logs(&header).await.unwrap();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!((logs[0].log.address, logs[0].log_index), (logger, 0));

        let mut receipts = block_receipts(&provider, header.hash).await;
        let deposit = receipts
            .iter_mut()
            .find_map(|receipt| match receipt {
                BlockReceipt::Optimism(op_alloy_consensus::OpReceiptEnvelope::Deposit(d)) => {
                    Some(d)
                }
                _ => None,
            })
            .expect("the block holds the deposit");
        assert_eq!(deposit.receipt.deposit_receipt_version, Some(1));
        deposit.receipt.deposit_nonce = deposit.receipt.deposit_nonce.map(|n| n + 1);
        assert!(matches!(
            check_receipts(&header, &receipts, prover.endpoint()),
            Err(ProofError::ReceiptsRoot { .. })
        ));
    }
}
