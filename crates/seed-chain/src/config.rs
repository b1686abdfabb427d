//! Configuration: flags beat environment variables, which beat `seed-eth.toml`.
//!
//! The CLI merges flags and environment variables (clap does that per flag)
//! into [`ChainOverrides`] and [`DeployOverrides`]; this module adds the
//! configuration file underneath and resolves the result. Secrets never come
//! from here except as a keystore *path* (docs/configuration.md).

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use serde::Deserialize;

use crate::{
    chain::{Chain, ChainBuilder},
    deploy::{BuilderConfig, DeployConfig},
    deployment::{default_path, Deployment},
    error::{ChainError, Result},
    keys::KeySources,
};

/// The configuration file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "seed-eth.toml";

/// Default number of blocks per `eth_getLogs` request.
pub const DEFAULT_LOG_CHUNK: u64 = 10_000;

/// `seed-eth.toml`. Every key is optional; unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// JSON-RPC endpoint.
    pub rpc_url: Option<String>,
    /// The chain id the endpoint must serve.
    pub chain_id: Option<u64>,
    /// The deployment file (relative paths are relative to the configuration file).
    pub deployment: Option<PathBuf>,
    /// The registry proxy, instead of a deployment file.
    pub registry: Option<Address>,
    /// The first block to scan for logs when `registry` is used.
    pub from_block: Option<u64>,
    /// Blocks per `eth_getLogs` request.
    pub log_chunk: Option<u64>,
    /// An encrypted keystore (relative to the configuration file).
    pub keystore: Option<PathBuf>,
    /// Parameters of `seed-eth deploy`.
    pub deploy: Option<DeploySection>,
    /// OCI registry access.
    pub oci: Option<OciSection>,
    /// Settings of `seed-eth keeper`.
    pub keeper: Option<KeeperSection>,
    /// Settings of the Credulous posture.
    pub credulous: Option<CredulousSection>,
    /// Where the file was read from; relative paths in it are relative to its directory.
    #[serde(skip)]
    pub origin: Option<PathBuf>,
}

/// The `[oci]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OciSection {
    /// Registries (`HOST[:PORT]`) spoken to over plain HTTP, e.g. a local test registry.
    pub plain_http: Option<Vec<String>>,
}

/// The `[keeper]` table: what `seed-eth keeper` promotes, where, and how it runs. Every key is
/// optional and a flag or environment variable overrides it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KeeperSection {
    /// The repository builders push images to (`REGISTRY/REPO`, may contain `{system}`).
    pub source: Option<String>,
    /// The repository to promote to.
    pub target: Option<String>,
    /// Tag templates.
    pub tags: Option<Vec<String>>,
    /// `latest - N` counts as final (chains without a `finalized` tag).
    pub confirmations: Option<u64>,
    /// The SQLite state file (relative to the configuration file).
    pub state: Option<PathBuf>,
    /// Poll interval, milliseconds.
    pub poll_ms: Option<u64>,
    /// Address for `/healthz` and `/metrics`.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// The `[credulous]` table: the Credulous posture's files and log. Paths are
/// relative to the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CredulousSection {
    /// The Credulous policy file.
    pub policy: Option<PathBuf>,
    /// A Sigstore `trusted_root.json` instead of the production one.
    pub trusted_root: Option<PathBuf>,
    /// The Rekor v1 logs builders write to.
    pub rekor_urls: Option<Vec<String>>,
    /// The Rekor v2 logs builders write to.
    pub rekor_v2_urls: Option<Vec<String>>,
    /// The Fulcio CA keyless builders ask for certificates.
    pub fulcio_url: Option<String>,
    /// The RFC 3161 timestamp authority builders stamp signatures with.
    pub tsa_url: Option<String>,
    /// A builder's managed signing key (PKCS#8 PEM).
    pub signing_key: Option<PathBuf>,
    /// The keeper's follow file (the releases it is told about).
    pub follow: Option<PathBuf>,
    /// The keeper's deadline, seconds.
    pub deadline_s: Option<u64>,
    /// The witness state verifiers and the keeper reconcile checkpoints in.
    pub witness_state: Option<PathBuf>,
    /// A builder's witness configuration, checked by `attest`.
    pub witness_config: Option<PathBuf>,
}

