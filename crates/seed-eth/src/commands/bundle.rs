//! `seed-eth bundle verify`: one Sigstore bundle, verified offline.

use eyre::{eyre, WrapErr};
use seed_sigstore::{
    parse_digest, BundleError, BundleVerifier, IdentityMatch, ManagedKey, Signer, VerifiedBundle,
};

use super::credulous::trust_root;
use serde_json::json;

use crate::{
    cli::{BundleArgs, BundleCommand, BundleVerifyArgs},
    exit::ExitCode,
    output::{Failure, Outcome, Report},
};

/// Runs a `seed-eth bundle` subcommand.
pub fn run(args: &BundleArgs) -> Outcome {
    match &args.command {
        BundleCommand::Verify(args) => verify(args),
    }
}

fn verify(args: &BundleVerifyArgs) -> Outcome {
    let bundle = std::fs::read_to_string(&args.bundle)
        .wrap_err_with(|| format!("--bundle {}", args.bundle.display()))
        .map_err(Failure::usage)?;
    // Who must have signed: an identity under an issuer, or a managed key.
    let wanted = match (
        &args.key,
        &args.identity,
        &args.identity_pattern,
        &args.issuer,
    ) {
        (Some(path), ..) => {
            let pem = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("--key {}", path.display()))
                .map_err(Failure::usage)?;
            let key = ManagedKey::from_pem(&pem)
                .map_err(|e| Failure::usage(eyre!("--key {}: {e}", path.display())))?;
            Wanted::Key(key)
        }
        (None, Some(exact), _, Some(issuer)) => {
            Wanted::Identity(issuer.clone(), IdentityMatch::Exact(exact.clone()))
        }
        (None, None, Some(pattern), Some(issuer)) => Wanted::Identity(
            issuer.clone(),
            IdentityMatch::pattern("--identity-pattern", pattern).map_err(Failure::usage)?,
        ),
        _ => {
            return Err(Failure::usage(eyre!(
                "give --issuer with --identity or --identity-pattern, or --key"
            )))
        }
    };
    let root = trust_root(args.trusted_root.as_deref(), "--trusted-root")?;
    let verifier = BundleVerifier::new(&root)
        .map_err(|e| Failure::usage(eyre::Report::new(e).wrap_err("the trust root")))?;

    let verified = match (&args.digest, &args.artifact) {
        (Some(digest), _) => {
            let digest = parse_digest(digest).map_err(|e| Failure::usage(eyre!("--digest {e}")))?;
            verifier.verify(&bundle, digest, wanted.keys())
        }
        (None, Some(path)) => {
            let artifact = std::fs::read(path)
                .wrap_err_with(|| format!("--artifact {}", path.display()))
                .map_err(Failure::usage)?;
            verifier.verify(&bundle, artifact.as_slice(), wanted.keys())
        }
        (None, None) => return Err(Failure::usage(eyre!("give --digest or --artifact"))),
    }
    .map_err(|error| match error {
        // Not a bundle at all is the input's fault; a bundle that does not
        // verify is the answer to the question asked.
        BundleError::Parse(_) | BundleError::TrustRoot(_) => Failure::usage(
            eyre::Report::new(error).wrap_err(format!("--bundle {}", args.bundle.display())),
        ),
        error => Failure::check_failed(eyre::Report::new(error)),
    })?;

    if !wanted.is(&verified.signer) {
        return Err(Failure::check_failed(eyre!(
            "the bundle verifies but was signed by {}, not the signer asked for",
            verified.signer
        )));
    }
    Ok(report(&verified))
}

/// The signer a user asked for.
enum Wanted {
    /// An issuer and an identity under it.
    Identity(String, IdentityMatch),
    /// A managed key.
    Key(ManagedKey),
}

impl Wanted {
    /// The managed keys the verifier may try.
    fn keys(&self) -> &[ManagedKey] {
        match self {
            Self::Key(key) => std::slice::from_ref(key),
            Self::Identity(..) => &[],
        }
    }

    fn is(&self, signer: &Signer) -> bool {
        match (self, signer) {
            (Self::Identity(wanted_issuer, wanted), Signer::Certificate { issuer, identity }) => {
                issuer == wanted_issuer && wanted.matches(identity)
            }
            (Self::Key(key), Signer::Key { fingerprint }) => key.fingerprint() == fingerprint,
            _ => false,
        }
    }
}

fn report(verified: &VerifiedBundle) -> Report {
    let mut text = format!(
        "bundle verified: signed by {} at {}\n",
        verified.signer, verified.signed_at
    );
    for entry in &verified.log_entries {
        text.push_str(&format!(
            "  logged in Rekor {} log {} at index {} (proof against a tree of {})\n",
            if entry.rekor_v2 { "v2" } else { "v1" },
            entry.log_id,
            entry.log_index,
            entry.tree_size
        ));
    }
    let entries: Vec<_> = verified
        .log_entries
        .iter()
        .map(|entry| {
            json!({
                "logId": entry.log_id,
                "logIndex": entry.log_index,
                "proofIndex": entry.proof_index,
                "treeSize": entry.tree_size,
                "rekorVersion": if entry.rekor_v2 { 2 } else { 1 },
            })
        })
        .collect();
    Report {
        code: ExitCode::Ok,
        text,
        json: json!({
            "verified": true,
            "signer": signer_json(&verified.signer),
            "signedAt": verified.signed_at.to_string(),
            "logEntries": entries,
        }),
    }
}

fn signer_json(signer: &Signer) -> serde_json::Value {
    match signer {
        Signer::Certificate { issuer, identity } => {
            json!({ "issuer": issuer, "identity": identity })
        }
        Signer::Key { fingerprint } => json!({ "key": fingerprint }),
    }
}
