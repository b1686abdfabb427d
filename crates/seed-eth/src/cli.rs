//! The command-line grammar. Each subcommand's arguments live next to the
//! subcommand's name, so `seed-eth <command> --help` documents everything.

use std::path::PathBuf;

use alloy::primitives::Address;
use clap::{ArgGroup, Args, Parser, Subcommand};

/// Release trust for reproducible Nix builds: builders attest bit-identical
/// outputs on Ethereum, contracts enforce a k-of-n quorum, anyone verifies.
#[derive(Debug, Parser)]
#[command(name = "seed-eth", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print one JSON document on stdout instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Append the result's fields as `name=value` lines to FILE, for the CI job around this
    /// command (`$GITHUB_OUTPUT`, a GitLab dotenv report); see docs/ci.md.
    #[arg(long, global = true, value_name = "FILE", env = "SEED_ETH_CI_OUTPUT")]
    pub ci_output: Option<PathBuf>,

    /// Append the result as a Markdown section to FILE (`$GITHUB_STEP_SUMMARY`).
    #[arg(long, global = true, value_name = "FILE", env = "SEED_ETH_CI_SUMMARY")]
    pub ci_summary: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute a release root offline from each system's closure-manifest digest.
    ///
    /// The result is what the ledger stores for a release with exactly these
    /// systems and digests; systems may be given in any order.
    Root(RootArgs),

    /// Compute a closure manifest and print its digest.
    ///
    /// From a store path, Nix's own records are used (`nix path-info`); from
    /// an unpacked tree or a seed image (a squashfs file, an OCI layout, an
    /// image in a registry), every store path is NAR-hashed without Nix,
    /// mounting or root. All give the same bytes for the same closure.
    Manifest(ManifestArgs),

    /// Build seed images from a closure.
    Seed(SeedArgs),

    /// Deploy Safe, timelock, ledger and registry, check the wiring, and write the deployment file.
    ///
    /// The same deployment, from the same account, as `script/Deploy.s.sol`. The key comes
    /// from SEED_ETH_PRIVATE_KEY or --keystore, never from a flag. Without configuration the
    /// local defaults of script/DeployConfig.sol apply, and only on chain 31337 (anvil).
    Deploy(DeployArgs),

    /// Show where a release stands: votes per required system, disagreements, missing
    /// builders, threshold and quorum, and whether the ledger has it.
    ///
    /// Exits 0 when the release is finalised and 1 when it is not (yet).
    Status(StatusArgs),

    /// Attest a reproducible build: sign an in-toto statement, attach it to the image as an OCI
    /// referrer, and vote `attest(commit, system, manifest, image, statement)` on-chain.
    ///
    /// Idempotent: when this builder already voted this manifest digest nothing is sent and the
    /// exit code is 0; an earlier vote for another digest is exit 1 naming both. With
    /// --sign-only the vote is signed (EIP-712) and written for `seed-eth relay` instead.
    ///
    /// With --posture credulous the statement is signed with a managed P-256 key, logged in
    /// Rekor and attached to the image as a Sigstore bundle; the same idempotency holds, and a
    /// log that stays down is exit 3 with nothing published.
    Attest(Box<AttestArgs>),

    /// Submit signed votes (from `attest --sign-only`) in one transaction.
    ///
    /// Every file is checked before anything is sent: signature, deadline, chain id, registry
    /// and an active signer; duplicates and votes already counted are dropped. When the votes
    /// give every required system its quorum they finalise the release in one `finalise` call,
    /// else they go in one `attestBatch`.
    Relay(RelayArgs),

    /// Prove on chain that a builder signed two manifest digests for one release and system.
    ///
    /// Takes two signed-vote files (from `attest --sign-only`) by one key; from then on none of
    /// that builder's votes counts toward the release. Anyone may send it.
    ReportEquivocation(EquivocationArgs),

    /// Verify a release against on-chain state: the ledger entry, the root recomputed from the
    /// registry's events, the quorum, your digests, and (--statements) every signed statement.
    ///
    /// Select the release with --commit (optionally one --system and its --manifest), a
    /// .seed.lock (--lock) or an image reference (--image). Exits 0 only when everything
    /// verified, 1 when a check failed (the reason is printed), 2 on bad input, 3 when the
    /// chain or the registry could not be asked.
    ///
    /// With --posture credulous there is no chain: the release's Sigstore bundles are read from
    /// the referrers of its images (--image per system, or --lock), each verified offline
    /// against the trust root, and distinct builders of the --policy counted per system.
    Verify(Box<VerifyArgs>),

    /// Write a .seed.lock (v1) for a finalised release: each system's finalised closure
    /// manifest and the image the keeper promotes, pinned by digest in --repository.
    ///
    /// The release is verified first (as `seed-eth verify --commit`) and each image is read from
    /// the registry by its digest; nothing is written unless both hold. Exits 0 when written, 1
    /// when the release does not verify or an image is missing, 2 on bad input, 3 when the chain
    /// or the registry could not be asked.
    Lock(LockArgs),

    /// Governance through the Safe and the timelock: propose, show, sign, submit, execute,
    /// cancel and list rule changes and upgrades (docs/governance.md, docs/runbooks.md).
    ///
    /// Exit codes: 0 done; 1 a check said not yet (missing signatures, an operation still
    /// waiting, an inconsistent proposal file); 2 bad input or a refused proposal (non-owner,
    /// wrong nonce, DELEGATECALL, incompatible storage layout); 3 the chain could not be asked.
    Gov(crate::commands::gov::GovArgs),

    /// Promote finalised releases: follow the ledger at chain finality and copy each system's
    /// attested image, bit-exact, to the release tags, with a verdict referrer.
    ///
    /// Runs as a service (`/healthz`, `/metrics` with --metrics-addr; stops on SIGTERM or
    /// SIGINT) or, with --once, catches up and exits: 0 when everything final is promoted, 1
    /// when some promotion is still failing (named), 2 on bad configuration, 3 when the chain
    /// could not be read. Progress is kept in --state; restarts resume there.
    Keeper(Box<KeeperArgs>),

    /// Sigstore bundles (the Credulous posture).
    Bundle(BundleArgs),

    /// Witness transparency logs: detect a split view (a log showing one tree to builders and
    /// another to verifiers) by checking every checkpoint seen against the newest one held,
    /// cosign what verified (C2SP tlog-cosignature/v1), serve the tlog-witness endpoints and
    /// gossip with peer witnesses.
    Witness(WitnessArgs),

    /// Onboard a builder: make its signing key (an encrypted keystore) or take its address,
    /// and write the governance proposal that registers it, for the Safe's owners to review
    /// with `seed-eth gov show`.
    Builder(crate::commands::builder::BuilderArgs),

    /// Print the shell completion script for seed-eth (bash, zsh, fish, elvish, powershell).
    ///
    /// For example `seed-eth completions bash > /etc/bash_completion.d/seed-eth`. Generated from
    /// the same definitions that parse the command line, so it cannot drift from them.
    Completions(CompletionsArgs),

    /// Write the man pages of seed-eth and of every subcommand (section 1) into a directory.
    Man(ManArgs),
}

