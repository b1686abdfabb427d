//! The witness against the Rekor v1 double over HTTP: it follows a growing
//! log and cosigns it; every way a log can show two views (a fork, a
//! rollback, a proof that does not hold) raises an alarm carrying both
//! checkpoints and the proof, and moves nothing; a forged checkpoint, a log
//! that fails or is slow are errors, never alarms; two witnesses that see two
//! views of one log catch it by gossip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use base64::Engine as _;

use seed_testkit::rekor::{Fault, RekorServer, ORIGIN};
use seed_witness::{
    gossip::{origin_hash, Exchange, GossipError, Peer},
    log::{LogClient, LogError, RekorV1},
    note, server, AlarmKind, Cosigner, LogKey, Note, Observed, Vkey, Witness, WitnessError,
    WitnessedLog,
};

fn append(log: &RekorServer, entries: &[&str]) {
    let mut log = log.lock();
    for entry in entries {
        log.append(entry.as_bytes().to_vec(), 1_700_000_000);
    }
}

fn followed(log: &RekorServer) -> WitnessedLog {
    WitnessedLog {
        key: LogKey {
            origin: ORIGIN.to_owned(),
            vkey: Vkey::parse(&log.lock().vkey()).unwrap(),
        },
        client: Some(LogClient::RekorV1(RekorV1::new(&log.url()))),
    }
}

fn witness(dir: &tempfile::TempDir, name: &str, log: &RekorServer) -> Witness {
    Witness::open(
        vec![followed(log)],
        Some(Cosigner::from_seed(&format!("{name}.witness.test"), [name.len() as u8; 32]).unwrap()),
        &dir.path().join(format!("{name}.sqlite")),
    )
    .unwrap()
}

fn alarm(result: Result<Observed, WitnessError>) -> seed_witness::Alarm {
    match result {
        Err(WitnessError::Alarm(alarm)) => *alarm,
        other => panic!("expected an alarm, got {other:?}"),
    }
}

fn size_line(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn following_a_growing_log_cosigns_each_new_tree() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a", "b"]);
    let witness = witness(&dir, "w", &log);
    let followed = followed(&log);
    assert_eq!(
        witness.poll(&followed).await.unwrap(),
        Observed::First { size: 2 }
    );
    assert_eq!(
        witness.poll(&followed).await.unwrap(),
        Observed::Same { size: 2 }
    );
    append(&log, &["c", "d", "e"]);
    assert_eq!(
        witness.poll(&followed).await.unwrap(),
        Observed::Advanced { from: 2, to: 5 }
    );
    let held = witness.held(ORIGIN).unwrap().unwrap();
    assert_eq!(held.checkpoint().root, *log.lock().root(5).as_bytes());
    // The held note carries the log's signature and our cosignature, both valid.
    let cosigner = witness.cosigner().unwrap().vkey().clone();
    assert!(note::verify(held.note(), &[cosigner]).is_ok());
    assert!(witness.store().alarms().unwrap().is_empty());
}

#[tokio::test]
async fn a_fork_of_the_log_is_an_alarm_with_both_checkpoints_and_the_failed_proof() {
    let dir = tempfile::tempdir().unwrap();
    let honest = RekorServer::start().unwrap();
    append(&honest, &["a", "b", "c"]);
    let split = honest.fork().unwrap();
    append(&honest, &["d"]);
    append(&split, &["D"]);
    let witness = witness(&dir, "w", &honest);
    witness.poll(&followed(&honest)).await.unwrap();

    // Same size, another root: the log signed both, which proves it lies.
    let fork = alarm(witness.poll(&followed(&split)).await);
    assert_eq!(fork.kind, AlarmKind::Fork);
    assert_eq!(fork.source, split.url());
    assert_eq!((size_line(&fork.held), size_line(&fork.seen)), (4, 4));
    assert_ne!(fork.held.lines().nth(2), fork.seen.lines().nth(2));

    // The split view grows: its proof from our size does not reach our root.
    append(&split, &["E", "F"]);
    let inconsistent = alarm(witness.poll(&followed(&split)).await);
    assert_eq!(inconsistent.kind, AlarmKind::Inconsistent);
    assert_eq!(size_line(&inconsistent.seen), 6);
    assert!(!inconsistent.proof.is_empty(), "the failed proof is kept");
    assert!(
        inconsistent.detail.contains("from size 4 to size 6"),
        "{}",
        inconsistent.detail
    );

    // Nothing moved: we still hold the honest tree, and both alarms are kept.
    let held = witness.held(ORIGIN).unwrap().unwrap();
    assert_eq!(held.checkpoint().root, *honest.lock().root(4).as_bytes());
    let stored = witness.store().alarms().unwrap();
    assert_eq!(stored, vec![fork, inconsistent]);
}

