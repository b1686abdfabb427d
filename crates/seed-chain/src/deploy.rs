//! `seed-eth deploy`: the same deployment as `script/Deploy.s.sol`, in the
//! same order from the same account, so both produce the same addresses and
//! the same wiring (docs/governance.md):
//!
//! 1. Safe 1.4.1 singleton, proxy factory and fallback handler (published
//!    artefacts), then a Safe proxy set up inside `createProxyWithNonce`;
//!    skipped when an existing Safe is given.
//! 2. `TimelockController(minDelay, [safe], [address(0)], address(0))`.
//! 3. `ReleaseLedger(timelock, predicted registry proxy)`.
//! 4. `SeedRegistry` implementation, then `ERC1967Proxy(implementation,
//!    initialize(...))`, which must land on the predicted address.
//!
//! Then every permission is re-read from the chain ([`check_wiring`]) and the
//! deployment file is built from chain state ([`read_deployment`]).

use alloy::{
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol_types::{SolCall, SolConstructor},
};
use seed_core::System;

use crate::{
    bindings::{
        self, versions, CompatibilityFallbackHandler, ERC1967Proxy, ReleaseLedger, Safe,
        SafeProxyFactory, SeedRegistry, TimelockController,
    },
    chain::Chain,
    deployment::{BuilderEntry, Contracts, Deployment, Governance, Rules, Versions},
    error::{ChainError, Result},
};

/// The EIP-1967 implementation slot: `bytes32(uint256(keccak256("eip1967.proxy.implementation")) - 1)`.
pub const IMPLEMENTATION_SLOT: B256 =
    alloy::primitives::b256!("360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// Independence policy bit: organisations must differ.
pub const TAG_ORGANISATION: u8 = 1;
/// Independence policy bit: jurisdictions must differ.
pub const TAG_JURISDICTION: u8 = 2;
/// Independence policy bit: infrastructures must differ.
pub const TAG_INFRASTRUCTURE: u8 = 4;
/// Every tag must differ.
pub const POLICY_ALL_DISTINCT: u8 = 7;

/// anvil's well-known development accounts 1..6 of `test test … junk` (public keys; local use only).
const ANVIL_ACCOUNTS: [Address; 6] = [
    alloy::primitives::address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    alloy::primitives::address!("3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
    alloy::primitives::address!("90F79bf6EB2c4f870365E785982E1f101E93b906"),
    alloy::primitives::address!("15d34AAf54267DB7D7c367839AAf71A00a2C6A65"),
    alloy::primitives::address!("9965507D1a55bcC2695C58ba16FB37d819B0A4dc"),
    alloy::primitives::address!("976EA74026E726554dB657fA54763abd0C3a0aa9"),
];

/// The id of a tag, exactly as `DeployConfigs.tagId` in script/DeployConfig.sol: a 32-byte
/// `0x`/`0X` hex string is the id itself, anything else is `keccak256(bytes(value))`.
pub fn tag_id(value: &str) -> Result<B256> {
    let bytes = value.as_bytes();
    if bytes.len() == 66 && bytes[0] == b'0' && (bytes[1] == b'x' || bytes[1] == b'X') {
        return value[2..].parse::<B256>().map_err(|_| {
            ChainError::Config(format!(
                "tag '{value}' looks like a 32-byte id (0x + 64 characters) but is not hex"
            ))
        });
    }
    Ok(keccak256(bytes))
}

/// One builder to register at deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuilderConfig {
    /// The builder's signing address.
    pub signer: Address,
    /// Organisation tag id.
    pub organisation: B256,
    /// Jurisdiction tag id.
    pub jurisdiction: B256,
    /// Infrastructure tag id.
    pub infrastructure: B256,
}

impl BuilderConfig {
    /// A builder from tag names or ids (see [`tag_id`]).
    pub fn from_tags(
        signer: Address,
        organisation: &str,
        jurisdiction: &str,
        infrastructure: &str,
    ) -> Result<Self> {
        Ok(Self {
            signer,
            organisation: tag_id(organisation)?,
            jurisdiction: tag_id(jurisdiction)?,
            infrastructure: tag_id(infrastructure)?,
        })
    }

    /// Parses `SIGNER,ORGANISATION,JURISDICTION,INFRASTRUCTURE`.
    pub fn parse(spec: &str) -> Result<Self> {
        let parts: Vec<&str> = spec.split(',').collect();
        let [signer, organisation, jurisdiction, infrastructure] = parts[..] else {
            return Err(ChainError::Config(format!(
                "builder '{spec}' is not SIGNER,ORGANISATION,JURISDICTION,INFRASTRUCTURE"
            )));
        };
        let signer = signer
            .trim()
            .parse::<Address>()
            .map_err(|e| ChainError::Config(format!("builder '{spec}': signer: {e}")))?;
        Self::from_tags(
            signer,
            organisation.trim(),
            jurisdiction.trim(),
            infrastructure.trim(),
        )
    }

    fn tag(&self, bit: u8) -> B256 {
        match bit {
            TAG_ORGANISATION => self.organisation,
            TAG_JURISDICTION => self.jurisdiction,
            _ => self.infrastructure,
        }
    }
}

/// Everything a deployment needs; the mirror of `DeployConfig` in script/DeployConfig.sol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    /// An existing Safe to use; `None` deploys one.
    pub safe: Option<Address>,
    /// Owners of the Safe to deploy (ignored with `safe`).
    pub safe_owners: Vec<Address>,
    /// Signatures the new Safe requires.
    pub safe_threshold: u64,
    /// `saltNonce` of `createProxyWithNonce`.
    pub safe_salt_nonce: U256,
    /// Timelock minimum delay, seconds.
    pub timelock_min_delay: u64,
    /// Initial builders.
    pub builders: Vec<BuilderConfig>,
    /// `k`.
    pub quorum: u8,
    /// Required systems, strictly ascending bytewise.
    pub systems: Vec<String>,
    /// Bitmask of tags that must differ between builders.
    pub independence_policy: u8,
}

