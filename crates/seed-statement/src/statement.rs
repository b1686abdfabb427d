//! The in-toto Statement v1 a builder signs after a reproducible build.
//!
//! ```json
//! {"_type": "https://in-toto.io/Statement/v1",
//!  "subject": [{"name": "ghcr.io/org/seed", "digest": {"sha256": "<hex>"}}],
//!  "predicateType": "https://seed-eth.dev/attestation/v1",
//!  "predicate": {
//!    "source": {"repository": "https://github.com/org/repo",
//!               "commit": "<40 or 64 hex>", "flakeLock": "sha256:<hex>"},
//!    "system": "x86_64-linux",
//!    "closureManifest": "sha256:<hex>",
//!    "image": "ghcr.io/org/seed@sha256:<hex>",
//!    "builder": {"address": "0x<EIP-55>", "chainId": 1, "registry": "0x<EIP-55>"},
//!    // or, under the Credulous posture (Sigstore, no chain):
//!    // "builder": {"oidcIssuer": "https://token.actions.githubusercontent.com",
//!    //             "identity": "https://github.com/org/repo/.github/workflows/seed.yaml@refs/heads/main"}
//!    // "builder": {"publicKey": "sha256:<hex of the DER SubjectPublicKeyInfo>"}
//!    "ci": {"runId": "<provider's run id>"},
//!    "nix": {"substituters": [], "trustedSubstituters": [], "config": {"sandbox": "true"}},
//!    "buildTime": "2026-01-31T12:00:00Z"}}
//! ```
//!
//! The subject is always the image (the thing a registry serves and a
//! referrer attaches to) and is derived from `predicate.image`, so the two can
//! never disagree. Every field is required and unknown fields are rejected: a
//! new field is a new `predicateType`. On the wire the statement is canonical
//! JSON ([`crate::canonical`]); reading insists on it, so one statement has
//! one byte string and one digest. docs/decisions.md (D-019) gives the
//! reasons.

use std::{collections::BTreeMap, fmt, str::FromStr};

use alloy_primitives::Address;
use seed_core::{CommitId, Sha256Digest, System};
use seed_nix::ImageRef;
use serde::{Deserialize, Serialize};

use crate::{
    canonical::{is_canonical_json, to_canonical_json, MAX_SAFE_INTEGER},
    nix::{NixSettings, NixSettingsError},
    time::Timestamp,
};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// `predicateType` of a seed-eth build attestation, version 1.
pub const PREDICATE_TYPE: &str = "https://seed-eth.dev/attestation/v1";

