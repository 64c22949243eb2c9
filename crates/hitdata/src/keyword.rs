//! Keyword normalisation: form-decoded, UTF-8 decoded lossily, lowercased, trimmed, and runs of
//! whitespace collapsed to one space. Whitespace is Unicode's White_Space property throughout.

/// `+` is a space, `%XX` is a byte; a malformed escape stays as written.
pub fn form_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < raw.len() => match (hex(raw[i + 1]), hex(raw[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The keyword as reported, or `None` when nothing is left of it.
pub fn normalize(raw: &[u8]) -> Option<String> {
    let decoded = form_decode(raw);
    if decoded.is_ascii() {
        return normalize_ascii(&decoded);
    }
    let text = String::from_utf8_lossy(&decoded).to_lowercase();
    let mut keyword = String::with_capacity(text.len());
    for word in text.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !keyword.is_empty() {
            keyword.push(' ');
        }
        keyword.push_str(word);
    }
    (!keyword.is_empty()).then_some(keyword)
}

/// The same rules for ASCII text (most keywords), in one pass and one allocation. Among ASCII
/// characters, White_Space is exactly tab, LF, VT, FF, CR and space.
fn normalize_ascii(decoded: &[u8]) -> Option<String> {
    let mut keyword = String::with_capacity(decoded.len());
    let mut pending_space = false;
    for &byte in decoded {
        if matches!(byte, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            pending_space = !keyword.is_empty();
        } else {
            if pending_space {
                keyword.push(' ');
                pending_space = false;
            }
            keyword.push(char::from(byte.to_ascii_lowercase()));
        }
    }
    (!keyword.is_empty()).then_some(keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> Option<String> {
        normalize(raw.as_bytes())
    }

    #[test]
    fn plus_and_escapes_decode() {
        assert_eq!(n("Ipod+Nano").as_deref(), Some("ipod nano"));
        assert_eq!(n("ipod%20nano%21").as_deref(), Some("ipod nano!"));
        assert_eq!(n("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(n("a%2Bb").as_deref(), Some("a+b"));
    }

    #[test]
    fn malformed_escapes_stay_as_written() {
        assert_eq!(n("100%").as_deref(), Some("100%"));
        assert_eq!(n("50%zz+off").as_deref(), Some("50%zz off"));
        assert_eq!(n("%4").as_deref(), Some("%4"));
        assert_eq!(n("%%41").as_deref(), Some("%a"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(n("bad%FFbyte").as_deref(), Some("bad\u{fffd}byte"));
    }

    #[test]
    fn case_and_whitespace_are_normalised() {
        assert_eq!(n("  ZUNE%09%0A++Player ").as_deref(), Some("zune player"));
        assert_eq!(n("ÉCOLE%C2%A0Straße").as_deref(), Some("école straße"));
        // A capital sigma ending a word lowercases to the final form, as in Python's str.lower.
        assert_eq!(n("ΟΔΟΣ").as_deref(), Some("\u{3bf}\u{3b4}\u{3bf}\u{3c2}"));
    }

    #[test]
    fn the_ascii_path_agrees_with_the_general_rules() {
        let general = |raw: &[u8]| {
            let text = String::from_utf8_lossy(&form_decode(raw)).to_lowercase();
            let words: Vec<&str> = text
                .split(char::is_whitespace)
                .filter(|w| !w.is_empty())
                .collect();
            (!words.is_empty()).then(|| words.join(" "))
        };
        for byte in 0u8..128 {
            for raw in [
                vec![byte],
                vec![b'A', byte, b'b'],
                vec![byte, byte, b'Z', byte],
            ] {
                assert_eq!(normalize(&raw), general(&raw), "{raw:?}");
            }
        }
    }

    #[test]
    fn nothing_left_is_no_keyword() {
        assert_eq!(n(""), None);
        assert_eq!(n("+++%20"), None);
    }
}
