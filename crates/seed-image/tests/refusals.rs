//! Every refusal of the image readers, each on a layer or image written by an
//! independent tool (Python's tarfile, Debian's mksquashfs), and a corpus of
//! malformed squashfs images: each a clean error naming the problem, no panic.

#![allow(clippy::unwrap_used)]

use std::{
    fs::{self, File},
    io::Cursor,
    process::Command,
};

use seed_image::{format::Compression, layers::Layers, squashfs};

const A: &str = "x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
const B: &str = "yzh350ar9sjyxywhk55sjhyd0r75khgs-b";

/// Writes a tar with Python's tarfile from `entries`, a Python list literal of
/// `(name, type, data_or_linkname, pax_headers)` tuples (types: "f", "d",
/// "l" symlink, "h" hard link, "c" char device, "p" FIFO, "s" a set-user-id
/// file, "D" a directory that claims `data` as its size), and returns its
/// bytes in the tarfile `format` (PAX_FORMAT, GNU_FORMAT).
fn python_tar(entries: &str, format: &str) -> Vec<u8> {
    python_tar_with_global(entries, format, "None")
}

/// [`python_tar`] with a global PAX header (`global`, a Python dict literal).
fn python_tar_with_global(entries: &str, format: &str, global: &str) -> Vec<u8> {
    let script = format!(
        r#"
import io, sys, tarfile
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.{format}, pax_headers={global}) as tar:
    for name, kind, data, pax in {entries}:
        ti = tarfile.TarInfo(name)
        ti.pax_headers = pax
        payload = None
        if kind == "f":
            payload = data.encode(); ti.size = len(payload); ti.mode = 0o644
        elif kind == "s": payload = data.encode(); ti.size = len(payload); ti.mode = 0o4755
        elif kind == "D":
            ti.type = tarfile.DIRTYPE; ti.mode = 0o755; payload = data.encode(); ti.size = len(payload)
        elif kind == "d": ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        elif kind == "l": ti.type = tarfile.SYMTYPE; ti.linkname = data
        elif kind == "h": ti.type = tarfile.LNKTYPE; ti.linkname = data
        elif kind == "c": ti.type = tarfile.CHRTYPE
        elif kind == "p": ti.type = tarfile.FIFOTYPE
        tar.addfile(ti, io.BytesIO(payload) if payload is not None else None)
sys.stdout.buffer.write(buf.getvalue())
"#
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn read_layers(layers: &[Vec<u8>]) -> Result<seed_image::ImageClosure, seed_image::ContentError> {
    let mut reader = Layers::new();
    for (i, layer) in layers.iter().enumerate() {
        reader.add(Cursor::new(layer), Compression::None, &format!("layer {i}"))?;
    }
    reader.finish()
}

#[test]
fn tar_layers_that_could_hide_or_alter_content_are_refused_naming_the_entry() {
    let file = |path: &str| format!("(\"{path}\", \"f\", \"x\", {{}})");
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!(
                "[{}, (\"nix/store/{A}/.wh.gone\", \"f\", \"\", {{}})]",
                file(&format!("nix/store/{A}/x"))
            ),
            ".wh.gone",
            "whiteout",
        ),
        (
            format!(
                "[{}, {}]",
                file(&format!("nix/store/{A}")),
                file("nix/store/.links/1x2y3z")
            ),
            ".links/1x2y3z",
            "not in a store path",
        ),
        (
            format!("[(\"nix/store/{A}/dev\", \"c\", \"\", {{}})]"),
            "dev",
            "character device",
        ),
        (
            format!("[(\"nix/store/{A}/fifo\", \"p\", \"\", {{}})]"),
            "fifo",
            "FIFO",
        ),
        (
            format!(
                "[{}, {}]",
                file(&format!("nix/store/{A}/x")),
                file(&format!("/nix/store/{A}/x"))
            ),
            "/x",
            "appears twice",
        ),
        (
            format!("[(\"nix/store/{A}/h\", \"h\", \"nix/store/{B}/missing\", {{}})]"),
            "/h",
            "not an earlier entry",
        ),
        (
            format!(
                "[{}, (\"nix/store/{A}/h\", \"h\", \"etc/passwd\", {{}})]",
                file("etc/passwd")
            ),
            "/h",
            "outside the store",
        ),
        (
            file(&format!("nix/store/{A}/../../../etc/x")),
            "etc/x",
            "escape",
        ),
        (file(&format!("nix/store/{A}//x")), "//x", "path component"),
        (
            file("nix/store/not-a-store-path"),
            "not-a-store-path",
            "not a store path",
        ),
        (file(&format!("nix/store/{A}/dir/")), "/dir/", "ends in '/'"),
        (
            format!("[(\"nix/store/{A}/su\", \"s\", \"x\", {{}})]"),
            "/su",
            "set-user-id",
        ),
        (
            format!(
                "[(\"nix/store/{A}/cap\", \"f\", \"x\", {{\"SCHILY.xattr.security.capability\": \"x\"}})]"
            ),
            "/cap",
            "extended attribute",
        ),
        (
            format!(
                "[(\"nix/store/{A}/d\", \"D\", \"{}\", {{}})]",
                "h".repeat(1024)
            ),
            "/d",
            "claims a data size",
        ),
        (
            format!(
                "[{}, {}]",
                file(&format!("nix/store/{A}")),
                file(&format!("nix/store/{A}/x"))
            ),
            "/x",
            "not a directory",
        ),
        (
            format!("[(\"nix/store/{A}/p\", \"f\", \"x\", {{\"size\": \"0\"}})]"),
            "/p",
            "PAX 'size'",
        ),
        (
            format!("[(\"nix/store/{A}/s\", \"f\", \"x\", {{\"GNU.sparse.map\": \"0,1\"}})]"),
            "/s",
            "sparse",
        ),
    ];
    for (entries, entry, problem) in cases {
        let entries = if entries.starts_with('[') {
            entries
        } else {
            format!("[{entries}]")
        };
        let layer = python_tar(&entries, "PAX_FORMAT");
        let err = match read_layers(&[layer]) {
            Ok(closure) => panic!("{entries}: accepted as {:?}", closure.manifest),
            Err(err) => err.to_string(),
        };
        assert!(
            err.contains(entry) && err.contains(problem),
            "{entries}: expected '{entry}' and '{problem}' in: {err}"
        );
    }
}

