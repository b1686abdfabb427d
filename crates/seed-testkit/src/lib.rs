//! Real services for integration tests, started on free loopback ports and
//! stopped when dropped: anvil (the chain) and a CNCF distribution registry.
//! Nothing here is a mock; a missing service binary is a test failure that
//! names how to install it, never a skip.

pub mod anvil;
pub mod registry;
