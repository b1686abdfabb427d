//! Published vectors, run through this crate's checks:
//! - every transparency-dev RFC 6962 inclusion and consistency vector
//!   (`tests/data/merkle`, see `SOURCE.md`);
//! - signed notes, cosignatures and add-checkpoint exchanges from other
//!   implementations' test suites (`docs/measurements/witness-vectors.md`
//!   gives each one's repository, commit and file).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use base64::{engine::general_purpose::STANDARD, Engine};
use seed_witness::{
    cosignature, note, proof::verify_consistency, AddCheckpoint, AddError, Cosigner, LogKey, Note,
    Vkey, Witness, WitnessedLog,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn hash(value: &Value) -> Option<[u8; 32]> {
    STANDARD.decode(value.as_str()?).ok()?.try_into().ok()
}

/// A root as our types hold it. Two vectors use short placeholder roots
/// ("don't care") where only their equality matters; a 32-byte stand-in
/// (their SHA-256) keeps equal roots equal and distinct ones distinct.
fn root(value: &Value) -> Option<[u8; 32]> {
    let bytes = STANDARD.decode(value.as_str()?).ok()?;
    Some(
        bytes
            .clone()
            .try_into()
            .unwrap_or_else(|_| Sha256::digest(&bytes).into()),
    )
}

fn vectors(kind: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/merkle")
        .join(kind)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((
                    path.display().to_string(),
                    serde_json::from_str(&text).unwrap(),
                ));
            }
        }
    }
    out
}

/// All 97 consistency vectors, none excluded: our check also refuses a
/// "proof" from the empty tree, as transparency-dev's does.
#[test]
fn every_consistency_vector_gets_the_published_answer() {
    let cases = vectors("consistency");
    assert!(cases.len() >= 97, "{} vectors", cases.len());
    for (path, case) in cases {
        let want_err = case["wantErr"].as_bool().unwrap();
        let proof: Option<Vec<[u8; 32]>> = case["proof"]
            .as_array()
            .map_or(Some(Vec::new()), |p| p.iter().map(hash).collect());
        let (Some(root1), Some(root2), Some(proof)) =
            (root(&case["root1"]), root(&case["root2"]), proof)
        else {
            assert!(want_err, "{path}: undecodable but expected to verify");
            continue;
        };
        let result = verify_consistency(
            case["size1"].as_u64().unwrap(),
            &root1,
            case["size2"].as_u64().unwrap(),
            &root2,
            &proof,
        );
        assert_eq!(result.is_err(), want_err, "{path}: {result:?}");
    }
}

/// All 98 inclusion vectors through sigstore-merkle's check, the one the
/// bundle verifier runs (via sigstore-verify) on every log entry.
#[test]
fn every_inclusion_vector_gets_the_published_answer() {
    let cases = vectors("inclusion");
    assert!(cases.len() >= 98, "{} vectors", cases.len());
    for (path, case) in cases {
        let want_err = case["wantErr"].as_bool().unwrap();
        let proof: Option<Vec<[u8; 32]>> = case["proof"]
            .as_array()
            .map_or(Some(Vec::new()), |p| p.iter().map(hash).collect());
        let (Some(root), Some(leaf), Some(proof)) =
            (hash(&case["root"]), hash(&case["leafHash"]), proof)
        else {
            assert!(want_err, "{path}: undecodable but expected to verify");
            continue;
        };
        let proof: Vec<_> = proof
            .into_iter()
            .map(sigstore_types::Sha256Hash::from)
            .collect();
        let result = sigstore_merkle::verify_inclusion_proof(
            &leaf.into(),
            case["leafIdx"].as_u64().unwrap(),
            case["treeSize"].as_u64().unwrap(),
            &proof,
            &root.into(),
        );
        assert_eq!(result.is_err(), want_err, "{path}: {result:?}");
    }
}