#[test]
fn a_global_pax_header_that_renames_later_entries_is_refused() {
    let entries = format!("[(\"nix/store/{A}\", \"f\", \"x\", {{}})]");
    let renaming = python_tar_with_global(
        &entries,
        "PAX_FORMAT",
        &format!("{{\"path\": \"nix/store/{B}\"}}"),
    );
    let err = read_layers(&[renaming]).unwrap_err().to_string();
    assert!(err.contains("global PAX header setting 'path'"), "{err}");
    // A harmless global header (a comment) is accepted.
    let comment = python_tar_with_global(&entries, "PAX_FORMAT", "{\"comment\": \"built by CI\"}");
    assert_eq!(read_layers(&[comment]).unwrap().paths.len(), 1);
}

#[test]
fn a_pax_path_overridden_by_a_gnu_long_name_is_refused() {
    // A GNU long-name record followed by an entry whose PAX path says
    // otherwise: tar-rs reads one name, GNU tar and Go the other.
    let long = format!("nix/store/{A}/{}", "l".repeat(120));
    let gnu = python_tar(&format!("[(\"{long}\", \"f\", \"x\", {{}})]"), "GNU_FORMAT");
    let pax = python_tar(
        &format!("[(\"{long}\", \"f\", \"x\", {{\"path\": \"nix/store/{A}/other\"}})]"),
        "PAX_FORMAT",
    );
    // The GNU record (header + name blocks) then the PAX entry's records.
    let gnu_records = &gnu[..512 * 2];
    let mut spliced = gnu_records.to_vec();
    spliced.extend_from_slice(&pax);
    let err = read_layers(&[spliced]).unwrap_err().to_string();
    assert!(err.contains("disagrees"), "{err}");
}

