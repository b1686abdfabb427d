//! The deployment file `deployments/<chainId>.json`: what `script/Deploy.s.sol`
//! and `seed-eth deploy` write, and what every other command reads
//! (docs/governance.md, "Deployment file").
//!
//! Reading is strict: unknown or duplicate fields, zero addresses, unsorted
//! systems and impossible thresholds are errors naming the field, because a
//! client that guesses at a deployment could trust the wrong contract.
//! Writing produces the same bytes forge's `vm.writeJson` does: keys sorted,
//! two-space indentation, checksummed addresses, no final newline.

use std::{
    fs,
    path::{Path, PathBuf},
};

use alloy::primitives::{Address, B256};
use seed_core::System;
use serde::{Deserialize, Serialize};

use crate::{
    chain::Chain,
    error::{ChainError, Result},
};

/// One deployment of the Zero posture on one chain.
///
/// Fields are declared in alphabetical order of their JSON names, so serialising gives the
/// key order forge writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    /// The chain the contracts live on.
    pub chain_id: u64,
    /// Contract addresses.
    pub contracts: Contracts,
    /// A block at or before the first deployment transaction: log scans start here.
    pub deployed_at_block: u64,
    /// Who governs the contracts.
    pub governance: Governance,
    /// The rules the registry was deployed with (read back from the chain).
    pub rules: Rules,
    /// Versions of what was deployed.
    pub versions: Versions,
}

/// Contract addresses of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contracts {
    /// The write-once release ledger.
    #[serde(serialize_with = "checksummed")]
    pub ledger: Address,
    /// The registry's ERC-1967 proxy: the registry's address for everyone.
    #[serde(serialize_with = "checksummed")]
    pub registry: Address,
    /// The implementation behind the proxy at deployment time (never called directly).
    #[serde(serialize_with = "checksummed")]
    pub registry_implementation: Address,
    /// The Safe that proposes to the timelock and is the registry's guardian.
    #[serde(serialize_with = "checksummed")]
    pub safe: Address,
    /// The TimelockController that owns registry and ledger.
    #[serde(serialize_with = "checksummed")]
    pub timelock: Address,
}

impl Contracts {
    /// Each address with the name docs and errors use for it: the ledger first (see
    /// [`Deployment::check_target_live`]).
    pub fn named(&self) -> [(&'static str, Address); 5] {
        [
            ("ledger", self.ledger),
            ("registry", self.registry),
            ("registryImplementation", self.registry_implementation),
            ("safe", self.safe),
            ("timelock", self.timelock),
        ]
    }
}

/// Governance parameters of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Governance {
    /// The address allowed to revoke builders without the delay.
    #[serde(serialize_with = "checksummed")]
    pub guardian: Address,
    /// The Safe's owners.
    #[serde(serialize_with = "checksummed_list")]
    pub safe_owners: Vec<Address>,
    /// Signatures the Safe requires.
    pub safe_threshold: u64,
    /// The timelock's minimum delay, seconds.
    pub timelock_min_delay: u64,
}

/// The registry's rules at deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rules {
    /// Registered builders, by builder id.
    pub builders: Vec<BuilderEntry>,
    /// Bitmask of tags that must differ between active builders.
    pub independence_policy: u8,
    /// `k`: agreeing builders per system after genesis.
    pub quorum: u8,
    /// Systems every release must cover, strictly ascending.
    pub systems: Vec<String>,
}

/// One builder as registered on-chain; the tags are the stored `bytes32` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuilderEntry {
    /// Infrastructure tag id.
    pub infrastructure: B256,
    /// Jurisdiction tag id.
    pub jurisdiction: B256,
    /// Organisation tag id.
    pub organisation: B256,
    /// The builder's signing address.
    #[serde(serialize_with = "checksummed")]
    pub signer: Address,
}

/// Versions of the deployed code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Versions {
    /// OpenZeppelin Contracts (proxy, timelock).
    pub openzeppelin: String,
    /// Safe, as its `VERSION()` reports.
    pub safe: String,
    /// SeedRegistry, as its `VERSION()` reports.
    pub seed_registry: String,
    /// The Solidity compiler.
    pub solc: String,
}

