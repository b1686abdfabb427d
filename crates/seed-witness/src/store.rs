//! The witness's state in SQLite: per log origin the newest checkpoint it
//! verified (and cosigned), the chain blocks Zero relied on with who named
//! their hashes, and every alarm with its evidence. A checkpoint
//! replaces the stored one only inside a transaction that re-reads the size
//! it was proven against, so two writers can never roll the log back
//! (tlog-witness's race). Alarms are only ever inserted.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

/// The schema; `IF NOT EXISTS` so opening is idempotent.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL,
    updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, kind TEXT NOT NULL,
    source TEXT NOT NULL, held TEXT NOT NULL, seen TEXT NOT NULL, proof TEXT NOT NULL,
    detail TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    chain_id INTEGER NOT NULL, number INTEGER NOT NULL, source TEXT NOT NULL,
    hash TEXT NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (chain_id, number, source));
";

/// Why the state file failed.
#[derive(Debug, thiserror::Error)]
#[error("witness state {path}: {source}")]
pub struct StoreError {
    /// The file.
    pub path: String,
    /// The SQLite error.
    #[source]
    pub source: rusqlite::Error,
}

/// What kind of misbehaviour an alarm records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmKind {
    /// The log's newest checkpoint is smaller than one it signed before.
    Rollback,
    /// Two checkpoints of one size with different roots.
    Fork,
    /// A consistency proof between two signed checkpoints does not verify.
    Inconsistent,
    /// Two sources name different hashes for one block number of a chain.
    BlockMismatch,
}

impl AlarmKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Rollback => "rollback",
            Self::Fork => "fork",
            Self::Inconsistent => "inconsistent",
            Self::BlockMismatch => "block-mismatch",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "rollback" => Self::Rollback,
            "fork" => Self::Fork,
            "block-mismatch" => Self::BlockMismatch,
            _ => Self::Inconsistent,
        }
    }
}

/// Evidence of a split view: both views and the proof that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    /// Its row id (0 before it is stored).
    pub id: i64,
    /// The log's origin.
    pub origin: String,
    /// What was detected.
    pub kind: AlarmKind,
    /// Who showed us the conflicting view: the log's URL, a peer witness,
    /// a bundle.
    pub source: String,
    /// The view we held (a signed note).
    pub held: String,
    /// The view that contradicts it.
    pub seen: String,
    /// The consistency proof that failed (base64 hashes), if any.
    pub proof: Vec<String>,
    /// What failed, in words.
    pub detail: String,
    /// When, in milliseconds since the epoch.
    pub at_ms: u64,
}

impl Alarm {
    /// The alarm in one line: what, where, and its id in the state.
    pub fn headline(&self) -> String {
        format!(
            "SPLIT VIEW of {} ({}, alarm #{}): {}",
            self.origin,
            self.kind.as_str(),
            self.id,
            self.detail
        )
    }
}

/// A block of a chain that something relied on (Zero's `verify`, the
/// keeper) or that an endpoint was asked about: which hash `source` named
/// for block `number` of `chain_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockRecord {
    /// The chain (EIP-155 id).
    pub chain_id: u64,
    /// The block number.
    pub number: u64,
    /// Its hash, `0x`-prefixed lowercase hex.
    pub hash: String,
    /// Who named it: `verify via <endpoint>`, `keeper via <endpoint>`, an
    /// endpoint the witness asked.
    pub source: String,
}

/// The outcome of a conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// The new checkpoint is stored.
    Stored,
    /// The stored size was not the one the update was proven from: here it
    /// is (`None`: nothing stored).
    Moved(Option<u64>),
}

