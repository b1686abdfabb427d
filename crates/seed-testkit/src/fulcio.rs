//! `FulcioCa` and [`OidcIssuer`]: a **test double** of Fulcio, Sigstore's
//! keyless certificate authority, and of the OIDC provider whose tokens it
//! trusts. Neither can run here (the public ones must never be contacted by
//! tests, and a token from them needs a human or a CI run).
//!
//! The issuer signs JWTs with an ES256 (P-256) key: `iss` is the double's own
//! base URL, `aud` is `sigstore`, and the identity is either an email
//! (`email`, `email_verified: true`) or a GitHub-Actions workflow
//! (`job_workflow_ref`), as [`TokenIdentity`] says.
//!
//! The CA is a real one: a self-signed P-256 root, an intermediate that
//! issues the leaves, and a P-256 certificate transparency log key. A leaf is
//! what Fulcio issues, valid ten minutes: an empty subject and a critical SAN
//! (the rfc822Name email, or the workflow URI), the OIDC issuer in Fulcio's
//! extensions `1.3.6.1.4.1.57264.1.1` (raw bytes) and `.1.8` (a DER
//! UTF8String), KeyUsage digitalSignature (critical), ExtendedKeyUsage
//! codeSigning, subject and authority key identifiers, and an embedded SCT
//! (RFC 6962 precertificate flow: the CT key signs the TBS without the SCT
//! list, bound to the intermediate's key hash). What it produces is checked by
//! independent verifiers: sigstore-verify (through seed-sigstore) and
//! sigstore-python, in seed-sigstore's `tests/fulcio_double.rs`.
//!
//! [`FulcioServer`] serves it over Fulcio's v2 REST API on loopback, as
//! sigstore-fulcio's client calls it: `POST /api/v2/signingCert` (the token's
//! signature, issuer, audience and lifetime checked, then the proof of
//! possession over the token's email or subject, then a leaf issued and
//! answered with its chain, `signedCertificateEmbeddedSct`), and
//! `GET /api/v2/trustBundle`. It emits the `certificateAuthorities` and
//! `ctlogs` of a `trusted_root.json`, merged into the Rekor double's.

use std::{
    io::BufReader,
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine as _,
};
use const_oid::{
    db::rfc5912::{ECDSA_WITH_SHA_256, ID_KP_CODE_SIGNING},
    AssociatedOid, ObjectIdentifier,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sigstore_crypto::{KeyPair, VerificationKey};
use sigstore_types::{DerPublicKey, SignatureBytes};
use tls_codec::{SerializeBytes, TlsByteVecU16, TlsByteVecU24};
use x509_cert::{
    der::{
        asn1::{BitString, Ia5String, OctetString, UintRef, UtcTime, Utf8StringRef},
        Any, Decode, Encode, Reader, SliceReader, Tag,
    },
    ext::{
        pkix::{
            sct::{
                DigitallySigned, HashAlgorithm, LogId, SerializedSct, SignatureAlgorithm,
                SignatureAndHashAlgorithm, SignedCertificateTimestamp,
                SignedCertificateTimestampList, Version as SctVersion,
            },
            AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
            SubjectAltName, SubjectKeyIdentifier,
        },
        Extension,
    },
    name::Name,
    serial_number::SerialNumber,
    spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned},
    time::{Time, Validity},
    Certificate, TbsCertificate, Version,
};

use crate::http::{read_request, serve_in_background, write_response, Request};

/// A SAN entry, as [`FulcioCa::issue`] takes it (re-exported so that callers
/// need no x509-cert of their own).
pub use x509_cert::ext::pkix::name::GeneralName;

/// The audience Fulcio requires of a token.
pub const AUDIENCE: &str = "sigstore";
/// How long a leaf (and, by default, a token) is valid, as at Fulcio.
pub const LEAF_LIFETIME: Duration = Duration::from_secs(600);
/// Fulcio's legacy OIDC issuer extension: the issuer URL as raw bytes (what
/// sigstore-python's `--cert-oidc-issuer` matches).
pub const OIDC_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio's OIDC issuer extension: the issuer URL as a DER UTF8String (what
/// sigstore-verify reads first).
pub const OIDC_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Where the authorities' `validFor` windows start in the trusted root (and
/// the CA certificates' `notBefore`): 2020-01-01T00:00:00Z.
const VALID_FROM: u64 = 1_577_836_800;
/// The CA certificates' `notAfter`: 2049-12-31T23:59:59Z, the last instant
/// an X.509 UTCTime can say.
const VALID_UNTIL: u64 = 2_524_607_999;
/// The organisation on the CA certificates and in the trusted root.
const ORGANIZATION: &str = "sigstore.double.test";