/// The `[deploy]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DeploySection {
    /// An existing Safe to use instead of deploying one.
    pub safe: Option<Address>,
    /// Owners of the Safe to deploy.
    pub safe_owners: Option<Vec<Address>>,
    /// Signatures the Safe requires.
    pub safe_threshold: Option<u64>,
    /// `saltNonce` of `createProxyWithNonce`.
    pub safe_salt_nonce: Option<u64>,
    /// Timelock minimum delay, seconds.
    pub timelock_min_delay: Option<u64>,
    /// `k`.
    pub quorum: Option<u8>,
    /// Required systems, strictly ascending.
    pub systems: Option<Vec<String>>,
    /// Bitmask of tags that must differ between builders.
    pub independence_policy: Option<u8>,
    /// Initial builders.
    pub builders: Option<Vec<BuilderSection>>,
}

/// One `[[deploy.builders]]` entry. Tags are names (hashed) or 0x-prefixed 32-byte ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BuilderSection {
    /// The builder's signing address.
    pub signer: Address,
    /// Organisation tag.
    pub organisation: String,
    /// Jurisdiction tag.
    pub jurisdiction: String,
    /// Infrastructure tag.
    pub infrastructure: String,
}

impl ConfigFile {
    /// Reads `explicit` (which must exist) or, without it, `seed-eth.toml` in `cwd` if present.
    pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Self> {
        let (path, required) = match explicit {
            Some(path) => (path.to_path_buf(), true),
            None => (cwd.join(DEFAULT_CONFIG_FILE), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default())
            }
            Err(e) => {
                return Err(ChainError::ConfigFile {
                    path,
                    reason: format!("cannot read it: {e}"),
                })
            }
        };
        let mut file: Self = toml::from_str(&text).map_err(|e| ChainError::ConfigFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        file.origin = Some(path);
        Ok(file)
    }

    /// The registries `[oci] plain-http` lists (empty when the file has none).
    pub fn oci_plain_http(&self) -> &[String] {
        self.oci
            .as_ref()
            .and_then(|oci| oci.plain_http.as_deref())
            .unwrap_or_default()
    }

    /// The `[keeper]` table (empty when absent), its state path resolved against the file's
    /// directory.
    pub fn keeper_section(&self) -> KeeperSection {
        let mut section = self.keeper.clone().unwrap_or_default();
        section.state = section.state.map(|path| self.resolve_path(&path));
        section
    }

    /// The `[credulous]` table with its paths resolved against the file's directory.
    pub fn credulous(&self) -> CredulousSection {
        let mut section = self.credulous.clone().unwrap_or_default();
        for path in [
            &mut section.policy,
            &mut section.trusted_root,
            &mut section.signing_key,
            &mut section.follow,
        ] {
            *path = path.take().map(|p| self.resolve_path(&p));
        }
        section
    }

    /// Resolves a path written in the file against the file's directory.
    fn resolve_path(&self, path: &Path) -> PathBuf {
        match self.origin.as_deref().and_then(Path::parent) {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    fn name(&self) -> String {
        self.origin.as_deref().map_or_else(
            || DEFAULT_CONFIG_FILE.to_owned(),
            |p| p.display().to_string(),
        )
    }
}

/// Connection and deployment settings from flags or the environment (clap merges the two).
#[derive(Debug, Clone, Default)]
pub struct ChainOverrides {
    /// `--rpc-url` / `SEED_ETH_RPC_URL`.
    pub rpc_url: Option<String>,
    /// `--chain-id` / `SEED_ETH_CHAIN_ID`.
    pub chain_id: Option<u64>,
    /// `--deployment` / `SEED_ETH_DEPLOYMENT`.
    pub deployment: Option<PathBuf>,
    /// `--registry` / `SEED_ETH_REGISTRY`.
    pub registry: Option<Address>,
    /// `--from-block` / `SEED_ETH_FROM_BLOCK`.
    pub from_block: Option<u64>,
    /// `--log-chunk`.
    pub log_chunk: Option<u64>,
    /// `--keystore`.
    pub keystore: Option<PathBuf>,
}

/// Where the registry is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentSource {
    /// A deployment file given explicitly.
    File(PathBuf),
    /// `deployments/<chainId>.json` under the working directory, for the endpoint's chain.
    Default,
    /// A registry address, without a file.
    Registry {
        /// The registry proxy.
        registry: Address,
        /// The first block worth scanning for its logs.
        from_block: u64,
    },
}

/// The resolved settings of a command that talks to a deployment.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// The endpoint.
    pub rpc_url: String,
    /// The chain id the endpoint must serve, and where that requirement came from.
    pub chain_id: Option<(u64, String)>,
    /// Where the registry is found.
    pub deployment: DeploymentSource,
    /// Blocks per `eth_getLogs` request.
    pub log_chunk: u64,
    /// Where a signing key may come from.
    pub keys: KeySources,
    /// The working directory, for `deployments/<chainId>.json`.
    pub cwd: PathBuf,
}

