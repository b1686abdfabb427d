//! What the chain commands share: reading the configuration, a runtime for the
//! async chain client, and mapping chain errors to exit codes.

use std::{future::Future, path::PathBuf};

use seed_chain::{ChainError, ChainOverrides, ChainSettings, ConfigFile, ErrorClass};

use crate::{
    cli::{ChainArgs, ScanArgs},
    exit::ExitCode,
    output::Failure,
};

/// Maps a chain error to its exit code: 2 for configuration and input, 3 for the network.
pub fn failure(error: ChainError) -> Failure {
    let code = match error.class() {
        ErrorClass::Config => ExitCode::Usage,
        ErrorClass::Network => ExitCode::Network,
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}

/// Runs `future` to completion on a single-threaded runtime (the CLI does one thing at a time).
pub fn block_on<T>(future: impl Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: ExitCode::Network,
            error: eyre::Report::new(e).wrap_err("cannot start the async runtime"),
        })?;
    runtime.block_on(future)
}

/// The working directory, for `seed-eth.toml` and `deployments/`.
pub fn cwd() -> Result<PathBuf, Failure> {
    std::env::current_dir().map_err(|e| {
        Failure::usage(eyre::Report::new(e).wrap_err("cannot read the working directory"))
    })
}

/// Reads the configuration file named by `--config` (or `./seed-eth.toml` if present), for a
/// command that talks to one endpoint.
pub fn config_file(args: &ChainArgs) -> Result<ConfigFile, Failure> {
    if args.rpc_url.len() > 1 {
        return Err(Failure::usage(eyre::eyre!(
            "--rpc-url: {} endpoints given; only `verify --proofs` and `keeper --proofs` ask several (the others talk to one)",
            args.rpc_url.len()
        )));
    }
    config_file_for_endpoints(args)
}

/// The configuration file of a command without chain flags (`seed push`, `manifest --image`):
/// `SEED_ETH_CONFIG`, else `./seed-eth.toml` when present, so `[oci] plain-http` applies to
/// every command that talks to a registry.
pub fn config_file_here() -> Result<ConfigFile, Failure> {
    let named = std::env::var_os("SEED_ETH_CONFIG")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    ConfigFile::load(named.as_deref(), &cwd()?).map_err(failure)
}

/// Reads the configuration file for a command that may ask several endpoints (`--proofs`).
pub fn config_file_for_endpoints(args: &ChainArgs) -> Result<ConfigFile, Failure> {
    ConfigFile::load(args.config.as_deref(), &cwd()?).map_err(failure)
}

/// Flags and environment for the connection, from the shared arguments.
pub fn overrides(args: &ChainArgs) -> ChainOverrides {
    ChainOverrides {
        rpc_url: args.rpc_url.first().cloned(),
        chain_id: args.chain_id,
        deployment: args.deployment.clone(),
        ..ChainOverrides::default()
    }
}

/// Flags and environment for the connection and the contracts whose events are read.
pub fn scan_overrides(args: &ChainArgs, scan: &ScanArgs) -> ChainOverrides {
    ChainOverrides {
        registry: scan.registry,
        from_block: scan.from_block,
        log_chunk: scan.log_chunk,
        ..overrides(args)
    }
}

/// Resolves flags and environment over the file.
pub fn settings(overrides: ChainOverrides, file: &ConfigFile) -> Result<ChainSettings, Failure> {
    ChainSettings::resolve(overrides, file, &cwd()?).map_err(failure)
}
