//! The Credulous policy refuses builders that are not independent, and the
//! quorum counts distinct policy builders per system: never entries, never an
//! identity outside the policy, never an equivocating builder.

#![allow(clippy::unwrap_used, missing_docs)]

use seed_sigstore::{count, Attestation, CredulousPolicy, PolicyError, Signer};

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const GITLAB: &str = "https://gitlab.com";
const GOOGLE: &str = "https://accounts.google.com";
const COMMIT: &str = "2c6fd2b0000000000000000000000000000000aa";

fn policy_text(threshold: usize) -> String {
    format!(
        r#"
threshold = {threshold}
systems = ["x86_64-linux", "aarch64-linux"]

[[builder]]
name = "acme"
issuer = "{GITHUB}"
identity = "https://github.com/acme/seed/.github/workflows/seed.yaml@refs/heads/main"
organisation = "acme"
jurisdiction = "DE"
infrastructure = "github-hosted"

[[builder]]
name = "globex"
issuer = "{GITLAB}"
identity-pattern = "^https://gitlab\\.com/globex/seed//\\.gitlab-ci\\.yml@refs/tags/v[0-9.]+$"
organisation = "globex"
jurisdiction = "US"
infrastructure = "gitlab-saas"

[[builder]]
name = "initech"
issuer = "{GOOGLE}"
identity = "release@initech.example"
organisation = "initech"
jurisdiction = "JP"
infrastructure = "gcp"
"#
    )
}

fn policy(threshold: usize) -> CredulousPolicy {
    CredulousPolicy::from_toml(policy_text(threshold).as_bytes()).unwrap()
}

fn signer(issuer: &str, identity: &str) -> Signer {
    Signer::Certificate {
        issuer: issuer.to_owned(),
        identity: identity.to_owned(),
    }
}

fn acme() -> Signer {
    signer(
        GITHUB,
        "https://github.com/acme/seed/.github/workflows/seed.yaml@refs/heads/main",
    )
}

fn globex() -> Signer {
    signer(
        GITLAB,
        "https://gitlab.com/globex/seed//.gitlab-ci.yml@refs/tags/v1.2",
    )
}

fn initech() -> Signer {
    signer(GOOGLE, "release@initech.example")
}

fn attest(signer: Signer, system: &str, manifest: &str) -> Attestation {
    Attestation {
        signer,
        commit: COMMIT.to_owned(),
        system: system.to_owned(),
        manifest: manifest.to_owned(),
    }
}

/// Both systems attested with `manifest` by each of `signers`.
fn everywhere(signers: &[Signer], manifest: &str) -> Vec<Attestation> {
    signers
        .iter()
        .flat_map(|s| {
            ["x86_64-linux", "aarch64-linux"].map(|system| attest(s.clone(), system, manifest))
        })
        .collect()
}

#[test]
fn k_distinct_builders_finalise_and_the_rest_are_reported_missing() {
    let quorum = count(&policy(2), COMMIT, &everywhere(&[acme(), globex()], "m1"));
    assert!(quorum.is_final());
    for system in &quorum.systems {
        assert_eq!(system.agreed.as_deref(), Some("m1"));
        assert_eq!(
            system.missing.iter().collect::<Vec<_>>(),
            ["initech"],
            "{system:?}"
        );
    }
    // One system short is not a release.
    let mut partial = everywhere(&[acme()], "m1");
    partial.push(attest(globex(), "x86_64-linux", "m1"));
    let quorum = count(&policy(2), COMMIT, &partial);
    assert!(!quorum.is_final());
    assert_eq!(quorum.systems[0].agreed.as_deref(), Some("m1"));
    assert_eq!(quorum.systems[1].agreed, None);
}

