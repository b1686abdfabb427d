//! Replacing a file atomically: readers see the old content or the new,
//! never a torn write, even if the process or the machine dies midway.
//!
//! Every file seed-eth writes (deployment files, proposal files, lock files,
//! manifests, statements, signed votes) goes through [`write_atomic`], so a
//! failure or a crash never leaves a half-written file where one was expected.
//! Directories are made with [`create_dir_all`], whose errors name a path
//! component that is a file.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    process,
    sync::atomic::{AtomicU64, Ordering},
};

#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write '{path}'")]
pub struct WriteError {
    /// The file we meant to write.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// directory (so the rename cannot cross file systems), fsync it, rename it
/// over `path`, then fsync the directory so the rename itself is durable.
/// An existing file's permissions are kept.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let error = |source| WriteError {
        path: path.to_owned(),
        source,
    };
    let file_name = path.file_name().ok_or_else(|| {
        error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names no file",
        ))
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    // Unique per process and call, so concurrent writers never share a temp file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(
        ".tmp-{}-{}",
        process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = dir.join(temp_name);

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(existing) = fs::metadata(path) {
            file.set_permissions(existing.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        // Best effort: the temp file may not exist or may already be renamed.
        let _ = fs::remove_file(&temp);
    }
    result.map_err(|e| match not_a_directory(&dir) {
        Some(blocker) => error(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory (it is a file)", blocker.display()),
        )),
        None => error(e),
    })
}

/// Creates `dir` and its missing parents, like [`fs::create_dir_all`], but
/// when a component of the path exists and is not a directory the error says
/// so ("x is not a directory, it is a file") instead of the bare "File exists"
/// the operating system reports.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| match not_a_directory(dir) {
        Some(blocker) if blocker == dir => io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory (it is a file)", dir.display()),
        ),
        Some(blocker) => io::Error::new(
            io::ErrorKind::NotADirectory,
            format!(
                "{} is not a directory (it is a file), so {} cannot be created in it",
                blocker.display(),
                dir.display()
            ),
        ),
        None => e,
    })
}

/// The first component of `path` (from the root) that exists and is not a
/// directory.
fn not_a_directory(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .filter(|p| !p.as_os_str().is_empty())
        .find(|p| fs::metadata(p).is_ok_and(|m| !m.is_dir()))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_content_keeps_mode_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        write_atomic(&path, b"one").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    /// Issue 11 §5: a path component that is a file is named, not reported as "File exists".
    #[test]
    fn a_file_in_the_way_of_a_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"").unwrap();
        let err = create_dir_all(&file.join("state")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not a directory (it is a file), so {} cannot be created in it",
                file.display(),
                file.join("state").display()
            )
        );
        assert_eq!(
            create_dir_all(&file).unwrap_err().to_string(),
            format!("{} is not a directory (it is a file)", file.display())
        );
        let err = write_atomic(&file.join("x/out.json"), b"{}").unwrap_err();
        assert_eq!(
            std::error::Error::source(&err).unwrap().to_string(),
            format!("{} is not a directory (it is a file)", file.display())
        );
        create_dir_all(&dir.path().join("a/b")).unwrap();
        create_dir_all(&dir.path().join("a/b")).unwrap();
    }

    #[test]
    fn concurrent_writers_never_tear_or_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let contents: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 64 * 1024]).collect();
        std::thread::scope(|scope| {
            for content in &contents {
                let path = &path;
                scope.spawn(move || write_atomic(path, content).unwrap());
            }
        });
        assert!(contents.contains(&fs::read(&path).unwrap()));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary files left behind: {names:?}");
    }

    #[test]
    fn missing_directory_names_the_file() {
        let err = write_atomic(Path::new("/nonexistent/dir/out"), b"x").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dir/out"), "{err}");
    }
}
