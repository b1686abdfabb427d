//! The Credulous posture end to end on real components and the Rekor double:
//! builders attest with managed keys into the Rekor double (over HTTP) and
//! attach their bundles to images in a real registry (Debian's
//! docker-registry on loopback); the release is found again from the images'
//! referrers, verified and counted. Each trust rule has its negative case.

#![allow(clippy::unwrap_used, missing_docs)]

use seed_core::{CommitId, Sha256Digest};
use seed_credulous::{
    attest, verify_release, AttestError, FindingStatus, ReleaseReport, Witnessing,
};
use seed_oci::{
    FetchedStatement, ImageContent, RegistryClient, Repository, SIGSTORE_BUNDLE_REFERRER,
    WITNESS_CHECKPOINT_REFERRER,
};
use seed_sigstore::{
    trust_root_from_json, BundleVerifier, Credential, CredulousPolicy, RekorWriter, Retry,
    SigningKey,
};
use seed_statement::{Builder, NixSettings, Predicate, SigstoreBuilder, Source, Statement};
use seed_testkit::{
    registry::TestRegistry,
    rekor::{RekorServer, ORIGIN},
};
use seed_witness::{
    log::{LogClient, RekorV1},
    note, AlarmKind, Cosigner, LogKey, Note, Vkey, Witness, WitnessedLog,
};

const X86: &str = "x86_64-linux";
const ARM: &str = "aarch64-linux";

fn digest(c: char) -> Sha256Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

fn commit(c: char) -> CommitId {
    c.to_string().repeat(40).parse().unwrap()
}

/// Everything a test needs: a registry, a log, one image per system, three
/// policy builders and an outsider.
struct World {
    _registry: TestRegistry,
    rekor: RekorServer,
    client: RegistryClient,
    repo: Repository,
    /// Per system: its image and the closure manifest the image holds.
    images: Vec<(String, Sha256Digest, Sha256Digest)>,
    keys: Vec<Credential>,
    outsider: Credential,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn new() -> Self {
        let registry = TestRegistry::start().unwrap();
        let client = RegistryClient::plain_http(&[&registry.host()]).unwrap();
        let repo: Repository = format!("{}/seed", registry.host()).parse().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let images = [X86, ARM]
            .iter()
            .map(|system| {
                let (content, holds) = ImageContent::synthetic_seed(system, "builder").unwrap();
                let pushed = runtime
                    .block_on(client.push_image(&repo, &content, None))
                    .unwrap();
                ((*system).to_owned(), pushed.digest(), holds.digest())
            })
            .collect();
        Self {
            _registry: registry,
            rekor: RekorServer::start().unwrap(),
            client,
            repo,
            images,
            keys: (0..3)
                .map(|_| Credential::Key(SigningKey::generate().unwrap()))
                .collect(),
            outsider: Credential::Key(SigningKey::generate().unwrap()),
            runtime,
        }
    }

    fn image(&self, system: &str) -> Sha256Digest {
        self.images.iter().find(|(s, ..)| s == system).unwrap().1
    }

    /// The closure the image of `system` holds.
    fn holds(&self, system: &str) -> Sha256Digest {
        self.images.iter().find(|(s, ..)| s == system).unwrap().2
    }

    fn verifier(&self) -> BundleVerifier {
        let root = trust_root_from_json(&self.rekor.trusted_root().to_string()).unwrap();
        BundleVerifier::new(&root).unwrap()
    }

    fn policy(&self, threshold: usize) -> CredulousPolicy {
        CredulousPolicy::from_toml(self.policy_text(threshold).as_bytes()).unwrap()
    }

    fn policy_text(&self, threshold: usize) -> String {
        let mut text = format!("threshold = {threshold}\nsystems = [\"{X86}\", \"{ARM}\"]\n");
        for (i, key) in self.keys.iter().enumerate() {
            text += &format!(
                "\n[[builder]]\nname = \"b{i}\"\npublic-key = \"\"\"\n{}\"\"\"\norganisation = \"org{i}\"\njurisdiction = \"j{i}\"\ninfrastructure = \"infra{i}\"\n",
                key.key().unwrap().public_key_pem()
            );
        }
        text
    }