/// Who a test token names, and so what the leaf's SAN says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenIdentity {
    /// A person: `email` with `email_verified: true`; the SAN is this
    /// rfc822Name, and the proof of possession is over the email.
    Email(String),
    /// A GitHub-Actions workflow run: `job_workflow_ref` (e.g.
    /// `org/repo/.github/workflows/build.yml@refs/heads/main`) with the
    /// claims GitHub puts beside it; the SAN is the URI
    /// `https://github.com/<job_workflow_ref>`, as Fulcio maps it, and the
    /// proof of possession is over the subject (`repo:<org/repo>:ref:<ref>`).
    Workflow {
        /// `<org>/<repo>/<path>@<ref>`.
        job_workflow_ref: String,
    },
}

impl TokenIdentity {
    /// What the leaf's SAN will say: the email, or the workflow URI.
    pub fn san(&self) -> String {
        match self {
            Self::Email(email) => email.clone(),
            Self::Workflow { job_workflow_ref } => format!("https://github.com/{job_workflow_ref}"),
        }
    }

    /// The claims naming this identity: `sub` and the email or GitHub's.
    fn claims(&self) -> Value {
        match self {
            Self::Email(email) => json!({
                "sub": format!("user-{}", hex::encode(&Sha256::digest(email)[..8])),
                "email": email,
                "email_verified": true,
            }),
            Self::Workflow { job_workflow_ref } => {
                let (path, git_ref) = job_workflow_ref
                    .split_once('@')
                    .unwrap_or((job_workflow_ref.as_str(), "refs/heads/main"));
                let repository = path.split("/.github/").next().unwrap_or(path);
                json!({
                    "sub": format!("repo:{repository}:ref:{git_ref}"),
                    "job_workflow_ref": job_workflow_ref,
                    "repository": repository,
                    "ref": git_ref,
                    "event_name": "push",
                    "runner_environment": "github-hosted",
                })
            }
        }
    }
}

/// The OIDC provider double: an ES256 key whose JWTs the Fulcio double
/// trusts when their `iss` is its URL.
pub struct OidcIssuer {
    url: String,
    key: KeyPair,
}

