//! `seed-eth verify`: checks a release against on-chain state and fails closed.
//!
//! What is trusted is the chain (through one RPC endpoint; with `--proofs`, one block
//! hash instead, see [`ProofRequest`] and `proofs.rs`) and the registry and ledger
//! addresses of the deployment. Everything else is recomputed:
//!
//! 1. the ledger has an entry for the commit (`entry(commit).root != 0`);
//! 2. the registry (logs filtered by its address, from the deployment block, in
//!    bounded ranges) emitted exactly one `ReleaseFinalised` for the commit, whose
//!    root topic is the ledger's root, whose rules version is the ledger's, and
//!    whose systems (strictly sorted) and digests give the ledger's root again
//!    under seed-core's [`release_root`];
//! 3. the event's systems are the required systems at the finalisation block;
//!    every system's voter bitmap in that event has at least the threshold that
//!    applied (every active builder for genesis, `k` otherwise, read at the
//!    finalisation block), and each counted voter has an `Attested` event for that
//!    commit, system and manifest digest, no later than the finalisation;
//! 4. the digests the caller expects (from `--manifest` or a `.seed.lock`) are the
//!    finalised ones, and a lock's image digests were attested by counted voters;
//! 5. optionally, every counted voter's statement is fetched by its on-chain digest
//!    from the first of the given repositories that has it, its DSSE signature
//!    recovers to the voter's key (the `Attested` event's signer), and it attests
//!    exactly that vote.
//!
//! A check that says no is a [`Finding`] in the [`Report`] (exit 1); a question
//! that could not be asked is a [`VerifyError`] (exit 2 or 3).

mod content;
mod error;
mod proofs;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use alloy::{
    eips::BlockId,
    primitives::{Address, B256},
    rpc::types::{Filter, Log},
    sol_types::SolEvent,
};
use seed_chain::{
    bindings::SeedRegistry,
    events::{ledger_entry, LedgerEntry, Recorded},
    status::{logs_in_chunks, stamped_block, STAMP_PERIOD},
    Chain, Target,
};
use seed_core::{release_root, CommitId, Sha256Digest, System};
use seed_oci::{RegistryClient, Repository};
use seed_statement::Expected;

pub use content::{read_image_closure, ContentReport, ContentResult, ContentSource};
pub use error::VerifyError;
use proofs::BlockProof;
pub use proofs::{AnchorRequest, ProofReport, ProofRequest};
pub use report::{Finding, Report, StatementCheck, SystemReport, VoterReport};

/// Where the statements of `--statements` are fetched from.
///
/// A statement is fetched by the digest its builder voted on-chain, so any repository that serves
/// bytes with that digest serves the builder's statement: independent builders may publish in
/// repositories of their own, on registries of their own, and each is searched.
#[derive(Debug)]
pub struct StatementSource {
    /// The registry client.
    pub client: RegistryClient,
    /// The repository per system, searched first (from a `.seed.lock`).
    pub per_system: BTreeMap<System, Repository>,
    /// Repositories searched for every system, in order (`--image`'s, then each `--repository`).
    pub repositories: Vec<Repository>,
}

impl StatementSource {
    /// The repositories to search for a statement of `system`, in order, each once.
    fn candidates(&self, system: &System) -> Vec<&Repository> {
        let mut candidates: Vec<&Repository> = Vec::new();
        for repository in self
            .per_system
            .get(system)
            .into_iter()
            .chain(&self.repositories)
        {
            if !candidates.contains(&repository) {
                candidates.push(repository);
            }
        }
        candidates
    }

    /// The statement with `digest` from the first candidate repository that serves it.
    /// `Ok(Err(reason))` when none does; `Err` when none does and one of them could not be asked
    /// (it may hold the statement: no verdict).
    async fn fetch(
        &self,
        candidates: &[&Repository],
        digest: &Sha256Digest,
    ) -> Result<Result<Vec<u8>, String>, VerifyError> {
        let mut misses = Vec::new();
        let mut unanswered = None;
        for repository in candidates {
            match self.client.fetch_statement(repository, digest).await {
                Ok(bytes) => return Ok(Ok(bytes)),
                Err(e) if e.is_transient() => {
                    unanswered.get_or_insert(VerifyError::Registry {
                        repository: repository.to_string(),
                        source: e,
                    });
                }
                Err(e) => misses.push(format!("fetching {digest} from {repository}: {e}")),
            }
        }
        match unanswered {
            Some(error) => Err(error),
            None => Ok(Err(misses.join("; "))),
        }
    }
}

