//! A string that must never be printed: API keys and other credentials.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// An API key or other credential. `Debug` and `Display` print `***`, so a key
/// cannot reach a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The credential itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the credential is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// The last four characters, the only part ever shown to a user.
    pub fn last4(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let start = chars.len().saturating_sub(4);
        chars
            .get(start..)
            .map(|c| c.iter().collect())
            .unwrap_or_default()
    }

    /// Replaces this secret in `text` with `***`, in every form a provider
    /// has been seen to echo a key in: any letter case, any fragment of at
    /// least [`MIN_FRAGMENT`] characters (the key without its prefix, or
    /// split in two), and its base64 and base64url encodings (at each byte
    /// alignment, so also inside an encoded `user:key`).
    pub fn redact_in(&self, text: &str) -> String {
        let key = self.0.as_bytes();
        // Keys shorter than 4 characters would redact ordinary words; those are
        // not real keys and are rejected elsewhere, so leave the text alone.
        if key.len() < 4 || text.is_empty() {
            return text.to_string();
        }
        let lower = text.to_ascii_lowercase();
        let hay = lower.as_bytes();
        let mut marked = vec![false; hay.len()];
        if key.len() < MIN_FRAGMENT {
            let needle = key.to_ascii_lowercase();
            for (i, w) in hay.windows(needle.len()).enumerate() {
                if w == needle.as_slice() {
                    mark(&mut marked, i, needle.len());
                }
            }
        } else {
            let grams = key_grams(key);
            for (i, w) in hay.windows(MIN_FRAGMENT).enumerate() {
                if grams.contains(gram(w)) {
                    mark(&mut marked, i, MIN_FRAGMENT);
                }
            }
        }
        if !marked.contains(&true) {
            return text.to_string();
        }
        // A character is hidden when any of its bytes matched; a run of
        // hidden characters becomes one `***`.
        let mut out = String::with_capacity(text.len());
        let mut hiding = false;
        for (i, c) in text.char_indices() {
            let hide = marked
                .get(i..i + c.len_utf8())
                .is_some_and(|m| m.contains(&true));
            if hide && !hiding {
                out.push_str("***");
            } else if !hide {
                out.push(c);
            }
            hiding = hide;
        }
        out
    }
}

/// The shortest fragment of a key that is redacted wherever it appears.
pub const MIN_FRAGMENT: usize = 8;

fn mark(marked: &mut [bool], start: usize, len: usize) {
    if let Some(m) = marked.get_mut(start..start + len) {
        m.fill(true);
    }
}

/// Eight bytes as one number.
fn gram(window: &[u8]) -> u64 {
    window.iter().fold(0u64, |g, b| (g << 8) | u64::from(*b))
}

/// A set of grams: open addressing with linear probing (no gram of a key
/// or of its base64 is 0, since neither contains a NUL byte).
struct GramSet {
    slots: Vec<u64>,
}

impl GramSet {
    fn with_capacity(n: usize) -> GramSet {
        GramSet {
            slots: vec![0; (n * 2).next_power_of_two().max(16)],
        }
    }

