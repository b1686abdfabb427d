//! What a keeper promotes, where to, and how it decides a block is final.

use std::{path::PathBuf, time::Duration};

use seed_oci::{Repository, Tag};

use crate::error::{KeeperError, Result};

/// When a block counts as final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finality {
    /// The chain's `finalized` block tag (post-merge Ethereum and most L2s).
    FinalizedTag,
    /// `latest - n`, for chains without a finality tag (anvil, some L2s).
    Confirmations(u64),
}

/// A template with `{commit}` and `{system}` placeholders, for a repository
/// or a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Parses a template: only `{commit}` and `{system}` may appear in braces.
    pub fn new(text: &str) -> Result<Self> {
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open..];
            let close = after
                .find('}')
                .ok_or_else(|| KeeperError::Config(format!("template '{text}': unclosed '{{'")))?;
            let name = &after[..=close];
            if name != "{commit}" && name != "{system}" {
                return Err(KeeperError::Config(format!(
                    "template '{text}': unknown placeholder {name} (only {{commit}} and {{system}})"
                )));
            }
            rest = &after[close + 1..];
        }
        if rest.contains('}') || text.is_empty() {
            return Err(KeeperError::Config(format!(
                "template '{text}' is empty or has a stray '}}'"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    /// Whether the result depends on the release (`{commit}`): such tags
    /// are immutable once written, the others move with every release.
    pub fn has_commit(&self) -> bool {
        self.0.contains("{commit}")
    }

    /// Whether the result depends on the system.
    pub fn has_system(&self) -> bool {
        self.0.contains("{system}")
    }

    /// Fills in the placeholders.
    pub fn render(&self, commit: &str, system: &str) -> String {
        self.0
            .replace("{commit}", commit)
            .replace("{system}", system)
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where images come from and where they are promoted to.
#[derive(Debug, Clone)]
pub struct Promotion {
    /// The repository builders push their images to (`REGISTRY/REPO`, may
    /// contain `{system}`).
    pub source: Template,
    /// The repository promoted tags and verdicts go to (same registry).
    pub target: Template,
    /// Tag templates.
    pub tags: Vec<Template>,
}

/// One rendered destination of a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The repository.
    pub repository: Repository,
    /// The tag.
    pub tag: Tag,
    /// Whether the tag moves with every release (no `{commit}` in it).
    pub moving: bool,
}

impl Promotion {
    /// Checks that every destination is distinct per system (a template
    /// without `{system}`, in repository and tag, would make two systems
    /// fight over one tag) and that at least one tag is configured.
    pub fn validate(&self) -> Result<()> {
        if self.tags.is_empty() {
            return Err(KeeperError::Config("no tag templates".to_owned()));
        }
        for tag in &self.tags {
            if !tag.has_system() && !self.target.has_system() {
                return Err(KeeperError::Config(format!(
                    "tag template '{}' with target '{}': neither names {{system}}, so every system would write the same tag",
                    tag.as_str(),
                    self.target.as_str()
                )));
            }
        }
        // Every release keeps a permanent tag: it is what consumers pin, and
        // it is what puts the image into the target repository before the
        // verdict is attached there.
        if !self.tags.iter().any(Template::has_commit) {
            return Err(KeeperError::Config(
                "at least one tag template must name {commit} (a permanent tag per release)"
                    .to_owned(),
            ));
        }
        if self.source.has_commit() || self.target.has_commit() {
            return Err(KeeperError::Config(
                "repositories may use {system} but not {commit}".to_owned(),
            ));
        }
        // Render once with sample values so bad names fail at start-up.
        self.source_repo("x86_64-linux")?;
        self.destinations(&"0".repeat(40), "x86_64-linux")?;
        Ok(())
    }

    /// The repository holding `system`'s images.
    pub fn source_repo(&self, system: &str) -> Result<Repository> {
        parse_repo(&self.source.render("", system))
    }

    /// The repository promoted to.
    pub fn target_repo(&self, system: &str) -> Result<Repository> {
        parse_repo(&self.target.render("", system))
    }

    /// Every tag `system` of release `commit` is promoted to.
    pub fn destinations(&self, commit: &str, system: &str) -> Result<Vec<Destination>> {
        let repository = self.target_repo(system)?;
        self.tags
            .iter()
            .map(|template| {
                let text = template.render(commit, system);
                let tag: Tag = text.parse().map_err(|e| {
                    KeeperError::Config(format!(
                        "tag template '{}' gives '{text}': {e}",
                        template.as_str()
                    ))
                })?;
                Ok(Destination {
                    repository: repository.clone(),
                    tag,
                    moving: !template.has_commit(),
                })
            })
            .collect()
    }
}

fn parse_repo(text: &str) -> Result<Repository> {
    text.parse()
        .map_err(|e| KeeperError::Config(format!("repository '{text}': {e}")))
}

/// A point in the keeper's work where a test can make the process exit, to
/// check that a restart from there has exactly-once effects. Set through
/// `SEED_ETH_KEEPER_FAULT` by the CLI; never set in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Inside the database transaction of a scanned window, before commit.
    ScanBeforeCommit,
    /// After the image manifest was pulled and checked.
    AfterPull,
    /// After the first tag was written.
    AfterFirstTag,
    /// After the verdict referrer was attached.
    AfterVerdict,
    /// After the promotion was recorded as done, before the moving tags.
    AfterDone,
    /// After a moving tag was moved.
    AfterMove,
}

impl FaultPoint {
    /// Parses the names used in `SEED_ETH_KEEPER_FAULT`.
    pub fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "scan-before-commit" => Self::ScanBeforeCommit,
            "after-pull" => Self::AfterPull,
            "after-first-tag" => Self::AfterFirstTag,
            "after-verdict" => Self::AfterVerdict,
            "after-done" => Self::AfterDone,
            "after-move" => Self::AfterMove,
            other => {
                return Err(KeeperError::Config(format!(
                    "unknown fault point '{other}' (scan-before-commit, after-pull, after-first-tag, after-verdict, after-done, after-move)"
                )))
            }
        })
    }
}