impl ChainSettings {
    /// Applies flags and environment over the file.
    pub fn resolve(overrides: ChainOverrides, file: &ConfigFile, cwd: &Path) -> Result<Self> {
        let rpc_url = overrides
            .rpc_url
            .or_else(|| file.rpc_url.clone())
            .filter(|url| !url.is_empty())
            .ok_or(ChainError::NoRpcUrl)?;
        let chain_id = match (overrides.chain_id, file.chain_id) {
            (Some(id), _) => Some((id, "--chain-id (or SEED_ETH_CHAIN_ID)".to_owned())),
            (None, Some(id)) => Some((id, format!("chain-id in {}", file.name()))),
            (None, None) => None,
        };
        let registry = overrides.registry.or(file.registry);
        let explicit_file = overrides
            .deployment
            .or_else(|| file.deployment.as_deref().map(|p| file.resolve_path(p)));
        let deployment = match (registry, explicit_file) {
            (Some(_), Some(path)) => {
                return Err(ChainError::Config(format!(
                    "both a registry address and a deployment file ({}) are configured; give one",
                    path.display()
                )))
            }
            (Some(registry), None) => DeploymentSource::Registry {
                registry,
                from_block: overrides.from_block.or(file.from_block).unwrap_or(0),
            },
            (None, Some(path)) => DeploymentSource::File(path),
            (None, None) => DeploymentSource::Default,
        };
        let log_chunk = overrides
            .log_chunk
            .or(file.log_chunk)
            .unwrap_or(DEFAULT_LOG_CHUNK);
        if log_chunk == 0 {
            return Err(ChainError::Config(
                "log-chunk must be at least 1 block".to_owned(),
            ));
        }
        Ok(Self {
            rpc_url,
            chain_id,
            deployment,
            log_chunk,
            keys: KeySources {
                keystore_flag: overrides.keystore,
                keystore_file: file.keystore.as_deref().map(|p| file.resolve_path(p)),
            },
            cwd: cwd.to_path_buf(),
        })
    }

    /// Connects (optionally with a signer) and checks the configured chain id.
    pub async fn connect(
        &self,
        builder: impl FnOnce(ChainBuilder) -> ChainBuilder,
    ) -> Result<Chain> {
        let chain = builder(ChainBuilder::new(&self.rpc_url)).connect().await?;
        if let Some((expected, source)) = &self.chain_id {
            chain.expect_chain_id(*expected, source)?;
        }
        Ok(chain)
    }

    /// The deployment file path this configuration names for `chain_id`, if it names one.
    pub fn deployment_path(&self, chain_id: u64) -> Option<PathBuf> {
        match &self.deployment {
            DeploymentSource::File(path) => Some(path.clone()),
            DeploymentSource::Default => Some(default_path(&self.cwd, chain_id)),
            DeploymentSource::Registry { .. } => None,
        }
    }

    /// The registry and ledger a deployment file names, on a chain with its chain id, without
    /// asking the chain about them: for a caller that proves their code and the registry's
    /// ledger itself (`verify --proofs`). A registry given directly (`--registry`) is asked for
    /// its ledger as [`Self::open`] does.
    pub async fn open_to_prove(&self, chain: &Chain) -> Result<Target> {
        match &self.deployment {
            DeploymentSource::Registry { .. } => self.open(chain).await,
            DeploymentSource::File(_) | DeploymentSource::Default => {
                let path = self.deployment_path(chain.chain_id()).unwrap_or_default();
                let deployment = Deployment::load(&path)?;
                chain.expect_chain_id(
                    deployment.chain_id,
                    &format!("deployment file {}", path.display()),
                )?;
                Ok(Target {
                    registry: deployment.contracts.registry,
                    ledger: deployment.contracts.ledger,
                    from_block: deployment.deployed_at_block,
                    file: Some((path, deployment)),
                })
            }
        }
    }