impl OidcIssuer {
    /// An issuer at `url` (the token's `iss`) with a fresh P-256 key. Two
    /// issuers at one URL have different keys: the second's tokens are
    /// forgeries to a server trusting the first.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: KeyPair::generate_ecdsa_p256().expect("a P-256 key"),
        }
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The signing key, DER (SubjectPublicKeyInfo).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key
            .public_key_der()
            .expect("a DER public key")
            .as_bytes()
            .to_vec()
    }

    /// The claims of a token for `identity`, issued now and valid for
    /// [`LEAF_LIFETIME`]; edit them and sign with [`Self::sign_claims`] for
    /// a token that is wrong in one way.
    pub fn claims(&self, identity: &TokenIdentity) -> Value {
        let now = unix_now();
        let mut claims = identity.claims();
        claims["iss"] = json!(self.url);
        claims["aud"] = json!(AUDIENCE);
        claims["iat"] = json!(now);
        claims["nbf"] = json!(now);
        claims["exp"] = json!(now + LEAF_LIFETIME.as_secs());
        claims
    }

    /// A signed token for `identity`, valid now.
    pub fn token(&self, identity: &TokenIdentity) -> String {
        self.sign_claims(&self.claims(identity))
    }

    /// `claims` as a compact JWS signed ES256 by this issuer's key.
    pub fn sign_claims(&self, claims: &Value) -> String {
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.key_id() });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let der = self
            .key
            .sign(signing_input.as_bytes())
            .expect("a signature");
        let raw = der_signature_to_raw(der.as_bytes()).expect("an ECDSA P-256 DER signature");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// Checks `token` as Fulcio checks a token from a configured issuer:
    /// ES256 signed by this issuer's key, `iss` this issuer, `aud` including
    /// `sigstore`, not expired, not before its `nbf`. Returns its claims.
    pub fn verify(&self, token: &str) -> Result<Value, String> {
        let [header_b64, payload, signature] = token.split('.').collect::<Vec<_>>()[..] else {
            return Err("the token is not a compact JWS (three dot-separated parts)".to_owned());
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| format!("the token's {what} is not base64url: {e}"))
        };
        let header: Value = serde_json::from_slice(&decode(header_b64, "header")?)
            .map_err(|e| format!("the token's header is not JSON: {e}"))?;
        if header["alg"] != "ES256" {
            return Err(format!(
                "the token is signed {}, the issuer signs ES256",
                header["alg"]
            ));
        }
        let raw: [u8; 64] = decode(signature, "signature")?
            .try_into()
            .map_err(|_| "an ES256 signature is 64 bytes".to_owned())?;
        VerificationKey::from_spki(&DerPublicKey::new(self.public_key_der()))
            .and_then(|key| {
                key.verify(
                    format!("{header_b64}.{payload}"),
                    &SignatureBytes::new(raw_signature_to_der(&raw)),
                )
            })
            .map_err(|e| {
                format!("the token's signature does not verify with the issuer's key: {e}")
            })?;
        let claims: Value = serde_json::from_slice(&decode(payload, "payload")?)
            .map_err(|e| format!("the token's payload is not JSON: {e}"))?;
        if claims["iss"] != self.url.as_str() {
            return Err(format!(
                "the token's issuer {} is not {}",
                claims["iss"], self.url
            ));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(audience) => audience == AUDIENCE,
            Value::Array(audiences) => audiences.iter().any(|a| a == AUDIENCE),
            _ => false,
        };
        if !audience_ok {
            return Err(format!("the token's audience is not {AUDIENCE}"));
        }
        let now = unix_now();
        match claims["exp"].as_u64() {
            Some(exp) if exp > now => {}
            Some(exp) => return Err(format!("the token expired at {exp} (now {now})")),
            None => return Err("the token has no exp".to_owned()),
        }
        if claims["nbf"].as_u64().is_some_and(|nbf| nbf > now) {
            return Err(format!("the token is not valid before {}", claims["nbf"]));
        }
        Ok(claims)
    }

    /// The JWK key id: the first 8 bytes of the DER key's SHA-256, hex.
    fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.public_key_der())[..8])
    }
}

/// What a verified token maps to, as Fulcio maps it: the SAN, and the
/// string the proof of possession signs (the email, else the subject).
fn principal(claims: &Value) -> Result<(GeneralName, String), String> {
    let ia5 = |text: &str| Ia5String::new(text).map_err(|e| format!("not an IA5 string: {e}"));
    if let Some(email) = claims["email"].as_str() {
        if claims["email_verified"] != true {
            return Err(format!("the token's email {email} is not verified"));
        }
        return Ok((GeneralName::Rfc822Name(ia5(email)?), email.to_owned()));
    }
    let subject = claims["sub"]
        .as_str()
        .ok_or("the token has no subject")?
        .to_owned();
    match claims["job_workflow_ref"].as_str() {
        Some(workflow) => Ok((
            GeneralName::UniformResourceIdentifier(ia5(&format!("https://github.com/{workflow}"))?),
            subject,
        )),
        None => Err("the token has neither an email nor a job_workflow_ref".to_owned()),
    }
}

/// One certificate authority of the double: its key and its certificate.
struct Authority {
    key: KeyPair,
    certificate: Certificate,
}

impl Authority {
    fn subject(&self) -> &Name {
        &self.certificate.tbs_certificate.subject
    }

    fn spki_der(&self) -> Vec<u8> {
        self.key
            .public_key_der()
            .expect("a DER public key")
            .as_bytes()
            .to_vec()
    }
}

/// The Fulcio CA double: a root, an intermediate that issues the leaves, and
/// a CT log that signs their SCTs.
pub struct FulcioCa {
    root: Authority,
    intermediate: Authority,
    ct_key: KeyPair,
    serials: AtomicU64,
}

