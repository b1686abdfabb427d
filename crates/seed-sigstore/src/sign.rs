//! Signing a statement for the Credulous posture: a DSSE envelope signed with
//! a P-256 key, logged in Rekor, returned as a Sigstore bundle v0.3. The key
//! is a builder's managed key, or (keyless) an ephemeral one that Fulcio
//! certifies for the OIDC identity of an identity token ([`Keyless`]).
//!
//! The steps are those of `sigstore-sign`'s `sign_raw_statement`, done here
//! because that signer knows only ephemeral (keyless) keys and treats Rekor's
//! 409 as a failure, where a Credulous builder needs managed keys too and an
//! idempotent retry:
//!
//! 1. the envelope is signed once, so every retry proposes the same entry;
//! 2. the entry (`dsse` 0.0.1, the envelope and its verifier) is posted to
//!    Rekor v1; a connection failure, a 5xx or a 429 is retried with backoff
//!    ([`Retry`]), and a 409 (the entry is already logged, because an earlier
//!    attempt reached the log but its answer did not reach us) is followed to
//!    the existing entry, so a retried attestation never logs twice;
//! 3. the bundle is assembled from Rekor's answer (inclusion proof, signed
//!    checkpoint, SET) and returned for the caller to verify against its own
//!    trust root before publishing it: nothing Rekor said is taken on trust.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use sha2::{Digest, Sha256};
use sigstore_bundle::{BundleV03, VerificationMaterialV03};
use sigstore_crypto::{x509::parse_certificate_info, KeyPair};
use sigstore_fulcio::{Error as FulcioError, FulcioClient};
use sigstore_oidc::IdentityToken;
use sigstore_rekor::LogEntry;
use sigstore_tsa::{Error as TsaError, TimestampClient};
use sigstore_types::{
    DerCertificate, DsseEnvelope, DsseSignature, KeyId, KindVersion, PayloadBytes, SignatureBytes,
    SignatureContent, TimestampToken, TransparencyLogEntry,
};

use crate::{ManagedKey, Signer};

