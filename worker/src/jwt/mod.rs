//! JWT bearer authentication, compatible with Supabase access tokens.
//!
//! Parsing, the algorithm allow-list and the claim checks are pure; the
//! signature check goes through [`Verifier`] (WebCrypto in the Worker, a
//! software HMAC in tests).

use crate::b64;
use serde::Deserialize;
use std::fmt;

/// Accepted signature algorithms. Nothing else (in particular not `none`,
/// and no other HMAC) is ever accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// HMAC-SHA256 with the shared secret (`JWT_SECRET`, raw UTF-8 bytes).
    Hs256,
    /// RSASSA-PKCS1-v1_5 SHA-256, key from `JWKS_URL` by `kid`.
    Rs256,
    /// ECDSA P-256 SHA-256, key from `JWKS_URL` by `kid`.
    Es256,
}

/// Why a token was refused. Messages are safe to show: they never contain
/// the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// Not three base64url parts of JSON.
    Malformed(&'static str),
    /// `alg` not allowed by the configuration.
    Algorithm(String),
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `aud` does not name this API.
    Audience,
    /// `iss` is not the configured issuer.
    Issuer,
    /// A required claim (`exp`, `sub`) is missing or has the wrong type.
    MissingClaim(&'static str),
    /// No JWKS key has this `kid`.
    UnknownKey,
    /// The JWKS could not be fetched (a server-side problem, not the caller's).
    KeysUnavailable(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Missing => f.write_str("missing bearer token (Authorization: Bearer <JWT>)"),
            AuthError::Malformed(why) => write!(f, "malformed token: {why}"),
            AuthError::Algorithm(alg) => write!(f, "token algorithm {alg:?} is not accepted"),
            AuthError::BadSignature => f.write_str("invalid token signature"),
            AuthError::Expired => f.write_str("token has expired"),
            AuthError::NotYetValid => f.write_str("token is not valid yet"),
            AuthError::Audience => f.write_str("token audience is not accepted"),
            AuthError::Issuer => f.write_str("token issuer is not accepted"),
            AuthError::MissingClaim(c) => write!(f, "token has no valid `{c}` claim"),
            AuthError::UnknownKey => f.write_str("token signing key (kid) is unknown"),
            AuthError::KeysUnavailable(why) => write!(f, "signing keys are unavailable: {why}"),
        }
    }
}

/// What the Worker is configured to accept.
#[derive(Debug, Clone)]
pub struct JwtPolicy {
    /// An HS256 secret is configured.
    pub hs256: bool,
    /// A JWKS URL is configured (RS256/ES256).
    pub jwks: bool,
    /// Required audience.
    pub audience: String,
    /// Required issuer, if configured.
    pub issuer: Option<String>,
    /// Clock leeway in seconds.
    pub leeway_s: f64,
}

impl JwtPolicy {
    /// The default audience of Supabase access tokens.
    pub const DEFAULT_AUDIENCE: &'static str = "authenticated";
    /// Clock leeway.
    pub const LEEWAY_S: f64 = 60.0;
}