    /// The statement `key` makes for `system` of `commit` with `manifest`,
    /// about `image`.
    fn statement(
        &self,
        key: &Credential,
        commit: &CommitId,
        system: &str,
        manifest: Sha256Digest,
        image: Sha256Digest,
    ) -> Statement {
        Statement::new(Predicate {
            source: Source {
                repository: "https://github.com/seed-eth/example".parse().unwrap(),
                commit: *commit,
                flake_lock: digest('f'),
            },
            system: system.parse().unwrap(),
            closure_manifest: manifest,
            image: self.repo.image_ref(&image).unwrap(),
            builder: Builder::Sigstore(SigstoreBuilder::Key {
                fingerprint: key.key().unwrap().fingerprint().parse().unwrap(),
            }),
            run_id: "1".parse().unwrap(),
            nix: NixSettings::from_show_config("sandbox = true\nsubstituters =\n").unwrap(),
            build_time: "2026-12-01T12:00:00Z".parse().unwrap(),
        })
        .unwrap()
    }

    fn attest(
        &self,
        key: &Credential,
        commit: &CommitId,
        system: &str,
        manifest: Sha256Digest,
    ) -> Result<seed_credulous::Attested, AttestError> {
        self.attest_with(key, commit, system, manifest, None)
    }

    /// `attest`, reconciling with a builder's `witness` when given.
    fn attest_with(
        &self,
        key: &Credential,
        commit: &CommitId,
        system: &str,
        manifest: Sha256Digest,
        witness: Option<&Witnessing>,
    ) -> Result<seed_credulous::Attested, AttestError> {
        let statement = self.statement(key, commit, system, manifest, self.image(system));
        let rekor = RekorWriter::new(&self.rekor.url(), Retry::default()).unwrap();
        self.runtime.block_on(attest(
            &statement,
            key,
            std::slice::from_ref(&rekor),
            None,
            &self.verifier(),
            witness,
            Some((&self.client, &self.repo)),
        ))
    }

    /// The blobs of `kind` attached to the image of `system`.
    fn attached(&self, system: &str, kind: seed_oci::BlobReferrer) -> Vec<FetchedStatement> {
        self.runtime
            .block_on(self.client.blobs(&self.repo, &self.image(system), kind))
            .unwrap()
    }

    /// `attest` of release 7 with a builder's `witness`.
    fn attest_witnessed(
        &self,
        key: &Credential,
        system: &str,
        witness: &Witnessing,
    ) -> Result<seed_credulous::Attested, AttestError> {
        self.attest_with(key, &commit('7'), system, self.holds(system), Some(witness))
    }

    /// A witness of `log` (the world's, or a view of it) with its state in
    /// `dir`, cosigning as `name` when given.
    fn witness(&self, dir: &std::path::Path, log: &RekorServer, name: Option<&str>) -> Witness {
        let followed = WitnessedLog {
            key: LogKey {
                origin: ORIGIN.to_owned(),
                vkey: Vkey::parse(&log.lock().vkey()).unwrap(),
            },
            client: Some(LogClient::RekorV1(RekorV1::new(&log.url()))),
        };
        let cosigner = name.map(|name| Cosigner::from_seed(name, [name.len() as u8; 32]).unwrap());
        let state = dir.join(format!("{}.sqlite", name.unwrap_or("observer")));
        Witness::open(vec![followed], cosigner, &state).unwrap()
    }

    fn verify(&self, commit: &CommitId, threshold: usize) -> ReleaseReport {
        self.verify_content(commit, threshold, false)
    }

    fn verify_content(&self, commit: &CommitId, threshold: usize, content: bool) -> ReleaseReport {
        self.verify_witnessed(commit, threshold, content, None)
    }

    fn verify_witnessed(
        &self,
        commit: &CommitId,
        threshold: usize,
        content: bool,
        witnessing: Option<&Witnessing>,
    ) -> ReleaseReport {
        let images: Vec<_> = self
            .images
            .iter()
            .map(|(_, digest, _)| (self.repo.clone(), *digest))
            .collect();
        self.runtime
            .block_on(verify_release(
                &self.client,
                &self.verifier(),
                &self.policy(threshold),
                commit,
                &images,
                content,
                witnessing,
            ))
            .unwrap()
    }
}