/// What to verify.
#[derive(Debug, Default)]
pub struct Request {
    /// The release; `None` to find it from `images` or `any_image`.
    pub commit: Option<CommitId>,
    /// Closure-manifest digests the release must have finalised, per system.
    pub manifests: BTreeMap<System, Sha256Digest>,
    /// Image digests a counted voter must have attested, per system (a lock).
    pub images: BTreeMap<System, Sha256Digest>,
    /// An image digest a counted voter must have attested for some system (`--image`).
    pub any_image: Option<Sha256Digest>,
    /// Check every counted voter's signed statement.
    pub statements: Option<StatementSource>,
    /// Read the images of `images` and `any_image` and check that they hold
    /// the finalised closures (`None`: `--no-content`).
    pub content: Option<ContentSource>,
    /// Blocks per `eth_getLogs` request.
    pub log_chunk: u64,
    /// Prove every fact the verdict relies on against a block hash (`--proofs`).
    pub proofs: Option<ProofRequest>,
}

/// One vote, from an `Attested` event of the registry.
type Vote = seed_chain::AttestedVote;

/// A `ReleaseFinalised` event of the registry.
#[derive(Debug, Clone)]
struct Finalised {
    root_topic: B256,
    systems: Vec<String>,
    digests: Vec<B256>,
    voters: Vec<u64>,
    rules_version: u32,
    genesis: bool,
    block: u64,
}

impl Finalised {
    fn new(event: SeedRegistry::ReleaseFinalised, block: u64) -> Self {
        Self {
            root_topic: event.root,
            systems: event.systems,
            digests: event.manifestDigests,
            voters: event.voters,
            rules_version: event.rulesVersion,
            genesis: event.genesis,
            block,
        }
    }
}

/// The view of the chain every check reads: one head block, one target.
struct Reader<'a> {
    chain: &'a Chain,
    target: &'a Target,
    head: u64,
    log_chunk: u64,
}

/// Verifies `request` against the registry and ledger of `target`.
pub async fn verify(
    chain: &Chain,
    target: &Target,
    request: Request,
) -> Result<Report, VerifyError> {
    let reader = Reader {
        chain,
        target,
        head: chain.block_number().await?,
        log_chunk: request.log_chunk,
    };
    let commit = match request.commit {
        Some(commit) => commit,
        None => match reader.discover(&request).await? {
            Ok(commit) => commit,
            Err(finding) => return Ok(Report::undetermined(chain, target, finding)),
        },
    };
    let mut report = Report::new(chain, target, commit);
    reader.check_release(&request, commit, &mut report).await?;
    report.verified = report.failures.is_empty();
    Ok(report)
}

