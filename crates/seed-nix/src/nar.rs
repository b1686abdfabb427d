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
    os::unix::{
        ffi::{OsStrExt, OsStringExt},
        fs::PermissionsExt,
    },
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
    let mut encoder = Encoder::new(out).map_err(|e| write_error(path, e))?;
    let mut components = Vec::new();
    dump_node(path, path, &mut components, &mut encoder)?;
    let (_, size) = encoder.finish().map_err(|error| match error {
        EncodeError::Write(source) => write_error(path, source),
        other => write_error(path, io::Error::other(other)),
    })?;
    Ok(size)
}

/// The NAR hash of `path` and the NAR's size: what `nix path-info` reports as
/// `narHash` and `narSize`. Streams; memory use does not grow with file sizes.
pub fn hash_path(path: &Path) -> Result<(NarHash, u64), NarError> {
    let mut hasher = Sha256::new();
    let size = dump(path, &mut hasher)?;
    Ok((NarHash::from_bytes(hasher.finalize().into()), size))
}

/// Archives the file system node at `path` (at `components` below `root`)
/// and, for a directory, everything under it in archive order.
fn dump_node<W: Write>(
    root: &Path,
    path: &Path,
    components: &mut Vec<Vec<u8>>,
    encoder: &mut Encoder<W>,
) -> Result<(), NarError> {
    let io_error = |source| NarError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs::symlink_metadata(path).map_err(io_error)?;
    let kind = meta.file_type();
    let node = if kind.is_file() {
        let file = File::open(path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        Node::Regular {
            executable: meta.permissions().mode() & 0o100 != 0,
            size,
            contents: Box::new(file) as Box<dyn Read>,
        }
    } else if kind.is_symlink() {
        let target = fs::read_link(path).map_err(io_error)?;
        Node::Symlink {
            target: target.into_os_string().into_vec(),
        }
    } else if kind.is_dir() {
        Node::Directory
    } else {
        return Err(NarError::Unsupported {
            path: path.to_owned(),
            kind: special_kind(&kind),
        });
    };
    encoder.add(components, node).map_err(|error| match error {
        EncodeError::Write(source) => write_error(root, source),
        EncodeError::Read(source) => io_error(source),
        EncodeError::SizeMismatch { expected, read } => NarError::Changed {
            path: path.to_owned(),
            expected,
            read,
        },
        // A directory listing is sorted below and names come from the
        // file system, so the order and name rules hold by construction;
        // report a violation as the bug it would be rather than panic.
        other => io_error(io::Error::other(other)),
    })?;
    if kind.is_dir() {
        for name in sorted_entries(path).map_err(io_error)? {
            components.push(name.as_bytes().to_vec());
            dump_node(root, &path.join(&name), components, encoder)?;
            components.pop();
        }
    }
    Ok(())
}

/// The names in directory `dir`, sorted by their bytes: archive order.
pub fn sorted_entries(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<Vec<_>, _>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

fn write_error(root: &Path, source: io::Error) -> NarError {
    NarError::Write {
        path: root.to_owned(),
        source,
    }
}

/// One node of an archive, as handed to [`Encoder::add`].
pub enum Node<R> {
    /// A directory; its entries follow as separate nodes.
    Directory,
    /// A symbolic link and its target, byte for byte.
    Symlink {
        /// The link's target.
        target: Vec<u8>,
    },
    /// A regular file.
    Regular {
        /// Whether the owner's execute bit is set.
        executable: bool,
        /// Its length; exactly this many bytes must come from `contents`.
        size: u64,
        /// Its bytes.
        contents: R,
    },
}

/// Why [`Encoder::add`] or [`Encoder::finish`] refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Writing the archive (or feeding the hash) failed.
    #[error("cannot write the archive: {0}")]
    Write(#[source] io::Error),
    /// Reading a file's contents failed.
    #[error("cannot read the file's contents: {0}")]
    Read(#[source] io::Error),
    /// A file's contents were shorter or longer than announced.
    #[error("the file announced {expected} bytes but {read} could be read")]
    SizeMismatch {
        /// The announced size.
        expected: u64,
        /// How many bytes there were (reading stops one past `expected`).
        read: u64,
    },
    /// A name NAR cannot hold: empty, `.`, `..`, or containing `/` or NUL.
    #[error("'{name}' is not a valid entry name (empty, '.', '..', or containing '/' or NUL)")]
    InvalidName {
        /// The name, lossily decoded.
        name: String,
    },
    /// Nodes did not arrive in archive order, or their parent is not a directory.
    #[error("{0}")]
    Order(String),
}

/// Writes a NAR from nodes given in archive order: the root first, then a
/// pre-order walk in which each directory's entries come sorted by the bytes
/// of their names, each entry after its parent directory.
///
/// Every producer of archives (a file system, a squashfs image, tar layers)
/// goes through this one encoder, so the format rules live in one place and a
/// producer that hands nodes out of order gets an error, never a different
/// hash.
pub struct Encoder<W> {
    out: Counting<W>,
    /// The directories currently open, outermost (the root) first, each with
    /// its name (empty for the root) and the last entry name written in it.
    open: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Whether the root node has been written.
    started: bool,
    buffer: Vec<u8>,
}

impl<W: Write> Encoder<W> {
    /// Starts an archive on `out`.
    pub fn new(out: W) -> io::Result<Self> {
        let mut encoder = Self {
            out: Counting {
                inner: out,
                count: 0,
            },
            open: Vec::new(),
            started: false,
            buffer: Vec::new(),
        };
        encoder.string(b"nix-archive-1")?;
        Ok(encoder)
    }

    /// Adds the node at `path` (names below the root; empty for the root).
    pub fn add<R: Read>(&mut self, path: &[Vec<u8>], node: Node<R>) -> Result<(), EncodeError> {
        let Some((name, parent)) = path.split_last() else {
            if self.started {
                return Err(EncodeError::Order(
                    "the archive's root was given twice".to_owned(),
                ));
            }
            self.started = true;
            return self.node(node);
        };
        if !self.started {
            return Err(EncodeError::Order(format!(
                "'{}' came before the archive's root",
                lossy(path)
            )));
        }
        validate_name(name)?;
        // Close the directories that are not ancestors of this entry: in
        // archive order nothing more can be added to them.
        while self.open.len() > parent.len() + 1 {
            self.close_directory().map_err(EncodeError::Write)?;
        }
        let ancestors_open = self.open.len() == parent.len() + 1
            && self.open[1..]
                .iter()
                .zip(parent)
                .all(|((open, _), wanted)| open == wanted);
        if !ancestors_open {
            return Err(EncodeError::Order(format!(
                "'{}' is not inside a directory that is open in archive order: its parent is \
                 missing, is not a directory, or came earlier and was already closed",
                lossy(path)
            )));
        }
        let Some((_, last)) = self.open.last_mut() else {
            return Err(EncodeError::Order(format!(
                "'{}' is below the archive's root, which is not a directory",
                lossy(path)
            )));
        };
        if last.as_deref().is_some_and(|last| last >= name.as_slice()) {
            return Err(EncodeError::Order(format!(
                "'{}' is out of order or repeated: entries of a directory must come sorted \
                 bytewise, each once",
                lossy(path)
            )));
        }
        *last = Some(name.clone());
        let is_directory = matches!(node, Node::Directory);
        self.strings(&[b"entry", b"(", b"name", name, b"node"])
            .map_err(EncodeError::Write)?;
        self.node(node)?;
        if is_directory {
            self.open
                .last_mut()
                .map(|(dir, _)| dir.clone_from(name))
                .ok_or_else(|| EncodeError::Order("no open directory".to_owned()))?;
        } else {
            self.string(b")").map_err(EncodeError::Write)?;
        }
        Ok(())
    }

    /// Closes what is open and returns the writer and the archive's length in bytes.
    pub fn finish(mut self) -> Result<(W, u64), EncodeError> {
        if !self.started {
            return Err(EncodeError::Order("the archive has no root".to_owned()));
        }
        while !self.open.is_empty() {
            self.close_directory().map_err(EncodeError::Write)?;
        }
        self.out.flush().map_err(EncodeError::Write)?;
        Ok((self.out.inner, self.out.count))
    }

    /// Writes a node; a directory stays open for its entries.
    fn node<R: Read>(&mut self, node: Node<R>) -> Result<(), EncodeError> {
        let write = EncodeError::Write;
        self.strings(&[b"(", b"type"]).map_err(write)?;
        match node {
            Node::Directory => {
                self.string(b"directory").map_err(write)?;
                // The name is filled in by `add` for entries; the root's is empty.
                self.open.push((Vec::new(), None));
                // Not closed here: entries follow.
                return Ok(());
            }
            Node::Symlink { target } => {
                self.strings(&[b"symlink", b"target", &target])
                    .map_err(write)?;
            }
            Node::Regular {
                executable,
                size,
                contents,
            } => {
                self.string(b"regular").map_err(write)?;
                if executable {
                    self.strings(&[b"executable", b""]).map_err(write)?;
                }
                self.string(b"contents").map_err(write)?;
                self.contents(size, contents)?;
            }
        }
        self.string(b")").map_err(write)
    }

    fn close_directory(&mut self) -> io::Result<()> {
        self.open.pop();
        self.string(b")")?;
        if !self.open.is_empty() {
            // The `entry` that held the directory.
            self.string(b")")?;
        }
        Ok(())
    }

    /// Writes a file's length, its bytes and padding, streaming, and checks
    /// that exactly `size` bytes were there.
    fn contents(&mut self, size: u64, mut contents: impl Read) -> Result<(), EncodeError> {
        self.out
            .write_all(&size.to_le_bytes())
            .map_err(EncodeError::Write)?;
        if self.buffer.is_empty() {
            self.buffer = vec![0u8; READ_BUFFER];
        }
        let mut read = 0u64;
        loop {
            let n = match contents.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(EncodeError::Read(e)),
            };
            read += n as u64;
            if read > size {
                break;
            }
            self.out
                .write_all(&self.buffer[..n])
                .map_err(EncodeError::Write)?;
        }
        if read != size {
            return Err(EncodeError::SizeMismatch {
                expected: size,
                read,
            });
        }
        self.padding(size).map_err(EncodeError::Write)
    }

    fn padding(&mut self, len: u64) -> io::Result<()> {
        let pad = (8 - (len % 8) as usize) % 8;
        self.out.write_all(&[0u8; 8][..pad])
    }

    fn string(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(&(bytes.len() as u64).to_le_bytes())?;
        self.out.write_all(bytes)?;
        self.padding(bytes.len() as u64)
    }

    fn strings(&mut self, tokens: &[&[u8]]) -> io::Result<()> {
        tokens.iter().try_for_each(|token| self.string(token))
    }
}

/// A NAR entry name: what Nix's own parser accepts.
fn validate_name(name: &[u8]) -> Result<(), EncodeError> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(EncodeError::InvalidName {
            name: String::from_utf8_lossy(name).into_owned(),
        });
    }
    Ok(())
}

