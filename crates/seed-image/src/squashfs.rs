//! The closure held by a nix-seed squashfs, read without mounting.
//!
//! The layout `mkSeed` writes (`mksquashfs … -keep-as-directory -all-root
//! -no-hardlinks`): every store path at the image's root, plus a `.seed/`
//! directory (the Nix database dump and an env link) that is not part of the
//! closure and is skipped with every other dot-entry, as Nix never names a
//! store path with a leading dot.
//!
//! The reader walks the image's nodes in archive order (the squashfs reader
//! sorts them component-wise, which is NAR order) and streams each store path
//! through one [`seed_nix::nar::Encoder`], so memory holds the inode tree and
//! one file buffer, never a file's contents.

use std::{
    fs::File,
    io::{BufReader, Read},
    os::unix::ffi::OsStrExt,
    path::{Component, Path},
};

use backhand::{FilesystemReader, InnerNode, Node as SquashfsNode, SquashfsFileReader};
use seed_nix::{
    default_threads, map_in_parallel,
    nar::{EncodeError, Encoder, Node},
    HashedPath, NarHash, StorePath,
};
use sha2::{Digest, Sha256};

use crate::{ContentError, ImageClosure};

/// The closure manifest of the squashfs seed in `file`.
///
/// `what` names the image in errors (a path, or `layer sha256:… of image …`).
pub fn closure_of_file(file: &Path, what: &str) -> Result<ImageClosure, ContentError> {
    let opened = File::open(file).map_err(|e| ContentError::io(what, e))?;
    closure_of_reader(BufReader::new(opened), what)
}

/// The closure manifest of a squashfs seed read from `image`.
pub fn closure_of_reader(
    image: impl backhand::BufReadSeek + 'static,
    what: &str,
) -> Result<ImageClosure, ContentError> {
    closure_with_limit(image, what, MAX_CONTENT)
}

/// [`closure_of_reader`] with another bound on the bytes the image's files
/// may declare (tests use a small one).
pub fn closure_with_limit(
    image: impl backhand::BufReadSeek + 'static,
    what: &str,
    max_content: u64,
) -> Result<ImageClosure, ContentError> {
    let squashfs_error = |reason: String| ContentError::Squashfs {
        what: what.to_owned(),
        reason,
    };
    let mut image = image;
    let mut magic = [0u8; 4];
    let read_magic = image.read_exact(&mut magic).and_then(|()| image.rewind());
    if read_magic.is_err() || &magic != b"hsqs" {
        return Err(squashfs_error(
            "it does not start with the squashfs magic 'hsqs' (a little-endian squashfs v4 image); \
             is it the seed's store.squashfs?"
                .to_owned(),
        ));
    }
    let filesystem = parse(image, what)?;
    let groups = top_level_groups(&filesystem.root.nodes, what, max_content)?;
    // Store paths are hashed in parallel, one per thread at a time: the
    // reader decompresses for one while another thread hashes.
    let hashed = map_in_parallel(&groups, default_threads(), |group| {
        let mut walk = Walk {
            filesystem: &filesystem,
            what,
            current: None,
            hashed: Vec::new(),
        };
        group
            .iter()
            .try_for_each(|node| walk.node(node))
            .and_then(|()| walk.finish_current())
            .map(|()| walk.hashed)
    })?;
    ImageClosure::new(hashed.into_iter().flatten().collect(), 0)
}

/// Stack per inode for the thread that parses an image's tables: the
/// squashfs reader walks directories recursively, using up to about 1 KiB of
/// stack per level (measured on a 2,030-level image), and an image may nest
/// as deep as it has inodes. The stack is reserved, not committed: a walk
/// uses only what it touches.
const STACK_PER_INODE: usize = 1536;
/// The smallest stack of that thread.
const MIN_PARSE_STACK: usize = 8 << 20;
/// The most file bytes an image may hold (as for a tar layer, [`Limits`]).
///
/// [`Limits`]: crate::layers::Limits
const MAX_CONTENT: u64 = 256 << 30;
/// The most inodes an image may declare (a bound on its depth, and so on the
/// stack reserved for it: 6 GiB at most).
const MAX_INODES: u32 = 1 << 22;

