//! Parsing and printing of the identifiers that make up a release: commits,
//! Nix systems and SHA-256 digests. Each parser names what is wrong with its
//! input, since these strings come from users and CI configuration.

use std::{fmt, str::FromStr};

use alloy_primitives::B256;

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A digest string is not `sha256:<64 hex>` or `0x<64 hex>`.
    #[error("malformed digest '{input}': expected 'sha256:' or '0x' followed by 64 lowercase hex digits")]
    MalformedDigest {
        /// The rejected input.
        input: String,
    },
    /// The all-zero digest: never the hash of anything, so always a mistake.
    #[error("digest '{input}' is all zeros")]
    ZeroDigest {
        /// The rejected input.
        input: String,
    },
    /// A commit is not a full SHA-1 (40 hex) or SHA-256 (64 hex) object id.
    #[error("malformed commit '{input}': expected the full 40-hex (SHA-1) or 64-hex (SHA-256) git object id")]
    MalformedCommit {
        /// The rejected input.
        input: String,
    },
    /// A system name is not of the form `<arch>-<os>`.
    #[error("malformed system '{input}': expected a Nix system such as 'x86_64-linux' (1-255 bytes of [A-Za-z0-9_.-] with a '-')")]
    MalformedSystem {
        /// The rejected input.
        input: String,
    },
}

/// A SHA-256 digest: a closure-manifest, OCI image or statement digest.
///
/// Printed in the OCI form `sha256:<hex>`; parsed from that form or from the
/// `0x<hex>` form used on-chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(B256);

impl Sha256Digest {
    /// Wraps 32 raw bytes. Rejects zero, which no real digest is.
    pub fn from_bytes(bytes: B256) -> Result<Self, IdError> {
        if bytes.is_zero() {
            return Err(IdError::ZeroDigest {
                input: format!("{bytes}"),
            });
        }
        Ok(Self(bytes))
    }

    /// The 32 raw bytes, as stored on-chain.
    pub const fn as_b256(&self) -> B256 {
        self.0
    }
}

impl FromStr for Sha256Digest {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = || IdError::MalformedDigest {
            input: input.to_owned(),
        };
        let hex_part = input
            .strip_prefix("sha256:")
            .or_else(|| input.strip_prefix("0x"))
            .ok_or_else(malformed)?;
        let bytes = parse_lower_hex::<32>(hex_part).ok_or_else(malformed)?;
        Self::from_bytes(B256::from(bytes)).map_err(|_| IdError::ZeroDigest {
            input: input.to_owned(),
        })
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

/// A git commit: a full SHA-1 or SHA-256 object id.
///
/// On-chain a commit is a `bytes32`; a SHA-1 id is left-aligned and padded
/// with zeros (docs/decisions.md explains why this cannot be confused with a
/// SHA-256 id in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommitId {
    /// A 20-byte SHA-1 object id.
    Sha1([u8; 20]),
    /// A 32-byte SHA-256 object id.
    Sha256([u8; 32]),
}

impl CommitId {
    /// The `bytes32` the contracts key releases by.
    pub fn to_b256(&self) -> B256 {
        match self {
            Self::Sha1(id) => {
                let mut word = [0u8; 32];
                word[..20].copy_from_slice(id);
                B256::from(word)
            }
            Self::Sha256(id) => B256::from(*id),
        }
    }

    /// Reads a commit back from its on-chain `bytes32`: twelve trailing zero
    /// bytes mark a SHA-1 id.
    pub fn from_b256(word: B256) -> Self {
        if word[20..].iter().all(|byte| *byte == 0) {
            let mut id = [0u8; 20];
            id.copy_from_slice(&word[..20]);
            Self::Sha1(id)
        } else {
            Self::Sha256(word.0)
        }
    }
}

