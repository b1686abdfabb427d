//! Measurement for D-047: the `sigstore` 0.15.0 crate's bundle verifier on the
//! npm provenance of sigstore 5.0.0, unmodified and with four forgeries.
//! Run: `cargo run --release --manifest-path docs/measurements/sigstore-rs-0.15.0/Cargo.toml`.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use sigstore::bundle::verify::{policy::Identity, ArtifactDigest, Verifier};
use sigstore::bundle::Bundle;
use sigstore::trust::sigstore::SigstoreTrustRoot;

const SHA512: &str = "849a897e81bf7b8a8541a6ae40bd3473a27a16b1cb0462ad905bd6dc96d34881053a12eb4a375233f81677fc9439f628fe0b0445e8535c60b5559597fbd5f80e";
const ID: &str = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

fn check(name: &str, mutate: impl Fn(&mut serde_json::Value)) {
    let root = SigstoreTrustRoot::from_trusted_root_json_unchecked(&std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../crates/seed-sigstore/tests/data/sigstore_trusted_root.json")).unwrap()).unwrap();
    let verifier = Verifier::new(Default::default(), root).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../crates/seed-sigstore/tests/data/npm_slsa_bundle_v03.json")).unwrap()).unwrap();
    mutate(&mut json);
    let bundle: Bundle = serde_json::from_value(json).unwrap();
    let digest: [u8; 64] = hex::decode(SHA512).unwrap().try_into().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let result = rt.block_on(verifier.verify_digest_with(ArtifactDigest::Sha512(digest), bundle, &Identity::new(ID, ISS), true));
    println!("sigstore 0.15.0, {name}: {}", match result { Ok(()) => "ACCEPTED".to_owned(), Err(e) => format!("refused: {e}") });
}

fn flip(v: &mut serde_json::Value) {
    let mut d = STANDARD.decode(v.as_str().unwrap()).unwrap();
    d[0] ^= 1;
    *v = serde_json::json!(STANDARD.encode(d));
}

fn main() {
    check("unmodified", |_| {});
    check("forged inclusion-proof hash", |b| flip(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0]));
    check("forged inclusion-proof root hash", |b| flip(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"]));
    check("checkpoint removed", |b| { b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"] = serde_json::json!(""); });
    check("SET forged", |b| flip(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"]));
}
