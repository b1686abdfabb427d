//! The tar-layer reader against real Nix, Python's tarfile in the dockerTools
//! layout and GNU tar: the layers of a closure yield the manifest Nix computes.

#![allow(clippy::unwrap_used)]

use std::{fs::File, io::BufReader, path::Path};

use seed_image::{format::Compression, layers::Layers};
use seed_nix::Nix;
use seed_testkit::nix::{closure, docker_tools_layer, gnu_tar_layer};

fn read(
    layers: &[(&Path, Compression)],
) -> Result<seed_image::ImageClosure, seed_image::ContentError> {
    let mut reader = Layers::new();
    for (path, compression) in layers {
        let file = BufReader::new(File::open(path).unwrap());
        reader.add(file, *compression, &path.display().to_string())?;
    }
    reader.finish()
}

#[test]
fn docker_tools_and_gnu_tar_layers_have_the_manifest_nix_computes() {
    let closure = closure("seed-image-tar", "");
    let from_nix = Nix::default().closure_manifest(&closure.top).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (first, rest) = closure.paths.split_at(1);

    // dockerTools: one path alone, the rest together, gzip and plain.
    let one = dir.path().join("one.tar.gz");
    let others = dir.path().join("others.tar");
    docker_tools_layer(Path::new("/"), first, &one, "gz");
    docker_tools_layer(Path::new("/"), rest, &others, "");
    let read_back = read(&[(&one, Compression::Gzip), (&others, Compression::None)]).unwrap();
    assert_eq!(read_back.manifest, from_nix);
    assert_eq!(read_back.entries_outside_store, 0);

    // GNU tar, relative names, file-system order; and zstd.
    let gnu = dir.path().join("gnu.tar");
    gnu_tar_layer(Path::new("/"), &closure.paths, &gnu);
    assert_eq!(
        read(&[(&gnu, Compression::None)]).unwrap().manifest,
        from_nix
    );
    let zst = dir.path().join("gnu.tar.zst");
    let bytes = std::fs::read(&gnu).unwrap();
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    assert_eq!(
        read(&[(&zst, Compression::Zstd)]).unwrap().manifest,
        from_nix
    );

    // The same path in two layers is refused, naming both.
    let err = read(&[(&others, Compression::None), (&gnu, Compression::None)]).unwrap_err();
    assert!(
        err.to_string().contains("others.tar") && err.to_string().contains("gnu.tar"),
        "{err}"
    );
}

/// The synthetic seeds tests and the demo push hold the closure they claim:
/// two builders' images differ, their content does not.
#[test]
fn synthetic_seeds_hold_the_closure_they_claim() {
    let (one, claimed) = seed_oci::ImageContent::synthetic_seed("closure c", "builder 1").unwrap();
    let (two, same) = seed_oci::ImageContent::synthetic_seed("closure c", "builder 2").unwrap();
    let (_, other) = seed_oci::ImageContent::synthetic_seed("closure d", "builder 1").unwrap();
    assert_eq!(claimed, same);
    assert_ne!(claimed, other);
    assert_ne!(one.manifest().digest(), two.manifest().digest());
    let mut reader = Layers::new();
    reader
        .add(&one.layers[0].1[..], Compression::None, "synthetic")
        .unwrap();
    assert_eq!(reader.finish().unwrap().manifest, claimed);
}