impl DeployConfig {
    /// The local defaults of `DeployConfigs.defaults()`: builders on anvil accounts 1..3 with
    /// distinct tags, k = 2, aarch64-linux and x86_64-linux, all tags independent, a 2-of-3
    /// Safe on accounts 4..6, a one-day delay. Never use on a real network.
    pub fn anvil_defaults() -> Self {
        let orgs = ["alpha-builders", "beta-builders", "gamma-builders"];
        let jurisdictions = ["CH", "DE", "US"];
        let infrastructures = ["github-actions", "gitlab-saas", "self-hosted"];
        let builders = (0..3)
            .map(|i| BuilderConfig {
                signer: ANVIL_ACCOUNTS[i],
                organisation: keccak256(orgs[i]),
                jurisdiction: keccak256(jurisdictions[i]),
                infrastructure: keccak256(infrastructures[i]),
            })
            .collect();
        Self {
            safe: None,
            safe_owners: ANVIL_ACCOUNTS[3..6].to_vec(),
            safe_threshold: 2,
            safe_salt_nonce: U256::ZERO,
            timelock_min_delay: 86_400,
            builders,
            quorum: 2,
            systems: vec!["aarch64-linux".to_owned(), "x86_64-linux".to_owned()],
            independence_policy: POLICY_ALL_DISTINCT,
        }
    }

