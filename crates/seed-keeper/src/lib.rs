//! The seed-eth keeper: under the Zero posture there is no release node, so
//! promotion is mechanical. The keeper follows the ledger's `ReleaseRecorded`
//! events (and the registry's `ReleaseFinalised` and `Attested` events they
//! come with) for one deployment, acts only once their block is final, and
//! promotes each system's attested image bit-exact to the configured tags,
//! attaching a verdict referrer. Its progress lives in SQLite, so a restart
//! resumes where it stopped, and every step is idempotent, so a crash, a
//! retry or a second keeper never duplicates an effect.
//!
//! - [`follower`]: finality and the logs of final blocks;
//! - [`promote`]: one promotion, and the moving tags;
//! - [`store`]: the state database;
//! - [`metrics`]: `/metrics` and `/healthz`.
//!
//! Design: docs/decisions.md, D-030 to D-034.

pub mod config;
pub mod error;
pub mod follower;
pub mod metrics;
pub mod promote;
pub mod store;

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use alloy::primitives::Address;
use futures_util::StreamExt;
use seed_chain::Chain;
use seed_oci::RegistryClient;
use tokio::sync::watch;

pub use config::{FaultPoint, Finality, KeeperConfig, Promotion, Template, FAULT_EXIT_CODE};
pub use error::{KeeperError, Result};
pub use metrics::Metrics;
pub use promote::{Verdict, VERDICT_ANNOTATION, VERDICT_ARTIFACT_TYPE};
pub use store::{PromotionRow, Store};

use crate::{follower::hex, promote::Context, store::now_ms};

/// The deployment a keeper follows.
#[derive(Debug, Clone, Copy)]
pub struct Contracts {
    /// The registry proxy.
    pub registry: Address,
    /// The ledger.
    pub ledger: Address,
    /// The first block worth scanning (the deployment block).
    pub from_block: u64,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Final block reached.
    pub final_block: u64,
    /// Releases newly seen final.
    pub releases: usize,
    /// Promotions completed.
    pub promoted: usize,
    /// Promotion attempts that failed (retried later).
    pub failed: usize,
    /// Moving tags moved.
    pub moved: Vec<String>,
}

/// The keeper.
#[derive(Debug)]
pub struct Keeper {
    chain: Chain,
    store: Store,
    ctx: Context,
    config: KeeperConfig,
    contracts: Contracts,
    metrics: Arc<Metrics>,
    /// Releases seed-verify accepted (in this process).
    verified: HashSet<String>,
}

impl Keeper {
    /// A keeper for `contracts` on `chain`, with its state in
    /// `config.state`.
    pub fn new(
        chain: Chain,
        client: RegistryClient,
        contracts: Contracts,
        config: KeeperConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        config.promotion.validate()?;
        if config.log_chunk == 0 || config.concurrency == 0 {
            return Err(KeeperError::Config(
                "log chunk and concurrency must be at least 1".to_owned(),
            ));
        }
        let store = Store::open(&config.state)?;
        store.bind(&format!(
            "chain {} ledger {} registry {}",
            chain.chain_id(),
            contracts.ledger,
            contracts.registry
        ))?;
        let ctx = Context {
            client,
            promotion: config.promotion.clone(),
            chain_id: chain.chain_id(),
            registry: contracts.registry,
            ledger: contracts.ledger,
            fault: config.fault,
        };
        Ok(Self {
            chain,
            store,
            ctx,
            config,
            contracts,
            metrics,
            verified: HashSet::new(),
        })
    }