impl Reader<'_> {
    fn error(&self, action: impl Into<String>, e: impl std::fmt::Display) -> VerifyError {
        VerifyError::Chain(self.chain.rpc_error(action, e))
    }

    /// The whole history this verification may read: the deployment block to the head.
    fn history(&self) -> (u64, u64) {
        (self.target.from_block, self.head)
    }

    /// `Attested` events of the registry in `blocks`, for one commit or (with `None`) all of them.
    async fn votes(
        &self,
        commit: Option<B256>,
        blocks: (u64, u64),
    ) -> Result<Vec<Vote>, VerifyError> {
        let mut filter = Filter::new().event_signature(SeedRegistry::Attested::SIGNATURE_HASH);
        if let Some(commit) = commit {
            filter = filter.topic1(commit);
        }
        let logs = self.logs(&filter, blocks).await?;
        logs.iter()
            .map(|log| Ok(seed_chain::decode_attested(self.chain, log)?))
            .collect()
    }

    /// The `Attested` events of `commit` the finalisation counted: read backwards from the
    /// finalisation block, a window of `log_chunk` blocks at a time, until each counted voter of
    /// each system has its vote, so that the cost is the release's voting time, not the chain's
    /// age. Unless the registry named the finalisation block (`stamped`), the whole history is
    /// read.
    async fn counted_votes(
        &self,
        commit: B256,
        event: &Finalised,
        stamped: bool,
    ) -> Result<Vec<Vote>, VerifyError> {
        if !stamped {
            return self.votes(Some(commit), self.history()).await;
        }
        let wanted: BTreeSet<(&str, u8)> = event
            .systems
            .iter()
            .zip(&event.voters)
            .flat_map(|(system, bitmap)| {
                (0..64u8)
                    .filter(move |id| bitmap >> id & 1 == 1)
                    .map(move |id| (system.as_str(), id))
            })
            .collect();
        let mut votes = Vec::new();
        let mut end = event.block;
        loop {
            let start = end
                .saturating_sub(self.log_chunk.max(1) - 1)
                .max(self.target.from_block);
            votes.extend(self.votes(Some(commit), (start, end)).await?);
            let found = wanted.iter().all(|(system, id)| {
                votes
                    .iter()
                    .any(|v| v.builder_id == *id && v.system == *system)
            });
            if found || start <= self.target.from_block {
                return Ok(votes);
            }
            end = start - 1;
        }
    }

    async fn logs(&self, filter: &Filter, (from, to): (u64, u64)) -> Result<Vec<Log>, VerifyError> {
        Ok(logs_in_chunks(
            self.chain,
            filter,
            self.target.registry,
            from,
            to,
            self.log_chunk,
        )
        .await?)
    }

    /// The latest block at or before the head with the release's finalisation stamp (the block
    /// that finalised it modulo 2^29, `finalisationStamp`, D-050); for a release 2^29 blocks old
    /// or more, a multiple of 2^29 too late (the caller steps back). `None` for a release not
    /// stamped (finalised before stamps existed), an implementation without the view, or a block
    /// outside the history; then the history is searched. What the endpoint names is only where
    /// to look: the events found there are checked as before, and a wrong block finds none.
    async fn finalisation_block(&self, commit: B256) -> Option<u64> {
        stamped_block(self.chain, self.target, commit, self.head).await
    }

    /// Every `ReleaseFinalised` event of the registry for `commit` in `blocks`.
    async fn finalisations(
        &self,
        commit: B256,
        blocks: (u64, u64),
    ) -> Result<Vec<Finalised>, VerifyError> {
        let filter = Filter::new()
            .event_signature(SeedRegistry::ReleaseFinalised::SIGNATURE_HASH)
            .topic1(commit);
        let mut found = Vec::new();
        for log in self.logs(&filter, blocks).await? {
            let event = log
                .log_decode::<SeedRegistry::ReleaseFinalised>()
                .map_err(|e| self.error("decoding a ReleaseFinalised log", e))?;
            found.push(Finalised::new(
                event.inner.data,
                log.block_number.unwrap_or(u64::MAX),
            ));
        }
        Ok(found)
    }

    /// The releases the requested images' own statements claim (unverified hints): each
    /// image's statement referrers, read from its repository, name a commit. Empty without a
    /// registry to ask (`--no-content`) or when nothing readable is attached.
    async fn claimed_commits(&self, request: &Request) -> BTreeSet<B256> {
        let Some(source) = &request.content else {
            return BTreeSet::new();
        };
        let mut images: Vec<(&Repository, Sha256Digest)> = Vec::new();
        if let (Some(image), Some(repo)) = (&request.any_image, &source.any_image) {
            images.push((repo, *image));
        }
        for (system, image) in &request.images {
            if let Some(repo) = source.per_system.get(system) {
                images.push((repo, *image));
            }
        }
        let mut commits = BTreeSet::new();
        for (repo, image) in images {
            let Ok(statements) = source.client.statements(repo, &image).await else {
                continue;
            };
            for fetched in statements {
                match seed_statement::dsse::claimed_statement(&fetched.bytes) {
                    Some(statement) if statement.subject().1 == image => {
                        commits.insert(statement.predicate().source.commit.to_b256());
                    }
                    _ => {}
                }
            }
        }
        commits
    }

    /// The commit whose finalised release a counted voter attested the requested image(s) in.
    ///
    /// First the releases the images' statements name, each checked at the block its
    /// finalisation stamp names; when that does not single one out, every `Attested` event of
    /// the registry is read (the image digest is not indexed). A vote counts only if its
    /// builder is in the finalised voter bitmap of its system, so an image that some builder
    /// attested but quorum did not accept never selects a release.
    async fn discover(&self, request: &Request) -> Result<Result<CommitId, Finding>, VerifyError> {
        let matches = |vote: &Vote| match &request.any_image {
            Some(image) => vote.image == image.as_b256(),
            None => System::try_from_str(&vote.system).is_some_and(|system| {
                request
                    .images
                    .get(&system)
                    .is_some_and(|image| vote.image == image.as_b256())
            }),
        };
        // The images' own statements name their release: checking that one needs no search of
        // the history (D-050). A hint counts only under the same test as a searched vote.
        let mut hinted = BTreeSet::new();
        for commit in self.claimed_commits(request).await {
            let Some(block) = self.finalisation_block(commit).await else {
                continue;
            };
            for event in self.finalisations(commit, (block, block)).await? {
                let votes = self.counted_votes(commit, &event, true).await?;
                if votes.iter().any(|v| matches(v) && counts(&event, v)) {
                    hinted.insert(commit);
                }
            }
        }
        if let [commit] = hinted.iter().collect::<Vec<_>>().as_slice() {
            return Ok(Ok(CommitId::from_b256(**commit)));
        }
        let candidates: Vec<Vote> = self
            .votes(None, self.history())
            .await?
            .into_iter()
            .filter(matches)
            .collect();
        let mut commits = BTreeSet::new();
        for vote in &candidates {
            if commits.contains(&vote.commit) {
                continue;
            }
            let counted = self
                .finalisations(vote.commit, self.history())
                .await?
                .iter()
                .any(|f| counts(f, vote));
            if counted {
                commits.insert(vote.commit);
            }
        }
        let what = match &request.any_image {
            Some(image) => format!("image {image}"),
            None => "the lock's images".to_owned(),
        };
        match commits.len() {
            0 => Ok(Err(Finding::new(format!(
                "no finalised release of this registry has {what} attested by a counted voter"
            )))),
            1 => Ok(Ok(commits
                .into_iter()
                .map(CommitId::from_b256)
                .next()
                .ok_or(VerifyError::Internal("empty candidate set"))?)),
            _ => Err(VerifyError::Ambiguous {
                what,
                commits: commits
                    .into_iter()
                    .map(|c| CommitId::from_b256(c).to_string())
                    .collect(),
            }),
        }
    }

    /// The ledger entry of `commit` read from `blocks`: from the endpoint's answers, or with
    /// `--proofs` from the proven block the endpoint's answers point to.
    async fn entry(
        &self,
        request: &Request,
        word: B256,
        blocks: (u64, u64),
    ) -> Result<(LedgerEntry, Option<BlockProof>), VerifyError> {
        if let (Some(proofs), (from, to)) = (request.proofs.as_ref(), blocks) {
            // One block: prove it rather than ask about it.
            if from == to {
                let proof = BlockProof::prove(self.chain, self.target, word, from, proofs).await?;
                return Ok((proof.ledger_entry(self.target.ledger), Some(proof)));
            }
        }
        let entry =
            ledger_entry(self.chain, self.target.ledger, word, blocks, self.log_chunk).await?;
        match (request.proofs.as_ref(), entry.record()) {
            // The history search found the block: prove it, and read the entry from the proof.
            (Some(proofs), Some(record)) => {
                let proof =
                    BlockProof::prove(self.chain, self.target, word, record.block, proofs).await?;
                Ok((proof.ledger_entry(self.target.ledger), Some(proof)))
            }
            _ => Ok((entry, None)),
        }
    }

    /// Every check on one release; findings go into `report`.
    async fn check_release(
        &self,
        request: &Request,
        commit: CommitId,
        report: &mut Report,
    ) -> Result<(), VerifyError> {
        let word = commit.to_b256();
        // One block to read when the registry names it; the whole history otherwise.
        let mut stamped = self.finalisation_block(word).await;
        let (entry, blocks, mut proof) = loop {
            let blocks = stamped.map_or_else(|| self.history(), |block| (block, block));
            let (entry, proof) = self.entry(request, word, blocks).await?;
            match stamped {
                // The registry keeps the block modulo 2^29 (D-050): a release that old was
                // finalised a period earlier, or the history is searched.
                Some(block) if !entry.root.is_zero() && entry.records.is_empty() => {
                    stamped = block
                        .checked_sub(STAMP_PERIOD)
                        .filter(|earlier| *earlier >= self.target.from_block);
                }
                _ => break (entry, blocks, proof),
            }
        };
        if let Some(proof) = &proof {
            report.proof = Some(proof.report());
            for finding in proof.deployment_findings() {
                report.fail(finding.clone());
            }
        }
        if entry.root.is_zero() {
            report.fail(format!(
                "release {commit} is not finalised: the ledger {} has no entry for it (see `seed-eth status --commit {commit}`)",
                self.target.ledger
            ));
            return Ok(());
        }
        report.root = Some(entry.root);
        let Some(record) = entry.record() else {
            report.fail(format!(
                "the ledger {} stores root {} for release {commit} but emitted {} ReleaseRecorded logs for it (exactly one naming that root is expected); the entry's finalisation block and rules version cannot be established",
                self.target.ledger,
                entry.root,
                entry.records.len()
            ));
            return Ok(());
        };
        report.block = Some(record.block);
        report.block_hash = record.block_hash;
        report.rules_version = Some(record.rules_version);

        let events = match &proof {
            Some(proof) => proof.finalisations(),
            None => self.finalisations(word, blocks).await?,
        };
        let event = match events.as_slice() {
            [event] => event,
            [] => {
                report.fail(format!(
                    "the ledger records release {commit} but the registry {} emitted no ReleaseFinalised event for it: the root cannot be recomputed",
                    self.target.registry
                ));
                return Ok(());
            }
            more => {
                report.fail(format!(
                    "the registry emitted {} ReleaseFinalised events for release {commit}; a release finalises once",
                    more.len()
                ));
                return Ok(());
            }
        };
        report.genesis = Some(event.genesis);
        if !check_event(event, entry.root, record, report) {
            return Ok(());
        }
        let threshold = match &proof {
            Some(proof) => proof.threshold(event)?,
            None => self.threshold_at(event).await?,
        };
        report.threshold = Some(threshold);
        if threshold == 0 {
            // The contracts never finalise with no voters; a zero here means the state read is
            // not what finalised the release, so nothing below could be trusted.
            report.fail(format!(
                "the threshold read at block {} is 0; a release needs at least one voter",
                event.block
            ));
            return Ok(());
        }
        let mut votes = self.counted_votes(word, event, stamped.is_some()).await?;
        match &mut proof {
            Some(proof) => {
                proof.check_required_systems(event, report);
                votes = proof.prove_votes(&votes).await?;
                report.proof = Some(proof.report());
            }
            None => self.check_required_systems(event, report).await?,
        }
        self.check_voters(event, &votes, threshold, report);
        check_expectations(request, report);
        if let Some(source) = &request.statements {
            check_statements(
                self.chain.chain_id(),
                self.target.registry,
                commit,
                source,
                report,
            )
            .await?;
        }
        if let Some(source) = &request.content {
            let images = attested_images(request, source, report);
            content::check_content(source, &images, report).await?;
        }
        Ok(())
    }
}

