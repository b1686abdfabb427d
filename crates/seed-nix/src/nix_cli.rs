//! Asking Nix itself: the closure of a store path and each path's NAR hash,
//! from `nix path-info --json --recursive`.
//!
//! Nix has printed that JSON in several shapes: an array of objects with a
//! `path` (Nix 2.4 to 2.18), an object keyed by path with `null` for invalid
//! paths (2.19 and later), and `narHash` as an SRI string or, in the newest
//! versions, as an object `{algorithm, format, hash}`. All are accepted, and
//! every hash is converted to the manifest's one spelling.

use std::{
    io,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::{
    parse_registrations, write_registrations, ClosureManifest, ManifestError, NarHash, StorePath,
};

/// Why Nix could not tell us a closure.
#[derive(Debug, thiserror::Error)]
pub enum NixError {
    /// The `nix` program could not be started.
    #[error(
        "cannot run Nix ('{program}'); install Nix (https://nixos.org/download), \
         or compute the manifest without Nix from an unpacked tree (`seed-eth manifest --tree DIR`)"
    )]
    NotRunnable {
        /// The program we tried to run.
        program: PathBuf,
        /// Why it did not start.
        #[source]
        source: io::Error,
    },
    /// The path to query does not exist.
    #[error("'{path}' does not exist; pass a store path such as /nix/store/<hash>-<name> or a symlink to one (e.g. ./result)")]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The path does not lead into the Nix store.
    #[error("'{path}' is not in the Nix store (it resolves to '{resolved}'); pass a store path such as /nix/store/<hash>-<name> or a symlink to one (e.g. ./result)")]
    NotInStore {
        /// The path as given.
        path: PathBuf,
        /// Where following its symlinks ended.
        resolved: PathBuf,
    },
    /// Nix ran and refused, e.g. the path is not valid in the store.
    #[error("'nix path-info' failed for '{path}' ({status}): {stderr}")]
    Failed {
        /// The queried path.
        path: PathBuf,
        /// The exit status.
        status: String,
        /// What Nix printed on stderr.
        stderr: String,
    },
    /// Nix printed JSON we do not understand.
    #[error("unexpected output from 'nix path-info --json': {reason}")]
    Output {
        /// What is wrong with it.
        reason: String,
    },
    /// Nix says a path in the closure is not valid (not fully in the store).
    #[error("'{path}' is not a valid path in the Nix store; build or substitute it first")]
    Invalid {
        /// The invalid path.
        path: String,
    },
    /// The closure does not make a manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// How to run Nix.
#[derive(Debug, Clone)]
pub struct Nix {
    program: PathBuf,
}

impl Default for Nix {
    /// `nix` from `PATH`.
    fn default() -> Self {
        Self::new("nix")
    }
}

