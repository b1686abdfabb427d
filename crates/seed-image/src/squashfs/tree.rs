//! A squashfs image's directory tree as the Linux kernel resolves it.
//!
//! The squashfs reader (backhand) builds its tree by inode *number*, lists a
//! directory until the first entry it cannot parse, and believes each entry's
//! type. The kernel reads an inode at the *location* a directory entry gives,
//! takes the type from the inode, caches inodes by the entry's number, and
//! jumps through a large directory with its index. An image crafted so that
//! these disagree would be hashed as one tree and mounted as another.
//!
//! So the tree is resolved here the kernel's way, from the tables backhand
//! decompressed, and an image on which the two ways could differ is refused:
//!
//! - every listing parses exactly: whole headers of at most 256 entries, no
//!   byte left over, names that are single path components, in strictly
//!   ascending byte order (no name twice; lookup and listing agree);
//! - each entry's inode, read at its location, has the entry's type and
//!   number, and one number is one location;
//! - a directory index points at a listing header and carries its first name;
//! - no listing belongs to two directories (a loop, or a hard-linked directory).
//!
//! File contents are still read by backhand, from the inodes found here.

use std::{
    borrow::Cow,
    collections::{hash_map::Entry as MapEntry, HashMap, HashSet},
    io::Cursor,
};

use backhand::{
    v4::{
        inode::{InodeId, InodeInner},
        reader::SquashFsReader,
    },
    Inode, Squashfs, SquashfsFileReader,
};
use deku::{ctx::Endian, reader::Reader, DekuReader};

/// The uncompressed size of a metadata block, which the kernel assumes when it
/// turns a directory index into a position.
const METADATA_SIZE: u64 = 8192;
/// The most entries one listing header may announce.
const MAX_ENTRIES_PER_HEADER: u32 = 256;
/// The longest name an entry may have.
const MAX_NAME: usize = 256;

/// One entry of the image, in depth-first order with names ascending, which is
/// NAR order.
pub(super) struct Entry {
    /// 1 for an entry of the root directory.
    pub depth: usize,
    pub name: Vec<u8>,
    /// Permission bits (squashfs keeps the type in the inode's kind).
    pub permissions: u16,
    pub kind: EntryKind,
}

pub(super) enum EntryKind {
    Directory,
    File(SquashfsFileReader),
    Symlink(Vec<u8>),
    /// A device, FIFO or socket, named.
    Special(&'static str),
}

impl EntryKind {
    /// The bytes the file declares, 0 for everything else.
    pub fn declared_size(&self) -> u64 {
        match self {
            Self::File(file) => file.file_len() as u64,
            _ => 0,
        }
    }
}

/// Why the tree cannot be resolved: `path` is the entry at fault, if any.
#[derive(Debug)]
pub(super) struct TreeError {
    pub path: Option<String>,
    pub reason: String,
}

impl TreeError {
    fn image(reason: impl Into<String>) -> Self {
        Self {
            path: None,
            reason: reason.into(),
        }
    }
}

/// Resolves every entry of `squashfs`, root excluded, refusing a tree whose
/// full paths total more than `max_path_bytes` (the squashfs reader keeps
/// each node's full path).
pub(super) fn entries(
    squashfs: &mut Squashfs<'_>,
    max_path_bytes: u64,
) -> Result<Vec<Entry>, TreeError> {
    let superblock = squashfs.superblock;
    let (inode_blocks, inode_bytes) = squashfs
        .file
        .uncompress_metadatas(
            superblock.inode_table,
            &superblock,
            superblock.dir_table,
            &squashfs.kind,
        )
        .map_err(|e| TreeError::image(format!("its inode table cannot be read: {e}")))?;
    let inodes = Table::new(
        inode_blocks.iter().map(|(k, v)| (*k, *v)),
        Cow::Owned(inode_bytes),
    );
    let directories = Table::new(
        squashfs.dir_blocks.0.iter().map(|(k, v)| (*k, *v)),
        Cow::Borrowed(squashfs.dir_blocks.1.as_slice()),
    );
    let mut resolver = Resolver {
        inodes,
        directories,
        context: (
            superblock.bytes_used,
            superblock.block_size,
            superblock.block_log,
            Endian::Little,
        ),
        inode_count: superblock.inode_count,
        numbers: HashMap::new(),
        locations: HashMap::new(),
        listings_seen: HashSet::new(),
        max_path_bytes,
    };
    resolver.walk(superblock.root_inode >> 16, superblock.root_inode & 0xffff)
}

/// An uncompressed metadata table: the blocks' offsets in the image (relative
/// to the table) mapped to where their bytes begin in `bytes`, and each
/// block's length.
struct Table<'a> {
    blocks: HashMap<u64, (u64, u64)>,
    bytes: Cow<'a, [u8]>,
}

