//! C2SP signed notes (<https://c2sp.org/signed-note>) and their verifier
//! keys ("vkeys"), parsed strictly: a note is untrusted bytes from a log, a
//! peer or a registry.
//!
//! Three signature types are supported, the ones a Sigstore witness meets:
//! `0x01` Ed25519 (Rekor v2 checkpoints), `0x02` ECDSA P-256 with the
//! SHA-256 of the PKIX key as key ID (Rekor v1 checkpoints, as
//! transparency-dev's witness writes them) and `0x04` Ed25519 cosignatures
//! (<https://c2sp.org/tlog-cosignature>).

use std::fmt;

use aws_lc_rs::signature::{UnparsedPublicKey, ED25519};
use base64::{
    alphabet,
    engine::{general_purpose::STANDARD, GeneralPurpose, GeneralPurposeConfig},
    Engine,
};
use sha2::{Digest, Sha256};
use sigstore_crypto::{SigningScheme, VerificationKey};
use sigstore_types::{DerPublicKey, SignatureBytes};

/// The largest note accepted. A checkpoint with a few dozen signatures is a
/// few kilobytes; the limit bounds what an endpoint can make us hold.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// The most signature lines accepted (C2SP: at least 16).
pub const MAX_SIGNATURES: usize = 64;

/// Base64 for signature lines as Go's `encoding/base64` reads them: padding
/// bits need not be zero. Go witnesses and logs (litewitness, sigsum) accept
/// such lines, and a signature is over the note text, never over its line,
/// so leniency here cannot make a forgery verify.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// The em dash that starts a signature line.
const DASH: &str = "\u{2014} ";

/// Why a note or a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The bytes are not a signed note.
    #[error("not a signed note: {0}")]
    Malformed(String),
    /// The text is not a verifier key.
    #[error("not a verifier key (name+id+base64(type||key)): {0}")]
    BadKey(String),
    /// A signature line names a known key (name and id) but does not verify:
    /// the note is forged or corrupted, and is refused whole.
    #[error("the signature of known key {name}+{id} does not verify")]
    BadSignature {
        /// The key's name.
        name: String,
        /// Its id, 8 hex digits.
        id: String,
    },
    /// No signature of any known key.
    #[error("no signature by a known key (known: {known})")]
    NotSigned {
        /// The keys looked for, as `name+id`.
        known: String,
    },
}

/// One signature line: `— <name> base64(key id || signature)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key id.
    pub id: [u8; 4],
    /// The signature bytes after the id.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line as it appears in a note, newline included.
    pub fn line(&self) -> String {
        let mut bytes = self.id.to_vec();
        bytes.extend_from_slice(&self.signature);
        format!("{DASH}{} {}\n", self.name, STANDARD.encode(bytes))
    }

    /// Parses one line (without its newline).
    pub fn parse_line(line: &str) -> Result<Self, NoteError> {
        let malformed = |why: &str| NoteError::Malformed(format!("signature line {line:?}: {why}"));
        let rest = line
            .strip_prefix(DASH)
            .ok_or_else(|| malformed("does not start with an em dash and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("has no space between key name and signature"))?;
        check_key_name(name).map_err(|why| malformed(&why))?;
        let bytes = LENIENT
            .decode(encoded)
            .map_err(|_| malformed("its signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(malformed(
                "its signature is shorter than a key id and one byte",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            id: [bytes[0], bytes[1], bytes[2], bytes[3]],
            signature: bytes[4..].to_vec(),
        })
    }
}

/// A signed note: its text (the signed bytes, final newline included) and
/// its signature lines, as parsed. Nothing here is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses `bytes` by the signed-note rules: UTF-8 without control
    /// characters other than newline, a text ending in a newline, a blank
    /// line, then one or more signature lines each ending in a newline.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        let malformed = |why: &str| NoteError::Malformed(why.to_owned());
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(malformed(&format!("larger than {MAX_NOTE_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("not UTF-8"))?;
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(malformed("holds a control character other than newline"));
        }
        if !text.ends_with('\n') {
            return Err(malformed("does not end in a newline"));
        }
        // The text is separated from the signatures by the *last* blank line.
        let split = text
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line before the signatures"))?;
        let (body, signatures) = (&text[..=split], &text[split + 2..]);
        let lines: Vec<&str> = signatures.trim_end_matches('\n').split('\n').collect();
        if signatures.is_empty() || lines.iter().any(|line| line.is_empty()) {
            return Err(malformed("no signature lines after the blank line"));
        }
        if lines.len() > MAX_SIGNATURES {
            return Err(malformed(&format!("more than {MAX_SIGNATURES} signatures")));
        }
        let signatures = lines
            .into_iter()
            .map(NoteSignature::parse_line)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: body.to_owned(),
            signatures,
        })
    }

    /// A note of `text` (ending in a newline) with `signatures`.
    pub fn new(text: String, signatures: Vec<NoteSignature>) -> Self {
        Self { text, signatures }
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines as parsed.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds `signature` unless a line of the same key is there already.
    pub fn add_signature(&mut self, signature: NoteSignature) {
        if !self
            .signatures
            .iter()
            .any(|s| s.name == signature.name && s.id == signature.id)
        {
            self.signatures.push(signature);
        }
    }

    /// The note as bytes on the wire.
    pub fn encode(&self) -> String {
        let mut out = format!("{}\n", self.text);
        for signature in &self.signatures {
            out.push_str(&signature.line());
        }
        out
    }

    /// The signature lines of `key` (name and id both matched); other lines
    /// are ignored, as C2SP requires.
    pub fn signatures_of<'a>(&'a self, key: &'a Vkey) -> impl Iterator<Item = &'a NoteSignature> {
        self.signatures
            .iter()
            .filter(move |s| s.name == key.name && s.id == key.id)
    }
}