/// Arguments of `seed-eth completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `seed-eth man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write `seed-eth.1`, `seed-eth-verify.1`, … into (created if missing;
    /// each page written atomically).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// Arguments of `seed-eth witness`.
#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: WitnessCommand,
}

/// `seed-eth witness` subcommands.
#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Follow the configured logs and gossip with the configured peers.
    ///
    /// Runs as a service (tlog-witness `POST /add-checkpoint`, `GET /<origin hash>/checkpoint`,
    /// `/alarms`, `/healthz`, `/metrics` with --listen; stops on SIGTERM or SIGINT) or, with
    /// --once, makes one pass and exits: 0 when every log and peer was reconciled, 1 when a
    /// split view was detected (each alarm is printed and kept in --state), 2 on bad
    /// configuration, 3 when a log or a peer could not be asked.
    Run(WitnessRunArgs),

    /// Make a witness key: the secret goes to --out (mode 0600, never overwritten), the
    /// verifier key (vkey) for policies and peers is printed.
    Keygen(WitnessKeygenArgs),

    /// List the alarms kept in a witness state file. Exits 0 when there are none, 1 when
    /// there are.
    Alarms(WitnessAlarmsArgs),
}

/// Arguments of `seed-eth witness run`.
#[derive(Debug, Args)]
pub struct WitnessRunArgs {
    /// The witness configuration (docs/configuration.md: logs, peers, key, state).
    #[arg(
        long,
        value_name = "FILE",
        env = "SEED_ETH_WITNESS_CONFIG",
        default_value = "witness.toml"
    )]
    pub config: PathBuf,

    /// The state file (SQLite); overrides the configuration's `state`.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// Serve the endpoints here; overrides the configuration's `listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,

    /// Milliseconds between passes; overrides the configuration's `poll-ms`.
    #[arg(long, value_name = "MS")]
    pub poll_ms: Option<u64>,

    /// One pass, then exit (see the exit codes above).
    #[arg(long)]
    pub once: bool,
}

/// Arguments of `seed-eth witness keygen`.
#[derive(Debug, Args)]
pub struct WitnessKeygenArgs {
    /// The witness's key name, a schema-less URL (e.g. `witness.example.org/w1`).
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// Where to write the secret key.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `seed-eth witness alarms`.
#[derive(Debug, Args)]
pub struct WitnessAlarmsArgs {
    /// The witness state file.
    #[arg(long, value_name = "FILE", default_value = "seed-witness.sqlite")]
    pub state: PathBuf,
}

/// Arguments of `seed-eth bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BundleCommand,
}

/// `seed-eth bundle` subcommands.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Verify one Sigstore bundle offline, as `cosign verify-blob-attestation` does.
    ///
    /// Checks the signature over the artifact, the certificate chain to Fulcio at the signed
    /// time, the SCT, the Rekor inclusion proof against a signed checkpoint (required: a
    /// bundle with only the log's promise is refused), the SET (Rekor v1) or RFC 3161
    /// timestamp (Rekor v2, whose two log indices must agree), then the signer's issuer and
    /// identity, or its managed key (--key). Exits 0 when it verifies, 1 when it does not (the
    /// reason is printed), 2 on bad input.
    Verify(BundleVerifyArgs),
}