    /// Checks what the contracts would reject, so a bad configuration fails before the first
    /// transaction instead of half-way through a deployment.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(ChainError::Config(msg));
        if self.safe.is_none() {
            if self.safe_owners.is_empty() {
                return bad("the Safe needs at least one owner".to_owned());
            }
            for (i, owner) in self.safe_owners.iter().enumerate() {
                // Safe reserves address(1) as its list sentinel.
                if owner.is_zero() || *owner == Address::with_last_byte(1) {
                    return bad(format!("Safe owner {owner} is not a usable owner address"));
                }
                if self.safe_owners[..i].contains(owner) {
                    return bad(format!("Safe owner {owner} is listed twice"));
                }
            }
            if self.safe_threshold == 0 || self.safe_threshold > self.safe_owners.len() as u64 {
                return bad(format!(
                    "Safe threshold {} is not between 1 and the {} owners",
                    self.safe_threshold,
                    self.safe_owners.len()
                ));
            }
        } else if self.safe.is_some_and(|s| s.is_zero()) {
            return bad("--safe is the zero address".to_owned());
        }
        if self.builders.is_empty() || self.builders.len() > 64 {
            return bad(format!(
                "{} builders given; between 1 and 64 are possible",
                self.builders.len()
            ));
        }
        for (i, b) in self.builders.iter().enumerate() {
            if b.signer.is_zero() {
                return bad(format!("builder {i} has the zero address as signer"));
            }
            if self.builders[..i].iter().any(|o| o.signer == b.signer) {
                return bad(format!("builder signer {} is listed twice", b.signer));
            }
        }
        if self.quorum == 0 || usize::from(self.quorum) > self.builders.len() {
            return bad(format!(
                "quorum {} is not between 1 and the {} builders",
                self.quorum,
                self.builders.len()
            ));
        }
        if self.independence_policy > POLICY_ALL_DISTINCT {
            return bad(format!(
                "independence policy {} is not a 3-bit mask (1 organisation, 2 jurisdiction, 4 infrastructure)",
                self.independence_policy
            ));
        }
        for (bit, name) in [
            (TAG_ORGANISATION, "organisation"),
            (TAG_JURISDICTION, "jurisdiction"),
            (TAG_INFRASTRUCTURE, "infrastructure"),
        ] {
            if self.independence_policy & bit == 0 {
                continue;
            }
            for (i, b) in self.builders.iter().enumerate() {
                if b.tag(bit).is_zero() {
                    return bad(format!(
                        "builder {i} has a zero {name} tag, which the independence policy forbids"
                    ));
                }
                if let Some(j) = self.builders[..i]
                    .iter()
                    .position(|o| o.tag(bit) == b.tag(bit))
                {
                    return bad(format!(
                        "builders {j} and {i} share the {name} tag, but the independence policy requires distinct ones"
                    ));
                }
            }
        }
        if self.systems.is_empty() {
            return bad("at least one required system is needed".to_owned());
        }
        for (i, system) in self.systems.iter().enumerate() {
            system
                .parse::<System>()
                .map_err(|e| ChainError::Config(format!("required system: {e}")))?;
            if i > 0 && self.systems[i - 1].as_bytes() >= system.as_bytes() {
                return bad(format!(
                    "required systems must be strictly ascending bytewise without duplicates: '{}' comes after '{}'",
                    system,
                    self.systems[i - 1]
                ));
            }
        }
        Ok(())
    }
}

/// Safe 1.4.1 infrastructure deployed alongside a new Safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SafeInfra {
    /// The singleton (master copy).
    pub singleton: Address,
    /// The proxy factory.
    pub factory: Address,
    /// The compatibility fallback handler.
    pub fallback_handler: Address,
}

/// One transaction of a deployment, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployStep {
    /// What it did.
    pub action: String,
    /// The transaction hash.
    pub tx: B256,
    /// Gas used.
    pub gas_used: u64,
    /// The contract it created, if any.
    pub address: Option<Address>,
}

/// What [`deploy`] produced.
#[derive(Debug, Clone)]
pub struct DeployOutcome {
    /// The deployment file contents, read back from the chain.
    pub deployment: Deployment,
    /// Safe infrastructure, when a Safe was deployed.
    pub safe_infra: Option<SafeInfra>,
    /// The transactions, in order.
    pub steps: Vec<DeployStep>,
}

