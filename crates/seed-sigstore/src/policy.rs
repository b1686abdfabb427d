//! The Credulous policy: who the builders are, how many must agree, and the
//! independence rule they must satisfy among themselves.
//!
//! A policy is its own TOML file, pinned by its SHA-256 (in `.seed.lock`):
//!
//! ```toml
//! threshold = 2
//! systems = ["x86_64-linux", "aarch64-linux"]
//!
//! [[builder]]
//! name = "acme"
//! issuer = "https://token.actions.githubusercontent.com"
//! identity = "https://github.com/acme/seed/.github/workflows/seed.yaml@refs/heads/main"
//! organisation = "acme"
//! jurisdiction = "DE"
//! infrastructure = "github-hosted"
//! ```
//!
//! `identity-pattern = "^…$"` (a fully anchored regular expression) may stand
//! for `identity`; a builder signing with a managed key gives `public-key` (its
//! PEM, inline, so that the policy's digest pins it) instead of both. Builders must be pairwise distinct in organisation,
//! jurisdiction and infrastructure, as the contracts require of Zero's
//! builders, and in the *operator* of their OIDC issuer: GitHub Actions and
//! Azure Pipelines are different issuers run by one company, which could mint
//! either identity. Well-known issuers' operators are built in
//! ([`KNOWN_ISSUERS`]); `[[issuer]]` tables add or override them.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use base64::Engine;
use seed_witness::{log::LogClient, LogKey, Vkey, WitnessPolicy, WitnessedLog};

use crate::{LogEntry, ManagedKey, Signer};

/// Operators of the OIDC issuers Sigstore's public Fulcio accepts, as
/// `(issuer URL, operator)`. A policy's `[[issuer]]` tables override these.
pub const KNOWN_ISSUERS: &[(&str, &str)] = &[
    ("https://token.actions.githubusercontent.com", "microsoft"),
    ("https://vstoken.dev.azure.com", "microsoft"),
    ("https://login.microsoftonline.com", "microsoft"),
    ("https://gitlab.com", "gitlab"),
    ("https://accounts.google.com", "google"),
    ("https://oauth2.sigstore.dev/auth", "sigstore"),
    ("https://agent.buildkite.com", "buildkite"),
    ("https://oidc.circleci.com", "circleci"),
    ("https://token.codefresh.io", "codefresh"),
];

/// Why a policy cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file is not a policy.
    #[error("the Credulous policy cannot be read: {0}")]
    Parse(String),
    /// The policy is readable but breaks one of its own rules.
    #[error("the Credulous policy is refused: {0}")]
    Invalid(String),
}

/// How a builder's certificate identity is matched.
#[derive(Debug, Clone)]
pub enum IdentityMatch {
    /// Exactly this SAN.
    Exact(String),
    /// A fully anchored regular expression (`^…$`).
    Pattern(Regex),
}

impl IdentityMatch {
    /// A fully anchored pattern (`^…$`); `whose` names it in errors.
    pub fn pattern(whose: &str, pattern: &str) -> Result<Self, PolicyError> {
        anchored(whose, pattern).map(Self::Pattern)
    }

    /// Whether the certificate identity `identity` matches.
    pub fn matches(&self, identity: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == identity,
            Self::Pattern(pattern) => pattern.is_match(identity),
        }
    }
}

/// How a builder signs.
#[derive(Debug, Clone)]
pub enum BuilderSigner {
    /// Keyless, through Fulcio: certificates naming this issuer and identity.
    Identity {
        /// The OIDC issuer its certificates must name, exactly.
        issuer: String,
        /// Its certificate identity.
        identity: IdentityMatch,
        /// Who operates the issuer.
        operator: String,
    },
    /// A managed key.
    Key(ManagedKey),
}

/// One builder of the policy.
#[derive(Debug, Clone)]
pub struct PolicyBuilder {
    /// Its name in reports.
    pub name: String,
    /// How it signs.
    pub signer: BuilderSigner,
    /// The company (or person) that runs it.
    pub organisation: String,
    /// The legal jurisdiction it runs under.
    pub jurisdiction: String,
    /// The infrastructure it runs on.
    pub infrastructure: String,
}

impl PolicyBuilder {
    /// Whether `signer` is this builder.
    pub fn is(&self, signer: &Signer) -> bool {
        match (&self.signer, signer) {
            (
                BuilderSigner::Identity {
                    issuer, identity, ..
                },
                Signer::Certificate {
                    issuer: signed_issuer,
                    identity: signed_identity,
                },
            ) => issuer == signed_issuer && identity.matches(signed_identity),
            (BuilderSigner::Key(key), Signer::Key { fingerprint }) => {
                key.fingerprint() == fingerprint
            }
            _ => false,
        }
    }