/// Parses the image's tables on a thread of its own whose stack fits the
/// deepest walk the image's inode count allows, so that a deeply nested image
/// is read (or refused) rather than overflowing the stack of whatever thread
/// called (an async runtime's blocking pool has 2 MiB) and aborting.
fn parse(
    mut image: impl backhand::BufReadSeek + 'static,
    what: &str,
) -> Result<FilesystemReader<'static>, ContentError> {
    let squashfs_error = |reason: String| ContentError::Squashfs {
        what: what.to_owned(),
        reason,
    };
    // The superblock's inode count (offset 4): a bound on the depth.
    let mut header = [0u8; 8];
    image
        .read_exact(&mut header)
        .and_then(|()| image.rewind())
        .map_err(|e| squashfs_error(e.to_string()))?;
    let inodes = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    // The extended-attribute table (superblock offset 56): store paths have
    // no attributes, and one such as security.capability grants privileges
    // the manifest would not show. This reader does not read them, so an
    // image that has any is refused.
    let mut xattr_table = [0u8; 8];
    image
        .seek(std::io::SeekFrom::Start(56))
        .and_then(|_| image.read_exact(&mut xattr_table))
        .and_then(|()| image.rewind())
        .map_err(|e| squashfs_error(e.to_string()))?;
    if u64::from_le_bytes(xattr_table) != u64::MAX {
        return Err(squashfs_error(
            "it has an extended-attribute table; store paths have no extended attributes \
             (pack with mksquashfs -no-xattrs)"
                .to_owned(),
        ));
    }
    if inodes > MAX_INODES {
        return Err(ContentError::Limit {
            what: what.to_owned(),
            limit: format!(
                "it declares {inodes} inodes, more than the {MAX_INODES} a seed may have"
            ),
        });
    }
    std::thread::Builder::new()
        .name("squashfs-tables".to_owned())
        .stack_size(MIN_PARSE_STACK + inodes as usize * STACK_PER_INODE)
        .spawn(move || FilesystemReader::from_reader(image).map_err(|e| e.to_string()))
        .map_err(|e| ContentError::io("a thread to read the image's tables", e))?
        .join()
        .map_err(|_| squashfs_error("its tables made the squashfs reader panic".to_owned()))?
        .map_err(squashfs_error)
}

/// The top-level entry a node belongs to (`/a` and `/a/b` give `a`).
fn top_level(node: &SquashfsNode<SquashfsFileReader>) -> Option<Component<'_>> {
    node.fullpath.components().nth(1)
}

/// Splits the image's nodes (sorted: archive order) into one slice per
/// top-level entry, after checking the root, that no path repeats and that
/// the files declare at most `max_content` bytes.
fn top_level_groups<'n>(
    nodes: &'n [SquashfsNode<SquashfsFileReader>],
    what: &str,
    max_content: u64,
) -> Result<Vec<&'n [SquashfsNode<SquashfsFileReader>]>, ContentError> {
    let Some((root, rest)) = nodes.split_first() else {
        return Err(ContentError::entry(
            what,
            "/",
            "is missing: the image has no root",
        ));
    };
    if root.fullpath != Path::new("/") || !matches!(root.inner, InnerNode::Dir(_)) {
        return Err(ContentError::entry(
            what,
            root.fullpath.to_string_lossy(),
            "is the image root but not a directory",
        ));
    }
    // File sizes are the image's claim: a few KB of sparse blocks can declare
    // petabytes of zeros, which would take the hashing forever.
    let declared: u64 = rest
        .iter()
        .filter_map(|node| match &node.inner {
            InnerNode::File(file) => Some(file.file_len() as u64),
            _ => None,
        })
        .fold(0u64, u64::saturating_add);
    if declared > max_content {
        return Err(ContentError::Limit {
            what: what.to_owned(),
            limit: format!(
                "its files declare {declared} bytes, more than the {max_content} a seed may hold"
            ),
        });
    }
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 0..rest.len() {
        // Two nodes at one path would be two different trees for two readers.
        if i > 0 && rest[i].fullpath == rest[i - 1].fullpath {
            return Err(ContentError::entry(
                what,
                rest[i].fullpath.to_string_lossy(),
                "appears twice in its directory",
            ));
        }
        if i > 0 && top_level(&rest[i]) != top_level(&rest[i - 1]) {
            groups.push(&rest[start..i]);
            start = i;
        }
    }
    if start < rest.len() {
        groups.push(&rest[start..]);
    }
    Ok(groups)
}

/// One store path being hashed.
struct Current {
    store_path: StorePath,
    encoder: Encoder<Sha256>,
}

