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
//! - [`promote`]: one promotion;
//! - [`moving`]: the moving tags, converged on every pass;
//! - [`verdict`]: verdicts, and proving one from the chain;
//! - [`store`]: the state database;
//! - [`metrics`]: `/metrics` and `/healthz`.
//!
//! Design: docs/decisions.md, D-030 to D-034 and D-043.

pub mod config;
mod content;
pub mod credulous;
pub mod error;
pub mod follower;
pub mod metrics;
pub mod moving;
pub mod promote;
pub mod store;
pub mod verdict;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use alloy::primitives::Address;
use futures_util::StreamExt;
use seed_chain::Chain;
use seed_core::Sha256Digest;
use seed_oci::{RawManifest, RegistryClient};
use tokio::sync::watch;

pub use config::{FaultPoint, Finality, KeeperConfig, Promotion, Template, FAULT_EXIT_CODE};
pub use credulous::{read_follow_file, CredulousKeeper, FollowedRelease, ReleaseState};
pub use error::{KeeperError, Result};
pub use metrics::Metrics;
pub use moving::{TagOutcome, TagState};
pub use store::{PromotionRow, Store};
pub use verdict::{Position, Verdict, VERDICT_ANNOTATION, VERDICT_ARTIFACT_TYPE};

use crate::{follower::hex, promote::Context, store::now_ms, verdict::Proven};

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
    /// Moving tags moved during the pass, each once, in the order they
    /// first moved.
    pub moved: Vec<String>,
    /// Every moving tag as the pass left it.
    pub tags: Vec<TagOutcome>,
}