impl<'a> Table<'a> {
    fn new(blocks: impl Iterator<Item = (u64, u64)>, bytes: Cow<'a, [u8]>) -> Self {
        let mut starts: Vec<(u64, u64)> = blocks.collect();
        starts.sort_by_key(|&(_, position)| position);
        let ends = starts
            .iter()
            .skip(1)
            .map(|&(_, position)| position)
            .chain([bytes.len() as u64]);
        let blocks = starts
            .iter()
            .zip(ends)
            .map(|(&(block, position), end)| (block, (position, end.saturating_sub(position))))
            .collect();
        Self { blocks, bytes }
    }

    /// Where `(block, offset)` is in `bytes`. As for the kernel, the offset
    /// must lie inside that block.
    fn position(&self, block: u64, offset: u64) -> Option<u64> {
        let &(position, length) = self.blocks.get(&block)?;
        (offset < length).then_some(position + offset)
    }

    /// `length` bytes from `position`.
    fn slice(&self, position: u64, length: u64) -> Option<&[u8]> {
        let start = usize::try_from(position).ok()?;
        let end = usize::try_from(position.checked_add(length)?).ok()?;
        self.bytes.get(start..end)
    }
}

/// One entry as a listing gives it.
struct Listed {
    name: Vec<u8>,
    /// Where its inode is: a block of the inode table and an offset in it.
    inode_block: u64,
    inode_offset: u64,
    number: u32,
    kind: u16,
}

/// A parsed listing: its entries and where each header began (relative to
/// the listing's start), with the first name under it.
struct Listing {
    entries: Vec<Listed>,
    headers: HashMap<u64, usize>,
}

struct Resolver<'a> {
    inodes: Table<'a>,
    directories: Table<'a>,
    context: (u64, u32, u16, Endian),
    /// The superblock's inode count, the highest valid inode number.
    inode_count: u32,
    /// Inode number to location, and back: one number, one location.
    numbers: HashMap<u32, u64>,
    locations: HashMap<u64, u32>,
    listings_seen: HashSet<u64>,
    max_path_bytes: u64,
}