    fn start(&self, g: u64) -> usize {
        // Fibonacci hashing; the mask keeps it in range.
        (g.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & (self.slots.len() - 1)
    }

    fn insert(&mut self, g: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.start(g);
        while let Some(slot) = self.slots.get_mut(i) {
            if *slot == 0 || *slot == g {
                *slot = g;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn contains(&self, g: u64) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.start(g);
        while let Some(&slot) = self.slots.get(i) {
            if slot == g {
                return true;
            }
            if slot == 0 {
                return false;
            }
            i = (i + 1) & mask;
        }
        false
    }
}

/// Every `MIN_FRAGMENT`-byte window, lowercased, of the key and of its
/// base64/base64url forms.
fn key_grams(key: &[u8]) -> GramSet {
    let mut forms = vec![key.to_ascii_lowercase()];
    for align in 0..3usize {
        // `align` unknown bytes before the key: keep only the characters
        // that encode key bits alone.
        let mut bytes = vec![0u8; align];
        bytes.extend_from_slice(key);
        let encoded = crate::providers::standard_base64(&bytes);
        let start = (align * 8).div_ceil(6);
        let end = (bytes.len() * 8) / 6;
        if let Some(clean) = encoded.get(start..end) {
            let clean = clean.to_ascii_lowercase();
            forms.push(clean.replace('+', "-").replace('/', "_").into_bytes());
            forms.push(clean.into_bytes());
        }
    }
    let mut set = GramSet::with_capacity(forms.iter().map(Vec::len).sum());
    for form in &forms {
        for w in form.windows(MIN_FRAGMENT) {
            set.insert(gram(w));
        }
    }
    set
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Removes things that look like provider API keys from free text (provider
/// error messages sometimes echo a key back).
pub fn scrub_key_like(text: &str) -> String {
    const PREFIXES: [&str; 3] = ["sk-", "AIza", "sk_"];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for prefix in PREFIXES {
            if rest.starts_with(prefix) {
                let token_len = rest
                    .char_indices()
                    .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                // Long unmasked tokens are keys; OpenAI's own masked form
                // ("sk-test****1234") stops at the asterisks and stays short.
                if token_len >= 20 {
                    out.push_str(prefix);
                    out.push_str("***");
                    rest = rest.get(token_len..).unwrap_or("");
                    continue 'outer;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("sk-live-1234567890");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(s.last4(), "7890");
    }

    #[test]
    fn redacts_exact_occurrences() {
        let s = Secret::new("abcd-key-9999");
        assert_eq!(s.redact_in("bad key abcd-key-9999!"), "bad key ***!");
        let short = Secret::new("k-42z");
        assert_eq!(short.redact_in("key K-42Z, ok"), "key ***, ok");
        assert_eq!(Secret::new("ab").redact_in("ab"), "ab");
    }

    const KEY: &str = "sk-proj-Qw3rTy8UiOp4AsDfGhJk1ZxCvBnM9";

    fn hidden(text: &str) -> String {
        let out = Secret::new(KEY).redact_in(text);
        for frag in [&KEY[..12], &KEY[8..20], &KEY[KEY.len() - 10..]] {
            assert!(
                !out.to_ascii_lowercase()
                    .contains(&frag.to_ascii_lowercase()),
                "{frag} left in {out}"
            );
        }
        out
    }

    #[test]
    fn redacts_other_cases_fragments_and_splits() {
        assert_eq!(
            hidden(&format!("key {} bad", KEY.to_uppercase())),
            "key *** bad"
        );
        assert_eq!(
            hidden(&format!("key {} bad", KEY.to_lowercase())),
            "key *** bad"
        );
        let without_prefix = KEY.trim_start_matches("sk-proj-");
        assert_eq!(hidden(&format!("got '{without_prefix}'")), "got '***'");
        let (a, b) = KEY.split_at(18);
        assert_eq!(
            hidden(&format!("first {a} then {b}.")),
            "first *** then ***."
        );
        // Ordinary words around it survive; short coincidences do not match.
        assert_eq!(
            hidden("nothing here: Qw3rTy8 sk-proj"),
            "nothing here: Qw3rTy8 sk-proj"
        );
    }

    #[test]
    fn redacts_base64_forms_at_any_alignment() {
        use crate::providers::standard_base64;
        for prefix in ["", "u", "user:", "Bearer ", "ab"] {
            let raw = format!("{prefix}{KEY}");
            let b64 = standard_base64(raw.as_bytes());
            let url = b64
                .replace('+', "-")
                .replace('/', "_")
                .trim_end_matches('=')
                .to_string();
            for form in [b64, url] {
                let out = Secret::new(KEY).redact_in(&format!("auth: Basic {form} end"));
                assert!(out.contains("***") && out.ends_with(" end"), "{out}");
                // What is left of the encoding cannot hold 6 bytes of the key.
                let left = out
                    .trim_start_matches("auth: Basic ")
                    .trim_end_matches(" end");
                assert!(left.replace("***", "").len() <= 2 * 7, "{prefix:?}: {out}");
            }
        }
        // Multi-byte text around a match keeps valid characters.
        let out = Secret::new(KEY).redact_in(&format!("é{}é", KEY.to_uppercase()));
        assert_eq!(out, "é***é");
    }

    #[test]
    fn scrubs_long_key_like_tokens_but_not_masked_ones() {
        let text = "key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234 and sk-test****1234 and AIzaSyA1234567890abcdefghijklmnopqrstuv.";
        let out = scrub_key_like(text);
        assert!(!out.contains("ABCDEFGHIJ"), "{out}");
        assert!(!out.contains("SyA1234567890"), "{out}");
        assert!(out.contains("sk-test****1234"), "{out}");
        assert!(out.ends_with('.'));
    }

    #[test]
    fn last4_of_short_values() {
        assert_eq!(Secret::new("ab").last4(), "ab");
        assert_eq!(Secret::new("ééééé").last4(), "éééé");
    }
}