    /// The state database (for reports and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Reads every final block not yet processed, window by window, each
    /// window committed with the cursor in one transaction. Returns the final
    /// block and the releases newly seen.
    pub async fn follow(&mut self) -> Result<(u64, usize)> {
        let (final_number, final_hash) =
            follower::final_block(&self.chain, self.config.finality).await?;
        self.metrics
            .final_block
            .store(final_number, Ordering::Relaxed);
        if let Ok(head) = follower::head(&self.chain).await {
            self.metrics.head_block.store(head, Ordering::Relaxed);
        }
        let cursor = self.store.cursor()?;
        if let Some((block, hash)) = &cursor {
            // A reorganisation deeper than finality would change history the
            // keeper already acted on: stop and say so.
            if *block <= final_number {
                let (_, now) = follower::block_at(&self.chain, (*block).into()).await?;
                if hex(&now) != *hash {
                    return Err(KeeperError::Inconsistent(format!(
                        "block {block} was {hash} when processed and is {} now: a reorganisation deeper than the configured finality",
                        hex(&now)
                    )));
                }
            }
            self.metrics.cursor_block.store(*block, Ordering::Relaxed);
        }
        let mut next = cursor.map_or(self.contracts.from_block, |(b, _)| b + 1);
        let mut releases = 0;
        while next <= final_number {
            let to = next
                .saturating_add(self.config.log_chunk - 1)
                .min(final_number);
            let to_hash = if to == final_number {
                final_hash
            } else {
                follower::block_at(&self.chain, to.into()).await?.1
            };
            let window = self.store.window()?;
            let summary = follower::scan(
                &self.chain,
                &self.contracts,
                next,
                to,
                final_number,
                self.config.log_chunk,
                &window,
            )
            .await?;
            self.ctx.fault(FaultPoint::ScanBeforeCommit);
            window.commit(to, &hex(&to_hash))?;
            if summary.releases > 0 || summary.votes > 0 {
                tracing::info!(
                    from = next,
                    to,
                    votes = summary.votes,
                    releases = summary.releases,
                    "final blocks scanned"
                );
            } else {
                tracing::debug!(from = next, to, "final blocks scanned");
            }
            releases += summary.releases;
            self.metrics.cursor_block.store(to, Ordering::Relaxed);
            next = to + 1;
        }
        Ok((final_number, releases))
    }

    /// Runs the pending promotions due now (all pending ones when
    /// `ignore_backoff`), `concurrency` at a time, started in chain order.
    /// Returns (done, failed).
    pub async fn promote_due(&mut self, ignore_backoff: bool) -> Result<(usize, usize)> {
        let mut attempted = HashSet::new();
        self.promote_due_except(ignore_backoff, &mut attempted)
            .await
    }

    /// [`Self::promote_due`], leaving out the promotions in `attempted` and
    /// adding those it attempts (so `--once` tries each exactly once, however
    /// large the backlog and however many fail).
    async fn promote_due_except(
        &mut self,
        ignore_backoff: bool,
        attempted: &mut HashSet<(String, String)>,
    ) -> Result<(usize, usize)> {
        let now = if ignore_backoff {
            u64::MAX / 2
        } else {
            now_ms()
        };
        let due: Vec<PromotionRow> = self
            .store
            .due(now, usize::MAX >> 1)?
            .into_iter()
            .filter(|p| attempted.insert((p.commit.clone(), p.system.clone())))
            .take(BATCH)
            .collect();
        let mut done = 0;
        let mut failed = 0;
        let mut jobs = Vec::new();
        // Releases seed-verify refused (or could not check) in this call.
        let mut refused: HashMap<String, String> = HashMap::new();
        for row in due {
            if self.config.verify && !self.verified.contains(&row.commit) {
                if !refused.contains_key(&row.commit) {
                    match self.verify_release(&row.commit).await {
                        Ok(()) => {
                            self.verified.insert(row.commit.clone());
                        }
                        Err(reason) => {
                            refused.insert(row.commit.clone(), reason);
                        }
                    }
                }
                if let Some(reason) = refused.get(&row.commit) {
                    self.record_failure(&row, &KeeperError::Refused(reason.clone()))?;
                    failed += 1;
                    continue;
                }
            }
            let release = self.store.release(&row.commit)?.ok_or_else(|| {
                KeeperError::Inconsistent(format!("promotion of unknown release {}", row.commit))
            })?;
            if row.attempts > 0 {
                tracing::info!(commit = %row.commit, system = %row.system, attempts = row.attempts, last_step = %row.step, "retrying promotion");
            }
            jobs.push((row, release));
        }
        let ctx = &self.ctx;
        let store = &self.store;
        let mut results =
            futures_util::stream::iter(jobs.into_iter().map(|(row, release)| async move {
                let mut steps = Vec::new();
                let result = ctx
                    .promote(&row, &release, |s| steps.push(s.to_owned()))
                    .await;
                (row, release, steps, result)
            }))
            .buffered(self.config.concurrency);
        while let Some((row, release, steps, result)) = results.next().await {
            if let Some(last) = steps.last() {
                store.set_step(&row.commit, &row.system, last)?;
            }
            match result {
                Ok(()) => {
                    let at = now_ms();
                    store.done(&row.commit, &row.system, at)?;
                    let latency = at.saturating_sub(release.seen_final_ms);
                    self.metrics.promotions.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .latency_ms_sum
                        .fetch_add(latency, Ordering::Relaxed);
                    self.metrics
                        .latency_ms_last
                        .store(latency, Ordering::Relaxed);
                    tracing::info!(commit = %promote::commit_text(&row.commit)?, system = %row.system, image = %row.image, builder = row.builder, "promotion done");
                    ctx.fault(FaultPoint::AfterDone);
                    done += 1;
                }
                Err(error) => {
                    record_failure(store, &self.config, &self.metrics, &row, &error)?;
                    failed += 1;
                }
            }
        }
        drop(results);
        Ok((done, failed))
    }

