//! The keeper's state in SQLite: the cursor (the last block fully
//! processed), the votes seen, the finalised releases and the progress of
//! each promotion. Everything a scanned window produces is written in one
//! transaction with the cursor, so a crash either loses the whole window
//! (it is scanned again) or none of it.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::{
    error::{KeeperError, Result},
    verdict::Position,
};

/// The schema; `IF NOT EXISTS` so opening is idempotent. Digests and commits
/// are stored as 0x-hex text so the file is readable with `sqlite3`.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS votes (
    commit_id TEXT NOT NULL, system TEXT NOT NULL, builder INTEGER NOT NULL,
    manifest TEXT NOT NULL, image TEXT NOT NULL, block INTEGER NOT NULL,
    PRIMARY KEY (commit_id, system, builder));
CREATE TABLE IF NOT EXISTS releases (
    commit_id TEXT PRIMARY KEY, root TEXT NOT NULL, block INTEGER NOT NULL,
    log_index INTEGER NOT NULL, tx TEXT NOT NULL, rules_version INTEGER NOT NULL,
    genesis INTEGER NOT NULL, seen_final_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS promotions (
    commit_id TEXT NOT NULL, system TEXT NOT NULL, manifest TEXT NOT NULL,
    image TEXT NOT NULL, builder INTEGER NOT NULL, voters TEXT NOT NULL,
    block INTEGER NOT NULL, log_index INTEGER NOT NULL,
    state TEXT NOT NULL, step TEXT NOT NULL, attempts INTEGER NOT NULL,
    last_error TEXT, next_attempt_ms INTEGER NOT NULL, done_ms INTEGER,
    PRIMARY KEY (commit_id, system));
CREATE INDEX IF NOT EXISTS promotions_order ON promotions (state, block, log_index, system);
CREATE TABLE IF NOT EXISTS candidates (
    commit_id TEXT NOT NULL, system TEXT NOT NULL, rank INTEGER NOT NULL,
    builder INTEGER NOT NULL, image TEXT NOT NULL,
    PRIMARY KEY (commit_id, system, rank));
CREATE TABLE IF NOT EXISTS content_checks (
    image TEXT PRIMARY KEY, manifest TEXT, problem TEXT, checked_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credulous_releases (
    commit_id TEXT PRIMARY KEY, first_seen_ms INTEGER NOT NULL, state TEXT NOT NULL,
    detail TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refused_images (
    commit_id TEXT NOT NULL, system TEXT NOT NULL, builder INTEGER NOT NULL,
    image TEXT NOT NULL, reason TEXT NOT NULL,
    PRIMARY KEY (commit_id, system, image));
";

/// A Credulous release as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredulousRelease {
    /// When the keeper first saw it, milliseconds since the epoch.
    pub first_seen_ms: u64,
    /// `waiting`, `promoted`, `expired` or `failing`.
    pub state: String,
    /// Why (the missing quorum, the error), empty when promoted.
    pub detail: String,
}

/// What an image was found to hold, once per image digest (image content
/// never changes under its digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentCheck {
    /// The closure manifest digest (0x-hex) the image holds.
    Holds(String),
    /// The image cannot be read as a closure; why (the image's fault).
    Unreadable(String),
}

/// An image of a counted voter that a promotion skipped: it does not hold
/// the finalised closure.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefusedImage {
    /// The lowest builder id that attested it.
    pub builder: u8,
    /// The image (`sha256:…`).
    pub image: String,
    /// What it holds instead.
    pub reason: String,
}

/// A vote as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVote {
    /// Builder id.
    pub builder: u8,
    /// Manifest digest (0x-hex).
    pub manifest: String,
    /// Image digest (0x-hex).
    pub image: String,
    /// The block of its `Attested` log.
    pub block: u64,
}