/// What a verifier key verifies.
#[derive(Clone)]
enum KeyMaterial {
    /// `0x01`: Ed25519 over the note text.
    Ed25519([u8; 32]),
    /// `0x02`: ECDSA P-256 with SHA-256 over the note text; the PKIX key.
    Ecdsa(DerPublicKey),
    /// `0x04`: an Ed25519 cosignature (tlog-cosignature/v1).
    Cosignature([u8; 32]),
}

/// A C2SP verifier key: `<name>+<hex key id>+<base64(type || key)>`.
#[derive(Clone)]
pub struct Vkey {
    name: String,
    id: [u8; 4],
    material: KeyMaterial,
}

impl fmt::Debug for Vkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Vkey({self})")
    }
}

impl PartialEq for Vkey {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Vkey {}

impl fmt::Display for Vkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut encoded = vec![self.type_byte()];
        encoded.extend_from_slice(self.key_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            STANDARD.encode(encoded)
        )
    }
}

impl std::str::FromStr for Vkey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, NoteError> {
        Self::parse(text)
    }
}

impl Vkey {
    /// Parses a vkey and checks that its id is the one its key gives.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("{text:?}: {why}"));
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three parts separated by '+'"));
        };
        check_key_name(name).map_err(|why| bad(&why))?;
        let id: [u8; 4] = hex::decode(id)
            .ok()
            .filter(|_| id.len() == 8 && id.bytes().all(|b| !b.is_ascii_uppercase()))
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad("the key id is not 8 lowercase hex digits"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| bad("the key is not base64"))?;
        let (&kind, key) = bytes.split_first().ok_or_else(|| bad("the key is empty"))?;
        let ed25519 = |key: &[u8]| -> Result<[u8; 32], NoteError> {
            key.try_into()
                .map_err(|_| bad("an Ed25519 key is 32 bytes"))
        };
        let material = match kind {
            0x01 => KeyMaterial::Ed25519(ed25519(key)?),
            0x04 => KeyMaterial::Cosignature(ed25519(key)?),
            0x02 => {
                let der = DerPublicKey::new(key.to_vec());
                VerificationKey::from_spki_with_scheme(&der, SigningScheme::EcdsaP256Sha256)
                    .map_err(|e| bad(&format!("not an ECDSA P-256 PKIX key: {e}")))?;
                KeyMaterial::Ecdsa(der)
            }
            other => {
                return Err(bad(&format!(
                    "signature type 0x{other:02x} is not supported (0x01 Ed25519, 0x02 ECDSA, \
                     0x04 Ed25519 cosignature)"
                )))
            }
        };
        let vkey = Self {
            name: name.to_owned(),
            id,
            material,
        };
        if vkey.expected_id() != id {
            return Err(bad("the key id is not the one the key gives"));
        }
        Ok(vkey)
    }

    /// An Ed25519 note key (`0x01`) named `name`.
    pub fn ed25519(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        Self::from_material(name, KeyMaterial::Ed25519(key))
    }

    /// An ECDSA P-256 note key (`0x02`) named `name`, from its PKIX DER.
    pub fn ecdsa(name: &str, pkix_der: &[u8]) -> Result<Self, NoteError> {
        let der = DerPublicKey::new(pkix_der.to_vec());
        VerificationKey::from_spki_with_scheme(&der, SigningScheme::EcdsaP256Sha256)
            .map_err(|e| NoteError::BadKey(format!("not an ECDSA P-256 PKIX key: {e}")))?;
        Self::from_material(name, KeyMaterial::Ecdsa(der))
    }

    /// An Ed25519 cosignature key (`0x04`) named `name`.
    pub fn cosignature(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        Self::from_material(name, KeyMaterial::Cosignature(key))
    }

    fn from_material(name: &str, material: KeyMaterial) -> Result<Self, NoteError> {
        check_key_name(name).map_err(NoteError::BadKey)?;
        let mut vkey = Self {
            name: name.to_owned(),
            id: [0; 4],
            material,
        };
        vkey.id = vkey.expected_id();
        Ok(vkey)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// `name+id`, how errors and alarms name the key.
    pub fn label(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.id))
    }

    /// Whether this is a cosignature (witness) key.
    pub fn is_cosigner(&self) -> bool {
        matches!(self.material, KeyMaterial::Cosignature(_))
    }

    /// The public key bytes, for telling duplicate keys apart from their
    /// names (tlog-policy forbids two entries wrapping one key).
    pub fn key_bytes(&self) -> &[u8] {
        match &self.material {
            KeyMaterial::Ed25519(key) | KeyMaterial::Cosignature(key) => key,
            KeyMaterial::Ecdsa(der) => der.as_bytes(),
        }
    }

    fn type_byte(&self) -> u8 {
        match self.material {
            KeyMaterial::Ed25519(_) => 0x01,
            KeyMaterial::Ecdsa(_) => 0x02,
            KeyMaterial::Cosignature(_) => 0x04,
        }
    }

    /// The id C2SP assigns: SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4], except
    /// for ECDSA, whose id is SHA-256(PKIX key)[:4] (Rekor v1's log id).
    fn expected_id(&self) -> [u8; 4] {
        let digest = match &self.material {
            KeyMaterial::Ecdsa(der) => Sha256::digest(der.as_bytes()),
            _ => {
                let mut hasher = Sha256::new();
                hasher.update(self.name.as_bytes());
                hasher.update([b'\n', self.type_byte()]);
                hasher.update(self.key_bytes());
                hasher.finalize()
            }
        };
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// Whether `signature` is this key's over `message`. For a cosignature
    /// key, `message` is the note text and the signed message is built from
    /// the signature's timestamp (see [`crate::cosignature`]).
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            KeyMaterial::Ed25519(key) => UnparsedPublicKey::new(&ED25519, key)
                .verify(message, signature)
                .is_ok(),
            KeyMaterial::Ecdsa(der) => {
                VerificationKey::from_spki_with_scheme(der, SigningScheme::EcdsaP256Sha256)
                    .and_then(|key| key.verify(message, &SignatureBytes::new(signature.to_vec())))
                    .is_ok()
            }
            KeyMaterial::Cosignature(key) => crate::cosignature::verifies(key, message, signature),
        }
    }
}