    /// The operator of its OIDC issuer; `None` for a managed key.
    fn issuer_operator(&self) -> Option<&str> {
        match &self.signer {
            BuilderSigner::Identity { operator, .. } => Some(operator),
            BuilderSigner::Key(_) => None,
        }
    }
}

/// A verified Credulous policy.
#[derive(Debug, Clone)]
pub struct CredulousPolicy {
    /// How many distinct builders must attest one closure per system.
    pub threshold: usize,
    /// The systems a release needs.
    pub systems: Vec<String>,
    /// The builders, in the file's order.
    pub builders: Vec<PolicyBuilder>,
    /// SHA-256 of the file's bytes, which `.seed.lock` pins.
    pub digest: [u8; 32],
    /// The transparency logs that count; empty: any log of the trust root.
    pub logs: Vec<PolicyLog>,
    /// In how many of `logs` (by distinct operator) each attestation must be.
    pub log_quorum: usize,
    /// Which witnesses must have seen (a tree extending) each checkpoint a
    /// bundle relies on; `None`: no witnessing asked.
    pub witnesses: Option<WitnessPolicy>,
}

/// A transparency log the policy counts.
#[derive(Debug, Clone)]
pub struct PolicyLog {
    /// Its name in reports.
    pub name: String,
    /// Its key id as the trust root names it (base64 of the SHA-256 of its key).
    pub key_id: String,
    /// Who operates it: logs of one operator count once.
    pub operator: String,
    /// How witnesses know it (required with `witnesses`): its checkpoints'
    /// origin, their key (a C2SP vkey) and where to ask it for proofs.
    pub witnessed: Option<WitnessedLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PolicyFile {
    threshold: usize,
    systems: Vec<String>,
    #[serde(default, rename = "issuer")]
    issuers: Vec<IssuerEntry>,
    #[serde(rename = "builder")]
    builders: Vec<BuilderEntry>,
    #[serde(default, rename = "log")]
    logs: Vec<LogFileEntry>,
    log_quorum: Option<usize>,
    witnesses: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct LogFileEntry {
    name: String,
    key_id: String,
    operator: String,
    origin: Option<String>,
    vkey: Option<String>,
    url: Option<String>,
    tiles_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct IssuerEntry {
    url: String,
    operator: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct BuilderEntry {
    name: String,
    issuer: Option<String>,
    identity: Option<String>,
    identity_pattern: Option<String>,
    public_key: Option<String>,
    organisation: String,
    jurisdiction: String,
    infrastructure: String,
}

impl CredulousPolicy {
    /// Reads and checks a policy file's bytes.
    pub fn from_toml(bytes: &[u8]) -> Result<Self, PolicyError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| PolicyError::Parse("it is not UTF-8".to_owned()))?;
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let invalid = |reason: String| Err(PolicyError::Invalid(reason));

        let mut operators: BTreeMap<&str, &str> = KNOWN_ISSUERS.iter().copied().collect();
        for issuer in &file.issuers {
            operators.insert(&issuer.url, &issuer.operator);
        }
        let mut builders = Vec::with_capacity(file.builders.len());
        for entry in &file.builders {
            let whose = format!("builder '{}'", entry.name);
            let signer = match (
                &entry.issuer,
                &entry.identity,
                &entry.identity_pattern,
                &entry.public_key,
            ) {
                (None, None, None, Some(pem)) => BuilderSigner::Key(
                    ManagedKey::from_pem(pem)
                        .map_err(|e| PolicyError::Invalid(format!("{whose}: public-key: {e}")))?,
                ),
                (Some(issuer), identity, pattern, None) => {
                    let identity = match (identity, pattern) {
                        (Some(exact), None) => IdentityMatch::Exact(exact.clone()),
                        (None, Some(pattern)) => IdentityMatch::pattern(&whose, pattern)?,
                        _ => {
                            return invalid(format!(
                                "{whose} needs exactly one of identity and identity-pattern"
                            ))
                        }
                    };
                    let Some(operator) = operators.get(issuer.as_str()) else {
                        return invalid(format!(
                            "{whose}: who operates the issuer '{issuer}' is unknown; add an \
                             [[issuer]] table with its url and operator"
                        ));
                    };
                    BuilderSigner::Identity {
                        issuer: issuer.clone(),
                        identity,
                        operator: (*operator).to_owned(),
                    }
                }
                _ => {
                    return invalid(format!(
                        "{whose} signs either keylessly (issuer, and identity or \
                         identity-pattern) or with a public-key, not both"
                    ))
                }
            };
            builders.push(PolicyBuilder {
                name: entry.name.clone(),
                signer,
                organisation: entry.organisation.clone(),
                jurisdiction: entry.jurisdiction.clone(),
                infrastructure: entry.infrastructure.clone(),
            });
        }

        if builders.is_empty() {
            return invalid("it names no builder".to_owned());
        }
        if file.threshold == 0 || file.threshold > builders.len() {
            return invalid(format!(
                "threshold {} must be between 1 and the {} builders it names",
                file.threshold,
                builders.len()
            ));
        }
        if file.systems.is_empty() {
            return invalid("it names no system".to_owned());
        }
        distinct("system", file.systems.iter().map(String::as_str))?;
        distinct("builder name", builders.iter().map(|b| b.name.as_str()))?;
        distinct(
            "builder public key",
            builders.iter().filter_map(|b| match &b.signer {
                BuilderSigner::Key(key) => Some(key.fingerprint()),
                BuilderSigner::Identity { .. } => None,
            }),
        )?;
        // The independence rule, as the contracts enforce it for Zero.
        independent("organisation", &builders, |b| Some(&b.organisation))?;
        independent("jurisdiction", &builders, |b| Some(&b.jurisdiction))?;
        independent("infrastructure", &builders, |b| Some(&b.infrastructure))?;
        independent("issuer operator", &builders, PolicyBuilder::issuer_operator)?;

        let logs: Vec<PolicyLog> = file
            .logs
            .into_iter()
            .map(|log| {
                let witnessed = witnessed_log(&log)?;
                Ok(PolicyLog {
                    name: log.name,
                    key_id: log.key_id,
                    operator: log.operator,
                    witnessed,
                })
            })
            .collect::<Result<_, PolicyError>>()?;
        distinct("log name", logs.iter().map(|l| l.name.as_str()))?;
        distinct("log key-id", logs.iter().map(|l| l.key_id.as_str()))?;
        // Independent logs: one operator can show one view from every log it runs.
        distinct("log operator", logs.iter().map(|l| l.operator.as_str()))?;
        let log_quorum = match (file.log_quorum, logs.len()) {
            (None, _) => 1,
            (Some(_), 0) => {
                return invalid(
                    "log-quorum needs the logs it counts: add [[log]] tables (name, key-id, \
                     operator)"
                        .to_owned(),
                )
            }
            (Some(k), n) if k == 0 || k > n => {
                return invalid(format!(
                    "log-quorum {k} must be between 1 and the {n} logs it names"
                ))
            }
            (Some(k), _) => k,
        };

        let witnesses = file
            .witnesses
            .map(|text| {
                WitnessPolicy::parse(&text).map_err(|e| PolicyError::Invalid(e.to_string()))
            })
            .transpose()?;
        if witnesses.is_some() {
            if logs.is_empty() {
                return invalid(
                    "witnesses need the logs they watch: add [[log]] tables with origin, vkey \
                     and url (Rekor v1) or tiles-url (a tiled log, Rekor v2)"
                        .to_owned(),
                );
            }
            if let Some(log) = logs.iter().find(|log| log.witnessed.is_none()) {
                return invalid(format!(
                    "log {} needs origin, vkey and url (or tiles-url) for its witnesses to be \
                     checked",
                    log.name
                ));
            }
        }

        Ok(Self {
            threshold: file.threshold,
            systems: file.systems,
            builders,
            digest: Sha256::digest(bytes).into(),
            logs,
            log_quorum,
            witnesses,
        })
    }

    /// Whether `entries` (a verified bundle's) are in `log_quorum` of the
    /// policy's logs; `Err` names the logs found and the quorum. With no
    /// `[[log]]` tables any log of the trust root counts, once.
    pub fn check_logs(&self, entries: &[LogEntry]) -> Result<(), String> {
        if self.logs.is_empty() {
            return Ok(());
        }
        let found: BTreeSet<&str> = self
            .logs
            .iter()
            .filter(|log| entries.iter().any(|e| e.log_id == log.key_id))
            .map(|log| log.name.as_str())
            .collect();
        if found.len() >= self.log_quorum {
            return Ok(());
        }
        Err(format!(
            "it is logged in {} of the policy's logs ({}), and the policy requires {} of {}",
            found.len(),
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.into_iter().collect::<Vec<_>>().join(", ")
            },
            self.log_quorum,
            self.logs.len()
        ))
    }

    /// The builder `signer` is, if any. At most one matches: keyless builders
    /// have pairwise distinct issuer operators, so distinct issuers, and a
    /// certificate names one issuer; managed keys are distinct.
    pub fn builder_of(&self, signer: &Signer) -> Option<&PolicyBuilder> {
        self.builders.iter().find(|b| b.is(signer))
    }

    /// The managed keys of the policy's builders, to verify their bundles.
    pub fn keys(&self) -> Vec<ManagedKey> {
        self.builders
            .iter()
            .filter_map(|b| match &b.signer {
                BuilderSigner::Key(key) => Some(key.clone()),
                BuilderSigner::Identity { .. } => None,
            })
            .collect()
    }
}

/// Compiles a fully anchored pattern.
fn anchored(builder: &str, pattern: &str) -> Result<Regex, PolicyError> {
    if !pattern.starts_with('^') || !pattern.ends_with('$') {
        return Err(PolicyError::Invalid(format!(
            "builder '{builder}': identity-pattern '{pattern}' must be anchored at both ends \
             (^…$), or any identity containing a match would pass"
        )));
    }
    Regex::new(pattern)
        .map_err(|e| PolicyError::Invalid(format!("builder '{builder}': identity-pattern: {e}")))
}

/// Refuses a repeated value of `what`.
fn distinct<T: AsRef<str>>(what: &str, values: impl Iterator<Item = T>) -> Result<(), PolicyError> {
    let mut seen = BTreeSet::new();
    for value in values {
        if !seen.insert(value.as_ref().to_owned()) {
            return Err(PolicyError::Invalid(format!(
                "the {what} '{}' appears twice",
                value.as_ref()
            )));
        }
    }
    Ok(())
}

/// Refuses two builders sharing `tag` (where both have one): they would not
/// be independent.
fn independent(
    tag: &str,
    builders: &[PolicyBuilder],
    value: impl Fn(&PolicyBuilder) -> Option<&str>,
) -> Result<(), PolicyError> {
    for (i, first) in builders.iter().enumerate() {
        let Some(shared) = value(first) else { continue };
        if let Some(second) = builders[i + 1..].iter().find(|b| value(b) == Some(shared)) {
            return Err(PolicyError::Invalid(format!(
                "builders '{}' and '{}' share the {tag} '{shared}'; Credulous builders must be \
                 pairwise distinct in organisation, jurisdiction, infrastructure and issuer \
                 operator",
                first.name, second.name
            )));
        }
    }
    Ok(())
}

/// A `[[log]]` table's witnessing fields: all or none of `origin`, `vkey`
/// and one of `url` (Rekor v1) or `tiles-url` (a tiled log, Rekor v2); a
/// log (not a cosigner) vkey, whose key id is the first four bytes of the
/// log's `key-id` (true of Rekor v1's ECDSA and v2's Ed25519 keys alike).
fn witnessed_log(log: &LogFileEntry) -> Result<Option<WitnessedLog>, PolicyError> {
    let refuse = |why: String| Err(PolicyError::Invalid(format!("log {}: {why}", log.name)));
    let client = match LogClient::from_urls(log.url.as_deref(), log.tiles_url.as_deref()) {
        Ok(client) => client,
        Err(why) => return refuse(why),
    };
    let (origin, vkey, client) = match (&log.origin, &log.vkey, client) {
        (None, None, None) => return Ok(None),
        (Some(origin), Some(vkey), Some(client)) => (origin, vkey, client),
        _ => return refuse("origin, vkey and url (or tiles-url) go together".to_owned()),
    };
    let vkey = match Vkey::parse(vkey) {
        Ok(vkey) if !vkey.is_cosigner() => vkey,
        Ok(_) => return refuse("its vkey is a witness's cosignature key".to_owned()),
        Err(e) => return refuse(e.to_string()),
    };
    let key_id = base64::engine::general_purpose::STANDARD
        .decode(&log.key_id)
        .unwrap_or_default();
    if key_id.get(..4) != Some(&vkey.id()[..]) {
        return refuse(format!(
            "its vkey's id {} is not the start of its key-id",
            hex::encode(vkey.id())
        ));
    }
    Ok(Some(WitnessedLog {
        key: LogKey {
            origin: origin.clone(),
            vkey,
        },
        client: Some(client),
    }))
}
