//! `.seed.lock` v1: per system, which seed a project builds against.
//!
//! ```json
//! {
//!   "version": 1,
//!   "systems": {
//!     "x86_64-linux": {
//!       "kind": "oci",
//!       "manifest": "sha256:<closure manifest digest>",
//!       "image": "ghcr.io/org/repo/seed@sha256:<OCI manifest digest>"
//!     }
//!   }
//! }
//! ```
//!
//! `manifest` is authoritative: it is what builders attest and quorum
//! compares. `image` only says where to fetch the seed; it is pinned by
//! digest and names its registry, so the lock means the same thing on every
//! machine. Reading is strict: unknown fields, versions and kinds, duplicate
//! keys and malformed values are errors. nix-seed's own format
//! ([`UpstreamLock`]: images only) is recognised and read by [`AnyLock`].
//! Rules and reasons: docs/decisions.md, D-018.

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
};

use seed_core::{IdError, Sha256Digest, System};
use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer, Serialize,
};

use seed_fs::{write_atomic, WriteError};

/// The lock format version this crate reads and writes.
pub const LOCK_VERSION: u64 = 1;

/// Why a lock file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file could not be read.
    #[error("cannot read '{path}'")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Not JSON of the v1 shape (unknown or missing fields, wrong types, duplicate keys).
    /// serde's message is the whole story (field, line, column), so it is
    /// part of this message rather than a separate cause.
    #[error("malformed .seed.lock: {0}")]
    Json(serde_json::Error),
    /// No `version`: not a v1 lock.
    #[error(
        "the .seed.lock has no 'version'; a v1 lock is {{\"version\": 1, \"systems\": {{...}}}}"
    )]
    MissingVersion,
    /// nix-seed's own format where only a v1 lock will do.
    #[error("this is nix-seed's own lock format ({{repository, systems, tag}}), which carries no closure-manifest digest; `seed-eth verify --lock` reads it, and `seed-eth lock` writes a v1 lock")]
    UpstreamFormat,
    /// A version other than 1.
    #[error(
        "unsupported .seed.lock version {found}: this seed-eth reads version {LOCK_VERSION} only"
    )]
    UnsupportedVersion {
        /// The version found, as written.
        found: String,
    },
    /// A system key is not a Nix system name.
    #[error("in .seed.lock system '{system}'")]
    System {
        /// The key.
        system: String,
        /// Why it was rejected.
        #[source]
        source: IdError,
    },
    /// A `kind` other than the ones v1 defines.
    #[error("in .seed.lock system '{system}': unknown kind '{kind}'; allowed: 'oci'")]
    UnknownKind {
        /// The system.
        system: String,
        /// The kind found.
        kind: String,
    },
    /// A malformed `manifest` digest.
    #[error("in .seed.lock system '{system}', field 'manifest'")]
    Manifest {
        /// The system.
        system: String,
        /// Why it was rejected.
        #[source]
        source: IdError,
    },
    /// A malformed `credulousPolicy` digest.
    #[error("in .seed.lock, field 'credulousPolicy'")]
    Policy(#[source] IdError),
    /// A malformed `image` reference.
    #[error("in .seed.lock system '{system}', field 'image'")]
    Image {
        /// The system.
        system: String,
        /// Why it was rejected.
        #[source]
        source: ImageRefError,
    },
}

/// How a seed is delivered. `kind` is per system so that a later version can
/// add mechanisms without changing the others' entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryKind {
    /// An OCI artifact in a registry. Its layer carries the store (a
    /// squashfs on Linux, a disk image on Darwin); the layer's media type,
    /// pinned by the image digest, tells the consumer which.
    Oci,
}

impl DeliveryKind {
    /// The name written in the lock.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Oci => "oci",
        }
    }
}

impl fmt::Display for DeliveryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an image reference was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// The reference breaks the digest-pinned form.
    #[error("'{input}' is not a digest-pinned image reference ({reason}); expected '<registry>/<repository>@sha256:<64 hex>', e.g. 'ghcr.io/org/seed@sha256:…'")]
    Malformed {
        /// The rejected input.
        input: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// The digest part is malformed.
    #[error("in image reference '{input}'")]
    Digest {
        /// The rejected input.
        input: String,
        /// Why the digest was rejected.
        #[source]
        source: IdError,
    },
}

