//! A bound on the tar metadata the tar reader holds in memory.
//!
//! tar-rs reads a GNU long name, a GNU long link target or a PAX extended
//! header into memory whole, whatever size its header claims: a few MB of
//! gzip can claim gigabytes of "name" and exhaust a keeper's memory. This
//! reader sits between the decompressor and tar-rs and follows the archive's
//! 512-byte framing (a header, then its data rounded up to a block) as it
//! streams, refusing such an entry whose size is over [`MAX_METADATA_ENTRY`]
//! before tar-rs reads a byte of it. To keep the framing tar-rs uses, it
//! applies a PAX `size` record to the entry that follows, and refuses GNU
//! sparse entries, whose extension headers it does not follow (a store path
//! is never sparse).

use std::io::{self, Read};

/// The largest GNU long name, long link or PAX header accepted: far above any
/// path (`Limits::max_path_bytes`) with its PAX records.
pub const MAX_METADATA_ENTRY: u64 = 1 << 20;

const BLOCK: usize = 512;

/// Follows the framing of the tar stream read through it.
pub struct FramingGuard<R> {
    inner: R,
    /// The current header block, while it is being read.
    header: Vec<u8>,
    /// Data bytes left in the current entry, padding included.
    data_left: u64,
    /// The current PAX extended header's data, collected to find `size`.
    pax: Option<Vec<u8>>,
    /// The size a PAX header set for the next entry.
    next_size: Option<u64>,
}

impl<R: Read> FramingGuard<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            header: Vec::with_capacity(BLOCK),
            data_left: 0,
            pax: None,
            next_size: None,
        }
    }

    /// Takes in `bytes`, just read, advancing through headers and data.
    fn follow(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.data_left > 0 {
                let n = bytes
                    .len()
                    .min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                if let Some(pax) = self.pax.as_mut() {
                    pax.extend_from_slice(&bytes[..n]);
                }
                self.data_left -= n as u64;
                bytes = &bytes[n..];
                if self.data_left == 0 {
                    if let Some(pax) = self.pax.take() {
                        self.next_size = pax_size(&pax)?;
                    }
                }
                continue;
            }
            let n = bytes.len().min(BLOCK - self.header.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == BLOCK {
                self.start_entry()?;
                self.header.clear();
            }
        }
        Ok(())
    }

    /// A whole header block has been read: where its data ends.
    fn start_entry(&mut self) -> io::Result<()> {
        let header = &self.header;
        if header.iter().all(|&b| b == 0) {
            // An end-of-archive block (or padding after it).
            return Ok(());
        }
        let kind = header[156];
        let size = match self.next_size.take() {
            Some(size) if !matches!(kind, b'x' | b'g' | b'L' | b'K') => size,
            _ => header_size(&header[124..136])?,
        };
        let refuse = |problem: String| Err(io::Error::new(io::ErrorKind::InvalidData, problem));
        match kind {
            b'L' | b'K' | b'x' | b'g' if size > MAX_METADATA_ENTRY => {
                return refuse(format!(
                    "a {} entry claims {size} bytes, more than the {MAX_METADATA_ENTRY} a tar \
                     layer's metadata may have",
                    match kind {
                        b'L' => "GNU long name",
                        b'K' => "GNU long link",
                        b'x' => "PAX extended header",
                        _ => "PAX global header",
                    }
                ))
            }
            b'S' => {
                return refuse(
                    "it has a GNU sparse entry; store paths are never sparse, and this reader \
                     does not follow sparse headers"
                        .to_owned(),
                )
            }
            b'x' => self.pax = Some(Vec::new()),
            _ => {}
        }
        self.data_left = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        if kind == b'x' && size == 0 {
            self.pax = None;
        }
        Ok(())
    }
}

impl<R: Read> Read for FramingGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.follow(&buf[..n])?;
        Ok(n)
    }
}

/// A header's size field: octal digits, or big-endian binary after a 0x80
/// marker (GNU's base-256 for sizes of 8 GiB and more).
fn header_size(field: &[u8]) -> io::Result<u64> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a tar header's size is malformed",
        )
    };
    if field[0] & 0x80 != 0 {
        if field[0] != 0x80 || field[1..4].iter().any(|&b| b != 0) {
            return Err(invalid());
        }
        return Ok(field[4..]
            .iter()
            .fold(0u64, |size, &b| (size << 8) | u64::from(b)));
    }
    let text = std::str::from_utf8(field).map_err(|_| invalid())?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| invalid())
}

/// The `size` record of a PAX extended header, if it has one. Records are
/// `<length> <key>=<value>\n`.
fn pax_size(data: &[u8]) -> io::Result<Option<u64>> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "a PAX header is malformed");
    let mut size = None;
    let mut rest = data;
    while !rest.is_empty() && rest[0] != 0 {
        let space = rest.iter().position(|&b| b == b' ').ok_or_else(invalid)?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|text| text.parse().ok())
            .filter(|&length| length > space && length <= rest.len())
            .ok_or_else(invalid)?;
        let record = &rest[space + 1..length];
        if let Some(value) = record.strip_prefix(b"size=") {
            let value = value.strip_suffix(b"\n").ok_or_else(invalid)?;
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(invalid)?;
            size = Some(parsed);
        }
        rest = &rest[length..];
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_both_encodings() {
        assert_eq!(header_size(b"00000001750\0").unwrap(), 1000);
        assert_eq!(header_size(b"\0\0\0\0\0\0\0\0\0\0\0\0").unwrap(), 0);
        let mut binary = [0u8; 12];
        binary[0] = 0x80;
        binary[11] = 7;
        binary[10] = 1;
        assert_eq!(header_size(&binary).unwrap(), 263);
        assert!(header_size(b"0000000175x\0").is_err());
    }

    #[test]
    fn pax_size_records_are_found_and_malformed_ones_refused() {
        assert_eq!(
            pax_size(b"20 path=nix/store/a\n11 size=42\n").unwrap(),
            Some(42)
        );
        assert_eq!(pax_size(b"11 path=ab\n").unwrap(), None);
        assert!(pax_size(b"99 path=ab\n").is_err());
        assert!(pax_size(b"x path=ab\n").is_err());
    }
}
