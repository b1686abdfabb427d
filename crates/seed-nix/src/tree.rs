//! Closure manifests without Nix: find the store paths of an unpacked tree
//! (a seed image, a copied store) and NAR-hash them in Rust, in parallel.

use std::{
    fs, io,
    num::NonZeroUsize,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
    thread,
};

use crate::{nar, ClosureManifest, ManifestError, NarError, NarHash, StorePath, StorePathError};

/// Why a tree could not be turned into a manifest.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The tree's directory could not be listed.
    #[error("cannot read the store directory '{path}'")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An entry of the store directory is not a store path.
    #[error("'{path}' is not a store path; a tree may hold only store paths and dot-files such as .seed")]
    NotAStorePath {
        /// The offending entry.
        path: PathBuf,
        /// Which rule it breaks.
        #[source]
        source: StorePathError,
    },
    /// Nothing to hash.
    #[error("no store paths found in '{path}'")]
    NoStorePaths {
        /// Where we looked.
        path: PathBuf,
    },
    /// A store path could not be archived.
    #[error(transparent)]
    Nar(#[from] NarError),
    /// The hashed paths do not make a manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// A store path found on disk, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundPath {
    /// Its name in the manifest, `/nix/store/<hash>-<name>`.
    pub store_path: StorePath,
    /// Where it is on disk.
    pub location: PathBuf,
}

/// A store path with its NAR hash and NAR size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedPath {
    /// The store path.
    pub store_path: StorePath,
    /// SHA-256 of its NAR serialisation.
    pub nar_hash: NarHash,
    /// Length of its NAR serialisation in bytes.
    pub nar_size: u64,
}

/// The store directory of an unpacked tree: `root/nix/store` when it exists
/// (a file-system image of `/`), otherwise `root` itself (the seed squashfs,
/// which has store paths at its root).
pub fn store_dir_of(root: &Path) -> PathBuf {
    let nested = root.join("nix").join("store");
    if nested.is_dir() {
        nested
    } else {
        root.to_owned()
    }
}

/// The store paths in `store_dir`, sorted by name.
///
/// Names starting with `.` are skipped: Nix forbids them for store paths,
/// and they are metadata (`.seed/` in a seed image, `.links/` in a store
/// optimised by Nix). Any other entry that is not a valid store path name is
/// an error, so that nothing in the tree escapes the manifest unnoticed.
pub fn store_paths_in(store_dir: &Path) -> Result<Vec<FoundPath>, TreeError> {
    let read_dir_error = |source| TreeError::ReadDir {
        path: store_dir.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in fs::read_dir(store_dir).map_err(read_dir_error)? {
        let entry = entry.map_err(read_dir_error)?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        found.push(found_path(entry.path())?);
    }
    if found.is_empty() {
        return Err(TreeError::NoStorePaths {
            path: store_dir.to_owned(),
        });
    }
    found.sort_by(|a, b| a.store_path.cmp(&b.store_path));
    Ok(found)
}

/// Names an explicit store-path directory (or file, or symlink) by its last
/// component, which must be a valid store path name.
pub fn found_path(location: PathBuf) -> Result<FoundPath, TreeError> {
    let not_a_store_path = |source| TreeError::NotAStorePath {
        path: location.clone(),
        source,
    };
    let base = location
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let store_path = StorePath::from_base_name(&base).map_err(not_a_store_path)?;
    Ok(FoundPath {
        store_path,
        location,
    })
}

/// How many paths to hash at once by default: one per available core.
pub fn default_threads() -> NonZeroUsize {
    thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// NAR-hashes `paths` on up to `threads` threads. Paths are the unit of
/// work: each is streamed through SHA-256 by one thread. Results come back
/// in the order of `paths`; the first failure stops the remaining work.
pub fn hash_paths(
    paths: &[FoundPath],
    threads: NonZeroUsize,
) -> Result<Vec<HashedPath>, TreeError> {
    map_in_parallel(paths, threads, |found| {
        nar::hash_path(&found.location).map(|(nar_hash, nar_size)| HashedPath {
            store_path: found.store_path.clone(),
            nar_hash,
            nar_size,
        })
    })
    .map_err(TreeError::from)
}

/// Applies `work` to every item on up to `threads` threads, each taking the
/// next item as it finishes one. Results come back in the order of `items`.
/// The first failure stops the items not yet started, and the error returned
/// is that of the earliest failing item, so it does not depend on timing.
pub fn map_in_parallel<T: Sync, R: Send, E: Send>(
    items: &[T],
    threads: NonZeroUsize,
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Mutex<Vec<Option<Result<R, E>>>> = Mutex::new(items.iter().map(|_| None).collect());
    let workers = threads.get().min(items.len()).max(1);
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    let result = work(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    // A poisoned lock means another worker panicked; its
                    // panic propagates from the scope, so keep going.
                    let mut slots = slots.lock().unwrap_or_else(|p| p.into_inner());
                    slots[index] = Some(result);
                }
            });
        }
    });
    let mut done = Vec::with_capacity(items.len());
    for slot in slots.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match slot {
            Some(Ok(result)) => done.push(result),
            Some(Err(error)) => return Err(error),
            // Skipped after a failure; the failure is in another slot.
            None => {}
        }
    }
    Ok(done)
}

