//! OCI registry: see seed-oci's integration tests.
