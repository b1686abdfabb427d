//! seed-oci against a real registry (CNCF Distribution 2.8, Debian's
//! `docker-registry`), with skopeo as an independent client checking what the
//! registry actually holds.

// Test helpers outside `#[test]` functions unwrap too: a failure is a test
// failure.
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, process::Command};

use alloy_primitives::address;
use seed_core::Sha256Digest;
use seed_oci::{
    manifest::sha256, ImageContent, OciError, RawManifest, RegistryClient, Repository, Tag,
    MAX_STATEMENT_BYTES, OCI_INDEX, STATEMENT_ARTIFACT_TYPE,
};
use seed_statement::{
    sign, verify, Builder, BuilderKey, Expected, NixSettings, Predicate, RegisteredBuilder,
    SignedStatement, Source, Statement,
};
use seed_testkit::registry::TestRegistry;

const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const CHAIN_ID: u64 = 31337;

fn setup(repo: &str) -> (TestRegistry, RegistryClient, Repository) {
    let registry = TestRegistry::start().unwrap();
    let client = RegistryClient::plain_http(&[&registry.host()]).unwrap();
    let repo = format!("{}/{repo}", registry.host()).parse().unwrap();
    (registry, client, repo)
}

/// Pushes the synthetic image `name` (a test image with one small layer).
async fn synthetic(client: &RegistryClient, repo: &Repository, name: &str) -> RawManifest {
    client
        .push_image(repo, &ImageContent::synthetic(name), None)
        .await
        .unwrap()
}

/// `skopeo inspect --raw` of `docker://<reference>`: the bytes the registry
/// serves, read by a client that is not ours.
fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .expect("skopeo is installed (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn signed_statement(repo: &Repository, image: &Sha256Digest, run_id: &str) -> SignedStatement {
    let key = BuilderKey::from_hex(ANVIL_KEY_0).unwrap();
    let digest = |c: char| -> Sha256Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    };
    let predicate = Predicate {
        source: Source {
            repository: "https://github.com/seed-eth/example".parse().unwrap(),
            commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
            flake_lock: digest('1'),
        },
        system: "x86_64-linux".parse().unwrap(),
        closure_manifest: digest('2'),
        image: repo.image_ref(image).unwrap(),
        builder: Builder::Registered(RegisteredBuilder {
            address: key.address(),
            chain_id: CHAIN_ID,
            registry: registry_contract(),
        }),
        run_id: run_id.parse().unwrap(),
        nix: NixSettings::from_show_config("sandbox = true\nsubstituters =\n").unwrap(),
        build_time: "2026-01-31T12:00:00Z".parse().unwrap(),
    };
    sign(&Statement::new(predicate).unwrap(), &key).unwrap()
}

fn registry_contract() -> alloy_primitives::Address {
    address!("0x5FbDB2315678afecb367f032d93F642f64180aa3")
}

fn expected(digest: Sha256Digest) -> Expected {
    let key = BuilderKey::from_hex(ANVIL_KEY_0).unwrap();
    Expected::new(key.address(), CHAIN_ID, registry_contract()).with_digest(digest)
}

#[tokio::test]
async fn synthetic_image_is_stored_bit_exact() {
    let (registry, client, repo) = setup("seed");
    let image = ImageContent::synthetic("one");
    let manifest = client
        .push_image(&repo, &image, Some(&"v1".parse().unwrap()))
        .await
        .unwrap();
    let by_digest = skopeo_raw(&format!("{repo}@{}", manifest.digest()));
    assert_eq!(by_digest, manifest.bytes());
    assert_eq!(sha256(&by_digest), manifest.digest());
    assert_eq!(skopeo_raw(&format!("{repo}:v1")), manifest.bytes());
    // Pushing again is a no-op success.
    let again = client.push_image(&repo, &image, None).await.unwrap();
    assert_eq!(again, manifest);
    let pulled = client
        .pull_manifest(&repo, &manifest.digest())
        .await
        .unwrap();
    assert_eq!(pulled, manifest);
    drop(registry);
}

