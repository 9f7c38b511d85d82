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

    /// Replaces every occurrence of this secret in `text` with `***`.
    pub fn redact_in(&self, text: &str) -> String {
        // Keys shorter than 4 characters would redact ordinary words; those are
        // not real keys and are rejected elsewhere, so leave the text alone.
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(self.0.as_str(), "***")
    }
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