impl FulcioCa {
    /// A CA with fresh P-256 keys (root, intermediate, CT log), its CA
    /// certificates valid from 2020 to 2049.
    pub fn new() -> Self {
        let serials = AtomicU64::new(1);
        let root_key = KeyPair::generate_ecdsa_p256().expect("a P-256 key");
        let root_name = ca_name("fulcio double root");
        let root_spki = spki(&root_key).expect("the root's SPKI");
        let root = Authority {
            certificate: sign_certificate(
                &root_key,
                TbsCertificate {
                    version: Version::V3,
                    serial_number: serial(&serials, &root_spki),
                    signature: ecdsa_sha256(),
                    issuer: root_name.clone(),
                    validity: ca_validity(),
                    subject: root_name,
                    extensions: Some(ca_extensions(&root_spki, None, None).expect("extensions")),
                    subject_public_key_info: root_spki,
                    issuer_unique_id: None,
                    subject_unique_id: None,
                },
            )
            .expect("the root certificate"),
            key: root_key,
        };
        let intermediate_key = KeyPair::generate_ecdsa_p256().expect("a P-256 key");
        let intermediate_spki = spki(&intermediate_key).expect("the intermediate's SPKI");
        let intermediate = Authority {
            certificate: sign_certificate(
                &root.key,
                TbsCertificate {
                    version: Version::V3,
                    serial_number: serial(&serials, &intermediate_spki),
                    signature: ecdsa_sha256(),
                    issuer: root.subject().clone(),
                    validity: ca_validity(),
                    subject: ca_name("fulcio double intermediate"),
                    extensions: Some(
                        ca_extensions(
                            &intermediate_spki,
                            Some(&root.certificate.tbs_certificate.subject_public_key_info),
                            Some(0),
                        )
                        .expect("extensions"),
                    ),
                    subject_public_key_info: intermediate_spki,
                    issuer_unique_id: None,
                    subject_unique_id: None,
                },
            )
            .expect("the intermediate certificate"),
            key: intermediate_key,
        };
        Self {
            root,
            intermediate,
            ct_key: KeyPair::generate_ecdsa_p256().expect("a P-256 key"),
            serials,
        }
    }

