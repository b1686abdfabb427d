//! `--proofs` for `verify` and `keeper`: the anchor the facts are proven against, from the
//! flags (the logic is in `seed-proof` and `seed-verify`).

use seed_proof::{anchor::parse_checkpoints, Endpoint};
use seed_verify::{AnchorRequest, ProofRequest};

use crate::{cli::ProofArgs, output::Failure};

/// The proof request the flags ask for; `None` without `--proofs`. `endpoints` are every
/// `--rpc-url` given (the first is the one the verification asks; it may also come from the
/// configuration, when none is given).
pub fn request(args: &ProofArgs, endpoints: &[String]) -> Result<Option<ProofRequest>, Failure> {
    if !args.proofs {
        return Ok(None);
    }
    let usage = |flag: &str, message: String| Failure::usage(eyre::eyre!("{flag}: {message}"));
    let anchor = if let Some(hash) = &args.block_hash {
        AnchorRequest::BlockHash(hash.parse().map_err(|e| {
            usage(
                "--block-hash",
                format!("'{hash}' is not a 32-byte 0x-prefixed hash: {e}"),
            )
        })?)
    } else if let Some(file) = &args.checkpoints {
        let text = std::fs::read_to_string(file)
            .map_err(|e| usage("--checkpoints", format!("{}: {e}", file.display())))?;
        AnchorRequest::Checkpoints {
            file: file.display().to_string(),
            checkpoints: parse_checkpoints(&text)
                .map_err(|e| usage("--checkpoints", format!("{}: {e}", file.display())))?,
        }
    } else {
        let others = endpoints
            .iter()
            .skip(1)
            .map(|url| Endpoint::http(url).map_err(|e| usage("--rpc-url", e)))
            .collect::<Result<Vec<_>, _>>()?;
        let given = others.len() + 1;
        let quorum = args.rpc_quorum.unwrap_or(given);
        if quorum == 0 || quorum > given {
            return Err(usage(
                "--rpc-quorum",
                format!(
                    "{quorum} endpoints must agree but {given} were given (--rpc-url, repeated)"
                ),
            ));
        }
        AnchorRequest::Endpoints { others, quorum }
    };
    Ok(Some(ProofRequest {
        anchor,
        max_walk: args.max_header_walk,
    }))
}
