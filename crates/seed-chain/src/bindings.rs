//! alloy bindings generated at build time from the compiler's artefacts
//! (`build.rs`): the ABI and the creation bytecode of every contract the
//! client deploys or talks to. Nothing here is written by hand, so the
//! bindings cannot drift from the Solidity sources.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    SeedRegistry,
    concat!(env!("OUT_DIR"), "/artifacts/SeedRegistry.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    ReleaseLedger,
    concat!(env!("OUT_DIR"), "/artifacts/ReleaseLedger.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    ERC1967Proxy,
    concat!(env!("OUT_DIR"), "/artifacts/ERC1967Proxy.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    TimelockController,
    concat!(env!("OUT_DIR"), "/artifacts/TimelockController.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Safe,
    concat!(env!("OUT_DIR"), "/artifacts/Safe.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    SafeProxyFactory,
    concat!(env!("OUT_DIR"), "/artifacts/SafeProxyFactory.json")
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    CompatibilityFallbackHandler,
    concat!(
        env!("OUT_DIR"),
        "/artifacts/CompatibilityFallbackHandler.json"
    )
);

/// Names a revert by the custom error it encodes, trying the registry's, the ledger's, the
/// timelock's and the proxy's errors; `None` when the data matches none of them.
pub fn describe_revert(data: &[u8]) -> Option<String> {
    use alloy::sol_types::SolInterface;
    // The generated enums print as `Name(Name { field: value })`: keep the inner part.
    fn named(contract: &str, debug: String) -> String {
        let inner = debug
            .split_once('(')
            .and_then(|(_, rest)| rest.strip_suffix(')'))
            .unwrap_or(&debug);
        format!("{contract} error {inner}")
    }
    if let Ok(error) = SeedRegistry::SeedRegistryErrors::abi_decode(data) {
        return Some(named("SeedRegistry", format!("{error:?}")));
    }
    if let Ok(error) = ReleaseLedger::ReleaseLedgerErrors::abi_decode(data) {
        return Some(named("ReleaseLedger", format!("{error:?}")));
    }
    if let Ok(error) = TimelockController::TimelockControllerErrors::abi_decode(data) {
        return Some(named("TimelockController", format!("{error:?}")));
    }
    if let Ok(error) = ERC1967Proxy::ERC1967ProxyErrors::abi_decode(data) {
        return Some(named("ERC1967Proxy", format!("{error:?}")));
    }
    None
}

/// Versions of what the bindings were built from, recorded in deployment files.
pub mod versions {
    /// The Solidity compiler that compiled the registry, ledger, proxy and timelock.
    pub const SOLC: &str = env!("SEED_CHAIN_SOLC_VERSION");
    /// The OpenZeppelin Contracts release the proxy and timelock come from.
    pub const OPENZEPPELIN: &str = env!("SEED_CHAIN_OPENZEPPELIN_VERSION");
    /// The Safe release the deployment uses (its artefacts' `VERSION()`).
    pub const SAFE: &str = "1.4.1";
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn reverts_are_named_by_their_custom_error() {
        let data = SeedRegistry::QuorumOutOfRange {
            quorum: 4,
            activeBuilders: 3,
        }
        .abi_encode();
        assert_eq!(
            describe_revert(&data).unwrap(),
            "SeedRegistry error QuorumOutOfRange { quorum: 4, activeBuilders: 3 }"
        );
        assert_eq!(
            describe_revert(&SeedRegistry::TooManyBuilders {}.abi_encode()).unwrap(),
            "SeedRegistry error TooManyBuilders"
        );
        assert_eq!(describe_revert(&[0xde, 0xad, 0xbe, 0xef]), None);
    }
}