/// An OCI image reference pinned by digest: `<registry>/<repository>@sha256:<hex>`.
///
/// The registry is required (no implicit `docker.io`) and tags are not
/// allowed, because a tag can move and the lock must not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    name: String,
    digest: Sha256Digest,
}

impl ImageRef {
    /// `<registry>/<repository>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registry host, with its port if any.
    pub fn registry(&self) -> &str {
        self.name.split('/').next().unwrap_or_default()
    }

    /// The repository path within the registry.
    pub fn repository(&self) -> &str {
        self.name.split_once('/').map_or("", |(_, repo)| repo)
    }

    /// The OCI manifest digest the reference is pinned to.
    pub const fn digest(&self) -> Sha256Digest {
        self.digest
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = |reason| ImageRefError::Malformed {
            input: input.to_owned(),
            reason,
        };
        let (name, digest) = input
            .split_once('@')
            .ok_or_else(|| malformed("no '@sha256:' digest"))?;
        let digest = digest
            .strip_prefix("sha256:")
            .ok_or_else(|| malformed("the digest must be sha256"))
            .and_then(|_| {
                digest.parse().map_err(|source| ImageRefError::Digest {
                    input: input.to_owned(),
                    source,
                })
            })?;
        if name.len() > 255 {
            return Err(malformed("the name is longer than 255 characters"));
        }
        let (registry, repository) = name
            .split_once('/')
            .ok_or_else(|| malformed("no registry host before the repository"))?;
        if !is_registry(registry) {
            return Err(malformed(
                "the first component must be a registry host such as 'ghcr.io' or 'localhost:5000'",
            ));
        }
        let components: Vec<&str> = repository.split('/').collect();
        if components.iter().any(|c| c.contains(':')) {
            return Err(malformed(
                "tags move; pin the image by digest alone, without ':<tag>'",
            ));
        }
        if !components.iter().all(|c| is_path_component(c)) {
            return Err(malformed(
                "repository components are lowercase letters and digits, joined by '.', '_', '__' or dashes",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.digest)
    }
}

/// A registry host as the OCI reference grammar has it: DNS labels or
/// `localhost`, optionally with a port; it must contain a `.` or a port or
/// be `localhost`, which is how clients tell it apart from a repository.
fn is_registry(text: &str) -> bool {
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let qualified = host.contains('.') || port.is_some() || host == "localhost";
    qualified && port_ok && host.split('.').all(label_ok)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, the OCI repository path component.
fn is_path_component(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = text.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// One system's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEntry {
    /// How the seed is delivered.
    pub kind: DeliveryKind,
    /// The closure manifest digest: authoritative.
    pub manifest: Sha256Digest,
    /// Where to fetch the seed: a hint, verified against `manifest` after fetching.
    pub image: ImageRef,
}

/// A `.seed.lock` v1 file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedLock {
    systems: BTreeMap<System, LockEntry>,
    /// Under the Credulous posture: the digest of the policy the release was
    /// verified under (`credulousPolicy`), which verification must use again.
    credulous_policy: Option<Sha256Digest>,
}

#[derive(Deserialize)]
struct VersionProbe {
    version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    #[allow(dead_code)] // checked by `VersionProbe` first, for a better message
    version: u64,
    #[serde(deserialize_with = "unique_map")]
    systems: Vec<(String, RawEntry)>,
    #[serde(default, rename = "credulousPolicy")]
    credulous_policy: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    kind: String,
    manifest: String,
    image: String,
}

#[derive(Serialize)]
struct OutLock<'a> {
    version: u64,
    systems: BTreeMap<&'a str, RawEntry>,
    #[serde(rename = "credulousPolicy", skip_serializing_if = "Option::is_none")]
    credulous_policy: Option<String>,
}

/// Deserialises a JSON object into its entries, rejecting duplicate keys
/// (which `serde_json` would otherwise resolve silently, last one wins).
fn unique_map<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<(String, V)>, D::Error> {
    struct Entries<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
        type Value = Vec<(String, V)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object mapping system names to entries")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries: Vec<(String, V)> = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if entries.iter().any(|(seen, _)| *seen == key) {
                    return Err(serde::de::Error::custom(format!(
                        "system '{key}' appears more than once"
                    )));
                }
                entries.push((key, value));
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries(std::marker::PhantomData))
}

