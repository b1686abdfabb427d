//! Seeds built from a closure, deterministically: the same closure gives the
//! same squashfs bytes, and so the same image digest, on any machine and in
//! any directory, so honest builders agree on the image as well as on the
//! closure manifest.
//!
//! The format is upstream nix-seed's (`mkSeed`): store paths at the root of
//! one squashfs, a `.seed/` directory with `registration` (the
//! `nix-store --dump-db` of the closure) and an optional `env` symlink, pushed
//! as an OCI image with the empty config and one layer of media type
//! `application/vnd.nix-seed.<system>` titled `store.squashfs`.
//!
//! What makes the bytes a function of the closure alone (docs/decisions.md, D-046):
//! - entries are sorted bytewise by path (the writer's order), whatever order
//!   the paths are given in;
//! - every node's metadata comes from its NAR: owner and group 0 (root),
//!   mode 0555 for directories and executables, 0444 for other files, 0777 for
//!   symlinks; every mtime, and the image's, is `--source-date-epoch` (default
//!   1, Nix's store mtime);
//! - zstd level 9 (upstream's setting), 128 KiB blocks, fragments and
//!   duplicate-file detection as the writer always does them, no padding
//!   beyond the writer's 4 KiB default;
//! - no extended attributes, no hard links (each file stored once per name).

use std::{
    collections::BTreeMap,
    fs::{self, File},
    io::{BufWriter, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use backhand::{
    compression::{CompressionOptions, Compressor, Zstd},
    FilesystemCompressor, FilesystemWriter, NodeHeader,
};
use seed_core::Sha256Digest;
use seed_oci::{
    manifest::{sha256, Descriptor},
    RawManifest, RegistryClient, Repository, Tag, EMPTY_MEDIA_TYPE, OCI_MANIFEST,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{
    format::{SEED_MEDIA_TYPE_PREFIX, TITLE_ANNOTATION},
    oci_layout::{blob_path, REF_NAME_ANNOTATION},
    ContentError,
};

/// The zstd level upstream's mkSeed uses.
pub const ZSTD_LEVEL: u32 = 9;
/// The squashfs block size (mksquashfs' default).
pub const BLOCK_SIZE: u32 = 128 * 1024;
/// mtime when no epoch is given: what Nix gives store paths.
pub const DEFAULT_EPOCH: u32 = 1;
/// The title of a Linux seed layer.
pub const SQUASHFS_TITLE: &str = "store.squashfs";

/// What goes into a seed.
#[derive(Debug, Clone)]
pub struct SeedSpec {
    /// The closure's store paths, on disk (any order; each `<hash>-<name>`).
    pub paths: Vec<PathBuf>,
    /// `nix-store --dump-db` of the closure, for `.seed/registration`.
    pub registration: Vec<u8>,
    /// The store path `.seed/env` links to, if any.
    pub env: Option<PathBuf>,
    /// Every mtime in the image.
    pub epoch: u32,
}

/// Writes the seed squashfs to `out` (atomically: a temporary file renamed).
pub fn write_squashfs(spec: &SeedSpec, out: &Path) -> Result<(), ContentError> {
    let mut writer = FilesystemWriter::default();
    writer.set_time(spec.epoch);
    writer.set_block_size(BLOCK_SIZE);
    writer.set_only_root_id();
    writer.set_root_mode(0o555);
    writer.set_compressor(
        FilesystemCompressor::new(
            Compressor::Zstd,
            Some(CompressionOptions::Zstd(Zstd {
                compression_level: ZSTD_LEVEL,
            })),
        )
        .map_err(build_error)?,
    );
    let header = |mode: u16| NodeHeader::new(mode, 0, 0, spec.epoch);

    // Sorted by name, so the order the paths were given in cannot matter.
    let mut by_name = BTreeMap::new();
    for path in &spec.paths {
        let name = path.file_name().ok_or_else(|| ContentError::Path {
            path: path.clone(),
            problem: "is not a store path".to_owned(),
        })?;
        if by_name.insert(name.to_owned(), path.clone()).is_some() {
            return Err(ContentError::Path {
                path: path.clone(),
                problem: "is given twice".to_owned(),
            });
        }
    }
    for (name, source) in &by_name {
        add_tree(&mut writer, source, &Path::new("/").join(name), &header)?;
    }
    writer
        .push_dir("/.seed", header(0o555))
        .map_err(build_error)?;
    writer
        .push_file(
            std::io::Cursor::new(spec.registration.clone()),
            "/.seed/registration",
            header(0o444),
        )
        .map_err(build_error)?;
    if let Some(env) = &spec.env {
        writer
            .push_symlink(env, "/.seed/env", header(0o777))
            .map_err(build_error)?;
    }

    let dir = out.parent().unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ContentError::io(format!("a temporary file in {}", dir.display()), e))?;
    let mut file = BufWriter::new(temp.as_file());
    writer.write(&mut file).map_err(build_error)?;
    file.flush()
        .map_err(|e| ContentError::io(out.display().to_string(), e))?;
    drop(file);
    temp.as_file()
        .sync_all()
        .map_err(|e| ContentError::io(out.display().to_string(), e))?;
    temp.persist(out)
        .map_err(|e| ContentError::io(out.display().to_string(), e.error))?;
    Ok(())
}

/// Adds the file system node at `source` as `target`, and everything below a
/// directory, with the metadata its NAR implies.
fn add_tree(
    writer: &mut FilesystemWriter<'_, '_, '_>,
    source: &Path,
    target: &Path,
    header: &impl Fn(u16) -> NodeHeader,
) -> Result<(), ContentError> {
    let io_error = |e| ContentError::io(source.display().to_string(), e);
    let meta = fs::symlink_metadata(source).map_err(io_error)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        let link = fs::read_link(source).map_err(io_error)?;
        writer
            .push_symlink(link, target, header(0o777))
            .map_err(build_error)
    } else if kind.is_file() {
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            0o555
        } else {
            0o444
        };
        writer
            .push_file_from_path(source, target, header(mode))
            .map_err(build_error)
    } else if kind.is_dir() {
        writer
            .push_dir(target, header(0o555))
            .map_err(build_error)?;
        for name in seed_nix::nar::sorted_entries(source).map_err(io_error)? {
            add_tree(writer, &source.join(&name), &target.join(&name), header)?;
        }
        Ok(())
    } else {
        Err(ContentError::Path {
            path: source.to_owned(),
            problem: "is neither a file, a directory nor a symlink, so no store path can hold it"
                .to_owned(),
        })
    }
}

