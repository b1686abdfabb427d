//! Showing untrusted bytes in an error message: what a registry, an endpoint
//! or a file sent, briefly and safely (no control characters reach the
//! terminal, nothing unbounded reaches the log).

/// The most characters of received content an error message shows.
pub const EXCERPT_CHARS: usize = 120;

/// `bytes` as a person can read them in one line: lossy UTF-8, control
/// characters escaped, cut at [`EXCERPT_CHARS`] characters with the total
/// size said when cut.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let shown = one_line(&text, EXCERPT_CHARS);
    if text.chars().count() > EXCERPT_CHARS {
        format!("\"{shown}\" ({} bytes in all)", bytes.len())
    } else {
        format!("\"{shown}\"")
    }
}

/// `text` on one line: control characters escaped, cut at `max_chars`
/// characters (marked with `…`).
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max_chars {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_bounded_line_without_control_characters() {
        assert_eq!(excerpt(b""), "\"\"");
        assert_eq!(
            excerpt(b"<html>\n<body>\x1b[31mred</body>"),
            "\"<html>\\n<body>\\u{1b}[31mred</body>\""
        );
        assert_eq!(excerpt(&[0xff, b'a']), "\"\u{fffd}a\"");
        let long = "x".repeat(1000);
        let shown = excerpt(long.as_bytes());
        assert!(shown.ends_with("…\" (1000 bytes in all)"), "{shown}");
        assert_eq!(shown.matches('x').count(), EXCERPT_CHARS);
        assert_eq!(one_line("a\nb", 10), "a\\nb");
        assert_eq!(one_line("abcdef", 3), "abc…");
        // Every prefix of a multi-byte text is shown without panicking.
        let text = "é€😀".repeat(100);
        for cut in 0..text.len() {
            assert!(!excerpt(&text.as_bytes()[..cut]).contains('\n'));
        }
    }
}
