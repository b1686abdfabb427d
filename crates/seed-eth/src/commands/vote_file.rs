//! The signed-vote file `attest --sign-only` writes (and attaches to the image
//! as a referrer) and `relay` reads: the fields of the registry's
//! `SignedVote`, the deployment it is for, and where the statement envelope
//! is. Read strictly: unknown, missing or malformed fields are errors naming
//! the field.

use std::{
    fmt,
    path::{Path, PathBuf},
};

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

/// Where a signed vote was read from, for reports and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteSource {
    /// A file on disk.
    File(PathBuf),
    /// A referrer attached to an image (`attest --sign-only` without `--no-push`).
    Referrer {
        /// The image, `REGISTRY/REPO@sha256:...`.
        image: String,
        /// The referrer manifest's digest.
        referrer: Sha256Digest,
    },
}

impl fmt::Display for VoteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Referrer { image, referrer } => write!(f, "referrer {referrer} of {image}"),
        }
    }
}

/// A vote file, checked field by field.
#[derive(Debug, Clone)]
pub struct LoadedVote {
    /// Where it came from.
    pub source: VoteSource,
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
    parse(&bytes, VoteSource::File(path.to_path_buf()))
}

/// Checks the bytes of a vote file read from `source`; the error names what is wrong (the caller
/// adds the source).
pub fn parse(bytes: &[u8], source: VoteSource) -> eyre::Result<LoadedVote> {
    let file: VoteFile = serde_json::from_slice(bytes).wrap_err("not a signed-vote file")?;
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
    Ok(LoadedVote { source, file, vote })
}

/// The file's bytes: what [`write`] writes and the vote referrer carries.
pub fn encode(file: &VoteFile) -> eyre::Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(file).wrap_err("encoding the signed vote")?;
    json.push(b'\n');
    Ok(json)
}

/// Writes `bytes` (from [`encode`]) atomically (a reader never sees half of it).
pub fn write(path: &Path, bytes: &[u8]) -> eyre::Result<()> {
    seed_fs::write_atomic(path, bytes)
        .wrap_err_with(|| format!("writing the signed vote {}", path.display()))
}

#[cfg(test)]
mod tests {
    use alloy::signers::local::PrivateKeySigner;

    use super::*;

    fn sample(dir: &Path) -> (PathBuf, VoteFile) {
        let key = PrivateKeySigner::random();
        let registry = Address::repeat_byte(7);
        let vote = Vote {
            signer: key.address(),
            commit: "0123456789abcdef0123456789abcdef01234567"
                .parse::<CommitId>()
                .unwrap()
                .to_b256(),
            system: "x86_64-linux".to_owned(),
            manifestDigest: B256::repeat_byte(1),
            imageDigest: B256::repeat_byte(2),
            statementDigest: B256::repeat_byte(3),
            deadline: 2_000_000_000,
        };
        let signature = vote.sign(&key, 31337, registry).unwrap();
        let file = VoteFile::new(&vote, signature, 31337, registry, "v.dsse.json".into());
        let path = dir.join("v.json");
        write(&path, &encode(&file).unwrap()).unwrap();
        (path, file)
    }

    #[test]
    fn a_written_vote_reads_back_and_still_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file) = sample(dir.path());
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.file, file);
        assert_eq!(
            loaded
                .vote
                .recover(&file.signature, file.chain_id, file.registry),
            Some(file.signer)
        );
        assert_eq!(
            loaded.vote.signing_hash(31337, file.registry),
            file.vote_hash
        );
    }

    #[test]
    fn unknown_fields_versions_and_mismatched_digests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = sample(dir.path());
        let original: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let cases: [(&str, serde_json::Value, &str); 4] = [
            ("extra", serde_json::json!(1), "unknown field"),
            ("version", serde_json::json!(2), "version 2"),
            (
                "manifestDigest",
                serde_json::json!("sha256:12"),
                "manifestDigest",
            ),
            (
                "statementDigest",
                serde_json::json!(format!("sha256:{}", "4".repeat(64))),
                "differs",
            ),
        ];
        for (field, value, needle) in cases {
            let mut changed = original.clone();
            changed[field] = value;
            std::fs::write(&path, serde_json::to_vec(&changed).unwrap()).unwrap();
            let error = format!("{:#}", load(&path).unwrap_err());
            assert!(error.contains(needle), "{field}: {error}");
        }
    }
}
