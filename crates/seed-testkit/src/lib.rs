//! Real services for integration tests, started on free loopback ports and
//! stopped when dropped: anvil (the chain) and a CNCF distribution registry;
//! and real Nix closures and squashfs seeds ([`nix`]).
//! Nothing here is a mock; a missing service binary is a test failure that
//! names how to install it, never a skip. The doubles, each named as one,
//! stand in for public services that cannot run here: [`rpc::RpcDouble`] in
//! front of anvil for what hosted endpoints do that no node here does (capped
//! log queries, a `finalized` tag that is the latest block),
//! [`rekor::RekorLog`] (served by [`rekor::RekorServer`]) for a Rekor v1
//! transparency log, and [`fulcio::FulcioCa`] with its OIDC issuer (served by
//! [`fulcio::FulcioServer`]) for Fulcio, the keyless certificate authority.

pub mod anvil;
pub mod ci_runner;
pub mod fulcio;
pub mod http;
pub mod nix;
pub mod registry;
pub mod rekor;
pub mod rekor_v2;
pub mod rng;
pub mod rpc;
pub mod tsa;
