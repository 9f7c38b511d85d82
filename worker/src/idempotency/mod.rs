//! `Idempotency-Key` on `POST /v1/images/generations` and `/v1/images/edits`:
//! a repeated key (per user, same body) returns the stored result instead of
//! paying again; a concurrent duplicate gets 409; the same key with another
//! body gets 422.
//! A result that cannot be stored (over 24 MiB, or R2 failing for one over
//! 1 MiB) is still returned, and the key is marked done: a repeat gets 410
//! instead of paying again.
//!
//! Records live in the user's Durable Object (`worker/js/state.js`), which
//! claims a key atomically: two identical requests at the same moment, in
//! any two places, run once. A record is `idem:<key hash>` =
//! `{state: "pending" | "done", fp: <body SHA-256>, at: <ms>, body? | r2?}`:
//! a result up to 1 MiB is kept in the object, a larger one in R2 under
//! [`r2_name`].
//! When the object cannot be reached, a request with a key gets 503 before
//! anything is paid; after a run, the images are returned whatever happens
//! to the record.

use crate::error::ApiError;

/// How long a pending idempotency marker blocks duplicates.
const PENDING_MS: f64 = 10.0 * 60.0 * 1000.0;
/// How long a finished result is replayed.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const TTL_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;
/// The header, and the `param` of its errors.
const HEADER: &str = "Idempotency-Key";

/// Name of an idempotency record in the user's Durable Object
/// (`key_hash`: SHA-256 hex of the `Idempotency-Key`).
pub fn record_name(key_hash: &str) -> String {
    format!("idem:{key_hash}")
}

/// R2 name of a result too large for the Durable Object.
pub fn r2_name(user_hash: &str, key_hash: &str) -> String {
    format!("idem/{user_hash}/{key_hash}.json")
}

/// The key, trimmed, if it is 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<&str, ApiError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            HEADER,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(key)
}

/// What a stored record means for a new request with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Replay the stored result.
    Replay,
    /// Run the request (no record, or a stale pending marker).
    Run,
}

/// Decides from a stored record's state, body fingerprint and time (and
/// whether it holds a result) what to do now.
pub fn decide(
    state: &str,
    stored_fp: &str,
    at_ms: f64,
    has_body: bool,
    fp: &str,
    now_ms: f64,
) -> Result<Seen, ApiError> {
    if stored_fp != fp {
        return Err(reused());
    }
    match (state, has_body) {
        ("done", true) => Ok(Seen::Replay),
        ("done", false) => Err(result_not_kept()),
        ("pending", _) if now_ms - at_ms < PENDING_MS => Err(in_use()),
        _ => Ok(Seen::Run),
    }
}

fn reused() -> ApiError {
    let mut e = ApiError::invalid(
        HEADER,
        "this Idempotency-Key was used with a different request body",
    );
    e.status = 422;
    e.code = "idempotency_key_reused".into();
    e
}

fn in_use() -> ApiError {
    let mut e = ApiError::new(
        409,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed; retry later",
    );
    e.param = Some(HEADER.into());
    e.retryable = Some(true);
    e.retry_after_s = Some(1);
    e
}

fn result_not_kept() -> ApiError {
    let mut e = ApiError::new(
        410,
        "idempotency_result_not_kept",
        "the request with this Idempotency-Key succeeded and its images were returned then, \
         but the result could not be kept for replay; it is not generated (or billed) again. \
         Use a new Idempotency-Key to generate again",
    );
    e.param = Some(HEADER.into());
    e.retryable = Some(false);
    e
}

#[cfg(target_arch = "wasm32")]
pub use claim::{begin, run, Begun, Claim, Stored};

#[cfg(target_arch = "wasm32")]
mod claim;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        let h = "a".repeat(64);
        assert_eq!(record_name(&h), format!("idem:{h}"));
        assert_eq!(r2_name("u", "k"), "idem/u/k.json");
        assert_eq!(check_key(" k-1 "), Ok("k-1"));
        assert_eq!(check_key("").unwrap_err().param.as_deref(), Some(HEADER));
        assert!(check_key(&"k".repeat(256)).is_err());
        assert!(check_key("a b").is_err());
    }

    #[test]
    fn decisions() {
        let code = |r: Result<Seen, ApiError>| r.map_err(|e| (e.status, e.code));
        assert_eq!(
            code(decide("done", "f", 0.0, true, "f", 1.0)),
            Ok(Seen::Replay)
        );
        assert_eq!(
            code(decide("done", "f", 0.0, true, "g", 1.0)),
            Err((422, "idempotency_key_reused".into()))
        );
        assert_eq!(
            code(decide("done", "f", 0.0, false, "f", 1.0)),
            Err((410, "idempotency_result_not_kept".into()))
        );
        assert_eq!(
            code(decide("pending", "f", 0.0, false, "f", PENDING_MS - 1.0)),
            Err((409, "idempotency_key_in_use".into()))
        );
        assert_eq!(
            code(decide("pending", "f", 0.0, false, "f", PENDING_MS)),
            Ok(Seen::Run)
        );
    }
}
