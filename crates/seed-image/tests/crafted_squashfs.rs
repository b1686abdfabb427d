//! squashfs images crafted so that a reader going by inode numbers, entry
//! types or directory indexes (backhand) and one going by locations (the
//! kernel, unsquashfs) would see different trees; and the `.seed/` metadata a
//! consumer registers and runs. Each crafted image is refused, and on random
//! corruptions of the tables our reader either refuses or agrees with
//! unsquashfs byte for byte.
//!
//! Images are packed by Debian's mksquashfs with uncompressed tables
//! (`-noI -noD -noF`), so a test can patch the bytes it means to.

#![allow(clippy::unwrap_used)]

use std::{
    fs,
    io::Cursor,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
};

use seed_image::squashfs;
use seed_nix::tree_manifest;
use seed_testkit::{
    nix::{mksquashfs_roots, registration, tool},
    rng::Rng,
};

const A: &str = "x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
const B: &str = "yzh350ar9sjyxywhk55sjhyd0r75khgs-b";
const UNCOMPRESSED: [&str; 5] = ["-noI", "-noD", "-noF", "-comp", "gzip"];

/// A store with path `A` holding `alpha`, `bravo` (same-length names, other
/// contents) and `sub/charlie`, and path `B`, a file.
fn store(dir: &Path) -> Vec<PathBuf> {
    let store = dir.join("nix/store");
    let a = store.join(A);
    fs::create_dir_all(a.join("sub")).unwrap();
    fs::write(a.join("alpha"), "the honest file\n").unwrap();
    fs::write(a.join("bravo"), "a trojan file\n").unwrap();
    fs::write(a.join("sub/charlie"), "deeper\n").unwrap();
    fs::write(store.join(B), "path b\n").unwrap();
    vec![a, store.join(B)]
}

fn pack(roots: &[PathBuf], out: &Path, extra: &[&str]) -> Vec<u8> {
    let mut flags = UNCOMPRESSED.to_vec();
    flags.extend(extra);
    mksquashfs_roots(roots, out, &flags);
    fs::read(out).unwrap()
}

fn u64_at(bytes: &[u8], at: usize) -> usize {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

/// The byte ranges of the inode table and the directory table.
fn tables(image: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let (inodes, directories) = (u64_at(image, 64), u64_at(image, 72));
    // The next table (fragments, exports or ids): its metadata blocks come
    // first, found through the first pointer of its index.
    let next_index = [48, 80, 88]
        .map(|at| u64_at(image, at))
        .into_iter()
        .filter(|&table| table > directories && table != u64::MAX as usize)
        .min()
        .unwrap();
    (inodes..directories, directories..u64_at(image, next_index))
}

/// Where `pattern` occurs in `range` of `image`: exactly once.
fn find(image: &[u8], range: std::ops::Range<usize>, pattern: &[u8]) -> usize {
    let hits: Vec<usize> = image[range.clone()]
        .windows(pattern.len())
        .enumerate()
        .filter(|(_, window)| *window == pattern)
        .map(|(i, _)| range.start + i)
        .collect();
    assert_eq!(hits.len(), 1, "{pattern:?} in the table");
    hits[0]
}

/// Where the directory entry for `name` begins: its inode offset, number
/// delta, type, name size, then the name.
fn entry(image: &[u8], name: &str) -> usize {
    let (_, directories) = tables(image);
    let mut pattern = ((name.len() - 1) as u16).to_le_bytes().to_vec();
    pattern.extend(name.as_bytes());
    find(image, directories, &pattern) - 6
}

fn refusal(image: Vec<u8>) -> String {
    squashfs::closure_of_reader(Cursor::new(image), "crafted")
        .unwrap_err()
        .to_string()
}

fn put_u16(image: &mut [u8], at: usize, value: u16) {
    image[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn an_entry_naming_another_inode_number_than_its_location_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut image = pack(&store(dir.path()), &dir.path().join("s"), &[]);
    assert!(squashfs::closure_of_reader(Cursor::new(image.clone()), "honest").is_ok());
    // alpha keeps its location (the kernel serves the honest file) but names
    // bravo's number (a by-number reader would hash the trojan instead).
    let (alpha, bravo) = (entry(&image, "alpha"), entry(&image, "bravo"));
    let bravo_delta = u16::from_le_bytes([image[bravo + 2], image[bravo + 3]]);
    put_u16(&mut image, alpha + 2, bravo_delta);
    let err = refusal(image);
    assert!(err.contains(&format!("/{A}/alpha")), "{err}");
    assert!(err.contains("names inode number"), "{err}");
}

#[test]
fn entry_types_that_are_unknown_or_contradict_the_inode_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = pack(&store(dir.path()), &dir.path().join("s"), &[]);
    let alpha = entry(&image, "alpha");

    // An unknown type ended backhand's listing there, hiding what follows.
    let mut unknown = image.clone();
    put_u16(&mut unknown, alpha + 4, 99);
    let err = refusal(unknown);
    assert!(err.contains("unknown type 99"), "{err}");

    let mut contradicting = image;
    put_u16(&mut contradicting, alpha + 4, 3);
    let err = refusal(contradicting);
    assert!(
        err.contains("listed with type 3 but its inode has type 2"),
        "{err}"
    );
}

#[test]
fn names_out_of_order_or_twice_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = pack(&store(dir.path()), &dir.path().join("s"), &[]);
    let bravo_name = entry(&image, "bravo") + 8;
    for (renamed, expected) in [("aaaaa", "out of order"), ("alpha", "twice")] {
        let mut crafted = image.clone();
        crafted[bravo_name..bravo_name + 5].copy_from_slice(renamed.as_bytes());
        let err = refusal(crafted);
        assert!(err.contains(expected), "{renamed}: {err}");
    }
}

