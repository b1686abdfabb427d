//! `seed-eth builder init`: a new builder's key and the proposal that registers it. The key is
//! made by seed-chain (`keys::new_keystore`); the proposal is `gov propose add-builder`'s.

use std::path::PathBuf;

use alloy::primitives::Address;
use clap::{Args, Subcommand};
use seed_chain::keys::{new_keystore, TerminalPrompt};
use serde_json::json;

use super::{
    chain::failure,
    gov::{propose, refuse_existing, BuilderTags, ProposeAction, ProposeCommon},
};
use crate::output::Outcome;

/// Arguments of `seed-eth builder`.
#[derive(Debug, Args)]
pub struct BuilderArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BuilderCommand,
}

/// The builder subcommands.
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Make the builder's signing key (or take its address) and write the `add-builder`
    /// proposal for governance; prints the address and the independence tags it proposes.
    Init(InitArgs),
}

/// Arguments of `seed-eth builder init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Make a new signing key here, as `<address>.json`, encrypted (password from
    /// SEED_ETH_KEYSTORE_PASSWORD or a prompt, asked twice).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "signer",
        conflicts_with = "signer"
    )]
    pub keystore_dir: Option<PathBuf>,

    /// The builder's existing signing address instead of a new key.
    #[arg(long, value_name = "ADDRESS")]
    pub signer: Option<Address>,

    /// Its independence tags.
    #[command(flatten)]
    pub tags: BuilderTags,

    /// The proposal file and the chain (as `gov propose`).
    #[command(flatten)]
    pub common: ProposeCommon,
}

/// Runs a builder subcommand.
pub fn run(args: &BuilderArgs) -> Outcome {
    match &args.command {
        BuilderCommand::Init(init) => run_init(init),
    }
}

fn run_init(args: &InitArgs) -> Outcome {
    // Nothing is made when the proposal could not be written anyway.
    refuse_existing(&args.common.out)?;
    let (signer, keystore) = match (&args.signer, &args.keystore_dir) {
        (Some(address), _) => (*address, None),
        (None, Some(dir)) => {
            let (key, path) = new_keystore(dir, |name| std::env::var(name).ok(), &TerminalPrompt)
                .map_err(failure)?;
            (key.address(), Some(path))
        }
        (None, None) => {
            return Err(crate::output::Failure::usage(eyre::eyre!(
                "give --keystore-dir DIR (a new key) or --signer ADDRESS"
            )))
        }
    };
    let proposal = propose(&ProposeAction::AddBuilder {
        signer,
        tags: args.tags.clone(),
        common: args.common.clone(),
    })
    .map_err(|mut failure| {
        if let Some(path) = &keystore {
            failure.error = failure.error.wrap_err(format!(
                "the key was made ({}); once fixed, run again with --signer {signer}",
                path.display()
            ));
        }
        failure
    })?;
    let mut text = format!("builder signer {signer}\n");
    if let Some(path) = &keystore {
        text.push_str(&format!(
            "  key: {} (encrypted; keep it and its password: whoever holds both votes as this builder)\n",
            path.display()
        ));
    }
    text.push_str(&format!(
        "  independence tags: organisation '{}', jurisdiction '{}', infrastructure '{}'\n",
        args.tags.organisation, args.tags.jurisdiction, args.tags.infrastructure
    ));
    text.push_str(&proposal.text);
    text.push_str(&format!(
        "next: the Safe's owners review it (`seed-eth gov show {0}`), sign it (`gov sign {0}`) and submit it; the builder votes once it executes\n",
        args.common.out.display()
    ));
    Ok(crate::output::Report {
        code: proposal.code,
        text,
        json: json!({
            "signer": signer,
            "keystore": keystore.map(|p| p.display().to_string()),
            "organisation": args.tags.organisation,
            "jurisdiction": args.tags.jurisdiction,
            "infrastructure": args.tags.infrastructure,
            "proposal": proposal.json,
        }),
    })
}