/// Addresses are written in their EIP-55 checksummed form, as forge writes them.
pub(crate) fn checksummed<S: serde::Serializer>(
    address: &Address,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&address.to_checksum(None))
}

fn checksummed_list<S: serde::Serializer>(
    addresses: &[Address],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(addresses.len()))?;
    for address in addresses {
        seq.serialize_element(&address.to_checksum(None))?;
    }
    seq.end()
}

/// The conventional location `deployments/<chainId>.json`, relative to `base`.
pub fn default_path(base: &Path, chain_id: u64) -> PathBuf {
    base.join("deployments").join(format!("{chain_id}.json"))
}

impl Deployment {
    /// Reads and validates a deployment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ChainError::DeploymentMissing {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(ChainError::DeploymentMalformed {
                    path: path.to_path_buf(),
                    reason: format!("cannot read it: {e}"),
                })
            }
        };
        Self::parse(&text).map_err(|reason| ChainError::DeploymentMalformed {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses and validates the JSON text of a deployment file; the error names the field.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut reader = serde_json::Deserializer::from_str(text);
        let deployment: Self = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let path = e.path().to_string();
            if path == "." {
                e.into_inner().to_string()
            } else {
                format!("{path}: {}", e.into_inner())
            }
        })?;
        reader.end().map_err(|e| e.to_string())?;
        deployment.validate()?;
        Ok(deployment)
    }

    /// Checks what the JSON schema cannot express.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.chain_id == 0 {
            return Err("chainId is 0".to_owned());
        }
        for (name, address) in self.contracts.named() {
            if address.is_zero() {
                return Err(format!("contracts.{name} is the zero address"));
            }
        }
        let g = &self.governance;
        if g.guardian.is_zero() {
            return Err("governance.guardian is the zero address".to_owned());
        }
        if g.safe_owners.is_empty() {
            return Err("governance.safeOwners is empty".to_owned());
        }
        if g.safe_threshold == 0 || g.safe_threshold > g.safe_owners.len() as u64 {
            return Err(format!(
                "governance.safeThreshold {} is not between 1 and the {} owners",
                g.safe_threshold,
                g.safe_owners.len()
            ));
        }
        let rules = &self.rules;
        if rules.builders.is_empty() {
            return Err("rules.builders is empty".to_owned());
        }
        if rules.quorum == 0 || usize::from(rules.quorum) > rules.builders.len() {
            return Err(format!(
                "rules.quorum {} is not between 1 and the {} builders",
                rules.quorum,
                rules.builders.len()
            ));
        }
        if rules.independence_policy > 7 {
            return Err(format!(
                "rules.independencePolicy {} is not a 3-bit mask (0..7)",
                rules.independence_policy
            ));
        }
        if rules.systems.is_empty() {
            return Err("rules.systems is empty".to_owned());
        }
        for (i, system) in rules.systems.iter().enumerate() {
            system
                .parse::<System>()
                .map_err(|e| format!("rules.systems[{i}]: {e}"))?;
            if i > 0 && rules.systems[i - 1].as_bytes() >= system.as_bytes() {
                return Err(format!(
                    "rules.systems is not strictly ascending at index {i} ('{}' after '{}')",
                    system,
                    rules.systems[i - 1]
                ));
            }
        }
        for (i, builder) in rules.builders.iter().enumerate() {
            if builder.signer.is_zero() {
                return Err(format!("rules.builders[{i}].signer is the zero address"));
            }
        }
        Ok(())
    }

    /// The JSON text, byte for byte what `script/Deploy.s.sol` writes.
    pub fn to_json(&self) -> String {
        // Serialising plain structs of addresses, hashes, strings and integers cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Writes the file atomically: a temporary file in the same directory, fsynced, renamed
    /// over `path`, then the directory fsynced. Creates the directory if needed.
    pub fn write(&self, path: &Path) -> Result<()> {
        let write_error = |reason: String| ChainError::Write {
            path: path.to_path_buf(),
            reason,
        };
        seed_fs::create_dir_all(&parent_dir(path)).map_err(|e| write_error(e.to_string()))?;
        seed_fs::write_atomic(path, self.to_json().as_bytes())
            .map_err(|e| write_error(e.source.to_string()))
    }

    /// Fails closed unless the endpoint serves this deployment's chain and every contract
    /// address has code there (what governance needs).
    pub async fn check_live(&self, chain: &Chain, origin: &Path) -> Result<()> {
        self.check_contracts_live(chain, origin, &self.contracts.named())
            .await
    }

    /// Fails closed unless the endpoint serves this deployment's chain and its ledger has code
    /// there: what reading releases needs beyond calling the registry (which fails as
    /// [`ChainError::NoCode`] when it has none), one request whatever else the file names.
    pub async fn check_target_live(&self, chain: &Chain, origin: &Path) -> Result<()> {
        let contracts = self.contracts.named();
        self.check_contracts_live(chain, origin, &contracts[..1])
            .await
    }

    async fn check_contracts_live(
        &self,
        chain: &Chain,
        origin: &Path,
        contracts: &[(&'static str, Address)],
    ) -> Result<()> {
        chain.expect_chain_id(
            self.chain_id,
            &format!("deployment file {}", origin.display()),
        )?;
        for &(name, address) in contracts {
            if chain.code_at(address).await?.is_empty() {
                return Err(ChainError::NoCode {
                    what: format!("contracts.{name}"),
                    address,
                    origin: origin.display().to_string(),
                    chain_id: chain.chain_id(),
                });
            }
        }
        Ok(())
    }
}

/// Checks that `path` can be written (its directory exists or can be created and accepts a
/// file) before anything irreversible happens, such as sending deployment transactions.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let write_error = |e: std::io::Error| ChainError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    seed_fs::create_dir_all(&dir).map_err(write_error)?;
    if path.is_dir() {
        return Err(write_error(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory; name a file",
        )));
    }
    let probe = dir.join(format!(".seed-eth-write-probe-{}", std::process::id()));
    fs::write(&probe, b"").map_err(write_error)?;
    fs::remove_file(&probe).map_err(write_error)
}

