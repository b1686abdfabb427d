//! The signed-vote file `attest --sign-only` writes and `relay` reads: the
//! fields of the registry's `SignedVote`, the deployment it is for, and where
//! the statement envelope is. Read strictly: unknown, missing or malformed
//! fields are errors naming the field.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, Bytes, B256};
use eyre::{eyre, WrapErr};
use seed_chain::Vote;
use seed_core::{CommitId, Sha256Digest, System};
use serde::{Deserialize, Serialize};

/// The only version of the file format.
pub const VOTE_FILE_VERSION: u32 = 1;

/// The statement envelope a vote commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatementRef {
    /// Where the envelope was written (relative to the vote file when relative).
    pub path: PathBuf,
    /// Its digest, equal to `statementDigest`.
    pub digest: String,
}

/// The file, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoteFile {
    /// [`VOTE_FILE_VERSION`].
    pub version: u32,
    /// The chain the signature is valid on.
    pub chain_id: u64,
    /// The registry the signature is valid for.
    pub registry: Address,
    /// The builder key that signed.
    pub signer: Address,
    /// The git commit id.
    pub commit: String,
    /// The Nix system.
    pub system: String,
    /// `sha256:<hex>`.
    pub manifest_digest: String,
    /// `sha256:<hex>`.
    pub image_digest: String,
    /// `sha256:<hex>`.
    pub statement_digest: String,
    /// Unix time after which the registry refuses the signature.
    pub deadline: u64,
    /// 65 bytes, 0x-hex.
    pub signature: Bytes,
    /// The EIP-712 digest that was signed (informational; recomputed on reading).
    pub vote_hash: B256,
    /// The statement envelope.
    pub statement: StatementRef,
}

/// A vote file, checked field by field.
#[derive(Debug, Clone)]
pub struct LoadedVote {
    /// The file it came from.
    pub path: PathBuf,
    /// The parsed file.
    pub file: VoteFile,
    /// The vote.
    pub vote: Vote,
}

impl VoteFile {
    /// The file for `vote` signed with `signature`.
    pub fn new(
        vote: &Vote,
        signature: Bytes,
        chain_id: u64,
        registry: Address,
        statement_path: PathBuf,
    ) -> Self {
        let digest = |d: B256| format!("sha256:{}", alloy::hex::encode(d));
        Self {
            version: VOTE_FILE_VERSION,
            chain_id,
            registry,
            signer: vote.signer,
            commit: CommitId::from_b256(vote.commit).to_string(),
            system: vote.system.clone(),
            manifest_digest: digest(vote.manifestDigest),
            image_digest: digest(vote.imageDigest),
            statement_digest: digest(vote.statementDigest),
            deadline: vote.deadline,
            signature,
            vote_hash: vote.signing_hash(chain_id, registry),
            statement: StatementRef {
                path: statement_path,
                digest: digest(vote.statementDigest),
            },
        }
    }
}

fn digest_field(name: &str, text: &str) -> eyre::Result<B256> {
    let digest: Sha256Digest = text.parse().wrap_err_with(|| format!("field {name}"))?;
    Ok(digest.as_b256())
}

/// Reads and checks `path`; the error names what is wrong (the caller adds the file name).
pub fn load(path: &Path) -> eyre::Result<LoadedVote> {
    let bytes = std::fs::read(path).wrap_err("cannot read it")?;
    let file: VoteFile = serde_json::from_slice(&bytes).wrap_err("not a signed-vote file")?;
    if file.version != VOTE_FILE_VERSION {
        return Err(eyre!(
            "version {} is not supported (expected {VOTE_FILE_VERSION})",
            file.version
        ));
    }
    let commit: CommitId = file.commit.parse().wrap_err("field commit")?;
    let system: System = file.system.parse().wrap_err("field system")?;
    let vote = Vote {
        signer: file.signer,
        commit: commit.to_b256(),
        system: system.as_str().to_owned(),
        manifestDigest: digest_field("manifestDigest", &file.manifest_digest)?,
        imageDigest: digest_field("imageDigest", &file.image_digest)?,
        statementDigest: digest_field("statementDigest", &file.statement_digest)?,
        deadline: file.deadline,
    };
    if file.statement.digest != file.statement_digest {
        return Err(eyre!(
            "statement.digest {} differs from statementDigest {}",
            file.statement.digest,
            file.statement_digest
        ));
    }
    Ok(LoadedVote {
        path: path.to_path_buf(),
        file,
        vote,
    })
}

/// Writes the file atomically (a reader never sees half of it).
pub fn write(path: &Path, file: &VoteFile) -> eyre::Result<()> {
    let mut json = serde_json::to_vec_pretty(file).wrap_err("encoding the signed vote")?;
    json.push(b'\n');
    seed_nix::write_atomic(path, &json)
        .wrap_err_with(|| format!("writing the signed vote {}", path.display()))
}