impl Resolver<'_> {
    fn walk(&mut self, root_block: u64, root_offset: u64) -> Result<Vec<Entry>, TreeError> {
        let (root, root_position) = self
            .inode_at(root_block, root_offset)
            .map_err(|reason| TreeError::image(format!("its root inode {reason}")))?;
        self.claim(root_block, root_offset, root.header.inode_number)
            .map_err(|reason| TreeError::image(format!("its root inode {reason}")))?;
        let root_listing = self
            .listing_of(&root, root_position)
            .map_err(|reason| TreeError::image(format!("its root directory {reason}")))?;
        let mut entries = Vec::new();
        // Each level's remaining entries, and the names leading there.
        let mut pending = vec![root_listing.into_iter()];
        let mut names: Vec<Vec<u8>> = Vec::new();
        // The length of each open directory's full path (the root's is 0),
        // and the total of every entry's, which the squashfs reader will
        // hold: nesting makes it grow with the square of the depth.
        let mut lengths: Vec<u64> = vec![0];
        let mut path_bytes = 0u64;
        while let Some(level) = pending.last_mut() {
            let Some(listed) = level.next() else {
                pending.pop();
                names.pop();
                lengths.pop();
                continue;
            };
            let depth = pending.len();
            let length = lengths.last().copied().unwrap_or(0) + 1 + listed.name.len() as u64;
            path_bytes += length;
            if path_bytes > self.max_path_bytes {
                return Err(TreeError::image(format!(
                    "its entries' paths total more than {} bytes (nested or wide beyond any \
                     store), more than a reader should hold",
                    self.max_path_bytes
                )));
            }
            let at_fault = |reason: String| {
                let path = names
                    .iter()
                    .chain([&listed.name])
                    .map(|name| String::from_utf8_lossy(name))
                    .collect::<Vec<_>>()
                    .join("/");
                TreeError {
                    path: Some(format!("/{path}")),
                    reason,
                }
            };
            let (inode, position) = self.resolve(&listed).map_err(at_fault)?;
            let kind = match &inode.inner {
                InodeInner::BasicDirectory(_) | InodeInner::ExtendedDirectory(_) => {
                    let children = self.listing_of(&inode, position).map_err(at_fault)?;
                    pending.push(children.into_iter());
                    names.push(listed.name.clone());
                    lengths.push(length);
                    EntryKind::Directory
                }
                InodeInner::BasicFile(file) => {
                    EntryKind::File(SquashfsFileReader::Basic(file.clone()))
                }
                InodeInner::ExtendedFile(file) => {
                    EntryKind::File(SquashfsFileReader::Extended(file.clone()))
                }
                InodeInner::BasicSymlink(link) => EntryKind::Symlink(link.target_path.clone()),
                InodeInner::ExtendedSymlink(link) => EntryKind::Symlink(link.target_path.clone()),
                InodeInner::BasicCharacterDevice(_) | InodeInner::ExtendedCharacterDevice(_) => {
                    EntryKind::Special("character device")
                }
                InodeInner::BasicBlockDevice(_) | InodeInner::ExtendedBlockDevice(_) => {
                    EntryKind::Special("block device")
                }
                InodeInner::BasicNamedPipe(_) | InodeInner::ExtendedNamedPipe(_) => {
                    EntryKind::Special("FIFO")
                }
                InodeInner::BasicSocket(_) | InodeInner::ExtendedSocket(_) => {
                    EntryKind::Special("socket")
                }
            };
            entries.push(Entry {
                depth,
                name: listed.name,
                permissions: inode.header.permissions,
                kind,
            });
        }
        Ok(entries)
    }

    /// The inode `listed` names, checked against what the entry says of it.
    fn resolve(&mut self, listed: &Listed) -> Result<(Inode, u64), String> {
        let (inode, position) = self.inode_at(listed.inode_block, listed.inode_offset)?;
        if inode.header.inode_number != listed.number {
            return Err(format!(
                "names inode number {} but the inode at its location has number {} \
                 (readers that look inodes up by number would see another file)",
                listed.number, inode.header.inode_number
            ));
        }
        let base_kind = base_kind(inode.id);
        if base_kind != listed.kind {
            return Err(format!(
                "is listed with type {} but its inode has type {base_kind}",
                listed.kind
            ));
        }
        self.claim(listed.inode_block, listed.inode_offset, listed.number)?;
        Ok((inode, position))
    }

    /// Records that inode `number` is at `(block, offset)`, refusing a number
    /// at two locations or a location under two numbers: the kernel caches
    /// inodes by number, so which one a path shows would depend on the order
    /// of lookups.
    fn claim(&mut self, block: u64, offset: u64, number: u32) -> Result<(), String> {
        if number == 0 || number > self.inode_count {
            return Err(format!(
                "has inode number {number}, outside the image's 1 to {}",
                self.inode_count
            ));
        }
        let location = (block << 16) | offset;
        let conflict = match self.numbers.entry(number) {
            MapEntry::Occupied(known) => *known.get() != location,
            MapEntry::Vacant(slot) => {
                slot.insert(location);
                false
            }
        } || *self.locations.entry(location).or_insert(number) != number;
        if conflict {
            return Err(format!(
                "shares inode number {number} or its location with another inode"
            ));
        }
        Ok(())
    }

    /// The inode at `(block, offset)` of the inode table, and its position in
    /// the uncompressed table.
    fn inode_at(&self, block: u64, offset: u64) -> Result<(Inode, u64), String> {
        let position = self.inodes.position(block, offset).ok_or_else(|| {
            format!("points outside the inode table (block {block}, offset {offset})")
        })?;
        let bytes = &self.inodes.bytes[position as usize..];
        let mut cursor = Cursor::new(bytes);
        let inode = Inode::from_reader_with_ctx(&mut Reader::new(&mut cursor), self.context)
            .map_err(|e| format!("has an unreadable inode: {e}"))?;
        Ok((inode, position))
    }

    /// The entries of directory `inode`, found at `position` of the inode
    /// table; each directory is listed once.
    fn listing_of(&mut self, inode: &Inode, position: u64) -> Result<Vec<Listed>, String> {
        let (block, offset, file_size, index) = match &inode.inner {
            InodeInner::BasicDirectory(dir) => (
                u64::from(dir.block_index),
                u64::from(dir.block_offset),
                u64::from(dir.file_size),
                Vec::new(),
            ),
            InodeInner::ExtendedDirectory(dir) => (
                u64::from(dir.block_index),
                u64::from(dir.block_offset),
                u64::from(dir.file_size),
                self.directory_index(position, dir.index_count)?,
            ),
            _ => return Err("is not a directory".to_owned()),
        };
        // The size counts 3 bytes for "." and "..", which are not stored.
        let length = file_size
            .checked_sub(3)
            .ok_or_else(|| format!("has directory size {file_size}, below the minimum of 3"))?;
        if length == 0 {
            return match index.is_empty() {
                true => Ok(Vec::new()),
                false => Err("is an empty directory with an index".to_owned()),
            };
        }
        // Two directories sharing a listing would be a loop or a hard-linked
        // directory (empty ones share nothing).
        if !self.listings_seen.insert((block << 16) | offset) {
            return Err(
                "shares its listing with another directory (a loop or a hard link)".to_owned(),
            );
        }
        let start = self.directories.position(block, offset).ok_or_else(|| {
            format!("has its listing outside the directory table (block {block}, offset {offset})")
        })?;
        let bytes = self
            .directories
            .slice(start, length)
            .ok_or_else(|| "has a listing that runs past the directory table".to_owned())?;
        let listing = parse_listing(bytes)?;
        for (listing_offset, index_block, name) in index {
            // Where the kernel starts reading when the index sends it here.
            let kernel = self
                .directories
                .position(index_block, (listing_offset + offset) % METADATA_SIZE);
            let first = listing
                .headers
                .get(&listing_offset)
                .map(|&i| &listing.entries[i].name);
            if kernel != Some(start + listing_offset) || first != Some(&name) {
                return Err(format!(
                    "has a directory index entry (offset {listing_offset}, block {index_block}) \
                     that does not point at a listing header starting with its name"
                ));
            }
        }
        Ok(listing.entries)
    }

    /// The index of the extended directory whose inode is at `position`,
    /// read from the inode's bytes (backhand keeps the index's fields
    /// private): `(offset in the listing, block, name)` per entry.
    fn directory_index(
        &self,
        position: u64,
        count: u16,
    ) -> Result<Vec<(u64, u64, Vec<u8>)>, String> {
        // The 16-byte common inode header and the 24 bytes of an extended
        // directory's own fields come first.
        const INDEX_START: u64 = 40;
        let bytes = usize::try_from(position + INDEX_START)
            .ok()
            .and_then(|start| self.inodes.bytes.get(start..))
            .ok_or_else(|| "has a directory index outside the inode table".to_owned())?;
        let mut fields = Fields { bytes, at: 0 };
        let mut index = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let truncated = || "has a directory index entry cut short".to_owned();
            let offset = fields.u32().ok_or_else(truncated)?;
            let block = fields.u32().ok_or_else(truncated)?;
            let name_size = usize::try_from(fields.u32().ok_or_else(truncated)?)
                .ok()
                .and_then(|size| size.checked_add(1))
                .filter(|&size| size <= MAX_NAME)
                .ok_or_else(|| "has a directory index name that is too long".to_owned())?;
            let name = fields.take(name_size).ok_or_else(truncated)?.to_vec();
            index.push((u64::from(offset), u64::from(block), name));
        }
        Ok(index)
    }
}

