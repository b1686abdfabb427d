//! Keeper verdicts: what a keeper attaches to every image it promotes, and
//! how a keeper proves a verdict it finds in the registry before believing it.
//!
//! A verdict is a registry object, so anyone who can push to the repository
//! can write one. The keeper reads verdicts for one reason only: a moving tag
//! that serves an image this keeper has not promoted may be ahead of it (a
//! second keeper with a shallower finality promoted a later release), and
//! then it must not be moved back. A verdict counts for that only once
//! [`prove`] has checked every claim it makes against the chain: the ledger
//! recorded the release at the block and log index it names, in the
//! registry's finalisation transaction, a counted voter of the release
//! attested the tagged image, and (checked by the caller) the image's content
//! holds the finalised closure manifest. A verdict
//! that names a block beyond the head, a release on a dropped fork, or
//! another image proves nothing and is ignored (docs/decisions.md, D-043).

use alloy::{
    primitives::{keccak256, B256},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use seed_chain::{
    bindings::{ReleaseLedger, SeedRegistry},
    decode_attested,
    status::logs_in_chunks,
    Chain,
};
use seed_core::{CommitId, Sha256Digest};
use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    follower::{self, hex},
    store::{RefusedImage, StoredVote},
    Contracts,
};

/// Artifact type of a keeper verdict referrer.
pub const VERDICT_ARTIFACT_TYPE: &str = "application/vnd.seed-eth.verdict.v1+json";

/// The annotation of a verdict referrer that holds the verdict, as canonical
/// JSON (the referrer has no content of its own; D-032).
pub const VERDICT_ANNOTATION: &str = "dev.seed-eth.verdict";

/// The `kind` of every version-1 verdict.
pub const VERDICT_KIND: &str = "seed-eth/keeper-verdict/v1";

/// The largest verdict annotation parsed (a real one is under 1 KiB).
const MAX_VERDICT_BYTES: usize = 16 * 1024;

/// The keeper's verdict, attached to every promoted image as an OCI
/// referrer: what made the keeper promote it, all checkable on-chain. It
/// holds no time and no keeper identity, so every keeper writes the same
/// bytes for the same release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verdict {
    /// Always [`VERDICT_KIND`].
    pub kind: String,
    /// The chain.
    pub chain_id: u64,
    /// The registry that finalised the release.
    pub registry: String,
    /// The ledger that records it.
    pub ledger: String,
    /// The release (git commit id).
    pub commit: String,
    /// The system.
    pub system: String,
    /// The finalised closure-manifest digest.
    pub manifest_digest: String,
    /// The promoted image.
    pub image_digest: String,
    /// The builder whose attested image this is.
    pub image_builder: u8,
    /// The counted voters of the system.
    pub voters: Vec<u8>,
    /// The release root.
    pub root: String,
    /// The transaction that finalised it.
    pub transaction: String,
    /// Its block.
    pub block: u64,
    /// The ledger record's log index in that block.
    pub log_index: u64,
    /// The rules version that finalised it.
    pub rules_version: u32,
    /// Whether it was the genesis release.
    pub genesis: bool,
    /// Counted voters' images tried before this one and refused because
    /// their content does not hold the manifest (absent when none were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_images: Vec<RefusedImage>,
    /// Whether the image was promoted without reading its content
    /// (`--no-content-check` for its system); absent when it was read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub content_unchecked: bool,
}

impl Verdict {
    /// Parses a verdict annotation. Registry content is untrusted: anything
    /// but a version-1 verdict of bounded size is refused, with the reason.
    pub fn parse(json: &str) -> std::result::Result<Self, String> {
        if json.len() > MAX_VERDICT_BYTES {
            return Err(format!(
                "{} bytes, more than the {MAX_VERDICT_BYTES} a verdict may have",
                json.len()
            ));
        }
        let verdict: Self =
            serde_json::from_str(json).map_err(|e| format!("not a verdict: {e}"))?;
        if verdict.kind != VERDICT_KIND {
            return Err(format!("kind '{}', not '{VERDICT_KIND}'", verdict.kind));
        }
        Ok(verdict)
    }

    /// Where the release it names sits in chain order, as it claims.
    pub fn position(&self) -> Position {
        Position {
            block: self.block,
            log_index: self.log_index,
        }
    }
}

/// Where a release sits in chain order: its ledger record's block and log
/// index. Moving tags only ever move to a later position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Block of the ledger record.
    pub block: u64,
    /// Log index of the record in that block.
    pub log_index: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {} log {}", self.block, self.log_index)
    }
}