/// A finalised release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRelease {
    /// The commit word (0x-hex).
    pub commit: String,
    /// The release root (0x-hex).
    pub root: String,
    /// Block of the ledger record.
    pub block: u64,
    /// Log index of the ledger record.
    pub log_index: u64,
    /// The transaction (0x-hex).
    pub tx: String,
    /// Rules version that finalised it.
    pub rules_version: u32,
    /// Whether it was the genesis release.
    pub genesis: bool,
    /// When the keeper first saw it final (ms since the Unix epoch).
    pub seen_final_ms: u64,
}

/// One promotion (one system of one release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRow {
    /// The commit word (0x-hex).
    pub commit: String,
    /// The system.
    pub system: String,
    /// The finalised manifest digest (0x-hex).
    pub manifest: String,
    /// The image chosen (0x-hex).
    pub image: String,
    /// The builder whose image it is.
    pub builder: u8,
    /// The counted voters, comma-separated ids.
    pub voters: String,
    /// Block of the release's ledger record.
    pub block: u64,
    /// Log index of the record.
    pub log_index: u64,
    /// `pending` or `done`.
    pub state: String,
    /// The last step completed.
    pub step: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Not before (ms since the Unix epoch).
    pub next_attempt_ms: u64,
}

impl PromotionRow {
    /// Where its release sits in chain order.
    pub fn position(&self) -> Position {
        Position {
            block: self.block,
            log_index: self.log_index,
        }
    }
}

