//! Seeds built from a real Nix closure: deterministic, read back by our reader
//! and by Debian's unsquashfs to the manifest Nix computes, and read from a
//! real registry after an independent client (skopeo) pushed them.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use seed_image::{
    build::{write_layout, write_squashfs, SeedSpec},
    oci_layout::{image_closure, LayoutRef},
    registry, squashfs,
};
use seed_nix::{tree_manifest, Nix, StorePath};
use seed_oci::{RegistryClient, Repository};
use seed_testkit::{
    nix::{closure, tool},
    registry::TestRegistry,
};

/// The seed of `paths`, with the registration Nix writes for them.
fn spec(paths: Vec<std::path::PathBuf>) -> SeedSpec {
    let mut store_paths: Vec<StorePath> = paths
        .iter()
        .map(|path| path.to_str().unwrap().parse().unwrap())
        .collect();
    store_paths.sort();
    SeedSpec {
        env: Some(paths[0].clone()),
        registration: Nix::default().registration(&store_paths).unwrap(),
        paths,
        epoch: 1,
    }
}

#[test]
fn a_built_seed_is_deterministic_and_holds_the_closure() {
    let closure = closure("seed-image-build", "");
    let from_nix = Nix::default().closure_manifest(&closure.top).unwrap();
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();

    let first = one.path().join("seed.squashfs");
    write_squashfs(&spec(closure.paths.clone()), &first).unwrap();
    // Another directory, the paths in another order: the same bytes.
    let mut shuffled = closure.paths.clone();
    shuffled.reverse();
    shuffled.rotate_left(2);
    let mut reordered = spec(shuffled);
    reordered.env = Some(closure.paths[0].clone());
    let second = two.path().join("nested/other-name.squashfs");
    std::fs::create_dir_all(second.parent().unwrap()).unwrap();
    write_squashfs(&reordered, &second).unwrap();
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );

    // Our reader, and unsquashfs unpacking it for the tree hasher.
    assert_eq!(
        squashfs::closure_of_file(&first, "seed").unwrap().manifest,
        from_nix
    );
    let unpacked = one.path().join("unpacked");
    tool(
        "unsquashfs",
        &[
            "-no-progress",
            "-quiet",
            "-d",
            unpacked.to_str().unwrap(),
            first.to_str().unwrap(),
        ],
    );
    assert_eq!(tree_manifest(&unpacked).unwrap().0, from_nix);
    assert!(unpacked.join(".seed/registration").is_file());

    // Into two layouts: the same image digest.
    let layout_one = one.path().join("layout");
    let layout_two = two.path().join("layout");
    let a = write_layout(&first, "x86_64-linux", &layout_one, "seed").unwrap();
    let b = write_layout(&second, "x86_64-linux", &layout_two, "seed").unwrap();
    assert_eq!(a, b);
    let (manifest, read) =
        image_closure(&LayoutRef::parse(&format!("{}:seed", layout_one.display())).unwrap())
            .unwrap();
    assert_eq!(manifest.digest(), a.manifest);
    assert_eq!(read.manifest, from_nix);

    // A different SOURCE_DATE_EPOCH is a different image, the same closure.
    let later = one.path().join("later.squashfs");
    let mut spec_later = spec(closure.paths.clone());
    spec_later.epoch = 1_700_000_000;
    write_squashfs(&spec_later, &later).unwrap();
    assert_ne!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&later).unwrap()
    );
    assert_eq!(
        squashfs::closure_of_file(&later, "later").unwrap().manifest,
        from_nix
    );

    // Pushed by skopeo, read back from the registry as it streams.
    let registry = TestRegistry::start().unwrap();
    let target = format!("{}/seeds/build", registry.host());
    push_layout(&layout_one, &target);
    let client = RegistryClient::plain_http(&[registry.host().as_str()]).unwrap();
    let repo: Repository = target.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pulled = runtime
        .block_on(registry::image_closure(&client, &repo, &a.manifest))
        .unwrap();
    assert_eq!(pulled.manifest, from_nix);
}

fn push_layout(layout: &Path, target: &str) {
    tool(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:seed", layout.display()),
            &format!("docker://{target}:seed"),
        ],
    );
}

/// What a registry holds under an image's digests that the image's manifest
/// misdescribes is the image's fault, refused the same way by every reader,
/// not a registry outage to retry forever: here a layer descriptor that
/// understates or overstates its blob's size.
#[test]
fn a_layer_descriptor_that_misstates_its_blob_is_refused_as_content() {
    let closure = closure("seed-image-build", "");
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.squashfs");
    write_squashfs(&spec(closure.paths.clone()), &seed).unwrap();
    let bytes = std::fs::read(&seed).unwrap();

    let registry = TestRegistry::start().unwrap();
    let client = RegistryClient::plain_http(&[registry.host().as_str()]).unwrap();
    let repo: Repository = format!("{}/seeds/lying", registry.host()).parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (size, expected) in [
        (bytes.len() - 1, "larger than"),
        (bytes.len() + 1, "not the"),
    ] {
        let image = runtime.block_on(async {
            let layer = client.push_blob(&repo, &bytes).await.unwrap();
            let config = client.push_blob(&repo, b"{}").await.unwrap();
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/vnd.nix-seed.squashfs","digest":"{layer}","size":{size}}}]}}"#
            );
            let manifest =
                seed_oci::RawManifest::from_bytes(manifest.into_bytes(), "lying").unwrap();
            client.push_manifest(&repo, &manifest).await.unwrap();
            manifest.digest()
        });
        let err = runtime
            .block_on(registry::image_closure(&client, &repo, &image))
            .unwrap_err();
        assert!(err.is_content_fault(), "{err:?}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}