/// The DSSE payload type of an in-toto statement.
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest Rekor answer read (an entry with its proof is a few KiB).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why signing and logging failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The signing key cannot be used.
    #[error("the signing key cannot be used: {0}")]
    Key(String),
    /// The log could not be reached, or kept failing, after every retry.
    #[error(
        "Rekor at {url} is unavailable after {attempts} attempts ({last}); nothing was published, \
         run the same command again later"
    )]
    Unavailable {
        /// The log's base URL.
        url: String,
        /// How many requests were made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The log refused the entry (a 4xx other than 409 and 429): retrying the
    /// same request cannot help.
    #[error("Rekor at {url} refused the entry with HTTP {status}: {message}")]
    Refused {
        /// The log's base URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The log's message.
        message: String,
    },
    /// Fulcio refused the identity token or the request (a 4xx): the token
    /// is expired, for another audience, or not from an issuer it trusts.
    #[error("Fulcio at {url} refused to certify the identity token: {message}")]
    TokenRefused {
        /// Fulcio's base URL.
        url: String,
        /// What Fulcio said.
        message: String,
    },
    /// The identity token is not a JWT with the claims Fulcio needs.
    #[error("the identity token cannot be used: {0}")]
    Token(String),
    /// The log answered, but not with a log entry.
    #[error("Rekor at {url} answered with something that is not a log entry: {reason}")]
    BadAnswer {
        /// The log's base URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl SignError {
    /// Whether running the command again later may succeed (the log was
    /// unreachable or failing), as opposed to a refusal or a bad key.
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// How often and how patiently a failing log is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Requests in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait before the second request; it doubles after each failure.
    pub first_delay: Duration,
    /// The timeout of one request.
    pub timeout: Duration,
}

impl Default for Retry {
    /// Five requests over about 15 seconds, each allowed 30 seconds.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What one try of a request to a Sigstore service came to.
enum Attempt<T> {
    /// Finished: the answer, or an error no retry can change.
    Done(Result<T, SignError>),
    /// The service was unreachable or failing (why): try again.
    Again(String),
}

impl Retry {
    /// Tries `attempt` until it is done, waiting `first_delay` and then twice
    /// as long before each new try; after `attempts` tries that all had to be
    /// retried, [`SignError::Unavailable`] names `url` and the last reason.
    async fn run<T, Fut: std::future::Future<Output = Attempt<T>>>(
        self,
        url: &str,
        mut attempt: impl FnMut() -> Fut,
    ) -> Result<T, SignError> {
        let mut delay = self.first_delay;
        let mut last = String::new();
        for n in 1..=self.attempts.max(1) {
            if n > 1 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            match attempt().await {
                Attempt::Done(result) => return result,
                Attempt::Again(why) => last = why,
            }
        }
        Err(SignError::Unavailable {
            url: url.to_owned(),
            attempts: self.attempts.max(1),
            last,
        })
    }
}

/// A managed P-256 signing key (PKCS#8), as a Credulous builder holds it.
pub struct SigningKey {
    pair: KeyPair,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its PEM (`-----BEGIN PRIVATE KEY-----`, unencrypted
    /// PKCS#8, as `openssl genpkey -algorithm EC -pkeyopt
    /// ec_paramgen_curve:P-256` writes it).
    pub fn from_pem(pem_text: &str) -> Result<Self, SignError> {
        let block = pem::parse(pem_text).map_err(|e| SignError::Key(format!("not PEM: {e}")))?;
        match block.tag() {
            "PRIVATE KEY" => Self::from_pkcs8_der(block.contents()),
            "EC PRIVATE KEY" => Err(SignError::Key(
                "a SEC1 'EC PRIVATE KEY'; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY`"
                    .to_owned(),
            )),
            other => Err(SignError::Key(format!(
                "a '{other}' PEM block; expected an unencrypted PKCS#8 'PRIVATE KEY' (P-256)"
            ))),
        }
    }

    /// A key from its PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        let pair = KeyPair::from_pkcs8_der(der)
            .map_err(|e| SignError::Key(format!("not a P-256 PKCS#8 key: {e}")))?;
        Self::from_pair(pair)
    }

    /// A fresh random key (tests, demos).
    pub fn generate() -> Result<Self, SignError> {
        let pair = KeyPair::generate_ecdsa_p256().map_err(|e| SignError::Key(e.to_string()))?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<Self, SignError> {
        let public_der = pair
            .public_key_der()
            .map_err(|e| SignError::Key(e.to_string()))?
            .as_bytes()
            .to_vec();
        Ok(Self { pair, public_der })
    }

    /// `sha256:<hex>` of the DER public key: the bundle's key hint, and how a
    /// Credulous policy and the statement's `builder.publicKey` name the key.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.public_der)))
    }

    /// The DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// The public key's PEM, for a policy's `public-key`.
    pub fn public_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new("PUBLIC KEY", self.public_der.clone()))
    }
}

/// A keyless credential: a fresh P-256 key and the short-lived certificate
/// Fulcio issued for it to the OIDC identity of an identity token. The
/// identity is read from the certificate, not the token: it is what verifiers
/// will see.
pub struct Keyless {
    pair: KeyPair,
    certificate: DerCertificate,
    issuer: String,
    identity: String,
}

