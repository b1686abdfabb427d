//! The closure held by tar-layer images (dockerTools, nix2container), read
//! as a stream without unpacking.
//!
//! Each layer is decompressed and parsed once. Entries under `nix/store/`
//! (spelled with or without a leading `/` or `./`) are kept: their metadata in
//! memory, their file contents appended to an unnamed temporary file, because
//! a tar may list a directory's entries in any order and may refer to an
//! earlier file by hard link, while a NAR needs sorted entries and every
//! file's bytes. When the layer ends, each store path it holds is NAR-hashed
//! from that index in archive order.
//!
//! Refused, with the entry named: whiteouts (a layer must not delete store
//! content), devices, FIFOs and sockets, a store path in two layers or twice in
//! one, a hard link to anything but an earlier file of the same layer, paths
//! that leave the store (`..`), and headers that tar readers are known to read
//! differently (a PAX path or link that a GNU long name overrides, a PAX size
//! that disagrees with the header, repeated or malformed PAX records, PAX
//! sparse files). Owners, times and extended attributes are ignored, as NAR
//! ignores them. Entries outside the store are counted, not hashed: the
//! manifest does not cover them (docs/threat-model.md).

use std::{
    collections::{btree_map::Entry as MapEntry, BTreeMap, HashMap, HashSet},
    fs::File,
    io::{self, BufWriter, Read, Write},
    os::unix::fs::FileExt,
};

use seed_nix::{
    nar::{Encoder, Node},
    HashedPath, NarHash, StorePath,
};
use sha2::{Digest, Sha256};
use tar::EntryType;

use crate::{
    format::Compression, squashfs::encode_error, tar_framing::FramingGuard, ContentError,
    ImageClosure,
};

/// Bounds that keep a hostile layer (a tar bomb, millions of entries, absurd
/// paths) from exhausting memory, disk or time. The defaults fit seeds of
/// tens of gigabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most file bytes one layer may unpack to (spooled to a temporary file).
    pub max_layer_content: u64,
    /// Most entries one layer may hold.
    pub max_entries: usize,
    /// Longest entry path, in bytes.
    pub max_path_bytes: usize,
    /// Deepest entry path, in components.
    pub max_depth: usize,
    /// Most memory the sorted index of one layer's store entries may take
    /// (its keys are whole paths), implied parent directories included.
    pub max_index_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_layer_content: 256 << 30,
            max_entries: 4_000_000,
            max_path_bytes: 4096,
            max_depth: 512,
            max_index_bytes: 512 << 20,
        }
    }
}

/// Reads the layers of one image, in order, and gives the closure they hold.
#[derive(Debug, Default)]
pub struct Layers {
    limits: Limits,
    /// Which layer each store path was found in.
    seen: HashMap<StorePath, String>,
    hashed: Vec<HashedPath>,
    outside_store: u64,
    /// Every symlink seen so far, in any layer and anywhere in the image:
    /// nothing may be written below one.
    symlinks: HashSet<Vec<Vec<u8>>>,
}

impl Layers {
    /// A reader with the default [`Limits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A reader with other limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Reads one layer from `blob` (compressed as `compression`); `what`
    /// names the layer in errors. The caller checks the blob's digest, e.g.
    /// by reading through a [`crate::DigestReader`].
    pub fn add(
        &mut self,
        blob: impl Read,
        compression: Compression,
        what: &str,
    ) -> Result<(), ContentError> {
        let mut blob = std::io::BufReader::with_capacity(1 << 16, blob);
        check_compression(&mut blob, compression, what)?;
        let decompressed: Box<dyn Read> = match compression {
            Compression::None => Box::new(blob),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(blob)),
            Compression::Zstd => {
                Box::new(
                    zstd::stream::read::Decoder::new(blob).map_err(|e| ContentError::Tar {
                        what: what.to_owned(),
                        reason: format!("zstd: {e}"),
                    })?,
                )
            }
        };
        let guarded = FramingGuard::new(decompressed);
        let index = LayerIndex::read(guarded, what, &self.limits, &mut self.symlinks)?;
        self.outside_store += index.outside_store;
        for store_path in index.store_paths() {
            if let Some(first) = self.seen.get(&store_path) {
                return Err(ContentError::DuplicateStorePath {
                    path: store_path.to_string(),
                    first: first.clone(),
                    second: what.to_owned(),
                });
            }
            self.seen.insert(store_path, what.to_owned());
        }
        self.hashed.extend(index.hash(what)?);
        Ok(())
    }

    /// The closure of every layer read.
    pub fn finish(self) -> Result<ImageClosure, ContentError> {
        ImageClosure::new(self.hashed, self.outside_store)
    }
}

