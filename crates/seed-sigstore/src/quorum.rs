//! k-of-n over verified attestations: distinct policy builders, never entries.
//!
//! The same statement logged twice, in two logs or by two bundles, is one
//! builder's one attestation; a certificate identity the policy does not name
//! counts for nothing; a builder that attested two closures for one system of
//! one commit has equivocated and counts for neither (sigstore-go before 1.2.0
//! counted a threshold over entries, CVE-2026-49834; no peer tool counts k of n
//! across bundles at all).

use std::collections::{BTreeMap, BTreeSet};

use crate::{policy::CredulousPolicy, Signer};

/// One verified attestation: who signed which closure of which release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The verified signer.
    pub signer: Signer,
    /// The source commit attested.
    pub commit: String,
    /// The Nix system.
    pub system: String,
    /// The closure-manifest digest attested.
    pub manifest: String,
}

/// What the attestations of one system say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemQuorum {
    /// The system.
    pub system: String,
    /// Each attested manifest and the distinct builders (by policy name) that
    /// attested it and nothing else for this system.
    pub manifests: BTreeMap<String, BTreeSet<String>>,
    /// The manifest at least `threshold` builders agree on, if exactly one is.
    pub agreed: Option<String>,
    /// Builders that attested two or more manifests: counted for none.
    pub equivocating: BTreeSet<String>,
    /// Policy builders with no counted attestation for this system.
    pub missing: BTreeSet<String>,
}

/// The quorum of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    /// The commit counted.
    pub commit: String,
    /// Per required system, in the policy's order.
    pub systems: Vec<SystemQuorum>,
    /// Verified signers the policy does not name (never counted).
    pub outside_policy: BTreeSet<Signer>,
}

impl Quorum {
    /// Whether every required system has an agreed manifest.
    pub fn is_final(&self) -> bool {
        self.systems.iter().all(|system| system.agreed.is_some())
    }
}

/// Counts the attestations of `commit` under `policy`.
pub fn count(policy: &CredulousPolicy, commit: &str, attestations: &[Attestation]) -> Quorum {
    let mut outside_policy = BTreeSet::new();
    // (system, builder) → the manifests that builder attested.
    let mut attested: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for attestation in attestations.iter().filter(|a| a.commit == commit) {
        match policy.builder_of(&attestation.signer) {
            Some(builder) => {
                attested
                    .entry((attestation.system.as_str(), builder.name.as_str()))
                    .or_default()
                    .insert(attestation.manifest.as_str());
            }
            None => {
                outside_policy.insert(attestation.signer.clone());
            }
        }
    }
    let systems = policy
        .systems
        .iter()
        .map(|system| {
            let mut manifests: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut equivocating = BTreeSet::new();
            for builder in &policy.builders {
                match attested.get(&(system.as_str(), builder.name.as_str())) {
                    Some(digests) if digests.len() == 1 => {
                        let digest = digests.iter().next().copied().unwrap_or_default();
                        manifests
                            .entry(digest.to_owned())
                            .or_default()
                            .insert(builder.name.clone());
                    }
                    Some(_) => {
                        equivocating.insert(builder.name.clone());
                    }
                    None => {}
                }
            }
            let quorate: Vec<&String> = manifests
                .iter()
                .filter(|(_, builders)| builders.len() >= policy.threshold)
                .map(|(digest, _)| digest)
                .collect();
            // Two manifests with a quorum each (a threshold at most half the
            // builders) is a split, not a release.
            let agreed = match quorate.as_slice() {
                [digest] => Some((*digest).clone()),
                _ => None,
            };
            let counted: BTreeSet<&String> = manifests.values().flatten().collect();
            let missing = policy
                .builders
                .iter()
                .filter(|b| !counted.contains(&b.name) && !equivocating.contains(&b.name))
                .map(|b| b.name.clone())
                .collect();
            SystemQuorum {
                system: system.clone(),
                manifests,
                agreed,
                equivocating,
                missing,
            }
        })
        .collect();
    Quorum {
        commit: commit.to_owned(),
        systems,
        outside_policy,
    }
}