#[test]
fn entries_outside_the_store_are_counted_and_not_hashed() {
    let layer = python_tar(
        &format!(
            "[(\"etc/profile\", \"f\", \"PATH=/evil\", {{}}), (\"./nix/store/{A}\", \"f\", \"a\", {{}})]"
        ),
        "PAX_FORMAT",
    );
    let closure = read_layers(&[layer]).unwrap();
    assert_eq!(closure.entries_outside_store, 1);
    assert_eq!(closure.paths.len(), 1);
}

/// Truncations and corruptions of a real mksquashfs image, and images whose
/// tables claim absurd sizes: each is an error (or, where the corruption hit
/// only file data, a different manifest), never a panic or a hang.
#[test]
fn malformed_squashfs_images_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(A);
    fs::create_dir_all(tree.join("sub")).unwrap();
    fs::write(tree.join("sub/f"), vec![7u8; 200_000]).unwrap();
    fs::write(tree.join("small"), b"tail").unwrap();
    let image = dir.path().join("seed.squashfs");
    seed_testkit::nix::mksquashfs_seed(std::slice::from_ref(&tree), &image, &["-comp", "gzip"]);
    let good = fs::read(&image).unwrap();
    squashfs::closure_of_reader(Cursor::new(good.clone()), "good").unwrap();

    // (name, bytes, whether it must be refused)
    let mut corpus: Vec<(String, Vec<u8>, bool)> = Vec::new();
    // Past `bytes_used` (superblock offset 40) is padding: cut inside the image.
    let used = u64::from_le_bytes(good[40..48].try_into().unwrap()) as usize;
    for len in [0, 3, 4, 95, 96, 200, used / 2, used - 1] {
        corpus.push((format!("truncated to {len}"), good[..len].to_vec(), true));
    }
    // Every 8-byte field of the superblock set to extremes.
    for offset in (4..96).step_by(8) {
        for value in [0u8, 0xff] {
            let mut bad = good.clone();
            bad[offset..offset + 8].fill(value);
            // Some fields (flags, the time) may take any value.
            corpus.push((
                format!("superblock bytes {offset}.. = {value:#x}"),
                bad,
                false,
            ));
        }
    }
    // Bits flipped across the second half of the image, where its tables are.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = used / 2 + (state as usize) % (used - used / 2);
        let mut bad = good.clone();
        bad[at] ^= 1 << (i % 8);
        corpus.push((format!("bit flip at {at}"), bad, false));
    }
    let mut refused = 0;
    for (name, bytes, must_fail) in corpus {
        let started = std::time::Instant::now();
        let result =
            std::panic::catch_unwind(|| squashfs::closure_of_reader(Cursor::new(bytes), &name));
        let result = result.unwrap_or_else(|_| panic!("{name}: the reader panicked"));
        match &result {
            Err(error) => {
                refused += 1;
                assert!(error.is_content_fault(), "{name}: {error}");
            }
            Ok(closure) => assert!(!must_fail, "{name}: accepted as {:?}", closure.manifest),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
    // Most corruptions of the tables are caught, not silently read past.
    eprintln!("{refused} of the corpus refused");
    assert!(refused > 80, "only {refused} corruptions refused");
}

/// A tar bomb (a small compressed layer that unpacks to far more), a layer
/// of very many entries, and absurd paths hit their bounds with a named
/// error, before memory or disk run out.
#[test]
fn tar_bombs_and_absurd_layers_hit_their_bounds() {
    use seed_image::layers::Limits;
    let small = Limits {
        max_layer_content: 1 << 20,
        max_entries: 100,
        max_path_bytes: 200,
        max_depth: 8,
        max_index_bytes: 1 << 20,
    };
    let read_with = |limits: Limits, bytes: Vec<u8>, compression: Compression| {
        let mut reader = Layers::with_limits(limits);
        reader
            .add(Cursor::new(bytes), compression, "bomb")
            .and_then(|()| reader.finish())
    };
    let read = |bytes: Vec<u8>, compression: Compression| {
        let mut reader = Layers::with_limits(small);
        reader
            .add(Cursor::new(bytes), compression, "bomb")
            .and_then(|()| reader.finish())
    };
    // 8 MiB of zeros in a file, gzip-compressed to about 8 KiB.
    let bomb = python_tar(
        &format!("[(\"nix/store/{A}/zeros\", \"f\", \"\\0\" * (8 << 20), {{}})]"),
        "PAX_FORMAT",
    );
    let compressed = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&bomb).unwrap();
        encoder.finish().unwrap()
    };
    assert!(compressed.len() < 1 << 20);
    let err = read(compressed, Compression::Gzip).unwrap_err().to_string();
    assert!(err.contains("more than 1048576 bytes of files"), "{err}");

    let many: Vec<String> = (0..150)
        .map(|i| format!("(\"nix/store/{A}/f{i}\", \"f\", \"x\", {{}})"))
        .collect();
    let err = read(
        python_tar(&format!("[{}]", many.join(",")), "PAX_FORMAT"),
        Compression::None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("100 entries"), "{err}");

    // 30 entries that each imply 4 parent directories the layer never lists:
    // the parents count against the entries, and the index's memory is bound.
    let implying: Vec<String> = (0..30)
        .map(|i| format!("(\"nix/store/{A}/p{i}/a/b/c/f\", \"f\", \"x\", {{}})"))
        .collect();
    let implying = python_tar(&format!("[{}]", implying.join(",")), "PAX_FORMAT");
    let err = read(implying.clone(), Compression::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("parent directories they imply"), "{err}");
    let small_index = Limits {
        max_entries: 1_000_000,
        max_index_bytes: 8 << 10,
        ..small
    };
    let err = read_with(small_index, implying.clone(), Compression::None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("8192 bytes of index"), "{err}");
    assert!(read_with(
        Limits {
            max_entries: 1_000_000,
            ..small
        },
        implying,
        Compression::None
    )
    .is_ok());

    let deep = format!("nix/store/{A}/{}", "d/".repeat(10));
    let err = read(
        python_tar(
            &format!("[(\"{deep}f\", \"f\", \"x\", {{}})]"),
            "PAX_FORMAT",
        ),
        Compression::None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("nested deeper than 8"), "{err}");

    let long = format!("nix/store/{A}/{}", "l".repeat(300));
    let err = read(
        python_tar(&format!("[(\"{long}\", \"f\", \"x\", {{}})]"), "PAX_FORMAT"),
        Compression::None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("longer than 200 bytes"), "{err}");

    // Garbage and truncation: clean errors.
    for bytes in [b"not a tar at all".repeat(64), bomb[..700].to_vec()] {
        assert!(read(bytes, Compression::None).is_err());
    }
    assert!(read(b"\x1f\x8b garbage".to_vec(), Compression::Gzip).is_err());
    assert!(read(b"garbage".to_vec(), Compression::Zstd).is_err());
}