/// The closure manifest of the store paths in an unpacked tree
/// (see [`store_dir_of`] and [`store_paths_in`]), hashed without Nix.
pub fn tree_manifest(root: &Path) -> Result<(ClosureManifest, Vec<HashedPath>), TreeError> {
    let found = store_paths_in(&store_dir_of(root))?;
    manifest_of(&found)
}

/// The closure manifest of explicitly listed store paths, hashed without Nix.
pub fn manifest_of(paths: &[FoundPath]) -> Result<(ClosureManifest, Vec<HashedPath>), TreeError> {
    let hashed = hash_paths(paths, default_threads())?;
    let manifest = ClosureManifest::new(
        hashed
            .iter()
            .map(|path| (path.store_path.clone(), path.nar_hash)),
    )?;
    Ok((manifest, hashed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
    const B: &str = "yzh350ar9sjyxywhk55sjhyd0r75khgs-ref";

    #[test]
    fn finds_nested_store_or_root_store_and_skips_dot_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("nix/store");
        fs::create_dir_all(store.join(B)).unwrap();
        fs::write(store.join(A), b"x").unwrap();
        fs::create_dir_all(store.join(".links")).unwrap();
        assert_eq!(store_dir_of(dir.path()), store);
        let found = store_paths_in(&store).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.store_path.base_name()).collect();
        assert_eq!(names, [A, B]);
        // The seed squashfs layout: store paths at the root.
        assert_eq!(store_dir_of(&store), store);
    }

    #[test]
    fn stray_entries_and_empty_trees_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            store_paths_in(dir.path()),
            Err(TreeError::NoStorePaths { .. })
        ));
        fs::write(dir.path().join("README"), b"x").unwrap();
        let err = store_paths_in(dir.path()).unwrap_err();
        assert!(err.to_string().contains("README"), "{err}");
    }

    #[test]
    fn parallel_hashing_keeps_order_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..9 {
            let base = format!("{}-p{i}", &A[..32]);
            let location = dir.path().join(&base);
            fs::write(&location, vec![i as u8; 1000 * i]).unwrap();
            paths.push(found_path(location).unwrap());
        }
        let serial = hash_paths(&paths, NonZeroUsize::MIN).unwrap();
        let parallel = hash_paths(&paths, NonZeroUsize::new(4).unwrap()).unwrap();
        assert_eq!(serial, parallel);
        assert_eq!(serial[3].store_path, paths[3].store_path);
        assert_eq!(
            serial[3].nar_hash,
            nar::hash_path(&paths[3].location).unwrap().0
        );

        paths.push(found_path(dir.path().join(format!("{}-gone", &A[..32]))).unwrap());
        let err = hash_paths(&paths, NonZeroUsize::new(3).unwrap()).unwrap_err();
        assert!(err.to_string().contains("-gone"), "{err}");
    }
}
