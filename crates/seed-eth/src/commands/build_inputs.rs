//! What `seed-eth attest` learns about the build from its surroundings: the
//! commit and the origin remote from git, the system and the substituter
//! settings from Nix, the CI run id from the CI's environment, the manifest
//! from the image's content, checked against a flag, a file, a seed file or
//! Nix when one is given. Failures here are usage errors (exit 2: the build's
//! inputs are wrong or missing, retrying will not help), except an image that
//! does not hold the claimed closure (exit 1) and a registry that cannot be
//! reached (exit 3).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use eyre::{eyre, WrapErr};
use seed_chain::ConfigFile;
use seed_core::{CommitId, Sha256Digest, System};
use seed_nix::{ClosureManifest, ImageRef, Nix};
use seed_statement::{
    Builder, NixSettings, Predicate, RepositoryUri, RunId, Source as StatementSource, Statement,
    Timestamp,
};

use super::content::{closure_of, Source};
use crate::{cli::AttestArgs, exit::ExitCode, output::Failure};

/// CI variables naming the current run, in the order they are tried.
pub const RUN_ID_VARIABLES: &[&str] = &[
    "GITHUB_RUN_ID",
    "CI_JOB_ID",
    "BUILD_ID",
    "BUILDKITE_BUILD_ID",
    "CIRCLE_WORKFLOW_ID",
];

/// Everything about the build, checked.
#[derive(Debug, Clone)]
pub struct BuildInputs {
    /// The built commit.
    pub commit: CommitId,
    /// The system built for.
    pub system: System,
    /// The closure-manifest digest.
    pub manifest: Sha256Digest,
    /// The image, pinned by digest.
    pub image: ImageRef,
    /// SHA-256 of flake.lock's bytes.
    pub flake_lock: Sha256Digest,
    /// The CI run.
    pub run_id: RunId,
    /// The source repository.
    pub repository: RepositoryUri,
    /// Nix's settings.
    pub nix: NixSettings,
}

impl BuildInputs {
    /// The in-toto statement of this build, naming `builder` (a registered
    /// address under Zero, a Sigstore signer under Credulous), finished now.
    pub fn statement(&self, builder: Builder) -> Result<Statement, Failure> {
        Statement::new(Predicate {
            source: StatementSource {
                repository: self.repository.clone(),
                commit: self.commit,
                flake_lock: self.flake_lock,
            },
            system: self.system.clone(),
            closure_manifest: self.manifest,
            image: self.image.clone(),
            builder,
            run_id: self.run_id.clone(),
            nix: self.nix.clone(),
            build_time: Timestamp::now(),
        })
        .map_err(Failure::usage)
    }
}

/// Gathers and checks every input; `env` looks up environment variables (injected for tests).
/// Unless `--no-content-check`, the image is read (through `file`'s registry settings) and
/// must hold the closure of the manifest source.
pub fn gather(
    args: &AttestArgs,
    env: impl Fn(&str) -> Option<String>,
    file: &ConfigFile,
) -> Result<BuildInputs, Failure> {
    let nix = Nix::new(&args.nix);
    let commit = match &args.commit {
        Some(text) => text.parse().wrap_err("--commit").map_err(Failure::usage)?,
        None => git_head()?,
    };
    let system = match &args.system {
        Some(text) => text.parse().wrap_err("--system").map_err(Failure::usage)?,
        None => local_system(&args.nix)?,
    };
    let image: ImageRef = args
        .image
        .parse()
        .wrap_err("--image")
        .map_err(Failure::usage)?;
    let claimed = claimed_manifest(args, &nix)?;
    let manifest = if args.no_content_check {
        claimed.map(|c| c.digest()).ok_or_else(|| {
            Failure::usage(eyre!(
                "--no-content-check needs the manifest from elsewhere: give --manifest-digest, \
                 --manifest-file, --store-path or --squashfs"
            ))
        })?
    } else {
        bind_image(&image, claimed, args, file)?
    };
    Ok(BuildInputs {
        commit,
        system,
        manifest,
        image,
        flake_lock: flake_lock_digest(args.flake_lock.as_deref())?,
        run_id: run_id(args.run_id.as_deref(), &env)?,
        repository: repository(args.repository.as_deref())?,
        nix: nix_settings(args.nix_config.as_deref(), &args.nix)?,
    })
}