/// Deploys and wires everything from `chain`'s signer; see the module documentation.
/// `progress` is told about each transaction as it is confirmed.
pub async fn deploy(
    chain: &Chain,
    config: &DeployConfig,
    mut progress: impl FnMut(&DeployStep),
) -> Result<DeployOutcome> {
    config.validate()?;
    let deployer = chain
        .sender()
        .ok_or_else(|| ChainError::Config("deploying needs a signing key".to_owned()))?;
    let provider = chain.provider();
    let deployed_at_block = chain.block_number().await?;
    let mut steps = Vec::new();
    let mut record = |step: DeployStep| {
        progress(&step);
        steps.push(step);
    };

    // 1. Safe
    let (safe, safe_infra) = match config.safe {
        Some(safe) => {
            if chain.code_at(safe).await?.is_empty() {
                return Err(ChainError::NoCode {
                    what: "Safe".to_owned(),
                    address: safe,
                    origin: "--safe".to_owned(),
                    chain_id: chain.chain_id(),
                });
            }
            // Fail before the first transaction if this is not a Safe: the timelock would
            // otherwise be created with a proposer that can never propose.
            let threshold = Safe::new(safe, provider)
                .getThreshold()
                .call()
                .await
                .map_err(|e| {
                    ChainError::Config(format!(
                        "--safe {safe} does not answer getThreshold(), so it is not a Safe: {e}"
                    ))
                })?;
            if threshold.is_zero() {
                return Err(ChainError::Config(format!(
                    "--safe {safe} has threshold 0 (not set up)"
                )));
            }
            (safe, None)
        }
        None => {
            let singleton = create(
                chain,
                "deploying the Safe 1.4.1 singleton",
                Safe::BYTECODE.clone(),
                &mut record,
            )
            .await?;
            let factory = create(
                chain,
                "deploying the Safe proxy factory",
                SafeProxyFactory::BYTECODE.clone(),
                &mut record,
            )
            .await?;
            let fallback_handler = create(
                chain,
                "deploying the Safe fallback handler",
                CompatibilityFallbackHandler::BYTECODE.clone(),
                &mut record,
            )
            .await?;
            let version = Safe::new(singleton, provider)
                .VERSION()
                .call()
                .await
                .map_err(|e| chain.rpc_error("reading the Safe singleton's VERSION()", e))?;
            if version != versions::SAFE {
                return Err(ChainError::Wiring(format!(
                    "the Safe singleton reports version {version}, expected {}",
                    versions::SAFE
                )));
            }
            let infra = SafeInfra {
                singleton,
                factory,
                fallback_handler,
            };
            let safe = create_safe(chain, &infra, config, &mut record).await?;
            (safe, Some(infra))
        }
    };

    // 2. Timelock: the Safe proposes (and, by the constructor, cancels), anyone executes, no admin.
    let timelock_args = TimelockController::constructorCall {
        minDelay: U256::from(config.timelock_min_delay),
        proposers: vec![safe],
        executors: vec![Address::ZERO],
        admin: Address::ZERO,
    };
    let timelock = create(
        chain,
        "deploying the TimelockController",
        with_args(&TimelockController::BYTECODE, &timelock_args.abi_encode()),
        &mut record,
    )
    .await?;

    // 3. Ledger, whose writer is the registry proxy two CREATEs later: never an EOA, never a
    // placeholder that would need a second transaction.
    let nonce = provider
        .get_transaction_count(deployer)
        .await
        .map_err(|e| chain.rpc_error("reading the deployer's nonce", e))?;
    let predicted_registry = deployer.create(nonce + 2);
    let ledger_args = ReleaseLedger::constructorCall {
        owner_: timelock,
        initialWriter: predicted_registry,
    };
    let ledger = create(
        chain,
        "deploying the ReleaseLedger",
        with_args(&ReleaseLedger::BYTECODE, &ledger_args.abi_encode()),
        &mut record,
    )
    .await?;

    // 4. Registry implementation and proxy, initialised inside the proxy's constructor so nobody
    // can initialise it first.
    let implementation = create(
        chain,
        "deploying the SeedRegistry implementation",
        SeedRegistry::BYTECODE.clone(),
        &mut record,
    )
    .await?;
    let init = registry_init_data(config, timelock, safe, ledger);
    let proxy_args = ERC1967Proxy::constructorCall {
        implementation,
        _data: init,
    };
    let registry = create(
        chain,
        "deploying the SeedRegistry proxy (ERC-1967) with initialize()",
        with_args(&ERC1967Proxy::BYTECODE, &proxy_args.abi_encode()),
        &mut record,
    )
    .await?;
    if registry != predicted_registry {
        return Err(ChainError::Wiring(format!(
            "the registry proxy landed at {registry}, not at {predicted_registry} where the ledger expects its \
             writer; was another transaction sent from {deployer} during the deployment?"
        )));
    }

    let contracts = Contracts {
        ledger,
        registry,
        registry_implementation: implementation,
        safe,
        timelock,
    };
    check_wiring(chain, &contracts, Some(deployer), Some(config)).await?;
    let deployment = read_deployment(chain, contracts, deployed_at_block).await?;
    Ok(DeployOutcome {
        deployment,
        safe_infra,
        steps,
    })
}

