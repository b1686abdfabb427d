//! The Nix settings a builder ran with, as bound into its statement.
//!
//! Substituters decide where store paths may come from instead of being
//! built, so a verifier's policy (for example "no substituter but the seed")
//! needs them; the other keys kept here are the ones that change what a build
//! can see or produce, or whom it trusts.

use std::collections::BTreeMap;

/// `nix show-config` keys recorded by [`NixSettings::from_show_config`].
///
/// Everything that influences which store paths are trusted or substituted,
/// what a build can reach (sandbox, extra paths, impure host dependencies),
/// which platforms and features it claims, and which hooks run around it.
/// Keys such as `cores` or `max-jobs` are left out: they change how fast a
/// build runs, not what it produces (a non-reproducible build is caught by the
/// quorum anyway).
pub const RELEVANT_NIX_KEYS: &[&str] = &[
    "accept-flake-config",
    "allow-import-from-derivation",
    "allowed-impure-host-deps",
    "allowed-uris",
    "build-hook",
    "builders",
    "builders-use-substitutes",
    "experimental-features",
    "extra-platforms",
    "fallback",
    "impure-env",
    "post-build-hook",
    "pre-build-hook",
    "pure-eval",
    "require-sigs",
    "restrict-eval",
    "sandbox",
    "sandbox-fallback",
    "sandbox-paths",
    "substitute",
    "substituters",
    "system",
    "system-features",
    "trusted-public-keys",
    "trusted-substituters",
];

/// Why Nix settings were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NixSettingsError {
    /// A line of `nix show-config` output is not `key = value`.
    #[error("line {line} of the Nix configuration is not 'key = value': '{text}'; pass the output of `nix show-config` (or `nix config show`) unchanged")]
    MalformedLine {
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// A key appears twice, so which value Nix used is ambiguous.
    #[error("Nix configuration key '{key}' appears twice; pass the output of `nix show-config`, which lists each key once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A key is not a Nix setting name.
    #[error("'{key}' is not a Nix setting name (expected lowercase letters, digits and '-')")]
    BadKey {
        /// The rejected key.
        key: String,
    },
    /// A value or list entry contains a control character.
    #[error("the value of Nix setting '{key}' contains a control character")]
    BadValue {
        /// The setting whose value was rejected.
        key: String,
    },
    /// The explicit list disagrees with the same key in the config map.
    #[error("'{key}' is given as [{list}] but the Nix configuration says '{config}'; build both from the same `nix show-config` output")]
    Inconsistent {
        /// `substituters` or `trusted-substituters`.
        key: &'static str,
        /// The explicit list, space-separated.
        list: String,
        /// The config map's value.
        config: String,
    },
}

/// The Nix settings bound into a statement.
///
/// `substituters` and `trusted_substituters` are also in `config` when the
/// builder recorded them there; the two must then agree, so a verifier can
/// read either.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NixSettings {
    substituters: Vec<String>,
    trusted_substituters: Vec<String>,
    config: BTreeMap<String, String>,
}

impl NixSettings {
    /// Checks and wraps settings given explicitly.
    pub fn new(
        substituters: Vec<String>,
        trusted_substituters: Vec<String>,
        config: BTreeMap<String, String>,
    ) -> Result<Self, NixSettingsError> {
        for (key, value) in &config {
            check_key(key)?;
            check_value(key, value)?;
        }
        for (key, list) in [
            ("substituters", &substituters),
            ("trusted-substituters", &trusted_substituters),
        ] {
            for entry in list {
                // An entry with a space would read back as two entries.
                if entry.is_empty() || entry.chars().any(char::is_whitespace) {
                    return Err(NixSettingsError::BadValue {
                        key: key.to_owned(),
                    });
                }
                check_value(key, entry)?;
            }
            if let Some(config_value) = config.get(key) {
                let split: Vec<&str> = config_value.split_whitespace().collect();
                if split != *list {
                    return Err(NixSettingsError::Inconsistent {
                        key,
                        list: list.join(" "),
                        config: config_value.clone(),
                    });
                }
            }
        }
        Ok(Self {
            substituters,
            trusted_substituters,
            config,
        })
    }

