//! What the bundle tests share: the corpus and the ways they edit bundles.

#![allow(dead_code, clippy::unwrap_used)]

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde_json::{json, Value};

/// The OIDC issuer of GitHub Actions.
pub const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// The path of a corpus file (tests/data, SOURCE.md there).
pub fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A corpus file's bytes.
pub fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

/// A change made to a bundle's JSON.
pub type Mutation = fn(&mut Value);

/// The bundle's first transparency log entry.
pub fn entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

/// Flips one bit of a base64 field.
pub fn flip(field: &mut Value) {
    let mut decoded = STANDARD.decode(field.as_str().unwrap()).unwrap();
    decoded[1] ^= 1;
    *field = json!(STANDARD.encode(decoded));
}
