//! `seed-eth report-equivocation FIRST SECOND`: proves on chain, with two signed-vote files, that
//! a builder signed two manifest digests for one release and system. From then on none of its
//! votes counts toward that release, on any path (D-055). Anyone may send it: the signatures are
//! the proof, so both are checked here first, as the registry will check them.

use alloy::primitives::Address;
use eyre::eyre;
use seed_chain::{bindings::SeedRegistry, Chain};
use serde_json::json;

use super::{
    chain::{block_on, failure},
    relay::{connect, relayer},
    vote_file::{self, LoadedVote},
};
use crate::{
    cli::EquivocationArgs,
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Checks the two files and sends `reportEquivocation`.
pub fn run(args: &EquivocationArgs) -> Outcome {
    let load = |path| {
        vote_file::load(path)
            .map_err(|e| Failure::usage(e.wrap_err(format!("signed vote {}", path.display()))))
    };
    let (first, second) = (load(&args.first)?, load(&args.second)?);
    check_pair(&first, &second).map_err(|reason| {
        Failure::usage(eyre!(
            "{} and {} prove no equivocation, nothing sent: {reason}",
            first.source,
            second.source
        ))
    })?;
    let (settings, signer) = relayer(&args.relayer)?;
    block_on(async {
        let (chain, target) = connect(&settings, signer).await?;
        for loaded in [&first, &second] {
            check_target(loaded, &chain, target.registry).map_err(Failure::usage)?;
        }
        let tx = SeedRegistry::new(target.registry, chain.provider())
            .reportEquivocation(
                first.vote.with_signature(first.file.signature.clone()),
                second.vote.with_signature(second.file.signature.clone()),
            )
            .into_transaction_request();
        let receipt = chain
            .send("sending reportEquivocation", tx)
            .await
            .map_err(failure)?;
        let reported = receipt.inner.logs().iter().find_map(|log| {
            (log.address() == target.registry)
                .then(|| log.log_decode::<SeedRegistry::Equivocation>().ok())
                .flatten()
                .map(|event| event.inner.data.builderId)
        });
        let text = match reported {
            Some(id) => format!(
                "builder {id} ({}) equivocated on {} {}: reportEquivocation tx {} (block {}); none of its votes counts toward this release\n",
                first.vote.signer,
                first.file.commit,
                first.file.system,
                receipt.transaction_hash,
                receipt.block_number.unwrap_or_default()
            ),
            None => format!(
                "{} was already reported for {}: nothing changed (tx {})\n",
                first.vote.signer, first.file.commit, receipt.transaction_hash
            ),
        };
        Ok(Report {
            code: ExitCode::Ok,
            text,
            json: json!({
                "signer": first.vote.signer.to_checksum(None),
                "builderId": reported,
                "commit": first.file.commit,
                "system": first.file.system,
                "digests": [first.file.manifest_digest, second.file.manifest_digest],
                "alreadyReported": reported.is_none(),
                "tx": receipt.transaction_hash,
                "block": receipt.block_number,
            }),
        })
    })
}

/// One key's votes for two digests of one (commit, system), each recovering to that key over
/// the deployment the file names.
fn check_pair(first: &LoadedVote, second: &LoadedVote) -> Result<(), String> {
    let (a, b) = (&first.vote, &second.vote);
    if a.signer != b.signer {
        return Err(format!("signed by {} and {}", a.signer, b.signer));
    }
    if a.commit != b.commit || a.system != b.system {
        return Err(format!(
            "votes on {} {} and {} {}",
            first.file.commit, a.system, second.file.commit, b.system
        ));
    }
    if a.manifestDigest == b.manifestDigest {
        return Err(format!("both vote manifest {}", first.file.manifest_digest));
    }
    for loaded in [first, second] {
        let file = &loaded.file;
        if loaded
            .vote
            .recover(&file.signature, file.chain_id, file.registry)
            != Some(file.signer)
        {
            return Err(format!(
                "the signature of {} does not recover to {}",
                loaded.source, file.signer
            ));
        }
    }
    Ok(())
}

/// The file is signed for the endpoint's chain and the target registry.
fn check_target(loaded: &LoadedVote, chain: &Chain, registry: Address) -> Result<(), eyre::Report> {
    let file = &loaded.file;
    if file.chain_id != chain.chain_id() || file.registry != registry {
        return Err(eyre!(
            "{} is signed for chain {} and registry {}, but the target is chain {} and registry {registry}; nothing sent",
            loaded.source,
            file.chain_id,
            file.registry,
            chain.chain_id()
        ));
    }
    Ok(())
}