    /// The CA chain, DER, issuer of the leaves first: the intermediate, then
    /// the root (the order of a trusted root's `certChain`).
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        [&self.intermediate, &self.root]
            .iter()
            .map(|authority| authority.certificate.to_der().expect("a DER certificate"))
            .collect()
    }

    /// The CT log's public key, DER (SubjectPublicKeyInfo).
    pub fn ct_public_key_der(&self) -> Vec<u8> {
        self.ct_key
            .public_key_der()
            .expect("a DER public key")
            .as_bytes()
            .to_vec()
    }

    /// The CT log's id: SHA-256 of its DER public key (RFC 6962, 3.2).
    pub fn ct_log_id(&self) -> [u8; 32] {
        Sha256::digest(self.ct_public_key_der()).into()
    }

    /// Issues a leaf for `public_key_der` (SubjectPublicKeyInfo) naming
    /// `san` and the OIDC `issuer`, valid [`LEAF_LIFETIME`] from now, with
    /// its SCT embedded. Returns the leaf, DER.
    pub fn issue(
        &self,
        public_key_der: &[u8],
        san: GeneralName,
        issuer: &str,
    ) -> Result<Vec<u8>, String> {
        let der_error = |e: x509_cert::der::Error| format!("encoding the leaf: {e}");
        let subject_public_key_info = SubjectPublicKeyInfoOwned::from_der(public_key_der)
            .map_err(|e| format!("the public key is not a DER SubjectPublicKeyInfo: {e}"))?;
        let now = unix_now();
        let mut extensions = vec![
            extension(&KeyUsage(KeyUsages::DigitalSignature.into()), true),
            extension(&ExtendedKeyUsage(vec![ID_KP_CODE_SIGNING]), false),
            extension(&key_identifier(&subject_public_key_info)?, false),
            extension(
                &authority_key_identifier(
                    &self
                        .intermediate
                        .certificate
                        .tbs_certificate
                        .subject_public_key_info,
                )?,
                false,
            ),
            // The subject is empty, so the SAN is critical (RFC 5280, 4.2.1.6).
            extension(&SubjectAltName(vec![san]), true),
        ]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(der_error)?;
        extensions.push(Extension {
            extn_id: OIDC_ISSUER_V1,
            critical: false,
            extn_value: OctetString::new(issuer.as_bytes()).map_err(der_error)?,
        });
        extensions.push(Extension {
            extn_id: OIDC_ISSUER_V2,
            critical: false,
            extn_value: OctetString::new(
                Utf8StringRef::new(issuer)
                    .and_then(|issuer| issuer.to_der())
                    .map_err(der_error)?,
            )
            .map_err(der_error)?,
        });
        let mut tbs = TbsCertificate {
            version: Version::V3,
            serial_number: serial(&self.serials, &subject_public_key_info),
            signature: ecdsa_sha256(),
            issuer: self.intermediate.subject().clone(),
            validity: Validity {
                not_before: utc(now).map_err(der_error)?,
                not_after: utc(now + LEAF_LIFETIME.as_secs()).map_err(der_error)?,
            },
            subject: Name::default(),
            subject_public_key_info,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        // RFC 6962, 3.1-3.3: the CT log signs the precertificate's TBS (the
        // leaf without its SCT list) bound to the issuer's key hash; the SCT
        // then goes into the leaf as its last extension.
        let sct = self.sct(&tbs.to_der().map_err(der_error)?)?;
        if let Some(extensions) = tbs.extensions.as_mut() {
            extensions.push(sct);
        }
        sign_certificate(&self.intermediate.key, tbs)
            .and_then(|leaf| leaf.to_der())
            .map_err(der_error)
    }

    /// The SCT list extension for a precertificate TBS (DER), signed by the
    /// CT key now.
    fn sct(&self, precert_tbs: &[u8]) -> Result<Extension, String> {
        let tls_error = |e: tls_codec::Error| format!("encoding the SCT: {e:?}");
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        let issuer_key_hash: [u8; 32] = Sha256::digest(self.intermediate.spki_der()).into();
        // RFC 6962, 3.2: digitally-signed struct { version v1(0);
        // signature_type certificate_timestamp(0); uint64 timestamp;
        // entry_type precert_entry(1); PreCert { issuer_key_hash[32];
        // TBSCertificate<1..2^24-1> }; CtExtensions<0..2^16-1> }.
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&timestamp.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes());
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend(
            TlsByteVecU24::from_slice(precert_tbs)
                .tls_serialize()
                .map_err(tls_error)?,
        );
        signed.extend(
            TlsByteVecU16::from_slice(&[])
                .tls_serialize()
                .map_err(tls_error)?,
        );
        let signature = self
            .ct_key
            .sign(&signed)
            .map_err(|e| format!("signing the SCT: {e}"))?;
        let sct = SignedCertificateTimestamp {
            version: SctVersion::V1,
            log_id: LogId {
                key_id: self.ct_log_id(),
            },
            timestamp,
            extensions: TlsByteVecU16::from_slice(&[]),
            signature: DigitallySigned {
                algorithm: SignatureAndHashAlgorithm {
                    hash: HashAlgorithm::Sha256,
                    signature: SignatureAlgorithm::Ecdsa,
                },
                signature: TlsByteVecU16::from_slice(signature.as_bytes()),
            },
        };
        let list =
            SignedCertificateTimestampList::new(&[SerializedSct::new(sct).map_err(tls_error)?])
                .map_err(|e| format!("encoding the SCT list: {e:?}"))?;
        extension(&list, false).map_err(|e| format!("encoding the SCT list: {e}"))
    }

    /// The chain Fulcio answers for `leaf` (DER): leaf, intermediate, root,
    /// each PEM.
    pub fn chain_pem(&self, leaf: &[u8]) -> Vec<String> {
        std::iter::once(leaf.to_vec())
            .chain(self.chain_der())
            .map(|der| pem("CERTIFICATE", &der))
            .collect()
    }

    /// `rekor_root` (a `trusted_root.json`, e.g. [`crate::rekor::RekorServer::trusted_root`])
    /// with this CA (served at `base_url`) added to its `certificateAuthorities`
    /// and its CT log to its `ctlogs`, both valid from 2020: a root that
    /// trusts the Rekor double's log and this Fulcio double, nothing else.
    pub fn trusted_root(&self, base_url: &str, rekor_root: &Value) -> Value {
        let mut root = rekor_root.clone();
        root["mediaType"] = json!("application/vnd.dev.sigstore.trustedroot+json;version=0.1");
        let authority = json!({
            "subject": { "organization": ORGANIZATION, "commonName": "fulcio double" },
            "uri": base_url,
            "certChain": {
                "certificates": self
                    .chain_der()
                    .iter()
                    .map(|der| json!({ "rawBytes": STANDARD.encode(der) }))
                    .collect::<Vec<_>>()
            },
            "validFor": { "start": "2020-01-01T00:00:00Z" }
        });
        let ct_log = json!({
            "baseUrl": format!("{base_url}/ct"),
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": STANDARD.encode(self.ct_public_key_der()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": "2020-01-01T00:00:00Z" }
            },
            "logId": { "keyId": STANDARD.encode(self.ct_log_id()) }
        });
        for (field, item) in [("certificateAuthorities", authority), ("ctlogs", ct_log)] {
            match root[field].as_array_mut() {
                Some(items) => items.push(item),
                None => root[field] = json!([item]),
            }
        }
        for field in ["tlogs", "timestampAuthorities"] {
            if !root[field].is_array() {
                root[field] = json!([]);
            }
        }
        root
    }
}