/// Creation code followed by ABI-encoded constructor arguments.
fn with_args(bytecode: &Bytes, args: &[u8]) -> Bytes {
    let mut code = bytecode.to_vec();
    code.extend_from_slice(args);
    code.into()
}

/// `initialize(owner, guardian, ledger, builders, quorum, systems, policy)`, as the forge script encodes it.
pub fn registry_init_data(
    config: &DeployConfig,
    owner: Address,
    guardian: Address,
    ledger: Address,
) -> Bytes {
    let builders = config
        .builders
        .iter()
        .map(|b| bindings::ISeedRegistry::Builder {
            signer: b.signer,
            organisation: b.organisation,
            jurisdiction: b.jurisdiction,
            infrastructure: b.infrastructure,
            active: true,
        })
        .collect();
    SeedRegistry::initializeCall {
        owner_: owner,
        guardian_: guardian,
        ledger_: ledger,
        builders_: builders,
        quorum_: config.quorum,
        systems_: config.systems.clone(),
        independencePolicy_: config.independence_policy,
    }
    .abi_encode()
    .into()
}

/// Sends a CREATE transaction and returns the new contract's address.
async fn create(
    chain: &Chain,
    action: &str,
    code: Bytes,
    record: &mut impl FnMut(DeployStep),
) -> Result<Address> {
    let receipt = chain
        .send(
            action,
            TransactionRequest::default()
                .into_create()
                .input(code.into()),
        )
        .await?;
    let address = receipt
        .contract_address
        .ok_or_else(|| chain.rpc_error(action, "the receipt names no created contract"))?;
    if chain.code_at(address).await?.is_empty() {
        return Err(ChainError::Wiring(format!(
            "{action}: no code at {address} after the transaction"
        )));
    }
    record(DeployStep {
        action: action.to_owned(),
        tx: receipt.transaction_hash,
        gas_used: receipt.gas_used,
        address: Some(address),
    });
    Ok(address)
}

/// Creates the Safe proxy with `setup` run atomically by the factory.
async fn create_safe(
    chain: &Chain,
    infra: &SafeInfra,
    config: &DeployConfig,
    record: &mut impl FnMut(DeployStep),
) -> Result<Address> {
    let action = "creating the Safe (createProxyWithNonce with setup)";
    let setup = Safe::setupCall {
        _owners: config.safe_owners.clone(),
        _threshold: U256::from(config.safe_threshold),
        to: Address::ZERO,
        data: Bytes::new(),
        fallbackHandler: infra.fallback_handler,
        paymentToken: Address::ZERO,
        payment: U256::ZERO,
        paymentReceiver: Address::ZERO,
    }
    .abi_encode();
    let call = SafeProxyFactory::createProxyWithNonceCall {
        _singleton: infra.singleton,
        initializer: setup.into(),
        saltNonce: config.safe_salt_nonce,
    };
    let tx = TransactionRequest::default()
        .to(infra.factory)
        .input(Bytes::from(call.abi_encode()).into());
    let receipt = chain.send(action, tx).await?;
    let safe = receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == infra.factory)
        .find_map(|log| log.log_decode::<SafeProxyFactory::ProxyCreation>().ok())
        .map(|log| log.inner.data.proxy)
        .ok_or_else(|| chain.rpc_error(action, "no ProxyCreation event from the factory"))?;
    record(DeployStep {
        action: action.to_owned(),
        tx: receipt.transaction_hash,
        gas_used: receipt.gas_used,
        address: Some(safe),
    });
    Ok(safe)
}

