//! Bundles are untrusted bytes (from registries, from builders): truncated,
//! bit-flipped and spliced bundles each give a clean error (or, where the
//! change hit bytes no check covers, the same verdict), never a panic.
//! Bounded, deterministic cases; `SEED_SIGSTORE_CASES=<n>` runs more.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use seed_sigstore::{production_trust_root, BundleVerifier, Signer};
use seed_testkit::rng::Rng;
use support::{bytes, data, GITHUB};

#[test]
fn truncated_flipped_and_spliced_bundles_never_panic_or_change_the_signer() {
    let cases: usize = std::env::var("SEED_SIGSTORE_CASES").map_or(300, |n| n.parse().unwrap());
    let verifier = BundleVerifier::new(&production_trust_root().unwrap()).unwrap();
    let original = std::fs::read(data("conda-attestation.sigstore.json")).unwrap();
    let other = std::fs::read(data("cosign-v3-blob.sigstore.json")).unwrap();
    let artifact = bytes("signed-package-2.1.0-hb0f4dca_0.conda");
    let signer = Signer::Certificate {
        issuer: GITHUB.to_owned(),
        identity: "https://github.com/prefix-dev/sigstore-example/.github/workflows/action.yaml@refs/heads/main"
            .to_owned(),
    };
    let mut rng = Rng::new(0x5167_5707_e000_0001);
    let mut refused = 0;
    for case in 0..cases {
        let mut mutated = original.clone();
        match rng.below(4) {
            0 => mutated.truncate(rng.below(original.len())),
            1 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(mutated.len());
                    mutated[at] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let at = rng.below(mutated.len());
                let from = rng.below(other.len());
                let len = rng
                    .below(64)
                    .min(other.len() - from)
                    .min(mutated.len() - at);
                mutated[at..at + len].copy_from_slice(&other[from..from + len]);
            }
            _ => {
                const JSON_BYTES: &[u8] = b"{}[]\",:0\\";
                let at = rng.below(mutated.len());
                mutated.insert(at, JSON_BYTES[rng.below(JSON_BYTES.len())]);
            }
        }
        let text = String::from_utf8_lossy(&mutated);
        match verifier.verify(&text, artifact.as_slice(), &[]) {
            Err(error) => {
                assert!(!error.to_string().is_empty(), "case {case}");
                refused += 1;
            }
            // A change no check covers (whitespace, an ignored field) must
            // leave the verdict as it was.
            Ok(verified) => assert_eq!(verified.signer, signer, "case {case}"),
        }
    }
    assert!(refused > cases / 2, "only {refused} of {cases} refused");
}
