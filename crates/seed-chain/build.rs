//! Compiles the project's Solidity contracts with `foundry-compilers`, using
//! the same compiler and settings as `forge build` (read from foundry.toml),
//! and writes one small artefact per contract the client deploys or calls
//! into `OUT_DIR/artifacts/<Name>.json` (`abi`, `bytecode`,
//! `deployedBytecode`). `src/bindings.rs` turns them into alloy bindings
//! with `sol!`, so no ABI or bytecode is ever copied by hand.
//!
//! Safe 1.4.1 is not compiled: its published hardhat artefacts are copied
//! into the same shape (docs/decisions.md, D-004).
//!
//! The compiler is the solc-js shim `script/solc` (node), or whatever native
//! `solc` the environment variable `SEED_ETH_SOLC` names (for Nix builds).

use std::{
    collections::BTreeMap,
    env, fmt, fs,
    path::{Path, PathBuf},
};

use foundry_compilers::{
    artifacts::{remappings::Remapping, BytecodeHash, EvmVersion, Settings, SettingsMetadata},
    solc::{Solc, SolcCompiler, SolcLanguage, SolcSettings},
    ConfigurableArtifacts, ProjectBuilder, ProjectPathsConfig,
};
use serde_json::{json, Value};

#[path = "src/solc_pin.rs"]
mod solc_pin;

/// Contracts compiled from source: (source file relative to the project root, contract name).
/// OpenZeppelin's proxy and timelock are compiled here too, exactly as forge compiles them for
/// `script/Deploy.s.sol`, so both deployment paths deploy the same bytecode.
const SOURCES: &[(&str, &str)] = &[
    ("contracts/SeedRegistry.sol", "SeedRegistry"),
    ("contracts/ReleaseLedger.sol", "ReleaseLedger"),
    (
        "node_modules/@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol",
        "ERC1967Proxy",
    ),
    (
        "node_modules/@openzeppelin/contracts/governance/TimelockController.sol",
        "TimelockController",
    ),
];

/// Safe 1.4.1 artefacts as published on npm (hardhat format), relative to the Safe package.
const SAFE_ARTIFACTS: &[(&str, &str)] = &[
    ("build/artifacts/contracts/Safe.sol/Safe.json", "Safe"),
    (
        "build/artifacts/contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
        "SafeProxyFactory",
    ),
    (
        "build/artifacts/contracts/handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
        "CompatibilityFallbackHandler",
    ),
];

const SAFE_PACKAGE: &str = "node_modules/@safe-global/safe-contracts";
const OPENZEPPELIN_PACKAGE: &str = "node_modules/@openzeppelin/contracts/package.json";

/// A build failure, printed by cargo with the build script's stderr.
struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail(message: impl Into<String>) -> BuildError {
    BuildError(message.into())
}

fn main() {
    if let Err(error) = run() {
        eprintln!("error: seed-chain build script: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BuildError> {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| fail(e.to_string()))?);
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .ok_or_else(|| fail("cannot find the project root two levels above crates/seed-chain"))?
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| fail(e.to_string()))?);
    let artifacts_dir = out_dir.join("artifacts");
    fs::create_dir_all(&artifacts_dir)
        .map_err(|e| fail(format!("create {}: {e}", artifacts_dir.display())))?;

    println!(
        "cargo:rerun-if-changed={}",
        root.join("contracts").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("foundry.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("script/solc").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join(OPENZEPPELIN_PACKAGE).display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("node_modules/@openzeppelin/contracts-upgradeable/package.json")
            .display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join(SAFE_PACKAGE).join("package.json").display()
    );
    println!("cargo:rerun-if-env-changed=SEED_ETH_SOLC");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("package.json").display()
    );

    let config = FoundryConfig::read(&root)?;
    let solc_version = compile(&root, &out_dir, &artifacts_dir, &config)?;
    copy_safe_artifacts(&root, &artifacts_dir)?;

    println!("cargo:rustc-env=SEED_CHAIN_SOLC_VERSION={solc_version}");
    println!(
        "cargo:rustc-env=SEED_CHAIN_OPENZEPPELIN_VERSION={}",
        package_version(&root.join(OPENZEPPELIN_PACKAGE))?
    );
    println!(
        "cargo:rustc-env=SEED_CHAIN_OPTIMIZER_RUNS={}",
        config.optimizer_runs
    );
    Ok(())
}

/// The compiler settings of foundry.toml's default profile that change bytecode.
struct FoundryConfig {
    solc: PathBuf,
    optimizer: bool,
    optimizer_runs: usize,
    via_ir: bool,
    evm_version: EvmVersion,
    bytecode_hash: BytecodeHash,
    libs: Vec<PathBuf>,
    remappings: Vec<Remapping>,
}