/// Why each refused bundle of `report` was refused.
fn refusals(report: &ReleaseReport) -> Vec<&str> {
    report
        .findings
        .iter()
        .filter_map(|f| match &f.status {
            FindingStatus::Refused { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect()
}

fn agreed(report: &ReleaseReport, system: &str) -> Option<String> {
    report
        .quorum
        .systems
        .iter()
        .find(|s| s.system == system)
        .unwrap()
        .agreed
        .clone()
}

#[test]
fn a_release_is_counted_over_distinct_policy_builders_found_on_its_images() {
    let world = World::new();
    let release = commit('a');
    let [a, b, c] = [&world.keys[0], &world.keys[1], &world.keys[2]];
    world.attest(a, &release, X86, digest('1')).unwrap();
    world.attest(b, &release, X86, digest('1')).unwrap();
    world.attest(c, &release, X86, digest('2')).unwrap();
    world
        .attest(&world.outsider, &release, X86, digest('2'))
        .unwrap();
    for key in [a, b, c] {
        world.attest(key, &release, ARM, digest('3')).unwrap();
    }
    let report = world.verify(&release, 2);
    assert!(report.quorum.is_final());
    assert_eq!(agreed(&report, X86), Some(digest('1').to_string()));
    assert_eq!(agreed(&report, ARM), Some(digest('3').to_string()));
    let x86 = &report.quorum.systems[0];
    assert_eq!(
        x86.manifests[&digest('2').to_string()],
        ["b2".to_owned()].into(),
        "the outsider's agreement with b2 counts for nothing"
    );
    // A managed key the policy does not name cannot even be verified.
    assert!(report.quorum.outside_policy.is_empty());
    let refused: Vec<_> = report
        .findings
        .iter()
        .filter(|f| matches!(&f.status, FindingStatus::Refused { reason } if reason.contains("managed key")))
        .collect();
    assert_eq!(refused.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings.len(), 7);
    // With k = 3 the x86 disagreement holds the release back.
    let strict = world.verify(&release, 3);
    assert!(!strict.quorum.is_final());
    assert_eq!(agreed(&strict, X86), None);
    assert_eq!(agreed(&strict, ARM), Some(digest('3').to_string()));
}

#[test]
fn attesting_again_writes_nothing_and_another_closure_is_a_conflict() {
    let world = World::new();
    let release = commit('b');
    let key = &world.keys[0];
    let first = world.attest(key, &release, X86, digest('1')).unwrap();
    assert!(!first.already);
    let logged = world.rekor.lock().size();
    let again = world.attest(key, &release, X86, digest('1')).unwrap();
    assert!(again.already);
    assert_eq!(again.referrer, first.referrer);
    assert_eq!(world.rekor.lock().size(), logged, "nothing logged twice");
    let error = world.attest(key, &release, X86, digest('2')).unwrap_err();
    assert!(
        matches!(&error, AttestError::Conflict { earlier, .. } if *earlier == digest('1')),
        "{error}"
    );
    assert_eq!(world.rekor.lock().size(), logged, "a conflict logs nothing");
    // Another release by the same builder is no conflict.
    world.attest(key, &commit('c'), X86, digest('2')).unwrap();
}

#[test]
fn a_log_down_publishes_nothing() {
    let world = World::new();
    let key = &world.keys[0];
    world
        .rekor
        .fail_next(&[seed_testkit::rekor::Fault::Status(503); 2]);
    let statement = world.statement(key, &commit('d'), X86, digest('1'), world.image(X86));
    let rekor = RekorWriter::new(
        &world.rekor.url(),
        Retry {
            attempts: 2,
            first_delay: std::time::Duration::from_millis(10),
            ..Retry::default()
        },
    )
    .unwrap();
    let error = world
        .runtime
        .block_on(attest(
            &statement,
            key,
            std::slice::from_ref(&rekor),
            None,
            &world.verifier(),
            None,
            Some((&world.client, &world.repo)),
        ))
        .unwrap_err();
    assert!(
        matches!(&error, AttestError::Sign(e) if e.is_transient()),
        "{error}"
    );
    let attached = world.attached(X86, SIGSTORE_BUNDLE_REFERRER);
    assert!(attached.is_empty(), "no referrer without a log entry");
}

#[test]
fn bundles_that_do_not_bind_their_image_release_or_signer_are_refused() {
    let world = World::new();
    let release = commit('e');
    let [a, b] = [&world.keys[0], &world.keys[1]];
    let good = world.attest(a, &release, X86, digest('1')).unwrap();

    // A's x86 bundle attached to the arm image: its subject is not that image.
    world
        .runtime
        .block_on(world.client.attach_blob(
            &world.repo,
            &world.image(ARM),
            SIGSTORE_BUNDLE_REFERRER,
            good.bundle.as_bytes(),
        ))
        .unwrap();

    // A statement naming b, signed and logged by a (attest refuses to make
    // it; a hostile builder would not use attest).
    let claims_b = world.statement(b, &release, X86, digest('1'), world.image(X86));
    let rekor = RekorWriter::new(&world.rekor.url(), Retry::default()).unwrap();
    let forged = world
        .runtime
        .block_on(rekor.sign_statement(&claims_b.to_canonical_json(), a))
        .unwrap();
    world
        .runtime
        .block_on(world.client.attach_blob(
            &world.repo,
            &world.image(X86),
            SIGSTORE_BUNDLE_REFERRER,
            forged.as_bytes(),
        ))
        .unwrap();
    let refused = world.runtime.block_on(attest(
        &claims_b,
        a,
        std::slice::from_ref(&rekor),
        None,
        &world.verifier(),
        None,
        Some((&world.client, &world.repo)),
    ));
    assert!(matches!(refused, Err(AttestError::NotTheSigner { .. })));

    // A bundle whose log proof was tampered with.
    let mut tampered: serde_json::Value = serde_json::from_str(&good.bundle).unwrap();
    tampered["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] =
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into();
    world
        .runtime
        .block_on(world.client.attach_blob(
            &world.repo,
            &world.image(X86),
            SIGSTORE_BUNDLE_REFERRER,
            tampered.to_string().as_bytes(),
        ))
        .unwrap();

    let report = world.verify(&release, 1);
    let reasons: Vec<&str> = refusals(&report);
    assert_eq!(reasons.len(), 3, "{reasons:#?}");
    assert!(reasons
        .iter()
        .any(|r| r.contains("does not match any subject")));
    assert!(reasons.iter().any(|r| r.contains("but it was signed by")));
    assert!(reasons
        .iter()
        .any(|r| r.contains("inclusion proof") || r.contains("root")));
    // Only a's one good bundle counts: x86 has one builder, b is missing.
    let x86 = &report.quorum.systems[0];
    assert_eq!(
        x86.manifests[&digest('1').to_string()],
        ["b0".to_owned()].into()
    );
    assert!(x86.missing.contains("b1"));
}

#[test]
fn a_trojan_image_is_never_verified() {
    let world = World::new();
    let [a, b] = [&world.keys[0], &world.keys[1]];
    let honest = commit('f');
    for key in [a, b] {
        world.attest(key, &honest, X86, world.holds(X86)).unwrap();
        world.attest(key, &honest, ARM, world.holds(ARM)).unwrap();
    }
    let report = world.verify_content(&honest, 2, true);
    assert!(report.verified(), "{:#?}", report.failures);
    assert_eq!(report.content.len(), 2);

    // Two builders agree on a closure the x86 image does not hold.
    let trojan = commit('7');
    for key in [a, b] {
        world.attest(key, &trojan, X86, digest('9')).unwrap();
        world.attest(key, &trojan, ARM, world.holds(ARM)).unwrap();
    }
    let report = world.verify_content(&trojan, 2, true);
    assert!(report.quorum.is_final(), "the quorum alone would pass");
    assert!(!report.verified());
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert!(
        report.failures[0].contains("does not hold the release's closure")
            && report.failures[0].contains(&world.holds(X86).to_string()),
        "{}",
        report.failures[0]
    );
    // Without the content check the same release passes: the check is what binds the bytes.
    assert!(world.verify_content(&trojan, 2, false).verified());
}

#[test]
fn each_attestation_must_be_in_the_policys_log_quorum() {
    let world = World::new();
    let second = RekorServer::start().unwrap();
    let mut root = world.rekor.trusted_root();
    let other = second.trusted_root();
    let key_id = |root: &serde_json::Value| {
        root["tlogs"][0]["logId"]["keyId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (first_id, second_id) = (key_id(&root), key_id(&other));
    root["tlogs"]
        .as_array_mut()
        .unwrap()
        .extend(other["tlogs"].as_array().unwrap().iter().cloned());
    let verifier = BundleVerifier::new(&trust_root_from_json(&root.to_string()).unwrap()).unwrap();
    let writer = |url: String| RekorWriter::new(&url, Retry::default()).unwrap();
    let both = [writer(world.rekor.url()), writer(second.url())];
    let release = commit('5');
    let [a, b, c] = [&world.keys[0], &world.keys[1], &world.keys[2]];
    for (key, logs) in [(a, &both[..]), (b, &both[..]), (c, &both[..1])] {
        for system in [X86, ARM] {
            let statement = world.statement(
                key,
                &release,
                system,
                world.holds(system),
                world.image(system),
            );
            let attested = world
                .runtime
                .block_on(attest(
                    &statement,
                    key,
                    logs,
                    None,
                    &verifier,
                    None,
                    Some((&world.client, &world.repo)),
                ))
                .unwrap();
            assert_eq!(attested.verified.log_entries.len(), logs.len());
        }
    }
    let logs = format!(
        "\n[[log]]\nname = \"first\"\nkey-id = \"{first_id}\"\noperator = \"op-1\"\n\n[[log]]\nname = \"second\"\nkey-id = \"{second_id}\"\noperator = \"op-2\"\n"
    );
    let verify = |log_quorum: usize| {
        let text = format!("log-quorum = {log_quorum}\n{}{logs}", world.policy_text(3));
        let policy = CredulousPolicy::from_toml(text.as_bytes()).unwrap();
        let images: Vec<_> = world
            .images
            .iter()
            .map(|(_, digest, _)| (world.repo.clone(), *digest))
            .collect();
        world
            .runtime
            .block_on(verify_release(
                &world.client,
                &verifier,
                &policy,
                &release,
                &images,
                true,
                None,
            ))
            .unwrap()
    };
    // In one log each, all three count: k = 3 is met.
    assert!(verify(1).verified());
    // In both logs: c is in one only, so it does not count and k = 3 is not met.
    let report = verify(2);
    assert!(!report.verified());
    let refused: Vec<&str> = refusals(&report);
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(refused
        .iter()
        .all(|r| r
            .contains("logged in 1 of the policy's logs (first), and the policy requires 2 of 2")));
    let x86 = &report.quorum.systems[0];
    assert!(x86.missing.contains("b2"));

    // A policy's log quorum must be meetable, and one operator's logs count once.
    let base = world.policy_text(2);
    for (bad, why) in [
        (
            format!("log-quorum = 3\n{base}{logs}"),
            "between 1 and the 2 logs",
        ),
        (
            format!("log-quorum = 1\n{base}"),
            "needs the logs it counts",
        ),
        (
            format!("log-quorum = 1\n{base}{}", logs.replace("op-2", "op-1")),
            "log operator 'op-1' appears twice",
        ),
    ] {
        let error = CredulousPolicy::from_toml(bad.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{error}");
    }
}

#[test]
fn a_malformed_referrer_blocks_neither_attestation_nor_verification() {
    let world = World::new();
    let release = commit('6');
    // Anyone who can push attaches junk under the bundle artifact type: a
    // manifest whose one layer is not a bundle, and a "bundle" that is not JSON.
    let junk_layer = seed_oci::BlobReferrer {
        layer_media_type: "application/octet-stream",
        what: "junk",
        ..SIGSTORE_BUNDLE_REFERRER
    };
    for system in [X86, ARM] {
        world
            .runtime
            .block_on(world.client.attach_blob(
                &world.repo,
                &world.image(system),
                junk_layer,
                b"not a bundle",
            ))
            .unwrap();
        world
            .runtime
            .block_on(world.client.attach_blob(
                &world.repo,
                &world.image(system),
                SIGSTORE_BUNDLE_REFERRER,
                &[0xff, 0xfe],
            ))
            .unwrap();
    }
    for key in &world.keys[..2] {
        for system in [X86, ARM] {
            world
                .attest(key, &release, system, world.holds(system))
                .unwrap();
        }
    }
    let report = world.verify_content(&release, 2, true);
    assert!(report.verified(), "{:#?}", report.failures);
    let refused: Vec<&str> = refusals(&report);
    assert_eq!(refused.len(), 4, "{refused:#?}");
    assert!(refused
        .iter()
        .any(|r| r.contains("cannot be read as a Sigstore bundle")));
    assert!(refused.iter().any(|r| r.contains("not UTF-8")));
}

/// Gossip through the registry: a builder's witness attaches its cosigned
/// checkpoint beside its bundle. When another witness, shown another view of
/// the log, gossips its checkpoint on the same image, a builder that shares
/// no network path with it refuses to publish, and a verifier refuses the
/// release, each with an alarm naming the image, the referrer and the
/// witness, both checkpoints and the failed proof.
#[test]
fn a_checkpoint_gossiped_on_an_image_reveals_a_split_view() {
    let world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let release = commit('7');
    let b0 = Witnessing::local(world.witness(dir.path(), &world.rekor, Some("b0.witness.test")));
    for system in [X86, ARM] {
        let attested = world.attest_witnessed(&world.keys[0], system, &b0).unwrap();
        assert_eq!(attested.gossiped.len(), 1, "{attested:?}");
    }
    for system in [X86, ARM] {
        world
            .attest(&world.keys[2], &release, system, world.holds(system))
            .unwrap();
    }
    // What b0 gossiped: the log's checkpoint with b0's witness cosignature.
    let gossiped = world.attached(X86, WITNESS_CHECKPOINT_REFERRER);
    assert_eq!(gossiped.len(), 1);
    let b0_vkey = Cosigner::from_seed("b0.witness.test", [15; 32])
        .unwrap()
        .vkey()
        .clone();
    let log_vkey = Vkey::parse(&world.rekor.lock().vkey()).unwrap();
    let gossiped_note = Note::parse(&gossiped[0].bytes).unwrap();
    note::verify(&gossiped_note, std::slice::from_ref(&b0_vkey)).unwrap();
    note::verify(&gossiped_note, std::slice::from_ref(&log_vkey)).unwrap();
    let consumer = Witnessing::local(world.witness(dir.path(), &world.rekor, None));
    let report = world.verify_witnessed(&release, 2, false, Some(&consumer));
    assert!(report.verified(), "{:#?}", report.failures);

    // The log splits: mallory's witness is shown one tree, everyone else
    // another, and it gossips what it saw on the x86 image.
    let split = world.rekor.fork().unwrap();
    split
        .lock()
        .append(b"seen by mallory".to_vec(), 1_700_000_000);
    world
        .rekor
        .lock()
        .append(b"seen by the others".to_vec(), 1_700_000_000);
    let mallory = world.witness(dir.path(), &split, Some("mallory.witness.test"));
    let followed = mallory.logs().next().unwrap().clone();
    world.runtime.block_on(mallory.poll(&followed)).unwrap();
    let forked = mallory.cosigned(ORIGIN).unwrap().unwrap();
    let referrer = world
        .runtime
        .block_on(world.client.attach_blob(
            &world.repo,
            &world.image(X86),
            WITNESS_CHECKPOINT_REFERRER,
            forked.as_bytes(),
        ))
        .unwrap()
        .referrer;
    // Junk under the same artifact type is no evidence and is passed over.
    world
        .runtime
        .block_on(world.client.attach_blob(
            &world.repo,
            &world.image(X86),
            WITNESS_CHECKPOINT_REFERRER,
            forked.replacen("\n", "\nX", 1).as_bytes(),
        ))
        .unwrap();

    // b1 follows the honest view: it logs, reads the image's gossip, and
    // refuses to publish.
    let b1 = Witnessing::local(world.witness(dir.path(), &world.rekor, Some("b1.witness.test")));
    let error = world
        .attest_witnessed(&world.keys[1], X86, &b1)
        .unwrap_err();
    let AttestError::SplitView(alarm) = error else {
        panic!("expected a split view, got {error}");
    };
    assert_eq!(alarm.kind, AlarmKind::Inconsistent, "{alarm:?}");
    for named in [
        referrer.to_string().as_str(),
        "mallory.witness.test",
        "(unverified)",
        &format!("{}@{}", world.repo, world.image(X86)),
    ] {
        assert!(alarm.source.contains(named), "{named}: {}", alarm.source);
    }
    assert_eq!(alarm.seen, forked, "the gossiped view");
    assert_ne!(alarm.held.lines().nth(2), alarm.seen.lines().nth(2));
    assert!(!alarm.proof.is_empty(), "the proof that failed is kept");
    let bundles = world.attached(X86, SIGSTORE_BUNDLE_REFERRER);
    assert_eq!(bundles.len(), 2, "b0's and b2's: b1 attached nothing");

    // A verifier on the honest view refuses the release, quorum or not.
    let report = world.verify_witnessed(&release, 2, false, Some(&consumer));
    assert!(report.quorum.is_final());
    assert!(!report.verified());
    assert_eq!(report.alarms.len(), 1, "{:#?}", report.alarms);
    assert!(report.alarms[0].source.contains("mallory.witness.test"));
}

/// A policy that asks for witnesses names each log completely: origin, vkey
/// and one URL to read it at (Rekor v1's API or a tiled log's prefix).
#[test]
fn a_witness_policy_names_its_logs_completely() {
    let rekor = RekorServer::start().unwrap();
    let (vkey, key_id) = {
        let log = rekor.lock();
        (
            log.vkey(),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, log.log_id()),
        )
    };
    let witness = Cosigner::from_seed("w.example/1", [3; 32]).unwrap();
    let head = format!(
        "threshold = 1\nsystems = [\"{X86}\"]\nwitnesses = \"\"\"\nwitness w {}\nquorum w\n\"\"\"\n\
         [[builder]]\nname = \"b\"\nidentity = \"https://github.com/o/r/.github/workflows/seed.yml@refs/heads/main\"\n\
         issuer = \"https://token.actions.githubusercontent.com\"\norganisation = \"o\"\njurisdiction = \"j\"\ninfrastructure = \"i\"\n",
        witness.vkey()
    );
    let log = |fields: &str| {
        format!("{head}\n[[log]]\nname = \"l\"\nkey-id = \"{key_id}\"\noperator = \"op\"\n{fields}")
    };
    let good = format!("origin = \"{ORIGIN}\"\nvkey = \"{vkey}\"\n");
    for fields in [
        format!("{good}url = \"http://log\"\n"),
        format!("{good}tiles-url = \"http://log/api/v2\"\n"),
    ] {
        let policy = CredulousPolicy::from_toml(log(&fields).as_bytes()).unwrap();
        assert!(policy.logs[0].witnessed.is_some(), "{fields}");
    }
    let other_log = Vkey::parse(&RekorServer::start().unwrap().lock().vkey()).unwrap();
    for (fields, why) in [
        (String::new(), "needs origin, vkey and url"),
        (good.clone(), "go together"),
        (
            format!("{good}url = \"http://log\"\ntiles-url = \"http://log/api/v2\"\n"),
            "not both",
        ),
        (
            format!(
                "origin = \"{ORIGIN}\"\nvkey = \"{}\"\nurl = \"http://log\"\n",
                witness.vkey()
            ),
            "cosignature key",
        ),
        (
            format!("origin = \"{ORIGIN}\"\nvkey = \"{other_log}\"\nurl = \"http://log\"\n"),
            "not the start of its key-id",
        ),
    ] {
        let error = CredulousPolicy::from_toml(log(&fields).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{why}: {error}");
    }
    let error = CredulousPolicy::from_toml(head.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("witnesses need the logs they watch"),
        "{error}"
    );
}