/// A squashfs seed holding a device, a FIFO or a socket in a store path (made
/// with mksquashfs pseudo-definitions, as no unprivileged user can create a
/// device) is refused, naming the entry and its kind.
#[test]
fn special_files_in_a_squashfs_seed_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(A);
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("f"), b"x").unwrap();
    for (pseudo, kind) in [
        (format!("{A}/dev c 644 0 0 1 3"), "character device"),
        (format!("{A}/disk b 644 0 0 8 0"), "block device"),
        (format!("{A}/pipe i 644 0 0 f"), "FIFO"),
        (format!("{A}/sock i 644 0 0 s"), "socket"),
    ] {
        let image = dir.path().join("special.squashfs");
        seed_testkit::nix::mksquashfs_seed(
            std::slice::from_ref(&tree),
            &image,
            &["-comp", "gzip", "-p", &pseudo],
        );
        let err = squashfs::closure_of_file(&image, "special")
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("is a {kind}")), "{pseudo}: {err}");
    }
}

/// A seed nested as deep as a file system allows (about 2,000 levels, made by
/// mksquashfs) is read even from a thread with a small stack, as an async
/// runtime's blocking pool has: the tables are parsed on a thread sized for
/// the image. An image declaring absurdly many inodes is refused up front.
#[test]
fn deep_nesting_is_read_on_any_thread_and_absurd_inode_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(A);
    let script = format!(
        "import os\nos.makedirs({tree:?})\nos.chdir({tree:?})\n\
         for _ in range(2000):\n    os.mkdir('d'); os.chdir('d')\n\
         open('leaf', 'w').write('x')\n",
        tree = tree.display().to_string()
    );
    let status = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let image = dir.path().join("deep.squashfs");
    seed_testkit::nix::mksquashfs_seed(std::slice::from_ref(&tree), &image, &["-comp", "gzip"]);
    let bytes = fs::read(&image).unwrap();

    let small_stack = std::thread::Builder::new().stack_size(256 << 10);
    let read = small_stack
        .spawn({
            let bytes = bytes.clone();
            move || squashfs::closure_of_reader(Cursor::new(bytes), "deep").map(|c| c.paths.len())
        })
        .unwrap()
        .join()
        .expect("the reader overflowed a small stack");
    assert_eq!(read.unwrap(), 1);

    let mut absurd = bytes;
    absurd[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = squashfs::closure_of_reader(Cursor::new(absurd), "absurd")
        .unwrap_err()
        .to_string();
    assert!(err.contains("inodes, more than"), "{err}");
}