/// The error of a deployment that succeeded on chain but whose file could not be written: it
/// carries the file's full contents, so the addresses are never lost (exit 2; deploying again
/// would make a second set of contracts).
pub fn unsaved(path: &Path, error: ChainError, deployment: &Deployment) -> ChainError {
    let reason = match error {
        ChainError::Write { reason, .. } => reason,
        other => other.to_string(),
    };
    ChainError::Write {
        path: path.to_path_buf(),
        reason: format!(
            "{reason}. The contracts ARE deployed; do not deploy again (that makes a second set): save this as the deployment file:\n{}",
            deployment.to_json()
        ),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `script/Deploy.s.sol` wrote on a fresh anvil with the default configuration.
    const FORGE_OUTPUT: &str = r#"{
  "chainId": 31337,
  "contracts": {
    "ledger": "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
    "registry": "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853",
    "registryImplementation": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
    "safe": "0xba5ffaca34c96D8765E64A9532930A48bEaf1b82",
    "timelock": "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9"
  },
  "deployedAtBlock": 0,
  "governance": {
    "guardian": "0xba5ffaca34c96D8765E64A9532930A48bEaf1b82",
    "safeOwners": [
      "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
      "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
      "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
    ],
    "safeThreshold": 2,
    "timelockMinDelay": 86400
  },
  "rules": {
    "builders": [
      {
        "infrastructure": "0x047e2c3cc923240724af88a39dc5fd61d756573986865d3c60a07051e2c43ca2",
        "jurisdiction": "0x32a63c4c805a578620c21134057f327a17922ae1831d86fc8ca0ea168bc25ce3",
        "organisation": "0xab831a687f5670da44180f160b358a184b0d68064b138990439b04c4934125d7",
        "signer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
      }
    ],
    "independencePolicy": 7,
    "quorum": 1,
    "systems": [
      "aarch64-linux",
      "x86_64-linux"
    ]
  },
  "versions": {
    "openzeppelin": "5.7.0",
    "safe": "1.4.1",
    "seedRegistry": "1.0.0",
    "solc": "0.8.29"
  }
}"#;

    /// Issue 11 §5: the error after a deployment whose file could not be written names the file
    /// once (it used to repeat "cannot write X:"), says the contracts exist, and carries the file.
    #[test]
    fn an_unsaved_deployment_says_so_once_and_carries_the_file() {
        let deployment = Deployment::parse(FORGE_OUTPUT).unwrap();
        let path = Path::new("deployments/31337.json");
        let inner = ChainError::Write {
            path: path.to_path_buf(),
            reason: "disk full".to_owned(),
        };
        let message = unsaved(path, inner, &deployment).to_string();
        assert_eq!(message.matches("cannot write").count(), 1, "{message}");
        assert!(
            message.starts_with(
                "cannot write deployments/31337.json: disk full. The contracts ARE deployed"
            ),
            "{message}"
        );
        assert!(message.ends_with(FORGE_OUTPUT), "{message}");
    }

    #[test]
    fn reads_forge_output_and_writes_it_back_byte_for_byte() {
        let deployment = Deployment::parse(FORGE_OUTPUT).unwrap();
        assert_eq!(deployment.chain_id, 31337);
        assert_eq!(deployment.rules.systems, ["aarch64-linux", "x86_64-linux"]);
        assert_eq!(deployment.to_json(), FORGE_OUTPUT);
    }

    fn expect_error(text: &str, needle: &str) {
        let error = Deployment::parse(text).unwrap_err();
        assert!(
            error.contains(needle),
            "'{error}' should mention '{needle}'"
        );
    }

    #[test]
    fn rejects_unknown_missing_and_duplicate_fields() {
        expect_error(
            &FORGE_OUTPUT.replacen("\"chainId\"", "\"extra\": 1,\n  \"chainId\"", 1),
            "unknown field `extra`",
        );
        expect_error(
            &FORGE_OUTPUT.replacen("\"deployedAtBlock\": 0,", "", 1),
            "missing field `deployedAtBlock`",
        );
        expect_error(
            &FORGE_OUTPUT.replacen(
                "\"chainId\": 31337,",
                "\"chainId\": 31337, \"chainId\": 1,",
                1,
            ),
            "duplicate field `chainId`",
        );
    }

    #[test]
    fn rejects_impossible_values_naming_the_field() {
        expect_error(
            &FORGE_OUTPUT.replacen(
                "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
                "0x0000000000000000000000000000000000000000",
                1,
            ),
            "contracts.ledger is the zero address",
        );
        expect_error(
            &FORGE_OUTPUT.replacen("\"quorum\": 1", "\"quorum\": 2", 1),
            "rules.quorum 2",
        );
        expect_error(
            &FORGE_OUTPUT.replacen("\"safeThreshold\": 2", "\"safeThreshold\": 4", 1),
            "governance.safeThreshold 4",
        );
        expect_error(
            &FORGE_OUTPUT.replacen("\"aarch64-linux\",", "\"z-linux\",", 1),
            "not strictly ascending",
        );
        expect_error(
            &FORGE_OUTPUT.replacen("\"chainId\": 31337", "\"chainId\": \"x\"", 1),
            "chainId",
        );
        expect_error("{", "EOF");
    }

    #[test]
    fn writes_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_path(dir.path(), 31337);
        let deployment = Deployment::parse(FORGE_OUTPUT).unwrap();
        check_writable(&path).unwrap();
        deployment.write(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), deployment);
        assert_eq!(
            fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary files left"
        );
        assert!(matches!(
            Deployment::load(&dir.path().join("none.json")),
            Err(ChainError::DeploymentMissing { .. })
        ));
    }
}