/// Arguments of `seed-eth bundle verify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("artifact_source").required(true).args(["digest", "artifact"])))]
#[command(group(ArgGroup::new("signer").required(true).args(["identity", "identity_pattern", "key"])))]
pub struct BundleVerifyArgs {
    /// The bundle (`*.sigstore.json`, v0.1 to v0.3).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,

    /// The artifact's digest, `sha256:<hex>` or `sha512:<hex>` (for an attestation, its
    /// subject's).
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,

    /// The artifact itself.
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,

    /// The signer's certificate identity, exactly (a workflow URI, an email).
    #[arg(long, value_name = "IDENTITY")]
    pub identity: Option<String>,

    /// The signer's certificate identity as a regular expression anchored at both ends (^…$).
    #[arg(long, value_name = "REGEX")]
    pub identity_pattern: Option<String>,

    /// The OIDC issuer that must have vouched for the identity, exactly.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "key",
        conflicts_with = "key"
    )]
    pub issuer: Option<String>,

    /// The managed public key (PEM) the bundle must be signed with, instead of an identity.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// A trusted_root.json to verify against instead of the production Sigstore root shipped
    /// with seed-eth (a private instance, or a newer root).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
}

/// Arguments of `seed-eth root`.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// A system and its closure-manifest digest, e.g. `x86_64-linux=sha256:<hex>`; repeat per system.
    #[arg(long = "leaf", value_name = "SYSTEM=DIGEST", required = true)]
    pub leaves: Vec<String>,
}

/// Arguments of `seed-eth manifest`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["store_path", "tree", "squashfs", "oci_layout", "image"])))]
pub struct ManifestArgs {
    /// A store path (or a symlink to one, such as `./result`) whose closure to list, via Nix.
    #[arg(long, value_name = "PATH")]
    pub store_path: Option<PathBuf>,

    /// An unpacked tree holding store paths, in `DIR/nix/store/` or directly in `DIR`; no Nix needed.
    #[arg(long, value_name = "DIR")]
    pub tree: Option<PathBuf>,

    /// A seed squashfs file (nix-seed's `store.squashfs`), read without mounting; no Nix needed.
    #[arg(long, value_name = "FILE")]
    pub squashfs: Option<PathBuf>,

    /// An image in an OCI layout directory: DIR (its only image), DIR:REF or DIR@sha256:...;
    /// a squashfs seed or tar layers.
    #[arg(long, value_name = "LAYOUT")]
    pub oci_layout: Option<String>,

    /// An image in a registry, pinned by digest (REGISTRY/REPO@sha256:...); pulled and read as
    /// it streams, every blob's digest checked.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat.
    #[arg(long = "plain-http", value_name = "HOST", requires = "image")]
    pub plain_http: Vec<String>,

    /// Also write the manifest to FILE (atomically).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The `nix` program to run for --store-path.
    #[arg(
        long,
        value_name = "PROGRAM",
        env = "SEED_ETH_NIX",
        default_value = "nix"
    )]
    pub nix: PathBuf,
}

/// Arguments of `seed-eth seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SeedCommand,
}

/// `seed-eth seed` subcommands.
#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Build a seed (nix-seed's format: one squashfs of the closure, with `.seed/registration`)
    /// into an OCI layout or a registry, deterministically: the same closure gives the same
    /// image digest on any machine (docs/decisions.md, D-046). Prints the image digest.
    Build(SeedBuildArgs),

    /// Push a seed squashfs built elsewhere (upstream nix-seed's `store.squashfs`) as a seed
    /// image, after reading its closure. Prints the image digest.
    Push(SeedPushArgs),
}

/// Arguments of `seed-eth seed push`.
#[derive(Debug, Args)]
pub struct SeedPushArgs {
    /// The squashfs file.
    #[arg(long, value_name = "FILE")]
    pub squashfs: PathBuf,

    /// The Nix system the seed is for; names the layer's media type.
    #[arg(long, value_name = "SYSTEM")]
    pub system: String,

    /// The repository (REGISTRY/REPO, or REGISTRY/REPO:TAG to tag it too).
    #[arg(long, value_name = "REPO[:TAG]")]
    pub to: String,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,
}

/// Arguments of `seed-eth seed build`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("destination").required(true).multiple(true).args(["oci_layout", "push"])))]
pub struct SeedBuildArgs {
    /// The store path (or a symlink to one, such as `./result`) whose closure the seed holds.
    #[arg(long, value_name = "PATH")]
    pub store_path: PathBuf,

    /// The Nix system the closure is for, e.g. `x86_64-linux`; names the layer's media type.
    #[arg(long, value_name = "SYSTEM")]
    pub system: String,

    /// A store path in the closure that `.seed/env` links to (upstream: the seed's buildEnv).
    #[arg(long, value_name = "PATH")]
    pub env: Option<PathBuf>,

    /// The OCI layout directory to write the image into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub oci_layout: Option<PathBuf>,

