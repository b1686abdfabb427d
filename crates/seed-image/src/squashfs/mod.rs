//! The closure held by a nix-seed squashfs, read without mounting.
//!
//! The layout `mkSeed` writes (`mksquashfs … -keep-as-directory -all-root
//! -no-hardlinks`): every store path at the image's root, plus a `.seed/`
//! directory that is not part of the closure but is checked against it:
//! `.seed/registration` (the Nix database records `nix-store --load-db`
//! registers) must describe exactly the store paths the image holds, and
//! `.seed/env` must link into them. No other entry may start with a dot, as
//! Nix never names a store path so.
//!
//! The tree is resolved the way the kernel resolves it ([`tree`]), and each
//! store path is streamed through one [`seed_nix::nar::Encoder`] in that
//! order (names ascending: NAR order), so memory holds the inode tables and
//! one file buffer, never a file's contents.

mod tree;

use std::{
    collections::{BTreeMap, HashSet},
    fs::File,
    io::{BufReader, Read},
    path::Path,
};

use backhand::{FilesystemReader, Squashfs};
use seed_nix::{
    default_threads, map_in_parallel,
    nar::{EncodeError, Encoder, Node},
    parse_registrations, HashedPath, NarHash, StorePath, STORE_DIR,
};
use sha2::{Digest, Sha256};

use self::tree::{Entry, EntryKind, TreeError};
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
    let (filesystem, entries) = parse(image, what)?;
    let declared = entries
        .iter()
        .map(|entry| entry.kind.declared_size())
        .fold(0u64, u64::saturating_add);
    // File sizes are the image's claim: a few KB of sparse blocks can declare
    // petabytes of zeros, which would take the hashing forever.
    if declared > max_content {
        return Err(ContentError::Limit {
            what: what.to_owned(),
            limit: format!(
                "its files declare {declared} bytes, more than the {max_content} a seed may hold"
            ),
        });
    }
    let (seed_metadata, store_paths): (Vec<_>, Vec<_>) = top_level_groups(&entries)
        .into_iter()
        .partition(|group| group[0].name.starts_with(b"."));
    // Store paths are hashed in parallel, one per thread at a time: the
    // reader decompresses for one while another thread hashes.
    let hashed = map_in_parallel(&store_paths, default_threads(), |group| {
        hash_store_path(&filesystem, group, what)
    })?;
    let metadata = SeedMetadata::read(&filesystem, &seed_metadata, what)?;
    metadata.check(&hashed, what)?;
    ImageClosure::new(hashed, 0)
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
/// The most bytes all entries' full paths may total: the squashfs reader
/// keeps each node's full path, and nesting makes the total grow with the
/// square of the depth.
const MAX_PATH_BYTES: u64 = 256 << 20;
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
) -> Result<(FilesystemReader<'static>, Vec<Entry>), ContentError> {
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
        .spawn(move || read_tables(image))
        .map_err(|e| ContentError::io("a thread to read the image's tables", e))?
        .join()
        .map_err(|_| squashfs_error("its tables made the squashfs reader panic".to_owned()))?
        .map_err(|error| match error.path {
            Some(path) => ContentError::entry(what, path, error.reason),
            None => squashfs_error(error.reason),
        })
}

/// The image's tables, its tree resolved as the kernel resolves it, and a
/// reader for its files.
fn read_tables(
    image: impl backhand::BufReadSeek + 'static,
) -> Result<(FilesystemReader<'static>, Vec<Entry>), TreeError> {
    let backhand = |e: backhand::BackhandError| TreeError {
        path: None,
        reason: e.to_string(),
    };
    let mut squashfs = Squashfs::from_reader_with_offset(image, 0).map_err(backhand)?;
    let entries = tree::entries(&mut squashfs, MAX_PATH_BYTES)?;
    // The reader caches fragment blocks by their start alone: two fragments
    // at one start would read as whichever was decompressed first.
    let mut starts = HashSet::new();
    if let Some(fragment) = squashfs
        .fragments
        .iter()
        .flatten()
        .find(|fragment| !starts.insert(fragment.start))
    {
        return Err(TreeError {
            path: None,
            reason: format!(
                "two entries of its fragment table start at byte {}",
                fragment.start
            ),
        });
    }
    let mut filesystem = squashfs.into_filesystem_reader().map_err(backhand)?;
    // Files are read through the inodes resolved above, not this tree.
    filesystem.root.nodes = Vec::new();
    Ok((filesystem, entries))
}