/// A release a verdict named and the chain confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The release (git commit id).
    pub commit: String,
    /// Its ledger record.
    pub position: Position,
    /// The hash of the record's block when it was proven: the proof holds as
    /// long as the chain still has that block.
    pub block_hash: B256,
    /// The finalised manifest (0x-hex) the image's content must hold.
    pub manifest: String,
}

/// The outcome of checking a verdict against the chain.
#[derive(Debug)]
pub enum Checked {
    /// Every claim holds.
    Proven(Proven),
    /// A claim does not hold (the reason says which); the verdict is ignored,
    /// for good: neither its bytes nor what it claims ever change.
    Unproven(String),
    /// It names a block this endpoint does not have yet (another keeper's
    /// node may be ahead); ignored for now, checked again later.
    NotYet(String),
}

/// Checks `verdict`, found on `image` under a moving tag of `system`, against
/// the chain (see the module documentation). Errors are only failures to
/// read the chain, which the caller retries; every finding about the verdict
/// itself is a [`Checked`].
pub async fn prove(
    chain: &Chain,
    contracts: &Contracts,
    log_chunk: u64,
    verdict: &Verdict,
    system: &str,
    image: &Sha256Digest,
) -> Result<Checked> {
    if let Some(reason) = claims_mismatch(chain.chain_id(), contracts, verdict, system, image) {
        return Ok(Checked::Unproven(reason));
    }
    let Ok(commit) = verdict.commit.parse::<CommitId>() else {
        return Ok(Checked::Unproven(format!(
            "its commit '{}' is not a git commit id",
            verdict.commit
        )));
    };
    if verdict.block < contracts.from_block {
        return Ok(Checked::Unproven(format!(
            "it names block {}, before the deployment (block {})",
            verdict.block, contracts.from_block
        )));
    }
    let head = chain.block_number().await?;
    if verdict.block > head {
        return Ok(Checked::NotYet(format!(
            "it names block {}, beyond the chain head {head}",
            verdict.block
        )));
    }
    let word = commit.to_b256();
    let at = verdict.block;

    // 1. The ledger's record, exactly where the verdict says.
    let recorded = commit_logs_at(
        chain,
        contracts.ledger,
        ReleaseLedger::ReleaseRecorded::SIGNATURE_HASH,
        word,
        at,
    )
    .await?;
    let Some(record) = recorded
        .iter()
        .find(|l| l.log_index == Some(verdict.log_index))
    else {
        return Ok(Checked::Unproven(format!(
            "the ledger has no record of {} at block {at} log {} (a release on a dropped fork, or a forged verdict)",
            verdict.commit, verdict.log_index
        )));
    };
    let event = record
        .log_decode::<ReleaseLedger::ReleaseRecorded>()
        .map_err(|e| chain.rpc_error("decoding a ReleaseRecorded log", e))?
        .inner
        .data;
    let tx = record.transaction_hash.unwrap_or_default();
    if event.writer != contracts.registry
        || hex(&event.root) != verdict.root.to_lowercase()
        || hex(&tx) != verdict.transaction.to_lowercase()
    {
        return Ok(Checked::Unproven(format!(
            "the ledger's record at block {at} (root {}, transaction {}, writer {}) is not the one the verdict names",
            event.root, tx, event.writer
        )));
    }

    // 2. The registry's finalisation in the same transaction: the system,
    // its manifest and its counted voters.
    let finalisations = commit_logs_at(
        chain,
        contracts.registry,
        SeedRegistry::ReleaseFinalised::SIGNATURE_HASH,
        word,
        at,
    )
    .await?;
    let Some(finalised) = finalisations
        .iter()
        .find(|l| l.transaction_hash == Some(tx))
        .map(|l| follower::decode_finalised(chain, l))
        .transpose()?
    else {
        return Ok(Checked::Unproven(format!(
            "transaction {tx} has no ReleaseFinalised event of the registry"
        )));
    };
    if follower::check_root(&word, event.root, &finalised).is_err() {
        return Ok(Checked::Unproven(format!(
            "the registry's finalisation in {tx} does not recompute the ledger's root"
        )));
    }
    let Some(index) = finalised.systems.iter().position(|s| s == system) else {
        return Ok(Checked::Unproven(format!(
            "release {} has no {system} image",
            verdict.commit
        )));
    };
    let manifest = hex(&finalised.digests[index]);
    let voters = finalised.voters.get(index).copied().unwrap_or_default();

    // 3. The release's votes for the system, up to the finalisation: the
    // image the promotion rule picks from them must be the tagged one.
    let votes: Vec<StoredVote> = logs_in_chunks(
        chain,
        &Filter::new()
            .event_signature(SeedRegistry::Attested::SIGNATURE_HASH)
            .topic1(word)
            .topic2(keccak256(system.as_bytes())),
        contracts.registry,
        contracts.from_block,
        at,
        log_chunk,
    )
    .await?
    .iter()
    .map(|log| {
        decode_attested(chain, log).map(|v| StoredVote {
            builder: v.builder_id,
            manifest: hex(&v.manifest),
            image: hex(&v.image),
            block: v.block,
        })
    })
    .collect::<std::result::Result<_, _>>()?;
    if let Some(id) = follower::unbacked_voter(&votes, &manifest, voters, at) {
        return Ok(Checked::Unproven(format!(
            "the finalisation counts builder {id}, which has no vote for {manifest}"
        )));
    }
    // Any counted voter's image for the manifest may be the promoted one: the
    // first in D-031 order whose content holds the manifest. The caller
    // checks that content ([`Proven::manifest`]).
    let image_hex = hex(&image.as_b256());
    let candidates = follower::image_candidates(&votes, &manifest, voters);
    if candidates
        .iter()
        .any(|(_, candidate)| *candidate == image_hex)
    {
        Ok(Checked::Proven(Proven {
            commit: verdict.commit.clone(),
            position: verdict.position(),
            block_hash: record.block_hash.unwrap_or_default(),
            manifest,
        }))
    } else if candidates.is_empty() {
        Ok(Checked::Unproven(format!(
            "release {} has no counted vote for {system}",
            verdict.commit
        )))
    } else {
        Ok(Checked::Unproven(format!(
            "no counted voter of release {} attested {image} for {system}",
            verdict.commit
        )))
    }
}

