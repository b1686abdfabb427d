//! Media types, descriptors and the manifests seed-eth writes.
//!
//! Manifests we create are canonical JSON (`seed_statement::canonical`), so
//! the same content always has the same digest and pushes are idempotent.
//! Manifests we read are kept as raw bytes; only the fields we need are
//! parsed, and unknown fields are ignored.

use std::collections::BTreeMap;

use seed_core::Sha256Digest;
use seed_nix::{
    nar::{Encoder, Node},
    ClosureManifest, NarHash, StorePath,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{error::OciError, referrers::BlobReferrer};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2 schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Every manifest media type seed-eth reads or promotes.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
];

/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Uncompressed OCI layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// The empty descriptor's media type (OCI 1.1 artifacts without config).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty descriptor's content.
pub const EMPTY_JSON: &[u8] = b"{}";
/// Artifact type of a statement referrer: the DSSE payload type of in-toto.
pub const STATEMENT_ARTIFACT_TYPE: &str = seed_statement::PAYLOAD_TYPE;
/// Media type of the layer holding a DSSE envelope.
pub const DSSE_ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Artifact type and layer media type of a Sigstore bundle v0.3 referrer.
pub const SIGSTORE_BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The largest manifest we accept (Distribution's own limit is 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// SHA-256 of `bytes` as a digest.
pub fn sha256(bytes: &[u8]) -> Sha256Digest {
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    match Sha256Digest::from_bytes(hash.into()) {
        Ok(digest) => digest,
        // SHA-256 is zero for no known input (probability 2^-256).
        Err(_) => unreachable!("SHA-256 output is all zeros"),
    }
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    pub media_type: String,
    /// Digest of the content, `sha256:<hex>`.
    pub digest: String,
    /// Size of the content in bytes.
    pub size: u64,
    /// For a manifest descriptor: the artifact type of the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// A descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_owned(),
            digest: sha256(bytes).to_string(),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }

    /// The digest, parsed (rejects algorithms other than sha256).
    pub fn sha256(&self) -> Result<Sha256Digest, OciError> {
        self.digest.parse().map_err(|_| OciError::Invalid {
            what: format!("descriptor of {}", self.media_type),
            reason: format!("digest '{}' is not sha256:<64 lowercase hex>", self.digest),
        })
    }
}

/// The fields of an image manifest or index that seed-eth looks at.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFields {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// OCI 1.1 artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Image manifests: the config descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    /// Image manifests: the layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<Descriptor>>,
    /// Indexes: the child manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<Descriptor>>,
    /// OCI 1.1: the manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A manifest exactly as the registry stores it, with the digest of those
/// bytes (checked) and its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    bytes: Vec<u8>,
    media_type: String,
    digest: Sha256Digest,
}

impl RawManifest {
    /// Wraps manifest bytes, working out their media type from the
    /// `mediaType` field (or, where a manifest omits it, from its shape, as
    /// registries do). Rejects what is not an image manifest or index.
    pub fn from_bytes(bytes: Vec<u8>, what: &str) -> Result<Self, OciError> {
        let invalid = |reason: String| OciError::Invalid {
            what: what.to_owned(),
            reason,
        };
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(invalid(format!(
                "{} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have",
                bytes.len()
            )));
        }
        let fields: ManifestFields = serde_json::from_slice(&bytes).map_err(|e| {
            invalid(format!(
                "not an image manifest or index ({e}); received {}",
                seed_core::excerpt(&bytes)
            ))
        })?;
        if fields.schema_version != 2 {
            return Err(invalid(format!(
                "schemaVersion is {}; only 2 is supported",
                fields.schema_version
            )));
        }
        let media_type = match (&fields.media_type, &fields.manifests, &fields.config) {
            (Some(media_type), _, _) => media_type.clone(),
            (None, Some(_), None) => OCI_INDEX.to_owned(),
            (None, None, Some(_)) => OCI_MANIFEST.to_owned(),
            _ => {
                return Err(invalid(
                    "no mediaType and neither a config nor manifests".into(),
                ))
            }
        };
        if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(invalid(format!(
                "media type '{media_type}' is not one of {MANIFEST_MEDIA_TYPES:?}"
            )));
        }
        let digest = sha256(&bytes);
        Ok(Self {
            bytes,
            media_type,
            digest,
        })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The media type (what the registry needs as `Content-Type` to store it
    /// again unchanged).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// SHA-256 of the bytes.
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.to_string(),
            size: self.bytes.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }

    /// The parsed fields.
    pub fn fields(&self) -> Result<ManifestFields, OciError> {
        serde_json::from_slice(&self.bytes).map_err(|e| OciError::Invalid {
            what: format!("manifest {}", self.digest),
            reason: e.to_string(),
        })
    }

    /// Whether this is an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self.media_type.as_str(), OCI_INDEX | DOCKER_MANIFEST_LIST)
    }
}