#[test]
fn entries_are_not_identities() {
    // One builder's attestation found three times (two logs, a re-upload).
    let mut repeated = everywhere(&[acme()], "m1");
    repeated.extend(everywhere(&[acme()], "m1"));
    repeated.extend(everywhere(&[acme()], "m1"));
    let quorum = count(&policy(2), COMMIT, &repeated);
    assert!(!quorum.is_final());
    assert_eq!(quorum.systems[0].manifests["m1"].len(), 1);

    // Another workflow of the same organisation is not the policy's builder,
    // nor is the policy's identity vouched for by another issuer.
    let impostors = [
        signer(
            GITHUB,
            "https://github.com/acme/seed/.github/workflows/other.yaml@refs/heads/main",
        ),
        signer(
            GOOGLE,
            "https://github.com/acme/seed/.github/workflows/seed.yaml@refs/heads/main",
        ),
        // The pattern is anchored: a suffix does not make a match.
        signer(
            GITLAB,
            "https://gitlab.com/globex/seed//.gitlab-ci.yml@refs/tags/v1.2-evil",
        ),
    ];
    let mut forged = everywhere(&[acme()], "m1");
    forged.extend(everywhere(&impostors, "m1"));
    let quorum = count(&policy(2), COMMIT, &forged);
    assert!(!quorum.is_final());
    assert_eq!(quorum.outside_policy.len(), 3);
}

#[test]
fn disagreement_equivocation_and_splits_are_not_releases() {
    // Two builders for m1, one for m2: m1 is agreed, the dissent is visible.
    let mut split = everywhere(&[acme(), globex()], "m1");
    split.extend(everywhere(&[initech()], "m2"));
    let quorum = count(&policy(2), COMMIT, &split);
    assert!(quorum.is_final());
    assert_eq!(
        quorum.systems[0].manifests["m2"].iter().collect::<Vec<_>>(),
        ["initech"]
    );

    // A builder that signed two closures for one system counts for neither.
    let mut equivocation = everywhere(&[acme(), globex()], "m1");
    equivocation.push(attest(globex(), "x86_64-linux", "m2"));
    let quorum = count(&policy(2), COMMIT, &equivocation);
    assert!(!quorum.is_final());
    assert_eq!(quorum.systems[0].agreed, None);
    assert!(quorum.systems[0].equivocating.contains("globex"));
    assert_eq!(quorum.systems[1].agreed.as_deref(), Some("m1"));

    // With k = 1, two closures each with a quorum is a split, not a release.
    let mut both = everywhere(&[acme()], "m1");
    both.extend(everywhere(&[globex()], "m2"));
    let quorum = count(&policy(1), COMMIT, &both);
    assert!(!quorum.is_final());

    // Attestations of another commit count for nothing.
    let mut other = everywhere(&[acme(), globex()], "m1");
    for attestation in &mut other {
        attestation.commit = "ffff".to_owned();
    }
    assert!(!count(&policy(2), COMMIT, &other).is_final());
}

