//! The squashfs reader against real Nix and Debian's mksquashfs: a seed packed
//! the way upstream's mkSeed packs it yields the manifest Nix computes for the
//! same closure, byte for byte.

#![allow(clippy::unwrap_used)]

use seed_image::squashfs;
use seed_nix::Nix;
use seed_testkit::nix::{closure, mksquashfs_seed};

#[test]
fn a_mkseed_squashfs_has_the_manifest_nix_computes() {
    let closure = closure("seed-image-sq", "");
    let from_nix = Nix::default().closure_manifest(&closure.top).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("zstd.squashfs", &[][..]),
        (
            "gzip-small-blocks.squashfs",
            &["-comp", "gzip", "-b", "4096"][..],
        ),
        (
            "xz-no-fragments.squashfs",
            &["-comp", "xz", "-no-fragments"][..],
        ),
        ("lz4.squashfs", &["-comp", "lz4"][..]),
    ] {
        let image = dir.path().join(name);
        mksquashfs_seed(&closure.paths, &image, extra);
        let read = squashfs::closure_of_file(&image, name).unwrap();
        assert_eq!(read.manifest, from_nix, "{name}");
        assert_eq!(read.entries_outside_store, 0);
    }
}
