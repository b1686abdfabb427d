//! The witness's configuration file (TOML):
//!
//! ```toml
//! state = "witness.sqlite"          # the checkpoint store
//! key = "witness.key"               # secret key file; without it, observe only
//! listen = "127.0.0.1:7380"         # the tlog-witness endpoints
//! poll-ms = 10000
//!
//! [[log]]
//! origin = "rekor.sigstore.dev - 1193050959916656506"
//! vkey = "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNht…"
//! url = "https://rekor.sigstore.dev"      # Rekor v1; a tiled log (Rekor v2)
//!                                          # takes tiles-url = "<url>/api/v2"
//!
//! [[peer]]
//! name = "bravo"
//! vkey = "witness.bravo.example/w1+77c0a1b2+BA…"
//! url = "https://witness.bravo.example"
//!
//! [[chain]]                          # compares the blocks Zero relied on
//! chain-id = 8453
//! rpc-url = "https://base.example"
//! ```
//!
//! Relative paths are read from the file's directory.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::{
    chain::ChainEndpoint, checkpoint::LogKey, cosignature::Cosigner, gossip::Peer, log::LogClient,
    note::Vkey, witness::WitnessedLog,
};

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
#[error("witness configuration {path}: {reason}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, and how to fix it.
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    state: Option<PathBuf>,
    key: Option<PathBuf>,
    listen: Option<SocketAddr>,
    poll_ms: Option<u64>,
    #[serde(default)]
    log: Vec<LogEntry>,
    #[serde(default)]
    peer: Vec<PeerEntry>,
    #[serde(default)]
    chain: Vec<ChainEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct ChainEntry {
    chain_id: u64,
    rpc_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    origin: String,
    vkey: String,
    url: Option<String>,
    #[serde(rename = "tiles-url")]
    tiles_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerEntry {
    name: String,
    vkey: String,
    url: String,
}

/// A configuration, checked: keys parse, origins and peers are unique.
#[derive(Debug)]
pub struct WitnessConfig {
    /// The state file.
    pub state: Option<PathBuf>,
    /// The cosigning key.
    pub cosigner: Option<Cosigner>,
    /// Where to serve.
    pub listen: Option<SocketAddr>,
    /// How often to poll.
    pub poll_ms: Option<u64>,
    /// The logs followed.
    pub logs: Vec<WitnessedLog>,
    /// The peers gossiped with.
    pub peers: Vec<Peer>,
    /// The endpoints recorded chain blocks are compared with.
    pub chains: Vec<ChainEndpoint>,
}

impl WitnessConfig {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let error = |reason: String| ConfigError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let file: File = toml::from_str(&text).map_err(|e| error(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut logs: Vec<WitnessedLog> = Vec::new();
        for entry in file.log {
            let vkey = Vkey::parse(&entry.vkey)
                .map_err(|e| error(format!("log {:?}: {e}", entry.origin)))?;
            if vkey.is_cosigner() {
                return Err(error(format!(
                    "log {:?}: a cosignature key is not a log key",
                    entry.origin
                )));
            }
            if logs.iter().any(|log| log.key.origin == entry.origin) {
                return Err(error(format!("log {:?} is listed twice", entry.origin)));
            }
            let client = LogClient::from_urls(entry.url.as_deref(), entry.tiles_url.as_deref())
                .map_err(|e| error(format!("log {:?}: {e}", entry.origin)))?;
            logs.push(WitnessedLog {
                key: LogKey {
                    origin: entry.origin,
                    vkey,
                },
                client,
            });
        }
        let chains: Vec<ChainEndpoint> = file
            .chain
            .into_iter()
            .map(|entry| ChainEndpoint {
                chain_id: entry.chain_id,
                url: entry.rpc_url,
            })
            .collect();
        if logs.is_empty() && chains.is_empty() {
            return Err(error("no [[log]] or [[chain]] to witness".to_owned()));
        }
        let mut peers: Vec<Peer> = Vec::new();
        for entry in file.peer {
            let vkey =
                Vkey::parse(&entry.vkey).map_err(|e| error(format!("peer {}: {e}", entry.name)))?;
            if !vkey.is_cosigner() {
                return Err(error(format!(
                    "peer {}: its vkey must be a cosignature key (type 0x04)",
                    entry.name
                )));
            }
            if peers.iter().any(|p| p.name == entry.name) {
                return Err(error(format!("peer {} is listed twice", entry.name)));
            }
            peers.push(Peer {
                name: entry.name,
                vkey,
                url: entry.url,
            });
        }
        let cosigner = file
            .key
            .map(|key| Cosigner::read(&resolve(key)))
            .transpose()
            .map_err(|e| error(e.to_string()))?;
        if let Some(cosigner) = &cosigner {
            if peers.iter().any(|p| p.vkey == *cosigner.vkey()) {
                return Err(error("a peer has this witness's own key".to_owned()));
            }
        }
        Ok(Self {
            state: file.state.map(resolve),
            cosigner,
            listen: file.listen,
            poll_ms: file.poll_ms,
            logs,
            peers,
            chains,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG_VKEY: &str = "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=";

    fn read(text: &str, key: Option<&Cosigner>) -> Result<WitnessConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(key) = key {
            std::fs::write(dir.path().join("w.key"), key.secret()).unwrap();
        }
        let path = dir.path().join("witness.toml");
        std::fs::write(&path, text).unwrap();
        WitnessConfig::read(&path)
    }

    fn log(origin: &str) -> String {
        format!("[[log]]\norigin = \"{origin}\"\nvkey = \"{LOG_VKEY}\"\nurl = \"http://log\"\n")
    }

    #[test]
    fn a_good_configuration_resolves_paths_from_its_directory() {
        let key = Cosigner::from_seed("me.example/w", [1; 32]).unwrap();
        let config = read(
            &format!("state = \"s.sqlite\"\nkey = \"w.key\"\n{}", log("o")),
            Some(&key),
        )
        .unwrap();
        assert!(config.state.unwrap().ends_with("s.sqlite"));
        assert_eq!(config.cosigner.unwrap().vkey(), key.vkey());
        assert_eq!(config.logs.len(), 1);
    }

    #[test]
    fn bad_configurations_are_refused_naming_the_fault() {
        let me = Cosigner::from_seed("me.example/w", [1; 32]).unwrap();
        let peer =
            |vkey: &str| format!("[[peer]]\nname = \"p\"\nvkey = \"{vkey}\"\nurl = \"http://p\"\n");
        let cases = [
            (String::new(), "no [[log]]"),
            (format!("{}{}", log("o"), log("o")), "listed twice"),
            (
                log("o").replace(LOG_VKEY, "not-a-vkey"),
                "not a verifier key",
            ),
            (
                log("o").replace(LOG_VKEY, &me.vkey().to_string()),
                "not a log key",
            ),
            (format!("{}{}", log("o"), peer(LOG_VKEY)), "cosignature key"),
            (
                format!(
                    "key = \"w.key\"\n{}{}",
                    log("o"),
                    peer(&me.vkey().to_string())
                ),
                "own key",
            ),
            (
                format!("key = \"missing.key\"\n{}", log("o")),
                "missing.key",
            ),
            (format!("frobnicate = 1\n{}", log("o")), "unknown field"),
            (
                format!("{}tiles-url = \"http://log/api/v2\"\n", log("o")),
                "not both",
            ),
        ];
        for (text, expected) in cases {
            let error = read(&text, Some(&me)).expect_err(expected).to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