impl FoundryConfig {
    /// Reads `[profile.default]`; every setting forge would apply must be understood here, so
    /// unknown values fail the build instead of silently producing different bytecode.
    fn read(root: &Path) -> Result<Self, BuildError> {
        let path = root.join("foundry.toml");
        let text =
            fs::read_to_string(&path).map_err(|e| fail(format!("read {}: {e}", path.display())))?;
        let doc: toml::Table = text
            .parse()
            .map_err(|e| fail(format!("parse {}: {e}", path.display())))?;
        let profile = doc
            .get("profile")
            .and_then(|p| p.get("default"))
            .and_then(toml::Value::as_table)
            .ok_or_else(|| fail(format!("{} has no [profile.default]", path.display())))?;
        let get_str = |key: &str| profile.get(key).and_then(toml::Value::as_str);
        let get_bool = |key: &str, default: bool| {
            profile
                .get(key)
                .and_then(toml::Value::as_bool)
                .unwrap_or(default)
        };

        let solc = match env::var_os("SEED_ETH_SOLC") {
            Some(path) => PathBuf::from(path),
            None => root.join(get_str("solc").unwrap_or("solc")),
        };
        let optimizer_runs = match profile.get("optimizer_runs") {
            None => 200,
            Some(value) => value
                .as_integer()
                .and_then(|runs| usize::try_from(runs).ok())
                .ok_or_else(|| {
                    fail(format!(
                        "{}: optimizer_runs must be a non-negative integer",
                        path.display()
                    ))
                })?,
        };
        let evm_version = get_str("evm_version")
            .unwrap_or("cancun")
            .parse::<EvmVersion>()
            .map_err(|e| fail(format!("{}: evm_version: {e}", path.display())))?;
        let bytecode_hash = get_str("bytecode_hash")
            .unwrap_or("ipfs")
            .parse::<BytecodeHash>()
            .map_err(|e| fail(format!("{}: bytecode_hash: {e}", path.display())))?;
        let libs = profile
            .get("libs")
            .and_then(toml::Value::as_array)
            .map(|libs| {
                libs.iter()
                    .filter_map(toml::Value::as_str)
                    .map(|lib| root.join(lib))
                    .collect()
            })
            .unwrap_or_default();
        let mut remappings = Vec::new();
        for entry in profile
            .get("remappings")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = entry
                .as_str()
                .ok_or_else(|| fail(format!("{}: remappings must be strings", path.display())))?;
            let mut remapping: Remapping = text
                .parse()
                .map_err(|e| fail(format!("{}: remapping '{text}': {e}", path.display())))?;
            // Remapping targets are relative to the project root; solc needs them absolute here
            // because the build runs from the crate directory.
            let mut target = root.join(&remapping.path).display().to_string();
            if remapping.path.ends_with('/') && !target.ends_with('/') {
                target.push('/');
            }
            remapping.path = target;
            remappings.push(remapping);
        }
        Ok(Self {
            solc,
            optimizer: get_bool("optimizer", false),
            optimizer_runs,
            via_ir: get_bool("via_ir", false),
            evm_version,
            bytecode_hash,
            libs,
            remappings,
        })
    }
}