/// Why a statement (or one of its fields) was rejected.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// The bytes are not JSON of the statement's shape (missing, unknown,
    /// duplicate or mistyped fields).
    #[error("not a seed-eth statement: {0}")]
    Shape(#[source] serde_json::Error),
    /// Valid statement JSON, but not in canonical form.
    #[error("statement JSON is not canonical (sorted keys, no whitespace, minimal escapes); a signer must sign exactly the bytes `Statement::to_canonical_json` produces")]
    NotCanonical,
    /// `_type` is not in-toto Statement v1.
    #[error("statement _type is '{found}'; expected '{STATEMENT_TYPE}'")]
    WrongStatementType {
        /// The `_type` found.
        found: String,
    },
    /// `predicateType` is not ours.
    #[error("predicateType is '{found}'; expected '{PREDICATE_TYPE}'")]
    WrongPredicateType {
        /// The `predicateType` found.
        found: String,
    },
    /// The subject is not exactly the image named by the predicate.
    #[error("subject must be exactly one entry, the image '{image}' with only a sha256 digest")]
    SubjectMismatch {
        /// The predicate's image.
        image: String,
    },
    /// A field's value is malformed.
    #[error("statement field '{field}': {reason}")]
    Field {
        /// JSON path of the field, e.g. `predicate.source.commit`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The Nix settings are inconsistent or malformed.
    #[error("statement field 'predicate.nix'")]
    Nix(#[from] NixSettingsError),
    /// The chain id cannot be written exactly as a JSON number.
    #[error("chain id {0} is above 2^53 - 1, which JSON numbers cannot carry exactly")]
    ChainIdTooLarge(u64),
}

fn field(field: &'static str, reason: impl fmt::Display) -> StatementError {
    StatementError::Field {
        field,
        reason: reason.to_string(),
    }
}

/// Where the source came from: a repository URI such as
/// `https://github.com/org/repo` or `git+ssh://host/repo`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepositoryUri(String);

impl FromStr for RepositoryUri {
    type Err = StatementError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let reason = "expected an absolute URI '<scheme>://<location>' without whitespace, e.g. 'https://github.com/org/repo' (at most 2048 bytes)";
        let (scheme, rest) = input
            .split_once("://")
            .ok_or_else(|| field("predicate.source.repository", reason))?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        let rest_ok =
            !rest.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control());
        if !scheme_ok || !rest_ok || input.len() > 2048 {
            return Err(field("predicate.source.repository", reason));
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for RepositoryUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The CI provider's identifier of the build run (e.g. a GitHub Actions run
/// id): 1 to 256 bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl FromStr for RunId {
    type Err = StatementError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() || input.len() > 256 || input.chars().any(char::is_control) {
            return Err(field(
                "predicate.ci.runId",
                "expected 1 to 256 bytes without control characters",
            ));
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The source repository.
    pub repository: RepositoryUri,
    /// The full commit id.
    pub commit: CommitId,
    /// SHA-256 of the exact bytes of `flake.lock` at that commit.
    pub flake_lock: Sha256Digest,
}

/// Who built, in the terms of the posture that counts the vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builder {
    /// Zero: a builder registered in a `SeedRegistry`, voting on chain.
    Registered(RegisteredBuilder),
    /// Credulous: a Sigstore signer, counted by a Credulous policy.
    Sigstore(SigstoreBuilder),
}

impl Builder {
    /// The registered builder, or `None` for a Sigstore signer.
    pub const fn registered(&self) -> Option<&RegisteredBuilder> {
        match self {
            Self::Registered(builder) => Some(builder),
            Self::Sigstore(_) => None,
        }
    }

    /// The Sigstore signer, or `None` for a registered builder.
    pub const fn sigstore(&self) -> Option<&SigstoreBuilder> {
        match self {
            Self::Registered(_) => None,
            Self::Sigstore(builder) => Some(builder),
        }
    }
}

/// A Credulous builder as its Sigstore bundle proves it: the certificate's
/// OIDC issuer and identity (keyless), or a managed key's fingerprint. The
/// verifier requires it to equal what the bundle's verification found, so a
/// builder cannot claim another's identity in the predicate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SigstoreBuilder {
    /// Keyless: a Fulcio certificate for an OIDC identity.
    Identity {
        /// The OIDC issuer URL, e.g. `https://token.actions.githubusercontent.com`.
        issuer: String,
        /// The certificate's subject alternative name (a workflow URI, an email).
        identity: String,
    },
    /// A managed P-256 key: `sha256:<hex>` of its DER SubjectPublicKeyInfo.
    Key {
        /// The key's fingerprint.
        fingerprint: Sha256Digest,
    },
}

impl SigstoreBuilder {
    /// A keyless signer, checked: issuer and identity are 1 to 1024 bytes
    /// without control characters, and the issuer is an `https://` URL (or
    /// `http://`, which only a local test issuer uses; verification requires
    /// the issuer to be exactly the certificate's either way).
    pub fn identity(issuer: &str, identity: &str) -> Result<Self, StatementError> {
        let text_ok =
            |t: &str| !t.is_empty() && t.len() <= 1024 && !t.chars().any(char::is_control);
        let url = issuer.starts_with("https://") || issuer.starts_with("http://");
        if !text_ok(issuer) || !url {
            return Err(field(
                "predicate.builder.oidcIssuer",
                "expected an https:// URL of at most 1024 bytes without control characters",
            ));
        }
        if !text_ok(identity) {
            return Err(field(
                "predicate.builder.identity",
                "expected 1 to 1024 bytes without control characters",
            ));
        }
        Ok(Self::Identity {
            issuer: issuer.to_owned(),
            identity: identity.to_owned(),
        })
    }
}

impl fmt::Display for SigstoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identity { issuer, identity } => write!(f, "{identity} (issuer {issuer})"),
            Self::Key { fingerprint } => write!(f, "key {fingerprint}"),
        }
    }
}