/// Verifies `note` against `keys`: every line of a known key must verify
/// (else the note is refused whole), and at least one must be present.
/// Returns the keys whose signatures verified.
pub fn verify<'a>(note: &Note, keys: &'a [Vkey]) -> Result<Vec<&'a Vkey>, NoteError> {
    let mut verified = Vec::new();
    for key in keys {
        let mut lines = note.signatures_of(key).peekable();
        if lines.peek().is_none() {
            continue;
        }
        for line in lines {
            if !key.verifies(note.text().as_bytes(), &line.signature) {
                return Err(NoteError::BadSignature {
                    name: key.name.clone(),
                    id: hex::encode(key.id),
                });
            }
        }
        verified.push(key);
    }
    if verified.is_empty() {
        return Err(NoteError::NotSigned {
            known: keys.iter().map(Vkey::label).collect::<Vec<_>>().join(", "),
        });
    }
    Ok(verified)
}

/// Key names are non-empty, without Unicode spaces or '+'.
fn check_key_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the key name is empty".to_owned());
    }
    if name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(format!("key name {name:?} holds a space or a '+'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from c2sp.org/signed-note, byte for byte.
    const EXAMPLE_VKEY: &str =
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const EXAMPLE_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn the_c2sp_example_verifies() {
        let key = Vkey::parse(EXAMPLE_VKEY).unwrap();
        assert_eq!(key.to_string(), EXAMPLE_VKEY);
        let note = Note::parse(EXAMPLE_NOTE.as_bytes()).unwrap();
        assert_eq!(note.encode(), EXAMPLE_NOTE);
        assert_eq!(verify(&note, std::slice::from_ref(&key)).unwrap().len(), 1);
        // One flipped bit in the text: a known key's line that fails
        // refuses the whole note.
        let forged = EXAMPLE_NOTE.replacen("example", "examplE", 1);
        let forged = Note::parse(forged.as_bytes()).unwrap();
        assert!(matches!(
            verify(&forged, &[key]),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn unknown_keys_are_ignored_but_one_known_is_required() {
        let key = Vkey::parse(EXAMPLE_VKEY).unwrap();
        // Same name, other id; and same id, other name: both unknown.
        let other_id = EXAMPLE_NOTE.replacen("Uw2QOkn8", "Uw2ROkn8", 1);
        let note = Note::parse(other_id.as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, std::slice::from_ref(&key)),
            Err(NoteError::NotSigned { .. })
        ));
        let other_name = EXAMPLE_NOTE.replacen("example.com/foo U", "example.com/fo U", 1);
        let note = Note::parse(other_name.as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, &[key]),
            Err(NoteError::NotSigned { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let cases: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("no final newline", b"a\n\n\xe2\x80\x94 k AAAAAAA="),
            ("no blank line", b"a\n\xe2\x80\x94 k AAAAAAA=\n"),
            ("no signatures", b"a\n\n"),
            ("blank signature line", b"a\n\n\xe2\x80\x94 k AAAAAAA=\n\n"),
            ("hyphen, not em dash", b"a\n\n- k AAAAAAA=\n"),
            ("control character", b"a\tb\n\n\xe2\x80\x94 k AAAAAAA=\n"),
            ("carriage return", b"a\r\n\n\xe2\x80\x94 k AAAAAAA=\n"),
            ("not UTF-8", b"\xff\n\n\xe2\x80\x94 k AAAAAAA=\n"),
            ("short signature", b"a\n\n\xe2\x80\x94 k AAAA\n"),
            ("not base64", b"a\n\n\xe2\x80\x94 k ????????\n"),
            ("plus in name", b"a\n\n\xe2\x80\x94 k+1 AAAAAAA=\n"),
            ("empty name", b"a\n\n\xe2\x80\x94  AAAAAAA=\n"),
        ];
        for (what, bytes) in cases {
            assert!(Note::parse(bytes).is_err(), "{what} was accepted");
        }
        let huge = format!("{}\n\n\u{2014} k AAAAAAA=\n", "a".repeat(MAX_NOTE_BYTES));
        assert!(Note::parse(huge.as_bytes()).is_err());
        let many = format!(
            "a\n\n{}",
            "\u{2014} k AAAAAAA=\n".repeat(MAX_SIGNATURES + 1)
        );
        assert!(Note::parse(many.as_bytes()).is_err());
    }

    #[test]
    fn the_last_blank_line_separates_text_from_signatures() {
        let note = Note::parse("a\n\nb\n\n\u{2014} k AAAAAAA=\n".as_bytes()).unwrap();
        assert_eq!(note.text(), "a\n\nb\n");
    }

    #[test]
    fn malformed_vkeys_are_refused() {
        let good = Vkey::parse(EXAMPLE_VKEY).unwrap();
        for bad in [
            "",
            "example.com/foo+530d903a",
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U",
            "example.com/foo+530d903a+BekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/fo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k+x",
        ] {
            assert!(Vkey::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(!good.is_cosigner());
    }

    /// Bounded property test: no byte string makes the parser panic, and
    /// whatever it accepts encodes back to the same bytes.
    #[test]
    fn parsing_arbitrary_bytes_never_panics_and_round_trips() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet: &[&str] = &["a", "\n", "\u{2014} ", "k", " ", "AAAAAAA=", "+", "\t", "é"];
        for _ in 0..5_000 {
            let len = (next() % 24) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(note) = Note::parse(text.as_bytes()) {
                // Lenient base64 may read two spellings of one signature;
                // the canonical one parses to the same note.
                assert_eq!(Note::parse(note.encode().as_bytes()), Ok(note));
            }
        }
    }
}