impl std::fmt::Debug for Keyless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyless")
            .field("issuer", &self.issuer)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Keyless {
    /// Asks Fulcio at `fulcio_url` to certify a fresh key for the identity
    /// `token` (a JWT) proves; retried like a log while Fulcio is unreachable
    /// or failing. A token Fulcio refuses is [`SignError::TokenRefused`].
    pub async fn certify(fulcio_url: &str, token: &str, retry: Retry) -> Result<Self, SignError> {
        let token =
            IdentityToken::from_jwt(token.trim()).map_err(|e| SignError::Token(e.to_string()))?;
        if token.is_expired() {
            return Err(SignError::Token(format!(
                "it expired at {}; ask the CI provider for a fresh one",
                token.expiration()
            )));
        }
        let pair = KeyPair::generate_ecdsa_p256().map_err(|e| SignError::Key(e.to_string()))?;
        let http = http_client(fulcio_url, retry)?;
        let client = FulcioClient::builder(fulcio_url)
            .with_http_client(http)
            .build()
            .map_err(|e| SignError::Key(e.to_string()))?;
        let url = fulcio_url.trim_end_matches('/').to_owned();
        let certificate = retry
            .run(&url, || async {
                match client.create_signing_certificate(&token, &pair).await {
                    Ok(response) => Attempt::Done(Ok(response.leaf_certificate().clone())),
                    Err(FulcioError::Status { status, message })
                        if status == 429 || status >= 500 =>
                    {
                        Attempt::Again(format!("HTTP {status}: {message}"))
                    }
                    Err(FulcioError::Status { message, .. }) => {
                        Attempt::Done(Err(SignError::TokenRefused {
                            url: url.clone(),
                            message,
                        }))
                    }
                    Err(FulcioError::Http(e)) => Attempt::Again(e),
                    Err(other) => Attempt::Done(Err(SignError::BadAnswer {
                        url: url.clone(),
                        reason: other.to_string(),
                    })),
                }
            })
            .await?;
        let info = parse_certificate_info(&certificate).map_err(|e| SignError::BadAnswer {
            url: url.clone(),
            reason: format!("the certificate does not parse: {e}"),
        })?;
        let (Some(identity), Some(issuer)) = (info.identity, info.issuer) else {
            return Err(SignError::BadAnswer {
                url,
                reason: "the certificate names no identity or no OIDC issuer".to_owned(),
            });
        };
        Ok(Self {
            pair,
            certificate,
            issuer,
            identity: identity.as_str().to_owned(),
        })
    }

    /// The identity token the CI provider offers this job, if any (GitHub
    /// Actions' `ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN` with the `sigstore`
    /// audience, GitLab's and others' `SIGSTORE_ID_TOKEN`, Buildkite, ...; the
    /// `ambient-id` detection sigstore-oidc uses).
    pub async fn ambient_token() -> Result<Option<String>, SignError> {
        match IdentityToken::detect_ambient().await {
            Ok(token) => Ok(token.map(|t| t.expose_secret().to_owned())),
            Err(e) => Err(SignError::Token(e.to_string())),
        }
    }

    /// The certificate's OIDC issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The certificate's identity (its SAN: a workflow URI, an email).
    pub fn identity(&self) -> &str {
        &self.identity
    }
}

/// What a statement is signed with.
#[derive(Debug)]
pub enum Credential {
    /// A builder's managed key.
    Key(SigningKey),
    /// An ephemeral key certified by Fulcio.
    Keyless(Keyless),
}

impl Credential {
    /// Who verifiers will find signed: the key's fingerprint, or the
    /// certificate's issuer and identity.
    pub fn signer(&self) -> Signer {
        match self {
            Self::Key(key) => Signer::Key {
                fingerprint: key.fingerprint(),
            },
            Self::Keyless(keyless) => Signer::Certificate {
                issuer: keyless.issuer.clone(),
                identity: keyless.identity.clone(),
            },
        }
    }

    /// The managed key, if this is one.
    pub const fn key(&self) -> Option<&SigningKey> {
        match self {
            Self::Key(key) => Some(key),
            Self::Keyless(_) => None,
        }
    }

    /// The managed key to verify its bundles with (none for keyless: the
    /// certificate is in the bundle).
    pub fn managed_key(&self) -> Option<ManagedKey> {
        match self {
            Self::Key(key) => Some(ManagedKey::from_der(key.public_der.clone())),
            Self::Keyless(_) => None,
        }
    }

    fn pair(&self) -> &KeyPair {
        match self {
            Self::Key(key) => &key.pair,
            Self::Keyless(keyless) => &keyless.pair,
        }
    }

    /// The verifier Rekor logs with the signature: the public key or the certificate.
    fn verifier_pem(&self) -> String {
        match self {
            Self::Key(key) => key.public_key_pem(),
            Self::Keyless(keyless) => keyless.certificate.to_pem(),
        }
    }