    /// Runs seed-verify's checks (those of `seed-eth verify --commit`) on a
    /// release; `Err` carries why it was refused or could not be checked.
    async fn verify_release(&self, commit: &str) -> std::result::Result<(), String> {
        let word: alloy::primitives::B256 = commit
            .parse()
            .map_err(|e| format!("stored commit {commit}: {e}"))?;
        let target = seed_chain::Target {
            registry: self.contracts.registry,
            ledger: self.contracts.ledger,
            from_block: self.contracts.from_block,
            file: None,
        };
        let request = seed_verify::Request {
            commit: Some(seed_core::CommitId::from_b256(word)),
            log_chunk: self.config.log_chunk,
            ..seed_verify::Request::default()
        };
        match seed_verify::verify(&self.chain, &target, request).await {
            Ok(report) if report.verified => Ok(()),
            Ok(report) => Err(format!(
                "seed-eth verify refuses the release: {}",
                report
                    .failures
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Err(e) => Err(format!("the release could not be verified: {e}")),
        }
    }

    fn record_failure(&self, row: &PromotionRow, error: &KeeperError) -> Result<()> {
        record_failure(&self.store, &self.config, &self.metrics, row, error)
    }

    /// Points each system's moving tags at its newest promoted release.
    pub async fn move_tags(&mut self) -> Result<Vec<String>> {
        let systems: BTreeSet<String> = self
            .store
            .all_promotions()?
            .into_iter()
            .map(|p| p.system)
            .collect();
        let mut moved = Vec::new();
        for system in systems {
            let Some(newest) = self.store.newest_done(&system)? else {
                continue;
            };
            let key = format!("moving:{system}");
            if self.store.meta(&key)?.as_deref() == Some(newest.commit.as_str()) {
                continue;
            }
            let tags = self.ctx.move_tags(&newest).await?;
            self.metrics
                .moving_tags_moved
                .fetch_add(tags.len() as u64, Ordering::Relaxed);
            moved.extend(tags);
            self.store.set_meta(&key, &newest.commit)?;
        }
        Ok(moved)
    }

    fn update_gauges(&self) -> Result<()> {
        let (pending, _, failing) = self.store.counts()?;
        self.metrics.pending.store(pending, Ordering::Relaxed);
        self.metrics.failing.store(failing, Ordering::Relaxed);
        Ok(())
    }

    /// One pass: follow to the final block, promote what is due, move tags.
    pub async fn pass(&mut self, ignore_backoff: bool) -> Result<Pass> {
        let (final_block, releases) = self.follow().await?;
        let (promoted, failed) = self.promote_due(ignore_backoff).await?;
        let moved = self.move_tags().await?;
        self.update_gauges()?;
        Ok(Pass {
            final_block,
            releases,
            promoted,
            failed,
            moved,
        })
    }

    /// `--once`: catch up to the final block, attempt every pending
    /// promotion once (backoff ignored), move tags, and return the promotions
    /// still pending (poisoned or failing).
    pub async fn run_once(&mut self) -> Result<(Pass, Vec<PromotionRow>)> {
        let mut attempted = HashSet::new();
        let mut total = Pass::default();
        loop {
            // Follow once (to the final block at the start), then promote in
            // batches until every pending promotion was attempted once.
            if total.final_block == 0 {
                let (final_block, releases) = self.follow().await?;
                total.final_block = final_block;
                total.releases = releases;
            }
            let (promoted, failed) = self.promote_due_except(true, &mut attempted).await?;
            total.promoted += promoted;
            total.failed += failed;
            if promoted == 0 && failed == 0 {
                break;
            }
        }
        total.moved = self.move_tags().await?;
        self.update_gauges()?;
        self.metrics.healthy.store(true, Ordering::Relaxed);
        let remaining = self.store.due(u64::MAX / 2, usize::MAX >> 1)?;
        Ok((total, remaining))
    }

    /// The service loop: a pass every poll interval until `shutdown` turns
    /// true. Errors are logged and retried with backoff, never skipped; a
    /// shutdown request lets the running pass finish its current step.
    pub async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let timeout = self.config.pass_timeout;
            let outcome = match tokio::time::timeout(timeout, self.pass(false)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(KeeperError::Timeout(timeout)),
            };
            let wait = match outcome {
                Ok(pass) => {
                    failures = 0;
                    self.metrics.healthy.store(true, Ordering::Relaxed);
                    if pass.releases > 0 || pass.promoted > 0 || pass.failed > 0 {
                        tracing::info!(
                            final_block = pass.final_block,
                            releases = pass.releases,
                            promoted = pass.promoted,
                            failed = pass.failed,
                            moved = pass.moved.len(),
                            "pass"
                        );
                    }
                    self.config.poll_interval
                }
                Err(error) if error.is_config() => return Err(error),
                Err(error) => {
                    failures = failures.saturating_add(1);
                    self.metrics.healthy.store(false, Ordering::Relaxed);
                    self.metrics.loop_failures.fetch_add(1, Ordering::Relaxed);
                    let wait = self
                        .config
                        .backoff(failures - 1)
                        .max(self.config.poll_interval);
                    tracing::warn!(%error, retry_in = ?wait, "keeper pass failed; retrying");
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Records a failed attempt with its backoff, and logs it.
fn record_failure(
    store: &Store,
    config: &KeeperConfig,
    metrics: &Metrics,
    row: &PromotionRow,
    error: &KeeperError,
) -> Result<()> {
    let next = now_ms().saturating_add(
        u64::try_from(config.backoff(row.attempts).as_millis()).unwrap_or(u64::MAX),
    );
    if error.is_poison() {
        tracing::warn!(commit = %row.commit, system = %row.system, %error, "poisoned release: promotion refused, retried later");
    } else {
        tracing::warn!(commit = %row.commit, system = %row.system, %error, "promotion failed, retried later");
    }
    store.failed(&row.commit, &row.system, &error.to_string(), next)?;
    metrics.promotion_failures.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A shutdown signal that turns true on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> Result<watch::Receiver<bool>> {
    let (tx, rx) = watch::channel(false);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| KeeperError::Config(format!("cannot install the SIGTERM handler: {e}")))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}

/// Promotions started per batch (bounded so a large backlog is worked
/// through, and recorded, in steps).
const BATCH: usize = 1024;

/// The default poll interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