#[test]
fn two_fragments_at_one_start_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nix/store").join(A);
    fs::create_dir_all(&path).unwrap();
    // 3,000-byte tails with 4 KiB blocks: one fragment block each.
    for (i, byte) in [b'p', b'q', b'r'].iter().enumerate() {
        fs::write(path.join(format!("f{i}")), vec![*byte; 3000]).unwrap();
    }
    let mut image = pack(&[path], &dir.path().join("s"), &["-b", "4096"]);
    assert!(squashfs::closure_of_reader(Cursor::new(image.clone()), "honest").is_ok());
    // The fragment table's index points at one uncompressed metadata block
    // (2-byte header) of 16-byte entries: start, size, unused.
    let entries = u64_at(&image, u64_at(&image, 80)) + 2;
    let first_start = image[entries..entries + 8].to_vec();
    image[entries + 16..entries + 24].copy_from_slice(&first_start);
    let err = refusal(image);
    assert!(err.contains("two entries of its fragment table"), "{err}");
}

#[test]
fn a_directory_index_pointing_inside_a_listing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nix/store").join(A);
    fs::create_dir_all(&path).unwrap();
    // A listing over several 8 KiB metadata blocks gets an index.
    let names: Vec<String> = (0..400)
        .map(|i| format!("entry-{i:04}-{}", "x".repeat(80)))
        .collect();
    for name in &names {
        fs::write(path.join(name), name).unwrap();
    }
    let mut image = pack(&[path], &dir.path().join("s"), &[]);
    assert!(squashfs::closure_of_reader(Cursor::new(image.clone()), "honest").is_ok());
    // An index entry is: offset in the listing, block, name size - 1, name.
    let (inodes, _) = tables(&image);
    let indexed = names
        .iter()
        .find_map(|name| {
            let mut pattern = ((name.len() - 1) as u32).to_le_bytes().to_vec();
            pattern.extend(name.as_bytes());
            image[inodes.clone()]
                .windows(pattern.len())
                .position(|window| window == pattern.as_slice())
                .map(|i| inodes.start + i - 8)
        })
        .expect("mksquashfs indexed the large directory");
    let offset = u32::from_le_bytes(image[indexed..indexed + 4].try_into().unwrap());
    image[indexed..indexed + 4].copy_from_slice(&(offset + 1).to_le_bytes());
    let err = refusal(image);
    assert!(err.contains("directory index"), "{err}");
}

/// How many corruptions CI tries.
const CORRUPTIONS: usize = 300;

#[test]
fn on_corrupted_tables_we_refuse_or_agree_with_unsquashfs() {
    let dir = tempfile::tempdir().unwrap();
    let image = pack(&store(dir.path()), &dir.path().join("s"), &[]);
    let (inodes, directories) = tables(&image);
    let metadata = inodes.start..directories.end;
    // SEED_IMAGE_CORRUPTION=<n> tries another sequence of corruptions.
    let seed = std::env::var("SEED_IMAGE_CORRUPTION").map_or(0x5eed_1dea_f00d_cafe, |seed| {
        seed.parse::<u64>().unwrap() | 1
    });
    let mut rng = Rng::new(seed);
    let (mut refused, mut agreed) = (0, 0);
    for case in 0..CORRUPTIONS {
        let mut crafted = image.clone();
        for _ in 0..1 + rng.below(3) {
            let at = metadata.start + rng.below(metadata.len());
            crafted[at] = match rng.below(3) {
                0 => crafted[at] ^ (1 << rng.below(8)),
                1 => crafted[at].wrapping_add(1),
                _ => rng.below(256) as u8,
            };
        }
        // A small bound: whatever we accept, unsquashfs unpacks.
        let ours = squashfs::closure_with_limit(Cursor::new(crafted.clone()), "corrupt", 1 << 20);
        let Ok(ours) = ours else {
            refused += 1;
            continue;
        };
        let file = dir.path().join(format!("case-{case}.squashfs"));
        fs::write(&file, &crafted).unwrap();
        let root = dir.path().join(format!("case-{case}"));
        let store = root.join("nix/store");
        fs::create_dir_all(root.join("nix")).unwrap();
        let unpacked = std::process::Command::new("unsquashfs")
            .args(["-no-progress", "-no-xattrs", "-d"])
            .args([&store, &file])
            .output()
            .unwrap();
        assert!(
            unpacked.status.success(),
            "case {case} of seed {seed}: we read {:?} but unsquashfs fails: {}",
            ours.manifest,
            String::from_utf8_lossy(&unpacked.stderr)
        );
        let (theirs, _) = tree_manifest(&root).unwrap();
        assert_eq!(ours.manifest, theirs, "case {case} of seed {seed}");
        agreed += 1;
    }
    // The corruptions must exercise both outcomes to mean anything.
    assert!(
        refused > 0 && agreed > 0,
        "refused {refused}, agreed {agreed}"
    );
}