/// Splits the entries (depth-first, names ascending) into one slice per
/// entry of the root directory.
fn top_level_groups(entries: &[Entry]) -> Vec<&[Entry]> {
    let mut groups = Vec::new();
    let mut start = 0;
    for i in 1..=entries.len() {
        if i == entries.len() || entries[i].depth == 1 {
            groups.push(&entries[start..i]);
            start = i;
        }
    }
    groups.retain(|group| !group.is_empty());
    groups
}

/// The NAR hash and size of the store path `group` holds (its top entry and
/// everything below it).
fn hash_store_path(
    filesystem: &FilesystemReader<'_>,
    group: &[Entry],
    what: &str,
) -> Result<HashedPath, ContentError> {
    let top = String::from_utf8_lossy(&group[0].name).into_owned();
    let store_path =
        StorePath::from_base_name(&top).map_err(|source| ContentError::NotAStorePath {
            what: what.to_owned(),
            name: top.clone(),
            source,
        })?;
    let mut encoder = Encoder::new(Sha256::new()).map_err(|e| ContentError::io(what, e))?;
    // The names from the store path down to the current entry.
    let mut names: Vec<Vec<u8>> = Vec::new();
    for entry in group {
        names.truncate(entry.depth - 1);
        names.push(entry.name.clone());
        let path = || format!("/{}", String::from_utf8_lossy(&names.join(&b'/')));
        let node = nar_node(filesystem, entry, what, &path())?;
        encoder
            .add(&names[1..], node)
            .map_err(|error| encode_error(what, &path(), error))?;
    }
    let (hasher, nar_size) = encoder
        .finish()
        .map_err(|error| encode_error(what, &store_path.to_string(), error))?;
    Ok(HashedPath {
        store_path,
        nar_hash: NarHash::from_bytes(hasher.finalize().into()),
        nar_size,
    })
}

/// What `entry` contributes to its store path's NAR.
fn nar_node<'f>(
    filesystem: &'f FilesystemReader<'_>,
    entry: &'f Entry,
    what: &str,
    path: &str,
) -> Result<Node<Box<dyn Read + 'f>>, ContentError> {
    if entry.permissions & 0o7000 != 0 && !matches!(entry.kind, EntryKind::Symlink(_)) {
        return Err(ContentError::entry(
            what,
            path,
            format!(
                "has mode {:o}: set-user-id, set-group-id and sticky bits are not part of a \
                 store path, yet a mount without nosuid honours them",
                entry.permissions
            ),
        ));
    }
    Ok(match &entry.kind {
        EntryKind::Directory => Node::Directory,
        EntryKind::Symlink(target) => Node::Symlink {
            target: target.clone(),
        },
        EntryKind::File(file) => {
            let contents =
                filesystem
                    .file(file)
                    .reader_checked()
                    .map_err(|e| ContentError::Squashfs {
                        what: what.to_owned(),
                        reason: format!("file '{path}': {e}"),
                    })?;
            Node::Regular {
                executable: entry.permissions & 0o100 != 0,
                size: entry.kind.declared_size(),
                contents: Box::new(contents),
            }
        }
        EntryKind::Special(kind) => {
            return Err(ContentError::entry(
                what,
                path,
                format!(
                    "is a {kind}; a store path holds only regular files, symlinks and directories"
                ),
            ))
        }
    })
}

/// The most bytes `.seed/registration` may have: a few hundred per store
/// path, for far more paths than a seed holds.
const MAX_REGISTRATION: u64 = 64 << 20;

/// What `.seed/` holds, the one dot-entry a seed may have.
#[derive(Default)]
struct SeedMetadata {
    registration: Option<Vec<u8>>,
    env: Option<Vec<u8>>,
}