/// Serialises a manifest (or config, or index) as canonical JSON.
pub(crate) fn canonical_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    match seed_statement::to_canonical_json(value) {
        Ok(bytes) => bytes,
        // Manifests hold strings and sizes; a size above 2^53 bytes (8 PiB)
        // is the only thing without a canonical form.
        Err(err) => unreachable!("manifest is not canonicalisable: {err}"),
    }
}

/// An image to push: a config and layers, each with its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageContent {
    /// The config blob (media type [`OCI_CONFIG`]).
    pub config: Vec<u8>,
    /// The layers, in order: media type and bytes.
    pub layers: Vec<(String, Vec<u8>)>,
}

impl ImageContent {
    /// A small, valid, deterministic single-layer image labelled `label`
    /// (different labels give different digests), for tests and the demo.
    pub fn synthetic(label: &str) -> Self {
        let layer = tar_with_one_file("seed-eth.txt", label.as_bytes());
        let diff_id = sha256(&layer);
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"dev.seed-eth.synthetic": label}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        });
        let config = canonical_bytes(&config);
        Self {
            config,
            layers: vec![(OCI_LAYER_TAR.to_owned(), layer)],
        }
    }

    /// A small image shaped like a built seed, for tests and the demo: one tar
    /// layer holding one store path, `/nix/store/<hash>-synthetic-seed`, a file
    /// whose bytes are `closure` (its hash derived from them), and `builder` in
    /// the config. Builders of the same `closure` get different images (their
    /// configs differ) that hold the same closure, as real builders do.
    /// Returns the image and the closure manifest it holds.
    pub fn synthetic_seed(
        closure: &str,
        builder: &str,
    ) -> Result<(Self, ClosureManifest), OciError> {
        let invalid = |reason: String| OciError::Invalid {
            what: format!("synthetic seed '{closure}'"),
            reason,
        };
        let hash = seed_nix::nix32::encode(&Sha256::digest(closure.as_bytes())[..20]);
        let store_path = StorePath::from_base_name(&format!("{hash}-synthetic-seed"))
            .map_err(|e| invalid(e.to_string()))?;
        let layer = tar_with_one_file(
            store_path.to_string().trim_start_matches('/'),
            closure.as_bytes(),
        );
        let nar_hash = nar_hash_of_file(closure.as_bytes()).map_err(invalid)?;
        let manifest =
            ClosureManifest::new([(store_path, nar_hash)]).map_err(|e| invalid(e.to_string()))?;
        let diff_id = sha256(&layer);
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"dev.seed-eth.synthetic-builder": builder}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        });
        let image = Self {
            config: canonical_bytes(&config),
            layers: vec![(OCI_LAYER_TAR.to_owned(), layer)],
        };
        Ok((image, manifest))
    }

    /// The image manifest (canonical JSON) describing this content.
    pub fn manifest(&self) -> RawManifest {
        let fields = ManifestFields {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_owned()),
            config: Some(Descriptor::of(OCI_CONFIG, &self.config)),
            layers: Some(
                self.layers
                    .iter()
                    .map(|(media_type, bytes)| Descriptor::of(media_type, bytes))
                    .collect(),
            ),
            ..ManifestFields::default()
        };
        let bytes = canonical_bytes(&fields);
        let digest = sha256(&bytes);
        RawManifest {
            bytes,
            media_type: OCI_MANIFEST.to_owned(),
            digest,
        }
    }
}

/// The OCI 1.1 artifact manifest that attaches one blob of `kind` to an
/// image: its artifact type, the empty config, the blob as the one layer, the
/// image as subject (for a statement: artifact type in-toto, a DSSE layer).
/// Canonical JSON: the same blob always gives the same digest.
pub fn blob_referrer_manifest(
    subject: &Descriptor,
    kind: BlobReferrer,
    blob: &[u8],
) -> RawManifest {
    let annotations = (!kind.annotations.is_empty()).then(|| {
        kind.annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    });
    artifact_manifest(
        subject,
        kind.artifact_type,
        Descriptor::of(kind.layer_media_type, blob),
        annotations,
    )
}

/// An OCI 1.1 artifact manifest of `artifact_type` that carries all its data
/// in `annotations`, referring to `subject`: its config and its one layer are
/// the empty descriptor, as the image spec asks of artifacts with no content
/// of their own. Small, fixed records (the keeper's verdicts) travel this
/// way: one manifest to write and read, no blob. Canonical JSON.
pub fn annotated_referrer_manifest(
    subject: &Descriptor,
    artifact_type: &str,
    annotations: BTreeMap<String, String>,
) -> RawManifest {
    artifact_manifest(
        subject,
        artifact_type,
        Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_JSON),
        Some(annotations),
    )
}

