//! The verdict: what was checked, what was found, and why it failed if it did.

use alloy::primitives::{Address, B256};
use seed_chain::Chain;
use seed_chain::Target;
use seed_core::CommitId;
use serde::{Serialize, Serializer};

/// One reason verification failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Finding(pub String);

impl Finding {
    /// A finding with this explanation.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened to a voter's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum StatementCheck {
    /// `--statements` was not given.
    NotChecked,
    /// Fetched by its digest, signed by the voter's key, attesting exactly the vote.
    Verified,
    /// It did not verify.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A counted voter of one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoterReport {
    /// The builder id.
    pub builder_id: u8,
    /// The key that voted (the `Attested` event's signer).
    #[serde(serialize_with = "checksummed")]
    pub signer: Address,
    /// The image the builder attested.
    #[serde(serialize_with = "oci")]
    pub image_digest: B256,
    /// Its statement's digest.
    #[serde(serialize_with = "oci")]
    pub statement_digest: B256,
    /// The block of the vote.
    pub block: u64,
    /// The statement check.
    pub statement: StatementCheck,
}

/// One system of the finalised release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemReport {
    /// The Nix system.
    pub system: String,
    /// The finalised closure-manifest digest.
    #[serde(serialize_with = "oci")]
    pub manifest_digest: B256,
    /// The voter bitmap of the `ReleaseFinalised` event.
    pub voter_bitmap: u64,
    /// The counted voters whose `Attested` events agree.
    pub voters: Vec<VoterReport>,
}

/// The result of `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The release, once known.
    pub commit: Option<String>,
    /// The chain asked.
    pub chain_id: u64,
    /// The registry trusted.
    #[serde(serialize_with = "checksummed")]
    pub registry: Address,
    /// The ledger trusted.
    #[serde(serialize_with = "checksummed")]
    pub ledger: Address,
    /// The ledger's root, if the release is recorded.
    pub root: Option<B256>,
    /// The block the ledger recorded it in.
    pub block: Option<u64>,
    /// That block's hash, as the endpoint named it (what a witness compares
    /// with other endpoints).
    pub block_hash: Option<B256>,
    /// The rules version that finalised it.
    pub rules_version: Option<u32>,
    /// Whether it was the genesis release.
    pub genesis: Option<bool>,
    /// The threshold that applied.
    pub threshold: Option<u8>,
    /// Whether the root recomputed from the registry's event equals the ledger's.
    pub root_recomputed: bool,
    /// Whether statements were checked.
    pub statements_checked: bool,
    /// The systems of the release.
    pub systems: Vec<SystemReport>,
    /// The content checks of the images named (`--image`, `--lock`); empty
    /// when none were asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<crate::ContentReport>,
    /// What `--proofs` proved, and against which block hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<crate::ProofReport>,
    /// Why verification failed; empty when it passed.
    pub failures: Vec<Finding>,
    /// True only when every check passed.
    pub verified: bool,
}

impl Report {
    pub(crate) fn new(chain: &Chain, target: &Target, commit: CommitId) -> Self {
        Self {
            commit: Some(commit.to_string()),
            chain_id: chain.chain_id(),
            registry: target.registry,
            ledger: target.ledger,
            root: None,
            block: None,
            block_hash: None,
            rules_version: None,
            genesis: None,
            threshold: None,
            root_recomputed: false,
            statements_checked: false,
            systems: Vec::new(),
            content: Vec::new(),
            proof: None,
            failures: Vec::new(),
            verified: false,
        }
    }

    /// A report for a release that could not be identified.
    pub(crate) fn undetermined(chain: &Chain, target: &Target, finding: Finding) -> Self {
        let mut report = Self::new(chain, target, CommitId::from_b256(B256::ZERO));
        report.commit = None;
        report.failures.push(finding);
        report
    }

    pub(crate) fn fail(&mut self, reason: String) {
        self.failures.push(Finding(reason));
    }

    /// The release's systems, comma-separated.
    pub fn system_names(&self) -> String {
        let names: Vec<&str> = self.systems.iter().map(|s| s.system.as_str()).collect();
        names.join(", ")
    }
}

fn oci<S: Serializer>(digest: &B256, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("sha256:{}", alloy::hex::encode(digest)))
}

fn checksummed<S: Serializer>(address: &Address, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&address.to_checksum(None))
}
