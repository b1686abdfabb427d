//! The closure manifest: what a seed contains, one line per store path,
//! and the digest that builders attest and quorum compares.
//!
//! ```text
//! sha256:<52 nix32 chars>  /nix/store/<hash>-<name>\n
//! ```
//!
//! Lines are sorted by the bytes of the store path, every line (the last
//! too) ends in `\n`, and the NAR hash has one spelling, `sha256:<nix32>`.
//! The manifest digest is the SHA-256 of these bytes, printed `sha256:<hex>`.
//! The rules and why: docs/decisions.md, D-017.

use std::{collections::BTreeMap, fmt};

use seed_core::Sha256Digest;
use sha2::{Digest, Sha256};

use crate::{NarHash, StorePath};

/// Why a manifest could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A closure always contains at least the path it was taken of.
    #[error("a closure manifest needs at least one store path; none were given")]
    Empty,
    /// The same store path appears twice.
    #[error("store path '{path}' appears more than once")]
    Duplicate {
        /// The repeated path.
        path: String,
    },
    /// A line of a manifest file is malformed.
    #[error("manifest line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Lines are not in bytewise order of their store paths.
    #[error("manifest line {line}: '{path}' is out of order; lines must be sorted bytewise by store path")]
    NotSorted {
        /// 1-based line number.
        line: usize,
        /// The path that should have come earlier.
        path: String,
    },
    /// The last line does not end in a newline.
    #[error("the manifest does not end with a newline; every line, the last too, ends in '\\n'")]
    MissingFinalNewline,
    /// The manifest's SHA-256 is not a usable digest (all zeros).
    #[error("the manifest digest is unusable: {0}")]
    Digest(seed_core::IdError),
}

/// A closure manifest: store paths with their NAR hashes, sorted by path.
#[derive(Clone, PartialEq, Eq)]
pub struct ClosureManifest {
    entries: Vec<(StorePath, NarHash)>,
    bytes: Vec<u8>,
    digest: Sha256Digest,
}

impl ClosureManifest {
    /// Builds a manifest from store paths and their NAR hashes, in any order.
    pub fn new(
        entries: impl IntoIterator<Item = (StorePath, NarHash)>,
    ) -> Result<Self, ManifestError> {
        let mut sorted = BTreeMap::new();
        for (path, hash) in entries {
            if sorted.contains_key(&path) {
                return Err(ManifestError::Duplicate {
                    path: path.to_string(),
                });
            }
            sorted.insert(path, hash);
        }
        if sorted.is_empty() {
            return Err(ManifestError::Empty);
        }
        let entries: Vec<_> = sorted.into_iter().collect();
        let mut bytes = Vec::with_capacity(entries.len() * 128);
        for (path, hash) in &entries {
            bytes.extend_from_slice(format!("{hash}  {path}\n").as_bytes());
        }
        let digest = digest_of(&bytes)?;
        Ok(Self {
            entries,
            bytes,
            digest,
        })
    }