#[tokio::test]
async fn statement_referrer_round_trip() {
    let (_registry, client, repo) = setup("org/seed");
    let image = synthetic(&client, &repo, "img").await.digest();
    let signed = signed_statement(&repo, &image, "run-1");

    let attached = client
        .attach_statement(&repo, &image, signed.bytes())
        .await
        .unwrap();
    assert_eq!(attached.statement, signed.digest());
    assert!(
        attached.index_updated,
        "Distribution 2.8 has no referrers API, so the fallback tag is written"
    );

    // Listing finds it, filtered by artifact type.
    let listed = client
        .list_referrers(&repo, &image, Some(STATEMENT_ARTIFACT_TYPE))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, attached.referrer.to_string());
    assert!(client
        .list_referrers(&repo, &image, Some("application/spdx+json"))
        .await
        .unwrap()
        .is_empty());

    // Fetched through the referrer and by the on-chain digest, it verifies.
    let fetched = client.statements(&repo, &image).await.unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].bytes, signed.bytes());
    let by_digest = client
        .fetch_statement(&repo, &signed.digest())
        .await
        .unwrap();
    let verified = verify(&by_digest, &expected(signed.digest())).unwrap();
    assert_eq!(verified.statement().predicate().image.digest(), image);

    // skopeo sees the same referrer manifest, with the image as subject, and
    // the fallback index listing it.
    let referrer_bytes = skopeo_raw(&format!("{repo}@{}", attached.referrer));
    assert_eq!(sha256(&referrer_bytes), attached.referrer);
    let referrer: serde_json::Value = serde_json::from_slice(&referrer_bytes).unwrap();
    assert_eq!(referrer["subject"]["digest"], image.to_string());
    assert_eq!(referrer["artifactType"], STATEMENT_ARTIFACT_TYPE);
    assert_eq!(referrer["layers"][0]["digest"], signed.digest().to_string());
    let index = skopeo_raw(&format!("{repo}:{}", Tag::referrers_fallback(&image)));
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(
        index["manifests"][0]["digest"],
        attached.referrer.to_string()
    );
    assert_eq!(
        index["manifests"][0]["artifactType"],
        STATEMENT_ARTIFACT_TYPE
    );
}

#[tokio::test]
async fn attaching_is_idempotent_and_accumulates() {
    let (_registry, client, repo) = setup("seed");
    let image = synthetic(&client, &repo, "img").await.digest();
    let first = signed_statement(&repo, &image, "run-1");
    let a = client
        .attach_statement(&repo, &image, first.bytes())
        .await
        .unwrap();
    let again = client
        .attach_statement(&repo, &image, first.bytes())
        .await
        .unwrap();
    assert_eq!((again.referrer, again.statement), (a.referrer, a.statement));
    assert!(!again.index_updated, "a re-push leaves the index alone");

    let second = signed_statement(&repo, &image, "run-2");
    let b = client
        .attach_statement(&repo, &image, second.bytes())
        .await
        .unwrap();
    assert_ne!(a.referrer, b.referrer);
    let mut found: Vec<Sha256Digest> = client
        .statements(&repo, &image)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.statement)
        .collect();
    found.sort();
    let mut want = vec![first.digest(), second.digest()];
    want.sort();
    assert_eq!(found, want);
}

/// Distribution 2.8 has no referrers API. A client learns that from the
/// first referrer it attaches, and from then on writes the fallback index
/// without asking the API, while every referrer stays discoverable.
#[tokio::test]
async fn a_registry_without_the_referrers_api_is_asked_once_per_client() {
    let (registry, client, repo) = setup("seed");
    let api_questions = || {
        registry
            .requests()
            .iter()
            .filter(|r| r.path.contains("/referrers/"))
            .count()
    };
    let mut images = Vec::new();
    for name in ["one", "two", "three"] {
        let image = synthetic(&client, &repo, name).await.digest();
        let signed = signed_statement(&repo, &image, name);
        let attached = client
            .attach_statement(&repo, &image, signed.bytes())
            .await
            .unwrap();
        assert!(
            attached.index_updated,
            "{name}: the fallback index is written"
        );
        images.push((image, signed.digest()));
    }
    assert_eq!(api_questions(), 1, "{}", registry.log());

    // Listing skips the API too, and finds each statement.
    for (image, statement) in &images {
        let found = client.statements(&repo, image).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].statement, *statement);
    }
    assert_eq!(api_questions(), 1);

    // A new client (another process) does not assume: it asks again.
    let fresh = RegistryClient::plain_http(&[&registry.host()]).unwrap();
    let listed = fresh
        .list_referrers(&repo, &images[0].0, Some(STATEMENT_ARTIFACT_TYPE))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(api_questions(), 2);
}