    /// Reads the text output of `nix show-config` (`key = value` per line)
    /// and keeps the [`RELEVANT_NIX_KEYS`].
    pub fn from_show_config(text: &str) -> Result<Self, NixSettingsError> {
        let mut config = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line
                .split_once(" = ")
                .or_else(|| line.strip_suffix(" =").map(|key| (key, "")))
                .ok_or_else(|| NixSettingsError::MalformedLine {
                    line: i + 1,
                    text: line.to_owned(),
                })?;
            check_key(key)?;
            if !seen.insert(key) {
                return Err(NixSettingsError::DuplicateKey {
                    key: key.to_owned(),
                });
            }
            if RELEVANT_NIX_KEYS.contains(&key) {
                config.insert(key.to_owned(), value.trim().to_owned());
            }
        }
        let list = |key: &str| -> Vec<String> {
            config
                .get(key)
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default()
        };
        Self::new(list("substituters"), list("trusted-substituters"), config)
    }

    /// Where the builder's Nix was allowed to substitute store paths from.
    pub fn substituters(&self) -> &[String] {
        &self.substituters
    }

    /// Substituters unprivileged users could additionally enable.
    pub fn trusted_substituters(&self) -> &[String] {
        &self.trusted_substituters
    }

    /// The recorded `nix show-config` keys and values.
    pub fn config(&self) -> &BTreeMap<String, String> {
        &self.config
    }
}

fn check_key(key: &str) -> Result<(), NixSettingsError> {
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(NixSettingsError::BadKey {
            key: key.to_owned(),
        })
    }
}

fn check_value(key: &str, value: &str) -> Result<(), NixSettingsError> {
    if value.chars().any(char::is_control) {
        return Err(NixSettingsError::BadValue {
            key: key.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW_CONFIG: &str = "\
allowed-users = *
cores = 0
experimental-features = nix-command flakes
max-jobs = 1
require-sigs = true
sandbox = true
sandbox-paths = /bin/sh=/nix/store/abc-busybox/bin/busybox
substitute = false
substituters =
system = x86_64-linux
trusted-public-keys = cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=
trusted-substituters = https://cache.nixos.org/ https://example.org/cache
";

    #[test]
    fn keeps_relevant_keys_and_splits_lists() {
        let nix = NixSettings::from_show_config(SHOW_CONFIG).unwrap();
        assert!(nix.substituters().is_empty());
        assert_eq!(
            nix.trusted_substituters(),
            ["https://cache.nixos.org/", "https://example.org/cache"]
        );
        assert_eq!(nix.config()["sandbox"], "true");
        assert_eq!(nix.config()["substituters"], "");
        assert!(!nix.config().contains_key("cores"));
        assert!(!nix.config().contains_key("allowed-users"));
    }

    #[test]
    fn rejects_duplicates_malformed_lines_and_disagreement() {
        let dup = "sandbox = true\nsandbox = false\n";
        assert!(matches!(
            NixSettings::from_show_config(dup),
            Err(NixSettingsError::DuplicateKey { .. })
        ));
        assert!(matches!(
            NixSettings::from_show_config("sandbox true\n"),
            Err(NixSettingsError::MalformedLine { line: 1, .. })
        ));
        let config = BTreeMap::from([("substituters".to_owned(), "https://a".to_owned())]);
        assert!(matches!(
            NixSettings::new(vec!["https://b".into()], vec![], config),
            Err(NixSettingsError::Inconsistent { .. })
        ));
        assert!(matches!(
            NixSettings::new(vec!["https://a https://b".into()], vec![], BTreeMap::new()),
            Err(NixSettingsError::BadValue { .. })
        ));
    }
}
