//! The witness as a service: each pass polls every log, gossips with every
//! peer, compares the recorded chain blocks with the chain endpoints, and
//! reports what it found; `run` repeats passes until
//! shutdown, backing off while logs or peers fail.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use tokio::sync::watch;

use crate::{
    chain::ChainEndpoint,
    gossip::{self, Exchange, GossipError, Peer},
    server::Metrics,
    store::Alarm,
    witness::{Observed, Witness, WitnessError},
};

/// The longest wait between passes while failing.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What one pass found.
#[derive(Debug, Default)]
pub struct PassReport {
    /// Each log reconciled, by origin, with how.
    pub observed: Vec<(String, Observed)>,
    /// Exchanges with peers that reconciled or cosigned, as (peer, origin).
    pub gossiped: Vec<(String, String)>,
    /// Recorded chain blocks compared with an endpoint.
    pub blocks_compared: usize,
    /// Split views detected (also stored).
    pub alarms: Vec<Alarm>,
    /// Failures that are not alarms (a log or a peer unavailable).
    pub failures: Vec<String>,
}

/// A witness, its peers, the chain endpoints it compares blocks with, and
/// its metrics.
pub struct Service {
    witness: Arc<Witness>,
    peers: Vec<Peer>,
    chains: Vec<ChainEndpoint>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

impl Service {
    /// A service for `witness` gossiping with `peers` and comparing the
    /// recorded chain blocks with `chains`.
    pub fn new(
        witness: Arc<Witness>,
        peers: Vec<Peer>,
        chains: Vec<ChainEndpoint>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            witness,
            peers,
            chains,
            metrics,
            http: gossip::client(),
        }
    }

    /// One pass: poll every log, pull from and push to every peer, then
    /// compare the recorded chain blocks with every chain endpoint.
    pub async fn pass(&self) -> PassReport {
        let mut report = PassReport::default();
        let logs: Vec<_> = self.witness.logs().cloned().collect();
        for log in logs.iter().filter(|log| log.client.is_some()) {
            match self.witness.poll(log).await {
                Ok(observed) => {
                    self.metrics.polls.fetch_add(1, Ordering::Relaxed);
                    self.count_cosigned(observed);
                    report.observed.push((log.key.origin.clone(), observed));
                }
                Err(error) => {
                    self.metrics.poll_failures.fetch_add(1, Ordering::Relaxed);
                    self.failed(&mut report, error);
                }
            }
        }
        for peer in &self.peers {
            for log in &logs {
                for exchange in [
                    peer.pull(&self.witness, log, &self.http).await,
                    peer.push(&self.witness, log, &self.http).await,
                ] {
                    match exchange {
                        Ok(Exchange::Nothing) => {}
                        Ok(exchange) => {
                            if let Exchange::Reconciled(observed) = exchange {
                                self.count_cosigned(observed);
                            }
                            report
                                .gossiped
                                .push((peer.name.clone(), log.key.origin.clone()));
                        }
                        Err(GossipError::Witness(error)) => self.failed(&mut report, error),
                        Err(error) => {
                            self.metrics.gossip_failures.fetch_add(1, Ordering::Relaxed);
                            report.failures.push(error.to_string());
                        }
                    }
                }
            }
        }
        for chain in &self.chains {
            match chain.check(&self.witness).await {
                Ok(check) => {
                    self.metrics
                        .alarms
                        .fetch_add(check.alarms.len() as u64, Ordering::Relaxed);
                    report.blocks_compared += check.compared;
                    report.alarms.extend(check.alarms);
                }
                Err(error) => report.failures.push(error.to_string()),
            }
        }
        let healthy = report.failures.is_empty() && report.alarms.is_empty();
        self.metrics.healthy.store(healthy, Ordering::Relaxed);
        report
    }

    fn count_cosigned(&self, observed: Observed) {
        if self.witness.cosigner().is_some()
            && matches!(observed, Observed::First { .. } | Observed::Advanced { .. })
        {
            self.metrics.cosigned.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn failed(&self, report: &mut PassReport, error: WitnessError) {
        match error {
            WitnessError::Alarm(alarm) => {
                self.metrics.alarms.fetch_add(1, Ordering::Relaxed);
                report.alarms.push(*alarm);
            }
            other => report.failures.push(other.to_string()),
        }
    }

    /// Passes every `poll` until `shutdown` turns true; a failing pass
    /// doubles the wait, up to five minutes.
    pub async fn run(&self, poll: Duration, mut shutdown: watch::Receiver<bool>) {
        let mut wait = poll;
        while !*shutdown.borrow() {
            let report = self.pass().await;
            for alarm in &report.alarms {
                tracing::error!(origin = %alarm.origin, kind = ?alarm.kind, source = %alarm.source,
                    detail = %alarm.detail, id = alarm.id, "SPLIT VIEW");
            }
            for failure in &report.failures {
                tracing::warn!(%failure, "witness pass incomplete; retrying");
            }
            wait = if report.failures.is_empty() {
                poll
            } else {
                (wait * 2).min(MAX_BACKOFF.max(poll))
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