impl SeedLock {
    /// An empty lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry for `system`, if the lock has one.
    pub fn get(&self, system: &System) -> Option<&LockEntry> {
        self.systems.get(system)
    }

    /// Sets `system`'s entry and returns the previous one.
    pub fn insert(&mut self, system: System, entry: LockEntry) -> Option<LockEntry> {
        self.systems.insert(system, entry)
    }

    /// Removes `system`'s entry and returns it.
    pub fn remove(&mut self, system: &System) -> Option<LockEntry> {
        self.systems.remove(system)
    }

    /// The systems and their entries, sorted by system.
    pub fn systems(&self) -> impl Iterator<Item = (&System, &LockEntry)> {
        self.systems.iter()
    }

    /// Parses the JSON text of a lock, strictly.
    pub fn from_json(text: &str) -> Result<Self, LockError> {
        if is_upstream(text) {
            return Err(LockError::UpstreamFormat);
        }
        // The version decides how to read everything else, so check it
        // before complaining about fields a future version may have added.
        check_version(text, true)?;
        let raw: RawLock = serde_json::from_str(text).map_err(LockError::Json)?;
        let mut systems = BTreeMap::new();
        for (name, entry) in raw.systems {
            let system = parse_system(&name)?;
            let kind = match entry.kind.as_str() {
                "oci" => DeliveryKind::Oci,
                _ => {
                    return Err(LockError::UnknownKind {
                        system: name,
                        kind: entry.kind,
                    })
                }
            };
            let manifest = entry
                .manifest
                .parse()
                .map_err(|source| LockError::Manifest {
                    system: name.clone(),
                    source,
                })?;
            let image = entry.image.parse().map_err(|source| LockError::Image {
                system: name.clone(),
                source,
            })?;
            systems.insert(
                system,
                LockEntry {
                    kind,
                    manifest,
                    image,
                },
            );
        }
        let credulous_policy = raw
            .credulous_policy
            .map(|digest| digest.parse().map_err(LockError::Policy))
            .transpose()?;
        Ok(Self {
            systems,
            credulous_policy,
        })
    }

    /// The Credulous policy digest the lock pins, if any.
    pub const fn credulous_policy(&self) -> Option<Sha256Digest> {
        self.credulous_policy
    }

    /// Pins the Credulous policy the release was verified under.
    pub fn set_credulous_policy(&mut self, digest: Sha256Digest) {
        self.credulous_policy = Some(digest);
    }

    /// The JSON text: two-space indentation, systems sorted, and a final
    /// newline, so the same lock is always the same bytes (and diffs well).
    pub fn to_json(&self) -> String {
        let out = OutLock {
            credulous_policy: self.credulous_policy.map(|d| d.to_string()),
            version: LOCK_VERSION,
            systems: self
                .systems
                .iter()
                .map(|(system, entry)| {
                    (
                        system.as_str(),
                        RawEntry {
                            kind: entry.kind.as_str().to_owned(),
                            manifest: entry.manifest.to_string(),
                            image: entry.image.to_string(),
                        },
                    )
                })
                .collect(),
        };
        // Serialising strings and integers into a String cannot fail.
        let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads and parses a lock file.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Writes the lock file atomically (see [`write_atomic`]).
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        Ok(write_atomic(path, self.to_json().as_bytes())?)
    }
}

/// nix-seed's own lock, as its `bin/build-seed` writes it (`jq --sort-keys`):
///
/// ```json
/// {"repository": "ghcr.io/org/repo/seed", "systems": {"x86_64-linux": "sha256:<OCI manifest digest>"},
///  "tag": "<git revision>", "version": 1}
/// ```
///
/// It names each system's *image*, not its closure manifest, so what the
/// quorum agreed on has to be found from the images (D-018). `version` is
/// missing in older files and 1 in newer ones; both are read, strictly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLock {
    /// Where the images are (`<registry>/<repository>`).
    pub repository: String,
    /// The git revision the seed was built from, as written.
    pub tag: Option<String>,
    /// Each system's image, pinned by digest in `repository`.
    pub systems: BTreeMap<System, ImageRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstreamLock {
    repository: String,
    #[serde(deserialize_with = "unique_map")]
    systems: Vec<(String, String)>,
    tag: Option<String>,
    #[allow(dead_code)] // checked by `VersionProbe` first
    version: Option<u64>,
}

