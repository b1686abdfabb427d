//! Registry errors, typed by what the caller can do about them.

use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// No connection (refused, DNS, TLS, timeout): nothing was read or written.
    #[error("registry unreachable at {url}: {reason}; check that the registry runs and the address (and http/https choice) is right")]
    Unreachable {
        /// The URL that could not be reached.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The manifest, blob or repository does not exist.
    #[error("{what} not found in the registry")]
    NotFound {
        /// What was looked up.
        what: String,
    },
    /// Content does not hash to the digest it was requested or announced by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}; the registry (or something between us and it) served other bytes than were pushed")]
    DigestMismatch {
        /// What was checked.
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        actual: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error("not authorised for {what} at {url}; provide credentials with the needed (pull or push) access to this repository")]
    Unauthorised {
        /// What was attempted.
        what: String,
        /// The URL that refused.
        url: String,
    },
    /// Any other error the registry reported.
    #[error("registry error for {what}: {message}")]
    Registry {
        /// What was attempted.
        what: String,
        /// The registry's (or client's) message.
        message: String,
    },
    /// Content is well-hashed but not what seed-eth expects (shape, media
    /// type, size).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was read.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A repository, tag or registry name is malformed.
    #[error("invalid {kind} '{input}': {reason}")]
    InvalidName {
        /// `repository` or `tag`.
        kind: &'static str,
        /// The rejected input.
        input: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Concurrent writers kept replacing the referrers index.
    #[error("could not add {referrer} to the referrers index tag '{tag}' after {attempts} attempts: other writers kept replacing it; retry later")]
    Contention {
        /// The fallback tag.
        tag: String,
        /// The referrer that could not be recorded.
        referrer: String,
        /// How often it was tried.
        attempts: usize,
    },
}

impl OciError {
    /// Whether retrying later could help (transport faults and registry
    /// errors), as opposed to answers that will not change (not found, digest
    /// mismatch, unauthorised, invalid content).
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Registry { .. } | Self::Contention { .. }
        )
    }

    /// Classifies an `oci-client` error; `what` describes the operation.
    pub(crate) fn from_client(err: OciDistributionError, what: impl Into<String>) -> Self {
        let what = what.into();
        match err {
            // Some oci-client calls (blob_exists) turn HTTP statuses into
            // reqwest errors rather than registry errors.
            OciDistributionError::RequestError(e) if e.status().is_some() => {
                let url = e.url().map_or_else(|| what.clone(), ToString::to_string);
                match e.status().map(|s| s.as_u16()) {
                    Some(401 | 403) => Self::Unauthorised { what, url },
                    Some(404) => Self::NotFound { what },
                    _ => Self::Registry {
                        what,
                        message: error_chain(&e),
                    },
                }
            }
            OciDistributionError::RequestError(e)
                if e.is_connect() || e.is_timeout() || e.is_request() =>
            {
                Self::Unreachable {
                    url: e.url().map_or_else(|| what.clone(), ToString::to_string),
                    reason: error_chain(&e),
                }
            }
            OciDistributionError::UnauthorizedError { url } => Self::Unauthorised { what, url },
            OciDistributionError::AuthenticationFailure(message) => {
                Self::Unauthorised { what, url: message }
            }
            OciDistributionError::RegistryError { envelope, url } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let any = |wanted: &[OciErrorCode]| codes.iter().any(|c| wanted.contains(c));
                if any(&[
                    OciErrorCode::ManifestUnknown,
                    OciErrorCode::BlobUnknown,
                    OciErrorCode::NameUnknown,
                    OciErrorCode::NotFound,
                ]) {
                    Self::NotFound { what }
                } else if any(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]) {
                    Self::Unauthorised { what, url }
                } else {
                    Self::Registry {
                        what,
                        message: format!("{envelope} ({url})"),
                    }
                }
            }
            OciDistributionError::ServerError { code: 404, .. }
            | OciDistributionError::ImageManifestNotFoundError(_) => Self::NotFound { what },
            OciDistributionError::ServerError {
                code: 401 | 403,
                url,
                ..
            } => Self::Unauthorised { what, url },
            OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }) => Self::DigestMismatch {
                what,
                expected,
                actual,
            },
            other => Self::Registry {
                what,
                message: other.to_string(),
            },
        }
    }

    /// Classifies an I/O error from a blob stream (where `oci-client` reports
    /// digest mismatches and broken connections alike).
    pub(crate) fn from_stream(err: &std::io::Error, url: &str, what: &str) -> Self {
        if let Some(DigestError::VerificationError { expected, actual }) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<DigestError>())
        {
            return Self::DigestMismatch {
                what: what.to_owned(),
                expected: expected.clone(),
                actual: actual.clone(),
            };
        }
        Self::Unreachable {
            url: url.to_owned(),
            reason: error_chain(err),
        }
    }
}

/// An error and its sources on one line ("a: b: c"), since reqwest's
/// top-level message ("error sending request") alone says little.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