    /// The image's name in the layout (`org.opencontainers.image.ref.name`).
    #[arg(long, value_name = "NAME", default_value = "seed")]
    pub tag: String,

    /// Push the image to this repository (REGISTRY/REPO, or REGISTRY/REPO:TAG to tag it too);
    /// the layer is streamed from disk.
    #[arg(long, value_name = "REPO[:TAG]")]
    pub push: Option<String>,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat.
    #[arg(long = "plain-http", value_name = "HOST", requires = "push")]
    pub plain_http: Vec<String>,

    /// Also keep the squashfs at FILE.
    #[arg(long, value_name = "FILE")]
    pub squashfs: Option<PathBuf>,

    /// Every timestamp in the image, in seconds since 1970 [default: 1, the store's mtime].
    /// Deliberately not read from SOURCE_DATE_EPOCH, which `nix develop` sets: builders inside
    /// and outside a dev shell must write the same bytes.
    #[arg(long, value_name = "SECONDS")]
    pub source_date_epoch: Option<u32>,

    /// The `nix` program (`nix-store` is run from the same directory).
    #[arg(
        long,
        value_name = "PROGRAM",
        env = "SEED_ETH_NIX",
        default_value = "nix"
    )]
    pub nix: PathBuf,
}

/// Where the chain and the deployment are; shared by every command that talks to a chain.
/// Flags beat environment variables, which beat `seed-eth.toml` (docs/configuration.md).
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// Configuration file [default: ./seed-eth.toml when it exists].
    #[arg(long, value_name = "FILE", env = "SEED_ETH_CONFIG")]
    pub config: Option<PathBuf>,

    /// JSON-RPC endpoint (http or https). `verify --proofs` and `keeper --proofs` take it
    /// repeatedly: the first answers every question, all of them must agree on the block hash
    /// the proofs are checked against (see --rpc-quorum).
    #[arg(
        long,
        value_name = "URL",
        env = "SEED_ETH_RPC_URL",
        value_delimiter = ','
    )]
    pub rpc_url: Vec<String>,

    /// The chain id the endpoint must serve; a different one is an error.
    #[arg(long, value_name = "ID", env = "SEED_ETH_CHAIN_ID")]
    pub chain_id: Option<u64>,

    /// The deployment file [default: deployments/<chainId>.json].
    #[arg(long, value_name = "FILE", env = "SEED_ETH_DEPLOYMENT")]
    pub deployment: Option<PathBuf>,
}

/// Arguments of `seed-eth deploy`. Lists given through the environment are comma-separated
/// (builders: semicolon-separated).
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Chain and deployment file (the file is written).
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Encrypted keystore holding the deployer key (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,

    /// Replace an existing deployment file.
    #[arg(long)]
    pub force: bool,

    /// Use this existing Safe as proposer, canceller and guardian instead of deploying one.
    #[arg(long, value_name = "ADDRESS", env = "SEED_ETH_SAFE")]
    pub safe: Option<Address>,

    /// An owner of the Safe to deploy; repeat per owner.
    #[arg(
        long = "safe-owner",
        value_name = "ADDRESS",
        env = "SEED_ETH_SAFE_OWNERS",
        value_delimiter = ','
    )]
    pub safe_owners: Vec<Address>,

    /// Signatures the Safe requires.
    #[arg(long, value_name = "N", env = "SEED_ETH_SAFE_THRESHOLD")]
    pub safe_threshold: Option<u64>,

    /// `saltNonce` of the Safe proxy (vary it to deploy a second Safe with the same owners).
    #[arg(long, value_name = "N", env = "SEED_ETH_SAFE_SALT_NONCE")]
    pub safe_salt_nonce: Option<u64>,

    /// Timelock minimum delay in seconds.
    #[arg(long, value_name = "SECONDS", env = "SEED_ETH_TIMELOCK_DELAY")]
    pub timelock_delay: Option<u64>,

    /// A builder as SIGNER,ORGANISATION,JURISDICTION,INFRASTRUCTURE (tags: names, hashed, or 0x ids); repeat per builder.
    #[arg(
        long = "builder",
        value_name = "SPEC",
        env = "SEED_ETH_BUILDERS",
        value_delimiter = ';'
    )]
    pub builders: Vec<String>,

    /// k: agreeing builders per system after genesis (genesis needs every builder).
    #[arg(long, value_name = "K", env = "SEED_ETH_QUORUM")]
    pub quorum: Option<u8>,

    /// A system every release must cover; repeat, in ascending order.
    #[arg(
        long = "system",
        value_name = "SYSTEM",
        env = "SEED_ETH_SYSTEMS",
        value_delimiter = ','
    )]
    pub systems: Vec<String>,

    /// Tags that must differ between builders: 1 organisation + 2 jurisdiction + 4 infrastructure.
    #[arg(long, value_name = "MASK", env = "SEED_ETH_INDEPENDENCE_POLICY")]
    pub independence_policy: Option<u8>,
}

/// `--proofs`: prove what a verification relies on against a block hash, and where that hash
/// comes from (docs/cli.md, "Proofs").
#[derive(Debug, Args)]
pub struct ProofArgs {
    /// Prove every fact the verdict uses against the finalisation block's hash instead of
    /// trusting the endpoint: storage by eth_getProof, logs by the receipts root, headers by hash.
    #[arg(long)]
    pub proofs: bool,