/// A Zero builder and the deployment its statement is for.
///
/// Naming the chain and the registry contract is the replay protection of a
/// statement: verifiers for another deployment reject it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisteredBuilder {
    /// The builder's registered address; the statement's signer.
    pub address: Address,
    /// The chain the registry lives on (at most 2^53 - 1).
    pub chain_id: u64,
    /// The registry contract the builder is registered with.
    pub registry: Address,
}

/// The seed-eth predicate: everything a builder attests about one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicate {
    /// What was built.
    pub source: Source,
    /// The Nix system it was built for.
    pub system: System,
    /// The closure-manifest digest (D-017): what the quorum compares.
    pub closure_manifest: Sha256Digest,
    /// Where the built seed image is, pinned by digest: a fetch pointer.
    pub image: ImageRef,
    /// Who built it, for which deployment.
    pub builder: Builder,
    /// The CI run that built it.
    pub run_id: RunId,
    /// The Nix settings of the build.
    pub nix: NixSettings,
    /// When the build finished.
    pub build_time: Timestamp,
}

/// An in-toto Statement v1 with the seed-eth predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    predicate: Predicate,
}

impl Statement {
    /// A statement for `predicate`, whose subject is the predicate's image.
    pub fn new(predicate: Predicate) -> Result<Self, StatementError> {
        if let Builder::Registered(builder) = &predicate.builder {
            if builder.chain_id > MAX_SAFE_INTEGER {
                return Err(StatementError::ChainIdTooLarge(builder.chain_id));
            }
        }
        Ok(Self { predicate })
    }

    /// The predicate.
    pub const fn predicate(&self) -> &Predicate {
        &self.predicate
    }

    /// The subject: the image's repository name and manifest digest.
    pub fn subject(&self) -> (&str, Sha256Digest) {
        (self.predicate.image.name(), self.predicate.image.digest())
    }

    /// The canonical JSON bytes: what is signed and stored.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        match to_canonical_json(&self.to_wire()) {
            Ok(bytes) => bytes,
            // `Statement::new` ruled out the only value (a huge chain id) that
            // has no canonical form; everything else is strings and objects.
            Err(err) => unreachable!("validated statement is not canonicalisable: {err}"),
        }
    }

    /// Reads a statement from its canonical JSON bytes, checking every field.
    pub fn from_canonical_json(bytes: &[u8]) -> Result<Self, StatementError> {
        let wire: WireStatement = serde_json::from_slice(bytes).map_err(StatementError::Shape)?;
        let statement = Self::from_wire(wire)?;
        // Checked after the fields so that a malformed statement reports the
        // field, not just "not canonical".
        if !is_canonical_json(bytes) {
            return Err(StatementError::NotCanonical);
        }
        Ok(statement)
    }

    fn to_wire(&self) -> WireStatement {
        let p = &self.predicate;
        WireStatement {
            type_: STATEMENT_TYPE.to_owned(),
            subject: vec![WireSubject {
                name: p.image.name().to_owned(),
                digest: BTreeMap::from([(
                    "sha256".to_owned(),
                    hex::encode(p.image.digest().as_b256()),
                )]),
            }],
            predicate_type: PREDICATE_TYPE.to_owned(),
            predicate: WirePredicate {
                source: WireSource {
                    repository: p.source.repository.to_string(),
                    commit: p.source.commit.to_string(),
                    flake_lock: p.source.flake_lock.to_string(),
                },
                system: p.system.to_string(),
                closure_manifest: p.closure_manifest.to_string(),
                image: p.image.to_string(),
                builder: WireBuilder::from(&p.builder),
                ci: WireCi {
                    run_id: p.run_id.to_string(),
                },
                nix: WireNix {
                    substituters: p.nix.substituters().to_vec(),
                    trusted_substituters: p.nix.trusted_substituters().to_vec(),
                    config: p.nix.config().clone(),
                },
                build_time: p.build_time.to_string(),
            },
        }
    }

    fn from_wire(wire: WireStatement) -> Result<Self, StatementError> {
        if wire.type_ != STATEMENT_TYPE {
            return Err(StatementError::WrongStatementType { found: wire.type_ });
        }
        if wire.predicate_type != PREDICATE_TYPE {
            return Err(StatementError::WrongPredicateType {
                found: wire.predicate_type,
            });
        }
        let w = wire.predicate;
        let image: ImageRef = w.image.parse().map_err(|e| field("predicate.image", e))?;
        let expected_digest = hex::encode(image.digest().as_b256());
        let subject_ok = matches!(
            wire.subject.as_slice(),
            [only] if only.name == image.name()
                && only.digest.len() == 1
                && only.digest.get("sha256") == Some(&expected_digest)
        );
        if !subject_ok {
            return Err(StatementError::SubjectMismatch {
                image: image.to_string(),
            });
        }
        let predicate = Predicate {
            source: Source {
                repository: w.source.repository.parse()?,
                commit: w
                    .source
                    .commit
                    .parse()
                    .map_err(|e| field("predicate.source.commit", e))?,
                flake_lock: w
                    .source
                    .flake_lock
                    .parse()
                    .map_err(|e| field("predicate.source.flakeLock", e))?,
            },
            system: w.system.parse().map_err(|e| field("predicate.system", e))?,
            closure_manifest: w
                .closure_manifest
                .parse()
                .map_err(|e| field("predicate.closureManifest", e))?,
            image,
            builder: w.builder.parse()?,
            run_id: w.ci.run_id.parse()?,
            nix: NixSettings::new(w.nix.substituters, w.nix.trusted_substituters, w.nix.config)?,
            build_time: w
                .build_time
                .parse()
                .map_err(|e| field("predicate.buildTime", e))?,
        };
        Self::new(predicate)
    }
}