    /// The verifier of a Rekor v2 request: the certificate or the key, DER.
    fn v2_verifier(&self) -> serde_json::Value {
        let (field, der) = match self {
            Self::Key(key) => ("publicKey", key.public_der.clone()),
            Self::Keyless(keyless) => ("x509Certificate", keyless.certificate.as_bytes().to_vec()),
        };
        serde_json::json!({
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            field: { "rawBytes": STANDARD.encode(der) },
        })
    }

    fn material(&self) -> VerificationMaterialV03 {
        match self {
            Self::Key(key) => VerificationMaterialV03::PublicKey {
                hint: key.fingerprint(),
            },
            Self::Keyless(keyless) => {
                VerificationMaterialV03::Certificate(keyless.certificate.clone())
            }
        }
    }
}

/// An HTTP client for one of Sigstore's services, with `retry`'s timeout.
fn http_client(url: &str, retry: Retry) -> Result<reqwest::Client, SignError> {
    reqwest::Client::builder()
        .timeout(retry.timeout)
        .user_agent(concat!("seed-eth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SignError::Unavailable {
            url: url.to_owned(),
            attempts: 0,
            last: format!("no HTTP client: {e}"),
        })
}

/// An RFC 3161 timestamp authority to stamp signatures with: the bundle then
/// proves when it was signed independently of the log (Rekor v2 logs give no
/// SET, so there it is the only proof of time).
#[derive(Debug, Clone)]
pub struct Timestamper {
    url: String,
    client: TimestampClient,
    retry: Retry,
}

impl Timestamper {
    /// A timestamper for the TSA at `url` (e.g.
    /// `https://timestamp.sigstore.dev/api/v1/timestamp`).
    pub fn new(url: &str, retry: Retry) -> Result<Self, SignError> {
        let client = TimestampClient::builder(url)
            .with_http_client(http_client(url, retry)?)
            .build()
            .map_err(|e| SignError::Unavailable {
                url: url.to_owned(),
                attempts: 0,
                last: e.to_string(),
            })?;
        Ok(Self {
            url: url.to_owned(),
            client,
            retry,
        })
    }

    /// A timestamp over `signature`, retried while the TSA is unreachable or
    /// failing (its answer's imprint and nonce are checked by the client).
    async fn stamp(&self, signature: &SignatureBytes) -> Result<TimestampToken, SignError> {
        self.retry
            .run(&self.url, || async {
                match self.client.timestamp_signature(signature).await {
                    Ok(token) => Attempt::Done(Ok(token)),
                    Err(TsaError::Http(e)) => Attempt::Again(e),
                    Err(other) => Attempt::Done(Err(SignError::BadAnswer {
                        url: self.url.clone(),
                        reason: other.to_string(),
                    })),
                }
            })
            .await
    }
}

/// A log's answer to a POST: its status, one header's value, its body.
struct Posted {
    status: u16,
    header: Option<String>,
    body: Vec<u8>,
}

/// A Rekor log (v1, or v2 with [`Self::new_v2`]) to write to.
#[derive(Debug, Clone)]
pub struct RekorWriter {
    url: String,
    http: reqwest::Client,
    retry: Retry,
    v2: bool,
}

impl RekorWriter {
    /// A writer for the Rekor v1 log at `url` (e.g. `https://rekor.sigstore.dev`).
    pub fn new(url: &str, retry: Retry) -> Result<Self, SignError> {
        let http = http_client(url, retry)?;
        Ok(Self {
            url: url.trim_end_matches('/').to_owned(),
            http,
            retry,
            v2: false,
        })
    }

    /// A writer for the Rekor v2 (tile-based) log at `url`: the statement is
    /// logged as a `hashedrekord` 0.0.2 over the SHA-256 of the envelope's
    /// PAE. A v2 log gives no SET, so the bundle needs an RFC 3161 timestamp
    /// ([`Timestamper`]) to prove its time.
    pub fn new_v2(url: &str, retry: Retry) -> Result<Self, SignError> {
        Ok(Self {
            v2: true,
            ..Self::new(url, retry)?
        })
    }

    /// Whether this is a Rekor v2 log.
    pub const fn is_v2(&self) -> bool {
        self.v2
    }