    /// With --proofs: how many of the --rpc-url endpoints must name the same hash for the
    /// finalisation block, each saying it is final; any two that differ fail (exit 3)
    /// [default: every one given].
    #[arg(long, value_name = "K", requires = "proofs")]
    pub rpc_quorum: Option<usize>,

    /// With --proofs: the hash of the finalisation block, or of a later block, from a source you
    /// trust (a light client, another organisation); the endpoints are then not asked for it.
    #[arg(long, value_name = "HASH", requires = "proofs", conflicts_with_all = ["rpc_quorum", "checkpoints"])]
    pub block_hash: Option<String>,

    /// With --proofs: a file of trusted `NUMBER 0xHASH` lines; the nearest block at or after the
    /// finalisation block anchors the proofs.
    #[arg(
        long,
        value_name = "FILE",
        requires = "proofs",
        conflicts_with = "rpc_quorum"
    )]
    pub checkpoints: Option<PathBuf>,

    /// With --proofs: the most headers walked down from the anchor to a block the proofs need.
    #[arg(long, value_name = "N", default_value_t = 10_000, requires = "proofs")]
    pub max_header_walk: u64,
}

/// Where the commands that read events find them: the deployment file's contracts (from
/// `ChainArgs`) or a registry given directly, and the `eth_getLogs` window.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The registry proxy, instead of a deployment file (the ledger is read from it).
    #[arg(long, value_name = "ADDRESS", env = "SEED_ETH_REGISTRY")]
    pub registry: Option<Address>,

    /// With --registry: the first block to scan for events [default: 0].
    #[arg(long, value_name = "BLOCK", env = "SEED_ETH_FROM_BLOCK")]
    pub from_block: Option<u64>,

    /// Blocks per eth_getLogs request (the keeper also commits its state per window) [default: 10000].
    #[arg(long, value_name = "BLOCKS", env = "SEED_ETH_LOG_CHUNK")]
    pub log_chunk: Option<u64>,
}

/// Arguments of `seed-eth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The release: a full git commit id (40 or 64 hex digits).
    #[arg(long, value_name = "COMMIT")]
    pub commit: String,

    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Which contracts, and how their events are read.
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// Which source of truth counts the builders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Posture {
    /// Votes of registered builders on Ethereum, a k-of-n quorum enforced by the contracts.
    #[default]
    Zero,
    /// Statements signed with Sigstore and logged in Rekor, k-of-n counted over a policy's
    /// distinct builders by whoever verifies.
    Credulous,
}

/// `--posture` and the Sigstore trust root it needs.
#[derive(Debug, Args)]
pub struct PostureArgs {
    /// The trust posture: `zero` (Ethereum) or `credulous` (Sigstore and Rekor).
    #[arg(long, value_enum, default_value_t = Posture::Zero)]
    pub posture: Posture,

    /// Credulous: the Sigstore trust root, a trusted_root.json (a private Sigstore, or the
    /// logs of a test) [default: `trusted-root` of [credulous] in seed-eth.toml, else the
    /// production root shipped with seed-eth].
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,

    /// The witness state (SQLite), the file a local `seed-eth witness run` keeps. Credulous:
    /// the release's checkpoints are reconciled in it [default: `witness-state` of
    /// [credulous], else a temporary one], used when the policy names witnesses. Zero: the
    /// finalisation block relied on (chain id, number, hash) is recorded in it for the witness
    /// to compare with other endpoints, and another hash already recorded for it fails.
    #[arg(long, value_name = "FILE")]
    pub witness_state: Option<PathBuf>,
}

/// Arguments of `seed-eth verify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("release").required(true).multiple(true).args(["commit", "lock", "image"])))]
#[command(group(ArgGroup::new("expected").args(["manifest", "squashfs"])))]
pub struct VerifyArgs {
    /// The release: a full git commit id (40 or 64 hex digits).
    #[arg(long, value_name = "COMMIT")]
    pub commit: Option<String>,

    /// With --commit: a system that must have finalised with --manifest, or with the closure
    /// of --squashfs (the whole release is still verified).
    #[arg(long, value_name = "SYSTEM", requires_all = ["expected", "commit"])]
    pub system: Option<String>,

    /// With --system: the closure-manifest digest it must have finalised with.
    #[arg(long, value_name = "DIGEST", requires = "system")]
    pub manifest: Option<String>,

    /// With --system: a local seed squashfs whose closure the system must have finalised,
    /// read without mounting (what a consumer's CI runs before it mounts a seed).
    #[arg(long, value_name = "FILE", requires = "system")]
    pub squashfs: Option<PathBuf>,

    /// A .seed.lock: each system's manifest must be the finalised one, its image attested by a
    /// counted voter and holding that closure.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["image", "system"])]
    pub lock: Option<PathBuf>,

    /// A digest-pinned image reference (REGISTRY/REPO@sha256:...): finds the release a counted
    /// voter attested it in, and checks that the image holds the finalised closure. Credulous:
    /// repeat it, one per system; the release's bundles are read from their referrers.
    #[arg(long, value_name = "REF", conflicts_with = "system")]
    pub image: Vec<String>,