impl UpstreamLock {
    fn from_json(text: &str) -> Result<Self, LockError> {
        let raw: RawUpstreamLock = serde_json::from_str(text).map_err(LockError::Json)?;
        let mut systems = BTreeMap::new();
        for (name, digest) in raw.systems {
            let system = parse_system(&name)?;
            let image = format!("{}@{digest}", raw.repository)
                .parse()
                .map_err(|source| LockError::Image {
                    system: name.clone(),
                    source,
                })?;
            systems.insert(system, image);
        }
        Ok(Self {
            repository: raw.repository,
            tag: raw.tag,
            systems,
        })
    }
}

/// A lock file in either format a consumer may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyLock {
    /// `.seed.lock` v1: closure manifests and images.
    V1(SeedLock),
    /// nix-seed's own format: images only.
    Upstream(UpstreamLock),
}

impl AnyLock {
    /// Parses either format, strictly; the shape decides which (a
    /// `repository`, or systems mapped to plain digests, is nix-seed's).
    pub fn from_json(text: &str) -> Result<Self, LockError> {
        if !is_upstream(text) {
            return SeedLock::from_json(text).map(Self::V1);
        }
        // nix-seed's older files have no version.
        check_version(text, false)?;
        UpstreamLock::from_json(text).map(Self::Upstream)
    }

    /// Reads and parses a lock file.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        let text = std::fs::read_to_string(path).map_err(|source| LockError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text)
    }
}

/// A lock's system key as a Nix system.
fn parse_system(name: &str) -> Result<System, LockError> {
    name.parse().map_err(|source| LockError::System {
        system: name.to_owned(),
        source,
    })
}

/// Fails unless `text`'s `version` is [`LOCK_VERSION`] (or absent, when not
/// `required`).
fn check_version(text: &str, required: bool) -> Result<(), LockError> {
    let probe: VersionProbe = serde_json::from_str(text).map_err(LockError::Json)?;
    match probe.version {
        None if required => Err(LockError::MissingVersion),
        None => Ok(()),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(LOCK_VERSION) => Ok(()),
        Some(other) => Err(LockError::UnsupportedVersion {
            found: other.to_string(),
        }),
    }
}

