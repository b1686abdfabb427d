//! The SHA-256 hash of a store path's NAR serialisation, in the one spelling
//! a closure manifest uses: `sha256:<nix32>` (docs/decisions.md, D-017).

use std::{fmt, str::FromStr};

use base64::Engine as _;

use crate::nix32;

/// Why a NAR hash string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NarHashError {
    /// Not one of the SHA-256 spellings Nix prints.
    #[error(
        "malformed NAR hash '{input}': expected SHA-256 as 'sha256:<52 nix32>', \
         'sha256:<64 hex>' or SRI 'sha256-<44 base64>'"
    )]
    Malformed {
        /// The rejected input.
        input: String,
    },
    /// A hash in another spelling where only the canonical one is allowed.
    #[error(
        "NAR hash '{input}' is not in the manifest's canonical form; write it as '{canonical}'"
    )]
    NotCanonical {
        /// The rejected input.
        input: String,
        /// The same hash in canonical form.
        canonical: String,
    },
}

/// A NAR hash: SHA-256 over the NAR serialisation of one store path.
///
/// Displays as `sha256:<nix32>`, the form Nix writes into a build's
/// structured attributes and `closureInfo` registration, so a manifest can be
/// produced inside a Nix derivation with `jq` and be byte-identical to ours.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NarHash([u8; 32]);

impl NarHash {
    /// Wraps the 32 raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The SRI spelling `sha256-<base64>` that `nix path-info --json` prints.
    pub fn to_sri(&self) -> String {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }

    /// Parses only the canonical `sha256:<nix32>` spelling, as a manifest line must.
    pub fn parse_canonical(input: &str) -> Result<Self, NarHashError> {
        let hash: Self = input.parse()?;
        let canonical = hash.to_string();
        if canonical != input {
            return Err(NarHashError::NotCanonical {
                input: input.to_owned(),
                canonical,
            });
        }
        Ok(hash)
    }

    /// Parses a hash in the JSON object form of newer Nix:
    /// `{"algorithm": "sha256", "format": "nix32"|"base16"|"base64"|"sri", "hash": "..."}`.
    pub(crate) fn from_parts(
        algorithm: &str,
        format: &str,
        hash: &str,
    ) -> Result<Self, NarHashError> {
        let malformed = || NarHashError::Malformed {
            input: format!("{{algorithm: {algorithm}, format: {format}, hash: {hash}}}"),
        };
        if algorithm != "sha256" {
            return Err(malformed());
        }
        let bytes = match format {
            "nix32" | "base32" => nix32::decode::<32>(hash),
            "base16" => decode_hex(hash),
            "base64" => decode_base64(hash),
            "sri" => return hash.parse().map_err(|_| malformed()),
            _ => None,
        };
        bytes.map(Self).ok_or_else(malformed)
    }
}

impl FromStr for NarHash {
    type Err = NarHashError;

    /// Accepts every SHA-256 spelling Nix prints: `sha256:<nix32>`,
    /// `sha256:<hex>`, `sha256:<base64>` and SRI `sha256-<base64>`, telling
    /// them apart by length as Nix does.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = || NarHashError::Malformed {
            input: input.to_owned(),
        };
        let bytes = if let Some(sri) = input.strip_prefix("sha256-") {
            decode_base64(sri)
        } else if let Some(body) = input.strip_prefix("sha256:") {
            match body.len() {
                52 => nix32::decode::<32>(body),
                64 => decode_hex(body),
                44 => decode_base64(body),
                _ => None,
            }
        } else {
            None
        };
        bytes.map(Self).ok_or_else(malformed)
    }
}

impl fmt::Debug for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NarHash({self})")
    }
}

impl fmt::Display for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", nix32::encode(&self.0))
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text.to_ascii_lowercase(), &mut out).ok()?;
    Some(out)
}

fn decode_base64(text: &str) -> Option<[u8; 32]> {
    // The standard engine rejects non-canonical trailing bits, so one hash
    // has one base64 spelling.
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // `nix path-info --json` and `nix-hash --type sha256 --base32` of one path.
    const SRI: &str = "sha256-FJdnZQde42xjziBtExyKymcf56sSxBAIfaqAvLTFoJw=";
    const NIX32: &str = "sha256:1750qnsbr05agl411i0jmgkiyryai8f16v90rrinrqsy0xjng5ql";
    const HEX: &str = "sha256:14976765075ee36c63ce206d131c8aca671fe7ab12c410087daa80bcb4c5a09c";

    #[test]
    fn every_nix_spelling_parses_to_the_same_hash() {
        let from_sri: NarHash = SRI.parse().unwrap();
        let from_nix32: NarHash = NIX32.parse().unwrap();
        let from_hex: NarHash = HEX.parse().unwrap();
        let from_b64: NarHash = format!("sha256:{}", &SRI[7..]).parse().unwrap();
        assert_eq!(from_sri, from_nix32);
        assert_eq!(from_sri, from_hex);
        assert_eq!(from_sri, from_b64);
        assert_eq!(from_sri.to_string(), NIX32);
        assert_eq!(from_sri.to_sri(), SRI);
    }

    #[test]
    fn object_form_of_newer_nix() {
        let expected: NarHash = NIX32.parse().unwrap();
        assert_eq!(
            NarHash::from_parts("sha256", "base16", &HEX[7..]).unwrap(),
            expected
        );
        assert_eq!(
            NarHash::from_parts("sha256", "nix32", &NIX32[7..]).unwrap(),
            expected
        );
        assert_eq!(
            NarHash::from_parts("sha256", "base64", &SRI[7..]).unwrap(),
            expected
        );
        assert!(NarHash::from_parts("sha512", "base16", &HEX[7..]).is_err());
        assert!(NarHash::from_parts("sha256", "base58", &HEX[7..]).is_err());
    }

    #[test]
    fn canonical_parsing_names_the_canonical_form() {
        assert!(NarHash::parse_canonical(NIX32).is_ok());
        match NarHash::parse_canonical(SRI) {
            Err(NarHashError::NotCanonical { canonical, .. }) => assert_eq!(canonical, NIX32),
            other => panic!("expected NotCanonical, got {other:?}"),
        }
    }

    #[test]
    fn rejects_other_algorithms_and_garbage() {
        for bad in [
            "",
            "sha256:",
            "sha1-FJdnZQde42xjziBtExyKymcf56s=",
            &NIX32[7..],
            &format!("sha512:{}", &NIX32[7..]),
            &format!("sha256:{}", &NIX32[8..]),
            "sha256-FJdnZQde42xjziBtExyKymcf56sSxBAIfaqAvLTFoJ=",
        ] {
            assert!(
                bad.parse::<NarHash>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