    /// Finds the registry and ledger on `chain` and checks they are live contracts.
    pub async fn open(&self, chain: &Chain) -> Result<Target> {
        match &self.deployment {
            DeploymentSource::Registry {
                registry,
                from_block,
            } => Target::from_registry(chain, *registry, *from_block).await,
            DeploymentSource::File(_) | DeploymentSource::Default => {
                let path = self.deployment_path(chain.chain_id()).unwrap_or_default();
                let deployment = Deployment::load(&path)?;
                deployment.check_target_live(chain, &path).await?;
                Target::from_deployment(chain, deployment, path).await
            }
        }
    }
}

/// The contracts a command works on, checked live.
#[derive(Debug, Clone)]
pub struct Target {
    /// The registry proxy.
    pub registry: Address,
    /// The ledger the registry writes.
    pub ledger: Address,
    /// The first block worth scanning.
    pub from_block: u64,
    /// The deployment file, when one was used.
    pub file: Option<(PathBuf, Deployment)>,
}

impl Target {
    async fn from_deployment(chain: &Chain, deployment: Deployment, path: PathBuf) -> Result<Self> {
        let registry = deployment.contracts.registry;
        let ledger = registry_ledger(chain, registry)
            .await?
            .ok_or_else(|| ChainError::NoCode {
                what: "contracts.registry".to_owned(),
                address: registry,
                origin: path.display().to_string(),
                chain_id: chain.chain_id(),
            })?;
        if ledger != deployment.contracts.ledger {
            return Err(ChainError::DeploymentMalformed {
                path,
                reason: format!(
                    "contracts.ledger is {} but the registry {} writes to {ledger}",
                    deployment.contracts.ledger, deployment.contracts.registry
                ),
            });
        }
        Ok(Self {
            registry: deployment.contracts.registry,
            ledger,
            from_block: deployment.deployed_at_block,
            file: Some((path, deployment)),
        })
    }

    async fn from_registry(chain: &Chain, registry: Address, from_block: u64) -> Result<Self> {
        let no_code = |what: &str, address| ChainError::NoCode {
            what: what.to_owned(),
            address,
            origin: "--registry (or SEED_ETH_REGISTRY / registry in seed-eth.toml)".to_owned(),
            chain_id: chain.chain_id(),
        };
        let ledger = registry_ledger(chain, registry)
            .await?
            .ok_or_else(|| no_code("registry", registry))?;
        if chain.code_at(ledger).await?.is_empty() {
            return Err(no_code("ledger (read from the registry)", ledger));
        }
        Ok(Self {
            registry,
            ledger,
            from_block,
            file: None,
        })
    }
}

/// The ledger the registry writes; `None` when nothing answers at `registry` (no code
/// there), which saves asking for its code first.
async fn registry_ledger(chain: &Chain, registry: Address) -> Result<Option<Address>> {
    match crate::bindings::SeedRegistry::new(registry, chain.provider())
        .ledger()
        .call()
        .await
    {
        Ok(ledger) => Ok(Some(ledger)),
        Err(alloy::contract::Error::ZeroData(..)) => Ok(None),
        Err(e) => Err(chain.rpc_error(
            format!("calling ledger() on the registry {registry} (is it a SeedRegistry?)"),
            e,
        )),
    }
}

/// Deployment parameters from flags or the environment.
#[derive(Debug, Clone, Default)]
pub struct DeployOverrides {
    /// `--safe`.
    pub safe: Option<Address>,
    /// `--safe-owner` (repeated) / `SEED_ETH_SAFE_OWNERS`.
    pub safe_owners: Option<Vec<Address>>,
    /// `--safe-threshold`.
    pub safe_threshold: Option<u64>,
    /// `--safe-salt-nonce`.
    pub safe_salt_nonce: Option<u64>,
    /// `--timelock-delay`.
    pub timelock_min_delay: Option<u64>,
    /// `--quorum`.
    pub quorum: Option<u8>,
    /// `--system` (repeated) / `SEED_ETH_SYSTEMS`.
    pub systems: Option<Vec<String>>,
    /// `--independence-policy`.
    pub independence_policy: Option<u8>,
    /// `--builder SIGNER,ORGANISATION,JURISDICTION,INFRASTRUCTURE` (repeated).
    pub builders: Option<Vec<BuilderConfig>>,
}

/// The chain id anvil and hardhat use; the only chain on which the public anvil accounts are
/// acceptable defaults.
pub const LOCAL_CHAIN_ID: u64 = 31337;