/// Parses an address that must be written in its EIP-55 checksummed form.
fn parse_checksummed(text: &str, name: &'static str) -> Result<Address, StatementError> {
    let address = Address::parse_checksummed(text, None).map_err(|_| {
        field(
            name,
            format!("'{text}' is not an EIP-55 checksummed address ('0x' and 40 hex digits in mixed case)"),
        )
    })?;
    Ok(address)
}

// The wire structs mirror the JSON exactly; `deny_unknown_fields` and serde's
// own duplicate-field check make reading strict, and the conversions above
// validate every value.

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireStatement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<WireSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: WirePredicate,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSubject {
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WirePredicate {
    source: WireSource,
    system: String,
    closure_manifest: String,
    image: String,
    builder: WireBuilder,
    ci: WireCi,
    nix: WireNix,
    build_time: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireSource {
    repository: String,
    commit: String,
    flake_lock: String,
}

/// The builder object: its fields say which kind it is.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum WireBuilder {
    Registered(WireRegisteredBuilder),
    Identity(WireIdentityBuilder),
    Key(WireKeyBuilder),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireRegisteredBuilder {
    address: String,
    chain_id: u64,
    registry: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireIdentityBuilder {
    oidc_issuer: String,
    identity: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireKeyBuilder {
    public_key: String,
}

impl From<&Builder> for WireBuilder {
    fn from(builder: &Builder) -> Self {
        match builder {
            Builder::Registered(b) => Self::Registered(WireRegisteredBuilder {
                address: b.address.to_checksum(None),
                chain_id: b.chain_id,
                registry: b.registry.to_checksum(None),
            }),
            Builder::Sigstore(SigstoreBuilder::Identity { issuer, identity }) => {
                Self::Identity(WireIdentityBuilder {
                    oidc_issuer: issuer.clone(),
                    identity: identity.clone(),
                })
            }
            Builder::Sigstore(SigstoreBuilder::Key { fingerprint }) => Self::Key(WireKeyBuilder {
                public_key: fingerprint.to_string(),
            }),
        }
    }
}

impl WireBuilder {
    fn parse(&self) -> Result<Builder, StatementError> {
        Ok(match self {
            Self::Registered(w) => Builder::Registered(RegisteredBuilder {
                address: parse_checksummed(&w.address, "predicate.builder.address")?,
                chain_id: w.chain_id,
                registry: parse_checksummed(&w.registry, "predicate.builder.registry")?,
            }),
            Self::Identity(w) => {
                Builder::Sigstore(SigstoreBuilder::identity(&w.oidc_issuer, &w.identity)?)
            }
            Self::Key(w) => Builder::Sigstore(SigstoreBuilder::Key {
                fingerprint: w
                    .public_key
                    .parse()
                    .map_err(|e| field("predicate.builder.publicKey", e))?,
            }),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireCi {
    run_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WireNix {
    substituters: Vec<String>,
    trusted_substituters: Vec<String>,
    config: BTreeMap<String, String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy_primitives::address;

    /// A complete, valid predicate used across this crate's tests.
    pub(crate) fn sample_predicate() -> Predicate {
        let digest = |c: char| -> Sha256Digest {
            format!("sha256:{}", c.to_string().repeat(64))
                .parse()
                .unwrap()
        };
        Predicate {
            source: Source {
                repository: "https://github.com/seed-eth/example".parse().unwrap(),
                commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
                flake_lock: digest('1'),
            },
            system: "x86_64-linux".parse().unwrap(),
            closure_manifest: digest('2'),
            image: format!("ghcr.io/seed-eth/seed@sha256:{}", "3".repeat(64))
                .parse()
                .unwrap(),
            builder: Builder::Registered(RegisteredBuilder {
                address: address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
                chain_id: 31337,
                registry: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            }),
            run_id: "1234567890".parse().unwrap(),
            nix: NixSettings::from_show_config(
                "sandbox = true\nsubstituters =\ntrusted-substituters = https://cache.nixos.org/\n",
            )
            .unwrap(),
            build_time: "2026-01-31T12:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn canonical_form_is_pinned() {
        let statement = Statement::new(sample_predicate()).unwrap();
        let json = String::from_utf8(statement.to_canonical_json()).unwrap();
        let expected = concat!(
            r#"{"_type":"https://in-toto.io/Statement/v1","#,
            r#""predicate":{"buildTime":"2026-01-31T12:00:00Z","#,
            r#""builder":{"address":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","chainId":31337,"registry":"0x5FbDB2315678afecb367f032d93F642f64180aa3"},"#,
            r#""ci":{"runId":"1234567890"},"#,
            r#""closureManifest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","#,
            r#""image":"ghcr.io/seed-eth/seed@sha256:3333333333333333333333333333333333333333333333333333333333333333","#,
            r#""nix":{"config":{"sandbox":"true","substituters":"","trusted-substituters":"https://cache.nixos.org/"},"substituters":[],"trustedSubstituters":["https://cache.nixos.org/"]},"#,
            r#""source":{"commit":"0123456789abcdef0123456789abcdef01234567","flakeLock":"sha256:1111111111111111111111111111111111111111111111111111111111111111","repository":"https://github.com/seed-eth/example"},"#,
            r#""system":"x86_64-linux"},"#,
            r#""predicateType":"https://seed-eth.dev/attestation/v1","#,
            r#""subject":[{"digest":{"sha256":"3333333333333333333333333333333333333333333333333333333333333333"},"name":"ghcr.io/seed-eth/seed"}]}"#,
        );
        assert_eq!(json, expected);
        assert_eq!(
            Statement::from_canonical_json(json.as_bytes()).unwrap(),
            statement
        );
    }

    fn reparse(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Statement, StatementError> {
        let statement = Statement::new(sample_predicate()).unwrap();
        let mut value: serde_json::Value =
            serde_json::from_slice(&statement.to_canonical_json()).unwrap();
        edit(&mut value);
        Statement::from_canonical_json(&to_canonical_json(&value).unwrap())
    }

    #[test]
    fn strict_reading() {
        assert!(matches!(
            reparse(|v| v["_type"] = "https://in-toto.io/Statement/v0.1".into()),
            Err(StatementError::WrongStatementType { .. })
        ));
        assert!(matches!(
            reparse(|v| v["predicateType"] = "https://slsa.dev/provenance/v1".into()),
            Err(StatementError::WrongPredicateType { .. })
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["extra"] = 1.into()),
            Err(StatementError::Shape(_))
        ));
        assert!(matches!(
            reparse(|v| v["subject"][0]["digest"]["sha256"] = "4".repeat(64).into()),
            Err(StatementError::SubjectMismatch { .. })
        ));
        assert!(matches!(
            reparse(|v| v["subject"][0]["digest"]["sha512"] = "4".repeat(128).into()),
            Err(StatementError::SubjectMismatch { .. })
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["source"]["commit"] = "abc123".into()),
            Err(StatementError::Field {
                field: "predicate.source.commit",
                ..
            })
        ));
        let lower = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
        assert!(matches!(
            reparse(|v| v["predicate"]["builder"]["address"] = lower.into()),
            Err(StatementError::Field {
                field: "predicate.builder.address",
                ..
            })
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["buildTime"] = "2026-01-31T12:00:00+00:00".into()),
            Err(StatementError::Field {
                field: "predicate.buildTime",
                ..
            })
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["nix"]["substituters"] = serde_json::json!(["https://x"])),
            Err(StatementError::Nix(NixSettingsError::Inconsistent { .. }))
        ));
    }

    #[test]
    fn non_canonical_bytes_are_rejected() {
        let statement = Statement::new(sample_predicate()).unwrap();
        let pretty = serde_json::to_vec_pretty(&statement.to_wire()).unwrap();
        assert!(matches!(
            Statement::from_canonical_json(&pretty),
            Err(StatementError::NotCanonical)
        ));
    }

    #[test]
    fn huge_chain_ids_are_refused() {
        let mut predicate = sample_predicate();
        if let Builder::Registered(builder) = &mut predicate.builder {
            builder.chain_id = MAX_SAFE_INTEGER + 1;
        }
        assert!(matches!(
            Statement::new(predicate),
            Err(StatementError::ChainIdTooLarge(_))
        ));
    }

    /// The sample predicate signed by a Sigstore identity instead.
    fn credulous(builder: SigstoreBuilder) -> Statement {
        let mut predicate = sample_predicate();
        predicate.builder = Builder::Sigstore(builder);
        Statement::new(predicate).unwrap()
    }

    #[test]
    fn sigstore_builders_round_trip_in_their_own_shapes() {
        let keyless = credulous(
            SigstoreBuilder::identity(
                "https://token.actions.githubusercontent.com",
                "https://github.com/org/repo/.github/workflows/seed.yaml@refs/heads/main",
            )
            .unwrap(),
        );
        let json: serde_json::Value = serde_json::from_slice(&keyless.to_canonical_json()).unwrap();
        assert_eq!(
            json["predicate"]["builder"],
            serde_json::json!({
                "identity": "https://github.com/org/repo/.github/workflows/seed.yaml@refs/heads/main",
                "oidcIssuer": "https://token.actions.githubusercontent.com",
            })
        );
        assert_eq!(
            Statement::from_canonical_json(&keyless.to_canonical_json()).unwrap(),
            keyless
        );
        let fingerprint = format!("sha256:{}", "5".repeat(64)).parse().unwrap();
        let managed = credulous(SigstoreBuilder::Key { fingerprint });
        let json: serde_json::Value = serde_json::from_slice(&managed.to_canonical_json()).unwrap();
        assert_eq!(
            json["predicate"]["builder"],
            serde_json::json!({ "publicKey": format!("sha256:{}", "5".repeat(64)) })
        );
        assert_eq!(
            Statement::from_canonical_json(&managed.to_canonical_json()).unwrap(),
            managed
        );
    }

    #[test]
    fn sigstore_builders_are_strict() {
        assert!(SigstoreBuilder::identity("ftp://issuer.test", "me").is_err());
        assert!(SigstoreBuilder::identity("issuer.test", "me").is_err());
        assert!(SigstoreBuilder::identity("https://issuer.test", "").is_err());
        assert!(SigstoreBuilder::identity("https://issuer.test", "a\nb").is_err());
        assert!(matches!(
            reparse(
                |v| v["predicate"]["builder"] = serde_json::json!({"oidcIssuer": "https://i.test", "identity": "x", "address": "0x"})
            ),
            Err(StatementError::Shape(_))
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["builder"] = serde_json::json!({"publicKey": "md5:00"})),
            Err(StatementError::Field {
                field: "predicate.builder.publicKey",
                ..
            })
        ));
        assert!(matches!(
            reparse(|v| v["predicate"]["builder"] =
                serde_json::json!({"oidcIssuer": "https://i.test", "identity": "x\u{7}"})),
            Err(StatementError::Field {
                field: "predicate.builder.identity",
                ..
            })
        ));
    }
}