/// Re-reads the chain and fails unless every permission sits where docs/governance.md says:
/// the port of `_checkWiring` in script/Deploy.s.sol. `deployer` (when known) must hold
/// nothing; `config` (when given) must match the rules read back.
pub async fn check_wiring(
    chain: &Chain,
    contracts: &Contracts,
    deployer: Option<Address>,
    config: Option<&DeployConfig>,
) -> Result<()> {
    let provider = chain.provider();
    let call_error =
        |what: &str, e: alloy::contract::Error| chain.rpc_error(format!("reading {what}"), e);
    let require = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(ChainError::Wiring(what.to_owned()))
        }
    };
    let timelock = TimelockController::new(contracts.timelock, provider);
    let proposer = timelock
        .PROPOSER_ROLE()
        .call()
        .await
        .map_err(|e| call_error("PROPOSER_ROLE", e))?;
    let canceller = timelock
        .CANCELLER_ROLE()
        .call()
        .await
        .map_err(|e| call_error("CANCELLER_ROLE", e))?;
    let executor = timelock
        .EXECUTOR_ROLE()
        .call()
        .await
        .map_err(|e| call_error("EXECUTOR_ROLE", e))?;
    let admin = timelock
        .DEFAULT_ADMIN_ROLE()
        .call()
        .await
        .map_err(|e| call_error("DEFAULT_ADMIN_ROLE", e))?;
    let has_role = |role: B256, who: Address| {
        let timelock = &timelock;
        async move {
            timelock
                .hasRole(role, who)
                .call()
                .await
                .map_err(|e| call_error("timelock roles", e))
        }
    };
    require(
        has_role(proposer, contracts.safe).await?,
        "the Safe is not the timelock's proposer",
    )?;
    require(
        has_role(canceller, contracts.safe).await?,
        "the Safe is not the timelock's canceller",
    )?;
    require(
        has_role(executor, Address::ZERO).await?,
        "timelock execution is not open to anyone",
    )?;
    require(
        has_role(admin, contracts.timelock).await?,
        "the timelock does not administer itself",
    )?;
    if let Some(deployer) = deployer {
        require(
            !has_role(admin, deployer).await?,
            "the deployer is still timelock admin",
        )?;
        require(
            !has_role(proposer, deployer).await?,
            "the deployer is a timelock proposer",
        )?;
    }
    let min_delay = timelock
        .getMinDelay()
        .call()
        .await
        .map_err(|e| call_error("getMinDelay", e))?;
    if let Some(config) = config {
        require(
            min_delay == U256::from(config.timelock_min_delay),
            "the timelock delay differs from the configuration",
        )?;
    }

    let ledger = ReleaseLedger::new(contracts.ledger, provider);
    require(
        ledger
            .owner()
            .call()
            .await
            .map_err(|e| call_error("ledger owner", e))?
            == contracts.timelock,
        "the ledger's owner is not the timelock",
    )?;
    require(
        ledger
            .pendingOwner()
            .call()
            .await
            .map_err(|e| call_error("ledger pendingOwner", e))?
            .is_zero(),
        "the ledger has a pending owner",
    )?;
    require(
        ledger
            .writer()
            .call()
            .await
            .map_err(|e| call_error("ledger writer", e))?
            == contracts.registry,
        "the ledger's writer is not the registry proxy",
    )?;

    let registry = SeedRegistry::new(contracts.registry, provider);
    require(
        registry
            .owner()
            .call()
            .await
            .map_err(|e| call_error("registry owner", e))?
            == contracts.timelock,
        "the registry's owner is not the timelock",
    )?;
    require(
        registry
            .guardian()
            .call()
            .await
            .map_err(|e| call_error("registry guardian", e))?
            == contracts.safe,
        "the registry's guardian is not the Safe",
    )?;
    require(
        registry
            .ledger()
            .call()
            .await
            .map_err(|e| call_error("registry ledger", e))?
            == contracts.ledger,
        "the registry does not write to the ledger",
    )?;
    let slot = chain
        .storage_at(contracts.registry, IMPLEMENTATION_SLOT)
        .await?;
    require(
        Address::from_word(slot) == contracts.registry_implementation,
        "the registry proxy does not point at the implementation",
    )?;
    if let Some(config) = config {
        let count = registry
            .builderCount()
            .call()
            .await
            .map_err(|e| call_error("builderCount", e))?;
        require(
            usize::from(count) == config.builders.len(),
            "the builder count differs from the configuration",
        )?;
        let quorum = registry
            .quorum()
            .call()
            .await
            .map_err(|e| call_error("quorum", e))?;
        require(
            quorum == config.quorum,
            "the quorum differs from the configuration",
        )?;
    }

    let safe = Safe::new(contracts.safe, provider);
    let owners = safe
        .getOwners()
        .call()
        .await
        .map_err(|e| call_error("Safe owners", e))?;
    let threshold = safe
        .getThreshold()
        .call()
        .await
        .map_err(|e| call_error("Safe threshold", e))?;
    require(
        threshold > U256::ZERO && threshold <= U256::from(owners.len()),
        "the Safe's threshold is not between 1 and its owner count",
    )?;
    if let (Some(deployer), Some(config)) = (deployer, config) {
        require(
            config.safe.is_some() || !owners.contains(&deployer),
            "the deployer owns the new Safe",
        )?;
    }
    Ok(())
}

