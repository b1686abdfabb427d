//! The OCI registry client, built the same way by every command that talks to a
//! registry: plain-HTTP hosts from `--plain-http` (else `[oci] plain-http` in
//! `seed-eth.toml`), credentials from the environment, never from a flag or the
//! file (docs/configuration.md).

use std::fmt::Display;

use seed_chain::ConfigFile;
use seed_oci::{ClientOptions, Credentials, OciError, RegistryClient};

use crate::{exit::ExitCode, output::Failure};

/// Registry user name for HTTP basic authentication (with [`OCI_PASSWORD_ENV`]).
pub const OCI_USERNAME_ENV: &str = "SEED_ETH_OCI_USERNAME";
/// Registry password or token for HTTP basic authentication (with [`OCI_USERNAME_ENV`]).
pub const OCI_PASSWORD_ENV: &str = "SEED_ETH_OCI_PASSWORD";

/// A registry client for `plain_http_flags` (when given, they replace the file's list) and the
/// credentials in the environment (both variables set: basic; otherwise anonymous).
pub fn registry_client(
    plain_http_flags: &[String],
    file: &ConfigFile,
) -> Result<RegistryClient, OciError> {
    let plain_http = if plain_http_flags.is_empty() {
        file.oci_plain_http().to_vec()
    } else {
        plain_http_flags.to_vec()
    };
    let credentials = match (
        std::env::var(OCI_USERNAME_ENV).ok(),
        std::env::var(OCI_PASSWORD_ENV).ok(),
    ) {
        (Some(username), Some(password)) => Credentials::Basic { username, password },
        _ => Credentials::Anonymous,
    };
    RegistryClient::new(ClientOptions {
        plain_http,
        credentials,
        ..ClientOptions::default()
    })
}

/// A registry error while `doing` something, as a command failure: the registry's faults are
/// exit 3 (retrying may help); wrong names, a missing image or refused credentials are exit 2.
pub fn registry_failure(error: OciError, doing: impl Display + Send + Sync + 'static) -> Failure {
    let code = match error {
        OciError::Unreachable { .. }
        | OciError::Registry { .. }
        | OciError::Contention { .. }
        | OciError::DigestMismatch { .. } => ExitCode::Network,
        _ => ExitCode::Usage,
    };
    Failure {
        code,
        error: eyre::Report::new(error).wrap_err(doing),
    }
}
