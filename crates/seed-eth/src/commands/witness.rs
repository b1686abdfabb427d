//! `seed-eth witness`: the witness service, its keys and its alarms.

use std::{io::Write, os::unix::fs::OpenOptionsExt, path::Path, sync::Arc, time::Duration};

use seed_witness::{
    config::WitnessConfig,
    server::{self, Metrics},
    service::{PassReport, Service},
    Alarm, Cosigner, Observed, Store, Witness,
};
use serde_json::json;

use super::chain::block_on;
use crate::{
    cli::{WitnessAlarmsArgs, WitnessArgs, WitnessCommand, WitnessKeygenArgs, WitnessRunArgs},
    exit::ExitCode,
    output::{count, Failure, Outcome, Report},
};

/// Where the state lives when neither the flag nor the file says.
const DEFAULT_STATE: &str = "seed-witness.sqlite";
/// Passes every ten seconds unless told otherwise.
const DEFAULT_POLL_MS: u64 = 10_000;

/// Runs `seed-eth witness …`.
pub fn run(args: &WitnessArgs) -> Outcome {
    match &args.command {
        WitnessCommand::Run(args) => run_witness(args),
        WitnessCommand::Keygen(args) => keygen(args),
        WitnessCommand::Alarms(args) => alarms(args),
    }
}

fn run_witness(args: &WitnessRunArgs) -> Outcome {
    let config = WitnessConfig::read(&args.config).map_err(Failure::usage)?;
    let state = args
        .state
        .clone()
        .or(config.state)
        .unwrap_or_else(|| DEFAULT_STATE.into());
    let poll = Duration::from_millis(
        args.poll_ms
            .or(config.poll_ms)
            .unwrap_or(DEFAULT_POLL_MS)
            .max(1),
    );
    let listen = args.listen.or(config.listen);
    let witness =
        Arc::new(Witness::open(config.logs, config.cosigner, &state).map_err(Failure::usage)?);
    block_on(async {
        let metrics = Arc::new(Metrics::default());
        if let Some(addr) = listen {
            let bound = server::serve(addr, witness.clone(), metrics.clone())
                .await
                .map_err(|e| {
                    Failure::usage(
                        eyre::Report::new(e).wrap_err(format!("cannot listen on {addr}")),
                    )
                })?;
            eprintln!(
                "witness: tlog-witness endpoints, /alarms, /healthz and /metrics on http://{bound}"
            );
        }
        let service = Service::new(witness, config.peers, config.chains, metrics);
        if args.once {
            return Ok(pass_report(&service.pass().await));
        }
        let shutdown =
            seed_keeper::shutdown_on_signals().map_err(|e| Failure::usage(eyre::Report::new(e)))?;
        service.run(poll, shutdown).await;
        Ok(Report {
            code: ExitCode::Ok,
            text: "witness: stopped\n".to_owned(),
            json: json!({"stopped": true}),
        })
    })
}

fn pass_report(report: &PassReport) -> Report {
    let mut text = String::new();
    for (origin, observed) in &report.observed {
        let line = match observed {
            Observed::First { size } => format!("{origin}: first checkpoint, size {size}"),
            Observed::Advanced { from, to } => format!("{origin}: size {from} -> {to}, consistent"),
            Observed::Same { size } => format!("{origin}: size {size}, unchanged"),
            Observed::Behind { size, held } => {
                format!("{origin}: size {size}, a prefix of the held {held}")
            }
        };
        text.push_str(&line);
        text.push('\n');
    }
    for (peer, origin) in &report.gossiped {
        text.push_str(&format!("gossip with {peer} about {origin}: consistent\n"));
    }
    if report.blocks_compared > 0 {
        text.push_str(&format!(
            "chain blocks compared with endpoints: {}\n",
            report.blocks_compared
        ));
    }
    for alarm in &report.alarms {
        text.push_str(&alarm_text(alarm));
    }
    for failure in &report.failures {
        text.push_str(&format!("not reconciled: {failure}\n"));
    }
    let code = if !report.alarms.is_empty() {
        text.push_str(&format!(
            "SPLIT VIEW: {} (kept in the state file; see docs/runbooks.md)\n",
            count(report.alarms.len(), "alarm", "alarms")
        ));
        ExitCode::CheckFailed
    } else if !report.failures.is_empty() {
        ExitCode::Network
    } else {
        ExitCode::Ok
    };
    Report {
        code,
        text,
        json: json!({
            "observed": report.observed.iter().map(|(origin, o)| json!({"origin": origin, "observed": format!("{o:?}")})).collect::<Vec<_>>(),
            "gossiped": report.gossiped.iter().map(|(peer, origin)| json!({"peer": peer, "origin": origin})).collect::<Vec<_>>(),
            "blocksCompared": report.blocks_compared,
            "alarms": report.alarms,
            "failures": report.failures,
        }),
    }
}

fn alarm_text(alarm: &Alarm) -> String {
    format!(
        "ALARM #{} {:?} of {:?} from {}: {}\n  held:\n{}  seen:\n{}{}",
        alarm.id,
        alarm.kind,
        alarm.origin,
        alarm.source,
        alarm.detail,
        indent(&alarm.held),
        indent(&alarm.seen),
        if alarm.proof.is_empty() {
            String::new()
        } else {
            format!("  proof:\n{}", indent(&alarm.proof.join("\n")))
        }
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}\n")).collect()
}

fn keygen(args: &WitnessKeygenArgs) -> Outcome {
    let cosigner = Cosigner::generate(&args.name).map_err(Failure::usage)?;
    write_secret(&args.out, cosigner.secret().as_bytes()).map_err(|e| {
        Failure::usage(eyre::Report::new(e).wrap_err(format!(
            "cannot create {} (an existing key is never overwritten)",
            args.out.display()
        )))
    })?;
    let vkey = cosigner.vkey().to_string();
    Ok(Report {
        code: ExitCode::Ok,
        text: format!("{vkey}\n"),
        json: json!({"vkey": vkey, "secret": args.out}),
    })
}

/// Creates `path` readable by its owner only, refusing to replace a file.
fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

fn alarms(args: &WitnessAlarmsArgs) -> Outcome {
    if !args.state.exists() {
        return Err(Failure::usage(eyre::eyre!(
            "no witness state at {}; give --state",
            args.state.display()
        )));
    }
    let alarms = Store::open(&args.state)
        .and_then(|store| store.alarms())
        .map_err(Failure::usage)?;
    let text = if alarms.is_empty() {
        "no alarms\n".to_owned()
    } else {
        alarms.iter().map(alarm_text).collect()
    };
    Ok(Report {
        code: if alarms.is_empty() {
            ExitCode::Ok
        } else {
            ExitCode::CheckFailed
        },
        text,
        json: json!({"alarms": alarms}),
    })
}
