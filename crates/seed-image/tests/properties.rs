//! Bounded property tests: random trees of store paths, packed by independent
//! tools (mksquashfs with mkSeed's flags, Python's tarfile in the dockerTools
//! layout, GNU tar with hard links) and by `seed build`, read back to the
//! manifest the tree hasher computes (itself checked against Nix in seed-nix).
//! The case count is fixed and small so CI stays fast; each case prints its
//! seed, so a failure reproduces with `SEED_IMAGE_CASE=<seed>`.

#![allow(clippy::unwrap_used)]

use std::{
    fs::{self, File},
    io::BufReader,
    os::unix::fs::{symlink, PermissionsExt},
    path::{Path, PathBuf},
};

use seed_image::{
    build::{write_squashfs, SeedSpec},
    format::Compression,
    layers::Layers,
    squashfs,
};
use seed_nix::tree_manifest;
use seed_testkit::{
    nix::{docker_tools_layer, gnu_tar_layer, mksquashfs_seed, registration},
    rng::Rng,
};

/// How many random trees CI checks.
const CASES: u64 = 10;

const NAMES: &[&str] = &[
    "a", "B", "a-b", "a.b", "_x", "\u{e4}", "z9", "lib", "bin", "share",
];
const NIX32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// A random store path name.
fn store_name(rng: &mut Rng, i: usize) -> String {
    let hash: String = (0..32).map(|_| NIX32[rng.below(32)] as char).collect();
    format!("{hash}-p{i}{}", rng.pick(&["", "-dev", ".conf", "-1.2"]))
}

/// Fills `dir` with a random tree: files (sizes around the 8-byte padding,
/// the 4 KiB block and 128 KiB data block edges), executables, symlinks,
/// hard links, empty directories, nesting.
fn fill(rng: &mut Rng, dir: &Path, depth: u32, files: &mut Vec<PathBuf>) {
    fs::create_dir_all(dir).unwrap();
    let entries = 1 + rng.below(5);
    for _ in 0..entries {
        let name = dir.join(rng.pick(NAMES));
        if name.exists() || name.symlink_metadata().is_ok() {
            continue;
        }
        match rng.below(10) {
            0..=4 => {
                let size = [0, 1, 7, 8, 9, 4095, 4096, 131_071, 131_072, 200_003][rng.below(10)];
                let byte = rng.below(256) as u8;
                let bytes: Vec<u8> = (0..size)
                    .map(|i| byte.wrapping_add((i % 251) as u8))
                    .collect();
                fs::write(&name, bytes).unwrap();
                if rng.below(3) == 0 {
                    fs::set_permissions(&name, fs::Permissions::from_mode(0o755)).unwrap();
                }
                files.push(name);
            }
            5 => symlink(rng.pick(&["../a", "/nix/store/x", "b", "."]), &name).unwrap(),
            6 if !files.is_empty() => {
                let target = &files[rng.below(files.len())];
                fs::hard_link(target, &name).unwrap();
            }
            _ if depth < 4 => fill(rng, &name, depth + 1, files),
            _ => fs::create_dir(&name).unwrap(),
        }
    }
}

/// A random store under `root/nix/store`: 1 to 5 paths, each a directory
/// tree, a single file or a symlink. Returns the paths.
fn random_store(rng: &mut Rng, root: &Path) -> Vec<PathBuf> {
    let store = root.join("nix/store");
    fs::create_dir_all(&store).unwrap();
    let mut files = Vec::new();
    let mut paths = Vec::new();
    for i in 0..1 + rng.below(5) {
        let path = store.join(store_name(rng, i));
        match rng.below(6) {
            0 => fs::write(&path, format!("file path {i}")).unwrap(),
            1 => symlink("/nix/store/elsewhere", &path).unwrap(),
            _ => fill(rng, &path, 0, &mut files),
        }
        paths.push(path);
    }
    paths.sort();
    paths
}

fn read_layer(path: &Path, compression: Compression) -> seed_nix::ClosureManifest {
    let mut layers = Layers::new();
    layers
        .add(
            BufReader::new(File::open(path).unwrap()),
            compression,
            &path.display().to_string(),
        )
        .unwrap();
    layers.finish().unwrap().manifest
}

#[test]
fn every_packing_of_a_random_store_reads_back_to_its_manifest() {
    let seeds: Vec<u64> = match std::env::var("SEED_IMAGE_CASE") {
        Ok(seed) => vec![seed.parse().unwrap()],
        Err(_) => (1..=CASES)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect(),
    };
    for seed in seeds {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng::new(seed);
        let paths = random_store(&mut rng, dir.path());
        let (expected, _) = tree_manifest(dir.path()).unwrap();
        let case = |what: &str| format!("case SEED_IMAGE_CASE={seed}, {what}");

        let mksquashfs = dir.path().join("mk.squashfs");
        mksquashfs_seed(&paths, &mksquashfs, &["-comp", "gzip"]);
        let read = squashfs::closure_of_file(&mksquashfs, "mk")
            .unwrap()
            .manifest;
        assert_eq!(read, expected, "{}", case("mksquashfs"));

        let built = dir.path().join("built.squashfs");
        let spec = SeedSpec {
            paths: paths.clone(),
            registration: registration(&paths),
            env: None,
            epoch: 1,
        };
        write_squashfs(&spec, &built).unwrap();
        let read = squashfs::closure_of_file(&built, "built").unwrap().manifest;
        assert_eq!(read, expected, "{}", case("seed build"));

        let docker = dir.path().join("docker.tar.gz");
        docker_tools_layer(dir.path(), &paths, &docker, "gz");
        assert_eq!(
            read_layer(&docker, Compression::Gzip),
            expected,
            "{}",
            case("dockerTools layer")
        );

        let gnu = dir.path().join("gnu.tar");
        gnu_tar_layer(dir.path(), &paths, &gnu);
        assert_eq!(
            read_layer(&gnu, Compression::None),
            expected,
            "{}",
            case("GNU tar layer with hard links")
        );
    }
}