fn build_error(error: backhand::BackhandError) -> ContentError {
    ContentError::Build {
        reason: error.to_string(),
    }
}

/// A seed image: the image manifest's digest and bytes, and the layer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltSeed {
    /// Digest of the image manifest: the image digest builders attest.
    pub manifest: Sha256Digest,
    /// The manifest's bytes.
    pub manifest_bytes: Vec<u8>,
    /// Digest of the squashfs layer.
    pub layer: Sha256Digest,
    /// Size of the squashfs layer.
    pub layer_size: u64,
}

/// The seed image of `squashfs` for `system`: the layer's digest and size and
/// the manifest `oras push` writes for upstream's seeds (the empty config,
/// artifactType `application/vnd.unknown.artifact.v1`, one layer titled
/// `store.squashfs`), byte for byte the same for the same squashfs.
pub fn seed_image(squashfs: &Path, system: &str) -> Result<BuiltSeed, ContentError> {
    let (layer, layer_size) = hash_file(squashfs)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.unknown.artifact.v1",
        "config": Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_CONFIG),
        "layers": [{
            "mediaType": format!("{SEED_MEDIA_TYPE_PREFIX}{system}"),
            "digest": layer.to_string(),
            "size": layer_size,
            "annotations": { TITLE_ANNOTATION: SQUASHFS_TITLE },
        }],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| ContentError::Build {
        reason: e.to_string(),
    })?;
    Ok(BuiltSeed {
        manifest: sha256(&manifest_bytes),
        manifest_bytes,
        layer,
        layer_size,
    })
}

/// The empty config every seed image has.
const EMPTY_CONFIG: &[u8] = b"{}";

