//! NAR ("Nix ARchive") serialisation, byte-for-byte as `nix-store --dump`
//! writes it, and the NAR hash of a path computed by streaming it through
//! SHA-256.
//!
//! The format: every token is a string, written as its length (u64, little
//! endian), its bytes and zero padding to a multiple of 8. An archive is
//! `"nix-archive-1"` followed by one node:
//!
//! ```text
//! node      = "(" "type" ( regular | symlink | directory ) ")"
//! regular   = "regular" [ "executable" "" ] "contents" <file bytes>
//! symlink   = "symlink" "target" <target bytes>
//! directory = "directory" { "entry" "(" "name" <name> "node" node ")" }
//! ```
//!
//! Directory entries are sorted by the bytes of their names. Only the
//! owner's execute bit is kept; times, owners and other modes are not part
//! of the archive, which is what makes it reproducible.

use std::{
    fs::{self, File},
    io::{self, Read, Write},
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use crate::NarHash;

/// Size of the read buffer for file contents; large enough that the
/// per-syscall cost disappears next to hashing.
const READ_BUFFER: usize = 256 * 1024;

/// Why a path could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum NarError {
    /// A file system call failed.
    #[error("cannot archive '{path}'")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing the archive (or feeding the hash) failed.
    #[error("cannot write the NAR of '{path}'")]
    Write {
        /// The path being archived.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A socket, FIFO or device: NAR has no representation for it, and no
    /// valid store path contains one.
    #[error("cannot archive '{path}': it is a {kind}, and a NAR holds only regular files, symlinks and directories")]
    Unsupported {
        /// The offending path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A file's size changed between `stat` and reading it.
    #[error("'{path}' changed while it was being archived (expected {expected} bytes, read {read}); hash a tree that nothing is writing to")]
    Changed {
        /// The file.
        path: PathBuf,
        /// Its size when archiving started.
        expected: u64,
        /// How many bytes were there.
        read: u64,
    },
}

/// Writes the NAR serialisation of `path` to `out` and returns its length in bytes.
///
/// Symlinks are archived as links, never followed, including `path` itself.
pub fn dump(path: &Path, out: impl Write) -> Result<u64, NarError> {
    let mut dumper = Dumper {
        out: Counting {
            inner: out,
            count: 0,
        },
        buffer: vec![0u8; READ_BUFFER],
        root: path,
    };
    dumper.string(b"nix-archive-1")?;
    dumper.node(path)?;
    Ok(dumper.out.count)
}

/// The NAR hash of `path` and the NAR's size: what `nix path-info` reports as
/// `narHash` and `narSize`. Streams; memory use does not grow with file sizes.
pub fn hash_path(path: &Path) -> Result<(NarHash, u64), NarError> {
    let mut hasher = Sha256::new();
    let size = dump(path, &mut hasher)?;
    Ok((NarHash::from_bytes(hasher.finalize().into()), size))
}

/// Counts the bytes written through it, so callers learn the NAR size for free.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Dumper<'a, W> {
    out: Counting<W>,
    buffer: Vec<u8>,
    /// The path being archived, named in write errors.
    root: &'a Path,
}

impl<W: Write> Dumper<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), NarError> {
        self.out.write_all(bytes).map_err(|source| NarError::Write {
            path: self.root.to_owned(),
            source,
        })
    }

    fn padding(&mut self, len: u64) -> Result<(), NarError> {
        let pad = (8 - (len % 8) as usize) % 8;
        self.write(&[0u8; 8][..pad])
    }

    fn string(&mut self, bytes: &[u8]) -> Result<(), NarError> {
        self.write(&(bytes.len() as u64).to_le_bytes())?;
        self.write(bytes)?;
        self.padding(bytes.len() as u64)
    }

    fn node(&mut self, path: &Path) -> Result<(), NarError> {
        let io_error = |source| NarError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = fs::symlink_metadata(path).map_err(io_error)?;
        let kind = meta.file_type();
        self.string(b"(")?;
        self.string(b"type")?;
        if kind.is_file() {
            self.string(b"regular")?;
            if meta.permissions().mode() & 0o100 != 0 {
                self.string(b"executable")?;
                self.string(b"")?;
            }
            self.string(b"contents")?;
            self.contents(path)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(path).map_err(io_error)?;
            self.string(b"symlink")?;
            self.string(b"target")?;
            self.string(target.as_os_str().as_bytes())?;
        } else if kind.is_dir() {
            self.string(b"directory")?;
            let mut names = fs::read_dir(path)
                .map_err(io_error)?
                .map(|entry| entry.map(|entry| entry.file_name()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(io_error)?;
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            for name in names {
                self.string(b"entry")?;
                self.string(b"(")?;
                self.string(b"name")?;
                self.string(name.as_bytes())?;
                self.string(b"node")?;
                self.node(&path.join(&name))?;
                self.string(b")")?;
            }
        } else {
            return Err(NarError::Unsupported {
                path: path.to_owned(),
                kind: special_kind(&kind),
            });
        }
        self.string(b")")
    }

    /// Writes a file's length, its bytes and padding, streaming, and checks
    /// that the file still has the length announced in the archive.
    fn contents(&mut self, path: &Path) -> Result<(), NarError> {
        let io_error = |source| NarError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = File::open(path).map_err(io_error)?;
        let expected = file.metadata().map_err(io_error)?.len();
        self.write(&expected.to_le_bytes())?;
        let mut read = 0u64;
        loop {
            let n = match file.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            read += n as u64;
            if read > expected {
                break;
            }
            // Split borrow: the buffer is read while the writer is written.
            let chunk = &self.buffer[..n];
            self.out
                .write_all(chunk)
                .map_err(|source| NarError::Write {
                    path: self.root.to_owned(),
                    source,
                })?;
        }
        if read != expected {
            return Err(NarError::Changed {
                path: path.to_owned(),
                expected,
                read,
            });
        }
        self.padding(expected)
    }
}

fn special_kind(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_socket() {
        "socket"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NAR of a one-file path, spelled out token by token.
    #[test]
    fn regular_file_layout() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"hello").unwrap();
        let mut nar = Vec::new();
        let size = dump(&file, &mut nar).unwrap();
        let mut expected = Vec::new();
        for token in [
            &b"nix-archive-1"[..],
            b"(",
            b"type",
            b"regular",
            b"contents",
            b"hello",
            b")",
        ] {
            expected.extend_from_slice(&(token.len() as u64).to_le_bytes());
            expected.extend_from_slice(token);
            expected.resize(expected.len().div_ceil(8) * 8, 0);
        }
        assert_eq!(nar, expected);
        assert_eq!(size, nar.len() as u64);
    }

    #[test]
    fn fifo_is_rejected_with_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = hash_path(dir.path()).unwrap_err();
        assert!(
            matches!(err, NarError::Unsupported { kind: "FIFO", .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_path_names_the_path() {
        let err = hash_path(Path::new("/nonexistent/seed-nix")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/seed-nix"), "{err}");
    }
}
