//! Canonical JSON: one byte string per JSON value, so a statement has exactly
//! one encoding and therefore one digest.
//!
//! The encoding is RFC 8785 (JSON Canonicalization Scheme, JCS) restricted to
//! the values seed-eth emits:
//!
//! - no insignificant whitespace;
//! - object members sorted by their names compared as UTF-16 code units (JCS
//!   order; for the ASCII names seed-eth uses this is plain byte order);
//! - strings escaped minimally: `"` and `\` are backslash-escaped, the control
//!   characters U+0000..U+001F use `\b \t \n \f \r` where JCS has them and
//!   `\u00xx` (lowercase hex) otherwise; everything else, including non-ASCII
//!   and `/`, is written as UTF-8;
//! - numbers are integers of magnitude at most 2^53 - 1, written in decimal
//!   without sign for non-negative values, leading zeros or exponent. Floats
//!   and larger integers are rejected rather than rounded, because JCS would
//!   print them through IEEE-754 doubles and a verifier in another language
//!   could then disagree with us about the bytes.
//!
//! Any JCS implementation therefore produces the same bytes for our
//! statements, which lets third parties recompute a statement digest without
//! this crate.

use serde::Serialize;
use serde_json::Value;

/// The largest integer magnitude that survives a round trip through an
/// IEEE-754 double, and so the largest JCS prints exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical encoding.
#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    /// The value could not be turned into JSON at all.
    #[error("value cannot be represented as JSON: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A float or an integer beyond ±(2^53 - 1).
    #[error("number {number} has no canonical form: only integers within ±(2^53 - 1) are allowed; encode larger or fractional values as strings")]
    UnsupportedNumber {
        /// The offending number as serde_json printed it.
        number: String,
    },
}

/// Serialises `value` to canonical JSON bytes (see the module documentation).
pub fn to_canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    // Going through `Value` first means the member order of the Rust types
    // (and whether serde_json's `preserve_order` feature is on somewhere in
    // the dependency graph) cannot influence the output: we sort ourselves.
    let value = serde_json::to_value(value)?;
    let mut out = Vec::with_capacity(512);
    write_value(&value, &mut out)?;
    Ok(out)
}

/// Whether `bytes` is exactly the canonical encoding of the JSON it contains.
///
/// This rejects whitespace, other member orders, duplicate member names
/// (serde_json keeps only one of them, so the re-encoding is shorter) and
/// non-minimal escapes.
pub fn is_canonical_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|value| to_canonical_json(&value).ok())
        .is_some_and(|canonical| canonical == bytes)
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => write_number(number, out)?,
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (name, member)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(number: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let unsupported = || CanonicalError::UnsupportedNumber {
        number: number.to_string(),
    };
    if let Some(n) = number.as_u64() {
        if n > MAX_SAFE_INTEGER {
            return Err(unsupported());
        }
        out.extend_from_slice(n.to_string().as_bytes());
    } else if let Some(n) = number.as_i64() {
        if n.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(unsupported());
        }
        out.extend_from_slice(n.to_string().as_bytes());
    } else {
        return Err(unsupported());
    }
    Ok(())
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(value: Value) -> String {
        String::from_utf8(to_canonical_json(&value).unwrap()).unwrap()
    }

    #[test]
    fn sorts_members_recursively_and_drops_whitespace() {
        let value = json!({"b": [3, {"z": 1, "a": null}], "a": {"y": true, "x": false}});
        assert_eq!(
            canon(value),
            r#"{"a":{"x":false,"y":true},"b":[3,{"a":null,"z":1}]}"#
        );
    }

    #[test]
    fn member_order_is_utf16_not_utf8() {
        // U+10000 is the surrogate pair D800 DC00 in UTF-16, which sorts
        // before U+E000; in UTF-8 (F0.. vs EE..) it sorts after. This is
        // the one place the two orders differ (RFC 8785 section 3.2.3).
        let value = json!({"\u{e000}": 1, "\u{10000}": 2});
        assert_eq!(canon(value), "{\"\u{10000}\":2,\"\u{e000}\":1}");
    }

    #[test]
    fn escapes_like_jcs() {
        let value = json!("q\" b\\ \u{8}\t\n\u{c}\r \u{1} \u{1f} / é \u{7f}");
        assert_eq!(
            canon(value),
            "\"q\\\" b\\\\ \\b\\t\\n\\f\\r \\u0001 \\u001f / é \u{7f}\""
        );
    }

    #[test]
    fn integers_only_within_the_safe_range() {
        assert_eq!(
            canon(json!([0, -1, MAX_SAFE_INTEGER])),
            "[0,-1,9007199254740991]"
        );
        for bad in [json!(MAX_SAFE_INTEGER + 1), json!(1.5), json!(i64::MIN)] {
            assert!(matches!(
                to_canonical_json(&bad),
                Err(CanonicalError::UnsupportedNumber { .. })
            ));
        }
    }

    #[test]
    fn detects_non_canonical_bytes() {
        assert!(is_canonical_json(br#"{"a":1,"b":"x"}"#));
        for bad in [
            &br#"{"b":"x","a":1}"#[..],  // order
            br#"{"a": 1,"b":"x"}"#,      // whitespace
            br#"{"a":1,"a":1,"b":"x"}"#, // duplicate member
            br#"{"a":1,"b":"\u0078"}"#,  // needless escape
            br#"{"a":1.0,"b":"x"}"#,     // float
            b"{\"a\":1,\"b\":\"x\"}\n",  // trailing newline
            b"not json",
        ] {
            assert!(
                !is_canonical_json(bad),
                "{:?} is not canonical",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
