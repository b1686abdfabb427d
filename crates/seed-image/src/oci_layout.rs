//! Images in an OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/…`), as `skopeo copy oci:DIR`, `oras push --oci-layout` and
//! `seed-eth seed build` write them: read one image's closure, or write a seed.
//!
//! A layout is named `DIR` (it must hold exactly one image), `DIR:REF` (the
//! image whose `org.opencontainers.image.ref.name` is REF) or
//! `DIR@sha256:<hex>` (the image with that manifest digest).

use std::{
    fs::{self, File},
    io::{BufReader, Seek},
    path::{Path, PathBuf},
};

use seed_core::Sha256Digest;
use seed_oci::{manifest::Descriptor, RawManifest};
use serde::{Deserialize, Serialize};

use crate::{
    format::ImageFormat, layers::Layers, squashfs, ContentError, DigestReader, ImageClosure,
};

/// The annotation that names an image in a layout's index.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// Largest `index.json` or manifest read from a layout.
const MAX_METADATA_BYTES: u64 = 4 << 20;

/// Which image of a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutRef {
    /// The layout directory.
    pub dir: PathBuf,
    /// The image in it.
    pub image: Selector,
}

/// How an image is picked from a layout's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The only image.
    Only,
    /// By `org.opencontainers.image.ref.name`.
    RefName(String),
    /// By manifest digest.
    Digest(Sha256Digest),
}

impl LayoutRef {
    /// Parses `DIR`, `DIR:REF` or `DIR@sha256:<hex>`. A `:` is a reference
    /// separator only when `DIR:REF` is not itself an existing directory.
    pub fn parse(input: &str) -> Result<Self, ContentError> {
        if let Some((dir, digest)) = input.rsplit_once('@') {
            let digest = digest.parse().map_err(|_| ContentError::Path {
                path: input.into(),
                problem: "expected DIR@sha256:<64 hex digits>".to_owned(),
            })?;
            return Ok(Self {
                dir: dir.into(),
                image: Selector::Digest(digest),
            });
        }
        if let Some((dir, name)) = input.rsplit_once(':') {
            if !Path::new(input).is_dir() && !name.contains('/') {
                return Ok(Self {
                    dir: dir.into(),
                    image: Selector::RefName(name.to_owned()),
                });
            }
        }
        Ok(Self {
            dir: input.into(),
            image: Selector::Only,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// The image `layout` names: its manifest, checked against its digest.
pub fn read_manifest(layout: &LayoutRef) -> Result<RawManifest, ContentError> {
    let index_path = layout.dir.join("index.json");
    let index: Index =
        serde_json::from_slice(&read_small(&index_path)?).map_err(|e| ContentError::Path {
            path: index_path.clone(),
            problem: format!("not an OCI image index: {e}"),
        })?;
    let ref_name = |d: &Descriptor| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME_ANNOTATION))
            .cloned()
    };
    let matching: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| match &layout.image {
            Selector::Only => true,
            Selector::RefName(name) => ref_name(d).as_deref() == Some(name.as_str()),
            Selector::Digest(digest) => d.digest == digest.to_string(),
        })
        .collect();
    let [descriptor] = matching.as_slice() else {
        let names: Vec<String> = index
            .manifests
            .iter()
            .map(|d| match ref_name(d) {
                Some(name) => format!("{}:{name}", layout.dir.display()),
                None => format!("{}@{}", layout.dir.display(), d.digest),
            })
            .collect();
        return Err(ContentError::Path {
            path: layout.dir.clone(),
            problem: format!(
                "{} images match; name one of: {}",
                matching.len(),
                if names.is_empty() {
                    "(the layout holds none)".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        });
    };
    let digest = descriptor.sha256()?;
    let path = blob_path(&layout.dir, &digest);
    let bytes = read_small(&path)?;
    let manifest = RawManifest::from_bytes(bytes, &format!("manifest {digest}"))?;
    if manifest.digest() != digest {
        return Err(ContentError::DigestMismatch {
            what: path.display().to_string(),
            expected: digest.to_string(),
            actual: manifest.digest().to_string(),
        });
    }
    Ok(manifest)
}

/// The closure held by the image `layout` names; every blob's digest is
/// checked on the same pass as its content is read.
pub fn image_closure(layout: &LayoutRef) -> Result<(RawManifest, ImageClosure), ContentError> {
    let manifest = read_manifest(layout)?;
    let what = format!("image {}@{}", layout.dir.display(), manifest.digest());
    let closure = match ImageFormat::of(&manifest.fields()?, &what)? {
        ImageFormat::Squashfs(layer) => {
            let path = blob_path(&layout.dir, &layer.digest);
            let name = path.display().to_string();
            // squashfs needs random access: hash the file first, then read
            // the same open file (not the path again, which could have been
            // replaced in between).
            let mut file = File::open(&path).map_err(|e| ContentError::io(&name, e))?;
            DigestReader::new(BufReader::new(&file)).verify_blob(
                &layer.digest,
                layer.descriptor.size,
                &name,
            )?;
            file.rewind().map_err(|e| ContentError::io(&name, e))?;
            squashfs::closure_of_reader(BufReader::new(file), &name)?
        }
        ImageFormat::TarLayers(layers) => {
            let mut reader = Layers::new();
            for (layer, compression) in layers {
                let path = blob_path(&layout.dir, &layer.digest);
                let name = path.display().to_string();
                let file = File::open(&path).map_err(|e| ContentError::io(&name, e))?;
                let mut blob = DigestReader::new(BufReader::with_capacity(1 << 20, file));
                reader.add(&mut blob, compression, &name)?;
                blob.verify_blob(&layer.digest, layer.descriptor.size, &name)?;
            }
            reader.finish()?
        }
    };
    Ok((manifest, closure))
}

/// Where a layout keeps the blob `digest`.
pub fn blob_path(dir: &Path, digest: &Sha256Digest) -> PathBuf {
    let text = digest.to_string();
    dir.join("blobs/sha256").join(&text["sha256:".len()..])
}

fn read_small(path: &Path) -> Result<Vec<u8>, ContentError> {
    let name = path.display().to_string();
    let len = fs::metadata(path)
        .map_err(|e| ContentError::io(&name, e))?
        .len();
    if len > MAX_METADATA_BYTES {
        return Err(ContentError::Limit {
            what: name,
            limit: format!("larger than {MAX_METADATA_BYTES} bytes"),
        });
    }
    fs::read(path).map_err(|e| ContentError::io(&name, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_references_parse() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            LayoutRef::parse(&format!("out/seed@{digest}")).unwrap(),
            LayoutRef {
                dir: "out/seed".into(),
                image: Selector::Digest(digest.parse().unwrap())
            }
        );
        assert_eq!(
            LayoutRef::parse("out/seed:v1").unwrap().image,
            Selector::RefName("v1".to_owned())
        );
        assert_eq!(LayoutRef::parse("out/seed").unwrap().image, Selector::Only);
        assert!(LayoutRef::parse("out@sha256:zz").is_err());
    }
}