/// Runs `program args` and returns its trimmed stdout, or says what failed and how to avoid it.
fn capture(program: &Path, args: &[&str], avoid: &str) -> Result<String, Failure> {
    let shown = format!("{} {}", program.display(), args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Failure::usage(eyre!("cannot run `{shown}` ({e}); {avoid}")))?;
    if !output.status.success() {
        return Err(Failure::usage(eyre!(
            "`{shown}` failed ({}): {}; {avoid}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn git_head() -> Result<CommitId, Failure> {
    let head = capture(
        Path::new("git"),
        &["rev-parse", "HEAD"],
        "run inside the built checkout or give --commit",
    )?;
    head.parse()
        .wrap_err("the commit from `git rev-parse HEAD`")
        .map_err(Failure::usage)
}

fn repository(flag: Option<&str>) -> Result<RepositoryUri, Failure> {
    let text = match flag {
        Some(text) => text.to_owned(),
        None => capture(
            Path::new("git"),
            &["remote", "get-url", "origin"],
            "give --repository URI",
        )?,
    };
    text.parse()
        .wrap_err("the source repository (--repository or the origin remote)")
        .map_err(Failure::usage)
}

/// This machine's Nix system: Nix's own answer, else the Rust target's arch and OS.
fn local_system(nix: &Path) -> Result<System, Failure> {
    let from_nix = capture(
        nix,
        &[
            "--extra-experimental-features",
            "nix-command",
            "eval",
            "--impure",
            "--raw",
            "--expr",
            "builtins.currentSystem",
        ],
        "",
    );
    let text = from_nix.unwrap_or_else(|_| {
        let os = match std::env::consts::OS {
            "macos" => "darwin",
            other => other,
        };
        format!("{}-{os}", std::env::consts::ARCH)
    });
    text.parse()
        .wrap_err("this machine's system; give --system")
        .map_err(Failure::usage)
}

/// The manifest the builder says the image holds, from the manifest source given.
enum Claimed {
    /// Only its digest (`--manifest-digest`).
    Digest(Sha256Digest),
    /// The whole manifest, and where it came from.
    Manifest(ClosureManifest, String),
}

impl Claimed {
    fn digest(&self) -> Sha256Digest {
        match self {
            Self::Digest(digest) => *digest,
            Self::Manifest(manifest, _) => manifest.digest(),
        }
    }
}

fn claimed_manifest(args: &AttestArgs, nix: &Nix) -> Result<Option<Claimed>, Failure> {
    if let Some(text) = &args.manifest_digest {
        let digest = text
            .parse()
            .wrap_err("--manifest-digest")
            .map_err(Failure::usage)?;
        return Ok(Some(Claimed::Digest(digest)));
    }
    if let Some(path) = &args.manifest_file {
        let bytes = std::fs::read(path)
            .wrap_err_with(|| format!("cannot read the manifest file {}", path.display()))
            .map_err(Failure::usage)?;
        let manifest = ClosureManifest::parse(&bytes)
            .wrap_err_with(|| format!("manifest file {}", path.display()))
            .map_err(Failure::usage)?;
        return Ok(Some(Claimed::Manifest(
            manifest,
            format!("--manifest-file {}", path.display()),
        )));
    }
    if let Some(path) = &args.store_path {
        let manifest = nix.closure_manifest(path).map_err(Failure::usage)?;
        return Ok(Some(Claimed::Manifest(
            manifest,
            format!("--store-path {}", path.display()),
        )));
    }
    if let Some(path) = &args.squashfs {
        let closure = closure_of(
            &Source::Squashfs(path),
            &[],
            &ConfigFile::default(),
            ExitCode::Usage,
        )?;
        return Ok(Some(Claimed::Manifest(
            closure.manifest,
            format!("--squashfs {}", path.display()),
        )));
    }
    Ok(None)
}

/// Reads the image and returns the manifest it holds, refusing (exit 1) an
/// image that does not hold the claimed closure, before anything is signed.
fn bind_image(
    image: &ImageRef,
    claimed: Option<Claimed>,
    args: &AttestArgs,
    file: &ConfigFile,
) -> Result<Sha256Digest, Failure> {
    let held = closure_of(&Source::Registry(image), &args.plain_http, file, ExitCode::Usage)
        .map_err(|mut failure| {
            if failure.code == ExitCode::Usage {
                failure.error = failure.error.wrap_err(
                    "reading the image's closure (an image seed-eth cannot read can be attested \
                     with --no-content-check and a manifest source, which binds nothing to the image)",
                );
            }
            failure
        })?
        .manifest;
    let Some(claimed) = claimed else {
        return Ok(held.digest());
    };
    if claimed.digest() == held.digest() {
        return Ok(held.digest());
    }
    let (source, differences) = match &claimed {
        Claimed::Digest(_) => ("--manifest-digest".to_owned(), Vec::new()),
        Claimed::Manifest(manifest, source) => (source.clone(), held.differences(manifest)),
    };
    let mut message = format!(
        "the image {image} holds the closure manifest {}, not {} from {source}; nothing was \
         signed, pushed or sent",
        held.digest(),
        claimed.digest()
    );
    for line in differences.iter().take(5) {
        message.push_str("\n  ");
        message.push_str(line);
    }
    if differences.len() > 5 {
        message.push_str(&format!("\n  … and {} more", differences.len() - 5));
    }
    Err(Failure::check_failed(eyre!(message)))
}

fn flake_lock_digest(flag: Option<&Path>) -> Result<Sha256Digest, Failure> {
    let path = flag.map_or_else(|| PathBuf::from("flake.lock"), Path::to_path_buf);
    let bytes = std::fs::read(&path).map_err(|e| {
        Failure::usage(eyre!(
            "cannot read {} ({e}); run in the flake's directory or give --flake-lock FILE",
            path.display()
        ))
    })?;
    Ok(seed_oci::manifest::sha256(&bytes))
}

fn run_id(flag: Option<&str>, env: &impl Fn(&str) -> Option<String>) -> Result<RunId, Failure> {
    let text = flag.map(str::to_owned).or_else(|| {
        RUN_ID_VARIABLES
            .iter()
            .find_map(|name| env(name).filter(|v| !v.is_empty()))
    });
    let text = text.ok_or_else(|| {
        Failure::usage(eyre!(
            "no CI run id: none of {} is set; give --run-id ID",
            RUN_ID_VARIABLES.join(", ")
        ))
    })?;
    text.parse()
        .wrap_err("the CI run id")
        .map_err(Failure::usage)
}

fn nix_settings(file: Option<&Path>, nix: &Path) -> Result<NixSettings, Failure> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .wrap_err_with(|| format!("cannot read --nix-config {}", path.display()))
            .map_err(Failure::usage)?,
        None => capture(
            nix,
            &[
                "--extra-experimental-features",
                "nix-command",
                "show-config",
            ],
            "install Nix or give --nix-config FILE (the output of `nix show-config`)",
        )?,
    };
    NixSettings::from_show_config(&text)
        .wrap_err("the Nix configuration")
        .map_err(Failure::usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_id_comes_from_the_first_ci_variable_set() {
        let env = |name: &str| (name == "CI_JOB_ID").then(|| "42".to_owned());
        assert_eq!(run_id(None, &env).unwrap().to_string(), "42");
        assert_eq!(run_id(Some("7"), &env).unwrap().to_string(), "7");
        let error = run_id(None, &|_: &str| None).unwrap_err();
        assert!(error.error.to_string().contains("GITHUB_RUN_ID"));
    }
}