/// The images whose content to check, with their systems and repositories:
/// those of the request that a counted voter attested (the others already
/// failed).
fn attested_images(
    request: &Request,
    source: &ContentSource,
    report: &Report,
) -> Vec<(System, Sha256Digest, seed_oci::Repository)> {
    let attested = |system: &SystemReport, image: &Sha256Digest| {
        system
            .voters
            .iter()
            .any(|v| v.image_digest == image.as_b256())
    };
    let mut images = Vec::new();
    for (system, image) in &request.images {
        let counted = report
            .systems
            .iter()
            .any(|s| s.system == system.as_str() && attested(s, image));
        if let (true, Some(repository)) = (counted, source.per_system.get(system)) {
            images.push((system.clone(), *image, repository.clone()));
        }
    }
    if let (Some(image), Some(repository)) = (&request.any_image, &source.any_image) {
        for system in report.systems.iter().filter(|s| attested(s, image)) {
            if let Some(name) = System::try_from_str(&system.system) {
                images.push((name, *image, repository.clone()));
            }
        }
    }
    images
}

/// Whether `event` counts `vote`'s builder for the vote's system.
fn counts(event: &Finalised, vote: &Vote) -> bool {
    event
        .systems
        .iter()
        .position(|s| *s == vote.system)
        .and_then(|i| event.voters.get(i))
        .is_some_and(|voters| voters >> vote.builder_id & 1 == 1)
}

