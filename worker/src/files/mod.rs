//! Results as links: objects in the R2 bucket bound as `IMAGES`, reached
//! through signed, expiring links `/v1/files/<id>?exp=<unix s>&sig=<sig>`.
//!
//! This module is the pure part (natively tested): object ids, the signed
//! message, the link's query, `URL_TTL_SECONDS`, `Cache-Control` and
//! `If-None-Match`. On wasm32, [`Files`] (in `store.rs`) is the store
//! itself: it writes an object (a base64 image held as a JS string, text or
//! bytes, decoded and written by the platform in `js/files.js` so no image
//! enters wasm memory), signs a link and reads an object back.
//!
//! The signature is HMAC-SHA256 under the secret `URL_SIGNING_KEY` over
//! [`message`]`(id, exp)`, sent as unpadded base64url (43 characters). A
//! link is valid while `exp` (unix seconds) is not past; the object itself
//! also carries its own expiry (`expires` in its custom metadata), and a
//! read refuses it once past, whatever the link says. Deployments add an R2
//! lifecycle rule that deletes objects after the TTL (README, deploy).

#[cfg(target_arch = "wasm32")]
mod links;
#[cfg(target_arch = "wasm32")]
mod store;
#[cfg(target_arch = "wasm32")]
pub use links::{to_links, LINK_UNAVAILABLE};
#[cfg(target_arch = "wasm32")]
pub use store::{Body, FileObject, Files, Stored};

use crate::b64;

/// Link lifetime when `URL_TTL_SECONDS` is unset: one hour.
pub const DEFAULT_TTL_S: u64 = 3600;
/// Shortest accepted `URL_TTL_SECONDS`.
pub const MIN_TTL_S: u64 = 60;
/// Longest accepted `URL_TTL_SECONDS`: seven days.
pub const MAX_TTL_S: u64 = 7 * 24 * 3600;
/// Bytes of randomness in an object id (32 hex characters).
pub const ID_BYTES: usize = 16;
/// Bytes of an HMAC-SHA256 signature.
pub const SIG_BYTES: usize = 32;
/// The path prefix of links.
pub const PATH_PREFIX: &str = "/v1/files/";

/// `URL_TTL_SECONDS`: `Ok` with the TTL (the default when unset), `Err`
/// with the message to log when set but not a whole number of seconds from
/// [`MIN_TTL_S`] to [`MAX_TTL_S`] (the caller then uses the default).
pub fn ttl_setting(value: Option<&str>) -> Result<u64, String> {
    let Some(v) = value else {
        return Ok(DEFAULT_TTL_S);
    };
    match v.trim().parse::<u64>() {
        Ok(s) if (MIN_TTL_S..=MAX_TTL_S).contains(&s) => Ok(s),
        _ => Err(format!(
            "URL_TTL_SECONDS must be {MIN_TTL_S} to {MAX_TTL_S}; using {DEFAULT_TTL_S}"
        )),
    }
}

/// Whether `id` has the shape of an object id: [`ID_BYTES`] random bytes as
/// lowercase hex. Anything else is answered 404 without a bucket read.
pub fn is_id(id: &str) -> bool {
    id.len() == ID_BYTES * 2 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The text a link's signature covers: a version tag, the id and the
/// expiry, one per line (neither can contain a newline).
pub fn message(id: &str, exp: u64) -> String {
    format!("imagegen-file-v1\n{id}\n{exp}")
}

/// A link's path and query, relative to the Worker's origin.
pub fn link_path(id: &str, exp: u64, sig: &[u8]) -> String {
    format!("{PATH_PREFIX}{id}?exp={exp}&sig={}", b64::encode_url(sig))
}

/// A link's query, parsed: its expiry and signature bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkQuery {
    /// Unix seconds after which the link is refused.
    pub exp: u64,
    /// The HMAC-SHA256 ([`SIG_BYTES`] bytes).
    pub sig: Vec<u8>,
}

/// Parses `exp=<digits>&sig=<base64url>` (any order, no other or repeated
/// parameters, the leading `?` optional); `None` for anything else, which
/// the route answers 403 like a wrong signature.
pub fn parse_query(query: &str) -> Option<LinkQuery> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let (mut exp, mut sig) = (None, None);
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        let slot = match name {
            "exp" => &mut exp,
            "sig" => &mut sig,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let exp = exp?;
    if exp.is_empty() || exp.len() > 12 || !exp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sig = b64::decode_url_strict(sig?)?;
    (sig.len() == SIG_BYTES).then_some(LinkQuery {
        exp: exp.parse().ok()?,
        sig,
    })
}

/// `Cache-Control` for an object served until `exp`: private (a link is a
/// credential), for the seconds left.
pub fn cache_control(exp: u64, now_s: u64) -> String {
    format!("private, max-age={}", exp.saturating_sub(now_s))
}

/// Whether an `If-None-Match` header matches `etag` (quoted, as sent in
/// `ETag`): `*`, or a comma-separated list, weak validators compared weakly.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let etag = strip(etag);
    if_none_match
        .split(',')
        .map(strip)
        .any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests;
