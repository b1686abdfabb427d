//! `seed-eth keeper`: the promotion service (or, with --once, one catch-up).
//! Everything it does lives in the seed-keeper crate; this module resolves
//! the configuration, maps errors to exit codes and prints the result.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use seed_keeper::{
    Contracts, FaultPoint, Finality, Keeper, KeeperConfig, KeeperError, Metrics, Promotion,
    PromotionRow, TagOutcome, TagState, Template,
};
use serde_json::json;

use super::{
    chain::{block_on, config_file, config_file_for_endpoints, failure, scan_overrides, settings},
    credulous, proofs,
};
use crate::{
    cli::{KeeperArgs, Posture},
    exit::ExitCode,
    output::{count, Failure, Outcome, Report},
};

/// Test hook: stop the process at a named point (docs/cli.md, "keeper").
const FAULT_ENV: &str = "SEED_ETH_KEEPER_FAULT";

pub(super) fn keeper_failure(error: KeeperError) -> Failure {
    let code = if error.is_config() {
        ExitCode::Usage
    } else {
        ExitCode::Network
    };
    Failure {
        code,
        error: eyre::Report::new(error),
    }
}

/// Tag templates when neither flags, the environment nor the file name any.
const DEFAULT_TAGS: [&str; 2] = ["{commit}-{system}", "release-{system}"];
/// The state file when neither flags, the environment nor the file name one.
const DEFAULT_STATE: &str = "seed-eth-keeper.sqlite";
/// The poll interval when neither flags, the environment nor the file set one, milliseconds.
const DEFAULT_POLL_MS: u64 = 2000;

/// Runs the keeper.
pub fn run(args: &KeeperArgs) -> Outcome {
    let file = if args.proofs.proofs {
        config_file_for_endpoints(&args.chain)?
    } else {
        config_file(&args.chain)?
    };
    // Flags and environment (clap merges them) beat the `[keeper]` table.
    let section = file.keeper_section();
    let template = |text: &str| Template::new(text).map_err(keeper_failure);
    let source = args.source.clone().or(section.source).ok_or_else(|| {
        Failure::usage(eyre::eyre!(
            "no repository to promote from: give --source REGISTRY/REPO, SEED_ETH_KEEPER_SOURCE, or `source` in the [keeper] table of seed-eth.toml"
        ))
    })?;
    let source = template(&source)?;
    let tags = match (args.tags.is_empty(), section.tags) {
        (false, _) => args.tags.clone(),
        (true, Some(tags)) => tags,
        (true, None) => DEFAULT_TAGS.iter().map(|t| (*t).to_owned()).collect(),
    };
    let promotion = Promotion {
        target: match args.target.clone().or(section.target) {
            Some(target) => template(&target)?,
            None => source.clone(),
        },
        source,
        tags: tags.iter().map(|t| template(t)).collect::<Result<_, _>>()?,
    };
    if args.posture.posture == Posture::Credulous {
        let state = args
            .state
            .clone()
            .or(section.state)
            .unwrap_or_else(|| DEFAULT_STATE.into());
        let poll = Duration::from_millis(
            args.poll_ms
                .or(section.poll_ms)
                .unwrap_or(DEFAULT_POLL_MS)
                .max(1),
        );
        let metrics_addr = args.metrics_addr.or(section.metrics_addr);
        return credulous::keeper(args, &file, promotion, &state, poll, metrics_addr);
    }
    let fault = match std::env::var(FAULT_ENV) {
        Ok(point) if !point.is_empty() => Some(FaultPoint::parse(&point).map_err(keeper_failure)?),
        _ => None,
    };
    let chain_overrides = scan_overrides(&args.chain, &args.scan);
    let settings = settings(chain_overrides, &file)?;
    let config = KeeperConfig {
        state: args
            .state
            .clone()
            .or(section.state)
            .unwrap_or_else(|| DEFAULT_STATE.into()),
        finality: args
            .confirmations
            .or(section.confirmations)
            .map_or(Finality::FinalizedTag, Finality::Confirmations),
        promotion,
        poll_interval: Duration::from_millis(
            args.poll_ms
                .or(section.poll_ms)
                .unwrap_or(DEFAULT_POLL_MS)
                .max(1),
        ),
        log_chunk: settings.log_chunk,
        concurrency: args.concurrency,
        retry_base: Duration::from_millis(args.retry_base_ms.max(1)),
        retry_max: Duration::from_millis(args.retry_max_ms.max(1)),
        pass_timeout: Duration::from_millis(args.pass_timeout_ms.max(1)),
        // Recording the block a release relied on, and proving it, need seed-verify's report.
        verify: args.verify || args.posture.witness_state.is_some() || args.proofs.proofs,
        witness_state: args.posture.witness_state.clone(),
        proofs: proofs::request(&args.proofs, &args.chain.rpc_url)?,
        unchecked_systems: args
            .no_content_check
            .iter()
            .map(|system| {
                system
                    .parse::<seed_core::System>()
                    .map(|s| s.to_string())
                    .map_err(|e| {
                        Failure::usage(eyre::Report::new(e).wrap_err("--no-content-check"))
                    })
            })
            .collect::<Result<_, _>>()?,
        fault,
    };
    let client = super::oci::registry_client(&args.plain_http, &file)
        .map_err(|e| Failure::usage(eyre::Report::new(e)))?;

    block_on(async {
        // /healthz answers (503) from the start, also while the chain is
        // still out of reach.
        let metrics = Arc::new(Metrics::default());
        if let Some(addr) = args.metrics_addr.or(section.metrics_addr) {
            let bound = seed_keeper::metrics::serve(addr, metrics.clone())
                .await
                .map_err(keeper_failure)?;
            eprintln!("keeper: /healthz and /metrics on http://{bound}");
        }
        let start = || async {
            let chain = settings.connect(|b| b).await?;
            let target = settings.open(&chain).await?;
            Ok((chain, target))
        };
        let (chain, target, shutdown) = if args.once {
            let (chain, target) = start().await.map_err(failure)?;
            (chain, target, None)
        } else {
            let mut shutdown = seed_keeper::shutdown_on_signals().map_err(keeper_failure)?;
            match seed_keeper::start_with_retry(&config, &mut shutdown, start)
                .await
                .map_err(keeper_failure)?
            {
                Some((chain, target)) => (chain, target, Some(shutdown)),
                None => return Ok(stopped()),
            }
        };
        let contracts = Contracts {
            registry: target.registry,
            ledger: target.ledger,
            from_block: target.from_block,
        };
        let mut keeper =
            Keeper::new(chain, client, contracts, config, metrics).map_err(keeper_failure)?;
        let Some(shutdown) = shutdown else {
            let (pass, remaining) = keeper.run_once().await.map_err(keeper_failure)?;
            let promotions = keeper.store().all_promotions().map_err(keeper_failure)?;
            return Ok(once_report(&pass, &promotions, &remaining));
        };
        keeper.run(shutdown).await.map_err(keeper_failure)?;
        Ok(stopped())
    })
}