/// The event against the ledger entry: root topic, rules version, block, and the root
/// recomputed from its systems and digests. Returns whether the event is usable for further
/// checks.
fn check_event(event: &Finalised, root: B256, record: &Recorded, report: &mut Report) -> bool {
    if event.root_topic != root {
        report.fail(format!(
            "the ReleaseFinalised event names root {} but the ledger holds {}",
            event.root_topic, root
        ));
    }
    if event.rules_version != record.rules_version {
        report.fail(format!(
            "the ReleaseFinalised event names rules version {} but the ledger recorded {}",
            event.rules_version, record.rules_version
        ));
    }
    // The registry finalises and the ledger records in one call: one block.
    if event.block != record.block {
        report.fail(format!(
            "the ReleaseFinalised event is in block {} but the ledger recorded the release in block {}",
            event.block, record.block
        ));
    }
    let n = event.systems.len();
    if n == 0 || event.digests.len() != n || event.voters.len() != n {
        report.fail(format!(
            "the ReleaseFinalised event is malformed: {n} systems, {} digests, {} voter bitmaps",
            event.digests.len(),
            event.voters.len()
        ));
        return false;
    }
    let leaves = match leaves(event) {
        Ok(leaves) => leaves,
        Err(reason) => {
            report.fail(format!("the ReleaseFinalised event is malformed: {reason}"));
            return false;
        }
    };
    match release_root(&leaves) {
            Ok(recomputed) if recomputed == root => report.root_recomputed = true,
            Ok(recomputed) => report.fail(format!(
                "the root recomputed from the ReleaseFinalised event is {recomputed} but the ledger holds {root}"
            )),
            Err(e) => report.fail(format!("the ReleaseFinalised event's systems: {e}")),
        }
    for (i, (system, digest)) in leaves.iter().enumerate() {
        report.systems.push(SystemReport {
            system: system.to_string(),
            manifest_digest: digest.as_b256(),
            voters: Vec::new(),
            voter_bitmap: event.voters[i],
        });
    }
    true
}

