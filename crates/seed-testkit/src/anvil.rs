//! anvil: see seed-chain's integration tests.