#[tokio::test]
async fn promotion_is_bit_exact_and_idempotent() {
    let (_registry, client, repo) = setup("seed");
    let one = synthetic(&client, &repo, "one").await;
    let two = synthetic(&client, &repo, "two").await;
    let tag: Tag = "release-0123456".parse().unwrap();

    let first = client
        .promote(&repo, &one.digest(), &repo, &tag)
        .await
        .unwrap();
    assert_eq!((first.previous, first.changed()), (None, true));
    let served = skopeo_raw(&format!("{repo}:{tag}"));
    assert_eq!(served, one.bytes());
    assert_eq!(sha256(&served), one.digest());

    let repeat = client
        .promote(&repo, &one.digest(), &repo, &tag)
        .await
        .unwrap();
    assert_eq!(
        (repeat.previous, repeat.changed()),
        (Some(one.digest()), false)
    );

    let moved = client
        .promote(&repo, &two.digest(), &repo, &tag)
        .await
        .unwrap();
    assert_eq!(moved.previous, Some(one.digest()));
    assert_eq!(sha256(&skopeo_raw(&format!("{repo}:{tag}"))), two.digest());
}

#[tokio::test]
async fn promotion_to_another_repository_mounts_the_content() {
    let (registry, client, staging) = setup("staging/seed");
    let release: Repository = format!("{}/release/seed", registry.host()).parse().unwrap();
    let image = client
        .push_image(&staging, &ImageContent::synthetic("x"), None)
        .await
        .unwrap();
    let tag: Tag = "v1".parse().unwrap();
    let promoted = client
        .promote(&staging, &image.digest(), &release, &tag)
        .await
        .unwrap();
    assert_eq!(promoted.digest, image.digest());
    assert_eq!(skopeo_raw(&format!("{release}:{tag}")), image.bytes());
    // The layer is really there, not just the manifest.
    let layer = &ImageContent::synthetic("x").layers[0].1;
    assert_eq!(
        client
            .fetch_blob(&release, &sha256(layer), 1 << 20)
            .await
            .unwrap(),
        *layer
    );
}

