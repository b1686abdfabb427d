//! `seed-eth status --commit C`: where a release stands on-chain.

use std::fmt::Write as _;

use alloy::primitives::B256;
use seed_chain::{release_status, status::SystemStatus, ReleaseStatus};
use seed_core::CommitId;
use serde_json::json;

use super::chain::{block_on, config_file, failure, scan_overrides, settings};
use crate::{
    cli::StatusArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Reads votes, rules and the ledger; exits 0 when finalised, 1 when not.
pub fn run(args: &StatusArgs) -> Outcome {
    let commit: CommitId = args
        .commit
        .parse()
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("--commit")))?;
    let file = config_file(&args.chain)?;
    let chain_overrides = scan_overrides(&args.chain, &args.scan);
    let settings = settings(chain_overrides, &file)?;

    block_on(async {
        let chain = settings.connect(|b| b).await.map_err(failure)?;
        let target = settings.open(&chain).await.map_err(failure)?;
        let status = release_status(&chain, &target, commit, settings.log_chunk)
            .await
            .map_err(failure)?;
        let code = if status.is_finalised() {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        };
        let mut json = serde_json::to_value(&status).unwrap_or_default();
        if let Some(object) = json.as_object_mut() {
            object.insert("isFinalised".to_owned(), json!(status.is_finalised()));
            object.insert("chainId".to_owned(), json!(chain.chain_id()));
        }
        Ok(Report {
            code,
            text: text(&status),
            json,
        })
    })
}

fn digest(value: &B256) -> String {
    format!("sha256:{}", alloy::hex::encode(value))
}

fn ids(ids: &[u8]) -> String {
    ids.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
}

fn text(status: &ReleaseStatus) -> String {
    let commit = CommitId::from_b256(status.commit);
    let mut out = String::new();
    match &status.finalised {
        Some(f) => {
            let _ = writeln!(
                out,
                "release {commit}: FINALISED, root {} in block {} (rules version {})",
                f.root, f.block, f.rules_version
            );
        }
        None => {
            let _ = writeln!(out, "release {commit}: not finalised");
        }
    }
    let genesis = if status.genesis_done {
        "after genesis: k".to_owned()
    } else {
        "genesis: every active builder".to_owned()
    };
    let _ = writeln!(
        out,
        "  registry {} ledger {}, blocks {}..={}",
        status.registry, status.ledger, status.scanned_blocks.0, status.scanned_blocks.1
    );
    let _ = writeln!(
        out,
        "  threshold {} ({genesis}), k = {}, {} active builders, rules version {}",
        status.threshold,
        status.quorum,
        status.active_builders.len(),
        status.rules_version
    );
    for e in &status.equivocations {
        let _ = writeln!(
            out,
            "  EQUIVOCATION: builder {} signed both {} and {} for {} (reported in block {}); none of its votes counts",
            e.builder_id,
            digest(&e.first_digest),
            digest(&e.second_digest),
            e.system,
            e.block
        );
    }
    for system in &status.systems {
        system_text(&mut out, system, status.threshold);
    }
    out
}

fn system_text(out: &mut String, system: &SystemStatus, threshold: u8) {
    let state = if let Some(d) = &system.finalised_digest {
        format!("final {}", digest(d))
    } else if system.quorum_reached {
        "quorum reached".to_owned()
    } else {
        let best = system
            .candidates
            .first()
            .map_or(0, |c| c.active_voters.len());
        format!("{best} of {threshold} votes")
    };
    let required = if system.required {
        ""
    } else {
        " (not required)"
    };
    let _ = writeln!(out, "  {}{required}: {state}", system.system);
    for c in &system.candidates {
        let _ = writeln!(
            out,
            "    {} voters [{}] active [{}]{}",
            digest(&c.manifest_digest),
            ids(&c.voters),
            ids(&c.active_voters),
            if c.quorum_reached { " QUORUM" } else { "" }
        );
    }
    if system.disagreement {
        let _ = writeln!(
            out,
            "    DISAGREEMENT: {} different manifest digests",
            system.candidates.len()
        );
    }
    for v in &system.votes {
        let _ = writeln!(
            out,
            "    vote builder {} {} block {}: manifest {} image {} statement {}",
            v.builder_id,
            v.signer,
            v.block,
            digest(&v.manifest_digest),
            digest(&v.image_digest),
            digest(&v.statement_digest)
        );
    }
    if !system.missing.is_empty() {
        let missing: Vec<String> = system
            .missing
            .iter()
            .map(|b| format!("{} ({})", b.builder_id, b.signer))
            .collect();
        let _ = writeln!(out, "    missing: {}", missing.join(", "));
    }
}