impl Reader<'_> {
    /// The threshold in force when the release finalised: every builder active at that block
    /// for genesis, `k` otherwise. Read at the finalisation block, whose rules version must be
    /// the event's (a rule change later in the same block would make the answer doubtful).
    async fn threshold_at(&self, event: &Finalised) -> Result<u8, VerifyError> {
        let at = BlockId::number(event.block);
        let registry = SeedRegistry::new(self.target.registry, self.chain.provider());
        let action = |what: &str| {
            format!(
                "reading {what} at the finalisation block {} (old blocks need an archive endpoint)",
                event.block
            )
        };
        let version = registry
            .rulesVersion()
            .block(at)
            .call()
            .await
            .map_err(|e| self.error(action("rulesVersion"), e))?;
        if version != event.rules_version {
            return Err(VerifyError::RulesChanged {
                block: event.block,
                event: event.rules_version,
                state: version,
            });
        }
        if event.genesis {
            let mask = registry
                .activeBuilderMask()
                .block(at)
                .call()
                .await
                .map_err(|e| self.error(action("activeBuilderMask"), e))?;
            // At most 64 builders, so the count fits in a u8.
            Ok(u8::try_from(mask.count_ones()).unwrap_or(u8::MAX))
        } else {
            registry
                .quorum()
                .block(at)
                .call()
                .await
                .map_err(|e| self.error(action("quorum"), e))
        }
    }

    /// The event's systems must be exactly the systems the rules required when it finalised.
    async fn check_required_systems(
        &self,
        event: &Finalised,
        report: &mut Report,
    ) -> Result<(), VerifyError> {
        let required = SeedRegistry::new(self.target.registry, self.chain.provider())
            .requiredSystems()
            .block(BlockId::number(event.block))
            .call()
            .await
            .map_err(|e| {
                self.error(
                    format!(
                        "reading requiredSystems at the finalisation block {} (old blocks need an archive endpoint)",
                        event.block
                    ),
                    e,
                )
            })?;
        if required != event.systems {
            report.fail(format!(
                "the release finalised systems [{}] but the rules at block {} required [{}]",
                event.systems.join(", "),
                event.block,
                required.join(", ")
            ));
        }
        Ok(())
    }

    /// Each counted voter must have an `Attested` event for exactly this system and digest.
    fn check_voters(&self, event: &Finalised, votes: &[Vote], threshold: u8, report: &mut Report) {
        for system in &mut report.systems {
            let bitmap = system.voter_bitmap;
            for id in (0..64u8).filter(|id| bitmap >> id & 1 == 1) {
                let vote = votes
                    .iter()
                    .find(|v| v.builder_id == id && v.system == system.system);
                match vote {
                    Some(v) if v.manifest == system.manifest_digest && v.block <= event.block => {
                        system.voters.push(VoterReport::from_vote(v));
                    }
                    Some(v) => report.failures.push(Finding::new(format!(
                        "{}: builder {id} is counted for {} but its Attested event (block {}) says {}",
                        system.system,
                        oci(&system.manifest_digest),
                        v.block,
                        oci(&v.manifest)
                    ))),
                    None => report.failures.push(Finding::new(format!(
                        "{}: builder {id} is counted but the registry has no Attested event of it for this release",
                        system.system
                    ))),
                }
            }
            if system.voters.len() < usize::from(threshold) {
                report.failures.push(Finding::new(format!(
                    "{}: {} verified voters, below the threshold of {threshold}",
                    system.system,
                    system.voters.len()
                )));
            }
        }
    }
}

