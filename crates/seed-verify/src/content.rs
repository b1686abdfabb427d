//! What the images a consumer is about to use hold: `verify --image` and
//! `--lock` read each image and compare its closure manifest with the one the
//! release finalised (D-045). An image a counted voter attested is not enough:
//! a single builder can attest the agreed manifest with other bytes.

use std::collections::BTreeMap;

use seed_core::{image_candidates, Sha256Digest, System};
use seed_image::{registry::image_closure, ContentError, ImageClosure};
use seed_oci::{OciError, RegistryClient, Repository};
use serde::Serialize;

use crate::{report::SystemReport, Finding, Report, VerifyError};

/// Where the images to check are, and how to read them.
#[derive(Debug)]
pub struct ContentSource {
    /// The registry client.
    pub client: RegistryClient,
    /// The repository of each system's image (a lock's references).
    pub per_system: BTreeMap<System, Repository>,
    /// The repository of `--image`.
    pub any_image: Option<Repository>,
}

/// The outcome of one image's content check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum ContentResult {
    /// The image holds exactly the finalised closure.
    Matches,
    /// It holds another closure.
    Mismatch {
        /// The closure manifest it holds.
        holds: String,
        /// The store paths that differ, when an image holding the finalised
        /// closure could be read to compare with.
        differences: Vec<String>,
    },
    /// Its content cannot be read as a closure.
    Unreadable {
        /// Why.
        reason: String,
    },
}

/// One image's content check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentReport {
    /// The system.
    pub system: String,
    /// The image (`sha256:…`).
    pub image: String,
    /// What it holds.
    pub result: ContentResult,
}

/// Checks the content of the images the request named (`images`: per
/// system) against the finalised manifests in `report`.
pub(crate) async fn check_content(
    source: &ContentSource,
    images: &[(System, Sha256Digest, Repository)],
    report: &mut Report,
) -> Result<(), VerifyError> {
    let mut findings = Vec::new();
    for (system, image, repository) in images {
        let Some(finalised) = report.systems.iter().find(|s| s.system == system.as_str()) else {
            continue;
        };
        let wanted = Sha256Digest::from_bytes(finalised.manifest_digest)
            .map_err(|_| VerifyError::Internal("a digest validated earlier"))?;
        let result = match read_image_closure(&source.client, repository, image).await? {
            Ok(closure) if closure.manifest.digest() == wanted => ContentResult::Matches,
            Ok(closure) => {
                let differences =
                    match reference_closure(source, repository, finalised, image).await? {
                        Some(reference) => closure.manifest.differences(&reference.manifest),
                        None => Vec::new(),
                    };
                ContentResult::Mismatch {
                    holds: closure.manifest.digest().to_string(),
                    differences,
                }
            }
            Err(reason) => ContentResult::Unreadable { reason },
        };
        match &result {
            ContentResult::Matches => {}
            ContentResult::Mismatch { holds, differences } => {
                let named = if differences.is_empty() {
                    String::new()
                } else {
                    format!(": {}", differences.join("; "))
                };
                findings.push(format!(
                    "{system}: image {image} does not hold the release's closure: it holds the \
                     closure manifest {holds}, not the finalised {wanted}{named}"
                ));
            }
            ContentResult::Unreadable { reason } => findings.push(format!(
                "{system}: the content of image {image} cannot be checked ({reason}); \
                 --no-content skips the check, which leaves the image unbound to the release"
            )),
        }
        report.content.push(ContentReport {
            system: system.to_string(),
            image: image.to_string(),
            result,
        });
    }
    report
        .failures
        .extend(findings.into_iter().map(Finding::new));
    Ok(())
}

/// The closure of `image`; `Ok(Err(reason))` when its content is at fault
/// (the image's builder's fault), `Err` when the registry could not be asked
/// or served bytes that are not the blob (the registry's).
pub async fn read_image_closure(
    client: &RegistryClient,
    repository: &Repository,
    image: &Sha256Digest,
) -> Result<Result<ImageClosure, String>, VerifyError> {
    match image_closure(client, repository, image).await {
        Ok(closure) => Ok(Ok(closure)),
        Err(error) if error.is_content_fault() => Ok(Err(error.to_string())),
        Err(ContentError::Registry(OciError::NotFound { .. })) => {
            Ok(Err(format!("it is not in {repository}")))
        }
        Err(ContentError::Registry(source_error)) => Err(VerifyError::Registry {
            repository: repository.to_string(),
            source: source_error,
        }),
        // The registry served bytes that are not the blob: its fault, not the image's.
        Err(ContentError::DigestMismatch {
            what,
            expected,
            actual,
        }) => Err(VerifyError::Registry {
            repository: repository.to_string(),
            source: OciError::DigestMismatch {
                what,
                expected,
                actual,
            },
        }),
        Err(other) => Ok(Err(other.to_string())),
    }
}

/// The closure of another counted voter's image that holds the finalised
/// manifest (D-031 order, same repository), to name the store paths a
/// mismatching image changed; `None` when there is none to read.
async fn reference_closure(
    source: &ContentSource,
    repository: &Repository,
    finalised: &SystemReport,
    mismatching: &Sha256Digest,
) -> Result<Option<ImageClosure>, VerifyError> {
    let candidates = image_candidates(
        finalised
            .voters
            .iter()
            .map(|v| (v.builder_id, finalised.manifest_digest, v.image_digest)),
        &finalised.manifest_digest,
        finalised.voter_bitmap,
    );
    for (_, image) in candidates {
        let Ok(image) = Sha256Digest::from_bytes(image) else {
            continue;
        };
        if image == *mismatching {
            continue;
        }
        if let Ok(closure) = read_image_closure(&source.client, repository, &image).await? {
            if closure.manifest.digest().as_b256() == finalised.manifest_digest {
                return Ok(Some(closure));
            }
        }
    }
    Ok(None)
}