/// The kind an entry of a listing states for an inode: the basic kind, as
/// listings do not distinguish extended inodes.
fn base_kind(id: InodeId) -> u16 {
    let id = id as u16;
    if id > 7 {
        id - 7
    } else {
        id
    }
}

/// Parses a whole listing: headers, each followed by its entries.
fn parse_listing(bytes: &[u8]) -> Result<Listing, String> {
    let mut cursor = Fields { bytes, at: 0 };
    let mut entries: Vec<Listed> = Vec::new();
    let mut headers = HashMap::new();
    while cursor.at < bytes.len() {
        let header_at = cursor.at as u64;
        let truncated = || "has a listing header cut short".to_owned();
        let count = cursor.u32().ok_or_else(truncated)?;
        let inode_block = cursor.u32().ok_or_else(truncated)?;
        let base_number = cursor.u32().ok_or_else(truncated)?;
        if count >= MAX_ENTRIES_PER_HEADER {
            return Err(format!(
                "has a listing header announcing {} entries, more than {MAX_ENTRIES_PER_HEADER}",
                u64::from(count) + 1
            ));
        }
        headers.insert(header_at, entries.len());
        for _ in 0..=count {
            let truncated = || "has a listing entry cut short".to_owned();
            let inode_offset = cursor.u16().ok_or_else(truncated)?;
            let number_delta = cursor.u16().ok_or_else(truncated)? as i16;
            let kind = cursor.u16().ok_or_else(truncated)?;
            let name_size = usize::from(cursor.u16().ok_or_else(truncated)?) + 1;
            if name_size > MAX_NAME {
                return Err(format!(
                    "has a name of {name_size} bytes, more than {MAX_NAME}"
                ));
            }
            let name = cursor.take(name_size).ok_or_else(truncated)?.to_vec();
            let shown = String::from_utf8_lossy(&name).into_owned();
            if name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
                return Err(format!("lists '{shown}', which is not a file name"));
            }
            if !(1..=7).contains(&kind) {
                return Err(format!("lists '{shown}' with unknown type {kind}"));
            }
            if entries.last().is_some_and(|last| last.name >= name) {
                return Err(format!(
                    "lists '{shown}' out of order or twice (names must ascend bytewise, as \
                     mksquashfs writes them and the kernel's lookup expects)"
                ));
            }
            let number = i64::from(base_number) + i64::from(number_delta);
            let number = u32::try_from(number)
                .map_err(|_| format!("lists '{shown}' with an inode number out of range"))?;
            entries.push(Listed {
                name,
                inode_block: u64::from(inode_block),
                inode_offset: u64::from(inode_offset),
                number,
                kind,
            });
        }
    }
    Ok(Listing { entries, headers })
}

/// Little-endian fields read from a byte slice.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, length: usize) -> Option<&'a [u8]> {
        let taken = self.bytes.get(self.at..self.at.checked_add(length)?)?;
        self.at += length;
        Some(taken)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{fs, io::Cursor};

    use super::*;

    #[test]
    fn the_total_of_full_paths_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("x21wq7f46f1py2xsblfw13d8br6bgnr6-a");
        fs::create_dir_all(root.join("d/d/d/d")).unwrap();
        let image = dir.path().join("s");
        seed_testkit::nix::mksquashfs_roots(&[root], &image, &["-comp", "gzip"]);
        let read = |limit| {
            let mut squashfs =
                Squashfs::from_reader_with_offset(Cursor::new(fs::read(&image).unwrap()), 0)
                    .unwrap();
            entries(&mut squashfs, limit).map(|entries| entries.len())
        };
        // "/x…-a" is 35 bytes; "/x…-a/d" 37, and so on: 35+37+39+41+43.
        assert_eq!(read(195).unwrap(), 5);
        let error = read(194).unwrap_err();
        assert!(error.reason.contains("more than 194 bytes"), "{error:?}");
    }
}
