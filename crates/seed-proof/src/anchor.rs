//! Where the trusted block hash comes from: the one thing proofs cannot
//! establish for themselves.
//!
//! - a **quorum of endpoints** ([`agree_on_block`]): K independent endpoints
//!   each name the hash of the block and say it is final; any disagreement is an
//!   error naming every endpoint's answer;
//! - a hash the user **gives** (`--block-hash`, or a checkpoint file from a
//!   source they trust: a beacon light client, a second organisation);
//! - the one endpoint itself ([`AnchorSource::Endpoint`]): every fact is still
//!   proven consistent with one block, but that block is the endpoint's word.

use std::fmt::Write as _;

use alloy::{consensus::Header, eips::BlockNumberOrTag, primitives::B256, providers::Provider};
use serde::Serialize;

use crate::{Endpoint, ProofError};

/// The block every proof is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Anchor {
    /// Its number; `None` until its header is fetched (a hash given alone).
    pub number: Option<u64>,
    /// Its hash.
    pub hash: B256,
    /// Who vouches for the hash.
    pub source: AnchorSource,
}

/// Who vouches for an anchor's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AnchorSource {
    /// Endpoints that agreed, each saying the block is final.
    #[serde(rename_all = "camelCase")]
    Quorum {
        /// The endpoints that named the hash.
        agreed: Vec<String>,
        /// How many had to.
        required: usize,
    },
    /// Given by the user (`--block-hash`, a checkpoint file).
    #[serde(rename_all = "camelCase")]
    Given {
        /// Where it came from.
        origin: String,
    },
    /// The only endpoint asked: its word, not verified by anyone else.
    #[serde(rename_all = "camelCase")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
    },
}

impl std::fmt::Display for AnchorSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quorum { agreed, required } => write!(
                f,
                "{} endpoints agreeing (quorum {required}): {}",
                agreed.len(),
                agreed.join(", ")
            ),
            Self::Given { origin } => write!(f, "given by {origin}"),
            Self::Endpoint { endpoint } => write!(
                f,
                "the endpoint {endpoint} alone (not verified: give more --rpc-url with --rpc-quorum, or --block-hash)"
            ),
        }
    }
}

/// The hash of block `number`, as at least `required` of `endpoints` name it, each saying the
/// block is final. An endpoint that cannot be asked is skipped (and named if the quorum fails);
/// two endpoints naming different hashes, or one for which the block is not final yet, fail the
/// whole question. Also returns the header the first endpoint served (unchecked: it is the
/// caller's to hash), which saves asking it again.
pub async fn agree_on_block(
    endpoints: &[Endpoint],
    number: u64,
    required: usize,
) -> Result<(Anchor, Option<Header>), ProofError> {
    let mut answers: Vec<(String, B256)> = Vec::new();
    let mut failures = Vec::new();
    let mut first_header = None;
    for (i, endpoint) in endpoints.iter().enumerate() {
        match named_final_block(endpoint, number).await {
            Ok((hash, header)) => {
                if i == 0 {
                    first_header = Some(header);
                }
                answers.push((endpoint.label.clone(), hash));
            }
            Err(error @ ProofError::NotFinal { .. }) => return Err(error),
            Err(error) => failures.push(error.to_string()),
        }
    }
    if answers.iter().any(|(_, hash)| *hash != answers[0].1) {
        return Err(ProofError::Disagreement {
            block: number,
            answers,
        });
    }
    match answers.first() {
        Some((_, hash)) if answers.len() >= required => Ok((
            Anchor {
                number: Some(number),
                hash: *hash,
                source: AnchorSource::Quorum {
                    agreed: answers.iter().map(|(label, _)| label.clone()).collect(),
                    required,
                },
            },
            first_header,
        )),
        _ => Err(ProofError::NoQuorum {
            block: number,
            answered: answers.len(),
            required,
            failures,
        }),
    }
}