/// Writes the seed image of `squashfs` for `system` into the OCI layout `dir`
/// (created if needed), named `ref_name` in its index.
pub fn write_layout(
    squashfs: &Path,
    system: &str,
    dir: &Path,
    ref_name: &str,
) -> Result<BuiltSeed, ContentError> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(|e| ContentError::io(blobs.display().to_string(), e))?;
    let seed = seed_image(squashfs, system)?;
    let layer_path = blob_path(dir, &seed.layer);
    if !layer_path.exists() {
        copy_atomic(squashfs, &layer_path)?;
    }
    write_blob(dir, EMPTY_CONFIG)?;
    write_blob(dir, &seed.manifest_bytes)?;
    let mut descriptor = Descriptor::of(OCI_MANIFEST, &seed.manifest_bytes);
    descriptor.annotations = Some([(REF_NAME_ANNOTATION.to_owned(), ref_name.to_owned())].into());
    update_index(dir, descriptor, ref_name)?;
    write_new(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    Ok(seed)
}

/// Pushes the seed image of `squashfs` for `system` to `repo` (under `tag`
/// when given), the layer streamed from the file; returns what was pushed.
pub async fn push_seed(
    client: &RegistryClient,
    repo: &Repository,
    tag: Option<&Tag>,
    squashfs: &Path,
    system: &str,
) -> Result<BuiltSeed, ContentError> {
    let seed = seed_image(squashfs, system)?;
    client
        .push_blob_file(repo, squashfs, &seed.layer, seed.layer_size)
        .await?;
    client.push_blob(repo, EMPTY_CONFIG).await?;
    let manifest = RawManifest::from_bytes(seed.manifest_bytes.clone(), "the seed manifest")?;
    client.push_manifest(repo, &manifest).await?;
    if let Some(tag) = tag {
        client.push_manifest_to_tag(repo, tag, &manifest).await?;
    }
    Ok(seed)
}

/// Adds `descriptor` to the layout's index, replacing an image of the same name.
fn update_index(dir: &Path, descriptor: Descriptor, ref_name: &str) -> Result<(), ContentError> {
    let path = dir.join("index.json");
    let mut manifests: Vec<Descriptor> = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|index| serde_json::from_value(index["manifests"].clone()).ok())
            .ok_or_else(|| ContentError::Path {
                path: path.clone(),
                problem: "is not an OCI image index; remove it or write to another directory"
                    .to_owned(),
            })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ContentError::io(path.display().to_string(), e)),
    };
    manifests.retain(|d| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME_ANNOTATION))
            .is_none_or(|name| name != ref_name)
    });
    manifests.push(descriptor);
    let index =
        json!({ "schemaVersion": 2, "mediaType": seed_oci::OCI_INDEX, "manifests": manifests });
    let bytes = serde_json::to_vec_pretty(&index).map_err(|e| ContentError::Build {
        reason: e.to_string(),
    })?;
    seed_fs::write_atomic(&path, &bytes).map_err(|e| ContentError::Build {
        reason: format!("{e:#}"),
    })
}

fn write_blob(dir: &Path, bytes: &[u8]) -> Result<Sha256Digest, ContentError> {
    let digest = sha256(bytes);
    write_new(&blob_path(dir, &digest), bytes)?;
    Ok(digest)
}

/// Writes a content-addressed file unless it is already there.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), ContentError> {
    if path.exists() {
        return Ok(());
    }
    seed_fs::write_atomic(path, bytes).map_err(|e| ContentError::Build {
        reason: format!("{e:#}"),
    })
}

fn copy_atomic(from: &Path, to: &Path) -> Result<(), ContentError> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let temp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| ContentError::io(dir.display().to_string(), e))?;
    let mut source =
        File::open(from).map_err(|e| ContentError::io(from.display().to_string(), e))?;
    std::io::copy(&mut source, &mut temp.as_file())
        .map_err(|e| ContentError::io(to.display().to_string(), e))?;
    temp.persist(to)
        .map_err(|e| ContentError::io(to.display().to_string(), e.error))?;
    Ok(())
}

/// SHA-256 and size of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(Sha256Digest, u64), ContentError> {
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| ContentError::io(&name, e))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(|e| ContentError::io(&name, e))?;
    let digest =
        Sha256Digest::from_bytes(<[u8; 32]>::from(hasher.finalize()).into()).map_err(|e| {
            ContentError::Build {
                reason: e.to_string(),
            }
        })?;
    Ok((digest, size))
}
