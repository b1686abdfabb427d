//! Signing keys for deployers and builders: from the environment or an
//! encrypted keystore, never from a command-line flag (flags end up in shell
//! history, process listings and CI logs).

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;

use crate::error::{ChainError, Result};

/// The environment variable holding a raw private key.
pub const PRIVATE_KEY_ENV: &str = "SEED_ETH_PRIVATE_KEY";
/// The environment variable naming a keystore file.
pub const KEYSTORE_ENV: &str = "SEED_ETH_KEYSTORE";
/// The environment variable holding the keystore password.
pub const KEYSTORE_PASSWORD_ENV: &str = "SEED_ETH_KEYSTORE_PASSWORD";

/// Where a key is configured, in order of precedence.
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    /// `--keystore FILE` (a flag).
    pub keystore_flag: Option<PathBuf>,
    /// `keystore` in the configuration file (already resolved against the file's directory).
    pub keystore_file: Option<PathBuf>,
}

/// How the password of a keystore is obtained when the environment does not give it.
pub trait PasswordPrompt {
    /// Asks for the password of `keystore`.
    fn password(&self, keystore: &Path) -> std::io::Result<String>;
}

/// Prompts on the terminal without echo.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalPrompt;

impl PasswordPrompt for TerminalPrompt {
    fn password(&self, keystore: &Path) -> std::io::Result<String> {
        rpassword::prompt_password(format!("Password for keystore {}: ", keystore.display()))
    }
}

/// Loads the signing key.
///
/// Precedence: `--keystore` beats the environment (`SEED_ETH_PRIVATE_KEY` or
/// `SEED_ETH_KEYSTORE`, which must not both be set), which beats `keystore` in the
/// configuration file. `env` looks up environment variables (injected for tests).
pub fn load_signer(
    sources: &KeySources,
    env: impl Fn(&str) -> Option<String>,
    prompt: &dyn PasswordPrompt,
) -> Result<PrivateKeySigner> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(path) = &sources.keystore_flag {
        return decrypt(path, &env, prompt);
    }
    match (non_empty(PRIVATE_KEY_ENV), non_empty(KEYSTORE_ENV)) {
        (Some(_), Some(_)) => Err(ChainError::Config(format!(
            "both {PRIVATE_KEY_ENV} and {KEYSTORE_ENV} are set; unset one so it is clear which key signs"
        ))),
        (Some(key), None) => parse_private_key(&key),
        (None, Some(path)) => decrypt(Path::new(&path), &env, prompt),
        (None, None) => match &sources.keystore_file {
            Some(path) => decrypt(path, &env, prompt),
            None => Err(ChainError::NoKey),
        },
    }
}

/// Makes a new signing key and writes it, encrypted (Web3 Secret Storage, scrypt), to
/// `dir/<address>.json`; returns the signer and the file. The password comes from
/// `SEED_ETH_KEYSTORE_PASSWORD`, else from `prompt`, asked twice; it must not be empty. The file
/// appears whole or not at all: it is written into a fresh directory beside it and renamed.
pub fn new_keystore(
    dir: &Path,
    env: impl Fn(&str) -> Option<String>,
    prompt: &dyn PasswordPrompt,
) -> Result<(PrivateKeySigner, PathBuf)> {
    let keystore_error = |path: &Path, reason: String| ChainError::Keystore {
        path: path.to_path_buf(),
        reason,
    };
    let password = match env(KEYSTORE_PASSWORD_ENV) {
        Some(password) => password,
        None => {
            let ask = |what: &str| {
                prompt.password(&dir.join(what)).map_err(|e| {
                    keystore_error(
                        dir,
                        format!("cannot prompt for a password ({e}); set {KEYSTORE_PASSWORD_ENV}"),
                    )
                })
            };
            let first = ask("new key")?;
            if ask("new key (again)")? != first {
                return Err(keystore_error(dir, "the two passwords differ".to_owned()));
            }
            first
        }
    };
    if password.is_empty() {
        return Err(keystore_error(
            dir,
            format!("an empty password would leave the key unprotected; set {KEYSTORE_PASSWORD_ENV} or answer the prompt"),
        ));
    }
    seed_fs::create_dir_all(dir).map_err(|e| keystore_error(dir, e.to_string()))?;
    let staging = tempfile::Builder::new()
        .prefix(".new-key-")
        .tempdir_in(dir)
        .map_err(|e| keystore_error(dir, e.to_string()))?;
    let (signer, _) = PrivateKeySigner::new_keystore(
        staging.path(),
        &mut rand::thread_rng(),
        password,
        Some("key.json"),
    )
    .map_err(|e| keystore_error(dir, e.to_string()))?;
    let path = dir.join(format!("{}.json", signer.address()));
    if path.exists() {
        return Err(keystore_error(&path, "already exists".to_owned()));
    }
    std::fs::rename(staging.path().join("key.json"), &path)
        .map_err(|e| keystore_error(&path, e.to_string()))?;
    Ok((signer, path))
}