/// Whether `text` has nix-seed's shape: a `repository` field, or systems
/// mapped to strings.
fn is_upstream(text: &str) -> bool {
    let Ok(serde_json::Value::Object(top)) = serde_json::from_str(text) else {
        return false;
    };
    top.contains_key("repository")
        || top
            .get("systems")
            .and_then(serde_json::Value::as_object)
            .is_some_and(|systems| systems.values().any(serde_json::Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "sha256:8f2aebb8c41830c4279836cb1a004394a792b28a587d30832288669c19e4a0e9";
    const I: &str = "sha256:14976765075ee36c63ce206d131c8aca671fe7ab12c410087daa80bcb4c5a09c";

    fn lock_text(system: &str, kind: &str, image: &str) -> String {
        format!(
            r#"{{"version":1,"systems":{{"{system}":{{"kind":"{kind}","manifest":"{M}","image":"{image}"}}}}}}"#
        )
    }

    /// The message with its causes, as the CLI prints it.
    fn chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(inner) = cause {
            text.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        text
    }

    #[test]
    fn round_trips_and_writes_canonical_bytes() {
        let image = format!("ghcr.io/org/repo/seed@{I}");
        let lock = SeedLock::from_json(&lock_text("x86_64-linux", "oci", &image)).unwrap();
        let system: System = "x86_64-linux".parse().unwrap();
        let entry = lock.get(&system).unwrap();
        assert_eq!(entry.kind, DeliveryKind::Oci);
        assert_eq!(entry.manifest.to_string(), M);
        assert_eq!(entry.image.registry(), "ghcr.io");
        assert_eq!(entry.image.repository(), "org/repo/seed");
        assert_eq!(entry.image.digest().to_string(), I);
        let expected = format!(
            "{{\n  \"version\": 1,\n  \"systems\": {{\n    \"x86_64-linux\": {{\n      \"kind\": \"oci\",\n      \"manifest\": \"{M}\",\n      \"image\": \"{image}\"\n    }}\n  }}\n}}\n"
        );
        assert_eq!(lock.to_json(), expected);
        assert_eq!(SeedLock::from_json(&expected).unwrap(), lock);
    }

    #[test]
    fn a_credulous_policy_is_pinned_only_when_set() {
        let image = format!("ghcr.io/org/repo/seed@{I}");
        let mut lock = SeedLock::from_json(&lock_text("x86_64-linux", "oci", &image)).unwrap();
        assert_eq!(lock.credulous_policy(), None);
        assert!(!lock.to_json().contains("credulousPolicy"));
        lock.set_credulous_policy(M.parse().unwrap());
        let text = lock.to_json();
        assert!(
            text.contains(&format!("\"credulousPolicy\": \"{M}\"")),
            "{text}"
        );
        let read = SeedLock::from_json(&text).unwrap();
        assert_eq!(
            read.credulous_policy().map(|d| d.to_string()).as_deref(),
            Some(M)
        );
        let bad = text.replace(
            &format!("\"credulousPolicy\": \"{M}\""),
            "\"credulousPolicy\": \"md5:00\"",
        );
        assert!(chain(&SeedLock::from_json(&bad).unwrap_err()).contains("credulousPolicy"));
    }

    #[test]
    fn file_round_trip_is_atomic_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".seed.lock");
        let mut lock = SeedLock::new();
        for system in ["x86_64-linux", "aarch64-darwin"] {
            lock.insert(
                system.parse().unwrap(),
                LockEntry {
                    kind: DeliveryKind::Oci,
                    manifest: M.parse().unwrap(),
                    image: format!("localhost:5000/seed@{I}").parse().unwrap(),
                },
            );
        }
        lock.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.find("aarch64-darwin") < text.find("x86_64-linux"));
        assert_eq!(SeedLock::read(&path).unwrap(), lock);
    }

    #[test]
    fn strictness_with_reasons() {
        let good_image = format!("ghcr.io/org/seed@{I}");
        let cases: Vec<(String, &str)> = vec![
            ("{}".to_owned(), "no 'version'"),
            (
                r#"{"repository":"ghcr.io/x","systems":{},"tag":"abc"}"#.to_owned(),
                "nix-seed's own lock format",
            ),
            (r#"{"version":2,"systems":{}}"#.to_owned(), "version 2"),
            (
                r#"{"version":"1","systems":{}}"#.to_owned(),
                "version \"1\"",
            ),
            (r#"{"version":1}"#.to_owned(), "missing field `systems`"),
            (
                r#"{"version":1,"systems":{},"extra":0}"#.to_owned(),
                "unknown field `extra`",
            ),
            (lock_text("linux", "oci", &good_image), "malformed system"),
            (
                lock_text("x86_64-linux", "squashfs", &good_image),
                "unknown kind 'squashfs'; allowed: 'oci'",
            ),
            (lock_text("x86_64-linux", "oci", I), "no '@sha256:'"),
            (
                lock_text("x86_64-linux", "oci", &format!("org/seed@{I}")),
                "registry host",
            ),
            (
                lock_text("x86_64-linux", "oci", &format!("ghcr.io/org/seed:v1@{I}")),
                "tags move",
            ),
            (
                lock_text("x86_64-linux", "oci", &format!("ghcr.io/Org/seed@{I}")),
                "lowercase",
            ),
            (
                lock_text("x86_64-linux", "oci", "ghcr.io/org/seed@sha256:abc"),
                "malformed digest",
            ),
            (
                lock_text("x86_64-linux", "oci", "ghcr.io/org/seed@sha512:abc"),
                "must be sha256",
            ),
            (
                lock_text("x86_64-linux", "oci", &good_image).replace(M, "0xabc"),
                "field 'manifest'",
            ),
            (
                lock_text("x86_64-linux", "oci", &good_image)
                    .replace("\"kind\"", "\"extra\":1,\"kind\""),
                "unknown field `extra`",
            ),
            (
                format!(
                    r#"{{"version":1,"systems":{{"x86_64-linux":{0},"x86_64-linux":{0}}}}}"#,
                    format!(r#"{{"kind":"oci","manifest":"{M}","image":"{good_image}"}}"#)
                ),
                "appears more than once",
            ),
        ];
        for (text, reason) in cases {
            let err = chain(&SeedLock::from_json(&text).unwrap_err());
            assert!(err.contains(reason), "{text}\n  gave: {err}");
        }
    }

    fn upstream_text(version: &str) -> String {
        format!(
            r#"{{"repository":"ghcr.io/org/repo/seed","systems":{{"aarch64-linux":"{I}","x86_64-linux":"{M}"}},"tag":"0123456789abcdef0123456789abcdef01234567"{version}}}"#
        )
    }

    /// Issue 11 §5: nix-seed's own lock is recognised (with or without a version), read
    /// strictly, and refused where a v1 lock is required, with the reason.
    #[test]
    fn nix_seeds_own_lock_format_is_recognised() {
        for version in ["", r#","version":1"#] {
            let AnyLock::Upstream(lock) = AnyLock::from_json(&upstream_text(version)).unwrap()
            else {
                panic!("not read as nix-seed's format");
            };
            assert_eq!(lock.repository, "ghcr.io/org/repo/seed");
            assert_eq!(
                lock.tag.as_deref(),
                Some("0123456789abcdef0123456789abcdef01234567")
            );
            let x86: System = "x86_64-linux".parse().unwrap();
            assert_eq!(
                lock.systems[&x86].to_string(),
                format!("ghcr.io/org/repo/seed@{M}")
            );
        }
        let v1 = lock_text("x86_64-linux", "oci", &format!("ghcr.io/org/seed@{I}"));
        assert!(matches!(AnyLock::from_json(&v1), Ok(AnyLock::V1(_))));
        let err = SeedLock::from_json(&upstream_text(""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("carries no closure-manifest digest"), "{err}");

        let good = upstream_text("");
        for (text, reason) in [
            (upstream_text(r#","version":2"#), "version 2"),
            (
                good.replace(r#""tag""#, r#""extra":0,"tag""#),
                "unknown field `extra`",
            ),
            (
                good.replace("aarch64-linux", "x86_64-linux"),
                "appears more than once",
            ),
            (good.replace("aarch64-linux", "linux"), "malformed system"),
            (good.replace(I, "sha256:abc"), "malformed digest"),
            (good.replace("ghcr.io/org", "Org"), "registry host"),
            (
                good.replace(r#""repository":"ghcr.io/org/repo/seed","#, ""),
                "missing field `repository`",
            ),
        ] {
            let err = chain(&AnyLock::from_json(&text).unwrap_err());
            assert!(err.contains(reason), "{text}\n  gave: {err}");
        }
    }

    /// Bounded property test: no truncation or one-byte corruption of either format panics,
    /// and whatever still parses as v1 writes back to a lock that reads the same.
    #[test]
    fn truncated_or_corrupted_locks_never_panic() {
        let v1 = lock_text("x86_64-linux", "oci", &format!("ghcr.io/org/seed@{I}"));
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for text in [v1, upstream_text(r#","version":1"#)] {
            let bytes = text.as_bytes();
            for cut in 0..bytes.len() {
                assert!(AnyLock::from_json(&String::from_utf8_lossy(&bytes[..cut])).is_err());
            }
            for _ in 0..2000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut corrupted = bytes.to_vec();
                let at = (state % corrupted.len() as u64) as usize;
                corrupted[at] = (state >> 32) as u8;
                if let Ok(AnyLock::V1(lock)) =
                    AnyLock::from_json(&String::from_utf8_lossy(&corrupted))
                {
                    assert_eq!(SeedLock::from_json(&lock.to_json()).unwrap(), lock);
                }
            }
        }
    }

    #[test]
    fn image_reference_grammar() {
        for good in [
            "ghcr.io/org/seed",
            "localhost/seed",
            "localhost:5000/a/b/c",
            "registry.example.com:443/a-b/c__d/e.f/g---h",
            "127.0.0.1:5000/seed",
        ] {
            let text = format!("{good}@{I}");
            let image: ImageRef = text.parse().unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(image.to_string(), text);
        }
        for bad in [
            "seed",
            "docker.io/",
            "ghcr.io//seed",
            "ghcr.io/-seed",
            "ghcr.io/se..ed",
            "gh_cr.io/seed",
            "host:port/seed",
        ] {
            assert!(format!("{bad}@{I}").parse::<ImageRef>().is_err(), "{bad}");
        }
    }
}