    /// Parses a manifest file strictly: the canonical encoding only, so a
    /// file parses exactly when it is what [`ClosureManifest::new`] would write.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ManifestError::Line {
            line: 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count(),
            reason: "not UTF-8".to_owned(),
        })?;
        if text.is_empty() {
            return Err(ManifestError::Empty);
        }
        let body = text
            .strip_suffix('\n')
            .ok_or(ManifestError::MissingFinalNewline)?;
        let mut entries: Vec<(StorePath, NarHash)> = Vec::new();
        for (index, line) in body.split('\n').enumerate() {
            let line_no = index + 1;
            let bad = |reason: String| ManifestError::Line {
                line: line_no,
                reason,
            };
            let (hash, path) = line.split_once("  ").ok_or_else(|| {
                bad("expected '<narHash>  <storePath>' separated by two spaces".to_owned())
            })?;
            let hash = NarHash::parse_canonical(hash).map_err(|e| bad(e.to_string()))?;
            let path: StorePath = path.parse().map_err(|e| bad(format!("{e}")))?;
            if let Some((previous, _)) = entries.last() {
                if previous == &path {
                    return Err(ManifestError::Duplicate {
                        path: path.to_string(),
                    });
                }
                if previous > &path {
                    return Err(ManifestError::NotSorted {
                        line: line_no,
                        path: path.to_string(),
                    });
                }
            }
            entries.push((path, hash));
        }
        Ok(Self {
            entries,
            bytes: bytes.to_vec(),
            digest: digest_of(bytes)?,
        })
    }

    /// The store paths and NAR hashes, sorted by path.
    pub fn entries(&self) -> &[(StorePath, NarHash)] {
        &self.entries
    }

    /// The manifest file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The manifest digest: SHA-256 of [`ClosureManifest::as_bytes`].
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// How `self` differs from `expected`, one line per store path that is
    /// missing, extra or hashed differently, in path order: what an error
    /// names so that a reader sees which store path was tampered with.
    pub fn differences(&self, expected: &Self) -> Vec<String> {
        let ours: BTreeMap<_, _> = self.entries.iter().map(|(p, h)| (p, h)).collect();
        let theirs: BTreeMap<_, _> = expected.entries.iter().map(|(p, h)| (p, h)).collect();
        let mut paths: Vec<&StorePath> = ours.keys().chain(theirs.keys()).copied().collect();
        paths.sort();
        paths.dedup();
        paths
            .into_iter()
            .filter_map(|path| match (ours.get(path), theirs.get(path)) {
                (Some(a), Some(b)) if a != b => Some(format!("{path}: NAR hash {a}, expected {b}")),
                (Some(_), None) => Some(format!("{path}: not in the expected closure")),
                (None, Some(_)) => Some(format!("{path}: missing")),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Debug for ClosureManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The lines, not the raw bytes: a failed comparison in a test or a
        // log line should show which path differs.
        f.debug_struct("ClosureManifest")
            .field("digest", &self.digest.to_string())
            .field("lines", &self.to_string().lines().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Display for ClosureManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built only from validated ASCII parts, so this never loses bytes.
        f.write_str(&String::from_utf8_lossy(&self.bytes))
    }
}

/// SHA-256 of `bytes` as a [`Sha256Digest`].
fn digest_of(bytes: &[u8]) -> Result<Sha256Digest, ManifestError> {
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    // `Sha256Digest` rejects only all zeros, a SHA-256 preimage nobody can
    // find; it is still an error rather than a panic.
    Sha256Digest::from_bytes(hash.into()).map_err(ManifestError::Digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(base: &str) -> StorePath {
        StorePath::from_base_name(base).unwrap()
    }

    fn hash(byte: u8) -> NarHash {
        NarHash::from_bytes([byte; 32])
    }

    const A: &str = "x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
    const B: &str = "yzh350ar9sjyxywhk55sjhyd0r75khgs-ref";

    #[test]
    fn sorts_by_path_and_ends_every_line_with_a_newline() {
        let manifest = ClosureManifest::new([(path(B), hash(2)), (path(A), hash(1))]).unwrap();
        let expected = format!("{}  /nix/store/{A}\n{}  /nix/store/{B}\n", hash(1), hash(2));
        assert_eq!(manifest.as_bytes(), expected.as_bytes());
        assert_eq!(
            manifest.digest().to_string(),
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest(expected.as_bytes()))
            )
        );
        assert_eq!(
            ClosureManifest::parse(expected.as_bytes()).unwrap(),
            manifest
        );
    }

    #[test]
    fn pinned_vector() {
        // Independently: printf '%s  %s\n' ... | sha256sum
        let manifest = ClosureManifest::new([(
            path(A),
            "sha256:1750qnsbr05agl411i0jmgkiyryai8f16v90rrinrqsy0xjng5ql"
                .parse()
                .unwrap(),
        )])
        .unwrap();
        assert_eq!(
            manifest.digest().to_string(),
            "sha256:8f2aebb8c41830c4279836cb1a004394a792b28a587d30832288669c19e4a0e9"
        );
    }

    #[test]
    fn differences_name_each_changed_missing_and_extra_path() {
        const C: &str = "0c3ckx9pmd2m5wyhsb7xgy1kxfj4jpcr-c";
        let expected = ClosureManifest::new([(path(A), hash(1)), (path(B), hash(2))]).unwrap();
        let image = ClosureManifest::new([(path(A), hash(9)), (path(C), hash(3))]).unwrap();
        let differences = image.differences(&expected);
        assert_eq!(differences.len(), 3, "{differences:?}");
        assert!(differences[0].contains(C) && differences[0].contains("not in the expected"));
        assert!(differences[1].contains(A) && differences[1].contains("expected"));
        assert!(differences[2].contains(B) && differences[2].contains("missing"));
        assert!(expected.differences(&expected).is_empty());
    }

    #[test]
    fn rejects_empty_and_duplicates() {
        assert_eq!(ClosureManifest::new([]), Err(ManifestError::Empty));
        assert!(matches!(
            ClosureManifest::new([(path(A), hash(1)), (path(A), hash(1))]),
            Err(ManifestError::Duplicate { .. })
        ));
    }

    #[test]
    fn parse_is_strict_and_names_the_line() {
        let line_a = format!("{}  /nix/store/{A}\n", hash(1));
        let line_b = format!("{}  /nix/store/{B}\n", hash(2));
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "at least one"),
            (line_a.trim_end().to_owned(), "newline"),
            (format!("{line_b}{line_a}"), "line 2"),
            (format!("{line_a}{line_a}"), "more than once"),
            (line_a.replacen("  ", " ", 1), "two spaces"),
            (
                format!("{}  /nix/store/{A}\n", hash(1).to_sri()),
                "canonical",
            ),
            (format!("{}  /tmp/{A}\n", hash(1)), "not a store path"),
            (format!("{line_a}\n"), "line 2"),
            (line_a.replace('\n', "\r\n"), "line 1"),
        ];
        for (input, reason) in cases {
            let err = ClosureManifest::parse(input.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(reason), "{input:?}: {err}");
        }
        let err = ClosureManifest::parse(b"\xff").unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