impl Default for FulcioCa {
    fn default() -> Self {
        Self::new()
    }
}

/// A sigstore-python client trust config
/// (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`): `trusted_root`
/// and a signing config naming the Fulcio double (also the OIDC issuer) at
/// `fulcio_url` and the Rekor v1 double at `rekor_url`, for
/// `sigstore --trust-config`.
pub fn client_trust_config(trusted_root: &Value, fulcio_url: &str, rekor_url: &str) -> Value {
    let service = |url: &str| {
        json!({
            "url": url,
            "majorApiVersion": 1,
            "validFor": { "start": "2020-01-01T00:00:00Z" },
            "operator": ORGANIZATION
        })
    };
    json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": trusted_root,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(fulcio_url)],
            "oidcUrls": [service(fulcio_url)],
            "rekorTlogUrls": [service(rekor_url)],
            "tsaUrls": [],
            "rekorTlogConfig": { "selector": "ANY" },
            "tsaConfig": { "selector": "ANY" }
        }
    })
}

/// A [`FulcioCa`] and the [`OidcIssuer`] it trusts, served over Fulcio's v2
/// REST API on a loopback port for the rest of the test process. The
/// issuer's URL is the server's own.
pub struct FulcioServer {
    addr: SocketAddr,
    state: Arc<State>,
}

struct State {
    ca: FulcioCa,
    issuer: OidcIssuer,
}

impl FulcioServer {
    /// Starts a server with a fresh CA and issuer on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            ca: FulcioCa::new(),
            issuer: OidcIssuer::new(format!("http://{addr}")),
        });
        serve_in_background(listener, state.clone(), serve);
        Ok(Self { addr, state })
    }

    /// The server's base URL, as clients are configured with it; also the
    /// OIDC issuer URL its tokens carry.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its address, for [`crate::http::request`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OIDC issuer whose tokens it accepts.
    pub fn issuer(&self) -> &OidcIssuer {
        &self.state.issuer
    }

    /// A token for `identity` from its issuer, valid now.
    pub fn token(&self, identity: &TokenIdentity) -> String {
        self.state.issuer.token(identity)
    }

    /// The CA.
    pub fn ca(&self) -> &FulcioCa {
        &self.state.ca
    }

    /// `rekor_root` with this CA and its CT log added (see
    /// [`FulcioCa::trusted_root`]).
    pub fn trusted_root(&self, rekor_root: &Value) -> Value {
        self.state.ca.trusted_root(&self.url(), rekor_root)
    }
}

/// Serves the requests of one connection until the client closes it.
fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader)? {
        let (status, body) = answer(state, &request);
        write_response(&mut writer, status, &[], body.to_string().as_bytes())?;
    }
    Ok(())
}

/// An error answer, as Fulcio's gateway gives it (a JSON code and message).
fn error(status: u16, message: impl Into<String>) -> (u16, Value) {
    (
        status,
        json!({ "code": status, "message": message.into(), "details": [] }),
    )
}

fn answer(state: &State, request: &Request) -> (u16, Value) {
    let path = request.target.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("POST", "/api/v2/signingCert") => match signing_cert(state, &request.body) {
            Ok(body) => (200, body),
            Err((status, message)) => error(status, message),
        },
        ("GET", "/api/v2/trustBundle") => (
            200,
            json!({ "chains": [{ "chain": {
                "certificates": state
                    .ca
                    .chain_der()
                    .iter()
                    .map(|der| pem("CERTIFICATE", der))
                    .collect::<Vec<_>>()
            } }] }),
        ),
        _ => error(
            404,
            format!("{} {path} is not served by this double", request.method),
        ),
    }
}

