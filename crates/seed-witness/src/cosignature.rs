//! tlog-cosignature/v1 (<https://c2sp.org/tlog-cosignature>): a witness's
//! timestamped Ed25519 statement that, as of that time, the checkpoint is
//! the largest consistent tree it has seen of that log.

use std::{fmt, path::Path};

use aws_lc_rs::{
    rand::{SecureRandom, SystemRandom},
    signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519},
};
use base64::{engine::general_purpose::STANDARD, Engine};

use crate::note::{NoteError, NoteSignature, Vkey};

/// The prefix of a witness's secret key file, after Go's `note` package
/// (`PRIVATE+KEY+<name>+<id>+base64(type || seed)`).
const SECRET_PREFIX: &str = "PRIVATE+KEY+";

/// The message a v1 cosignature signs: the header line, the time line and
/// the checkpoint's note text.
pub fn signed_message(checkpoint_text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}").into_bytes()
}

/// The time a cosignature line states, if it is shaped as one.
pub fn time_of(signature: &NoteSignature) -> Option<u64> {
    let time: [u8; 8] = signature.signature.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(time)).filter(|t| *t <= i64::MAX as u64)
}

/// Whether `signature` (timestamp ‖ Ed25519 signature) is `key`'s
/// cosignature of the note text `text`.
pub(crate) fn verifies(key: &[u8; 32], text: &[u8], signature: &[u8]) -> bool {
    let (Ok(text), true) = (std::str::from_utf8(text), signature.len() == 72) else {
        return false;
    };
    let mut time = [0; 8];
    time.copy_from_slice(&signature[..8]);
    let time = u64::from_be_bytes(time);
    time <= i64::MAX as u64
        && UnparsedPublicKey::new(&ED25519, key)
            .verify(&signed_message(text, time), &signature[8..])
            .is_ok()
}

/// A witness's signing key.
pub struct Cosigner {
    vkey: Vkey,
    seed: [u8; 32],
    pair: Ed25519KeyPair,
}

impl fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cosigner")
            .field("vkey", &self.vkey)
            .finish_non_exhaustive()
    }
}

/// Why a witness key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read or written.
    #[error("witness key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a witness key.
    #[error("witness key: {0}")]
    Bad(String),
    /// The key name is not a key name.
    #[error(transparent)]
    Name(#[from] NoteError),
}

impl Cosigner {
    /// A fresh key named `name` (a schema-less URL, e.g. `witness.example/w1`).
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        let mut seed = [0; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| KeyError::Bad("the system random source failed".to_owned()))?;
        Self::from_seed(name, seed)
    }

    /// The key of `seed` named `name`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|e| KeyError::Bad(format!("not an Ed25519 seed: {e}")))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| KeyError::Bad("the public key is not 32 bytes".to_owned()))?;
        Ok(Self {
            vkey: Vkey::cosignature(name, public)?,
            seed,
            pair,
        })
    }

    /// Parses a secret key (`PRIVATE+KEY+<name>+<id>+base64(0x04 || seed)`),
    /// checking that its id is its own.
    pub fn parse_secret(text: &str) -> Result<Self, KeyError> {
        let bad = |why: &str| KeyError::Bad(format!("not a witness secret key: {why}"));
        let rest = text
            .trim_end()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| bad("it does not start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not name+id+key"));
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| bad("the key is not base64"))?;
        let (0x04, Ok(seed)) = (
            bytes.first().copied().unwrap_or(0),
            <[u8; 32]>::try_from(bytes.get(1..).unwrap_or_default()),
        ) else {
            return Err(bad(
                "the key is not 0x04 followed by a 32-byte Ed25519 seed",
            ));
        };
        let cosigner = Self::from_seed(name, seed)?;
        if hex::encode(cosigner.vkey.id()) != id {
            return Err(bad("its key id is not the one its key gives"));
        }
        Ok(cosigner)
    }

    /// Reads a secret key file.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse_secret(&text)
    }

    /// The secret key as text, for its file.
    pub fn secret(&self) -> String {
        let mut bytes = vec![0x04];
        bytes.extend_from_slice(&self.seed);
        format!(
            "{SECRET_PREFIX}{}+{}+{}\n",
            self.vkey.name(),
            hex::encode(self.vkey.id()),
            STANDARD.encode(bytes)
        )
    }

    /// The verifier key to give the policy.
    pub fn vkey(&self) -> &Vkey {
        &self.vkey
    }

    /// The cosignature line of `checkpoint_text` at `time` (seconds).
    pub fn cosign(&self, checkpoint_text: &str, time: u64) -> NoteSignature {
        let signature = self.pair.sign(&signed_message(checkpoint_text, time));
        let mut bytes = time.to_be_bytes().to_vec();
        bytes.extend_from_slice(signature.as_ref());
        NoteSignature {
            name: self.vkey.name().to_owned(),
            id: self.vkey.id(),
            signature: bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::{self, Note};

    const TEXT: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn a_cosignature_verifies_with_its_vkey_and_nothing_else() {
        let witness = Cosigner::from_seed("witness.example/w1", [1; 32]).unwrap();
        let line = witness.cosign(TEXT, 1_679_315_147);
        assert_eq!(time_of(&line), Some(1_679_315_147));
        let mut note = Note::new(TEXT.to_owned(), vec![line.clone()]);
        let keys = [Vkey::parse(&witness.vkey().to_string()).unwrap()];
        assert_eq!(note::verify(&note, &keys).unwrap().len(), 1);
        // The statement covers the time: another time is another message.
        let mut moved = line.clone();
        moved.signature[7] ^= 1;
        note = Note::new(TEXT.to_owned(), vec![moved]);
        assert!(note::verify(&note, &keys).is_err());
        // And the checkpoint: another size does not verify.
        note = Note::new(TEXT.replace("20852163", "20852164"), vec![line]);
        assert!(note::verify(&note, &keys).is_err());
    }

    #[test]
    fn secret_keys_round_trip_and_are_checked() {
        let witness = Cosigner::generate("witness.example/w1").unwrap();
        let again = Cosigner::parse_secret(&witness.secret()).unwrap();
        assert_eq!(again.vkey(), witness.vkey());
        let wrong_id = witness
            .secret()
            .replacen(&hex::encode(witness.vkey().id()), "00000000", 1);
        assert!(Cosigner::parse_secret(&wrong_id).is_err());
        assert!(Cosigner::parse_secret("PRIVATE+KEY+w+00000000+AQ==").is_err());
        assert!(Cosigner::parse_secret(&witness.vkey().to_string()).is_err());
    }
}
