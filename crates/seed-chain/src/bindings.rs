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
    ERC1967Proxy,
    concat!(env!("OUT_DIR"), "/artifacts/ERC1967Proxy.json")
);

sol!(
    #[sol(rpc)]
    TimelockController,
    concat!(env!("OUT_DIR"), "/artifacts/TimelockController.json")
);

sol!(
    #[sol(rpc)]
    Safe,
    concat!(env!("OUT_DIR"), "/artifacts/Safe.json")
);

sol!(
    #[sol(rpc)]
    SafeProxyFactory,
    concat!(env!("OUT_DIR"), "/artifacts/SafeProxyFactory.json")
);

sol!(
    #[sol(rpc)]
    CompatibilityFallbackHandler,
    concat!(
        env!("OUT_DIR"),
        "/artifacts/CompatibilityFallbackHandler.json"
    )
);

/// Versions of what the bindings were built from, recorded in deployment files.
pub mod versions {
    /// The Solidity compiler that compiled the registry, ledger, proxy and timelock.
    pub const SOLC: &str = env!("SEED_CHAIN_SOLC_VERSION");
    /// The OpenZeppelin Contracts release the proxy and timelock come from.
    pub const OPENZEPPELIN: &str = env!("SEED_CHAIN_OPENZEPPELIN_VERSION");
    /// The Safe release the deployment uses (its artefacts' `VERSION()`).
    pub const SAFE: &str = "1.4.1";
}
