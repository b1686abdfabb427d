//! Nix's own base-32 ("nix32"): the encoding of store-path hash parts and of
//! `sha256:<nix32>` hashes.
//!
//! It is not RFC 4648 base32: the alphabet omits `e`, `o`, `u` and `t`, and
//! the bytes are read from the end, so the first character carries the most
//! significant bits of the last byte. We reimplement it (rather than shelling
//! out to `nix-hash --to-base32`) so that manifests can be computed where Nix
//! is not installed.

/// The 32 characters, in digit order.
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Length of the nix32 encoding of `bytes` bytes: `ceil(8 * bytes / 5)`.
pub const fn encoded_len(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        (bytes * 8 - 1) / 5 + 1
    }
}

/// Encodes `bytes` the way Nix prints hashes and store-path hash parts.
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let bit = n * 5;
        let (i, j) = (bit / 8, bit % 8);
        // Five bits starting at bit `j` of byte `i`, spilling into byte `i + 1`.
        let low = u16::from(bytes[i]) >> j;
        let high = bytes.get(i + 1).map_or(0, |b| u16::from(*b) << (8 - j));
        out.push(char::from(ALPHABET[usize::from((low | high) & 0x1f)]));
    }
    out
}

/// Decodes exactly `N` bytes. `None` for a wrong length, a character outside
/// the alphabet, or set bits beyond the `N` bytes (a non-canonical encoding,
/// which Nix rejects too, so every hash has exactly one spelling).
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != encoded_len(N) {
        return None;
    }
    let mut out = [0u8; N];
    for (n, c) in text.iter().rev().enumerate() {
        let digit = ALPHABET.iter().position(|a| a == c)? as u16;
        let bit = n * 5;
        let (i, j) = (bit / 8, bit % 8);
        let shifted = digit << j;
        out[i] |= (shifted & 0xff) as u8;
        let spill = (shifted >> 8) as u8;
        if i + 1 < N {
            out[i + 1] |= spill;
        } else if spill != 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_nix_for_a_known_hash() {
        // `nix-hash --type sha256 --to-base32` of the hex SHA-256 of "hello".
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let bytes: [u8; 32] = hex::decode(hex).unwrap().try_into().unwrap();
        let text = "094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwic";
        assert_eq!(encode(&bytes), text);
        assert_eq!(decode::<32>(text), Some(bytes));
    }

    #[test]
    fn round_trips_every_length_used_by_nix() {
        for len in [20usize, 32] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = encode(&bytes);
            assert_eq!(text.len(), encoded_len(len));
            if len == 32 {
                assert_eq!(decode::<32>(&text).unwrap().to_vec(), bytes);
            } else {
                assert_eq!(decode::<20>(&text).unwrap().to_vec(), bytes);
            }
        }
    }

    #[test]
    fn rejects_bad_characters_lengths_and_overflow() {
        let good = encode(&[0xffu8; 32]);
        assert!(decode::<32>(&good).is_some());
        assert_eq!(decode::<32>(&good[1..]), None);
        assert_eq!(decode::<32>(&format!("e{}", &good[1..])), None);
        // 52 characters carry 260 bits; the top 4 must be zero for 32 bytes.
        assert_eq!(decode::<32>(&format!("z{}", &good[1..])), None);
    }
}