/// An entry of a store path, as the layer describes it.
#[derive(Debug, Clone)]
enum Stored {
    /// A directory; `explicit` is false for a parent the layer never listed.
    Directory {
        explicit: bool,
    },
    Symlink(Vec<u8>),
    /// A file whose bytes are at `offset` in the spool.
    Regular {
        executable: bool,
        offset: u64,
        size: u64,
    },
}

/// One layer's store entries, keyed by their path below `nix/store/` split
/// into components, so that the map's order is NAR order.
struct LayerIndex {
    entries: BTreeMap<Vec<Vec<u8>>, Stored>,
    spool: File,
    outside_store: u64,
}

impl LayerIndex {
    fn read(
        decompressed: impl Read,
        what: &str,
        limits: &Limits,
        symlinks: &mut HashSet<Vec<Vec<u8>>>,
    ) -> Result<Self, ContentError> {
        let tar_error = |e: io::Error| ContentError::Tar {
            what: what.to_owned(),
            reason: e.to_string(),
        };
        let spool = tempfile::tempfile().map_err(|e| ContentError::io("a temporary file", e))?;
        let mut writer = BufWriter::with_capacity(1 << 20, &spool);
        let mut spooled = 0u64;
        let mut entries: BTreeMap<Vec<Vec<u8>>, Stored> = BTreeMap::new();
        let mut outside_store = 0u64;
        let mut archive = tar::Archive::new(decompressed);
        let mut count = 0usize;
        let mut index_bytes = 0u64;
        for entry in archive.entries().map_err(tar_error)? {
            let mut entry = entry.map_err(tar_error)?;
            count += 1;
            if count > limits.max_entries {
                return Err(ContentError::Limit {
                    what: what.to_owned(),
                    limit: format!("more than {} entries in one layer", limits.max_entries),
                });
            }
            let raw_path = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw_path).into_owned();
            let refuse = |problem: String| ContentError::entry(what, &shown, problem);
            let kind = entry.header().entry_type();
            if kind == EntryType::XGlobalHeader {
                check_global_header(&mut entry).map_err(refuse)?;
                continue;
            }
            check_headers(&mut entry, &raw_path).map_err(refuse)?;
            // Go's archive/tar (Docker, containerd, podman) reads no data for
            // these types whatever size they claim, and parses those bytes as
            // further entries, which this reader would skip: hidden content.
            let has_data = matches!(
                kind,
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
            );
            if !has_data && (entry.size() != 0 || entry.header().entry_size().unwrap_or(1) != 0) {
                return Err(refuse(
                    "claims a data size although its type has no data; tar readers disagree on \
                     what follows it"
                        .to_owned(),
                ));
            }
            // Set-id and sticky bits are not part of a store path, yet a
            // runtime that unpacks the layer honours them.
            let mode = entry.header().mode().map_err(tar_error)?;
            if mode & 0o7000 != 0 {
                return Err(refuse(format!(
                    "has mode {mode:o}: set-user-id, set-group-id and sticky bits are not part of \
                     a store path"
                )));
            }
            let components = split_path(&raw_path, limits).map_err(refuse)?;
            if components.iter().any(|c| c.starts_with(b".wh.")) {
                return Err(refuse(
                    "is a whiteout, which would delete content of another layer; a seed's layers \
                     only add store paths"
                        .to_owned(),
                ));
            }
            // A runtime unpacking the layers follows symlinks in the parents of
            // an entry: below `bin -> /nix/store/<path>/bin` (a customisation
            // layer's usual link), `bin/sh` would be written into a store path
            // this reader has already hashed.
            if let Some(link) = (1..components.len())
                .map(|depth| &components[..depth])
                .find(|prefix| symlinks.contains(*prefix))
            {
                return Err(refuse(format!(
                    "is below '{}', a symlink of this or an earlier layer, which a runtime would \
                     follow",
                    String::from_utf8_lossy(&link.join(&b'/'))
                )));
            }
            if kind == EntryType::Symlink {
                symlinks.insert(components.clone());
            }
            let below_store = match components.as_slice() {
                [nix, store, rest @ ..] if nix == b"nix" && store == b"store" => Some(rest),
                _ => None,
            };
            let Some(below_store) = below_store.filter(|rest| !rest.is_empty()) else {
                // `/nix`, `/nix/store` themselves, or content outside the store.
                let is_store_dir = matches!(components.as_slice(), [n] | [n, _] if n == b"nix")
                    && components.get(1).is_none_or(|s| s == b"store");
                if is_store_dir {
                    if !kind.is_dir() {
                        return Err(refuse(
                            "must be a directory: it is on the way to the store".to_owned(),
                        ));
                    }
                } else {
                    outside_store += 1;
                }
                continue;
            };
            if below_store[0].starts_with(b".") {
                // Not a store path (Nix never names one with a leading dot),
                // yet inside the store: a file in an optimised store's
                // .links is hard-linked by Nix into later paths with the
                // same hash, unchecked.
                return Err(refuse(
                    "is inside /nix/store but not in a store path (Nix never names one with a \
                     leading dot); nothing but store paths may be unpacked there"
                        .to_owned(),
                ));
            }
            let stored = match kind {
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
                    if raw_path.ends_with(b"/") =>
                {
                    return Err(refuse(
                        "is a regular file whose name ends in '/', which some tar readers \
                         unpack as a directory"
                            .to_owned(),
                    ))
                }
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                    let size = entry.size();
                    if spooled.saturating_add(size) > limits.max_layer_content {
                        return Err(ContentError::Limit {
                            what: what.to_owned(),
                            limit: format!(
                                "the layer unpacks to more than {} bytes of files",
                                limits.max_layer_content
                            ),
                        });
                    }
                    let copied = copy_to_spool(&mut entry, &mut writer, what)?;
                    if copied != size {
                        return Err(refuse(format!("announces {size} bytes but holds {copied}")));
                    }
                    let stored = Stored::Regular {
                        executable: mode & 0o100 != 0,
                        offset: spooled,
                        size,
                    };
                    spooled += size;
                    stored
                }
                EntryType::Directory => Stored::Directory { explicit: true },
                EntryType::Symlink => Stored::Symlink(
                    entry
                        .link_name_bytes()
                        .ok_or_else(|| refuse("is a symlink without a target".to_owned()))?
                        .into_owned(),
                ),
                EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .ok_or_else(|| refuse("is a hard link without a target".to_owned()))?
                        .into_owned();
                    hard_link_target(&entries, &target, limits).map_err(refuse)?
                }
                EntryType::Char | EntryType::Block | EntryType::Fifo => {
                    return Err(refuse(format!(
                        "is a {}; a store path holds only regular files, symlinks and directories",
                        match kind {
                            EntryType::Char => "character device",
                            EntryType::Block => "block device",
                            _ => "FIFO",
                        }
                    )))
                }
                other => {
                    return Err(refuse(format!(
                        "has tar entry type {:?}, which a store path cannot hold",
                        other.as_byte() as char
                    )))
                }
            };
            index_bytes += insert(&mut entries, below_store.to_vec(), stored).map_err(refuse)?;
            // Parents a layer does not list count too: each entry may imply
            // hundreds of them, each keyed by its whole path.
            if entries.len() > limits.max_entries || index_bytes > limits.max_index_bytes {
                return Err(ContentError::Limit {
                    what: what.to_owned(),
                    limit: format!(
                        "its store entries, with the parent directories they imply, exceed {} \
                         entries or {} bytes of index",
                        limits.max_entries, limits.max_index_bytes
                    ),
                });
            }
        }
        writer
            .flush()
            .map_err(|e| ContentError::io("a temporary file", e))?;
        drop(writer);
        // tar-rs stops at the end-of-archive marker; a runtime that reads on
        // (or sniffs differently) could find more there. Only zeros may follow.
        let mut rest = archive.into_inner();
        let mut buffer = vec![0u8; 1 << 16];
        loop {
            let n = match rest.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar_error(e)),
            };
            if buffer[..n].iter().any(|b| *b != 0) {
                return Err(ContentError::Tar {
                    what: what.to_owned(),
                    reason: "it has data after its end-of-archive marker, which some readers \
                             would read on into"
                        .to_owned(),
                });
            }
        }
        Ok(Self {
            entries,
            spool,
            outside_store,
        })
    }

    /// The store paths this layer holds, each validated.
    fn store_paths(&self) -> Vec<StorePath> {
        let mut names: Vec<StorePath> = Vec::new();
        for key in self.entries.keys() {
            if let Some(path) = key
                .first()
                .and_then(|top| StorePath::from_base_name(&String::from_utf8_lossy(top)).ok())
            {
                if names.last() != Some(&path) {
                    names.push(path);
                }
            }
        }
        names
    }

    /// NAR-hashes every store path of the layer, in archive order.
    fn hash(&self, what: &str) -> Result<Vec<HashedPath>, ContentError> {
        let mut hashed = Vec::new();
        let mut current: Option<(StorePath, Encoder<Sha256>)> = None;
        for (key, stored) in &self.entries {
            let Some((top, below)) = key.split_first() else {
                continue;
            };
            if below.is_empty() {
                if let Some(done) = current.take() {
                    hashed.push(finish(done, what)?);
                }
                let name = String::from_utf8_lossy(top).into_owned();
                let store_path = StorePath::from_base_name(&name).map_err(|source| {
                    ContentError::NotAStorePath {
                        what: what.to_owned(),
                        name,
                        source,
                    }
                })?;
                let encoder =
                    Encoder::new(Sha256::new()).map_err(|e| ContentError::io("a hash", e))?;
                current = Some((store_path, encoder));
            }
            let Some((_, encoder)) = current.as_mut() else {
                continue;
            };
            let node = match stored {
                Stored::Directory { .. } => Node::Directory,
                Stored::Symlink(target) => Node::Symlink {
                    target: target.clone(),
                },
                Stored::Regular {
                    executable,
                    offset,
                    size,
                } => Node::Regular {
                    executable: *executable,
                    size: *size,
                    contents: Box::new(SpoolSlice {
                        spool: &self.spool,
                        offset: *offset,
                        remaining: *size,
                    }) as Box<dyn Read>,
                },
            };
            let shown = String::from_utf8_lossy(&key.join(&b'/')).into_owned();
            encoder
                .add(below, node)
                .map_err(|e| encode_error(what, &format!("nix/store/{shown}"), e))?;
        }
        if let Some(done) = current.take() {
            hashed.push(finish(done, what)?);
        }
        Ok(hashed)
    }
}