impl Pass {
    /// The moving tags that could not be read or moved.
    pub fn failed_tags(&self) -> impl Iterator<Item = &TagOutcome> {
        self.tags
            .iter()
            .filter(|t| matches!(t.state, TagState::Failed(_)))
    }
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
    /// Verdicts proven from the chain (in this process), by image and
    /// system; each is checked against its block's hash before reuse.
    proofs: Mutex<HashMap<(Sha256Digest, String), Proven>>,
    /// Verdict referrers the chain refuted (in this process), by digest.
    refuted: Mutex<HashSet<Sha256Digest>>,
    /// Whether the "finalized is the head" warning was given.
    warned_finality: AtomicBool,
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
            proofs: Mutex::new(HashMap::new()),
            refuted: Mutex::new(HashSet::new()),
            warned_finality: AtomicBool::new(false),
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
            self.warn_if_finality_is_the_head(final_number, head);
        }
        let cursor = self.store.cursor()?;
        if let Some((block, hash)) = &cursor {
            // A reorganisation deeper than finality would change history the
            // keeper already acted on: stop and say so.
            if *block <= final_number {
                let (_, now) = follower::block_at(&self.chain, (*block).into()).await?;
                if hex(&now) != *hash {
                    return Err(KeeperError::DeepReorg {
                        block: *block,
                        was: hash.clone(),
                        now: hex(&now),
                    });
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

    /// Warns (once per process) when the node's `finalized` tag is its
    /// latest block, as on Hardhat's node: the default finality then waits
    /// for no confirmation at all.
    fn warn_if_finality_is_the_head(&self, final_block: u64, head: u64) {
        if self.config.finality == Finality::FinalizedTag
            && head > 0
            && final_block == head
            && !self.warned_finality.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                head,
                "the node's `finalized` block is its latest block (Hardhat's node answers so): releases are promoted with no confirmations at all; give --confirmations N for a node without real finality"
            );
        }
    }

    /// Runs the pending promotions due now (all pending ones when
    /// `ignore_backoff`), `concurrency` at a time, started in chain order;
    /// each system's moving tags follow as its releases complete.
    pub async fn promote_due(&mut self, ignore_backoff: bool) -> Result<Batch> {
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
    ) -> Result<Batch> {
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
        let mut batch = Batch::default();
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
                    batch.failed += 1;
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
        let this = &*self;
        // Completed promotions (their systems and image manifests), in chain
        // order, for the moving tags, which follow while later promotions run.
        let (completed, mut completions) =
            tokio::sync::mpsc::unbounded_channel::<(String, RawManifest)>();
        let promotions = async move {
            let (mut done, mut failed) = (0, 0);
            let mut results =
                futures_util::stream::iter(jobs.into_iter().map(|(row, release)| async move {
                    let mut steps = Vec::new();
                    // The image is chosen by content before anything is pushed.
                    let (row, result) = match this.choose_checked(&row).await {
                        Ok((chosen, content)) => {
                            let result = this
                                .ctx
                                .promote(&chosen, &release, &content, |s| steps.push(s.to_owned()))
                                .await;
                            (chosen, result)
                        }
                        Err(error) => (row, Err(error)),
                    };
                    (row, release, steps, result)
                }))
                .buffered(this.config.concurrency);
            while let Some((row, release, steps, result)) = results.next().await {
                if let Some(last) = steps.last() {
                    this.store.set_step(&row.commit, &row.system, last)?;
                }
                match result {
                    Ok(manifest) => {
                        this.completed(&row, &release)?;
                        done += 1;
                        // The mover outlives this loop unless it failed, and
                        // then its error is returned below.
                        let _ = completed.send((row.system.clone(), manifest));
                    }
                    Err(error) => {
                        this.record_failure(&row, &error)?;
                        failed += 1;
                    }
                }
            }
            Ok::<_, KeeperError>((done, failed))
        };
        // One round of moves at once, then at most one per MOVE_INTERVAL,
        // each to the newest completed release of its systems; what is still
        // waiting when the promotions end is left to the pass's last
        // convergence, so the mover never delays the pass.
        let mover = async {
            let mut moved = Vec::new();
            // Per system, the manifest of its newest completion.
            let mut waiting: BTreeMap<String, RawManifest> = BTreeMap::new();
            let mut next_round = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    completion = completions.recv() => match completion {
                        Some((system, manifest)) => {
                            waiting.insert(system, manifest);
                        }
                        None => break,
                    },
                    () = tokio::time::sleep_until(next_round), if !waiting.is_empty() => {
                        for (system, manifest) in std::mem::take(&mut waiting) {
                            moved.extend(
                                this.converge_system(&system, Some(&manifest))
                                    .await?
                                    .into_iter()
                                    .filter(|t| matches!(t.state, TagState::Moved { .. }))
                                    .map(|t| t.tag),
                            );
                        }
                        next_round = tokio::time::Instant::now() + MOVE_INTERVAL;
                    }
                }
            }
            Ok::<_, KeeperError>(moved)
        };
        let (promoted, moved) = tokio::join!(promotions, mover);
        (batch.done, batch.failed) = {
            let (done, failed) = promoted?;
            (done, batch.failed + failed)
        };
        batch.moved = moved?;
        Ok(batch)
    }

    /// Records a completed promotion.
    fn completed(&self, row: &PromotionRow, release: &store::StoredRelease) -> Result<()> {
        let at = now_ms();
        self.store.done(&row.commit, &row.system, at)?;
        let latency = at.saturating_sub(release.seen_final_ms);
        self.metrics.promotions.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .latency_ms_sum
            .fetch_add(latency, Ordering::Relaxed);
        self.metrics
            .latency_ms_last
            .store(latency, Ordering::Relaxed);
        tracing::info!(commit = %promote::commit_text(&row.commit)?, system = %row.system, image = %row.image, builder = row.builder, "promotion done");
        self.ctx.fault(FaultPoint::AfterDone);
        Ok(())
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
            proofs: self.config.proofs.clone(),
            ..seed_verify::Request::default()
        };
        match seed_verify::verify(&self.chain, &target, request).await {
            Ok(report) if report.verified => self.witness_block(&report),
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

    /// Records the finalisation block a verified release relied on in the
    /// witness state, if one is configured: another hash already recorded
    /// for that block refuses the release.
    fn witness_block(&self, report: &seed_verify::Report) -> std::result::Result<(), String> {
        let (Some(state), Some(number), Some(hash)) =
            (&self.config.witness_state, report.block, report.block_hash)
        else {
            return Ok(());
        };
        let recorded = seed_witness::chain::record_relied_on(
            state,
            report.chain_id,
            (number, hash),
            "keeper",
            self.chain.url(),
        );
        match recorded {
            Ok(None) => Ok(()),
            Ok(Some(alarm)) => Err(format!(
                "{}; {}; {}",
                alarm.headline(),
                alarm.seen,
                alarm.held
            )),
            Err(e) => Err(format!(
                "the witness state cannot record the release's block: {e}"
            )),
        }
    }

    /// Records a failed attempt with its backoff, and logs it.
    fn record_failure(&self, row: &PromotionRow, error: &KeeperError) -> Result<()> {
        let next = now_ms().saturating_add(
            u64::try_from(self.config.backoff(row.attempts).as_millis()).unwrap_or(u64::MAX),
        );
        if error.is_poison() {
            tracing::warn!(commit = %row.commit, system = %row.system, %error, "poisoned release: promotion refused, retried later");
        } else {
            tracing::warn!(commit = %row.commit, system = %row.system, %error, "promotion failed, retried later");
        }
        self.store
            .failed(&row.commit, &row.system, &error.to_string(), next)?;
        self.metrics
            .promotion_failures
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Converges every moving tag and updates the gauges: the end of every
    /// pass.
    async fn finish(&self, pass: &mut Pass) -> Result<()> {
        pass.tags = self.converge_moving_tags().await?;
        pass.moved.extend(
            pass.tags
                .iter()
                .filter(|t| matches!(t.state, TagState::Moved { .. }))
                .map(|t| t.tag.clone()),
        );
        // A tag that moved more than once in the pass (from release to
        // release in a catch-up) is listed once.
        let mut seen = HashSet::new();
        pass.moved.retain(|tag| seen.insert(tag.clone()));
        let count =
            |f: fn(&TagState) -> bool| pass.tags.iter().filter(|t| f(&t.state)).count() as u64;
        self.metrics.moving_tags_failing.store(
            count(|s| matches!(s, TagState::Failed(_))),
            Ordering::Relaxed,
        );
        self.metrics.moving_tags_held.store(
            count(|s| matches!(s, TagState::Held { .. })),
            Ordering::Relaxed,
        );
        let (pending, _, failing) = self.store.counts()?;
        self.metrics.pending.store(pending, Ordering::Relaxed);
        self.metrics.failing.store(failing, Ordering::Relaxed);
        Ok(())
    }

    /// One pass: follow to the final block, promote what is due (moving
    /// tags following each release), converge every moving tag.
    pub async fn pass(&mut self, ignore_backoff: bool) -> Result<Pass> {
        let (final_block, releases) = self.follow().await?;
        let batch = self.promote_due(ignore_backoff).await?;
        let mut pass = Pass {
            final_block,
            releases,
            promoted: batch.done,
            failed: batch.failed,
            moved: batch.moved,
            tags: Vec::new(),
        };
        self.finish(&mut pass).await?;
        Ok(pass)
    }

    /// `--once`: catch up to the final block, attempt every pending
    /// promotion once (backoff ignored), converge the moving tags, and return
    /// the promotions still pending (poisoned or failing).
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
            let batch = self.promote_due_except(true, &mut attempted).await?;
            total.promoted += batch.done;
            total.failed += batch.failed;
            total.moved.extend(batch.moved);
            if batch.done == 0 && batch.failed == 0 {
                break;
            }
        }
        self.finish(&mut total).await?;
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
                    if self.metrics.halted.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            "the chain agrees with what the keeper processed again; resuming"
                        );
                    }
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
                    if error.is_halt() {
                        // Nothing is promoted while halted; the check repeats,
                        // so a node that returns to the processed chain
                        // resumes the keeper by itself.
                        self.metrics.halted.store(true, Ordering::Relaxed);
                        tracing::error!(%error, retry_in = ?wait, "keeper halted: an operator must act (docs/runbooks.md)");
                    } else {
                        tracing::warn!(%error, retry_in = ?wait, "keeper pass failed; retrying");
                    }
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

