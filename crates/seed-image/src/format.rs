//! Which seed format an OCI image manifest describes, from its layers.
//!
//! - **squashfs seed** (upstream nix-seed): one layer with media type
//!   `application/vnd.nix-seed.squashfs` (older code, the design text) or
//!   `application/vnd.nix-seed.<system>` for a Linux system (current code);
//! - **tar layers** (dockerTools, nix2container, anything OCI or Docker
//!   schema 2): every layer a tar, uncompressed, gzip or zstd.
//!
//! A Darwin seed (`application/vnd.nix-seed.<system>-darwin`, a zstd HFS+
//! disk image) is refused with the reason in docs/decisions.md (D-045).

use seed_core::Sha256Digest;
use seed_oci::manifest::{Descriptor, ManifestFields};

use crate::ContentError;

/// Media type of a squashfs seed layer in upstream's older code and design text.
pub const SEED_SQUASHFS_MEDIA_TYPE: &str = "application/vnd.nix-seed.squashfs";
/// Prefix of upstream's per-system seed layer media types (`…<system>`).
pub const SEED_MEDIA_TYPE_PREFIX: &str = "application/vnd.nix-seed.";
/// The OCI title annotation, which names a seed layer's file.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// How a tar layer is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// zstd, possibly several frames.
    Zstd,
}

/// A layer to read, with its digest checked against the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// The layer's descriptor, as the manifest lists it.
    pub descriptor: Descriptor,
    /// Its digest, parsed.
    pub digest: Sha256Digest,
}

/// What an image holds, as far as the manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFormat {
    /// One squashfs layer with store paths at its root.
    Squashfs(Layer),
    /// Tar layers, applied in order, with store paths under `nix/store/`.
    TarLayers(Vec<(Layer, Compression)>),
}

impl ImageFormat {
    /// Recognises the format of the image manifest `fields`; `what` names the
    /// image in errors.
    pub fn of(fields: &ManifestFields, what: &str) -> Result<Self, ContentError> {
        let unsupported = |reason: String| ContentError::UnsupportedFormat {
            what: what.to_owned(),
            reason,
        };
        if fields.manifests.is_some() {
            return Err(unsupported(
                "is an image index; name the platform's image manifest by its digest".to_owned(),
            ));
        }
        let layers = fields.layers.as_deref().unwrap_or_default();
        if layers.is_empty() {
            return Err(unsupported(
                "has no layers, so it holds no closure".to_owned(),
            ));
        }
        let layer = |descriptor: &Descriptor| -> Result<Layer, ContentError> {
            let digest = descriptor
                .sha256()
                .map_err(|e| unsupported(e.to_string()))?;
            Ok(Layer {
                descriptor: descriptor.clone(),
                digest,
            })
        };
        if let Some(seed) = layers
            .iter()
            .find(|d| d.media_type.starts_with(SEED_MEDIA_TYPE_PREFIX))
        {
            if layers.len() != 1 {
                return Err(unsupported(format!(
                    "has a seed layer ({}) and {} other layers; a seed image has exactly one layer",
                    seed.media_type,
                    layers.len() - 1
                )));
            }
            let kind = &seed.media_type[SEED_MEDIA_TYPE_PREFIX.len()..];
            let title = seed
                .annotations
                .as_ref()
                .and_then(|a| a.get(TITLE_ANNOTATION))
                .map(String::as_str);
            if kind.ends_with("-darwin") || title.is_some_and(|t| t.ends_with(".dmg.zst")) {
                return Err(unsupported(format!(
                    "is a Darwin seed ({}, {}): an HFS+ disk image, which seed-eth cannot read \
                     without mounting (docs/decisions.md, D-045); check the Linux seeds of the \
                     release, or attest with --no-content-check",
                    seed.media_type,
                    title.unwrap_or("untitled")
                )));
            }
            if kind != "squashfs" && !kind.ends_with("-linux") {
                return Err(unsupported(format!(
                    "has a layer of media type {}, which is neither {SEED_SQUASHFS_MEDIA_TYPE} nor \
                     {SEED_MEDIA_TYPE_PREFIX}<system>-linux",
                    seed.media_type
                )));
            }
            return Ok(Self::Squashfs(layer(seed)?));
        }
        layers
            .iter()
            .map(|descriptor| {
                let compression = tar_compression(&descriptor.media_type).ok_or_else(|| {
                    unsupported(format!(
                        "has a layer {} of media type {}, which is neither a seed squashfs nor a \
                         tar layer (uncompressed, gzip or zstd)",
                        descriptor.digest, descriptor.media_type
                    ))
                })?;
                Ok((layer(descriptor)?, compression))
            })
            .collect::<Result<_, _>>()
            .map(Self::TarLayers)
    }
}

/// The compression of a tar layer media type, or `None` when it is not one.
pub fn tar_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(media_type: &str, title: Option<&str>) -> Descriptor {
        let mut d = Descriptor::of(media_type, media_type.as_bytes());
        d.annotations = title.map(|t| {
            [(TITLE_ANNOTATION.to_owned(), t.to_owned())]
                .into_iter()
                .collect()
        });
        d
    }

    fn fields(layers: Vec<Descriptor>) -> ManifestFields {
        ManifestFields {
            schema_version: 2,
            layers: Some(layers),
            ..ManifestFields::default()
        }
    }

    #[test]
    fn recognises_both_seed_media_types_and_tar_layers() {
        for media_type in [
            SEED_SQUASHFS_MEDIA_TYPE,
            "application/vnd.nix-seed.x86_64-linux",
        ] {
            let format = ImageFormat::of(
                &fields(vec![descriptor(media_type, Some("store.squashfs"))]),
                "i",
            )
            .unwrap();
            assert!(matches!(format, ImageFormat::Squashfs(_)), "{media_type}");
        }
        let format = ImageFormat::of(
            &fields(vec![
                descriptor("application/vnd.docker.image.rootfs.diff.tar", None),
                descriptor("application/vnd.oci.image.layer.v1.tar+gzip", None),
                descriptor("application/vnd.oci.image.layer.v1.tar+zstd", None),
            ]),
            "i",
        )
        .unwrap();
        let ImageFormat::TarLayers(layers) = format else {
            panic!("not tar layers")
        };
        let kinds: Vec<_> = layers.iter().map(|(_, c)| *c).collect();
        assert_eq!(
            kinds,
            [Compression::None, Compression::Gzip, Compression::Zstd]
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_naming_why() {
        let cases = [
            (
                vec![descriptor(
                    "application/vnd.nix-seed.aarch64-darwin",
                    Some("store.dmg.zst"),
                )],
                "Darwin seed",
            ),
            (
                vec![
                    descriptor(SEED_SQUASHFS_MEDIA_TYPE, None),
                    descriptor("application/vnd.oci.image.layer.v1.tar", None),
                ],
                "exactly one layer",
            ),
            (
                vec![descriptor("application/vnd.nix-seed.riscv64-none", None)],
                "neither",
            ),
            (
                vec![descriptor(
                    "application/vnd.oci.image.layer.nondistributable.v1.tar",
                    None,
                )],
                "neither a seed squashfs nor a tar layer",
            ),
            (vec![], "no layers"),
        ];
        for (layers, wanted) in cases {
            let err = ImageFormat::of(&fields(layers), "img").unwrap_err();
            assert!(err.to_string().contains(wanted), "{err}");
        }
        let index = ManifestFields {
            manifests: Some(vec![]),
            ..ManifestFields::default()
        };
        let err = ImageFormat::of(&index, "img").unwrap_err();
        assert!(err.to_string().contains("image index"), "{err}");
    }
}