/// The state database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the database at `path`. WAL mode and a busy
    /// timeout make a second keeper on the same file wait rather than fail.
    pub fn open(path: &Path) -> Result<Self> {
        let name = path.display().to_string();
        let err = |source| KeeperError::Store {
            path: name.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            seed_fs::create_dir_all(dir).map_err(|e| {
                KeeperError::Config(format!(
                    "cannot create the state directory {}: {e}; give another --state",
                    dir.display()
                ))
            })?;
        }
        let conn = seed_fs::sqlite::open_state(path, SCHEMA).map_err(err)?;
        Ok(Self { conn, path: name })
    }

    fn err(&self, source: rusqlite::Error) -> KeeperError {
        KeeperError::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads a meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Binds the database to one deployment, or checks that it is bound to
    /// this one: a state file reused for another chain or ledger would skip
    /// that deployment's history.
    ///
    /// Insert-if-absent, then compare: one statement decides, so keepers that
    /// open a fresh file at the same moment agree instead of one of them
    /// failing on the other's row.
    pub fn bind(&self, identity: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES ('identity', ?1) ON CONFLICT(key) DO NOTHING",
                [identity],
            )
            .map_err(|e| self.err(e))?;
        match self.meta("identity")? {
            Some(existing) if existing == identity => Ok(()),
            existing => Err(KeeperError::Config(format!(
                "state database {} belongs to {}, not {identity}; use another --state file",
                self.path,
                existing.unwrap_or_default()
            ))),
        }
    }

    /// A Credulous release's state: when it was first seen, its state
    /// (`waiting`, `promoted`, `expired`, `failing`) and why; recorded as
    /// first seen `now` (in `waiting`) when new.
    pub fn credulous_release(&self, commit: &str, now: u64) -> Result<CredulousRelease> {
        self.conn
            .execute(
                "INSERT INTO credulous_releases (commit_id, first_seen_ms, state, detail, updated_ms)
                 VALUES (?1, ?2, 'waiting', '', ?2) ON CONFLICT(commit_id) DO NOTHING",
                params![commit, i(now)],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row(
                "SELECT first_seen_ms, state, detail FROM credulous_releases WHERE commit_id = ?1",
                [commit],
                |r| {
                    Ok(CredulousRelease {
                        first_seen_ms: u(r.get(0)?),
                        state: r.get(1)?,
                        detail: r.get(2)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Records a Credulous release's new state.
    pub fn set_credulous_state(&self, commit: &str, state: &str, detail: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE credulous_releases SET state = ?2, detail = ?3, updated_ms = ?4 WHERE commit_id = ?1",
                params![commit, state, detail, i(now_ms())],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The last block fully processed and its hash, if any.
    pub fn cursor(&self) -> Result<Option<(u64, String)>> {
        let block = self.meta("cursor")?;
        let hash = self.meta("cursor_hash")?;
        Ok(match (block, hash) {
            (Some(b), Some(h)) => b.parse().ok().map(|b| (b, h)),
            _ => None,
        })
    }

    /// Starts the transaction of one scanned window.
    pub fn window(&mut self) -> Result<Window<'_>> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|source| KeeperError::Store {
                path: path.clone(),
                source,
            })?;
        Ok(Window { tx, path })
    }

    /// Pending promotions due at `now`, in chain order.
    pub fn due(&self, now: u64, limit: usize) -> Result<Vec<PromotionRow>> {
        self.promotions(
            "WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY block, log_index, system LIMIT ?2",
            params![i(now), i(limit as u64)],
        )
    }

    /// Every promotion, in chain order.
    pub fn all_promotions(&self) -> Result<Vec<PromotionRow>> {
        self.promotions("ORDER BY block, log_index, system", params![])
    }

    fn promotions(&self, tail: &str, args: impl rusqlite::Params) -> Result<Vec<PromotionRow>> {
        let sql = format!(
            "SELECT commit_id, system, manifest, image, builder, voters, block, log_index, state, step, attempts, last_error, next_attempt_ms FROM promotions {tail}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(PromotionRow {
                    commit: r.get(0)?,
                    system: r.get(1)?,
                    manifest: r.get(2)?,
                    image: r.get(3)?,
                    builder: r.get(4)?,
                    voters: r.get(5)?,
                    block: u(r.get(6)?),
                    log_index: u(r.get(7)?),
                    state: r.get(8)?,
                    step: r.get(9)?,
                    attempts: r.get(10)?,
                    last_error: r.get(11)?,
                    next_attempt_ms: u(r.get(12)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The release of a promotion.
    pub fn release(&self, commit: &str) -> Result<Option<StoredRelease>> {
        self.conn
            .query_row(
                "SELECT commit_id, root, block, log_index, tx, rules_version, genesis, seen_final_ms FROM releases WHERE commit_id = ?1",
                [commit],
                |r| {
                    Ok(StoredRelease {
                        commit: r.get(0)?,
                        root: r.get(1)?,
                        block: u(r.get(2)?),
                        log_index: u(r.get(3)?),
                        tx: r.get(4)?,
                        rules_version: r.get(5)?,
                        genesis: r.get::<_, i64>(6)? != 0,
                        seen_final_ms: u(r.get(7)?),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records the last step a promotion completed.
    pub fn set_step(&self, commit: &str, system: &str, step: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE promotions SET step = ?3 WHERE commit_id = ?1 AND system = ?2",
                params![commit, system, step],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Marks a promotion done.
    pub fn done(&self, commit: &str, system: &str, now: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE promotions SET state = 'done', step = 'done', last_error = NULL, done_ms = ?3 WHERE commit_id = ?1 AND system = ?2",
                params![commit, system, i(now)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Records a failed attempt and when to try again.
    pub fn failed(&self, commit: &str, system: &str, error: &str, next: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE promotions SET attempts = attempts + 1, last_error = ?3, next_attempt_ms = ?4 WHERE commit_id = ?1 AND system = ?2",
                params![commit, system, error, i(next)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The newest done promotion of `system`, in chain order: what the
    /// moving tags of that system should point at.
    pub fn newest_done(&self, system: &str) -> Result<Option<PromotionRow>> {
        Ok(self
            .promotions(
                "WHERE state = 'done' AND system = ?1 ORDER BY block DESC, log_index DESC LIMIT 1",
                params![system],
            )?
            .into_iter()
            .next())
    }

    /// The systems with at least one done promotion: those whose moving
    /// tags the keeper keeps on their newest release.
    pub fn systems_done(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT system FROM promotions WHERE state = 'done' ORDER BY system")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The newest release this keeper promoted (from final blocks it
    /// processed) whose promotion of `system` is `image`, and the position of
    /// its ledger record: what a moving tag serving `image` holds. A release
    /// whose promotion is still pending (refused, poisoned) holds nothing.
    pub fn release_of_image(
        &self,
        system: &str,
        image: &str,
    ) -> Result<Option<(String, Position)>> {
        self.conn
            .query_row(
                "SELECT commit_id, block, log_index FROM promotions WHERE system = ?1 AND image = ?2 AND state = 'done' ORDER BY block DESC, log_index DESC LIMIT 1",
                [system, image],
                |r| {
                    Ok((
                        r.get(0)?,
                        Position {
                            block: u(r.get(1)?),
                            log_index: u(r.get(2)?),
                        },
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The images a promotion tries, in order (D-031): `(builder, image)`.
    /// Promotions planned before candidates were stored have their one image.
    pub fn candidates(&self, row: &PromotionRow) -> Result<Vec<(u8, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT builder, image FROM candidates WHERE commit_id = ?1 AND system = ?2 ORDER BY rank")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([&row.commit, &row.system], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        let found: Vec<(u8, String)> = rows
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok(if found.is_empty() {
            vec![(row.builder, row.image.clone())]
        } else {
            found
        })
    }

    /// What `image` (0x-hex) was found to hold, if it was checked.
    pub fn content_check(&self, image: &str) -> Result<Option<ContentCheck>> {
        self.conn
            .query_row(
                "SELECT manifest, problem FROM content_checks WHERE image = ?1",
                [image],
                |r| {
                    let manifest: Option<String> = r.get(0)?;
                    let problem: Option<String> = r.get(1)?;
                    Ok(match manifest {
                        Some(manifest) => ContentCheck::Holds(manifest),
                        None => ContentCheck::Unreadable(problem.unwrap_or_default()),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records what `image` holds.
    pub fn record_content_check(&self, image: &str, check: &ContentCheck, now: u64) -> Result<()> {
        let (manifest, problem) = match check {
            ContentCheck::Holds(manifest) => (Some(manifest.as_str()), None),
            ContentCheck::Unreadable(problem) => (None, Some(problem.as_str())),
        };
        self.conn
            .execute(
                "INSERT OR REPLACE INTO content_checks (image, manifest, problem, checked_ms) VALUES (?1, ?2, ?3, ?4)",
                params![image, manifest, problem, i(now)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Points a promotion at the image it will promote, and records the
    /// images skipped before it (each once); returns how many of those were
    /// not recorded before.
    pub fn choose(
        &self,
        row: &PromotionRow,
        builder: u8,
        image: &str,
        refused: &[RefusedImage],
    ) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE promotions SET builder = ?3, image = ?4 WHERE commit_id = ?1 AND system = ?2",
                params![row.commit, row.system, builder, image],
            )
            .map_err(|e| self.err(e))?;
        let mut new = 0;
        for r in refused {
            new += self
                .conn
                .execute(
                    "INSERT OR IGNORE INTO refused_images (commit_id, system, builder, image, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![row.commit, row.system, r.builder, r.image, r.reason],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(new)
    }

    /// The last error of the promotion of `system` of `commit`, if it is
    /// pending after at least one failed attempt (refused, poisoned, or
    /// failing).
    pub fn failing(&self, commit: &str, system: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT last_error FROM promotions WHERE commit_id = ?1 AND system = ?2 AND state = 'pending' AND attempts > 0",
                [commit, system],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(|found| found.map(Option::unwrap_or_default))
            .map_err(|e| self.err(e))
    }

    /// Counts of promotions: (pending, done, pending with at least one failure).
    pub fn counts(&self) -> Result<(u64, u64, u64)> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'done'), 0), COALESCE(SUM(state = 'pending' AND attempts > 0), 0) FROM promotions",
                [],
                |r| Ok((u(r.get(0)?), u(r.get(1)?), u(r.get(2)?))),
            )
            .map_err(|e| self.err(e))
    }

    /// A meta value written outside a window.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }
}

/// The writes of one scanned window, committed together with the cursor.
pub struct Window<'a> {
    tx: Transaction<'a>,
    path: String,
}

impl Window<'_> {
    fn err(&self, source: rusqlite::Error) -> KeeperError {
        KeeperError::Store {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores a vote (a vote seen again, after a crash, is ignored).
    pub fn vote(
        &self,
        commit: &str,
        system: &str,
        builder: u8,
        manifest: &str,
        image: &str,
        block: u64,
    ) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO votes (commit_id, system, builder, manifest, image, block) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![commit, system, builder, manifest, image, i(block)],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The votes for `commit`/`system`.
    pub fn votes(&self, commit: &str, system: &str) -> Result<Vec<StoredVote>> {
        let mut stmt = self
            .tx
            .prepare("SELECT builder, manifest, image, block FROM votes WHERE commit_id = ?1 AND system = ?2 ORDER BY builder")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([commit, system], |r| {
                Ok(StoredVote {
                    builder: r.get(0)?,
                    manifest: r.get(1)?,
                    image: r.get(2)?,
                    block: u(r.get(3)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Stores the images a promotion tries, in order.
    pub fn candidates(&self, commit: &str, system: &str, images: &[(u8, String)]) -> Result<()> {
        for (rank, (builder, image)) in images.iter().enumerate() {
            self.tx
                .execute(
                    "INSERT OR IGNORE INTO candidates (commit_id, system, rank, builder, image) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![commit, system, i(rank as u64), builder, image],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Stores a finalised release.
    pub fn release(&self, r: &StoredRelease) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO releases (commit_id, root, block, log_index, tx, rules_version, genesis, seen_final_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.commit,
                    r.root,
                    i(r.block),
                    i(r.log_index),
                    r.tx,
                    r.rules_version,
                    i64::from(r.genesis),
                    i(r.seen_final_ms)
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Plans a promotion (pending, due now).
    pub fn plan(&self, p: &PromotionRow) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR IGNORE INTO promotions (commit_id, system, manifest, image, builder, voters, block, log_index, state, step, attempts, last_error, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 'planned', 0, NULL, 0)",
                params![
                    p.commit,
                    p.system,
                    p.manifest,
                    p.image,
                    p.builder,
                    p.voters,
                    i(p.block),
                    i(p.log_index)
                ],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Advances the cursor and commits everything.
    pub fn commit(self, block: u64, hash: &str) -> Result<()> {
        let path = self.path.clone();
        let err = |source| KeeperError::Store {
            path: path.clone(),
            source,
        };
        for (key, value) in [
            ("cursor", block.to_string()),
            ("cursor_hash", hash.to_owned()),
        ] {
            self.tx
                .execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![key, value],
                )
                .map_err(err)?;
        }
        self.tx.commit().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keepers started together on a fresh state file all open and bind it;
    /// none fails on another's initialisation or row (CI saw "UNIQUE
    /// constraint failed" from the binding).
    #[test]
    fn keepers_binding_a_fresh_file_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20 {
            let path = dir.path().join(format!("fresh-{round}.sqlite"));
            let barrier = std::sync::Barrier::new(6);
            let failures: Vec<String> = std::thread::scope(|scope| {
                let keepers: Vec<_> = (0..6)
                    .map(|_| {
                        scope.spawn(|| {
                            // Nothing fallible before the barrier: a keeper that
                            // failed early would leave the others waiting.
                            barrier.wait();
                            Store::open(&path)
                                .and_then(|store| store.bind("chain 1 ledger a registry b"))
                        })
                    })
                    .collect();
                keepers
                    .into_iter()
                    .filter_map(|keeper| keeper.join().unwrap().err())
                    .map(|e| e.to_string())
                    .collect()
            });
            assert!(failures.is_empty(), "round {round}: {failures:?}");
            let store = Store::open(&path).unwrap();
            let err = store.bind("chain 2 ledger a registry b").unwrap_err();
            assert!(err.to_string().contains("belongs to chain 1"), "{err}");
        }
    }

    fn row(commit: &str, system: &str, block: u64) -> PromotionRow {
        PromotionRow {
            commit: commit.to_owned(),
            system: system.to_owned(),
            manifest: "0xm".to_owned(),
            image: "0xi".to_owned(),
            builder: 0,
            voters: "0,1".to_owned(),
            block,
            log_index: 0,
            state: "pending".to_owned(),
            step: "planned".to_owned(),
            attempts: 0,
            last_error: None,
            next_attempt_ms: 0,
        }
    }

    #[test]
    fn a_window_is_all_or_nothing_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let mut store = Store::open(&path).unwrap();
        store.bind("chain 1 ledger a registry b").unwrap();
        {
            // Dropped without commit: as if the process died mid-window.
            let window = store.window().unwrap();
            window
                .vote("0xc", "x86_64-linux", 0, "0xm", "0xi", 5)
                .unwrap();
            window.plan(&row("0xc", "x86_64-linux", 5)).unwrap();
        }
        assert_eq!(store.cursor().unwrap(), None);
        assert!(store.all_promotions().unwrap().is_empty());

        let window = store.window().unwrap();
        window.plan(&row("0xc", "x86_64-linux", 5)).unwrap();
        window.plan(&row("0xd", "x86_64-linux", 9)).unwrap();
        // Planning again (a rescanned window) changes nothing.
        window.plan(&row("0xc", "x86_64-linux", 5)).unwrap();
        window.commit(9, "0xhash").unwrap();
        drop(store);

        let store = Store::open(&path).unwrap();
        store.bind("chain 1 ledger a registry b").unwrap();
        assert!(store.bind("chain 2 ledger a registry b").is_err());
        assert_eq!(store.cursor().unwrap(), Some((9, "0xhash".to_owned())));
        let due = store.due(now_ms(), 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].commit, "0xc", "chain order");

        store
            .failed("0xc", "x86_64-linux", "boom", u64::MAX / 4)
            .unwrap();
        let due = store.due(now_ms(), 10).unwrap();
        assert_eq!(due.len(), 1, "backing off");
        assert_eq!(store.counts().unwrap(), (2, 0, 1));
        store.done("0xd", "x86_64-linux", 1).unwrap();
        assert_eq!(
            store.newest_done("x86_64-linux").unwrap().unwrap().commit,
            "0xd"
        );
        assert_eq!(store.counts().unwrap(), (1, 1, 1));
    }

    #[test]
    fn backoff_doubles_up_to_the_limit() {
        let config = crate::config::KeeperConfig {
            state: "x".into(),
            finality: crate::config::Finality::Confirmations(1),
            promotion: crate::config::Promotion {
                source: crate::config::Template::new("r/s").unwrap(),
                target: crate::config::Template::new("r/s").unwrap(),
                tags: Vec::new(),
            },
            poll_interval: std::time::Duration::from_secs(1),
            log_chunk: 1,
            concurrency: 1,
            retry_base: std::time::Duration::from_millis(100),
            retry_max: std::time::Duration::from_millis(1000),
            pass_timeout: std::time::Duration::from_secs(1),
            verify: true,
            unchecked_systems: std::collections::BTreeSet::new(),
            witness_state: None,
            proofs: None,
            fault: None,
        };
        let ms = |n| config.backoff(n).as_millis();
        assert_eq!(
            (ms(0), ms(1), ms(3), ms(4), ms(40)),
            (100, 200, 800, 1000, 1000)
        );
    }
}