/// The `event` logs of `address` for `commit` (the event's first topic) in
/// block `block` alone.
async fn commit_logs_at(
    chain: &Chain,
    address: alloy::primitives::Address,
    event: B256,
    commit: B256,
    block: u64,
) -> Result<Vec<alloy::rpc::types::Log>> {
    let filter = Filter::new().event_signature(event).topic1(commit);
    Ok(logs_in_chunks(chain, &filter, address, block, block, 1).await?)
}

/// The first claim of `verdict` that contradicts what the keeper knows
/// without asking the chain: its chain, contracts, system and image.
fn claims_mismatch(
    chain_id: u64,
    contracts: &Contracts,
    verdict: &Verdict,
    system: &str,
    image: &Sha256Digest,
) -> Option<String> {
    let same_address =
        |text: &str, address: alloy::primitives::Address| text.parse().ok() == Some(address);
    if verdict.chain_id != chain_id {
        Some(format!(
            "it is for chain {}, not {chain_id}",
            verdict.chain_id
        ))
    } else if !same_address(&verdict.ledger, contracts.ledger) {
        Some(format!(
            "it names ledger {}, not {}",
            verdict.ledger, contracts.ledger
        ))
    } else if !same_address(&verdict.registry, contracts.registry) {
        Some(format!(
            "it names registry {}, not {}",
            verdict.registry, contracts.registry
        ))
    } else if verdict.system != system {
        Some(format!("it is for {}, not {system}", verdict.system))
    } else if verdict.image_digest != image.to_string() {
        Some(format!(
            "it names image {}, not the one it is attached to",
            verdict.image_digest
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Verdict {
        Verdict {
            kind: VERDICT_KIND.to_owned(),
            chain_id: 31337,
            registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3".to_owned(),
            ledger: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512".to_owned(),
            commit: "ab".repeat(20),
            system: "x86_64-linux".to_owned(),
            manifest_digest: format!("sha256:{}", "11".repeat(32)),
            image_digest: format!("sha256:{}", "22".repeat(32)),
            image_builder: 0,
            voters: vec![0, 1],
            root: format!("0x{}", "33".repeat(32)),
            transaction: format!("0x{}", "44".repeat(32)),
            block: 57,
            log_index: 3,
            rules_version: 1,
            genesis: false,
            refused_images: Vec::new(),
            content_unchecked: false,
        }
    }

    fn contracts() -> Contracts {
        Contracts {
            registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
                .parse()
                .unwrap(),
            ledger: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
                .parse()
                .unwrap(),
            from_block: 0,
        }
    }

    fn json(verdict: &Verdict) -> String {
        String::from_utf8(seed_statement::to_canonical_json(verdict).unwrap()).unwrap()
    }

    #[test]
    fn a_verdict_round_trips_through_its_canonical_json() {
        let verdict = sample();
        assert_eq!(Verdict::parse(&json(&verdict)), Ok(verdict));
    }

    /// Malformed-input corpus: registry content is untrusted.
    #[test]
    fn malformed_verdicts_are_refused_with_a_reason() {
        let good = json(&sample());
        let corpus: Vec<(String, &str)> = vec![
            (String::new(), "not a verdict"),
            ("null".to_owned(), "not a verdict"),
            ("[]".to_owned(), "not a verdict"),
            ("{\"kind\":".to_owned(), "not a verdict"),
            (
                good.replace(VERDICT_KIND, "seed-eth/keeper-verdict/v2"),
                "kind",
            ),
            (
                good.replace("\"block\":57", "\"block\":-1"),
                "not a verdict",
            ),
            (
                good.replace("\"block\":57", "\"block\":1e12"),
                "not a verdict",
            ),
            (
                good.replace("\"block\":57", "\"block\":18446744073709551616"),
                "not a verdict",
            ),
            (
                good.replace("\"imageBuilder\":0", "\"imageBuilder\":256"),
                "not a verdict",
            ),
            (
                good.replace("\"genesis\":false", "\"genesis\":\"no\""),
                "not a verdict",
            ),
            (good.replacen('{', "{\"extra\":1,", 1), "unknown field"),
            (
                good.replace(",\"root\"", ",\"x\":0,\"root\""),
                "unknown field",
            ),
            (
                good.replace(
                    "\"system\":\"x86_64-linux\"",
                    "\"system\":\"a\",\"system\":\"b\"",
                ),
                "duplicate field",
            ),
            (
                format!("{}{}", " ".repeat(MAX_VERDICT_BYTES), good),
                "more than",
            ),
        ];
        for (input, reason) in corpus {
            let err = Verdict::parse(&input).expect_err(&input);
            assert!(err.contains(reason), "{input:.80}: {err}");
        }
    }

    /// Bounded property test: no byte string makes the parser panic, and
    /// every prefix or one-byte corruption of a real verdict is either
    /// refused or parses to a verdict that serialises back to itself.
    #[test]
    fn truncated_or_corrupted_verdicts_never_panic_and_never_half_parse() {
        let good = json(&sample());
        let bytes = good.as_bytes();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for cut in 0..bytes.len() {
            assert!(Verdict::parse(&String::from_utf8_lossy(&bytes[..cut])).is_err());
        }
        for _ in 0..2000 {
            let mut corrupted = bytes.to_vec();
            let at = (next() % corrupted.len() as u64) as usize;
            corrupted[at] = (next() & 0xff) as u8;
            let text = String::from_utf8_lossy(&corrupted);
            if let Ok(verdict) = Verdict::parse(&text) {
                assert_eq!(Verdict::parse(&json(&verdict)), Ok(verdict));
            }
        }
    }

    #[test]
    fn claims_about_chain_contracts_system_and_image_are_checked_offline() {
        let verdict = sample();
        let image: Sha256Digest = verdict.image_digest.parse().unwrap();
        let c = contracts();
        assert_eq!(
            claims_mismatch(31337, &c, &verdict, "x86_64-linux", &image),
            None
        );
        // Addresses compare as addresses, whatever their case.
        let lower = Verdict {
            ledger: verdict.ledger.to_lowercase(),
            ..verdict.clone()
        };
        assert_eq!(
            claims_mismatch(31337, &c, &lower, "x86_64-linux", &image),
            None
        );
        let other: Sha256Digest = format!("sha256:{}", "55".repeat(32)).parse().unwrap();
        for (found, expected) in [
            (
                claims_mismatch(1, &c, &verdict, "x86_64-linux", &image),
                "chain 31337",
            ),
            (
                claims_mismatch(31337, &c, &verdict, "aarch64-linux", &image),
                "not aarch64-linux",
            ),
            (
                claims_mismatch(31337, &c, &verdict, "x86_64-linux", &other),
                "not the one it is attached to",
            ),
            (
                claims_mismatch(
                    31337,
                    &Contracts {
                        ledger: c.registry,
                        ..c
                    },
                    &verdict,
                    "x86_64-linux",
                    &image,
                ),
                "names ledger",
            ),
            (
                claims_mismatch(
                    31337,
                    &Contracts {
                        registry: c.ledger,
                        ..c
                    },
                    &verdict,
                    "x86_64-linux",
                    &image,
                ),
                "names registry",
            ),
        ] {
            assert!(
                found.as_deref().unwrap_or("").contains(expected),
                "{found:?}"
            );
        }
    }

    #[test]
    fn positions_order_by_block_then_log_index() {
        let at = |block, log_index| Position { block, log_index };
        assert!(at(57, 9) < at(61, 0));
        assert!(at(61, 0) < at(61, 1));
    }
}