    /// Do not read the images of --image or --lock (weaker: an image a counted voter attested
    /// is accepted whatever it holds).
    #[arg(long)]
    pub no_content: bool,

    /// Also fetch every counted voter's statement by its on-chain digest and verify its signature and content.
    #[arg(long)]
    pub statements: bool,

    /// With --statements: a repository (REGISTRY/REPO) to fetch statements from; repeat for
    /// builders that publish in repositories of their own. Needed with --commit alone.
    #[arg(long, value_name = "REPO", requires = "statements")]
    pub repository: Vec<String>,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat. Replaces
    /// `[oci] plain-http` of seed-eth.toml.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,

    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Which contracts, and how their events are read.
    #[command(flatten)]
    pub scan: ScanArgs,

    /// The posture and the Sigstore trust root.
    #[command(flatten)]
    pub posture: PostureArgs,

    /// Credulous: the policy (builders, their independence, k, systems) [default: `policy` of
    /// the [credulous] table of seed-eth.toml].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Proofs instead of trust in the endpoint.
    #[command(flatten)]
    pub proofs: ProofArgs,
}

/// Arguments of `seed-eth lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The release: a full git commit id (40 or 64 hex digits).
    #[arg(long, value_name = "COMMIT")]
    pub commit: String,

    /// Where consumers pull the images (REGISTRY/REPO, may contain {system}): the keeper's
    /// target [default: `target`, else `source`, of the [keeper] table of seed-eth.toml].
    #[arg(long, value_name = "REPO")]
    pub repository: Option<String>,

    /// The lock file to write (atomically; an existing one is replaced).
    #[arg(long, short, value_name = "FILE", default_value = ".seed.lock")]
    pub output: PathBuf,

    /// The posture (credulous: lock a release verified from its images' bundles) and its trust
    /// root.
    #[command(flatten)]
    pub posture: PostureArgs,

    /// Credulous: the policy, whose digest the lock pins [default: `policy` of [credulous]].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Credulous: the release's images, one per system (REGISTRY/REPO@sha256:...).
    #[arg(long, value_name = "REF")]
    pub image: Vec<String>,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat. Replaces
    /// `[oci] plain-http` of seed-eth.toml.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,

    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Which contracts, and how their events are read.
    #[command(flatten)]
    pub scan: ScanArgs,
}

/// Arguments of `seed-eth attest`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("manifest").args(["manifest_digest", "manifest_file", "store_path", "squashfs"])))]
pub struct AttestArgs {
    /// The built commit (full 40- or 64-hex id) [default: `git rev-parse HEAD` here].
    #[arg(long, value_name = "COMMIT")]
    pub commit: Option<String>,

    /// The Nix system built for [default: this machine's, from Nix or the Rust target].
    #[arg(long, value_name = "SYSTEM")]
    pub system: Option<String>,

    /// The closure-manifest digest, `sha256:<hex>`.
    #[arg(long, value_name = "DIGEST")]
    pub manifest_digest: Option<String>,

    /// A closure-manifest file (as `seed-eth manifest --output` writes it), parsed strictly.
    #[arg(long, value_name = "FILE")]
    pub manifest_file: Option<PathBuf>,

    /// A store path whose closure manifest to compute with Nix.
    #[arg(long, value_name = "PATH")]
    pub store_path: Option<PathBuf>,

    /// A seed squashfs file (the one pushed as the image) whose closure manifest to compute.
    #[arg(long, value_name = "FILE")]
    pub squashfs: Option<PathBuf>,

    /// The built seed image, pinned by digest: `registry/repository@sha256:<hex>`. Its content
    /// is read and must hold the closure attested; with no manifest source, the manifest is
    /// computed from it.
    #[arg(long, value_name = "IMAGE")]
    pub image: String,

    /// Do not read the image (for images seed-eth cannot read, such as Darwin's `.dmg.zst`):
    /// the manifest source alone is attested, and nothing binds the image to it. Weaker.
    #[arg(long)]
    pub no_content_check: bool,

    /// The flake.lock whose bytes the statement binds [default: ./flake.lock].
    #[arg(long, value_name = "FILE")]
    pub flake_lock: Option<PathBuf>,

    /// The CI run id [default: from GITHUB_RUN_ID, CI_JOB_ID, BUILD_ID, BUILDKITE_BUILD_ID, CIRCLE_WORKFLOW_ID].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,

    /// The source repository URI [default: `git remote get-url origin`].
    #[arg(long, value_name = "URI")]
    pub repository: Option<String>,

    /// `nix show-config` output to record instead of running Nix.
    #[arg(long, value_name = "FILE")]
    pub nix_config: Option<PathBuf>,