/// A sparse file declaring more than a seed may hold (mksquashfs stores the
/// holes of a sparse file as sparse blocks, so the image stays small) is
/// refused before any of it is hashed.
#[test]
fn a_squashfs_declaring_too_much_is_refused_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(A);
    fs::create_dir_all(&tree).unwrap();
    // 64 MiB of holes against a 1 MiB bound (the default is 256 GiB, which
    // mksquashfs would take minutes to scan).
    let sparse = File::create(tree.join("huge")).unwrap();
    sparse.set_len(64 << 20).unwrap();
    let image = dir.path().join("sparse.squashfs");
    seed_testkit::nix::mksquashfs_seed(std::slice::from_ref(&tree), &image, &["-comp", "gzip"]);
    assert!(fs::metadata(&image).unwrap().len() < 1 << 20);
    let bytes = fs::read(&image).unwrap();
    let err = squashfs::closure_with_limit(Cursor::new(bytes.clone()), "sparse", 1 << 20)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bytes, more than the 1048576"), "{err}");
    // Within the bound it is read (the holes are zeros).
    assert!(squashfs::closure_of_reader(Cursor::new(bytes), "sparse").is_ok());
}

/// A set-user-id file, or any extended attribute (a file capability, say), in
/// a squashfs seed is refused: a mount without nosuid would honour them and
/// the manifest would not show them.
#[test]
fn set_id_bits_and_extended_attributes_in_a_squashfs_seed_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(A);
    fs::create_dir_all(&tree).unwrap();
    let su = tree.join("su");
    fs::write(&su, b"#!/bin/sh\n").unwrap();
    fs::set_permissions(&su, fs::Permissions::from_mode(0o4755)).unwrap();
    let image = dir.path().join("suid.squashfs");
    seed_testkit::nix::mksquashfs_seed(std::slice::from_ref(&tree), &image, &["-comp", "gzip"]);
    let err = squashfs::closure_of_file(&image, "suid")
        .unwrap_err()
        .to_string();
    assert!(err.contains("set-user-id"), "{err}");

    fs::set_permissions(&su, fs::Permissions::from_mode(0o755)).unwrap();
    let status = Command::new("python3")
        .args([
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], 'user.seed', b'1')",
        ])
        .arg(&su)
        .status()
        .unwrap();
    assert!(status.success(), "setting an extended attribute failed");
    let image = dir.path().join("xattr.squashfs");
    seed_testkit::nix::mksquashfs_seed(std::slice::from_ref(&tree), &image, &["-comp", "gzip"]);
    let err = squashfs::closure_of_file(&image, "xattr")
        .unwrap_err()
        .to_string();
    assert!(err.contains("extended-attribute table"), "{err}");
}

