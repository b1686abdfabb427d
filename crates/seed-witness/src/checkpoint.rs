//! C2SP tlog-checkpoints (<https://c2sp.org/tlog-checkpoint>): the note
//! text a log signs to commit to its tree, parsed strictly, and verified
//! against the one log it must come from.

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};

use crate::note::{self, Note, NoteError, NoteSignature, Vkey};

/// The RFC 6962 root of the empty tree: SHA-256 of nothing.
pub const EMPTY_ROOT: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// A log as a witness knows it: the origin line its checkpoints carry and
/// the key that signs them. Rekor v1 names its key after its host, not its
/// origin (`rekor.sigstore.dev` signs `rekor.sigstore.dev - <tree id>`),
/// so the two are configured apart, as transparency-dev's witness does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// The checkpoints' first line.
    pub origin: String,
    /// The log's note key (Ed25519 or ECDSA).
    pub vkey: Vkey,
}

/// The three lines (and any extension lines) a checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The log's identity.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 6962 root hash of those leaves.
    pub root: [u8; 32],
    /// Opaque extension lines (Rekor v1 writes a timestamp line).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Parses a note text by the tlog-checkpoint rules: a non-empty origin,
    /// a decimal size without leading zeroes, a base64 32-byte root, then
    /// non-empty extension lines.
    pub fn parse_text(text: &str) -> Result<Self, NoteError> {
        let malformed = |why: String| NoteError::Malformed(format!("checkpoint: {why}"));
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed("the text does not end in a newline".to_owned()))?
            .split('\n')
            .collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(malformed("fewer than three lines".to_owned()));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin line".to_owned()));
        }
        let canonical = size.bytes().all(|b| b.is_ascii_digit())
            && !size.is_empty()
            && (*size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| {
                malformed(format!(
                    "size {size:?} is not a decimal without leading zeroes"
                ))
            })?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| malformed(format!("root {root:?} is not 32 bytes of base64")))?;
        if size == 0 && root != EMPTY_ROOT {
            return Err(malformed(
                "a tree of size 0 whose root is not the empty tree's".to_owned(),
            ));
        }
        if extensions.iter().any(|line| line.is_empty()) {
            return Err(malformed("an empty extension line".to_owned()));
        }
        Ok(Self {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|line| (*line).to_owned()).collect(),
        })
    }

    /// The note text, final newline included.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// The root as base64, how alarms and logs show it.
    pub fn root_base64(&self) -> String {
        STANDARD.encode(self.root)
    }
}

/// A checkpoint whose log signature verified, with every signature line it
/// came with (cosignatures are checked separately, against a policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    note: Note,
    checkpoint: Checkpoint,
}

impl SignedCheckpoint {
    /// Parses `bytes` and verifies that `log` signed them: the origin line
    /// must be the log's, and its key's signature (name and id matched)
    /// must be present and valid. Lines of other keys are kept, unverified.
    pub fn verify(bytes: &[u8], log: &LogKey) -> Result<Self, NoteError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != log.origin {
            return Err(NoteError::Malformed(format!(
                "checkpoint of origin {:?}, expected {:?}",
                checkpoint.origin, log.origin
            )));
        }
        note::verify(&note, std::slice::from_ref(&log.vkey))?;
        Ok(Self { note, checkpoint })
    }

    /// What it commits to.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The note, with all its signature lines.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The note as bytes on the wire.
    pub fn encode(&self) -> String {
        self.note.encode()
    }

    /// Adds a (co)signature line, unless one of that key is there already.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        self.note.add_signature(signature);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_is_strict() {
        let root = STANDARD.encode([7u8; 32]);
        let good = format!("example.com/log\n42\n{root}\n");
        let checkpoint = Checkpoint::parse_text(&good).unwrap();
        assert_eq!((checkpoint.size, checkpoint.root), (42, [7; 32]));
        assert_eq!(checkpoint.text(), good);
        let empty = STANDARD.encode(EMPTY_ROOT);
        let with_extension = format!("example.com/log\n0\n{empty}\nTimestamp: 1\n");
        assert_eq!(
            Checkpoint::parse_text(&with_extension).unwrap().text(),
            with_extension
        );
        for bad in [
            format!("example.com/log\n042\n{root}\n"),
            format!("example.com/log\n+42\n{root}\n"),
            format!("example.com/log\n-1\n{root}\n"),
            format!("example.com/log\n\n{root}\n"),
            format!("example.com/log\n18446744073709551616\n{root}\n"),
            format!("\n42\n{root}\n"),
            format!("example.com/log\n42\n{}\n", STANDARD.encode([7u8; 31])),
            format!("example.com/log\n42\n{root}"),
            format!("example.com/log\n42\n{root}\n\nx\n"),
            "example.com/log\n42\n".to_owned(),
            format!("example.com/log\n0\n{root}\n"),
        ] {
            assert!(Checkpoint::parse_text(&bad).is_err(), "{bad:?} accepted");
        }
    }
}