#[tokio::test]
async fn a_tampered_statement_blob_is_a_digest_mismatch() {
    let (registry, client, repo) = setup("seed");
    let image = synthetic(&client, &repo, "img").await.digest();
    let signed = signed_statement(&repo, &image, "run-1");
    client
        .attach_statement(&repo, &image, signed.bytes())
        .await
        .unwrap();

    // Flip one byte of the stored envelope, keeping its length.
    let hex = signed.digest().to_string()["sha256:".len()..].to_owned();
    let path = registry.blob_path(&hex);
    let mut stored = std::fs::read(&path).unwrap();
    stored[10] ^= 0x20;
    std::fs::write(&path, stored).unwrap();

    for result in [
        client
            .fetch_statement(&repo, &signed.digest())
            .await
            .map(drop),
        client.statements(&repo, &image).await.map(drop),
    ] {
        assert!(
            matches!(result, Err(OciError::DigestMismatch { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_tampered_manifest_is_a_digest_mismatch() {
    let (registry, client, repo) = setup("seed");
    let manifest = synthetic(&client, &repo, "img").await;
    // Distribution stores manifests as blobs too.
    let hex = manifest.digest().to_string()["sha256:".len()..].to_owned();
    let path = registry.blob_path(&hex);
    let tampered = String::from_utf8(std::fs::read(&path).unwrap())
        .unwrap()
        .replace("\"size\":", "\"size\": ");
    std::fs::write(&path, tampered).unwrap();

    let tag: Tag = "v1".parse().unwrap();
    for result in [
        client
            .pull_manifest(&repo, &manifest.digest())
            .await
            .map(drop),
        client
            .promote(&repo, &manifest.digest(), &repo, &tag)
            .await
            .map(drop),
    ] {
        assert!(
            matches!(result, Err(OciError::DigestMismatch { .. })),
            "{result:?}"
        );
    }
    assert!(
        client.pull_tag(&repo, &tag).await.unwrap().is_none(),
        "nothing was promoted"
    );
}

#[tokio::test]
async fn missing_content_is_not_found() {
    let (_registry, client, repo) = setup("seed");
    let absent = sha256(b"never pushed");
    assert!(matches!(
        client.pull_manifest(&repo, &absent).await,
        Err(OciError::NotFound { .. })
    ));
    assert!(matches!(
        client.fetch_statement(&repo, &absent).await,
        Err(OciError::NotFound { .. })
    ));
    assert!(matches!(
        client
            .promote(&repo, &absent, &repo, &"v1".parse().unwrap())
            .await,
        Err(OciError::NotFound { .. })
    ));
    assert!(client
        .list_referrers(&repo, &absent, None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_referrer_of_another_image_is_refused() {
    let (_registry, client, repo) = setup("seed");
    let one = synthetic(&client, &repo, "one").await.digest();
    let two = synthetic(&client, &repo, "two").await.digest();
    let signed = signed_statement(&repo, &one, "run-1");
    let attached = client
        .attach_statement(&repo, &one, signed.bytes())
        .await
        .unwrap();
    assert!(matches!(
        client
            .fetch_statement_referrer(&repo, &two, &attached.referrer)
            .await,
        Err(OciError::Invalid { .. })
    ));
}

/// An annotation-only referrer (the keeper's verdicts): attached once
/// however often it is attached, listed with its annotations, and read back
/// only as what it claims to be.
#[tokio::test]
async fn annotated_referrers_round_trip_and_are_checked() {
    let (registry, client, repo) = setup("seed");
    let one = synthetic(&client, &repo, "one").await;
    let two = synthetic(&client, &repo, "two").await.digest();
    let kind = "application/vnd.example.record.v1+json";
    let record = BTreeMap::from([("dev.example.record".to_owned(), r#"{"n":1}"#.to_owned())]);
    let referrer = client
        .attach_annotated_referrer(&repo, &one, kind, record.clone())
        .await
        .unwrap();
    let writes = || {
        registry
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .count()
    };
    let writes_before = writes();
    let again = client
        .attach_annotated_referrer(&repo, &one, kind, record.clone())
        .await
        .unwrap();
    assert_eq!(again, referrer);
    // Only the manifest, same bytes under the same digest: no blob, no index.
    assert_eq!(writes() - writes_before, 1, "{:?}", registry.requests());

    let listed = client
        .list_referrers(&repo, &one.digest(), Some(kind))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, referrer.to_string());
    assert_eq!(listed[0].annotations, Some(record.clone()));
    assert_eq!(
        client
            .referrer_annotations(&repo, &one.digest(), &referrer, kind)
            .await
            .unwrap(),
        record
    );
    // Asked as a referrer of another image, or as another kind: refused.
    for (subject, asked_kind) in [(two, kind), (one.digest(), "application/other")] {
        assert!(matches!(
            client
                .referrer_annotations(&repo, &subject, &referrer, asked_kind)
                .await,
            Err(OciError::Invalid { .. })
        ));
    }
    // Oversized records are refused before anything is written.
    let huge = BTreeMap::from([("k".to_owned(), "x".repeat(MAX_STATEMENT_BYTES))]);
    let writes_before = writes();
    assert!(matches!(
        client
            .attach_annotated_referrer(&repo, &one, kind, huge)
            .await,
        Err(OciError::Invalid { .. })
    ));
    assert_eq!(writes(), writes_before);
}

#[tokio::test]
async fn a_stopped_registry_is_unreachable_and_named() {
    let (mut registry, client, repo) = setup("seed");
    let host = registry.host();
    registry.stop();
    let err = client
        .push_image(&repo, &ImageContent::synthetic("x"), None)
        .await
        .unwrap_err();
    match &err {
        OciError::Unreachable { url, .. } => assert!(url.contains(&host), "{url}"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.is_transient());
    assert!(err.to_string().contains(&host));
    let err = client
        .pull_manifest(&repo, &sha256(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::Unreachable { .. }), "{err:?}");
}

#[tokio::test]
async fn credentials_are_required_and_used() {
    use seed_oci::{ClientOptions, Credentials};
    use seed_testkit::registry::{TEST_PASSWORD, TEST_USER};

    let registry = TestRegistry::start_with_basic_auth().unwrap();
    let repo: Repository = format!("{}/seed", registry.host()).parse().unwrap();
    let client = |username: &str, password: &str| {
        RegistryClient::new(ClientOptions {
            plain_http: vec![registry.host()],
            credentials: Credentials::Basic {
                username: username.to_owned(),
                password: password.to_owned(),
            },
            ..ClientOptions::default()
        })
        .unwrap()
    };
    let image = ImageContent::synthetic("x");

    let anonymous = RegistryClient::plain_http(&[&registry.host()]).unwrap();
    for (name, client) in [
        ("anonymous", anonymous),
        ("wrong password", client(TEST_USER, "wrong")),
    ] {
        let result = client.push_image(&repo, &image, None).await;
        assert!(
            matches!(result, Err(OciError::Unauthorised { .. })),
            "{name}: {result:?}"
        );
    }

    let authorised = client(TEST_USER, TEST_PASSWORD);
    let manifest = authorised.push_image(&repo, &image, None).await.unwrap();
    let signed = signed_statement(&repo, &manifest.digest(), "run-1");
    authorised
        .attach_statement(&repo, &manifest.digest(), signed.bytes())
        .await
        .unwrap();
    assert_eq!(
        authorised
            .statements(&repo, &manifest.digest())
            .await
            .unwrap()[0]
            .bytes,
        signed.bytes()
    );
    let tag: Tag = "v1".parse().unwrap();
    authorised
        .promote(&repo, &manifest.digest(), &repo, &tag)
        .await
        .unwrap();
    // Reading is protected too, and a listing does not turn "unauthorised"
    // into "no statements".
    let anonymous = RegistryClient::plain_http(&[&registry.host()]).unwrap();
    let listing = anonymous
        .list_referrers(&repo, &manifest.digest(), None)
        .await;
    assert!(
        matches!(listing, Err(OciError::Unauthorised { .. })),
        "{listing:?}"
    );
}

/// Issue 11 §5: an address that is not a registry (here a web server answering every request with
/// the same page, as a misconfigured proxy does) is reported with what it answered, not as a
/// digest mismatch. (A double: a loopback server whose only job is to be the wrong server.)
#[tokio::test]
async fn an_address_that_is_no_registry_is_named_with_what_it_answered() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let page = "<html><body><h1>Welcome to nginx!</h1></body></html>";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    let client = RegistryClient::plain_http(&[&host]).unwrap();
    let repo: Repository = format!("{host}/seed").parse().unwrap();
    let digest = ImageContent::synthetic("img").manifest().digest();

    let err = client.pull_manifest(&repo, &digest).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, OciError::Invalid { .. }), "{err:?}");
    for expected in [
        "answered HTTP 200 with 52 bytes of text/html, not an image manifest or index",
        "Welcome to nginx!",
        &format!("is {host} a registry?"),
    ] {
        assert!(message.contains(expected), "{expected}: {message}");
    }
    let err = client
        .pull_tag(&repo, &"v1".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Welcome to nginx!"), "{err}");
}
