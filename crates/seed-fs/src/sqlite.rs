//! Services' state files in SQLite (the keeper's, the witness's), opened one
//! way: WAL, a busy timeout so a second process on the same file waits
//! rather than fails, `synchronous = FULL` so what a service reported done
//! survives a power cut, and a WAL kept small.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use rusqlite::{Connection, ErrorCode};

/// How long a process waits for another one holding the state file.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating if needed) the state file at `path` and applies `schema`
/// (which must be idempotent: `CREATE … IF NOT EXISTS`).
pub fn open_state(path: &Path, schema: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    enable_wal(&conn)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // A service commits small transactions forever: checkpoint the WAL every
    // 128 pages and cut it back to 512 KiB, so the files stay the size of
    // the data (SQLite's default lets the WAL sit at about 4 MB).
    conn.pragma_update(None, "wal_autocheckpoint", 128)?;
    conn.pragma_update(None, "journal_size_limit", 512 * 1024)?;
    conn.execute_batch(schema)?;
    Ok(conn)
}

/// Switches the file to WAL (a no-op once it is). On a fresh file the switch
/// needs the file to itself, and SQLite answers "database is locked" at once,
/// without its busy handler, while another process opens the same file; so
/// the switch is retried for up to `BUSY_TIMEOUT`, like every other lock wait.
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let start = Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            done => return done,
        }
    }
}