fn lossy(path: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&path.join(&b'/')).into_owned()
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

    fn names(path: &str) -> Vec<Vec<u8>> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .map(|c| c.as_bytes().to_vec())
            .collect()
    }

    fn file(bytes: &'static [u8]) -> Node<&'static [u8]> {
        Node::Regular {
            executable: false,
            size: bytes.len() as u64,
            contents: bytes,
        }
    }

    /// The encoder and the file system dumper agree on a tree with nested
    /// directories, and the encoder refuses every order the format forbids.
    #[test]
    fn encoder_matches_the_dumper_and_enforces_archive_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("b/c")).unwrap();
        fs::write(root.join("a"), b"1").unwrap();
        fs::write(root.join("b/c/d"), b"22").unwrap();
        fs::write(root.join("b-x"), b"333").unwrap();
        let mut from_disk = Vec::new();
        dump(&root, &mut from_disk).unwrap();

        let mut encoded = Vec::new();
        let mut encoder = Encoder::new(&mut encoded).unwrap();
        encoder.add(&names(""), Node::<&[u8]>::Directory).unwrap();
        encoder.add(&names("a"), file(b"1")).unwrap();
        encoder.add(&names("b"), Node::<&[u8]>::Directory).unwrap();
        encoder
            .add(&names("b/c"), Node::<&[u8]>::Directory)
            .unwrap();
        encoder.add(&names("b/c/d"), file(b"22")).unwrap();
        encoder.add(&names("b-x"), file(b"333")).unwrap();
        let (_, size) = encoder.finish().unwrap();
        assert_eq!(encoded, from_disk);
        assert_eq!(size, encoded.len() as u64);

        let refused = |steps: &[(&str, bool)], wanted: &str| {
            let mut encoder = Encoder::new(io::sink()).unwrap();
            let mut last = Ok(());
            for (path, is_dir) in steps {
                let node = if *is_dir { Node::Directory } else { file(b"x") };
                last = encoder.add(&names(path), node);
                if last.is_err() {
                    break;
                }
            }
            let err = last.expect_err(wanted);
            assert!(err.to_string().contains(wanted), "{steps:?}: {err}");
        };
        // A sibling after a later one, a repeated entry, an entry after its
        // directory was closed, a child of a file, nothing before the root.
        refused(&[("", true), ("b", false), ("a", false)], "out of order");
        refused(&[("", true), ("a", false), ("a", false)], "repeated");
        refused(
            &[("", true), ("a", true), ("b", false), ("a/x", false)],
            "already closed",
        );
        refused(
            &[("", true), ("a", false), ("a/x", false)],
            "not a directory",
        );
        refused(&[("a", false)], "before the archive's root");
        refused(&[("", false), ("a", false)], "not a directory");
        refused(&[("", true), ("..", false)], "not a valid entry name");
        let mut encoder = Encoder::new(io::sink()).unwrap();
        encoder.add(&[], Node::<&[u8]>::Directory).unwrap();
        let err = encoder
            .add(
                &names("short"),
                Node::Regular {
                    executable: false,
                    size: 5,
                    contents: &b"abc"[..],
                },
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                EncodeError::SizeMismatch {
                    expected: 5,
                    read: 3
                }
            ),
            "{err}"
        );
        assert!(Encoder::new(io::sink()).unwrap().finish().is_err());
    }

    #[test]
    fn missing_path_names_the_path() {
        let err = hash_path(Path::new("/nonexistent/seed-nix")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/seed-nix"), "{err}");
    }
}
