//! The witness against the Rekor v2 (tlog-tiles) double over HTTP: a tiled
//! log serves no proofs, so each consistency proof is built from hash tiles
//! authenticated against the newer tree's root. It follows the log across
//! tile and tile-level boundaries, reads a partial tile the log has replaced
//! with the full one, and raises an alarm when the tiles of a view do not
//! hash to a checkpoint of the other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seed_testkit::rekor_v2::{RekorV2Server, ORIGIN};
use seed_witness::{
    log::{LogClient, LogError},
    tiles::TiledLog,
    AlarmKind, Cosigner, LogKey, Observed, Vkey, Witness, WitnessError, WitnessedLog,
};

fn grow(log: &RekorV2Server, to: usize) {
    for i in log.size()..to {
        log.append(format!("entry {i}").as_bytes());
    }
}

fn followed(log: &RekorV2Server) -> WitnessedLog {
    WitnessedLog {
        key: LogKey {
            origin: ORIGIN.to_owned(),
            vkey: Vkey::parse(&log.vkey()).unwrap(),
        },
        client: Some(LogClient::Tiles(TiledLog::new(&format!(
            "{}/api/v2",
            log.url()
        )))),
    }
}

fn witness(dir: &tempfile::TempDir, log: &RekorV2Server) -> (Witness, WitnessedLog) {
    let followed = followed(log);
    let witness = Witness::open(
        vec![followed.clone()],
        Some(Cosigner::from_seed("tiles.witness.test", [7; 32]).unwrap()),
        &dir.path().join("witness.sqlite"),
    )
    .unwrap();
    (witness, followed)
}

#[tokio::test]
async fn a_tiled_log_is_followed_across_tile_and_level_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2Server::start().unwrap();
    grow(&log, 1);
    let (witness, followed) = witness(&dir, &log);
    assert_eq!(
        witness.poll(&followed).await.unwrap(),
        Observed::First { size: 1 }
    );
    // Within a partial tile, to a full one, past it, and past 256² leaves
    // (the first level-2 tile).
    let mut from = 1;
    for to in [5, 256, 300, 65_536, 65_539] {
        grow(&log, to);
        assert_eq!(
            witness.poll(&followed).await.unwrap(),
            Observed::Advanced {
                from,
                to: to as u64
            },
            "{from} -> {to}"
        );
        from = to as u64;
    }
    let held = witness.held(ORIGIN).unwrap().unwrap();
    assert_eq!(held.encode().lines().next(), Some(ORIGIN));
    assert!(witness.store().alarms().unwrap().is_empty());
}

#[tokio::test]
async fn a_partial_tile_the_log_replaced_is_read_from_the_full_tile() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2Server::start().unwrap();
    grow(&log, 5);
    let (witness, followed) = witness(&dir, &log);
    witness.poll(&followed).await.unwrap();
    // A checkpoint of 300 seen after the log grew to 600: the proof needs
    // the tile 0/001.p/44, which the log deleted once 0/001 was full.
    grow(&log, 600);
    let older = log.checkpoint(300);
    let client = TiledLog::new(&format!("{}/api/v2", log.url()));
    let partial = reqwest::get(format!("{}/tile/0/001.p/44", client.url()))
        .await
        .unwrap();
    assert_eq!(
        partial.status(),
        404,
        "the double deletes replaced partial tiles"
    );
    assert_eq!(
        witness
            .observe(older.as_bytes(), "test", false)
            .await
            .unwrap(),
        Observed::Advanced { from: 5, to: 300 }
    );
}

#[tokio::test]
async fn tiles_that_do_not_hash_to_a_checkpoint_of_the_log_are_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorV2Server::start().unwrap();
    grow(&log, 300);
    let (witness, followed) = witness(&dir, &log);
    witness.poll(&followed).await.unwrap();
    // The log splits at 300: the witness's view grows to 310, another to 305.
    let split = log.fork().unwrap();
    grow(&log, 310);
    split.append(b"seen by the other view");
    grow(&split, 305);
    let other = split.checkpoint(305);
    // The witness's log serves tiles of its tree, which do not hash to the
    // other view's root of 305: it cannot prove that tree, an alarm.
    let error = witness
        .observe(other.as_bytes(), "a bundle", false)
        .await
        .unwrap_err();
    let WitnessError::Alarm(alarm) = error else {
        panic!("expected an alarm, got {error}");
    };
    assert_eq!(alarm.kind, AlarmKind::Inconsistent);
    assert!(
        alarm.detail.contains("do not hash to the root"),
        "{}",
        alarm.detail
    );
    assert_eq!(alarm.seen, other);
    assert_eq!(alarm.held.lines().nth(1), Some("300"));
    assert_eq!(
        witness.held(ORIGIN).unwrap().unwrap().checkpoint().size,
        300
    );
    // A tree the log has not reached cannot be proven either.
    grow(&split, 400);
    let beyond = split.checkpoint(400);
    let error = witness
        .observe(beyond.as_bytes(), "a bundle", false)
        .await
        .unwrap_err();
    assert!(matches!(error, WitnessError::Alarm(_)), "{error}");
    // A log that is down is no alarm.
    let down = TiledLog::new("http://127.0.0.1:9/api/v2");
    let root = witness.held(ORIGIN).unwrap().unwrap().checkpoint().root;
    assert!(matches!(
        down.consistency(1, 300, root).await,
        Err(LogError::Unavailable { .. })
    ));
    assert_eq!(witness.store().alarms().unwrap().len(), 2);
}

/// A log answering every tile request with `body`, over plain HTTP.
fn serve_tiles(body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let mut response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            response.extend_from_slice(&body);
            let _ = stream.write_all(&response);
        }
    });
    url
}

/// Malformed tiles: a tile of the wrong length is an unusable answer (retried,
/// no alarm); a tile of the right length whose hashes do not give the signed
/// root is the log failing to prove a tree it signed (an alarm, `Refused`).
#[tokio::test]
async fn malformed_tiles_are_refused() {
    let root = [7u8; 32];
    for (body, refused) in [
        (Vec::new(), false),
        (vec![1u8; 31], false),
        (vec![1u8; 32 * 5 + 1], false),
        (vec![1u8; 32 * 5], true),
        (vec![0u8; 32 * 256], false),
    ] {
        let log = TiledLog::new(&serve_tiles(body.clone()));
        let answer = log.consistency(2, 5, root).await;
        match (answer, refused) {
            (Err(LogError::Refused { .. }), true) | (Err(LogError::Unavailable { .. }), false) => {}
            (other, _) => panic!("{} bytes: {other:?}", body.len()),
        }
    }
}