/// The hash `endpoint` names for block `number`, once it says the block is final, and the
/// header it served.
async fn named_final_block(endpoint: &Endpoint, number: u64) -> Result<(B256, Header), ProofError> {
    let rpc = |action: &str, reason: String| ProofError::Rpc {
        endpoint: endpoint.label.clone(),
        action: action.to_owned(),
        reason,
    };
    let finalized = endpoint
        .provider
        .get_block_by_number(BlockNumberOrTag::Finalized)
        .await
        .map_err(|e| rpc("reading its finalized block", e.to_string()))?
        .ok_or_else(|| rpc("reading its finalized block", "it has none".to_owned()))?
        .header
        .number;
    if finalized < number {
        return Err(ProofError::NotFinal {
            endpoint: endpoint.label.clone(),
            block: number,
            finalized,
        });
    }
    let block = endpoint
        .provider
        .get_block_by_number(BlockNumberOrTag::Number(number))
        .await
        .map_err(|e| rpc(&format!("reading block {number}"), e.to_string()))?
        .ok_or_else(|| ProofError::MissingBlock {
            endpoint: endpoint.label.clone(),
            block: number.to_string(),
        })?;
    Ok((block.header.hash, block.header.inner))
}

/// A checkpoint file: one `NUMBER HASH` pair per line (decimal block number, 0x-prefixed block
/// hash); blank lines and lines starting with `#` are ignored. The pairs come from a source the
/// user trusts (a light client, another organisation's records).
pub fn parse_checkpoints(text: &str) -> Result<Vec<(u64, B256)>, String> {
    let mut checkpoints = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let parsed = match (fields.next(), fields.next(), fields.next()) {
            (Some(number), Some(hash), None) => number
                .parse::<u64>()
                .ok()
                .zip(hash.parse::<B256>().ok().filter(|_| hash.starts_with("0x"))),
            _ => None,
        };
        let Some(pair) = parsed else {
            let mut message = String::new();
            let _ = write!(
                message,
                "line {}: expected `NUMBER 0xHASH` (a decimal block number and a 32-byte hash), found `{line}`",
                i + 1
            );
            return Err(message);
        };
        checkpoints.push(pair);
    }
    Ok(checkpoints)
}

/// The checkpoint nearest at or after `block`: the anchor that proves it with the fewest headers.
pub fn nearest_checkpoint(checkpoints: &[(u64, B256)], block: u64) -> Option<(u64, B256)> {
    checkpoints
        .iter()
        .filter(|(number, _)| *number >= block)
        .min_by_key(|(number, _)| *number)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_parse_and_the_nearest_later_one_is_chosen() {
        let h = |b: u8| B256::repeat_byte(b);
        let text = format!("# from org B\n100 {}\n\n250 {}\n 90 {}\n", h(1), h(2), h(3));
        let checkpoints = parse_checkpoints(&text).unwrap();
        assert_eq!(checkpoints, vec![(100, h(1)), (250, h(2)), (90, h(3))]);
        assert_eq!(nearest_checkpoint(&checkpoints, 95), Some((100, h(1))));
        assert_eq!(nearest_checkpoint(&checkpoints, 100), Some((100, h(1))));
        assert_eq!(nearest_checkpoint(&checkpoints, 101), Some((250, h(2))));
        assert_eq!(nearest_checkpoint(&checkpoints, 251), None);
    }

    #[test]
    fn malformed_checkpoint_lines_are_refused_with_their_line_number() {
        let hash = B256::repeat_byte(7).to_string();
        for (text, line) in [
            ("100".to_owned(), 1),
            (format!("# ok\nx {hash}"), 2),
            (format!("100 {}", hash.trim_start_matches("0x")), 1),
            (format!("100 {hash} extra"), 1),
            ("100 0x1234".to_owned(), 1),
            (format!("-1 {hash}"), 1),
        ] {
            let error = parse_checkpoints(&text).unwrap_err();
            assert!(
                error.starts_with(&format!("line {line}:")),
                "{text}: {error}"
            );
        }
    }
}