/// What one batch of promotions did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Promotions completed.
    pub done: usize,
    /// Promotion attempts that failed.
    pub failed: usize,
    /// Moving tags moved as releases completed.
    pub moved: Vec<String>,
}

/// Runs `start` (connecting to the chain, opening the deployment) until it
/// succeeds, so a service started during an RPC outage rides it out as it
/// rides out a later one: network errors are logged and retried with the
/// keeper's backoff (`retry_base` doubling to `retry_max`, at least the
/// poll interval); configuration errors are returned at once. `None` when
/// `shutdown` turned true while waiting.
pub async fn start_with_retry<T, Fut>(
    config: &KeeperConfig,
    shutdown: &mut watch::Receiver<bool>,
    mut start: impl FnMut() -> Fut,
) -> Result<Option<T>>
where
    Fut: std::future::Future<Output = std::result::Result<T, seed_chain::ChainError>>,
{
    let mut failures: u32 = 0;
    loop {
        if *shutdown.borrow() {
            return Ok(None);
        }
        let error = match start().await {
            Ok(started) => return Ok(Some(started)),
            Err(e) if e.class() == seed_chain::ErrorClass::Config => return Err(e.into()),
            Err(e) => e,
        };
        let wait = config.backoff(failures).max(config.poll_interval);
        failures = failures.saturating_add(1);
        tracing::warn!(%error, retry_in = ?wait, "keeper cannot start yet; retrying");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
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

/// The shortest time between two rounds of moving-tag moves while
/// promotions complete: in a catch-up of a thousand releases the tags follow
/// about once a second instead of once per release.
const MOVE_INTERVAL: Duration = Duration::from_secs(1);

/// Promotions started per batch (bounded so a large backlog is worked
/// through, and recorded, in steps).
const BATCH: usize = 1024;

/// The default poll interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