    /// The `nix` program (for --store-path, the system and the configuration).
    #[arg(
        long,
        value_name = "PROGRAM",
        env = "SEED_ETH_NIX",
        default_value = "nix"
    )]
    pub nix: PathBuf,

    /// Do not attach the statement to the image (it is still signed and its digest voted).
    #[arg(long)]
    pub no_push: bool,

    /// Talk plain HTTP to this registry host (`HOST[:PORT]`, repeatable; local registries only). Replaces
    /// `[oci] plain-http` of seed-eth.toml.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,

    /// Also write the signed statement envelope to FILE.
    #[arg(long, value_name = "FILE")]
    pub statement_out: Option<PathBuf>,

    /// Write the signed vote to FILE for `seed-eth relay` instead of sending it (envelope next to it, `.dsse.json`).
    #[arg(long, value_name = "FILE")]
    pub sign_only: Option<PathBuf>,

    /// With --sign-only: how long the signed vote stays valid, in seconds (at least 1).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400, value_parser = positive_seconds)]
    pub valid_for: u64,

    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// The registry proxy, instead of a deployment file.
    #[arg(long, value_name = "ADDRESS", env = "SEED_ETH_REGISTRY")]
    pub registry: Option<Address>,

    /// Encrypted keystore holding the builder key (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,

    /// The posture and the Sigstore trust root the bundle is checked against before it is
    /// attached.
    #[command(flatten)]
    pub posture: PostureArgs,

    /// Credulous: the builder's managed P-256 signing key, an unencrypted PKCS#8 PEM file
    /// [default: `signing-key` of [credulous] in seed-eth.toml; without one, keyless signing].
    #[arg(
        long,
        value_name = "FILE",
        env = "SEED_ETH_SIGNING_KEY",
        conflicts_with = "identity_token"
    )]
    pub signing_key: Option<PathBuf>,

    /// Credulous, keyless: a file holding the OIDC identity token Fulcio certifies a fresh key
    /// for [default: SIGSTORE_ID_TOKEN, else the CI provider's ambient token (GitHub Actions
    /// with `id-token: write`)].
    #[arg(long, value_name = "FILE")]
    pub identity_token: Option<PathBuf>,

    /// Credulous, keyless: the Fulcio CA [default: `fulcio-url` of [credulous], else
    /// https://fulcio.sigstore.dev].
    #[arg(long, value_name = "URL")]
    pub fulcio_url: Option<String>,

    /// Credulous: a Rekor v1 log to write to; repeat it to log in several (a policy may want each
    /// attestation in K of L logs) [default: `rekor-urls` of [credulous] in seed-eth.toml, else
    /// https://rekor.sigstore.dev].
    #[arg(long, value_name = "URL")]
    pub rekor_url: Vec<String>,

    /// Credulous: a Rekor v2 (tile-based) log to write to; repeatable. Needs --tsa-url (a v2 log
    /// gives no SET) [default: `rekor-v2-urls` of [credulous]].
    #[arg(long, value_name = "URL")]
    pub rekor_v2_url: Vec<String>,

    /// Credulous: requests to the log before giving up with exit 3 (waits of 1, 2, 4... s
    /// between them).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rekor_attempts: u32,

    /// Credulous: an RFC 3161 timestamp authority to stamp the signature with (e.g.
    /// https://timestamp.sigstore.dev/api/v1/timestamp) [default: `tsa-url` of [credulous];
    /// none].
    #[arg(long, value_name = "URL")]
    pub tsa_url: Option<String>,

    /// Credulous: this builder's witness configuration (the file `seed-eth witness run` reads);
    /// each new log entry's checkpoint must be consistent with what that witness holds, else
    /// exit 1 and nothing is published [default: `witness-config` of [credulous]].
    #[arg(long, value_name = "FILE")]
    pub witness_config: Option<PathBuf>,

    /// Credulous: also write the Sigstore bundle to FILE.
    #[arg(long, value_name = "FILE")]
    pub bundle_out: Option<PathBuf>,
}

/// Arguments of `seed-eth relay`.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Signed-vote files written by `seed-eth attest --sign-only`.
    #[arg(value_name = "FILE", required_unless_present = "image")]
    pub files: Vec<PathBuf>,

    /// Also relay the signed votes `attest --sign-only` attached to this image
    /// (REGISTRY/REPO@sha256:...); repeat, e.g. one per system. Votes found there that this
    /// deployment cannot count (another chain or registry, expired, not a builder's) are skipped
    /// with the reason; a FILE like that is refused.
    #[arg(long, value_name = "REF")]
    pub image: Vec<String>,

    /// A registry (HOST[:PORT]) spoken to over plain HTTP (local registries only); repeat. Replaces
    /// `[oci] plain-http` of seed-eth.toml.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,

    /// The chain, the registry and the key that pays.
    #[command(flatten)]
    pub relayer: RelayerArgs,
}

/// Where a relayer sends, and the key that pays: shared by `relay` and `report-equivocation`.
#[derive(Debug, Args)]
pub struct RelayerArgs {
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// The registry proxy, instead of a deployment file.
    #[arg(long, value_name = "ADDRESS", env = "SEED_ETH_REGISTRY")]
    pub registry: Option<Address>,

    /// Encrypted keystore holding the relayer key, which pays (password: SEED_ETH_KEYSTORE_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub keystore: Option<PathBuf>,
}

/// Arguments of `seed-eth report-equivocation`.
#[derive(Debug, Args)]
pub struct EquivocationArgs {
    /// One signed-vote file.
    #[arg(value_name = "FIRST")]
    pub first: PathBuf,