impl VoterReport {
    fn from_vote(vote: &Vote) -> Self {
        Self {
            builder_id: vote.builder_id,
            signer: vote.signer,
            image_digest: vote.image,
            statement_digest: vote.statement,
            block: vote.block,
            statement: StatementCheck::NotChecked,
        }
    }
}

/// The event's systems and digests as typed leaves.
fn leaves(event: &Finalised) -> Result<Vec<(System, Sha256Digest)>, String> {
    event
        .systems
        .iter()
        .zip(&event.digests)
        .map(|(system, digest)| {
            let system = System::try_from_str(system)
                .ok_or_else(|| format!("'{system}' is not a valid system name"))?;
            let digest =
                Sha256Digest::from_bytes(*digest).map_err(|e| format!("{system}'s digest: {e}"))?;
            Ok((system, digest))
        })
        .collect()
}

/// The caller's digests against the finalised ones.
fn check_expectations(request: &Request, report: &mut Report) {
    let mut findings = Vec::new();
    for (system, expected) in &request.manifests {
        match report.systems.iter().find(|s| s.system == system.as_str()) {
            None => findings.push(format!(
                "release has no system {system} (it finalised {})",
                report.system_names()
            )),
            Some(s) if s.manifest_digest != expected.as_b256() => findings.push(format!(
                "{system}: expected manifest {expected} but the release finalised {}",
                oci(&s.manifest_digest)
            )),
            Some(_) => {}
        }
    }
    let attested = |system: &str, image: &B256| {
        report
            .systems
            .iter()
            .filter(|s| s.system == system)
            .flat_map(|s| &s.voters)
            .any(|v| v.image_digest == *image)
    };
    for (system, image) in &request.images {
        if !attested(system.as_str(), &image.as_b256()) {
            findings.push(format!(
                "{system}: image {image} was not attested by any counted voter of the release"
            ));
        }
    }
    if let Some(image) = &request.any_image {
        if !report
            .systems
            .iter()
            .any(|s| attested(&s.system, &image.as_b256()))
        {
            findings.push(format!(
                "image {image} was not attested by any counted voter of the release"
            ));
        }
    }
    report
        .failures
        .extend(findings.into_iter().map(Finding::new));
}

/// Fetches and verifies the statement of every counted voter.
async fn check_statements(
    chain_id: u64,
    registry: Address,
    commit: CommitId,
    source: &StatementSource,
    report: &mut Report,
) -> Result<(), VerifyError> {
    report.statements_checked = true;
    let mut findings = Vec::new();
    for system in &mut report.systems {
        let name = System::try_from_str(&system.system)
            .ok_or(VerifyError::Internal("a system validated earlier"))?;
        let manifest = Sha256Digest::from_bytes(system.manifest_digest)
            .map_err(|_| VerifyError::Internal("a digest validated earlier"))?;
        for voter in &mut system.voters {
            let outcome =
                check_statement(chain_id, registry, commit, &name, &manifest, source, voter)
                    .await?;
            if let Err(reason) = &outcome {
                findings.push(format!(
                    "{}: statement of builder {} ({}): {reason}",
                    system.system, voter.builder_id, voter.signer
                ));
            }
            voter.statement = match outcome {
                Ok(()) => StatementCheck::Verified,
                Err(reason) => StatementCheck::Failed { reason },
            };
        }
    }
    report
        .failures
        .extend(findings.into_iter().map(Finding::new));
    Ok(())
}