/// Writes the contents of a `.seed/` directory.
type WriteSeedDir<'a> = Box<dyn FnOnce(&Path) + 'a>;

/// A seed of `paths` with `.seed/` as `write_seed_dir` makes it.
fn seed_with(dir: &Path, paths: &[PathBuf], write_seed_dir: impl FnOnce(&Path)) -> Vec<u8> {
    let seed_dir = dir.join("staging/.seed");
    fs::create_dir_all(&seed_dir).unwrap();
    write_seed_dir(&seed_dir);
    let mut roots = paths.to_vec();
    roots.push(seed_dir);
    pack(&roots, &dir.join("seed.squashfs"), &[])
}

#[test]
fn the_seed_metadata_must_describe_exactly_the_closure() {
    let dir = tempfile::tempdir().unwrap();
    let paths = store(dir.path());
    let env = Path::new("/nix/store").join(A).join("bin");
    let honest = seed_with(dir.path(), &paths, |seed| {
        fs::write(seed.join("registration"), registration(&paths)).unwrap();
        symlink(&env, seed.join("env")).unwrap();
    });
    assert_eq!(
        squashfs::closure_of_reader(Cursor::new(honest), "honest")
            .unwrap()
            .paths
            .len(),
        2
    );

    let other = tempfile::tempdir().unwrap();
    let other_paths = store(other.path());
    fs::write(other_paths[0].join("alpha"), "changed\n").unwrap();
    let cases: Vec<(&str, WriteSeedDir)> = vec![
        (
            "registers /nix/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-a with NAR hash",
            Box::new(|seed: &Path| {
                fs::write(seed.join("registration"), registration(&other_paths)).unwrap();
            }),
        ),
        (
            "does not register",
            Box::new(|seed: &Path| {
                fs::write(seed.join("registration"), registration(&paths[..1])).unwrap();
            }),
        ),
        (
            "malformed Nix registration",
            Box::new(|seed: &Path| fs::write(seed.join("registration"), "junk\n").unwrap()),
        ),
        (
            "links to '/nix/store/00000000000000000000000000000000-elsewhere'",
            Box::new(|seed: &Path| {
                symlink(
                    "/nix/store/00000000000000000000000000000000-elsewhere",
                    seed.join("env"),
                )
                .unwrap();
            }),
        ),
        (
            "/.seed/extra",
            Box::new(|seed: &Path| fs::write(seed.join("extra"), "x").unwrap()),
        ),
    ];
    for (expected, write_seed_dir) in cases {
        let case = tempfile::tempdir().unwrap();
        let image = seed_with(case.path(), &paths, write_seed_dir);
        let err = refusal(image);
        assert!(err.contains(expected), "{expected}: {err}");
    }
}

#[test]
fn no_dot_entry_but_the_seed_directory_may_sit_beside_the_store_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut roots = store(dir.path());
    let links = dir.path().join("staging/.links");
    fs::create_dir_all(&links).unwrap();
    fs::write(
        links.join("0ab"),
        "a file Nix's store optimiser would trust",
    )
    .unwrap();
    roots.push(links);
    let err = refusal(pack(&roots, &dir.path().join("s"), &[]));
    assert!(err.contains("'/.links'"), "{err}");
    assert!(err.contains("not a store path"), "{err}");
}

/// unsquashfs and our reader agree on the honest image too (the corruption
/// test's baseline).
#[test]
fn the_honest_image_reads_as_unsquashfs_unpacks_it() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("s");
    pack(&store(dir.path()), &image, &[]);
    let root = dir.path().join("unpacked");
    fs::create_dir_all(root.join("nix")).unwrap();
    tool(
        "unsquashfs",
        &[
            "-no-progress",
            "-d",
            root.join("nix/store").to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    assert_eq!(
        squashfs::closure_of_file(&image, "s").unwrap().manifest,
        tree_manifest(&root).unwrap().0
    );
}