/// `POST /api/v2/signingCert` with a public key and its proof of possession:
/// the token first (401 when it is not the issuer's or not valid now), then
/// the proof (400), then the leaf and its chain.
fn signing_cert(state: &State, body: &[u8]) -> Result<Value, (u16, String)> {
    let request: Value =
        serde_json::from_slice(body).map_err(|e| (400, format!("the request is not JSON: {e}")))?;
    let token = request["credentials"]["oidcIdentityToken"]
        .as_str()
        .ok_or((400, "credentials.oidcIdentityToken is missing".to_owned()))?;
    let claims = state.issuer.verify(token).map_err(|e| (401, e))?;
    let (san, challenge) = principal(&claims).map_err(|e| (401, e))?;
    let key_request = &request["publicKeyRequest"];
    let public_key = key_request["publicKey"]["content"]
        .as_str()
        .ok_or((400, "publicKeyRequest.publicKey.content is missing (this double takes a PEM key, not a CSR)".to_owned()))
        .and_then(|pem| {
            DerPublicKey::from_pem(pem)
                .map_err(|e| (400, format!("publicKeyRequest.publicKey.content: {e}")))
        })?;
    let proof = key_request["proofOfPossession"]
        .as_str()
        .and_then(|b64| STANDARD.decode(b64).ok())
        .ok_or((
            400,
            "publicKeyRequest.proofOfPossession must be a base64 signature".to_owned(),
        ))?;
    VerificationKey::from_spki(&public_key)
        .map_err(|e| (400, format!("the public key is not usable: {e}")))?
        .verify(challenge.as_bytes(), &SignatureBytes::new(proof))
        .map_err(|_| {
            (
                400,
                format!("the proof of possession is not a signature over {challenge:?} by the key"),
            )
        })?;
    let leaf = state
        .ca
        .issue(public_key.as_bytes(), san, state.issuer.url())
        .map_err(|e| (400, e))?;
    Ok(json!({
        "signedCertificateEmbeddedSct": {
            "chain": { "certificates": state.ca.chain_pem(&leaf) }
        }
    }))
}

/// `der` as PEM with `label`, LF line endings (as Go and OpenSSL write it,
/// and so as Rekor stores a verifier and sigstore-python compares it).
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Now, in seconds since the epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn utc(unix_seconds: u64) -> Result<Time, x509_cert::der::Error> {
    UtcTime::from_unix_duration(Duration::from_secs(unix_seconds)).map(Time::UtcTime)
}

pub(crate) fn ca_validity() -> Validity {
    Validity {
        not_before: utc(VALID_FROM).expect("a UTCTime"),
        not_after: utc(VALID_UNTIL).expect("a UTCTime"),
    }
}

pub(crate) fn ca_name(common_name: &str) -> Name {
    format!("CN={common_name},O={ORGANIZATION}")
        .parse()
        .expect("a distinguished name")
}

/// `ecdsa-with-SHA256`, parameters absent (RFC 5758, 3.2).
pub(crate) fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

pub(crate) fn spki(key: &KeyPair) -> Result<SubjectPublicKeyInfoOwned, String> {
    let der = key.public_key_der().map_err(|e| e.to_string())?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(|e| e.to_string())
}

/// A positive serial number of 16 bytes, unique per CA: the SHA-256 of a
/// counter, the time and the subject's key.
pub(crate) fn serial(counter: &AtomicU64, spki: &SubjectPublicKeyInfoOwned) -> SerialNumber {
    let mut hasher = Sha256::new();
    hasher.update(counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    hasher.update(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos())
            .to_be_bytes(),
    );
    hasher.update(spki.subject_public_key.raw_bytes());
    let mut bytes: [u8; 16] = hasher.finalize()[..16].try_into().expect("16 bytes");
    // Positive and 16 bytes long: top bit clear, first byte non-zero.
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).expect("a 16-byte serial number")
}

/// The key identifier of `spki`: the first 20 bytes of the SHA-256 of its
/// key bits (RFC 7093, method 1).
fn key_id(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha256::digest(spki.subject_public_key.raw_bytes())[..20].to_vec()
}

pub(crate) fn key_identifier(
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<SubjectKeyIdentifier, String> {
    OctetString::new(key_id(spki))
        .map(SubjectKeyIdentifier)
        .map_err(|e| e.to_string())
}

fn authority_key_identifier(
    issuer: &SubjectPublicKeyInfoOwned,
) -> Result<AuthorityKeyIdentifier, String> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id(issuer)).map_err(|e| e.to_string())?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

/// A CA's extensions: BasicConstraints CA (critical, with `path_len`),
/// KeyUsage keyCertSign and cRLSign (critical), its key identifier, and the
/// issuer's (none for a self-signed root).
pub(crate) fn ca_extensions(
    spki: &SubjectPublicKeyInfoOwned,
    issuer: Option<&SubjectPublicKeyInfoOwned>,
    path_len: Option<u8>,
) -> Result<Vec<Extension>, String> {
    let mut extensions = vec![
        extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            },
            true,
        ),
        extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true),
        extension(&key_identifier(spki)?, false),
    ];
    if let Some(issuer) = issuer {
        extensions.push(extension(&authority_key_identifier(issuer)?, false));
    }
    extensions
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())
}