fn stopped() -> Report {
    Report {
        code: ExitCode::Ok,
        text: "keeper: stopped\n".to_owned(),
        json: json!({"stopped": true}),
    }
}

fn row_json(p: &PromotionRow) -> serde_json::Value {
    json!({
        "commit": seed_keeper::promote::commit_text(&p.commit).unwrap_or_else(|_| p.commit.clone()),
        "system": p.system,
        "image": p.image.replacen("0x", "sha256:", 1),
        "builder": p.builder,
        "block": p.block,
        "state": p.state,
        "attempts": p.attempts,
        "lastError": p.last_error,
    })
}

fn tag_json(t: &TagOutcome) -> serde_json::Value {
    let state = match &t.state {
        TagState::Current => "current",
        TagState::Moved { .. } => "moved",
        TagState::Held { .. } => "held",
        TagState::Failed(_) => "failed",
    };
    let mut out = json!({
        "tag": t.tag,
        "system": t.system,
        "release": t.release,
        "image": t.image.to_string(),
        "state": state,
    });
    match &t.state {
        TagState::Held { commit, position } => {
            out["heldBy"] =
                json!({"commit": commit, "block": position.block, "logIndex": position.log_index});
        }
        TagState::Failed(error) => out["error"] = json!(error),
        TagState::Moved { from } => out["from"] = json!(from.map(|d| d.to_string())),
        TagState::Current => {}
    }
    out
}

fn once_report(
    pass: &seed_keeper::Pass,
    promotions: &[PromotionRow],
    remaining: &[PromotionRow],
) -> Report {
    let mut text = String::new();
    let failed_tags = pass.failed_tags().count();
    let _ = writeln!(
        text,
        "keeper: caught up to final block {}; {} promoted now, {} moved, {} still pending{}",
        pass.final_block,
        pass.promoted,
        count(pass.moved.len(), "moving tag", "moving tags"),
        remaining.len(),
        if failed_tags > 0 {
            format!(
                ", {} NOT moved",
                count(failed_tags, "moving tag", "moving tags")
            )
        } else {
            String::new()
        }
    );
    for p in promotions {
        let commit =
            seed_keeper::promote::commit_text(&p.commit).unwrap_or_else(|_| p.commit.clone());
        let _ = writeln!(
            text,
            "  {commit} {}: {} image {} (builder {}){}",
            p.system,
            p.state,
            p.image.replacen("0x", "sha256:", 1),
            p.builder,
            p.last_error
                .as_ref()
                .filter(|_| p.state != "done")
                .map(|e| format!(" last error: {e}"))
                .unwrap_or_default()
        );
    }
    for tag in &pass.moved {
        let _ = writeln!(text, "  moved {tag}");
    }
    for t in &pass.tags {
        match &t.state {
            TagState::Held { commit, position } => {
                let _ = writeln!(
                    text,
                    "  {} left on release {commit} ({position}), later than this keeper's newest ({})",
                    t.tag, t.release
                );
            }
            TagState::Failed(error) => {
                let _ = writeln!(
                    text,
                    "  {} NOT moved to release {}: {error} (retried on the next run)",
                    t.tag, t.release
                );
            }
            TagState::Current | TagState::Moved { .. } => {}
        }
    }
    Report {
        code: if remaining.is_empty() && failed_tags == 0 {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        },
        text,
        json: json!({
            "finalBlock": pass.final_block,
            "promoted": pass.promoted,
            "failed": pass.failed,
            "moved": pass.moved,
            "movingTags": pass.tags.iter().map(tag_json).collect::<Vec<_>>(),
            "pending": remaining.iter().map(row_json).collect::<Vec<_>>(),
            "promotions": promotions.iter().map(row_json).collect::<Vec<_>>(),
        }),
    }
}