impl Nix {
    /// Runs `program` as the `nix` command.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// The closure of `path` (a store path, or a symlink to one such as
    /// `./result`) with each path's NAR hash, as Nix records it.
    pub fn closure(&self, path: &Path) -> Result<Vec<(StorePath, NarHash)>, NixError> {
        let store_path = resolve_store_path(path)?;
        let output = Command::new(&self.program)
            .args(["--extra-experimental-features", "nix-command", "path-info"])
            .args(["--json", "--recursive", "--"])
            .arg(store_path.to_string())
            .output()
            .map_err(|source| NixError::NotRunnable {
                program: self.program.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(NixError::Failed {
                path: path.to_owned(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        parse_path_info(&output.stdout)
    }

    /// The closure manifest of `path`, from Nix's own records.
    pub fn closure_manifest(&self, path: &Path) -> Result<ClosureManifest, NixError> {
        Ok(ClosureManifest::new(self.closure(path)?)?)
    }

    /// The Nix database records of `paths` (`nix-store --dump-db`), what
    /// `nix-store --load-db` registers on a machine that mounts a seed.
    /// Runs the `nix-store` next to the configured `nix` program.
    pub fn dump_db(&self, paths: &[StorePath]) -> Result<Vec<u8>, NixError> {
        let nix_store = self.program.with_file_name("nix-store");
        let output = Command::new(&nix_store)
            .arg("--dump-db")
            .args(paths.iter().map(ToString::to_string))
            .output()
            .map_err(|source| NixError::NotRunnable {
                program: nix_store.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(NixError::Failed {
                path: paths
                    .first()
                    .map(|p| PathBuf::from(p.to_string()))
                    .unwrap_or_default(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(output.stdout)
    }

    /// [`Nix::dump_db`] without the derivers: a path's deriver depends on
    /// how this machine got the path (built, substituted, which evaluation),
    /// so honest builders would otherwise write different seeds for the same
    /// closure. `nix-store --load-db` takes an empty deriver line.
    pub fn registration(&self, paths: &[StorePath]) -> Result<Vec<u8>, NixError> {
        without_derivers(&self.dump_db(paths)?)
    }

    /// The program this runs.
    pub fn program(&self) -> &Path {
        &self.program
    }
}

/// A `nix-store --dump-db` dump with every deriver line emptied (and hashes
/// in the bare base 16 Nix writes).
pub fn without_derivers(dump: &[u8]) -> Result<Vec<u8>, NixError> {
    let mut records = parse_registrations(dump).map_err(|e| NixError::Output {
        reason: format!("nix-store --dump-db: {e}"),
    })?;
    for record in &mut records {
        record.deriver.clear();
    }
    Ok(write_registrations(&records))
}

/// The store path that `path` stands for: `path` itself, the store path it
/// lies inside, or where its chain of symlinks (e.g. `./result`) enters the
/// store.
///
/// We resolve this ourselves, rather than passing `path` to Nix, because
/// Nix reads a directory outside the store as a flake reference and fails
/// with an unrelated message, and because following *every* symlink would
/// be wrong: a store path may itself be a symlink to another store path.
pub fn resolve_store_path(path: &Path) -> Result<StorePath, NixError> {
    let missing = || NixError::Missing {
        path: path.to_owned(),
    };
    let mut current = std::path::absolute(path).map_err(|_| missing())?;
    // The kernel's limit on symlink chains; beyond it we have a loop.
    for _ in 0..40 {
        current.symlink_metadata().map_err(|_| missing())?;
        if let Ok(rest) = current.strip_prefix(crate::STORE_DIR) {
            if let Some(std::path::Component::Normal(base)) = rest.components().next() {
                let base = base.to_string_lossy();
                if let Ok(store_path) = StorePath::from_base_name(&base) {
                    return Ok(store_path);
                }
            }
        }
        match std::fs::read_link(&current) {
            Ok(target) => {
                let parent = current.parent().map(Path::to_owned).unwrap_or_default();
                current = parent.join(target);
            }
            Err(_) => break,
        }
    }
    Err(NixError::NotInStore {
        path: path.to_owned(),
        resolved: current,
    })
}

/// Parses the JSON of `nix path-info --json [--recursive]` in any of the
/// shapes Nix has printed into store paths and NAR hashes.
pub fn parse_path_info(json: &[u8]) -> Result<Vec<(StorePath, NarHash)>, NixError> {
    let output = |reason: String| NixError::Output { reason };
    let value: Value =
        serde_json::from_slice(json).map_err(|e| output(format!("not JSON: {e}")))?;
    let infos: Vec<(Option<&str>, &Value)> = match &value {
        Value::Array(items) => items.iter().map(|info| (None, info)).collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
        _ => return Err(output("expected a JSON array or object".to_owned())),
    };
    infos
        .into_iter()
        .map(|(key, info)| {
            let path = match (key, info.get("path").and_then(Value::as_str)) {
                (Some(key), _) => key,
                (None, Some(path)) => path,
                (None, None) => return Err(output("an entry has no 'path'".to_owned())),
            };
            if info.is_null() || info.get("valid") == Some(&Value::Bool(false)) {
                return Err(NixError::Invalid {
                    path: path.to_owned(),
                });
            }
            let store_path = parse_store_path(path)
                .map_err(|e| output(format!("{e} (only the default store is supported)")))?;
            let hash = parse_nar_hash(info.get("narHash"))
                .map_err(|reason| output(format!("'{path}': {reason}")))?;
            Ok((store_path, hash))
        })
        .collect()
}

/// Full paths in older JSON, base names (`<hash>-<name>`) in the newest.
fn parse_store_path(path: &str) -> Result<StorePath, crate::StorePathError> {
    if path.contains('/') {
        path.parse()
    } else {
        StorePath::from_base_name(path)
    }
}

fn parse_nar_hash(value: Option<&Value>) -> Result<NarHash, String> {
    match value {
        Some(Value::String(text)) => text.parse().map_err(|e| format!("{e}")),
        Some(Value::Object(parts)) => {
            let field = |name: &str| {
                parts
                    .get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("narHash object has no string '{name}'"))
            };
            NarHash::from_parts(field("algorithm")?, field("format")?, field("hash")?)
                .map_err(|e| format!("{e}"))
        }
        Some(_) => Err("narHash is neither a string nor an object".to_owned()),
        None => Err("no narHash".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_lose_their_derivers_and_nothing_else() {
        let (a, b) = (
            "/nix/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-a",
            "/nix/store/1750qnsbr05agl411i0jmgkiyryai8f1-b",
        );
        let hash = "14976765075ee36c63ce206d131c8aca671fe7ab12c410087daa80bcb4c5a09c";
        let dump = format!("{a}\n{hash}\n120\n{b}.drv\n2\n{a}\n{b}\n{b}\n{hash}\n8\n\n0\n");
        let expected = format!("{a}\n{hash}\n120\n\n2\n{a}\n{b}\n{b}\n{hash}\n8\n\n0\n");
        assert_eq!(
            without_derivers(dump.as_bytes()).unwrap(),
            expected.as_bytes()
        );
        assert!(without_derivers(format!("{a}\n{hash}\n").as_bytes()).is_err());
    }

    const A: &str = "/nix/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
    const SRI: &str = "sha256-FJdnZQde42xjziBtExyKymcf56sSxBAIfaqAvLTFoJw=";
    const NIX32: &str = "sha256:1750qnsbr05agl411i0jmgkiyryai8f16v90rrinrqsy0xjng5ql";
    const HEX: &str = "14976765075ee36c63ce206d131c8aca671fe7ab12c410087daa80bcb4c5a09c";

    fn expected() -> Vec<(StorePath, NarHash)> {
        vec![(A.parse().unwrap(), NIX32.parse().unwrap())]
    }

    #[test]
    fn array_form_of_nix_2_8() {
        let json =
            format!(r#"[{{"path":"{A}","narHash":"{SRI}","narSize":1432,"references":[]}}]"#);
        assert_eq!(parse_path_info(json.as_bytes()).unwrap(), expected());
    }

    #[test]
    fn object_form_with_nix32_string() {
        let json = format!(r#"{{"{A}":{{"narHash":"{NIX32}","narSize":1432}}}}"#);
        assert_eq!(parse_path_info(json.as_bytes()).unwrap(), expected());
    }

    #[test]
    fn object_form_with_structured_hash_and_base_names() {
        let base = &A["/nix/store/".len()..];
        let json = format!(
            r#"{{"{base}":{{"version":2,"narHash":{{"algorithm":"sha256","format":"base16","hash":"{HEX}"}}}}}}"#
        );
        assert_eq!(parse_path_info(json.as_bytes()).unwrap(), expected());
    }

    #[test]
    fn invalid_paths_and_bad_json_are_errors() {
        let null = format!(r#"{{"{A}":null}}"#);
        assert!(matches!(
            parse_path_info(null.as_bytes()),
            Err(NixError::Invalid { .. })
        ));
        let invalid = format!(r#"[{{"path":"{A}","valid":false}}]"#);
        assert!(matches!(
            parse_path_info(invalid.as_bytes()),
            Err(NixError::Invalid { .. })
        ));
        for bad in [
            "nope".to_owned(),
            "3".to_owned(),
            r#"[{"narHash":"x"}]"#.to_owned(),
            format!(r#"[{{"path":"{A}"}}]"#),
            format!(r#"[{{"path":"{A}","narHash":"md5:abc"}}]"#),
            format!(
                r#"[{{"path":"/gnu/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-a","narHash":"{SRI}"}}]"#
            ),
        ] {
            assert!(
                matches!(
                    parse_path_info(bad.as_bytes()),
                    Err(NixError::Output { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn resolution_follows_symlinks_and_rejects_paths_outside_the_store() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let absent = "/nix/store/00000000000000000000000000000000-seed-nix-absent";
        symlink(absent, dir.path().join("result")).unwrap();
        symlink("result", dir.path().join("chained")).unwrap();
        symlink("loop", dir.path().join("loop")).unwrap();
        for (name, missing) in [
            ("result", true),
            ("chained", true),
            ("absent", true),
            ("loop", false),
            ("", false),
        ] {
            let err = resolve_store_path(&dir.path().join(name)).unwrap_err();
            match err {
                NixError::Missing { .. } => assert!(missing, "{name}: {err}"),
                NixError::NotInStore { .. } => assert!(!missing, "{name}: {err}"),
                other => panic!("{name}: unexpected {other}"),
            }
        }
    }
}
