//! Store path names: `/nix/store/<32 nix32 chars>-<name>`, validated with
//! the same rules Nix applies, so a tree we hash can only contribute entries
//! that Nix itself could have created.

use std::{fmt, str::FromStr};

use crate::nix32;

/// The store directory every manifest names paths under. Seeds are built for
/// and mounted at the default store; other store directories would give
/// different store paths, and so different releases, for the same content.
pub const STORE_DIR: &str = "/nix/store";

/// Why a store path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorePathError {
    /// Not under `/nix/store`, or nested deeper than one level.
    #[error("'{input}' is not a store path: expected '{STORE_DIR}/<hash>-<name>'")]
    NotInStore {
        /// The rejected input.
        input: String,
    },
    /// The `<hash>-<name>` part breaks one of Nix's rules.
    #[error("'{input}' is not a valid store path name: {reason}")]
    BadName {
        /// The rejected base name.
        input: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// A store path in the default store directory, e.g.
/// `/nix/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-hello`.
///
/// Ordered by its bytes, which is the order a manifest lists paths in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath(String);

impl StorePath {
    /// Validates a base name `<hash>-<name>` (a directory entry of the store).
    pub fn from_base_name(base: &str) -> Result<Self, StorePathError> {
        let bad = |reason| StorePathError::BadName {
            input: base.to_owned(),
            reason,
        };
        let (hash, name) = match (base.get(..32), base.get(32..33), base.get(33..)) {
            (Some(hash), Some("-"), Some(name)) => (hash, name),
            _ => return Err(bad("expected 32 hash characters, '-' and a name")),
        };
        if nix32::decode::<20>(hash).is_none() {
            return Err(bad("the hash part is not 32 characters of Nix base-32"));
        }
        if name.is_empty() || name.len() > 211 {
            return Err(bad("the name must be 1 to 211 characters long"));
        }
        if name.starts_with('.') {
            return Err(bad("the name must not start with '.'"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "+-._?=".contains(c);
        if !name.chars().all(allowed) {
            return Err(bad("the name may contain only A-Z a-z 0-9 + - . _ ? ="));
        }
        Ok(Self(base.to_owned()))
    }

    /// `<hash>-<name>`, the path's entry in the store directory.
    pub fn base_name(&self) -> &str {
        &self.0
    }
}

impl FromStr for StorePath {
    type Err = StorePathError;

    /// Parses `/nix/store/<hash>-<name>`; a trailing `/` is tolerated.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let base = input
            .strip_prefix(STORE_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| rest.strip_suffix('/').unwrap_or(rest))
            .filter(|base| !base.contains('/'))
            .ok_or_else(|| StorePathError::NotInStore {
                input: input.to_owned(),
            })?;
        Self::from_base_name(base)
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE_DIR}/{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "x21wq7f46f1py2xsblfw13d8br6bgnr6-a";

    #[test]
    fn parses_and_prints_full_paths() {
        let path: StorePath = format!("/nix/store/{BASE}").parse().unwrap();
        assert_eq!(path.base_name(), BASE);
        assert_eq!(path.to_string(), format!("/nix/store/{BASE}"));
        let slash: StorePath = format!("/nix/store/{BASE}/").parse().unwrap();
        assert_eq!(slash, path);
    }

    #[test]
    fn rejects_paths_outside_the_store_or_inside_a_path() {
        for bad in [
            BASE.to_owned(),
            format!("/gnu/store/{BASE}"),
            format!("/nix/store/{BASE}/bin"),
            format!("/nix/storex/{BASE}"),
            "/nix/store".to_owned(),
        ] {
            assert!(
                matches!(
                    bad.parse::<StorePath>(),
                    Err(StorePathError::NotInStore { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn applies_nix_name_rules() {
        let hash = &BASE[..32];
        for good in ["a", "hello-2.12.1", "x+y_z?=.drv"] {
            assert!(StorePath::from_base_name(&format!("{hash}-{good}")).is_ok());
        }
        let long = "n".repeat(212);
        for bad in [
            format!("{hash}-"),
            format!("{hash}-.seed"),
            format!("{hash}-a b"),
            format!("{hash}-{long}"),
            format!("{hash}_a"),
            format!("{}e-a", &hash[..31]),
            ".links".to_owned(),
            "short-a".to_owned(),
        ] {
            assert!(
                matches!(
                    StorePath::from_base_name(&bad),
                    Err(StorePathError::BadName { .. })
                ),
                "{bad}"
            );
        }
    }
}
