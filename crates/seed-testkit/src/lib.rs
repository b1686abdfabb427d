//! Real services for integration tests, started on free loopback ports and
//! stopped when dropped: anvil (the chain) and a CNCF distribution registry;
//! and real Nix closures and squashfs seeds ([`nix`]).
//! Nothing here is a mock; a missing service binary is a test failure that
//! names how to install it, never a skip. The one double, [`rpc::RpcDouble`],
//! stands in front of anvil for what hosted endpoints do that no node here
//! does (capped log queries, a `finalized` tag that is the latest block).

pub mod anvil;
pub mod nix;
pub mod registry;
pub mod rpc;