/// One voter's statement: `Ok(Err(reason))` when it does not verify, `Err` when the registry
/// could not be asked.
async fn check_statement(
    chain_id: u64,
    registry: Address,
    commit: CommitId,
    system: &System,
    manifest: &Sha256Digest,
    source: &StatementSource,
    voter: &VoterReport,
) -> Result<Result<(), String>, VerifyError> {
    let candidates = source.candidates(system);
    if candidates.is_empty() {
        return Err(VerifyError::NoRepository {
            system: system.to_string(),
        });
    }
    let Ok(digest) = Sha256Digest::from_bytes(voter.statement_digest) else {
        return Ok(Err("the vote carries a zero statement digest".to_owned()));
    };
    let Ok(image) = Sha256Digest::from_bytes(voter.image_digest) else {
        return Ok(Err("the vote carries a zero image digest".to_owned()));
    };
    let bytes = match source.fetch(&candidates, &digest).await? {
        Ok(bytes) => bytes,
        Err(misses) => return Ok(Err(misses)),
    };
    let expected = Expected::new(voter.signer, chain_id, registry).with_digest(digest);
    let verified = match seed_statement::verify(&bytes, &expected) {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(error_chain(&e))),
    };
    Ok(verified
        .ensure_vote(&commit, system, manifest, &image)
        .map_err(|e| e.to_string()))
}

/// An error with its causes, for a one-line finding.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn oci(digest: &B256) -> String {
    format!("sha256:{}", alloy::hex::encode(digest))
}

/// Parsing a system name without caring why it is invalid.
trait TryFromStr: Sized {
    fn try_from_str(text: &str) -> Option<Self>;
}

impl TryFromStr for System {
    fn try_from_str(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(root: B256) -> Finalised {
        Finalised {
            root_topic: root,
            systems: vec!["aarch64-linux".to_owned(), "x86_64-linux".to_owned()],
            digests: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            voters: vec![3, 3],
            rules_version: 1,
            genesis: false,
            block: 7,
        }
    }

    fn report() -> Report {
        Report {
            commit: None,
            chain_id: 1,
            registry: Address::ZERO,
            ledger: Address::ZERO,
            root: None,
            block: None,
            block_hash: None,
            rules_version: None,
            genesis: None,
            threshold: None,
            root_recomputed: false,
            statements_checked: false,
            systems: Vec::new(),
            content: Vec::new(),
            proof: None,
            failures: Vec::new(),
            verified: false,
        }
    }

    fn true_root() -> B256 {
        release_root(&leaves(&event(B256::ZERO)).unwrap()).unwrap()
    }

    /// The ledger's record of the release: in the event's block, with its rules version.
    fn recorded(rules_version: u32, block: u64) -> Recorded {
        Recorded {
            root: true_root(),
            rules_version,
            block,
            block_hash: None,
            tx: None,
        }
    }

    #[test]
    fn an_event_giving_the_ledger_root_passes() {
        let mut r = report();
        assert!(check_event(
            &event(true_root()),
            true_root(),
            &recorded(1, 7),
            &mut r
        ));
        assert!(r.root_recomputed);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
    }

    #[test]
    fn a_root_the_event_does_not_give_fails() {
        let other = B256::repeat_byte(9);
        let mut r = report();
        check_event(&event(other), other, &recorded(1, 7), &mut r);
        assert!(!r.root_recomputed);
        assert!(
            r.failures[0].0.contains("the root recomputed"),
            "{:?}",
            r.failures
        );

        let mut r = report();
        check_event(&event(other), true_root(), &recorded(2, 8), &mut r);
        assert!(r.failures[0].0.contains("names root"), "{:?}", r.failures);
        assert!(
            r.failures[1].0.contains("rules version"),
            "{:?}",
            r.failures
        );
        assert!(
            r.failures[2]
                .0
                .contains("block 7 but the ledger recorded the release in block 8"),
            "{:?}",
            r.failures
        );
    }

    #[test]
    fn malformed_events_fail() {
        let mut unsorted = event(B256::ZERO);
        unsorted.systems.reverse();
        let mut r = report();
        check_event(&unsorted, true_root(), &recorded(1, 7), &mut r);
        assert!(
            r.failures.iter().any(|f| f.0.contains("sorted")),
            "{:?}",
            r.failures
        );

        let mut short = event(true_root());
        short.voters.pop();
        let mut r = report();
        assert!(!check_event(&short, true_root(), &recorded(1, 7), &mut r));

        let mut zero = event(true_root());
        zero.digests[0] = B256::ZERO;
        let mut r = report();
        assert!(!check_event(&zero, true_root(), &recorded(1, 7), &mut r));
    }
}