impl DeployOverrides {
    /// Resolves flags/environment over the file's `[deploy]` table over the local defaults of
    /// script/DeployConfig.sol. The defaults name anvil's public test accounts, so on any chain
    /// but 31337 builders and Safe owners (or `--safe`) must be configured.
    pub fn resolve(self, file: &ConfigFile, chain_id: u64) -> Result<DeployConfig> {
        let section = file.deploy.clone().unwrap_or_default();
        let defaults = DeployConfig::anvil_defaults();
        let file_builders = section
            .builders
            .map(|builders| {
                builders
                    .into_iter()
                    .map(|b| {
                        BuilderConfig::from_tags(
                            b.signer,
                            &b.organisation,
                            &b.jurisdiction,
                            &b.infrastructure,
                        )
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let safe = self.safe.or(section.safe);
        let safe_owners = self.safe_owners.or(section.safe_owners);
        let builders = self.builders.or(file_builders);
        if chain_id != LOCAL_CHAIN_ID {
            if builders.is_none() {
                return Err(ChainError::Config(format!(
                    "chain {chain_id} is not a local anvil: configure the builders (--builder or [[deploy.builders]]); \
                     the defaults are anvil's public test accounts"
                )));
            }
            if safe.is_none() && safe_owners.is_none() {
                return Err(ChainError::Config(format!(
                    "chain {chain_id} is not a local anvil: configure --safe or the Safe owners (--safe-owner or \
                     deploy.safe-owners); the defaults are anvil's public test accounts"
                )));
            }
        }
        let config = DeployConfig {
            safe,
            safe_owners: safe_owners.unwrap_or(defaults.safe_owners),
            safe_threshold: self
                .safe_threshold
                .or(section.safe_threshold)
                .unwrap_or(defaults.safe_threshold),
            safe_salt_nonce: U256::from(
                self.safe_salt_nonce
                    .or(section.safe_salt_nonce)
                    .unwrap_or(0),
            ),
            timelock_min_delay: self
                .timelock_min_delay
                .or(section.timelock_min_delay)
                .unwrap_or(defaults.timelock_min_delay),
            builders: builders.unwrap_or(defaults.builders),
            quorum: self.quorum.or(section.quorum).unwrap_or(defaults.quorum),
            systems: self.systems.or(section.systems).unwrap_or(defaults.systems),
            independence_policy: self
                .independence_policy
                .or(section.independence_policy)
                .unwrap_or(defaults.independence_policy),
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        let mut file: ConfigFile = toml::from_str(text).unwrap();
        file.origin = Some(PathBuf::from("/etc/seed/seed-eth.toml"));
        file
    }

    #[test]
    fn the_keeper_table_is_read_with_its_state_next_to_the_file() {
        assert!(file("").keeper_section().source.is_none());
        let with = file(
            "[keeper]\nsource = \"r.example/seed\"\ntags = [\"{commit}-{system}\"]\nconfirmations = 2\nstate = \"k.sqlite\"\npoll-ms = 500\nmetrics-addr = \"127.0.0.1:9464\"\n",
        );
        let keeper = with.keeper_section();
        assert_eq!(keeper.source.as_deref(), Some("r.example/seed"));
        assert_eq!(keeper.tags, Some(vec!["{commit}-{system}".to_owned()]));
        assert_eq!(keeper.confirmations, Some(2));
        assert_eq!(keeper.state, Some(PathBuf::from("/etc/seed/k.sqlite")));
        assert_eq!(keeper.poll_ms, Some(500));
        assert_eq!(keeper.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        let unknown = toml::from_str::<ConfigFile>("[keeper]\nsoruce = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field `soruce`"), "{unknown}");
    }

    #[test]
    fn the_oci_table_lists_plain_http_registries_and_refuses_unknown_keys() {
        assert!(file("").oci_plain_http().is_empty());
        let with = file("[oci]\nplain-http = [\"127.0.0.1:5000\", \"localhost:5001\"]\n");
        assert_eq!(with.oci_plain_http(), ["127.0.0.1:5000", "localhost:5001"]);
        let unknown = toml::from_str::<ConfigFile>("[oci]\npassword = \"secret\"\n")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field `password`"), "{unknown}");
    }

    #[test]
    fn flags_and_environment_beat_the_file() {
        let file = file("rpc-url = \"http://file:8545\"\nchain-id = 1\ndeployment = \"d.json\"\nkeystore = \"k.json\"\n");
        let from_file =
            ChainSettings::resolve(ChainOverrides::default(), &file, Path::new("/cwd")).unwrap();
        assert_eq!(from_file.rpc_url, "http://file:8545");
        assert_eq!(from_file.chain_id.as_ref().map(|c| c.0), Some(1));
        assert_eq!(
            from_file.deployment,
            DeploymentSource::File(PathBuf::from("/etc/seed/d.json"))
        );
        assert_eq!(
            from_file.keys.keystore_file,
            Some(PathBuf::from("/etc/seed/k.json"))
        );

        let overrides = ChainOverrides {
            rpc_url: Some("http://flag:8545".to_owned()),
            chain_id: Some(5),
            deployment: Some(PathBuf::from("x.json")),
            ..Default::default()
        };
        let from_flags = ChainSettings::resolve(overrides, &file, Path::new("/cwd")).unwrap();
        assert_eq!(from_flags.rpc_url, "http://flag:8545");
        assert_eq!(from_flags.chain_id.map(|c| c.0), Some(5));
        assert_eq!(
            from_flags.deployment,
            DeploymentSource::File(PathBuf::from("x.json"))
        );
    }

    #[test]
    fn missing_rpc_url_and_conflicting_sources_are_errors() {
        let none = ChainSettings::resolve(
            ChainOverrides::default(),
            &ConfigFile::default(),
            Path::new("."),
        );
        assert!(matches!(none, Err(ChainError::NoRpcUrl)));
        let both = ChainOverrides {
            rpc_url: Some("http://x".to_owned()),
            registry: Some(Address::repeat_byte(1)),
            deployment: Some(PathBuf::from("d.json")),
            ..Default::default()
        };
        let error =
            ChainSettings::resolve(both, &ConfigFile::default(), Path::new(".")).unwrap_err();
        assert!(error.to_string().contains("give one"), "{error}");
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed-eth.toml");
        std::fs::write(&path, "rpc_url = \"http://x\"\n").unwrap();
        let error = ConfigFile::load(Some(&path), dir.path()).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `rpc_url`"),
            "{error}"
        );
        // Without --config, an absent seed-eth.toml is fine; an explicit one must exist.
        let empty = tempfile::tempdir().unwrap();
        assert!(ConfigFile::load(None, empty.path())
            .unwrap()
            .rpc_url
            .is_none());
        assert!(ConfigFile::load(Some(&empty.path().join("nope.toml")), empty.path()).is_err());
    }

    #[test]
    fn deploy_defaults_only_on_a_local_chain() {
        let local = DeployOverrides::default()
            .resolve(&ConfigFile::default(), LOCAL_CHAIN_ID)
            .unwrap();
        assert_eq!(local, DeployConfig::anvil_defaults());
        let error = DeployOverrides::default()
            .resolve(&ConfigFile::default(), 1)
            .unwrap_err();
        assert!(error.to_string().contains("builders"), "{error}");
    }

    #[test]
    fn deploy_file_section_and_flags() {
        let file = file(
            "[deploy]\nquorum = 1\nsystems = [\"x86_64-linux\"]\nsafe-owners = [\"0x0000000000000000000000000000000000000003\"]\nsafe-threshold = 1\n\
             [[deploy.builders]]\nsigner = \"0x0000000000000000000000000000000000000002\"\norganisation = \"o\"\njurisdiction = \"j\"\ninfrastructure = \"i\"\n",
        );
        let config = DeployOverrides::default().resolve(&file, 1).unwrap();
        assert_eq!(config.quorum, 1);
        assert_eq!(config.builders.len(), 1);
        let flags = DeployOverrides {
            quorum: Some(2),
            ..Default::default()
        };
        let error = flags.resolve(&file, 1).unwrap_err();
        assert!(error.to_string().contains("quorum 2"), "{error}");
    }

    #[test]
    fn the_documented_example_is_valid() {
        let doc = include_str!("../../../docs/configuration.md");
        // The example seed-eth.toml, not the Credulous policy or follow file before it.
        let example = doc.find("## Example `seed-eth.toml`").unwrap();
        let start = example + doc[example..].find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let file: ConfigFile = toml::from_str(&doc[start..end]).unwrap();
        let config = DeployOverrides::default()
            .resolve(&file, 11_155_111)
            .unwrap();
        assert_eq!(
            config,
            DeployConfig {
                safe: file.deploy.as_ref().unwrap().safe,
                timelock_min_delay: 604_800,
                ..DeployConfig::anvil_defaults()
            }
        );
    }
}