/// Parses `0x` + 64 hex digits (the prefix is required, so a stray address or digest is not
/// silently taken as a key).
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner> {
    let text = text.trim();
    let hex = text.strip_prefix("0x").ok_or(ChainError::InvalidKey)?;
    if hex.len() != 64 {
        return Err(ChainError::InvalidKey);
    }
    hex.parse::<PrivateKeySigner>()
        .map_err(|_| ChainError::InvalidKey)
}

fn decrypt(
    path: &Path,
    env: &impl Fn(&str) -> Option<String>,
    prompt: &dyn PasswordPrompt,
) -> Result<PrivateKeySigner> {
    let keystore_error = |reason: String| ChainError::Keystore {
        path: path.to_path_buf(),
        reason,
    };
    if !path.is_file() {
        return Err(keystore_error("no such file".to_owned()));
    }
    let password = match env(KEYSTORE_PASSWORD_ENV) {
        Some(password) => password,
        None => prompt.password(path).map_err(|e| {
            keystore_error(format!(
                "cannot prompt for the password ({e}); set {KEYSTORE_PASSWORD_ENV}"
            ))
        })?,
    };
    PrivateKeySigner::decrypt_keystore(path, password).map_err(|e| {
        keystore_error(format!(
            "cannot decrypt it ({e}); check the password ({KEYSTORE_PASSWORD_ENV} or the prompt)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

    struct NoPrompt;
    impl PasswordPrompt for NoPrompt {
        fn password(&self, _: &Path) -> std::io::Result<String> {
            Err(std::io::Error::other("no terminal"))
        }
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn key_from_the_environment() {
        let signer = load_signer(
            &KeySources::default(),
            env_of(&[(PRIVATE_KEY_ENV, KEY)]),
            &NoPrompt,
        )
        .unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
        );
    }

    #[test]
    fn no_key_says_where_to_put_one() {
        let error = load_signer(&KeySources::default(), env_of(&[]), &NoPrompt).unwrap_err();
        assert!(matches!(error, ChainError::NoKey));
        assert!(error.to_string().contains("SEED_ETH_PRIVATE_KEY"));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        for bad in [
            "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
            "0x1234",
            "0xzz",
        ] {
            let error = load_signer(
                &KeySources::default(),
                env_of(&[(PRIVATE_KEY_ENV, bad)]),
                &NoPrompt,
            )
            .unwrap_err();
            assert!(matches!(error, ChainError::InvalidKey), "{bad}");
        }
    }

    #[test]
    fn two_keys_in_the_environment_are_ambiguous() {
        let env = env_of(&[(PRIVATE_KEY_ENV, KEY), (KEYSTORE_ENV, "/nonexistent")]);
        let error = load_signer(&KeySources::default(), env, &NoPrompt).unwrap_err();
        assert!(error.to_string().contains("both"));
    }

    #[test]
    fn keystore_flag_wins_and_a_missing_file_is_named() {
        let sources = KeySources {
            keystore_flag: Some(PathBuf::from("/nonexistent/key.json")),
            keystore_file: None,
        };
        let error =
            load_signer(&sources, env_of(&[(PRIVATE_KEY_ENV, KEY)]), &NoPrompt).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/key.json"),
            "{error}"
        );
    }
}