/// A symlink anywhere in the image (a customisation layer's
/// `bin -> /nix/store/<path>/bin`, say) and an entry below it, in the same
/// layer or a later one: a runtime would write the entry through the link,
/// into a store path already hashed. Refused, naming the link; the link alone
/// is fine.
#[test]
fn entries_below_a_symlink_of_any_layer_are_refused() {
    let link = format!("[(\"bin\", \"l\", \"/nix/store/{A}/bin\", {{}}), (\"nix/store/{A}/bin/sh\", \"f\", \"honest\", {{}})]");
    let through = "[(\"bin/sh\", \"f\", \"trojan\", {})]";
    let alone = read_layers(&[python_tar(&link, "PAX_FORMAT")]).unwrap();
    assert_eq!(alone.entries_outside_store, 1);
    let err = read_layers(&[
        python_tar(&link, "PAX_FORMAT"),
        python_tar(through, "PAX_FORMAT"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("is below 'bin', a symlink"), "{err}");
    let same_layer = format!(
        "[(\"bin\", \"l\", \"/nix/store/{A}/bin\", {{}}), (\"bin/sh\", \"f\", \"x\", {{}})]"
    );
    let err = read_layers(&[python_tar(&same_layer, "PAX_FORMAT")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("is below 'bin'"), "{err}");
}

/// A layer whose bytes say another compression than its media type (a zstd
/// skippable frame in front of a "plain" tar, gzip labelled zstd), and a tar
/// with data after its end-of-archive marker, are refused: a runtime that
/// sniffs the bytes, or reads on, would unpack another tree.
#[test]
fn layers_that_runtimes_would_read_differently_are_refused() {
    let honest = python_tar(
        &format!("[(\"nix/store/{A}\", \"f\", \"x\", {{}})]"),
        "PAX_FORMAT",
    );
    let read = |bytes: Vec<u8>, compression: Compression| {
        let mut reader = Layers::new();
        reader
            .add(Cursor::new(bytes), compression, "layer")
            .map_err(|e| e.to_string())
    };
    assert!(read(honest.clone(), Compression::None).is_ok());

    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 0, 0, 0, 0];
    skippable.extend_from_slice(&honest);
    let err = read(skippable, Compression::None).unwrap_err();
    assert!(err.contains("bytes start like zstd"), "{err}");

    let gzipped = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&honest).unwrap();
        encoder.finish().unwrap()
    };
    let err = read(gzipped.clone(), Compression::Zstd).unwrap_err();
    assert!(
        err.contains("says zstd but its bytes start like gzip"),
        "{err}"
    );
    assert!(read(gzipped, Compression::Gzip).is_ok());

    let mut trailing = honest;
    trailing.extend_from_slice(b"a second archive, for readers that read on");
    let err = read(trailing, Compression::None).unwrap_err();
    assert!(err.contains("after its end-of-archive marker"), "{err}");
}

/// tar-rs holds a GNU long name, long link or PAX header in memory whole: one
/// claiming more than a megabyte is refused before a byte of it is read, so a
/// few KB of gzip cannot claim gigabytes of "name".
#[test]
fn oversized_tar_metadata_entries_are_refused_before_they_are_read() {
    for (format, expected) in [
        ("GNU_FORMAT", "GNU long name"),
        ("PAX_FORMAT", "PAX extended header"),
    ] {
        let long = format!("\"nix/store/{A}/\" + \"n\" * 1_100_000");
        let layer = python_tar(&format!("[({long}, \"f\", \"x\", {{}})]"), format);
        let err = read_layers(&[layer]).unwrap_err().to_string();
        assert!(err.contains(expected), "{format}: {err}");
    }

    // A long-name header claiming 8 GiB, and nothing after it.
    let mut bomb = python_tar(
        &format!(
            "[(\"nix/store/{A}/{}\", \"f\", \"x\", {{}})]",
            "n".repeat(200)
        ),
        "GNU_FORMAT",
    );
    assert_eq!(bomb[156], b'L');
    bomb[124..136].copy_from_slice(b"77777777777\0");
    bomb.truncate(1024);
    let err = read_layers(&[bomb]).unwrap_err().to_string();
    assert!(err.contains("claims 8589934591 bytes"), "{err}");
}