impl SeedMetadata {
    /// Reads the dot-entries, refusing any but `.seed/`, `.seed/registration`
    /// (a file) and `.seed/env` (a symlink).
    fn read(
        filesystem: &FilesystemReader<'_>,
        groups: &[&[Entry]],
        what: &str,
    ) -> Result<Self, ContentError> {
        let mut metadata = Self::default();
        for group in groups {
            let Some((top, below)) = group.split_first() else {
                continue;
            };
            let top_name = format!("/{}", String::from_utf8_lossy(&top.name));
            if top.name != b".seed" || !matches!(top.kind, EntryKind::Directory) {
                return Err(ContentError::entry(
                    what,
                    top_name,
                    "is not a store path (Nix never names one with a leading dot) and not the \
                     seed's .seed/ directory; nothing else may sit beside the store paths",
                ));
            }
            for entry in below {
                let path = format!("/.seed/{}", String::from_utf8_lossy(&entry.name));
                match (entry.depth, entry.name.as_slice(), &entry.kind) {
                    (2, b"registration", EntryKind::File(file)) => {
                        if file.file_len() as u64 > MAX_REGISTRATION {
                            return Err(ContentError::Limit {
                                what: what.to_owned(),
                                limit: format!("{path} is larger than {MAX_REGISTRATION} bytes"),
                            });
                        }
                        let mut bytes = Vec::new();
                        filesystem
                            .file(file)
                            .reader_checked()
                            .and_then(|mut reader| Ok(reader.read_to_end(&mut bytes)?))
                            .map_err(|e| ContentError::Squashfs {
                                what: what.to_owned(),
                                reason: format!("file '{path}': {e}"),
                            })?;
                        metadata.registration = Some(bytes);
                    }
                    (2, b"env", EntryKind::Symlink(target)) => metadata.env = Some(target.clone()),
                    _ => {
                        return Err(ContentError::entry(
                            what,
                            path,
                            "is not part of a seed's .seed/ directory, which holds only the \
                             file 'registration' and the symlink 'env'",
                        ))
                    }
                }
            }
        }
        Ok(metadata)
    }

    /// Checks the metadata against the store paths the image holds: a
    /// consumer registers `.seed/registration` with `nix-store --load-db`
    /// and runs what `.seed/env` links to, so neither may say anything the
    /// quorum did not agree on.
    fn check(&self, hashed: &[HashedPath], what: &str) -> Result<(), ContentError> {
        let held: BTreeMap<&StorePath, &HashedPath> =
            hashed.iter().map(|path| (&path.store_path, path)).collect();
        if let Some(bytes) = &self.registration {
            let entry = "/.seed/registration";
            let refuse = |problem: String| ContentError::entry(what, entry, problem);
            let records = parse_registrations(bytes).map_err(|e| refuse(e.to_string()))?;
            let mut registered = HashSet::new();
            for record in &records {
                let Some(path) = held.get(&record.path) else {
                    return Err(refuse(format!(
                        "registers {}, which the image does not hold",
                        record.path
                    )));
                };
                if (record.nar_hash, record.nar_size) != (path.nar_hash, path.nar_size) {
                    return Err(refuse(format!(
                        "registers {} with NAR hash {} and size {}, but the image holds it \
                         with NAR hash {} and size {}",
                        record.path, record.nar_hash, record.nar_size, path.nar_hash, path.nar_size
                    )));
                }
                if let Some(missing) = record.references.iter().find(|r| !held.contains_key(r)) {
                    return Err(refuse(format!(
                        "says {} references {missing}, which the image does not hold",
                        record.path
                    )));
                }
                if !registered.insert(&record.path) {
                    return Err(refuse(format!("registers {} twice", record.path)));
                }
            }
            if let Some(unregistered) = held.keys().find(|path| !registered.contains(*path)) {
                return Err(refuse(format!(
                    "does not register {unregistered}, which the image holds"
                )));
            }
        }
        if let Some(target) = &self.env {
            let target_text = String::from_utf8_lossy(target).into_owned();
            let into_closure = target_text
                .strip_prefix(STORE_DIR)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(|rest| rest.split('/').next())
                .and_then(|base| StorePath::from_base_name(base).ok())
                .is_some_and(|path| held.contains_key(&path));
            if !into_closure {
                return Err(ContentError::entry(
                    what,
                    "/.seed/env",
                    format!(
                        "links to '{target_text}', which is not in a store path the image holds"
                    ),
                ));
            }
        }
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