#[test]
fn a_policy_breaking_its_own_rules_is_refused() {
    let base = policy_text(2);
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("organisation = \"globex\"", "organisation = \"acme\""),
            "share the organisation 'acme'",
        ),
        (
            base.replace("jurisdiction = \"JP\"", "jurisdiction = \"DE\""),
            "share the jurisdiction 'DE'",
        ),
        (
            base.replace(
                "infrastructure = \"gcp\"",
                "infrastructure = \"gitlab-saas\"",
            ),
            "share the infrastructure",
        ),
        // GitHub Actions and Azure Pipelines: two issuers, one operator.
        (
            base.replace(
                &format!("issuer = \"{GOOGLE}\""),
                "issuer = \"https://vstoken.dev.azure.com\"",
            ),
            "share the issuer operator 'microsoft'",
        ),
        (
            base.replace(
                &format!("issuer = \"{GOOGLE}\""),
                "issuer = \"https://id.example\"",
            ),
            "who operates the issuer 'https://id.example' is unknown",
        ),
        (
            base.replace("threshold = 2", "threshold = 4"),
            "threshold 4",
        ),
        (
            base.replace("threshold = 2", "threshold = 0"),
            "threshold 0",
        ),
        (
            base.replace("v[0-9.]+$\"", "v[0-9.]+\""),
            "must be anchored at both ends",
        ),
        (
            base.replace(
                "identity = \"release@initech.example\"",
                "identity = \"release@initech.example\"\nidentity-pattern = \"^x$\"",
            ),
            "exactly one of identity and identity-pattern",
        ),
        (
            base.replace("name = \"initech\"", "name = \"acme\""),
            "builder name 'acme' appears twice",
        ),
        (
            base.replace(
                "systems = [\"x86_64-linux\", \"aarch64-linux\"]",
                "systems = [\"x86_64-linux\", \"x86_64-linux\"]",
            ),
            "system 'x86_64-linux' appears twice",
        ),
        (
            base.replace(
                "systems = [\"x86_64-linux\", \"aarch64-linux\"]",
                "systems = []",
            ),
            "no system",
        ),
    ];
    for (text, expected) in cases {
        let err = CredulousPolicy::from_toml(text.as_bytes()).unwrap_err();
        assert!(matches!(err, PolicyError::Invalid(_)), "{expected}: {err}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    // An operator declared in the policy makes an unknown issuer usable.
    let declared = format!(
        "{}\n[[issuer]]\nurl = \"https://id.example\"\noperator = \"example\"\n",
        base.replace(
            &format!("issuer = \"{GOOGLE}\""),
            "issuer = \"https://id.example\""
        )
    );
    assert!(CredulousPolicy::from_toml(declared.as_bytes()).is_ok());
    // Unknown keys and bad syntax are parse errors.
    for text in [
        format!("{base}\nthreshhold = 2\n"),
        "threshold = ".to_owned(),
    ] {
        let err = CredulousPolicy::from_toml(text.as_bytes()).unwrap_err();
        assert!(matches!(err, PolicyError::Parse(_)), "{err}");
    }
}

/// A certificate names one issuer, and no two builders share an issuer's
/// operator: so no certificate can be two builders, however broad a pattern.
#[test]
fn one_issuer_cannot_vouch_for_two_builders() {
    let text = policy_text(2)
        .replace(
            "identity = \"release@initech.example\"",
            "identity-pattern = \"^.*$\"",
        )
        .replace(
            &format!("issuer = \"{GITHUB}\""),
            &format!("issuer = \"{GOOGLE}\""),
        );
    let err = CredulousPolicy::from_toml(text.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("issuer operator 'google'"),
        "{err}"
    );
}

#[test]
fn the_policy_digest_pins_its_bytes() {
    let a = policy(2);
    let b = CredulousPolicy::from_toml(format!("{}\n", policy_text(2)).as_bytes()).unwrap();
    assert_ne!(a.digest, b.digest);
    assert_eq!(a.digest, policy(2).digest);
}

/// A builder may sign with a managed key instead of keylessly: its PEM is in
/// the policy (pinned with it), and it counts like any builder.
#[test]
fn managed_key_builders_count_and_are_distinct() {
    use seed_testkit::rekor::KeyPair;
    let key = KeyPair::generate_ecdsa_p256().unwrap();
    let der = key.public_key_der().unwrap();
    let pem = der.to_pem();
    let fingerprint = seed_sigstore::ManagedKey::from_pem(&pem)
        .unwrap()
        .fingerprint()
        .to_owned();
    let keyed = |name: &str, organisation: &str, jurisdiction: &str, infrastructure: &str| {
        format!(
            "\n[[builder]]\nname = \"{name}\"\npublic-key = \"\"\"\n{pem}\"\"\"\norganisation = \"{organisation}\"\njurisdiction = \"{jurisdiction}\"\ninfrastructure = \"{infrastructure}\"\n"
        )
    };
    let text = format!(
        "{}{}",
        policy_text(2),
        keyed("hooli", "hooli", "FR", "bare-metal")
    );
    let policy = CredulousPolicy::from_toml(text.as_bytes()).unwrap();
    assert_eq!(policy.keys().len(), 1);
    let hooli = Signer::Key { fingerprint };
    let quorum = count(&policy, COMMIT, &everywhere(&[acme(), hooli], "m1"));
    assert!(quorum.is_final());

    // The same key twice, and a builder that is both keyed and keyless.
    let twice = format!("{text}{}", keyed("umbrella", "umbrella", "IT", "colo"));
    let err = CredulousPolicy::from_toml(twice.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("builder public key"), "{err}");
    let both = text.replace(
        "name = \"hooli\"\n",
        &format!("name = \"hooli\"\nissuer = \"{GITHUB}\"\n"),
    );
    let err = CredulousPolicy::from_toml(both.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("not both"), "{err}");
    let bad =
        keyed("umbrella", "umbrella", "IT", "colo").replace("BEGIN PUBLIC KEY", "BEGIN NOTHING");
    let err =
        CredulousPolicy::from_toml(format!("{}{bad}", policy_text(2)).as_bytes()).unwrap_err();
    assert!(err.to_string().contains("public-key"), "{err}");
}
