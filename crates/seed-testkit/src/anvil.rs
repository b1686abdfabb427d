//! anvil, a real local Ethereum node, for integration tests: spawned on a
//! free loopback port (the OS picks it) and killed when the handle drops.
//!
//! The binary is found, in order, at `$SEED_ETH_ANVIL` (the Makefile exports
//! it), through `script/foundry --which anvil` (a Foundry on `PATH`, else
//! the pinned npm copy), or as `anvil` on `PATH`. A missing binary is an
//! error that says how to install one: tests fail, they never skip.

use std::{
    ffi::OsString,
    fmt,
    path::{Path, PathBuf},
    process::Command,
};

pub use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::{primitives::Address, signers::local::PrivateKeySigner};

/// The environment variable naming the anvil binary.
pub const ANVIL_ENV: &str = "SEED_ETH_ANVIL";

/// Why anvil could not be started.
#[derive(Debug)]
pub enum AnvilError {
    /// No anvil binary was found anywhere.
    NotFound {
        /// What was tried, in order.
        tried: Vec<String>,
    },
    /// `$SEED_ETH_ANVIL` names a file that does not exist.
    EnvPathMissing {
        /// The configured path.
        path: PathBuf,
    },
    /// The binary exists but did not start or did not report its address.
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The error from alloy's node bindings.
        reason: String,
    },
}

impl fmt::Display for AnvilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { tried } => write!(
                f,
                "no anvil binary found (tried {}); run `make setup` to install the pinned Foundry, \
                 install Foundry, or set {ANVIL_ENV} to an anvil binary",
                tried.join(", ")
            ),
            Self::EnvPathMissing { path } => write!(
                f,
                "{ANVIL_ENV}={} does not exist; unset it or point it at an anvil binary \
                 (`script/foundry --which anvil` prints one)",
                path.display()
            ),
            Self::Spawn { path, reason } => {
                write!(f, "anvil at {} did not start: {reason}", path.display())
            }
        }
    }
}

impl std::error::Error for AnvilError {}

/// The repository root, where `script/foundry` lives.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Finds the anvil binary (see the module documentation for the order).
pub fn anvil_binary() -> Result<PathBuf, AnvilError> {
    find_anvil(
        std::env::var_os(ANVIL_ENV),
        &repo_root().join("script/foundry"),
        std::env::var_os("PATH"),
    )
}

/// The lookup behind [`anvil_binary`], with its inputs explicit.
fn find_anvil(
    configured: Option<OsString>,
    foundry: &Path,
    search_path: Option<OsString>,
) -> Result<PathBuf, AnvilError> {
    let mut tried = Vec::new();
    if let Some(path) = configured.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        // A configured path that is wrong is a configuration error, not a reason to pick
        // some other anvil silently.
        return Err(AnvilError::EnvPathMissing { path });
    }
    tried.push(format!("${ANVIL_ENV} (unset)"));

    tried.push(format!("{} --which anvil", foundry.display()));
    if let Ok(output) = Command::new(foundry).args(["--which", "anvil"]).output() {
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && path.is_file() {
            return Ok(path);
        }
    }

    tried.push("anvil on PATH".to_owned());
    if let Some(path) = search_path.and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("anvil"))
            .find(|candidate| candidate.is_file())
    }) {
        return Ok(path);
    }
    Err(AnvilError::NotFound { tried })
}

/// A running anvil with the default mnemonic (`test test … junk`) and chain id 31337.
/// The process is killed when this is dropped.
#[derive(Debug)]
pub struct TestAnvil {
    instance: AnvilInstance,
}

impl TestAnvil {
    /// Spawns anvil on a free loopback port with default settings.
    pub fn spawn() -> Result<Self, AnvilError> {
        Self::spawn_with(|anvil| anvil)
    }

    /// Spawns anvil after `configure` adjusted the builder (extra arguments, chain id, …).
    /// Host and port are fixed to loopback and an OS-chosen free port.
    pub fn spawn_with(configure: impl FnOnce(Anvil) -> Anvil) -> Result<Self, AnvilError> {
        let path = anvil_binary()?;
        let anvil = configure(Anvil::at(&path)).host("127.0.0.1").port(0u16);
        let instance = anvil.try_spawn().map_err(|e| AnvilError::Spawn {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self { instance })
    }

    /// The HTTP endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        self.instance.endpoint()
    }

    /// The chain id anvil reported.
    pub fn chain_id(&self) -> u64 {
        self.instance.chain_id()
    }

    /// The signer of development account `index` (0 deploys; 1..3 are the default builders;
    /// 4..6 own the default Safe, see script/DeployConfig.sol).
    ///
    /// # Panics
    /// When anvil has fewer accounts than `index + 1` (the default is 10).
    #[allow(clippy::expect_used)] // test harness: a wrong index is a bug in the test
    pub fn signer(&self, index: usize) -> PrivateKeySigner {
        let key = self
            .instance
            .keys()
            .get(index)
            .expect("anvil has fewer accounts than requested");
        PrivateKeySigner::from_signing_key(key.clone().into())
    }

    /// The 0x-prefixed private key of development account `index`.
    pub fn private_key_hex(&self, index: usize) -> String {
        format!("0x{}", alloy::hex::encode(self.signer(index).to_bytes()))
    }

    /// The address of development account `index`.
    pub fn address(&self, index: usize) -> Address {
        self.signer(index).address()
    }

    /// The underlying alloy handle.
    pub fn instance(&self) -> &AnvilInstance {
        &self.instance
    }

    /// Mines `blocks` empty blocks (`anvil_mine`), so that earlier ones become final: anvil's
    /// `finalized` lags its head by 64.
    pub async fn mine(&self, blocks: u64) -> Result<(), alloy::transports::TransportError> {
        use alloy::providers::{Provider as _, ProviderBuilder};
        let _: serde_json::Value = ProviderBuilder::new()
            .connect_http(self.instance.endpoint_url())
            .raw_request("anvil_mine".into(), (format!("{blocks:#x}"),))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_configured_path_is_an_error_not_a_fallback() {
        let error = find_anvil(
            Some("/nonexistent/anvil".into()),
            Path::new("/nonexistent/foundry"),
            None,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("SEED_ETH_ANVIL=/nonexistent/anvil does not exist"),
            "{error}"
        );
    }

    #[test]
    fn nothing_found_says_how_to_install() {
        let error = find_anvil(
            None,
            Path::new("/nonexistent/foundry"),
            Some("/nonexistent/bin".into()),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("make setup"), "{message}");
        assert!(message.contains("anvil on PATH"), "{message}");
    }

    #[test]
    fn spawns_on_a_free_loopback_port_and_stops_on_drop() {
        let anvil = TestAnvil::spawn().unwrap();
        assert!(anvil.endpoint().starts_with("http://127.0.0.1:"));
        assert_eq!(anvil.chain_id(), 31337);
        assert_eq!(
            anvil.address(1).to_string(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        );
        let port = anvil.instance().port();
        drop(anvil);
        // The port is free again once the process is gone.
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