    /// The log's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Signs `statement` (the exact bytes of an in-toto statement) with `key`
    /// in a DSSE envelope, logs it in this log, and returns the bundle's JSON.
    pub async fn sign_statement(
        &self,
        statement: &[u8],
        credential: &Credential,
    ) -> Result<String, SignError> {
        sign_and_log(statement, credential, std::slice::from_ref(self), None).await
    }

    /// Posts `proposal` until the log answers with its entry: retried with
    /// backoff while the log is unreachable or failing; a 409 is followed to
    /// the entry already logged.
    async fn log(&self, proposal: &str) -> Result<LogEntry, SignError> {
        let entries = format!("{}/api/v1/log/entries", self.url);
        self.retry
            .run(&self.url, || self.post_once(&entries, proposal))
            .await
    }

    /// Posts a Rekor v2 request until the log answers with its entry. A 409
    /// (an earlier try was logged but its answer lost) cannot be followed to
    /// a proof without reading tiles: it is reported for the command to be
    /// run again, which signs, and logs, afresh.
    async fn log_v2(&self, request: &str) -> Result<TransparencyLogEntry, SignError> {
        let entries = format!("{}/api/v2/log/entries", self.url);
        self.retry
            .run(&self.url, || async {
                let answer = match self.post(&entries, request, "x-log-index").await {
                    Ok(answer) => answer,
                    Err(why) => return Attempt::Again(why),
                };
                match answer.status {
                    200 | 201 => Attempt::Done(
                        serde_json::from_slice(&answer.body)
                            .map_err(|e| self.bad_answer(e.to_string())),
                    ),
                    409 => Attempt::Done(Err(SignError::Unavailable {
                        url: self.url.clone(),
                        attempts: 1,
                        last: format!(
                            "the log holds this entry (index {}) but its answer was lost; run \
                             again, which logs a new signature",
                            answer.header.as_deref().unwrap_or("unknown")
                        ),
                    })),
                    _ => self.failed(&entries, &answer),
                }
            })
            .await
    }

    /// One POST of `proposal`, and what it came to.
    async fn post_once(&self, entries: &str, proposal: &str) -> Attempt<LogEntry> {
        let answer = match self.post(entries, proposal, "location").await {
            Ok(answer) => answer,
            Err(why) => return Attempt::Again(why),
        };
        match answer.status {
            200 | 201 => Attempt::Done(self.entry_from(&answer.body)),
            409 => match self.existing(answer.header.as_deref()).await {
                Err(e) if e.is_transient() => Attempt::Again(e.to_string()),
                found => Attempt::Done(found),
            },
            _ => self.failed(entries, &answer),
        }
    }

    /// POSTs the JSON `body` to `url`: the answer with the value of `header`,
    /// or why the log could not be reached or read (worth another try).
    async fn post(&self, url: &str, body: &str, header: &str) -> Result<Posted, String> {
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status().as_u16();
        let header = response
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer to POST {url}: {e}"))?
            .to_vec();
        Ok(Posted {
            status,
            header,
            body,
        })
    }

    /// An answer that is neither an entry nor a 409: a 429 or 5xx is worth
    /// another try, anything else is a refusal.
    fn failed<T>(&self, url: &str, answer: &Posted) -> Attempt<T> {
        match answer.status {
            429 | 500..=599 => Attempt::Again(format!("HTTP {} from POST {url}", answer.status)),
            status => Attempt::Done(Err(SignError::Refused {
                url: self.url.clone(),
                status,
                message: message_of(&answer.body),
            })),
        }
    }