struct Walk<'a, 'b> {
    filesystem: &'a FilesystemReader<'b>,
    what: &'a str,
    /// The store path whose nodes are being read; `None` between store paths
    /// and inside skipped dot-entries.
    current: Option<Current>,
    hashed: Vec<HashedPath>,
}

impl Walk<'_, '_> {
    fn node(&mut self, node: &SquashfsNode<SquashfsFileReader>) -> Result<(), ContentError> {
        let entry = || node.fullpath.to_string_lossy().into_owned();
        let mut names: Vec<Vec<u8>> = Vec::new();
        for component in node.fullpath.components() {
            match component {
                Component::RootDir => {}
                Component::Normal(name) => names.push(name.as_bytes().to_vec()),
                _ => {
                    return Err(ContentError::entry(
                        self.what,
                        entry(),
                        "has a path component that escapes its directory",
                    ))
                }
            }
        }
        let Some((top, below)) = names.split_first() else {
            return Err(ContentError::entry(
                self.what,
                entry(),
                "is a second root of the image",
            ));
        };
        if below.is_empty() {
            // A new top-level entry: the previous store path is complete.
            self.finish_current()?;
            if top.starts_with(b".") {
                return Ok(());
            }
            let name = String::from_utf8_lossy(top).into_owned();
            let store_path =
                StorePath::from_base_name(&name).map_err(|source| ContentError::NotAStorePath {
                    what: self.what.to_owned(),
                    name,
                    source,
                })?;
            let encoder =
                Encoder::new(Sha256::new()).map_err(|e| ContentError::io(self.what, e))?;
            self.current = Some(Current {
                store_path,
                encoder,
            });
        }
        let Some(current) = self.current.as_mut() else {
            // Inside a skipped dot-directory such as .seed/.
            return Ok(());
        };
        let nar_node = match &node.inner {
            InnerNode::Dir(_) => Node::Directory,
            InnerNode::Symlink(link) => Node::Symlink {
                target: link.link.as_os_str().as_bytes().to_vec(),
            },
            _ if node.header.permissions & 0o7000 != 0 => {
                return Err(ContentError::entry(
                    self.what,
                    entry(),
                    format!(
                        "has mode {:o}: set-user-id, set-group-id and sticky bits are not part \
                         of a store path, yet a mount without nosuid honours them",
                        node.header.permissions
                    ),
                ))
            }
            InnerNode::File(file) => {
                let reader = self.filesystem.file(file);
                let contents = reader
                    .reader_checked()
                    .map_err(|e| ContentError::Squashfs {
                        what: self.what.to_owned(),
                        reason: format!("file '{}': {e}", entry()),
                    })?;
                Node::Regular {
                    executable: node.header.permissions & 0o100 != 0,
                    size: file.file_len() as u64,
                    contents: Box::new(contents) as Box<dyn Read>,
                }
            }
            special => {
                return Err(ContentError::entry(
                    self.what,
                    entry(),
                    format!(
                        "is a {}; a store path holds only regular files, symlinks and directories",
                        special_kind(special)
                    ),
                ))
            }
        };
        current
            .encoder
            .add(below, nar_node)
            .map_err(|error| encode_error(self.what, &entry(), error))
    }

    fn finish_current(&mut self) -> Result<(), ContentError> {
        let Some(Current {
            store_path,
            encoder,
        }) = self.current.take()
        else {
            return Ok(());
        };
        let (hasher, nar_size) = encoder
            .finish()
            .map_err(|error| encode_error(self.what, &store_path.to_string(), error))?;
        let nar_hash = NarHash::from_bytes(hasher.finalize().into());
        self.hashed.push(HashedPath {
            store_path,
            nar_hash,
            nar_size,
        });
        Ok(())
    }
}

/// Puts an encoder error in the image's terms.
pub(crate) fn encode_error(what: &str, entry: &str, error: EncodeError) -> ContentError {
    match error {
        EncodeError::Read(source) => ContentError::Squashfs {
            what: what.to_owned(),
            reason: format!("file '{entry}' cannot be read: {source}"),
        },
        EncodeError::Write(source) => ContentError::io(what, source),
        other => ContentError::entry(what, entry, other.to_string()),
    }
}

fn special_kind(node: &InnerNode<SquashfsFileReader>) -> &'static str {
    match node {
        InnerNode::CharacterDevice(_) => "character device",
        InnerNode::BlockDevice(_) => "block device",
        InnerNode::NamedPipe => "FIFO",
        InnerNode::Socket => "socket",
        _ => "special file",
    }
}