/// A real CT checkpoint cosigned by four public witnesses
/// (florolf/tlog-scales `tests/test_signing.py`; vkeys from it and from
/// sigsum-go's test policy).
#[test]
fn a_real_checkpoint_cosigned_by_public_witnesses_verifies() {
    let note_text = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\n\
\u{2014} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=\n\
\u{2014} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=\n\
\u{2014} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==\n\
\u{2014} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==\n\
\u{2014} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n\
\u{2014} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==\n";
    let witnesses: Vec<Vkey> = [
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "transparency.dev/DEV:witness-little-garden+d8042a87+BCtusOxINQNUTN5Oj8HObRkh2yHf/MwYaGX4CPdiVEPM",
        "witness1.smartit.nu/witness1+a48c820f+BPSFWg9G6KPiO7QPryYO5Xq4oYJJ+kAvLKLSimDhoxMO",
        "witness.stagemole.eu+67f7aea0+BEqSG3yu9YrmcM3BHvQYTxwFj3uSWakQepafafpUqklv",
    ]
    .iter()
    .map(|v| Vkey::parse(v).unwrap())
    .collect();
    let log = Vkey::parse(
        "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f",
    )
    .unwrap();
    let parsed = Note::parse(note_text.as_bytes()).unwrap();
    // The STH line (type 0x05, unknown here) is ignored; the rest verify.
    assert_eq!(
        note::verify(&parsed, std::slice::from_ref(&log))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(note::verify(&parsed, &witnesses).unwrap().len(), 4);
    for key in &witnesses {
        let line = parsed.signatures_of(key).next().unwrap();
        assert_eq!(cosignature::time_of(line), Some(1_779_573_024));
    }
    // Size 42 (the test's clobbered case): every known line fails.
    let clobbered = Note::parse(note_text.replacen("1432088532", "42", 1).as_bytes()).unwrap();
    assert!(note::verify(&clobbered, &witnesses[..1]).is_err());
    assert!(note::verify(&clobbered, &[log]).is_err());
}

/// Rekor v1 checkpoints are ECDSA notes whose key id is SHA-256 of the PKIX
/// key (transparency-dev/formats `note_verifier_test.go`, sigstore-js
/// `checkpoint.test.ts`).
#[test]
fn rekor_v1_ecdsa_checkpoints_verify() {
    let rekor = "rekor.sigstore.dev+c0d23d6a+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNhtmPtrWm3U1eQXBogSMdGvXwBcK5AW5i0hrZLOC96l+smGNM7nwZ4QvFK/4sueRoVj//QP22Ni4Qt9DPfkWLc=";
    let key = Vkey::parse(rekor).unwrap();
    assert_eq!(key.to_string(), rekor);
    let production = "rekor.sigstore.dev - 2605736670972794746\n21428036\nrxnoKyFZlJ7/R6bMh/d3lcqwKqAy5CL1LcNBJP17kgQ=\nTimestamp: 1688058656037355364\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiEAuDk7uu5Ae8Own/MjhSZNuVzbLuYH2jBMxbSA0WaNDNACIDV4reKpYiOpkwtvazCClnpUuduF2o/th2xR3gRZAUU4\n";
    let log = LogKey {
        origin: "rekor.sigstore.dev - 2605736670972794746".to_owned(),
        vkey: key.clone(),
    };
    let checkpoint = seed_witness::SignedCheckpoint::verify(production.as_bytes(), &log).unwrap();
    assert_eq!(checkpoint.checkpoint().size, 21_428_036);
    assert_eq!(
        checkpoint.checkpoint().extensions,
        ["Timestamp: 1688058656037355364"]
    );
    // The signature covers the extension line.
    let moved = production.replacen("1688058656037355364", "1688058656037355365", 1);
    assert!(seed_witness::SignedCheckpoint::verify(moved.as_bytes(), &log).is_err());
    let old = "Rekor\n798034\nf+7CoKgXKE/tNys9TTXcr/ad6U/K3xvznmzew9y6SP0=\n\n\u{2014} rekor.sigstore.dev wNI9ajBEAiARInWIWyCdyG27CO6LPnPekyw20qO0YJfoaPaowGp/XgIgc+qEHS3+GKVClgqq20uDLet7MCoTURUCRdxwWBHHufk=\n";
    assert!(note::verify(
        &Note::parse(old.as_bytes()).unwrap(),
        std::slice::from_ref(&key)
    )
    .is_ok());
    // Another key name: the line is not this key's, so nothing verifies.
    let bananas =
        Vkey::parse(&rekor.replacen("rekor.sigstore.dev", "bananas.sigstore.dev", 1)).unwrap();
    assert!(note::verify(&Note::parse(old.as_bytes()).unwrap(), &[bananas]).is_err());
    let staging = Vkey::parse("rekor.sigstage.dev+d32f30a3+AjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAzg0VOvPFGBrsueJjVJWhAYkHUxPZ2C69JYOkV6MCP0Ff0RNWswZ+BIOf9rkzjG4Qdf4H3B84o8xYvU5PoNT64=").unwrap();
    let staged = "rekor.sigstage.dev - 8050909264565447525\n23003647\nWBwYpazawqUG5iErvDptvf7mpt84WIpmm+zfshgHhJs=\n\n\u{2014} rekor.sigstage.dev 0y8wozBGAiEA2kq45YWfHHiDCJHH2+m9l+TVMtPBpOVu+VtVaj62V2MCIQDflbM2N7M/JTIV/spr9qYUI3gf4bO0qqSeiEWJ5xLgPA==\n";
    assert!(note::verify(&Note::parse(staged.as_bytes()).unwrap(), &[staging]).is_ok());
}

const LT_ORIGIN: &str =
    "sigsum.org/v1/tree/4d6d8825a6bb689d459628312889dfbb0bcd41b5211d9e1ce768b0ff0309e562";

fn lt_checkpoint(size: u64) -> String {
    let (root, signature) = match size {
        1 => ("KgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "UgIom7fPZTqpxWWhyjWduBvTvGVqsokMbqTArsQilegKoFBJQjUFAmQ0+YeSPM3wfUQMFSzVnnNuWRTYrajXpNUbIQY="),
        3 => ("RcCI1Nk56ZcSmIEfIn0SleqtV7uvrlXNccFx595Iwl0=", "UgIom2VbtIcdFbwFAy1n7s6IkAxIY6J/GQOTuZF2ORV39d75cbAj2aQYwyJre36kezNobZs4SUUdrcawfAB8WVrx6go="),
        _ => ("QrtXrQZCCvpIgsSmOsah7HdICzMLLyDfxToMql9WTjY=", "UgIomw/EOJmWi0i1FQsOj+etB7F8IccFam/jgd6wzRns4QPVmyEZtdvl1U2KEmLOZ/ASRcWJi0tW90dJWAShei7sDww="),
    };
    format!("{LT_ORIGIN}\n{size}\n{root}\n\n\u{2014} {LT_ORIGIN} {signature}\n")
}

/// litewitness's own test sequence (FiloSottile/litetlog
/// `cmd/litewitness/testdata/litewitness.txt`), against our add-checkpoint,
/// with the witness key its tests publish. Where litewitness predates the
/// current C2SP text (an unknown log is 404 there now), the spec wins.
#[test]
fn litewitness_add_checkpoint_sequence_gets_the_spec_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let log = LogKey {
        origin: LT_ORIGIN.to_owned(),
        vkey: Vkey::parse(&format!(
            "{LT_ORIGIN}+5202289b+Af/cLU2Y5BJNP+r3iMDC+av9eWCD0fBJVDfzAux5zxAP"
        ))
        .unwrap(),
    };
    let seed: [u8; 32] =
        hex::decode("31ffc2116ecbe003acaa800ab70757bd7d53206e3febef6a6d0796d95530b34f")
            .unwrap()
            .try_into()
            .unwrap();
    let cosigner = Cosigner::from_seed("example.com/witness", seed).unwrap();
    assert_eq!(
        cosigner.vkey().to_string(),
        "example.com/witness+10a1c019+BGSEitir7W6FmBs7OHWyUrh2frtLAvcDrKOx5xu9ao5Q"
    );
    let vkey = cosigner.vkey().clone();
    let witness = Witness::open(
        vec![WitnessedLog {
            key: log,
            client: None,
        }],
        Some(cosigner),
        &dir.path().join("w.sqlite"),
    )
    .unwrap();
    let proof_13 = "KgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nKgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let corrupted = lt_checkpoint(3).replacen("6go=\n", "6gx=\n", 1);
    // Another origin (and key name): the signature line is unchanged.
    let unknown = lt_checkpoint(3).replace("0309e562", "0309e563");
    let requests: Vec<(String, Result<(), u16>)> = vec![
        (format!("old 0\n\n{}", lt_checkpoint(1)), Ok(())),
        (format!("old 1\n{proof_13}\n{corrupted}"), Err(403)),
        (format!("old 1\n{proof_13}\n{unknown}"), Err(404)),
        (format!("old 1\n\n{}", lt_checkpoint(3)), Err(422)),
        (format!("old 1\nKgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nKgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABA=\n\n{}", lt_checkpoint(3)), Err(422)),
        (format!("old 1\n{proof_13}\n{}", lt_checkpoint(3)), Ok(())),
        (format!("old 1\nKgEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n+fUDV+k970B4I3uKrqJM4aP1lloPZP8mvr2Z4wRw2LI=\nKgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n{}", lt_checkpoint(5)), Err(409)),
        (format!("old 3\nKgIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nKgMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nwgiIFdZfYNv6WU1OllBKsWnLYIS/DBMqt8Uh/S4OukE=\nKgQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n{}", lt_checkpoint(5)), Ok(())),
        (format!("old 0\n\n{}", lt_checkpoint(5)), Err(409)),
    ];
    for (index, (body, expected)) in requests.into_iter().enumerate() {
        let request = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(
            request.encode(),
            body.as_bytes(),
            "request {index} round-trips"
        );
        let answer = witness.add_checkpoint(&request, "test");
        match (answer, expected) {
            (Ok(lines), Ok(())) => {
                // The response is our cosignature, which verifies with our vkey.
                let text = seed_witness::Checkpoint::parse_text(
                    Note::parse(request.checkpoint.as_slice()).unwrap().text(),
                )
                .unwrap()
                .text();
                let cosigned = Note::new(text, lines);
                assert!(note::verify(&cosigned, std::slice::from_ref(&vkey)).is_ok());
            }
            (Err(error), Err(status)) => {
                assert_eq!(error.status(), status, "request {index}: {error}");
                if let AddError::Conflict(size) = error {
                    assert_eq!(size, if index == 6 { 3 } else { 5 });
                }
            }
            (answer, expected) => panic!("request {index}: {answer:?}, expected {expected:?}"),
        }
    }
    let held = witness.held(LT_ORIGIN).unwrap().unwrap();
    assert_eq!(
        hex::encode(held.checkpoint().root),
        "42bb57ad06420afa4882c4a63ac6a1ec77480b330b2f20dfc53a0caa5f564e36"
    );
}