    /// A vote by the same key on the same commit and system, for another manifest digest.
    #[arg(value_name = "SECOND")]
    pub second: PathBuf,

    /// The chain, the registry and the key that pays.
    #[command(flatten)]
    pub relayer: RelayerArgs,
}

/// Arguments of `seed-eth keeper`.
#[derive(Debug, Args)]
pub struct KeeperArgs {
    /// Chain and deployment file.
    #[command(flatten)]
    pub chain: ChainArgs,

    /// Which contracts, and how their events are read.
    #[command(flatten)]
    pub scan: ScanArgs,

    /// The repository builders push images to (REGISTRY/REPO; may contain {system}); required
    /// here or as `source` in `[keeper]` of seed-eth.toml.
    #[arg(long, value_name = "REPO", env = "SEED_ETH_KEEPER_SOURCE")]
    pub source: Option<String>,

    /// The repository to promote to, on the same registry (may contain {system}) [default: --source].
    #[arg(long, value_name = "REPO", env = "SEED_ETH_KEEPER_TARGET")]
    pub target: Option<String>,

    /// A tag template ({commit}, {system}); repeat. Tags with {commit} are permanent, the others move with each release
    /// [default: {commit}-{system}, release-{system}].
    #[arg(
        long = "tag",
        value_name = "TEMPLATE",
        env = "SEED_ETH_KEEPER_TAGS",
        value_delimiter = ','
    )]
    pub tags: Vec<String>,

    /// Treat `latest - N` as final instead of the node's `finalized` block: for nodes without one, or whose `finalized` block is no real finality (Hardhat's node answers its latest block; the keeper warns) [default: the `finalized` tag; anvil's lags its head by 64 blocks].
    #[arg(long, value_name = "N", env = "SEED_ETH_KEEPER_CONFIRMATIONS")]
    pub confirmations: Option<u64>,

    /// The SQLite state file (cursor and promotion progress) [default: seed-eth-keeper.sqlite].
    #[arg(long, value_name = "FILE", env = "SEED_ETH_KEEPER_STATE")]
    pub state: Option<PathBuf>,

    /// Catch up to the final block, attempt every pending promotion, and exit.
    #[arg(long)]
    pub once: bool,

    /// How often to look for new final blocks, in milliseconds [default: 2000].
    #[arg(long, value_name = "MS", env = "SEED_ETH_KEEPER_POLL_MS")]
    pub poll_ms: Option<u64>,

    /// First retry delay of a failed promotion or pass, in milliseconds (doubles per attempt).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub retry_base_ms: u64,

    /// Longest retry delay, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 300_000)]
    pub retry_max_ms: u64,

    /// Promotions run at the same time.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,

    /// Also run `seed-eth verify`'s checks on each release before promoting it (reads state at each
    /// finalisation block: releases older than the node's state window need an archive endpoint).
    #[arg(long)]
    pub verify: bool,

    /// Promote this system's images without reading their content (repeatable): only for seed
    /// formats seed-eth cannot read, such as Darwin's `.dmg.zst`. Weaker: the image is bound to
    /// the release by the votes alone; its verdict says `contentUnchecked`.
    #[arg(long = "no-content-check", value_name = "SYSTEM")]
    pub no_content_check: Vec<String>,

    /// Longest a service pass may take before it is abandoned and retried, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 600_000)]
    pub pass_timeout_ms: u64,

    /// Serve /healthz and /metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR", env = "SEED_ETH_KEEPER_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Talk plain HTTP to this registry host (HOST[:PORT], repeatable; local registries only). Replaces
    /// `[oci] plain-http` of seed-eth.toml.
    #[arg(long = "plain-http", value_name = "HOST")]
    pub plain_http: Vec<String>,

    /// The posture (credulous: be the release node of a Credulous policy) and its trust root.
    #[command(flatten)]
    pub posture: PostureArgs,

    /// Credulous: the policy [default: `policy` of [credulous] in seed-eth.toml].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Credulous: the releases to follow, a TOML file of `[[release]]` tables (`commit`, `images`),
    /// oldest first, re-read on every pass [default: `follow` of [credulous] in seed-eth.toml].
    #[arg(long, value_name = "FILE")]
    pub follow: Option<PathBuf>,

    /// Credulous: seconds a release may take to reach a verified quorum after the keeper first
    /// sees it; later it is expired and never promoted [default: `deadline-s` of [credulous],
    /// else 1800].
    #[arg(long, value_name = "SECONDS")]
    pub deadline_s: Option<u64>,

    /// Zero: prove what each verification relies on (implies --verify).
    #[command(flatten)]
    pub proofs: ProofArgs,
}

/// A validity period: a whole number of seconds, at least 1 (a vote valid for
/// 0 seconds expires as it is written, and the registry refuses it).
fn positive_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 seconds: the vote would already have expired when a relayer sends it; give at least 1 (the default is 86400, a day)".to_owned()),
        Ok(seconds) => Ok(seconds),
        Err(e) => Err(format!("not a whole number of seconds: {e}")),
    }
}