fn finish(
    (store_path, encoder): (StorePath, Encoder<Sha256>),
    what: &str,
) -> Result<HashedPath, ContentError> {
    let (hasher, nar_size) = encoder
        .finish()
        .map_err(|e| encode_error(what, &store_path.to_string(), e))?;
    Ok(HashedPath {
        store_path,
        nar_hash: NarHash::from_bytes(hasher.finalize().into()),
        nar_size,
    })
}

/// Copies a file's bytes from the layer to the spool. A failure to read is
/// the layer's (a content fault); a failure to write is this machine's (a
/// full disk), which must never be held against the image.
fn copy_to_spool(
    entry: &mut impl Read,
    spool: &mut impl Write,
    what: &str,
) -> Result<u64, ContentError> {
    let mut buffer = [0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let n = match entry.read(&mut buffer) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ContentError::Tar {
                    what: what.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        spool
            .write_all(&buffer[..n])
            .map_err(|e| ContentError::io("a temporary file", e))?;
        copied += n as u64;
    }
}

/// Refuses a layer whose first bytes say another compression than its media
/// type: runtimes that sniff the bytes (containerd for Docker media types,
/// moby, containers-storage) would decompress what this reader reads as a
/// plain tar, or the other way round. zstd's skippable frames count as zstd,
/// as those sniffers count them.
fn check_compression(
    blob: &mut impl std::io::BufRead,
    compression: Compression,
    what: &str,
) -> Result<(), ContentError> {
    let head = blob.fill_buf().map_err(|e| ContentError::io(what, e))?;
    let sniffed = if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
    {
        Some("zstd")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz")
    } else {
        None
    };
    let expected = match compression {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
    };
    if sniffed != expected {
        return Err(ContentError::Tar {
            what: what.to_owned(),
            reason: format!(
                "its media type says {} but its bytes start like {}; runtimes that look at \
                 the bytes would read another tree",
                expected.unwrap_or("an uncompressed tar"),
                sniffed.unwrap_or("an uncompressed tar")
            ),
        });
    }
    Ok(())
}

/// Adds an entry, creating parents the layer did not list and refusing a
/// path listed twice or below something that is not a directory. Returns the
/// memory the new keys take, for [`Limits::max_index_bytes`].
fn insert(
    entries: &mut BTreeMap<Vec<Vec<u8>>, Stored>,
    key: Vec<Vec<u8>>,
    stored: Stored,
) -> Result<u64, String> {
    // Every key's ancestors are in the map, so the missing parents are the
    // ones below the deepest ancestor present; looking from the deepest
    // keeps an entry's cost linear in its depth.
    let present = (1..key.len())
        .rev()
        .find_map(|depth| entries.get(&key[..depth]).map(|stored| (depth, stored)));
    let first_missing = match present {
        Some((_, Stored::Directory { .. })) | None => present.map_or(1, |(depth, _)| depth + 1),
        Some((depth, _)) => {
            return Err(format!(
                "is below '{}', which is not a directory",
                String::from_utf8_lossy(&key[..depth].join(&b'/'))
            ))
        }
    };
    let mut added = 0;
    for depth in first_missing..key.len() {
        added += key_bytes(&key[..depth]);
        entries.insert(key[..depth].to_vec(), Stored::Directory { explicit: false });
    }
    match entries.entry(key) {
        MapEntry::Vacant(slot) => {
            added += key_bytes(slot.key());
            slot.insert(stored);
            Ok(added)
        }
        MapEntry::Occupied(mut slot) => match (slot.get(), &stored) {
            (Stored::Directory { explicit: false }, Stored::Directory { .. }) => {
                slot.insert(stored);
                Ok(added)
            }
            (Stored::Directory { explicit: false }, _) => Err(
                "was listed as a parent directory by an earlier entry, then as something else"
                    .to_owned(),
            ),
            _ => Err("appears twice in this layer".to_owned()),
        },
    }
}

/// About what a key and its map slot take in memory: each component's bytes
/// and vector header, the key's own header and the slot.
fn key_bytes(key: &[Vec<u8>]) -> u64 {
    const VEC_HEADER: u64 = 24;
    const SLOT: u64 = 64;
    key.iter()
        .map(|component| component.len() as u64 + VEC_HEADER)
        .sum::<u64>()
        + VEC_HEADER
        + SLOT
}

/// What a hard link in a layer points at: an earlier regular file of the same
/// layer, whose bytes (and execute bit: a hard link shares the inode) it shares.
fn hard_link_target(
    entries: &BTreeMap<Vec<Vec<u8>>, Stored>,
    target: &[u8],
    limits: &Limits,
) -> Result<Stored, String> {
    let shown = String::from_utf8_lossy(target);
    let components = split_path(target, limits)?;
    let key = match components.as_slice() {
        [nix, store, rest @ ..] if nix == b"nix" && store == b"store" && !rest.is_empty() => rest,
        _ => {
            return Err(format!(
                "is a hard link to '{shown}', which is outside the store"
            ))
        }
    };
    match entries.get(key) {
        Some(regular @ Stored::Regular { .. }) => Ok(regular.clone()),
        Some(_) => Err(format!(
            "is a hard link to '{shown}', which is not a regular file"
        )),
        None => Err(format!(
            "is a hard link to '{shown}', which is not an earlier entry of this layer"
        )),
    }
}

/// Splits an entry path into components: one leading `/` or `./` allowed, a
/// trailing `/` (directories) dropped; `.`, `..` and empty components refused.
fn split_path(path: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, String> {
    if path.len() > limits.max_path_bytes {
        return Err(format!(
            "has a path longer than {} bytes",
            limits.max_path_bytes
        ));
    }
    let relative = path
        .strip_prefix(b"./")
        .or_else(|| path.strip_prefix(b"/"))
        .unwrap_or(path);
    let relative = relative.strip_suffix(b"/").unwrap_or(relative);
    if relative.is_empty() || relative == b"." {
        return Ok(Vec::new());
    }
    let components: Vec<Vec<u8>> = relative.split(|b| *b == b'/').map(<[u8]>::to_vec).collect();
    if components.len() > limits.max_depth {
        return Err(format!(
            "is nested deeper than {} directories",
            limits.max_depth
        ));
    }
    if let Some(bad) = components
        .iter()
        .find(|c| c.is_empty() || *c == b"." || *c == b".." || c.contains(&0))
    {
        return Err(format!(
            "has the path component '{}', which could escape the store or be read differently \
             by different tools",
            String::from_utf8_lossy(bad)
        ));
    }
    Ok(components)
}

/// Refuses the header combinations that tar readers resolve differently, so
/// that the tree hashed here is the tree any runtime unpacks.
fn check_headers<R: Read>(entry: &mut tar::Entry<'_, R>, path: &[u8]) -> Result<(), String> {
    let header_size = entry.header().entry_size().map_err(|e| e.to_string())?;
    let link = entry.link_name_bytes().map(|l| l.into_owned());
    let size = entry.size();
    let Some(extensions) = entry.pax_extensions().map_err(|e| e.to_string())? else {
        return Ok(());
    };
    let mut keys: Vec<Vec<u8>> = Vec::new();
    for extension in extensions {
        let extension = extension.map_err(|e| format!("has a malformed PAX record: {e}"))?;
        let key = extension.key_bytes();
        if keys.iter().any(|seen| seen == key) {
            return Err(format!(
                "repeats the PAX record '{}'; readers disagree on which one counts",
                String::from_utf8_lossy(key)
            ));
        }
        keys.push(key.to_vec());
        let value = extension.value_bytes();
        let disagrees =
            match key {
                b"path" => value != path,
                b"linkpath" => link.as_deref() != Some(value),
                b"size" => size != header_size,
                _ if key.starts_with(b"SCHILY.xattr.") || key.starts_with(b"LIBARCHIVE.xattr.") => {
                    return Err(format!(
                        "carries the extended attribute record '{}'; store paths have none, and \
                         one such as security.capability would grant privileges the manifest \
                         does not show",
                        String::from_utf8_lossy(key)
                    ))
                }
                _ if key.starts_with(b"GNU.sparse.") => return Err(
                    "is a PAX sparse file, which this reader does not expand; repack the layer \
                     without --sparse"
                        .to_owned(),
                ),
                _ => false,
            };
        if disagrees {
            return Err(format!(
                "has a PAX '{}' record that disagrees with its header or GNU long-name record; \
                 tar readers resolve that conflict differently",
                String::from_utf8_lossy(key)
            ));
        }
    }
    Ok(())
}

/// A global PAX header may carry only records that do not change what later
/// entries are (comments, times); one that sets paths or sizes is refused.
fn check_global_header<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<(), String> {
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(64 * 1024 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() > 64 * 1024 {
        return Err("is a global PAX header larger than 64 KiB".to_owned());
    }
    for extension in tar::PaxExtensions::new(&bytes) {
        let extension = extension.map_err(|e| format!("has a malformed PAX record: {e}"))?;
        let key = extension.key_bytes();
        if matches!(key, b"path" | b"linkpath" | b"size") || key.starts_with(b"GNU.sparse.") {
            return Err(format!(
                "is a global PAX header setting '{}' for every later entry, which tar readers \
                 apply differently",
                String::from_utf8_lossy(key)
            ));
        }
    }
    Ok(())
}

/// A file's bytes in the spool.
struct SpoolSlice<'a> {
    spool: &'a File,
    offset: u64,
    remaining: u64,
}

impl Read for SpoolSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.spool.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("truncated layer"))
        }
    }

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("no space left on device"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A full disk is this machine's fault and never held against the image;
    /// a layer that cannot be read is the image's.
    #[test]
    fn spool_failures_are_blamed_on_the_right_side() {
        let full_disk = copy_to_spool(&mut &b"bytes"[..], &mut Failing, "layer").unwrap_err();
        assert!(!full_disk.is_content_fault(), "{full_disk}");
        let bad_layer = copy_to_spool(&mut Failing, &mut Vec::new(), "layer").unwrap_err();
        assert!(bad_layer.is_content_fault(), "{bad_layer}");
    }
}