#[tokio::test]
async fn a_rollback_the_log_cannot_prove_is_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a", "b"]);
    let restored_from_backup = log.fork().unwrap();
    append(&log, &["c", "d", "e"]);
    let witness = witness(&dir, "w", &log);
    witness.poll(&followed(&log)).await.unwrap();
    let rollback = alarm(witness.poll(&followed(&restored_from_backup)).await);
    assert_eq!(rollback.kind, AlarmKind::Rollback);
    assert_eq!(
        (size_line(&rollback.held), size_line(&rollback.seen)),
        (5, 2)
    );
    assert!(
        rollback.detail.contains("cannot prove size 2"),
        "{}",
        rollback.detail
    );
    assert_eq!(witness.held(ORIGIN).unwrap().unwrap().checkpoint().size, 5);
}

#[tokio::test]
async fn an_older_checkpoint_the_log_proves_is_a_prefix_not_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a", "b"]);
    let old = log.lock().checkpoint(2);
    append(&log, &["c"]);
    let witness = witness(&dir, "w", &log);
    witness.poll(&followed(&log)).await.unwrap();
    let observed = witness
        .observe(old.as_bytes(), "a bundle", false)
        .await
        .unwrap();
    assert_eq!(observed, Observed::Behind { size: 2, held: 3 });
}

#[tokio::test]
async fn forged_checkpoints_are_refused_without_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a", "b"]);
    let witness = witness(&dir, "w", &log);
    witness.poll(&followed(&log)).await.unwrap();
    // Another size under the log's signature.
    let genuine = log.lock().checkpoint(2);
    let forged = genuine.replacen("\n2\n", "\n3\n", 1);
    assert!(matches!(
        witness.observe(forged.as_bytes(), "test", false).await,
        Err(WitnessError::Refused(note::NoteError::BadSignature { .. }))
    ));
    // A checkpoint signed by another key with the log's name.
    let impostor = RekorServer::start().unwrap();
    append(&impostor, &["x", "y", "z"]);
    let foreign = impostor.lock().checkpoint(3);
    assert!(matches!(
        witness.observe(foreign.as_bytes(), "test", false).await,
        Err(WitnessError::Refused(note::NoteError::NotSigned { .. }))
    ));
    assert!(witness.store().alarms().unwrap().is_empty());
    assert_eq!(witness.held(ORIGIN).unwrap().unwrap().checkpoint().size, 2);
}