    /// The entry a 409's `Location` names (a path on the log, or a URL).
    async fn existing(&self, location: Option<&str>) -> Result<LogEntry, SignError> {
        let location = location
            .filter(|l| l.starts_with("/api/v1/log/entries/"))
            .ok_or_else(|| {
                self.bad_answer(
                    "a 409 without a Location under /api/v1/log/entries/ naming the existing entry"
                        .to_owned(),
                )
            })?;
        let url = format!("{}{location}", self.url);
        let unavailable = |last: String| SignError::Unavailable {
            url: self.url.clone(),
            attempts: 1,
            last,
        };
        let response = self
            .http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unavailable(format!("GET {url}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("reading GET {url}: {e}")))?;
        match status {
            200 => self.entry_from(&body),
            429 | 500..=599 => Err(unavailable(format!("HTTP {status} from GET {url}"))),
            _ => Err(self.bad_answer(format!(
                "HTTP {status} reading the existing entry {url}: {}",
                message_of(&body)
            ))),
        }
    }

    /// The one entry of a `{uuid: entry}` answer.
    fn entry_from(&self, body: &[u8]) -> Result<LogEntry, SignError> {
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(self.bad_answer(format!("{} bytes, more than expected", body.len())));
        }
        let entries: std::collections::BTreeMap<String, LogEntry> =
            serde_json::from_slice(body).map_err(|e| self.bad_answer(e.to_string()))?;
        let mut entries = entries.into_values();
        match (entries.next(), entries.next()) {
            (Some(entry), None) => Ok(entry),
            _ => Err(self.bad_answer("not exactly one entry".to_owned())),
        }
    }

    fn bad_answer(&self, reason: String) -> SignError {
        SignError::BadAnswer {
            url: self.url.clone(),
            reason,
        }
    }
}

/// Signs `statement` (the exact bytes of an in-toto statement) with `key` in
/// a DSSE envelope, once, and logs the envelope in each of `logs` (one entry
/// per log, all in the bundle, for a policy that wants each attestation in K
/// of L independent logs), with a timestamp over the signature from
/// `timestamper` when given; returns the bundle's JSON. Any log failing fails
/// the whole: a bundle is published in every log asked for or not at all.
pub async fn sign_and_log(
    statement: &[u8],
    credential: &Credential,
    logs: &[RekorWriter],
    timestamper: Option<&Timestamper>,
) -> Result<String, SignError> {
    let pae = sigstore_types::pae(PAYLOAD_TYPE, statement);
    let signature = credential
        .pair()
        .sign(&pae)
        .map_err(|e| SignError::Key(e.to_string()))?;
    let timestamp = match timestamper {
        Some(timestamper) => Some(timestamper.stamp(&signature).await?),
        None => None,
    };
    let credential_signature = signature.clone();
    let envelope = DsseEnvelope::new(
        PAYLOAD_TYPE,
        PayloadBytes::from_bytes(statement),
        DsseSignature::new(signature, KeyId::default()),
    );
    let envelope_json =
        serde_json::to_string(&envelope).map_err(|e| SignError::Key(e.to_string()))?;
    let proposal = serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": { "proposedContent": {
            "envelope": envelope_json,
            "verifiers": [STANDARD.encode(credential.verifier_pem())],
        }},
    })
    .to_string();
    let mut bundle = BundleV03::new(
        credential.material(),
        SignatureContent::DsseEnvelope(envelope),
    );
    let Some(first) = logs.first() else {
        return Err(SignError::Key("no transparency log to write to".to_owned()));
    };
    if timestamper.is_none() && logs.iter().any(RekorWriter::is_v2) {
        return Err(SignError::Key(
            "a Rekor v2 log gives no SET: the bundle needs a timestamp authority (--tsa-url) \
             to prove when it was signed"
                .to_owned(),
        ));
    }
    let v2_request = serde_json::json!({ "hashedRekordRequestV002": {
        "digest": STANDARD.encode(Sha256::digest(&pae)),
        "signature": {
            "content": STANDARD.encode(credential_signature.as_bytes()),
            "verifier": credential.v2_verifier(),
        },
    }})
    .to_string();
    for log in logs {
        let tlog_entry = match log.v2 {
            false => log
                .log(&proposal)
                .await?
                .to_bundle_entry(KindVersion::DsseV001)
                .map_err(|e| log.bad_answer(e.to_string()))?,
            true => log.log_v2(&v2_request).await?,
        };
        bundle = bundle.with_tlog_entry(tlog_entry);
    }
    if let Some(timestamp) = timestamp {
        bundle = bundle.with_rfc3161_timestamp(timestamp);
    }
    bundle
        .into_bundle()
        .to_json()
        .map_err(|e| first.bad_answer(e.to_string()))
}

/// Rekor's error `message`, or the body as text.
fn message_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned())
}
