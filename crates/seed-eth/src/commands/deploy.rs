//! `seed-eth deploy`: deploy and wire the contracts, then write the deployment file.

use seed_chain::{
    deploy::DeployStep,
    keys::{load_signer, TerminalPrompt},
    BuilderConfig, ChainError, DeployOverrides,
};
use serde_json::json;

use super::chain::{block_on, config_file, failure, overrides, settings};
use crate::{
    cli::DeployArgs,
    exit::ExitCode,
    output::{Outcome, Report},
};

/// Resolves the configuration, deploys, checks the wiring and writes the file.
pub fn run(args: &DeployArgs, as_json: bool) -> Outcome {
    let mut file = config_file(&args.chain)?;
    // A registry address names an existing deployment; deploying creates a new one.
    file.registry = None;
    let mut chain_overrides = overrides(&args.chain);
    chain_overrides.keystore = args.keystore.clone();
    let settings = settings(chain_overrides, &file)?;
    let builders = args
        .builders
        .iter()
        .map(|spec| BuilderConfig::parse(spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failure)?;
    let deploy_overrides = DeployOverrides {
        safe: args.safe,
        safe_owners: non_empty(args.safe_owners.clone()),
        safe_threshold: args.safe_threshold,
        safe_salt_nonce: args.safe_salt_nonce,
        timelock_min_delay: args.timelock_delay,
        quorum: args.quorum,
        systems: non_empty(args.systems.clone()),
        independence_policy: args.independence_policy,
        builders: non_empty(builders),
    };
    // The key is checked before anything touches the network, so a missing key is always
    // reported as such (exit 2), whatever the state of the endpoint.
    let signer = load_signer(
        &settings.keys,
        |name| std::env::var(name).ok(),
        &TerminalPrompt,
    )
    .map_err(failure)?;

    block_on(async {
        let chain = settings
            .connect(|b| b.signer(signer))
            .await
            .map_err(failure)?;
        let config = deploy_overrides
            .resolve(&file, chain.chain_id())
            .map_err(failure)?;
        let path = settings.deployment_path(chain.chain_id()).ok_or_else(|| {
            failure(ChainError::Config(
                "deploy needs a deployment file path".to_owned(),
            ))
        })?;
        if path.exists() && !args.force {
            return Err(failure(ChainError::Config(format!(
                "deployment file {} already exists; pass --force to replace it, or choose another file with --deployment",
                path.display()
            ))));
        }
        seed_chain::deployment::check_writable(&path).map_err(failure)?;

        let outcome = seed_chain::deploy(&chain, &config, |step| {
            if !as_json {
                eprintln!(
                    "  {}: {}",
                    step.action,
                    step.address.map(|a| a.to_string()).unwrap_or_default()
                );
            }
        })
        .await
        .map_err(failure)?;
        let deployment = &outcome.deployment;
        if let Err(error) = deployment.write(&path) {
            // The contracts exist now; never lose their addresses.
            return Err(failure(seed_chain::deployment::unsaved(
                &path, error, deployment,
            )));
        }

        let c = &deployment.contracts;
        let mut text = format!(
            "deployed to chain {} (file {})\n",
            deployment.chain_id,
            path.display()
        );
        for (name, address) in c.named() {
            text.push_str(&format!("  {name:<24} {address}\n"));
        }
        let g = &deployment.governance;
        let r = &deployment.rules;
        text.push_str(&format!(
            "  Safe {}-of-{}, timelock delay {} s; k = {} of {} builders; systems {}; independence policy {}\n",
            g.safe_threshold,
            g.safe_owners.len(),
            g.timelock_min_delay,
            r.quorum,
            r.builders.len(),
            r.systems.join(", "),
            r.independence_policy
        ));
        let steps: Vec<_> = outcome.steps.iter().map(step_json).collect();
        let infra = outcome.safe_infra.map(|i| {
            json!({
                "singleton": i.singleton.to_checksum(None),
                "factory": i.factory.to_checksum(None),
                "fallbackHandler": i.fallback_handler.to_checksum(None),
            })
        });
        let deployment_json: serde_json::Value =
            serde_json::from_str(&deployment.to_json()).unwrap_or_default();
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({
                "deploymentFile": path.display().to_string(),
                "deployment": deployment_json,
                "safeInfra": infra,
                "transactions": steps,
            }),
        })
    })
}

fn step_json(step: &DeployStep) -> serde_json::Value {
    json!({
        "action": step.action,
        "tx": step.tx.to_string(),
        "gasUsed": step.gas_used,
        "address": step.address.map(|a| a.to_checksum(None)),
    })
}

fn non_empty<T>(values: Vec<T>) -> Option<Vec<T>> {
    (!values.is_empty()).then_some(values)
}