impl FromStr for CommitId {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = || IdError::MalformedCommit {
            input: input.to_owned(),
        };
        let commit = match input.len() {
            40 => parse_lower_hex::<20>(input).map(Self::Sha1),
            64 => parse_lower_hex::<32>(input).map(Self::Sha256),
            _ => None,
        }
        .ok_or_else(malformed)?;
        if commit.to_b256().is_zero() {
            return Err(malformed());
        }
        Ok(commit)
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha1(id) => f.write_str(&hex::encode(id)),
            Self::Sha256(id) => f.write_str(&hex::encode(id)),
        }
    }
}

/// A Nix system name such as `x86_64-linux`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct System(String);

impl System {
    /// The name as bytes, as it appears in a release-root leaf.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for System {
    type Err = IdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        let well_formed = (1..=255).contains(&input.len())
            && input.chars().all(allowed)
            && input
                .split_once('-')
                .is_some_and(|(arch, os)| !arch.is_empty() && !os.is_empty());
        if !well_formed {
            return Err(IdError::MalformedSystem {
                input: input.to_owned(),
            });
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Decodes exactly `N` bytes of lowercase hex; anything else is `None`.
fn parse_lower_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let lowercase = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if text.len() != 2 * N || !lowercase {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "a3f1c2d4e5b6978812345678901234567890abcdefabcdefabcdefabcdef0123";

    #[test]
    fn digest_accepts_oci_and_0x_forms_and_prints_oci() {
        let oci: Sha256Digest = format!("sha256:{HEX64}").parse().unwrap();
        let hexed: Sha256Digest = format!("0x{HEX64}").parse().unwrap();
        assert_eq!(oci, hexed);
        assert_eq!(oci.to_string(), format!("sha256:{HEX64}"));
    }

    #[test]
    fn digest_rejects_bad_input_with_a_reason() {
        for bad in [
            HEX64.to_owned(),                           // no prefix
            format!("sha512:{HEX64}"),                  // wrong algorithm
            format!("sha256:{}", &HEX64[1..]),          // too short
            format!("sha256:{HEX64}0"),                 // too long
            format!("sha256:{}", HEX64.to_uppercase()), // OCI requires lowercase
            format!("sha256:{}", "g".repeat(64)),       // not hex
        ] {
            assert!(
                matches!(
                    bad.parse::<Sha256Digest>(),
                    Err(IdError::MalformedDigest { .. })
                ),
                "{bad} should be malformed"
            );
        }
        let zero = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(
            zero.parse::<Sha256Digest>(),
            Err(IdError::ZeroDigest { .. })
        ));
    }

    #[test]
    fn sha1_commit_round_trips_through_bytes32_left_aligned() {
        let text = "0123456789abcdef0123456789abcdef01234567";
        let commit: CommitId = text.parse().unwrap();
        let word = commit.to_b256();
        assert_eq!(&word[..20], &hex::decode(text).unwrap()[..]);
        assert!(word[20..].iter().all(|b| *b == 0));
        assert_eq!(CommitId::from_b256(word), commit);
        assert_eq!(commit.to_string(), text);
    }

    #[test]
    fn sha256_commit_round_trips() {
        let commit: CommitId = HEX64.parse().unwrap();
        assert_eq!(CommitId::from_b256(commit.to_b256()), commit);
        assert_eq!(commit.to_string(), HEX64);
    }

    #[test]
    fn commit_rejects_short_ids_and_zero() {
        for bad in ["abc123", &HEX64[..39], &"0".repeat(40), "main"] {
            assert!(bad.parse::<CommitId>().is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn system_validation() {
        for good in [
            "x86_64-linux",
            "aarch64-darwin",
            "armv7l-linux",
            "riscv64-none-elf",
        ] {
            assert_eq!(good.parse::<System>().unwrap().as_str(), good);
        }
        for bad in [
            "",
            "linux",
            "-linux",
            "x86_64-",
            "x86 64-linux",
            "x86_64-linüx",
        ] {
            assert!(bad.parse::<System>().is_err(), "{bad:?} should be rejected");
        }
        let longest = format!("a-{}", "b".repeat(253));
        assert!(longest.parse::<System>().is_ok());
        assert!(
            format!("{longest}b").parse::<System>().is_err(),
            "256 bytes is one too many"
        );
    }
}