#[tokio::test]
async fn a_failing_or_slow_log_is_retried_not_alarmed() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a"]);
    let witness = witness(&dir, "w", &log);
    witness.poll(&followed(&log)).await.unwrap();
    append(&log, &["b", "c"]);
    // The tree head answers, then the proof request fails with a 503.
    log.fail_next_reads(&[Fault::Slow(Duration::from_millis(300)), Fault::Status(503)]);
    let started = std::time::Instant::now();
    assert!(matches!(
        witness.poll(&followed(&log)).await,
        Err(WitnessError::Log(LogError::Unavailable { .. }))
    ));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(witness.store().alarms().unwrap().is_empty());
    // Next time it answers, and the witness moves on.
    assert_eq!(
        witness.poll(&followed(&log)).await.unwrap(),
        Observed::Advanced { from: 1, to: 3 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_witnesses_shown_two_views_catch_it_by_gossip() {
    let dir = tempfile::tempdir().unwrap();
    let honest = RekorServer::start().unwrap();
    append(&honest, &["a", "b"]);
    let split = honest.fork().unwrap();
    append(&honest, &["c"]);
    append(&split, &["C"]);
    // Each witness believes its own URL is the log.
    let (alpha, bravo) = (
        Arc::new(witness(&dir, "alpha", &honest)),
        Arc::new(witness(&dir, "bravo", &split)),
    );
    alpha.poll(&followed(&honest)).await.unwrap();
    bravo.poll(&followed(&split)).await.unwrap();
    let metrics = Arc::new(server::Metrics::default());
    let bravo_url = format!(
        "http://{}",
        server::serve(
            "127.0.0.1:0".parse().unwrap(),
            bravo.clone(),
            metrics.clone()
        )
        .await
        .unwrap()
    );
    // The monitoring endpoint serves bravo's cosigned view.
    let served = reqwest::get(format!("{bravo_url}/{}/checkpoint", origin_hash(ORIGIN)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let served = Note::parse(served.as_bytes()).unwrap();
    assert!(note::verify(&served, &[bravo.cosigner().unwrap().vkey().clone()]).is_ok());

    let peer = Peer {
        name: "bravo".to_owned(),
        vkey: bravo.cosigner().unwrap().vkey().clone(),
        url: bravo_url,
    };
    let http = seed_witness::gossip::client();
    let pulled = peer.pull(&alpha, &followed(&honest), &http).await;
    let Err(GossipError::Witness(WitnessError::Alarm(fork))) = pulled else {
        panic!("expected an alarm, got {pulled:?}");
    };
    assert_eq!(fork.kind, AlarmKind::Fork);
    assert!(fork.source.contains("peer bravo"), "{}", fork.source);
    assert!(
        fork.seen.contains("bravo.witness.test"),
        "the peer's cosigned view is kept"
    );
    // Pushing ours: bravo refuses it (same size, other root) and records
    // its own alarm naming where the checkpoint came from.
    let pushed = peer.push(&alpha, &followed(&honest), &http).await;
    assert!(
        matches!(pushed, Err(GossipError::Witness(WitnessError::Alarm(_)))),
        "{pushed:?}"
    );
    let theirs = bravo.store().alarms().unwrap();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert!(theirs[0]
        .source
        .starts_with("add-checkpoint from 127.0.0.1"));
    assert_eq!(metrics.alarms.load(std::sync::atomic::Ordering::Relaxed), 1);

    // An honest peer: the same log, one entry behind, gets our checkpoint
    // cosigned through add-checkpoint with the proof fetched from the log.
    let charlie = Arc::new(witness(&dir, "charlie", &honest));
    let early = honest.lock().checkpoint(2);
    charlie
        .observe(early.as_bytes(), "test", false)
        .await
        .unwrap();
    let charlie_url = format!(
        "http://{}",
        server::serve(
            "127.0.0.1:0".parse().unwrap(),
            charlie.clone(),
            Arc::new(server::Metrics::default())
        )
        .await
        .unwrap()
    );
    let honest_peer = Peer {
        name: "charlie".to_owned(),
        vkey: charlie.cosigner().unwrap().vkey().clone(),
        url: charlie_url,
    };
    let exchange = honest_peer
        .push(&alpha, &followed(&honest), &http)
        .await
        .unwrap();
    assert!(
        matches!(exchange, Exchange::Cosigned { size: 3 }),
        "{exchange:?}"
    );
    assert_eq!(charlie.held(ORIGIN).unwrap().unwrap().checkpoint().size, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_add_checkpoint_endpoint_answers_with_the_tlog_witness_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let log = RekorServer::start().unwrap();
    append(&log, &["a", "b", "c"]);
    let witness = Arc::new(witness(&dir, "w", &log));
    let addr = server::serve(
        "127.0.0.1:0".parse().unwrap(),
        witness.clone(),
        Arc::new(server::Metrics::default()),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let post = |body: String| {
        let http = http.clone();
        async move {
            let response = http
                .post(format!("http://{addr}/add-checkpoint"))
                .body(body)
                .send()
                .await
                .unwrap();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                kind,
                response.text().await.unwrap(),
            )
        }
    };
    let two = log.lock().checkpoint(2);
    let three = log.lock().checkpoint(3);
    let (status, _, body) = post(format!("old 0\n\n{two}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("\u{2014} w.witness.test "), "{body}");
    // A stale old size: 409 with the held size, as text/x.tlog.size.
    let (status, kind, body) = post(format!("old 0\n\n{three}")).await;
    assert_eq!(
        (status, kind.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), "2\n")
    );
    // The proof from 2 to 3, from the log: 200; a tampered one: 422.
    let proof: Vec<String> = log
        .lock()
        .consistency_proof(2, 3)
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h.as_bytes()))
        .collect();
    let mut tampered = proof.clone();
    tampered[0] = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
    let (status, _, _) = post(format!("old 2\n{}\n\n{three}", tampered.join("\n"))).await;
    assert_eq!(status, 422);
    // A client's bad proof says nothing about the log, so the witness asks
    // the log itself in the background: the log proves 2 -> 3 and the
    // witness advances without an alarm.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while witness.held(ORIGIN).unwrap().unwrap().checkpoint().size != 3 {
        assert!(std::time::Instant::now() < deadline, "never reconciled 3");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, kind, body) = post(format!("old 2\n{}\n\n{three}", proof.join("\n"))).await;
    assert_eq!(
        (status, kind.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), "3\n")
    );
    append(&log, &["d"]);
    let four = log.lock().checkpoint(4);
    let proof: Vec<String> = log
        .lock()
        .consistency_proof(3, 4)
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.encode(h.as_bytes()))
        .collect();
    let (status, _, body) = post(format!("old 3\n{}\n\n{four}", proof.join("\n"))).await;
    assert_eq!(status, 200, "{body}");
    // old > size: 400; not a request: 400; another log's origin: 404.
    let (status, _, _) = post(format!("old 9\n\n{four}")).await;
    assert_eq!(status, 400);
    let (status, _, _) = post("hello".to_owned()).await;
    assert_eq!(status, 400);
    let other = four.replace(ORIGIN, "another.log/1");
    let (status, _, _) = post(format!("old 4\n\n{other}")).await;
    assert_eq!(status, 404);
    // No valid signature of the log: 403.
    let forged = four.replacen("\n4\n", "\n5\n", 1);
    let (status, _, _) = post(format!("old 4\n\n{forged}")).await;
    assert_eq!(status, 403);
    assert_eq!(witness.held(ORIGIN).unwrap().unwrap().checkpoint().size, 4);
    assert!(witness.store().alarms().unwrap().is_empty());
}