/// Checks signatures.
#[allow(async_fn_in_trait)] // single-threaded wasm
pub trait Verifier {
    /// `Ok(())` when `signature` over `input` verifies with the key for `alg`/`kid`.
    async fn verify(
        &self,
        alg: Alg,
        kid: Option<&str>,
        input: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthError>;
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<serde_json::Value>,
    #[serde(default)]
    exp: Option<serde_json::Value>,
    #[serde(default)]
    nbf: Option<serde_json::Value>,
    /// A string or an array of strings.
    #[serde(default)]
    aud: Option<serde_json::Value>,
    #[serde(default)]
    iss: Option<String>,
}

/// A token split into its parts, signature not yet checked.
pub struct Parsed {
    alg: Alg,
    kid: Option<String>,
    claims: Claims,
    signing_input: String,
    signature: Vec<u8>,
}

/// Longest token accepted (Supabase tokens are ~1 KB).
const MAX_TOKEN_LEN: usize = 8192;

/// Extracts the token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// A JSON object, not an array (serde would read a struct from either).
fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Parses a token and checks its algorithm against the policy. Every part
/// must be strict base64url (no padding, no `+`/`/`, unused bits zero), so
/// a token has exactly one spelling; header and payload must be JSON objects.
pub fn parse(token: &str, policy: &JwtPolicy) -> Result<Parsed, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("expected three dot-separated parts"));
    };
    let header_bytes =
        b64::decode_url_strict(h).ok_or(AuthError::Malformed("header is not base64url"))?;
    if !is_object(&header_bytes) {
        return Err(AuthError::Malformed("header is not a JSON object"));
    }
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|_| AuthError::Malformed("header is not a JSON object"))?;
    let alg_name = header.alg.unwrap_or_default();
    let alg = match alg_name.as_str() {
        "HS256" if policy.hs256 => Alg::Hs256,
        "RS256" if policy.jwks => Alg::Rs256,
        "ES256" if policy.jwks => Alg::Es256,
        _ => return Err(AuthError::Algorithm(alg_name)),
    };
    let payload =
        b64::decode_url_strict(p).ok_or(AuthError::Malformed("payload is not base64url"))?;
    if !is_object(&payload) {
        return Err(AuthError::Malformed("payload is not a JSON object"));
    }
    let claims: Claims = serde_json::from_slice(&payload)
        .map_err(|_| AuthError::Malformed("payload is not a JSON object"))?;
    let signature =
        b64::decode_url_strict(s).ok_or(AuthError::Malformed("signature is not base64url"))?;
    if signature.is_empty() {
        return Err(AuthError::BadSignature);
    }
    Ok(Parsed {
        alg,
        kid: header.kid,
        claims,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

fn number(v: &Option<serde_json::Value>) -> Option<Option<f64>> {
    match v {
        None => Some(None),
        Some(serde_json::Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map(Some),
        Some(_) => None,
    }
}

/// Checks `exp`, `nbf`, `aud`, `iss` and `sub`; returns the user id (`sub`).
fn check_claims(claims: &Claims, policy: &JwtPolicy, now_s: f64) -> Result<String, AuthError> {
    let exp = number(&claims.exp)
        .flatten()
        .ok_or(AuthError::MissingClaim("exp"))?;
    if now_s > exp + policy.leeway_s {
        return Err(AuthError::Expired);
    }
    match number(&claims.nbf) {
        None => return Err(AuthError::MissingClaim("nbf")),
        Some(Some(nbf)) if now_s + policy.leeway_s < nbf => return Err(AuthError::NotYetValid),
        _ => {}
    }
    let aud_ok = match &claims.aud {
        Some(serde_json::Value::String(a)) => *a == policy.audience,
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str() == Some(policy.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(AuthError::Audience);
    }
    if let Some(issuer) = &policy.issuer {
        if claims.iss.as_deref() != Some(issuer.as_str()) {
            return Err(AuthError::Issuer);
        }
    }
    match &claims.sub {
        Some(serde_json::Value::String(s)) if !s.is_empty() && s.len() <= 256 => Ok(s.clone()),
        _ => Err(AuthError::MissingClaim("sub")),
    }
}

/// Authenticates a request: bearer token → verified signature → checked
/// claims → user id.
pub async fn authenticate<V: Verifier>(
    authorization: Option<&str>,
    policy: &JwtPolicy,
    verifier: &V,
    now_s: f64,
) -> Result<String, AuthError> {
    let token = bearer(authorization)?;
    let parsed = parse(token, policy)?;
    if parsed.alg != Alg::Hs256 && parsed.kid.is_none() {
        return Err(AuthError::UnknownKey);
    }
    verifier
        .verify(
            parsed.alg,
            parsed.kid.as_deref(),
            parsed.signing_input.as_bytes(),
            &parsed.signature,
        )
        .await?;
    check_claims(&parsed.claims, policy, now_s)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
