//! Base64 (standard, with padding) and base64url (no padding), both ways,
//! plus the strict base64url decoding JWTs need.

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_with(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        let sextet = |shift: u32| char::from(alphabet[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        if chunk.len() > 1 {
            out.push(sextet(6));
        } else if pad {
            out.push('=');
        }
        if chunk.len() > 2 {
            out.push(sextet(0));
        } else if pad {
            out.push('=');
        }
    }
    out
}

/// Standard base64 with padding.
pub fn encode(bytes: &[u8]) -> String {
    encode_with(bytes, STD, true)
}

/// base64url without padding (JWT).
pub fn encode_url(bytes: &[u8]) -> String {
    encode_with(bytes, URL, false)
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes standard or url-safe base64, padded or not. `None` on any bad input.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 {
        return None;
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i as u32);
        }
        let take = chunk.len() * 6 / 8;
        for i in 0..take {
            out.push((n >> (16 - 8 * i as u32)) as u8);
        }
    }
    Some(out)
}

/// Decodes base64url as JWTs must carry it (RFC 7515 §2): the url-safe
/// alphabet only, no padding, no line breaks, and the unused low bits of the
/// last character zero, so each byte string has exactly one encoding.
/// `None` on anything else.
pub fn decode_url_strict(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() % 4 == 1 || bytes.iter().any(|c| matches!(c, b'+' | b'/' | b'=')) {
        return None;
    }
    let unused_bits = match bytes.len() % 4 {
        2 => 4,
        3 => 2,
        _ => 0,
    };
    if let Some(&last) = bytes.last() {
        if value(last)? & ((1 << unused_bits) - 1) != 0 {
            return None;
        }
    }
    decode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_vectors() {
        for (raw, std, url) in [
            (&b""[..], "", ""),
            (b"f", "Zg==", "Zg"),
            (b"fo", "Zm8=", "Zm8"),
            (b"foo", "Zm9v", "Zm9v"),
            (b"\xfb\xff", "+/8=", "-_8"),
        ] {
            assert_eq!(encode(raw), std);
            assert_eq!(encode_url(raw), url);
            assert_eq!(decode(std).unwrap(), raw);
            assert_eq!(decode(url).unwrap(), raw);
        }
        for bad in ["a", "ab$c", "Zg===", "@@@@"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn strict_base64url_has_one_encoding_per_value() {
        for raw in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"\xfb\xff",
            b"\xff\xfe\xfd\xfc",
        ] {
            assert_eq!(decode_url_strict(&encode_url(raw)).as_deref(), Some(raw));
        }
        // Padding, the standard alphabet, and non-zero unused bits are refused.
        for bad in [
            "Zg==", "Zg=", "Zm8=", "+/8", "ab/c", "Zh", "Zm9", "-_9", "a", "Zm 9v",
        ] {
            assert_eq!(decode_url_strict(bad), None, "{bad}");
        }
        // The lenient decoder takes those (other code relies on it for keys).
        assert_eq!(decode("Zh"), decode("Zg"));
    }
}