/// The state file.
pub struct Store {
    conn: Connection,
    path: String,
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the state file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let conn = seed_fs::sqlite::open_state(path, SCHEMA).map_err(|source| StoreError {
            path: name.clone(),
            source,
        })?;
        Ok(Self { conn, path: name })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            source,
        }
    }

    /// Starts an IMMEDIATE transaction (the write lock taken up front, so a
    /// read-then-write cannot race another writer), with the error mapping
    /// for its statements.
    fn immediate(
        &mut self,
    ) -> Result<
        (
            rusqlite::Transaction<'_>,
            impl Fn(rusqlite::Error) -> StoreError,
        ),
        StoreError,
    > {
        let path = self.path.clone();
        let err = move |source| StoreError {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        Ok((tx, err))
    }

    /// The newest checkpoint held for `origin`, as its signed note.
    pub fn latest(&self, origin: &str) -> Result<Option<(u64, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT size, note FROM checkpoints WHERE origin = ?1",
                params![origin],
                |row| Ok((unsigned(row.get(0)?), row.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every origin held, with its size.
    pub fn origins(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT origin, size FROM checkpoints ORDER BY origin")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, unsigned(row.get(1)?))))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Stores `note` (of `size`) for `origin` if the held size is still
    /// `proven_from` (`None`: nothing held): the check and the write are
    /// one transaction.
    pub fn advance(
        &mut self,
        origin: &str,
        proven_from: Option<u64>,
        size: u64,
        note: &str,
    ) -> Result<Advance, StoreError> {
        let (tx, err) = self.immediate()?;
        let err = &err;
        let held: Option<u64> = tx
            .query_row(
                "SELECT size FROM checkpoints WHERE origin = ?1",
                params![origin],
                |row| row.get::<_, i64>(0).map(unsigned),
            )
            .optional()
            .map_err(err)?;
        if held != proven_from {
            return Ok(Advance::Moved(held));
        }
        tx.execute(
            "INSERT INTO checkpoints (origin, size, note, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (origin) DO UPDATE SET size = ?2, note = ?3, updated_ms = ?4",
            params![origin, signed(size), note, signed(now_ms())],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Advance::Stored)
    }

    /// Records that `record.source` named `record.hash` for a block, in one
    /// transaction with the check against every other source's record of
    /// that block: a different hash is a [`AlarmKind::BlockMismatch`] alarm,
    /// recorded and returned (both records are kept, as evidence).
    pub fn record_block(&mut self, record: &BlockRecord) -> Result<Option<Alarm>, StoreError> {
        let (tx, err) = self.immediate()?;
        let err = &err;
        let other: Option<(String, String)> = tx
            .query_row(
                "SELECT source, hash FROM blocks
                 WHERE chain_id = ?1 AND number = ?2 AND hash != ?3 ORDER BY at_ms, rowid LIMIT 1",
                params![signed(record.chain_id), signed(record.number), record.hash],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        tx.execute(
            "INSERT INTO blocks (chain_id, number, source, hash, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (chain_id, number, source) DO UPDATE SET hash = ?4, at_ms = ?5
             WHERE hash != ?4",
            params![
                signed(record.chain_id),
                signed(record.number),
                record.source,
                record.hash,
                signed(now_ms())
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        let Some((source, hash)) = other else {
            return Ok(None);
        };
        let alarm = Alarm {
            id: 0,
            origin: format!("eip155:{}", record.chain_id),
            kind: AlarmKind::BlockMismatch,
            source: record.source.clone(),
            held: format!("block {} hash {hash} (from {source})", record.number),
            seen: format!(
                "block {} hash {} (from {})",
                record.number, record.hash, record.source
            ),
            proof: Vec::new(),
            detail: format!(
                "two sources name different hashes for block {} of chain {}: one of them \
                 serves another chain (a lying or misconfigured endpoint)",
                record.number, record.chain_id
            ),
            at_ms: 0,
        };
        tracing::error!(chain = record.chain_id, block = record.number, %source, other = %record.source, "block hash mismatch");
        self.record_alarm(alarm).map(Some)
    }

    /// The blocks recorded for `chain_id`: each number with the sources
    /// that named a hash for it.
    pub fn blocks(&self, chain_id: u64) -> Result<Vec<BlockRecord>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT number, source, hash FROM blocks WHERE chain_id = ?1
                 ORDER BY number, at_ms, rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map(params![signed(chain_id)], |row| {
                Ok(BlockRecord {
                    chain_id,
                    number: unsigned(row.get(0)?),
                    source: row.get(1)?,
                    hash: row.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records `alarm` (never overwriting another) and returns it with its id.
    pub fn record_alarm(&self, mut alarm: Alarm) -> Result<Alarm, StoreError> {
        alarm.at_ms = now_ms();
        let proof = serde_json::to_string(&alarm.proof).unwrap_or_else(|_| "[]".to_owned());
        self.conn
            .execute(
                "INSERT INTO alarms (origin, kind, source, held, seen, proof, detail, at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    alarm.origin,
                    alarm.kind.as_str(),
                    alarm.source,
                    alarm.held,
                    alarm.seen,
                    proof,
                    alarm.detail,
                    signed(alarm.at_ms)
                ],
            )
            .map_err(|e| self.err(e))?;
        alarm.id = self.conn.last_insert_rowid();
        Ok(alarm)
    }

    /// Every alarm, oldest first.
    pub fn alarms(&self) -> Result<Vec<Alarm>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, origin, kind, source, held, seen, proof, detail, at_ms
                 FROM alarms ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| {
                let proof: String = row.get(6)?;
                Ok(Alarm {
                    id: row.get(0)?,
                    origin: row.get(1)?,
                    kind: AlarmKind::parse(&row.get::<_, String>(2)?),
                    source: row.get(3)?,
                    held: row.get(4)?,
                    seen: row.get(5)?,
                    proof: serde_json::from_str(&proof).unwrap_or_default(),
                    detail: row.get(7)?,
                    at_ms: unsigned(row.get(8)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_hashes_for_one_block_are_an_alarm_with_both() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.sqlite")).unwrap();
        let record = |source: &str, hash: &str| BlockRecord {
            chain_id: 8453,
            number: 7,
            hash: hash.to_owned(),
            source: source.to_owned(),
        };
        assert_eq!(store.record_block(&record("verify", "0xaa")).unwrap(), None);
        assert_eq!(store.record_block(&record("rpc b", "0xaa")).unwrap(), None);
        // Recording again is idempotent.
        assert_eq!(store.record_block(&record("verify", "0xaa")).unwrap(), None);
        let alarm = store
            .record_block(&record("rpc c", "0xbb"))
            .unwrap()
            .expect("a mismatch");
        assert_eq!(
            (alarm.kind, alarm.origin.as_str()),
            (AlarmKind::BlockMismatch, "eip155:8453")
        );
        assert!(alarm.held.contains("0xaa") && alarm.held.contains("from verify"));
        assert!(alarm.seen.contains("0xbb") && alarm.seen.contains("from rpc c"));
        assert_eq!(store.alarms().unwrap(), vec![alarm]);
        assert_eq!(store.blocks(8453).unwrap().len(), 3);
        assert!(store.blocks(1).unwrap().is_empty());
    }

    #[test]
    fn an_update_proven_from_a_stale_size_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("w.sqlite")).unwrap();
        assert_eq!(store.advance("o", None, 5, "n5").unwrap(), Advance::Stored);
        assert_eq!(
            store.advance("o", None, 6, "n6").unwrap(),
            Advance::Moved(Some(5))
        );
        assert_eq!(
            store.advance("o", Some(4), 9, "n9").unwrap(),
            Advance::Moved(Some(5))
        );
        assert_eq!(
            store.advance("o", Some(5), 9, "n9").unwrap(),
            Advance::Stored
        );
        assert_eq!(store.latest("o").unwrap(), Some((9, "n9".to_owned())));
        // A second handle on the same file sees it (the service and a
        // verifier share the file).
        let other = Store::open(&dir.path().join("w.sqlite")).unwrap();
        assert_eq!(other.origins().unwrap(), vec![("o".to_owned(), 9)]);
    }

    #[test]
    fn alarms_are_appended_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("w.sqlite")).unwrap();
        let alarm = Alarm {
            id: 0,
            origin: "o".to_owned(),
            kind: AlarmKind::Fork,
            source: "http://log".to_owned(),
            held: "a".to_owned(),
            seen: "b".to_owned(),
            proof: vec!["AA==".to_owned()],
            detail: "d".to_owned(),
            at_ms: 0,
        };
        let first = store.record_alarm(alarm.clone()).unwrap();
        let second = store.record_alarm(alarm).unwrap();
        assert_ne!(first.id, second.id);
        let all = store.alarms().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (all[0].kind, all[0].proof.clone()),
            (AlarmKind::Fork, vec!["AA==".to_owned()])
        );
    }
}