pub(crate) fn extension<T: AssociatedOid + Encode>(
    value: &T,
    critical: bool,
) -> Result<Extension, x509_cert::der::Error> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// `tbs` signed ECDSA P-256 SHA-256 by `key`.
pub(crate) fn sign_certificate(
    key: &KeyPair,
    tbs: TbsCertificate,
) -> Result<Certificate, x509_cert::der::Error> {
    let signature = key
        .sign(&tbs.to_der()?)
        .map_err(|_| x509_cert::der::Error::from(x509_cert::der::ErrorKind::Failed))?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_sha256(),
        signature: BitString::from_bytes(signature.as_bytes())?,
    })
}

/// An ECDSA P-256 signature, DER (`SEQUENCE { r INTEGER, s INTEGER }`), as
/// JOSE's fixed-width `r || s`.
fn der_signature_to_raw(der: &[u8]) -> Option<[u8; 64]> {
    let mut reader = SliceReader::new(der).ok()?;
    let (r, s) = reader
        .sequence(|sequence| Ok((UintRef::decode(sequence)?, UintRef::decode(sequence)?)))
        .ok()?;
    reader.finish(()).ok()?;
    let mut raw = [0u8; 64];
    for (half, int) in raw.chunks_mut(32).zip([r, s]) {
        let bytes = int.as_bytes();
        let start = half.len().checked_sub(bytes.len())?;
        half[start..].copy_from_slice(bytes);
    }
    Some(raw)
}

/// JOSE's `r || s` as a DER ECDSA signature.
fn raw_signature_to_der(raw: &[u8; 64]) -> Vec<u8> {
    let integers = UintRef::new(&raw[..32])
        .and_then(|r| r.to_der())
        .and_then(|mut content| {
            content.extend(UintRef::new(&raw[32..])?.to_der()?);
            Ok(content)
        });
    integers
        .and_then(|content| Any::new(Tag::Sequence, content)?.to_der())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_issuer_only() {
        let issuer = OidcIssuer::new("http://127.0.0.1:1");
        let identity = TokenIdentity::Email("builder@example.org".to_owned());
        let claims = issuer.verify(&issuer.token(&identity)).unwrap();
        assert_eq!(claims["email"], "builder@example.org");

        let forger = OidcIssuer::new("http://127.0.0.1:1");
        assert!(issuer.verify(&forger.token(&identity)).is_err());

        let mut expired = issuer.claims(&identity);
        expired["exp"] = json!(unix_now() - 1);
        assert!(issuer.verify(&issuer.sign_claims(&expired)).is_err());

        let mut audience = issuer.claims(&identity);
        audience["aud"] = json!("not-sigstore");
        assert!(issuer.verify(&issuer.sign_claims(&audience)).is_err());
    }

    #[test]
    fn signatures_convert_between_der_and_jose() {
        let key = KeyPair::generate_ecdsa_p256().unwrap();
        for i in 0..32u8 {
            let der = key.sign(&[i]).unwrap();
            let raw = der_signature_to_raw(der.as_bytes()).unwrap();
            assert_eq!(raw_signature_to_der(&raw), der.as_bytes());
        }
    }

    #[test]
    fn leaves_carry_what_fulcio_puts_in_them() {
        let ca = FulcioCa::new();
        let key = KeyPair::generate_ecdsa_p256().unwrap();
        let leaf = ca
            .issue(
                key.public_key_der().unwrap().as_bytes(),
                GeneralName::Rfc822Name(Ia5String::new("a@example.org").unwrap()),
                "http://issuer.test",
            )
            .unwrap();
        let info =
            sigstore_crypto::parse_certificate_info(&sigstore_types::DerCertificate::new(leaf))
                .unwrap();
        assert_eq!(info.issuer.as_deref(), Some("http://issuer.test"));
        assert_eq!(
            info.identity.map(|identity| identity.as_str().to_owned()),
            Some("a@example.org".to_owned())
        );
        assert_eq!(
            info.not_after.as_second() - info.not_before.as_second(),
            LEAF_LIFETIME.as_secs() as i64
        );
    }
}