/// Compiles [`SOURCES`] and writes their artefacts; returns the compiler version.
fn compile(
    root: &Path,
    out_dir: &Path,
    artifacts_dir: &Path,
    config: &FoundryConfig,
) -> Result<String, BuildError> {
    let solc = Solc::new(&config.solc).map_err(|e| {
        fail(format!(
            "cannot run the Solidity compiler '{}': {e}. Run `make setup` (npm ci installs solc-js and \
             node_modules), or set SEED_ETH_SOLC to a native solc 0.8.29",
            config.solc.display()
        ))
    })?;
    let version = format!(
        "{}.{}.{}",
        solc.version.major, solc.version.minor, solc.version.patch
    );
    let package_json = root.join("package.json");
    let pinned = fs::read_to_string(&package_json)
        .map_err(|e| fail(format!("read {}: {e}", package_json.display())))
        .and_then(|text| solc_pin::pinned_version(&text).map_err(fail))?;
    solc_pin::check(&pinned, &version, &config.solc.display().to_string()).map_err(fail)?;

    let mut paths = ProjectPathsConfig::builder()
        .root(root)
        .sources(root.join("contracts"))
        .artifacts(out_dir.join("solc-out"))
        .build_infos(out_dir.join("solc-out/build-info"))
        .cache(out_dir.join("solc-cache/solidity-files-cache.json"))
        .remappings(config.remappings.clone());
    for lib in &config.libs {
        paths = paths.lib(lib);
    }
    let paths = paths
        .build::<SolcLanguage>()
        .map_err(|e| fail(format!("project paths: {e}")))?;

    let mut settings = Settings::default();
    settings.optimizer.enabled = Some(config.optimizer);
    settings.optimizer.runs = Some(config.optimizer_runs);
    settings.evm_version = Some(config.evm_version);
    settings.metadata = Some(SettingsMetadata::from(config.bytecode_hash));
    if config.via_ir {
        settings.via_ir = Some(true);
    }
    let project = ProjectBuilder::<SolcCompiler, ConfigurableArtifacts>::new(
        ConfigurableArtifacts::default(),
    )
    .paths(paths)
    .settings(SolcSettings {
        settings,
        ..Default::default()
    })
    .no_artifacts()
    .build(SolcCompiler::Specific(solc))
    .map_err(|e| fail(format!("project setup: {e}")))?;

    let files: Vec<PathBuf> = SOURCES.iter().map(|(file, _)| root.join(file)).collect();
    for file in &files {
        if !file.is_file() {
            return Err(fail(format!(
                "{} does not exist; run `make setup` (npm ci) to install the Solidity libraries",
                file.display()
            )));
        }
    }
    let output = project
        .compile_files(files)
        .map_err(|e| fail(format!("compiling the contracts: {e}")))?;
    if output.has_compiler_errors() {
        let errors: Vec<String> = output
            .output()
            .errors
            .iter()
            .map(ToString::to_string)
            .collect();
        return Err(fail(format!(
            "solc reported errors:\n{}",
            errors.join("\n")
        )));
    }

    for (file, name) in SOURCES {
        let artifact = output
            .find(&root.join(file), name)
            .or_else(|| output.find_first(name))
            .ok_or_else(|| fail(format!("no artefact for {name} in {file}")))?;
        let abi = artifact
            .abi
            .as_ref()
            .ok_or_else(|| fail(format!("{name}: no ABI in the compiler output")))?;
        let bytecode = artifact
            .bytecode
            .as_ref()
            .and_then(|b| b.object.as_bytes())
            .ok_or_else(|| fail(format!("{name}: no (linked) creation bytecode")))?;
        let deployed = artifact
            .deployed_bytecode
            .as_ref()
            .and_then(|d| d.bytecode.as_ref())
            .and_then(|b| b.object.as_bytes())
            .ok_or_else(|| fail(format!("{name}: no (linked) runtime bytecode")))?;
        let abi = serde_json::to_value(abi).map_err(|e| fail(format!("{name}: ABI: {e}")))?;
        write_artifact(
            artifacts_dir,
            name,
            abi,
            &format!("{bytecode}"),
            &format!("{deployed}"),
        )?;
    }
    Ok(version)
}

/// Copies Safe's published artefacts into the same minimal shape.
fn copy_safe_artifacts(root: &Path, artifacts_dir: &Path) -> Result<(), BuildError> {
    for (file, name) in SAFE_ARTIFACTS {
        let path = root.join(SAFE_PACKAGE).join(file);
        let text = fs::read_to_string(&path).map_err(|e| {
            fail(format!(
                "read {}: {e}; run `make setup` (npm ci installs @safe-global/safe-contracts)",
                path.display()
            ))
        })?;
        let artifact: BTreeMap<String, Value> = serde_json::from_str(&text)
            .map_err(|e| fail(format!("parse {}: {e}", path.display())))?;
        let field = |key: &str| {
            artifact
                .get(key)
                .cloned()
                .ok_or_else(|| fail(format!("{}: no '{key}'", path.display())))
        };
        let hex_field = |key: &str| -> Result<String, BuildError> {
            field(key)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| fail(format!("{}: '{key}' is not a hex string", path.display())))
        };
        write_artifact(
            artifacts_dir,
            name,
            field("abi")?,
            &hex_field("bytecode")?,
            &hex_field("deployedBytecode")?,
        )?;
    }
    Ok(())
}

/// Writes `{abi, bytecode: {object}, deployedBytecode: {object}}`, the forge artefact shape `sol!` reads.
fn write_artifact(
    dir: &Path,
    name: &str,
    abi: Value,
    bytecode: &str,
    deployed: &str,
) -> Result<(), BuildError> {
    let with_prefix = |hex: &str| {
        if hex.starts_with("0x") {
            hex.to_owned()
        } else {
            format!("0x{hex}")
        }
    };
    let artifact = json!({
        "abi": abi,
        "bytecode": { "object": with_prefix(bytecode) },
        "deployedBytecode": { "object": with_prefix(deployed) },
    });
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string(&artifact).map_err(|e| fail(format!("{name}: {e}")))?;
    // Rewrite only on change, so an unchanged artefact does not recompile the bindings.
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        fs::write(&path, text).map_err(|e| fail(format!("write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The `version` field of an npm package.json.
fn package_version(path: &Path) -> Result<String, BuildError> {
    let text = fs::read_to_string(path)
        .map_err(|e| fail(format!("read {}: {e}; run `make setup`", path.display())))?;
    let package: Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("parse {}: {e}", path.display())))?;
    package
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("{}: no version", path.display())))
}