fn artifact_manifest(
    subject: &Descriptor,
    artifact_type: &str,
    layer: Descriptor,
    annotations: Option<BTreeMap<String, String>>,
) -> RawManifest {
    let fields = ManifestFields {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: Some(artifact_type.to_owned()),
        config: Some(Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_JSON)),
        layers: Some(vec![layer]),
        subject: Some(Descriptor {
            artifact_type: None,
            annotations: None,
            ..subject.clone()
        }),
        annotations,
        ..ManifestFields::default()
    };
    let bytes = canonical_bytes(&fields);
    let digest = sha256(&bytes);
    RawManifest {
        bytes,
        media_type: OCI_MANIFEST.to_owned(),
        digest,
    }
}

/// A POSIX ustar archive holding one regular file, so synthetic layers are
/// real tar layers that any client can unpack.
/// The NAR hash of a store path that is one regular, non-executable file.
fn nar_hash_of_file(content: &[u8]) -> Result<NarHash, String> {
    let mut encoder = Encoder::new(Sha256::new()).map_err(|e| e.to_string())?;
    let file = Node::Regular {
        executable: false,
        size: content.len() as u64,
        contents: content,
    };
    encoder.add(&[], file).map_err(|e| e.to_string())?;
    let (hasher, _) = encoder.finish().map_err(|e| e.to_string())?;
    Ok(NarHash::from_bytes(hasher.finalize().into()))
}

fn tar_with_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let name = name.as_bytes();
    header[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], 0o644); // mode
    octal(&mut header[108..116], 0); // uid
    octal(&mut header[116..124], 0); // gid
    octal(&mut header[124..136], content.len() as u64); // size
    octal(&mut header[136..148], 0); // mtime: fixed, for reproducibility
    header[156] = b'0'; // regular file
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|b| u64::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());

    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]); // end-of-archive marker
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_descriptor_is_the_well_known_one() {
        let empty = Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_JSON);
        assert_eq!(
            empty.digest,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(empty.size, 2);
    }

    #[test]
    fn synthetic_images_are_deterministic_and_distinct() {
        let a = ImageContent::synthetic("a");
        assert_eq!(a.manifest(), ImageContent::synthetic("a").manifest());
        assert_ne!(
            a.manifest().digest(),
            ImageContent::synthetic("b").manifest().digest()
        );
        let manifest = a.manifest();
        let parsed = RawManifest::from_bytes(manifest.bytes().to_vec(), "test").unwrap();
        assert_eq!(parsed, manifest);
    }

    #[test]
    fn synthetic_layer_is_a_tar_that_tar_reads() {
        let layer = &ImageContent::synthetic("hello").layers[0].1;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, layer).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-xOf")
            .arg(&path)
            .arg("seed-eth.txt")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, b"hello");
    }

    #[test]
    fn referrer_manifest_shape() {
        let image = ImageContent::synthetic("x").manifest();
        let referrer = blob_referrer_manifest(
            &image.descriptor(),
            crate::referrers::STATEMENT_REFERRER,
            b"{\"envelope\":1}",
        );
        let fields = referrer.fields().unwrap();
        assert_eq!(
            fields.artifact_type.as_deref(),
            Some(STATEMENT_ARTIFACT_TYPE)
        );
        assert_eq!(fields.config.unwrap().media_type, EMPTY_MEDIA_TYPE);
        let layers = fields.layers.unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].media_type, DSSE_ENVELOPE_MEDIA_TYPE);
        assert_eq!(fields.subject.unwrap(), image.descriptor());
    }

    #[test]
    fn annotated_referrers_carry_no_content_of_their_own() {
        let image = ImageContent::synthetic("x").manifest();
        let annotations = BTreeMap::from([("k".to_owned(), "{\"v\":1}".to_owned())]);
        let referrer = annotated_referrer_manifest(&image.descriptor(), "a/b", annotations.clone());
        let fields = referrer.fields().unwrap();
        assert_eq!(fields.artifact_type.as_deref(), Some("a/b"));
        let empty = Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_JSON);
        assert_eq!(fields.config, Some(empty.clone()));
        assert_eq!(fields.layers, Some(vec![empty]));
        assert_eq!(fields.annotations, Some(annotations.clone()));
        assert_eq!(fields.subject.unwrap(), image.descriptor());
        // Canonical: the same record is the same referrer.
        let again = annotated_referrer_manifest(&image.descriptor(), "a/b", annotations);
        assert_eq!(again.digest(), referrer.digest());
    }

    #[test]
    fn raw_manifests_are_checked() {
        for (bad, why) in [
            (&b"not json"[..], "not json"),
            (br#"{"schemaVersion":1,"config":{}}"#, "schema 1"),
            (br#"{"schemaVersion":2}"#, "no shape"),
            (
                br#"{"schemaVersion":2,"mediaType":"text/plain","layers":[]}"#,
                "media type",
            ),
        ] {
            assert!(
                matches!(
                    RawManifest::from_bytes(bad.to_vec(), "x"),
                    Err(OciError::Invalid { .. })
                ),
                "{why}"
            );
        }
        let no_media_type = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
        assert!(RawManifest::from_bytes(no_media_type, "x")
            .unwrap()
            .is_index());
    }
}
