//! The Nix database records a seed carries in `.seed/registration`: what
//! `nix-store --dump-db` writes and `nix-store --load-db` registers on the
//! machine that mounts the seed.
//!
//! The format is one record per store path, each a run of lines: the path,
//! its NAR hash (bare base-16 as Nix writes it; any spelling Nix parses is
//! read), its NAR size, its deriver (empty when unknown), the number of
//! references, then that many referenced paths.

use crate::{NarHash, StorePath};

/// One store path's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The registered path.
    pub path: StorePath,
    /// The NAR hash Nix will believe the path has.
    pub nar_hash: NarHash,
    /// The NAR size Nix will believe the path has.
    pub nar_size: u64,
    /// The derivation that built it, or empty.
    pub deriver: String,
    /// The paths it references.
    pub references: Vec<StorePath>,
}

/// A dump that is not a run of well-formed records.
#[derive(Debug, thiserror::Error)]
#[error("malformed Nix registration (nix-store --dump-db format), record {record}: {reason}")]
pub struct RegistrationError {
    /// The 1-based number of the record at fault.
    pub record: usize,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a `nix-store --dump-db` dump.
pub fn parse_registrations(dump: &[u8]) -> Result<Vec<Registration>, RegistrationError> {
    let text = std::str::from_utf8(dump).map_err(|_| RegistrationError {
        record: 1,
        reason: "it is not UTF-8".to_owned(),
    })?;
    let mut lines = text.lines();
    let mut records = Vec::new();
    while let Some(path) = lines.next() {
        let malformed = |reason: String| RegistrationError {
            record: records.len() + 1,
            reason,
        };
        let mut field = |name: &str| {
            lines
                .next()
                .ok_or_else(|| malformed(format!("'{path}' has no {name} line")))
        };
        let hash = field("NAR hash")?;
        let size = field("NAR size")?;
        let deriver = field("deriver")?;
        let count = field("reference count")?;
        let store_path = |text: &str| {
            text.parse::<StorePath>()
                .map_err(|e| malformed(format!("'{text}' is not a store path: {e}")))
        };
        let record_path = store_path(path)?;
        let nar_hash = parse_hash(hash)
            .ok_or_else(|| malformed(format!("'{hash}' is not a SHA-256 NAR hash")))?;
        let nar_size = size
            .parse()
            .map_err(|_| malformed(format!("NAR size '{size}' is not a number")))?;
        let count: usize = count
            .parse()
            .map_err(|_| malformed(format!("reference count '{count}' is not a number")))?;
        let mut references = Vec::new();
        for _ in 0..count {
            let reference = lines.next().ok_or_else(|| {
                malformed(format!("'{path}' lists fewer references than {count}"))
            })?;
            references.push(store_path(reference)?);
        }
        records.push(Registration {
            path: record_path,
            nar_hash,
            nar_size,
            deriver: deriver.to_owned(),
            references,
        });
    }
    Ok(records)
}

/// Writes records in the dump format, hashes in bare base 16 as
/// `nix-store --dump-db` writes them.
pub fn write_registrations(records: &[Registration]) -> Vec<u8> {
    let mut out = String::new();
    for record in records {
        out.push_str(&format!(
            "{}\n{}\n{}\n{}\n{}\n",
            record.path,
            hex::encode(record.nar_hash.as_bytes()),
            record.nar_size,
            record.deriver,
            record.references.len()
        ));
        for reference in &record.references {
            out.push_str(&format!("{reference}\n"));
        }
    }
    out.into_bytes()
}

/// A NAR hash as a dump spells it: bare base 16, or any form Nix prints.
fn parse_hash(text: &str) -> Option<NarHash> {
    if text.len() == 64 {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        return Some(NarHash::from_bytes(bytes));
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "/nix/store/x21wq7f46f1py2xsblfw13d8br6bgnr6-a";
    const B: &str = "/nix/store/1750qnsbr05agl411i0jmgkiyryai8f1-b";
    const HEX: &str = "14976765075ee36c63ce206d131c8aca671fe7ab12c410087daa80bcb4c5a09c";

    #[test]
    fn a_dump_reads_and_writes_back_byte_for_byte() {
        let dump = format!("{A}\n{HEX}\n120\n{B}.drv\n2\n{A}\n{B}\n{B}\n{HEX}\n8\n\n0\n");
        let records = parse_registrations(dump.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].references.len(), 2);
        assert_eq!(records[0].nar_size, 120);
        assert_eq!(records[1].deriver, "");
        assert_eq!(write_registrations(&records), dump.as_bytes());
    }

    #[test]
    fn every_malformed_record_is_refused() {
        for broken in [
            format!("{A}\n{HEX}\n"),
            format!("{A}\n{HEX}\n1\n\n2\n{A}\n"),
            format!("{A}\n{HEX}\n1\n\nx\n"),
            format!("{A}\n{HEX}\n-1\n\n0\n"),
            format!("{A}\nabc\n1\n\n0\n"),
            format!("/tmp/a\n{HEX}\n1\n\n0\n"),
            format!("{A}\n{HEX}\n1\n\n1\n/nix/store/x\n"),
        ] {
            assert!(
                parse_registrations(broken.as_bytes()).is_err(),
                "{broken:?}"
            );
        }
        assert!(parse_registrations(b"\xff").is_err());
    }

    /// `.seed/registration` comes from an image: truncated and bit-flipped
    /// dumps are errors or parse to records, never a panic, and whatever
    /// parses writes back to what parses the same.
    #[test]
    fn mangled_dumps_never_panic() {
        let dump = format!("{A}\n{HEX}\n120\n{B}.drv\n2\n{A}\n{B}\n{B}\n{HEX}\n8\n\n0\n");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..2_000 {
            let mut bytes = dump.clone().into_bytes();
            if next(2) == 0 {
                bytes.truncate(next(bytes.len()));
            } else {
                let at = next(bytes.len());
                bytes[at] ^= 1 << next(8);
            }
            if let Ok(records) = parse_registrations(&bytes) {
                let written = write_registrations(&records);
                assert_eq!(parse_registrations(&written).unwrap(), records);
            }
        }
    }
}
