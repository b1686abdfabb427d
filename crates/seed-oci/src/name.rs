//! Repository and tag names, checked before any request is made.

use std::{fmt, str::FromStr};

use oci_client::Reference;
use seed_core::Sha256Digest;
use seed_nix::ImageRef;

use crate::error::OciError;

/// A repository in a registry: `<registry>/<path>`, e.g. `ghcr.io/org/seed`
/// or `127.0.0.1:5000/seed`. The registry is always explicit (no implicit
/// `docker.io`), as in `.seed.lock` (D-018).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repository {
    registry: String,
    path: String,
}

impl Repository {
    /// The registry host, with its port if any.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `<registry>/<path>@<digest>`.
    pub fn at_digest(&self, digest: &Sha256Digest) -> Reference {
        Reference::with_digest(self.registry.clone(), self.path.clone(), digest.to_string())
    }

    /// `<registry>/<path>:<tag>`, with no digest: `oci-client` addresses a
    /// reference by its digest whenever it has one, so a push to a reference
    /// carrying both would not move the tag.
    pub fn at_tag(&self, tag: &Tag) -> Reference {
        Reference::with_tag(self.registry.clone(), self.path.clone(), tag.0.clone())
    }

    /// The digest-pinned image reference `<registry>/<path>@<digest>`.
    pub fn image_ref(&self, digest: &Sha256Digest) -> Result<ImageRef, OciError> {
        format!("{self}@{digest}")
            .parse()
            .map_err(|_| OciError::InvalidName {
                kind: "repository",
                input: self.to_string(),
                reason: "not usable in a digest-pinned image reference",
            })
    }
}

impl From<&ImageRef> for Repository {
    fn from(image: &ImageRef) -> Self {
        Self {
            registry: image.registry().to_owned(),
            path: image.repository().to_owned(),
        }
    }
}

impl FromStr for Repository {
    type Err = OciError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| OciError::InvalidName {
            kind: "repository",
            input: input.to_owned(),
            reason,
        };
        // Reuse the one reference grammar the project has (`.seed.lock`'s) by
        // pinning the name to a dummy digest; it rejects tags, a missing
        // registry host and malformed path components.
        let dummy = format!("{input}@sha256:{}", "1".repeat(64));
        let image: ImageRef = dummy.parse().map_err(|_| {
            invalid("expected '<registry>/<path>' with lowercase path components and no tag or digest, e.g. 'ghcr.io/org/seed' or '127.0.0.1:5000/seed'")
        })?;
        Ok(Self::from(&image))
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}` (the distribution spec's
/// grammar).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// The tag of the referrers tag schema for `digest`: `sha256-<hex>`.
    pub fn referrers_fallback(digest: &Sha256Digest) -> Self {
        Self(digest.to_string().replacen(':', "-", 1))
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = OciError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let bytes = input.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 128
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(OciError::InvalidName {
                kind: "tag",
                input: input.to_owned(),
                reason: "expected 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'",
            });
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        let repo: Repository = "127.0.0.1:5000/org/seed".parse().unwrap();
        assert_eq!(repo.registry(), "127.0.0.1:5000");
        assert_eq!(repo.path(), "org/seed");
        assert_eq!(repo.to_string(), "127.0.0.1:5000/org/seed");
        let digest: Sha256Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let by_digest = repo.at_digest(&digest);
        assert_eq!(by_digest.digest(), Some(digest.to_string().as_str()));
        assert_eq!(by_digest.resolve_registry(), "127.0.0.1:5000");
        let by_tag = repo.at_tag(&"v1".parse().unwrap());
        assert_eq!((by_tag.tag(), by_tag.digest()), (Some("v1"), None));
        for bad in [
            "seed",
            "ghcr.io/Org/seed",
            "ghcr.io/org/seed:v1",
            "ghcr.io/",
        ] {
            assert!(bad.parse::<Repository>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        for good in ["v1", "latest", "sha256-abc", "_x", "a.b-c_d"] {
            assert!(good.parse::<Tag>().is_ok(), "{good}");
        }
        for bad in ["", ".x", "-x", "a:b", "a/b", &"a".repeat(129)] {
            assert!(bad.parse::<Tag>().is_err(), "{bad}");
        }
        let digest: Sha256Digest = format!("sha256:{}", "b".repeat(64)).parse().unwrap();
        assert_eq!(
            Tag::referrers_fallback(&digest).as_str(),
            format!("sha256-{}", "b".repeat(64))
        );
    }
}