/// The exit status of a process stopped at a [`FaultPoint`].
pub const FAULT_EXIT_CODE: i32 = 86;

/// Everything a keeper needs besides the chain and the registry client.
#[derive(Debug, Clone)]
pub struct KeeperConfig {
    /// The SQLite state file.
    pub state: PathBuf,
    /// When a block is final.
    pub finality: Finality,
    /// Sources, targets and tags.
    pub promotion: Promotion,
    /// How often to look for new final blocks.
    pub poll_interval: Duration,
    /// Blocks per `eth_getLogs` request (and per database transaction).
    pub log_chunk: u64,
    /// Promotions run at the same time (moving tags follow them in chain
    /// order).
    pub concurrency: usize,
    /// First retry delay of a failed promotion; doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Longest a service pass may take before it is abandoned and retried
    /// (a hung RPC endpoint or registry must not stall the keeper; every step
    /// is idempotent, so an abandoned pass is safe to repeat).
    pub pass_timeout: Duration,
    /// Also run `seed-eth verify`'s checks (seed-verify) on each release
    /// before promoting it. They read state at the finalisation block, so
    /// catching up on old releases then needs an archive endpoint.
    pub verify: bool,
    /// Systems whose images are promoted without reading their content
    /// (`--no-content-check`: formats seed-eth cannot read, such as Darwin's
    /// `.dmg.zst`). Weaker: the first candidate of D-031 is promoted whatever
    /// it holds, and its verdict says so (`contentUnchecked`).
    pub unchecked_systems: std::collections::BTreeSet<String>,
    /// The witness state (`seed-eth witness`'s file) the finalisation
    /// block of each release verified is recorded in, for the witness to
    /// compare with other endpoints; another hash already recorded for that
    /// block refuses the release. Needs `verify`.
    pub witness_state: Option<std::path::PathBuf>,
    /// Prove what each verification relies on against an agreed block hash
    /// (`--proofs`, seed-verify's proofs). Needs `verify`.
    pub proofs: Option<seed_verify::ProofRequest>,
    /// Test hook: exit at this point (see [`FaultPoint`]).
    pub fault: Option<FaultPoint>,
}

impl KeeperConfig {
    /// The delay before attempt `attempts + 1` of a failed promotion.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX);
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_reject_unknown_placeholders() {
        let t = Template::new("{commit}-{system}").unwrap();
        assert!(t.has_commit() && t.has_system());
        assert_eq!(t.render("abc", "x86_64-linux"), "abc-x86_64-linux");
        assert!(Template::new("{version}").is_err());
        assert!(Template::new("release-{system").is_err());
        assert!(Template::new("a}b").is_err());
    }

    #[test]
    fn every_system_needs_its_own_tags() {
        let p = Promotion {
            source: Template::new("localhost:5000/seed").unwrap(),
            target: Template::new("localhost:5000/seed").unwrap(),
            tags: vec![
                Template::new("{commit}-{system}").unwrap(),
                Template::new("release").unwrap(),
            ],
        };
        assert!(p.validate().is_err());
        let p = Promotion {
            target: Template::new("localhost:5000/seed-{system}").unwrap(),
            ..p
        };
        p.validate().unwrap();
        let d = p.destinations("ab", "x86_64-linux").unwrap();
        assert_eq!(
            d[1].repository.to_string(),
            "localhost:5000/seed-x86_64-linux"
        );
        assert!(!d[0].moving && d[1].moving);
    }
}