/// The deployment file contents, read from the chain (the port of `_deploymentJson`).
pub async fn read_deployment(
    chain: &Chain,
    contracts: Contracts,
    deployed_at_block: u64,
) -> Result<Deployment> {
    let provider = chain.provider();
    let call_error =
        |what: &str, e: alloy::contract::Error| chain.rpc_error(format!("reading {what}"), e);
    let safe = Safe::new(contracts.safe, provider);
    let timelock = TimelockController::new(contracts.timelock, provider);
    let registry = SeedRegistry::new(contracts.registry, provider);

    let safe_owners = safe
        .getOwners()
        .call()
        .await
        .map_err(|e| call_error("Safe owners", e))?;
    let safe_threshold = safe
        .getThreshold()
        .call()
        .await
        .map_err(|e| call_error("Safe threshold", e))?;
    let min_delay = timelock
        .getMinDelay()
        .call()
        .await
        .map_err(|e| call_error("timelock delay", e))?;
    let guardian = registry
        .guardian()
        .call()
        .await
        .map_err(|e| call_error("guardian", e))?;
    let quorum = registry
        .quorum()
        .call()
        .await
        .map_err(|e| call_error("quorum", e))?;
    let systems = registry
        .requiredSystems()
        .call()
        .await
        .map_err(|e| call_error("required systems", e))?;
    let independence_policy = registry
        .independencePolicy()
        .call()
        .await
        .map_err(|e| call_error("independence policy", e))?;
    let count = registry
        .builderCount()
        .call()
        .await
        .map_err(|e| call_error("builder count", e))?;
    let mut builders = Vec::with_capacity(usize::from(count));
    for id in 0..count {
        let b = registry
            .builder(id)
            .call()
            .await
            .map_err(|e| call_error("builders", e))?;
        builders.push(BuilderEntry {
            infrastructure: b.infrastructure,
            jurisdiction: b.jurisdiction,
            organisation: b.organisation,
            signer: b.signer,
        });
    }
    let seed_registry = registry
        .VERSION()
        .call()
        .await
        .map_err(|e| call_error("registry VERSION", e))?;
    let safe_version = safe
        .VERSION()
        .call()
        .await
        .map_err(|e| call_error("Safe VERSION", e))?;
    let to_u64 = |value: U256, what: &str| {
        u64::try_from(value)
            .map_err(|_| ChainError::Wiring(format!("{what} {value} does not fit 64 bits")))
    };
    Ok(Deployment {
        chain_id: chain.chain_id(),
        contracts,
        deployed_at_block,
        governance: Governance {
            guardian,
            safe_owners,
            safe_threshold: to_u64(safe_threshold, "Safe threshold")?,
            timelock_min_delay: to_u64(min_delay, "timelock delay")?,
        },
        rules: Rules {
            builders,
            independence_policy,
            quorum,
            systems,
        },
        versions: Versions {
            openzeppelin: versions::OPENZEPPELIN.to_owned(),
            safe: safe_version,
            seed_registry,
            solc: versions::SOLC.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_ids_match_deploy_config_sol() {
        // keccak256("alpha-builders"), as in deployments written by script/Deploy.s.sol.
        assert_eq!(
            tag_id("alpha-builders").unwrap().to_string(),
            "0xab831a687f5670da44180f160b358a184b0d68064b138990439b04c4934125d7"
        );
        let id = "0x00000000000000000000000000000000000000000000000000000000000000ff";
        assert_eq!(tag_id(id).unwrap(), B256::with_last_byte(0xff));
        assert_eq!(
            tag_id(&id.replacen("0x", "0X", 1)).unwrap(),
            B256::with_last_byte(0xff)
        );
        // 66 characters with a 0x prefix but not hex: the Solidity side reverts, so do we.
        assert!(tag_id(&format!("0x{}", "g".repeat(64))).is_err());
        // Anything else is a name, even if it looks like a short hex value.
        assert_eq!(tag_id("0x01").unwrap(), keccak256("0x01"));
    }

    #[test]
    fn defaults_are_valid_and_match_the_forge_defaults() {
        let config = DeployConfig::anvil_defaults();
        config.validate().unwrap();
        assert_eq!(config.builders[2].signer, ANVIL_ACCOUNTS[2]);
        assert_eq!(
            config.builders[0].jurisdiction.to_string(),
            "0x32a63c4c805a578620c21134057f327a17922ae1831d86fc8ca0ea168bc25ce3"
        );
    }

    #[test]
    fn validation_names_the_problem() {
        let check = |change: &dyn Fn(&mut DeployConfig), needle: &str| {
            let mut config = DeployConfig::anvil_defaults();
            change(&mut config);
            let error = config.validate().unwrap_err().to_string();
            assert!(
                error.contains(needle),
                "'{error}' should mention '{needle}'"
            );
        };
        check(&|c| c.quorum = 4, "quorum 4");
        check(&|c| c.quorum = 0, "quorum 0");
        check(
            &|c| c.systems = vec!["x86_64-linux".into(), "aarch64-linux".into()],
            "strictly ascending",
        );
        check(&|c| c.systems = vec!["linux".into()], "malformed system");
        check(
            &|c| c.builders[1].organisation = c.builders[0].organisation,
            "share the organisation tag",
        );
        check(
            &|c| c.builders[1].signer = c.builders[0].signer,
            "listed twice",
        );
        check(&|c| c.safe_threshold = 4, "Safe threshold 4");
        check(&|c| c.independence_policy = 8, "3-bit mask");
        check(&|c| c.builders.clear(), "0 builders");
    }

    #[test]
    fn builder_specs_parse() {
        let b = BuilderConfig::parse(
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8,alpha-builders,CH,github-actions",
        )
        .unwrap();
        assert_eq!(b, DeployConfig::anvil_defaults().builders[0]);
        assert!(BuilderConfig::parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8,a,b").is_err());
        assert!(BuilderConfig::parse("nope,a,b,c").is_err());
    }
}
