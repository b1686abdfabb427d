//! The registry client: blobs, raw manifests, images and bit-exact promotion.
//!
//! Everything goes through `oci-client`'s raw calls so that manifest bytes
//! are never re-serialised (re-serialising can change a digest), and every
//! byte read is checked against its digest here, whatever the library or the
//! registry already checked.

use std::{collections::HashSet, fmt, sync::Mutex, time::Duration};

use futures_util::StreamExt;
use http::HeaderValue;
use oci_client::{
    client::{ClientConfig, ClientProtocol},
    secrets::RegistryAuth,
    Client, Reference,
};
use seed_core::Sha256Digest;

use crate::{
    error::OciError,
    manifest::{sha256, ImageContent, RawManifest, MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES},
    name::{Repository, Tag},
};

/// Registry credentials.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No credentials (anonymous tokens are still fetched where a registry
    /// hands them out).
    #[default]
    Anonymous,
    /// HTTP basic credentials (exchanged for bearer tokens where the registry
    /// asks for that).
    Basic {
        /// User name.
        username: String,
        /// Password or access token.
        password: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host[:port]`) spoken to over plain HTTP; all others use
    /// HTTPS. For local test registries only.
    pub plain_http: Vec<String>,
    /// Credentials used for every registry.
    pub credentials: Credentials,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed between reads of a response.
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            plain_http: Vec::new(),
            credentials: Credentials::Anonymous,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The result of promoting an image to a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// Where the tag lives.
    pub repository: Repository,
    /// The tag.
    pub tag: Tag,
    /// The digest the tag now resolves to (read back and checked).
    pub digest: Sha256Digest,
    /// What the tag resolved to before, if it existed.
    pub previous: Option<Sha256Digest>,
}

impl Promotion {
    /// Whether the tag moved (false when it already pointed at the digest).
    pub fn changed(&self) -> bool {
        self.previous != Some(self.digest)
    }
}

/// A client for OCI registries.
pub struct RegistryClient {
    pub(crate) inner: Client,
    auth: RegistryAuth,
    plain_http: Vec<String>,
    /// Registries this client has seen not to list a referrer it had just
    /// pushed (no referrers API, as in CNCF Distribution 2.8): their
    /// referrers live in the fallback tag index alone (see `referrers.rs`).
    pub(crate) without_referrers_api: Mutex<HashSet<String>>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("plain_http", &self.plain_http)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client with the given options.
    pub fn new(options: ClientOptions) -> Result<Self, OciError> {
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(options.plain_http.clone()),
            connect_timeout: Some(options.connect_timeout),
            read_timeout: Some(options.read_timeout),
            // Statements, configs and synthetic layers are small; one PUT per
            // blob is the simplest protocol every registry implements.
            use_monolithic_push: true,
            ..ClientConfig::default()
        };
        let inner = Client::try_from(config).map_err(|e| OciError::Registry {
            what: "HTTP client setup".to_owned(),
            message: e.to_string(),
        })?;
        let auth = match options.credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => RegistryAuth::Basic(username, password),
        };
        Ok(Self {
            inner,
            auth,
            plain_http: options.plain_http,
            without_referrers_api: Mutex::default(),
        })
    }

    /// An anonymous client speaking plain HTTP to `hosts` (local registries).
    pub fn plain_http(hosts: &[&str]) -> Result<Self, OciError> {
        Self::new(ClientOptions {
            plain_http: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..ClientOptions::default()
        })
    }

    /// Registers the credentials for `repo`'s registry; `oci-client` then
    /// fetches tokens per operation as the registry demands.
    pub(crate) async fn prepare(&self, repo: &Repository) {
        self.inner
            .store_auth_if_needed(repo.registry(), &self.auth)
            .await;
    }

    /// Whether the blob exists in the repository.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Sha256Digest,
    ) -> Result<bool, OciError> {
        self.prepare(repo).await;
        self.inner
            .blob_exists(&repo.at_digest(digest), &digest.to_string())
            .await
            .map_err(|e| OciError::from_client(e, format!("blob {repo}@{digest}")))
    }

    /// Uploads a blob unless it is already there; returns its digest.
    pub async fn push_blob(
        &self,
        repo: &Repository,
        bytes: &[u8],
    ) -> Result<Sha256Digest, OciError> {
        let digest = sha256(bytes);
        if self.blob_exists(repo, &digest).await? {
            return Ok(digest);
        }
        self.inner
            .push_blob(
                &repo.at_digest(&digest),
                bytes.to_vec(),
                &digest.to_string(),
            )
            .await
            .map_err(|e| OciError::from_client(e, format!("blob upload {repo}@{digest}")))?;
        Ok(digest)
    }

    /// Uploads the file at `path` as the blob `digest` of `size` bytes, streamed
    /// in chunks (a seed of several GB is never in memory), unless the
    /// repository already has it. The registry checks the digest on commit.
    pub async fn push_blob_file(
        &self,
        repo: &Repository,
        path: &std::path::Path,
        digest: &Sha256Digest,
        size: u64,
    ) -> Result<(), OciError> {
        if self.blob_exists(repo, digest).await? {
            return Ok(());
        }
        let what = format!("blob upload {repo}@{digest}");
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| OciError::Invalid {
                what: what.clone(),
                reason: format!("cannot read {}: {e}", path.display()),
            })?;
        let chunks = futures_util::stream::unfold(file, |mut file| async move {
            use tokio::io::AsyncReadExt as _;
            let mut buffer = vec![0u8; UPLOAD_CHUNK];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok(bytes::Bytes::from(buffer)), file))
                }
                Err(e) => Some((Err(e.into()), file)),
            }
        });
        self.prepare(repo).await;
        self.inner
            .push_blob_stream(
                &repo.at_digest(digest),
                chunks,
                &digest.to_string(),
                Some(size),
            )
            .await
            .map_err(|e| OciError::from_client(e, what))?;
        Ok(())
    }

    /// Downloads a blob and checks that it hashes to `digest`. More than
    /// `max_bytes` is an error (a registry cannot make us buffer without
    /// bound).
    pub async fn fetch_blob(
        &self,
        repo: &Repository,
        digest: &Sha256Digest,
        max_bytes: usize,
    ) -> Result<Vec<u8>, OciError> {
        let mut blob = self.open_blob(repo, digest, max_bytes as u64).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = blob.next_chunk().await {
            bytes.extend_from_slice(&chunk?);
        }
        let actual = sha256(&bytes);
        if actual != *digest {
            return Err(OciError::DigestMismatch {
                what: blob.what,
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Starts downloading a blob, to be read chunk by chunk with
    /// [`BlobStream::next_chunk`], so that a large blob (a seed of several
    /// GB) is never held in memory. More than `max_bytes` is an error. The
    /// caller checks the digest over what it reads (oci-client also checks it
    /// and fails the last chunk on a mismatch).
    pub async fn open_blob(
        &self,
        repo: &Repository,
        digest: &Sha256Digest,
        max_bytes: u64,
    ) -> Result<BlobStream, OciError> {
        self.prepare(repo).await;
        let what = format!("blob {repo}@{digest}");
        let reference = repo.at_digest(digest);
        let digest_text = digest.to_string();
        let stream = self
            .inner
            .pull_blob_stream(&reference, digest_text.as_str())
            .await
            .map_err(|e| OciError::from_client(e, what.clone()))?;
        if stream.content_length.is_some_and(|len| len > max_bytes) {
            return Err(too_large(&what, max_bytes));
        }
        Ok(BlobStream {
            stream,
            url: format!("{}/blobs/{digest}", self.base_url(repo)),
            what,
            remaining: max_bytes,
        })
    }

    /// Pulls a manifest by digest, exactly as stored, and checks that its
    /// bytes hash to `digest`.
    pub async fn pull_manifest(
        &self,
        repo: &Repository,
        digest: &Sha256Digest,
    ) -> Result<RawManifest, OciError> {
        let what = format!("manifest {repo}@{digest}");
        let manifest = match self.pull_raw(repo, &repo.at_digest(digest), &what).await {
            Err(mismatch @ OciError::DigestMismatch { .. }) => {
                return Err(match self.not_a_manifest(repo, digest).await {
                    Some(reason) => OciError::Invalid { what, reason },
                    None => mismatch,
                })
            }
            other => other?,
        };
        if manifest.digest() != *digest {
            return Err(OciError::DigestMismatch {
                what,
                expected: digest.to_string(),
                actual: manifest.digest().to_string(),
            });
        }
        Ok(manifest)
    }

    /// Pulls the manifest a tag points at, exactly as stored; `None` if the
    /// tag does not exist.
    pub async fn pull_tag(
        &self,
        repo: &Repository,
        tag: &Tag,
    ) -> Result<Option<RawManifest>, OciError> {
        let what = format!("tag {repo}:{tag}");
        match self.pull_raw(repo, &repo.at_tag(tag), &what).await {
            Ok(manifest) => Ok(Some(manifest)),
            Err(OciError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn pull_raw(
        &self,
        repo: &Repository,
        reference: &Reference,
        what: &str,
    ) -> Result<RawManifest, OciError> {
        self.prepare(repo).await;
        // oci-client checks the body against the reference's digest and the
        // registry's Docker-Content-Digest header; `RawManifest` hashes it
        // again, so callers compare against a digest we computed ourselves.
        let (bytes, _digest) = self
            .inner
            .pull_manifest_raw(reference, &self.auth, MANIFEST_MEDIA_TYPES)
            .await
            .map_err(|e| OciError::from_client(e, what))?;
        RawManifest::from_bytes(bytes.to_vec(), what)
    }

    /// Stores a manifest under its digest. Idempotent without a look first:
    /// the same bytes under their own digest are the same write, and asking
    /// whether they are there would cost more requests than writing them
    /// (a missing manifest takes oci-client a HEAD and a GET to establish).
    pub async fn push_manifest(
        &self,
        repo: &Repository,
        manifest: &RawManifest,
    ) -> Result<(), OciError> {
        let digest = manifest.digest();
        self.put_manifest(
            repo,
            &repo.at_digest(&digest),
            manifest,
            &format!("manifest {repo}@{digest}"),
        )
        .await
    }

    /// Points `tag` at `manifest` by storing the manifest's exact bytes under
    /// the tag (a tag-only reference, with the original media type), then
    /// reads the tag back and checks it serves the same bytes.
    pub async fn push_manifest_to_tag(
        &self,
        repo: &Repository,
        tag: &Tag,
        manifest: &RawManifest,
    ) -> Result<(), OciError> {
        let what = format!("tag {repo}:{tag}");
        self.put_manifest(repo, &repo.at_tag(tag), manifest, &what)
            .await?;
        self.check_tag(repo, tag, manifest).await
    }

    async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &Reference,
        manifest: &RawManifest,
        what: &str,
    ) -> Result<(), OciError> {
        self.prepare(repo).await;
        let content_type =
            HeaderValue::from_str(manifest.media_type()).map_err(|_| OciError::Invalid {
                what: what.to_owned(),
                reason: format!(
                    "media type '{}' is not a valid header",
                    manifest.media_type()
                ),
            })?;
        self.inner
            .push_manifest_raw(reference, manifest.bytes().to_vec(), content_type)
            .await
            .map_err(|e| OciError::from_client(e, what))?;
        Ok(())
    }

    /// Reads `tag` and checks it serves exactly `manifest`'s bytes.
    async fn check_tag(
        &self,
        repo: &Repository,
        tag: &Tag,
        manifest: &RawManifest,
    ) -> Result<(), OciError> {
        let what = format!("tag {repo}:{tag}");
        let actual = self
            .pull_tag(repo, tag)
            .await?
            .ok_or_else(|| OciError::NotFound { what: what.clone() })?;
        if actual.digest() != manifest.digest() || actual.bytes() != manifest.bytes() {
            return Err(OciError::DigestMismatch {
                what,
                expected: manifest.digest().to_string(),
                actual: actual.digest().to_string(),
            });
        }
        Ok(())
    }

    /// Pushes an image (config, layers, then the manifest by digest), and
    /// tags it if asked. Idempotent: what exists is not uploaded again.
    pub async fn push_image(
        &self,
        repo: &Repository,
        image: &ImageContent,
        tag: Option<&Tag>,
    ) -> Result<RawManifest, OciError> {
        self.push_blob(repo, &image.config).await?;
        for (_, layer) in &image.layers {
            self.push_blob(repo, layer).await?;
        }
        let manifest = image.manifest();
        self.push_manifest(repo, &manifest).await?;
        if let Some(tag) = tag {
            self.push_manifest_to_tag(repo, tag, &manifest).await?;
        }
        Ok(manifest)
    }

    /// Promotes `source@digest` to `target:tag`, bit-exact.
    ///
    /// 1. Pull the manifest by digest and check sha256(bytes) == digest.
    /// 2. If the target is another repository (same registry), mount every
    ///    blob and child manifest into it first.
    /// 3. Store the same bytes, with the original media type, under the tag
    ///    (a tag-only reference, so the tag really moves).
    /// 4. Read the tag back and check it serves those bytes.
    ///
    /// Idempotent: when the tag already serves the digest nothing is written
    /// and the result says `changed() == false`. Whether a tag may move at
    /// all (`previous` is another digest) is the caller's policy.
    pub async fn promote(
        &self,
        source: &Repository,
        digest: &Sha256Digest,
        target: &Repository,
        tag: &Tag,
    ) -> Result<Promotion, OciError> {
        let manifest = self.pull_manifest(source, digest).await?;
        if source != target {
            self.copy_within_registry(source, target, &manifest).await?;
        }
        let previous = self.pull_tag(target, tag).await?.map(|m| m.digest());
        if previous == Some(*digest) {
            self.check_tag(target, tag, &manifest).await?;
        } else {
            self.push_manifest_to_tag(target, tag, &manifest).await?;
        }
        Ok(Promotion {
            repository: target.clone(),
            tag: tag.clone(),
            digest: *digest,
            previous,
        })
    }

    /// Makes everything `manifest` references available in `target` by
    /// cross-repository blob mounts, and stores child manifests by digest.
    async fn copy_within_registry(
        &self,
        source: &Repository,
        target: &Repository,
        manifest: &RawManifest,
    ) -> Result<(), OciError> {
        if source.registry() != target.registry() {
            return Err(OciError::Invalid {
                what: format!("promotion {source} -> {target}"),
                reason: "source and target are on different registries; push the image to the target registry first (a tag can only point at content the registry holds)".to_owned(),
            });
        }
        let children = if manifest.is_index() {
            let mut children = Vec::new();
            for child in manifest.fields()?.manifests.unwrap_or_default() {
                let child = self.pull_manifest(source, &child.sha256()?).await?;
                if child.is_index() {
                    return Err(OciError::Invalid {
                        what: format!("manifest {source}@{}", manifest.digest()),
                        reason: "nested indexes are not supported for promotion".to_owned(),
                    });
                }
                children.push(child);
            }
            children
        } else {
            vec![manifest.clone()]
        };
        for child in &children {
            let fields = child.fields()?;
            let blobs = fields
                .config
                .into_iter()
                .chain(fields.layers.unwrap_or_default());
            for blob in blobs {
                self.mount_blob(source, target, &blob.sha256()?).await?;
            }
            if child != manifest {
                self.push_manifest(target, child).await?;
            }
        }
        Ok(())
    }

    async fn mount_blob(
        &self,
        source: &Repository,
        target: &Repository,
        digest: &Sha256Digest,
    ) -> Result<(), OciError> {
        if self.blob_exists(target, digest).await? {
            return Ok(());
        }
        let what = format!("blob mount {source}@{digest} -> {target}");
        self.prepare(target).await;
        self.inner
            .mount_blob(
                &target.at_digest(digest),
                &source.at_digest(digest),
                &digest.to_string(),
            )
            .await
            .map_err(|e| OciError::from_client(e, what.clone()))?;
        if !self.blob_exists(target, digest).await? {
            return Err(OciError::Registry {
                what,
                message: "the registry accepted the mount but does not serve the blob".to_owned(),
            });
        }
        Ok(())
    }

    /// What `repo@digest` serves, when it is not a manifest at all (the page
    /// of a proxy or a web server where a registry was expected). oci-client
    /// reports such an answer as a digest mismatch and drops the bytes, so
    /// they are fetched once more, plainly (best effort, for the message
    /// only: anonymous or basic credentials, no token exchange).
    async fn not_a_manifest(&self, repo: &Repository, digest: &Sha256Digest) -> Option<String> {
        let url = format!("{}/manifests/{digest}", self.base_url(repo));
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .ok()?;
        let mut request = client
            .get(&url)
            .header(reqwest::header::ACCEPT, MANIFEST_MEDIA_TYPES.join(", "));
        if let RegistryAuth::Basic(username, password) = &self.auth {
            request = request.basic_auth(username, Some(password));
        }
        let mut response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no stated type")
            .to_owned();
        // One byte more than a manifest may have is enough to judge.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_MANIFEST_BYTES {
                break;
            }
        }
        if RawManifest::from_bytes(body.clone(), "").is_ok() {
            return None;
        }
        Some(format!(
            "the registry answered HTTP {status} with {}{} bytes of {content_type}, not an image manifest or index: {}; is {} a registry?",
            if body.len() > MAX_MANIFEST_BYTES { "over " } else { "" },
            body.len().min(MAX_MANIFEST_BYTES),
            seed_core::excerpt(&body),
            repo.registry()
        ))
    }

    /// `scheme://registry/v2/path`, for error messages.
    pub(crate) fn base_url(&self, repo: &Repository) -> String {
        let scheme = if self.plain_http.iter().any(|h| h == repo.registry()) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}/v2/{}", repo.registry(), repo.path())
    }
}

/// The size of each PATCH of a streamed blob upload.
const UPLOAD_CHUNK: usize = 4 << 20;

fn too_large(what: &str, max_bytes: impl fmt::Display) -> OciError {
    OciError::Invalid {
        what: what.to_owned(),
        reason: format!("larger than the {max_bytes} bytes allowed"),
    }
}

/// A blob being downloaded; see [`RegistryClient::open_blob`].
pub struct BlobStream {
    stream: oci_client::client::SizedStream,
    url: String,
    what: String,
    remaining: u64,
}

impl BlobStream {
    /// The next chunk of the blob, `None` at its end.
    pub async fn next_chunk(&mut self) -> Option<Result<bytes::Bytes, OciError>> {
        let chunk = match self.stream.next().await? {
            Ok(chunk) => chunk,
            Err(e) => return Some(Err(OciError::from_stream(&e, &self.url, &self.what))),
        };
        match self.remaining.checked_sub(chunk.len() as u64) {
            Some(left) => {
                self.remaining = left;
                Some(Ok(chunk))
            }
            None => Some(Err(OciError::Invalid {
                what: self.what.clone(),
                reason: "the registry sent more bytes than the blob's size".to_owned(),
            })),
        }
    }
}
