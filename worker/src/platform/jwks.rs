//! JWT signature checks through WebCrypto: HS256 with the shared secret,
//! RS256/ES256 with keys from the JWKS URL (cached per isolate).

use super::crypto::{await_promise, import_key, subtle_verify, usages};
use super::{get, obj};
use crate::jwt::{Alg, AuthError, Verifier};
use js_sys::{Array, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// How long fetched JWKS keys are trusted.
const JWKS_TTL_MS: f64 = 10.0 * 60.0 * 1000.0;
/// Least time between two JWKS fetches triggered by unknown key ids.
const JWKS_REFRESH_MIN_MS: f64 = 30.0 * 1000.0;
/// How long a failed JWKS fetch is remembered: tokens arriving meanwhile
/// get 503 without another fetch, so forged tokens cannot hammer the URL.
const JWKS_FAILURE_TTL_MS: f64 = 10.0 * 1000.0;

struct JwksCache {
    url: String,
    fetched_at: f64,
    keys: Vec<JsValue>,
    /// When the last fetch failed, and why (cleared by a successful fetch).
    failed: Option<(f64, String)>,
}

thread_local! {
    // One per isolate: JWKS are fetched once and reused across requests.
    static JWKS: RefCell<Option<JwksCache>> = const { RefCell::new(None) };
}

/// Verifies JWT signatures: HS256 with the shared secret, RS256/ES256 with
/// keys from the JWKS URL.
pub struct JwtVerifier {
    /// `JWT_SECRET`, if configured.
    pub secret: Option<imagegen::Secret>,
    /// `JWKS_URL`, if configured.
    pub jwks_url: Option<String>,
}

fn string_field(jwk: &JsValue, name: &str) -> Option<String> {
    get(jwk, name).and_then(|v| v.as_string())
}

/// Whether a JWK may verify a token of `alg` with key id `kid`: the kid
/// matches, and `use`, `alg` and `key_ops`, when present, allow it.
fn jwk_fits(jwk: &JsValue, kid: &str, alg: Alg) -> bool {
    let alg_name = match alg {
        Alg::Hs256 => "HS256",
        Alg::Rs256 => "RS256",
        Alg::Es256 => "ES256",
    };
    let ops_ok = match get(jwk, "key_ops") {
        None => true,
        Some(ops) => {
            Array::is_array(&ops)
                && Array::from(&ops)
                    .iter()
                    .any(|o| o.as_string().as_deref() == Some("verify"))
        }
    };
    string_field(jwk, "kid").as_deref() == Some(kid)
        && string_field(jwk, "use").is_none_or(|u| u == "sig")
        && string_field(jwk, "alg").is_none_or(|a| a == alg_name)
        && ops_ok
}

async fn fetch_jwks(url: &str) -> Result<Vec<JsValue>, AuthError> {
    let unavailable = |why: &str| AuthError::KeysUnavailable(why.to_string());
    let req = web_sys::Request::new_with_str(url).map_err(|_| unavailable("bad JWKS_URL"))?;
    let resp: web_sys::Response = JsFuture::from(
        imagegen::wasm::js::global_fetch(&req).map_err(|_| unavailable("fetch failed"))?,
    )
    .await
    .map_err(|_| unavailable("JWKS fetch failed"))?
    .dyn_into()
    .map_err(|_| unavailable("JWKS fetch failed"))?;
    if !resp.ok() {
        return Err(unavailable(&format!(
            "JWKS answered HTTP {}",
            resp.status()
        )));
    }
    let json = JsFuture::from(
        resp.json()
            .map_err(|_| unavailable("JWKS body unreadable"))?,
    )
    .await
    .map_err(|_| unavailable("JWKS is not JSON"))?;
    let keys = Reflect::get(&json, &"keys".into()).map_err(|_| unavailable("JWKS has no keys"))?;
    if !Array::is_array(&keys) {
        return Err(unavailable("JWKS has no keys array"));
    }
    Ok(Array::from(&keys).iter().collect())
}

impl JwtVerifier {
    async fn jwk_for(&self, kid: &str, alg: Alg) -> Result<JsValue, AuthError> {
        let url = self.jwks_url.clone().ok_or(AuthError::UnknownKey)?;
        let now = js_sys::Date::now();
        let find = |keys: &[JsValue]| keys.iter().find(|k| jwk_fits(k, kid, alg)).cloned();
        let cached = JWKS.with(|c| {
            c.borrow().as_ref().filter(|j| j.url == url).map(|j| {
                let fresh = now - j.fetched_at < JWKS_TTL_MS;
                let failure = j
                    .failed
                    .as_ref()
                    .filter(|(at, _)| now - at < JWKS_FAILURE_TTL_MS)
                    .map(|(_, why)| why.clone());
                (fresh, find(&j.keys), now - j.fetched_at, failure)
            })
        });
        match cached {
            Some((true, Some(jwk), _, _)) => return Ok(jwk),
            Some((_, _, _, Some(why))) => return Err(AuthError::KeysUnavailable(why)),
            // A fresh cache without the kid: refetch only now and then, so
            // tokens with made-up kids cannot make us hammer the JWKS URL.
            Some((true, None, age, None)) if age < JWKS_REFRESH_MIN_MS => {
                return Err(AuthError::UnknownKey)
            }
            _ => {}
        }
        match fetch_jwks(&url).await {
            Ok(keys) => {
                let found = find(&keys);
                JWKS.with(|c| {
                    *c.borrow_mut() = Some(JwksCache {
                        url,
                        fetched_at: now,
                        keys,
                        failed: None,
                    })
                });
                found.ok_or(AuthError::UnknownKey)
            }
            Err(e) => {
                let why = match &e {
                    AuthError::KeysUnavailable(w) => w.clone(),
                    other => other.to_string(),
                };
                // Keep the keys fetched before (they may still verify).
                JWKS.with(|c| {
                    let mut c = c.borrow_mut();
                    match c.as_mut().filter(|j| j.url == url) {
                        Some(j) => j.failed = Some((now, why)),
                        None => {
                            *c = Some(JwksCache {
                                url,
                                fetched_at: f64::NEG_INFINITY,
                                keys: Vec::new(),
                                failed: Some((now, why)),
                            })
                        }
                    }
                });
                Err(e)
            }
        }
    }
}

/// A verification key imported from `data` (raw bytes or a JWK).
async fn import_verify_key(
    format: &str,
    data: JsValue,
    algorithm: &JsValue,
) -> Result<JsValue, AuthError> {
    await_promise(import_key(
        format,
        &data,
        algorithm,
        false,
        &usages(&["verify"]),
    ))
    .await
    .map_err(|_| AuthError::BadSignature)
}

/// The public key of a JWK for `alg` (RS256 or ES256), and the algorithm
/// to verify with.
async fn public_key(jwk: &JsValue, alg: Alg) -> Result<(JsValue, JsValue), AuthError> {
    let kty = Reflect::get(jwk, &"kty".into())
        .ok()
        .and_then(|k| k.as_string());
    let (expected_kty, import_alg, verify_alg) = match alg {
        Alg::Rs256 => (
            "RSA",
            obj(&[
                ("name", "RSASSA-PKCS1-v1_5".into()),
                ("hash", "SHA-256".into()),
            ]),
            JsValue::from_str("RSASSA-PKCS1-v1_5"),
        ),
        _ => (
            "EC",
            obj(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())]),
            obj(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())]),
        ),
    };
    if kty.as_deref() != Some(expected_kty) {
        // The key's type must match the token's algorithm (no confusion attacks).
        return Err(AuthError::BadSignature);
    }
    // Import only the public parameters, whatever else the JWK holds.
    let public = Object::new();
    for field in ["kty", "n", "e", "crv", "x", "y"] {
        if let Ok(v) = Reflect::get(jwk, &field.into()) {
            if !v.is_undefined() {
                let _ = Reflect::set(&public, &field.into(), &v);
            }
        }
    }
    let key = import_verify_key("jwk", public.into(), &import_alg).await?;
    Ok((key, verify_alg))
}

impl Verifier for JwtVerifier {
    async fn verify(
        &self,
        alg: Alg,
        kid: Option<&str>,
        input: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthError> {
        let (key, algorithm) = match alg {
            Alg::Hs256 => {
                let secret = self
                    .secret
                    .as_ref()
                    .ok_or(AuthError::Algorithm("HS256".into()))?;
                let hmac = obj(&[("name", "HMAC".into()), ("hash", "SHA-256".into())]);
                let raw = Uint8Array::from(secret.expose().as_bytes());
                let key = import_verify_key("raw", raw.into(), &hmac).await?;
                (key, JsValue::from_str("HMAC"))
            }
            Alg::Rs256 | Alg::Es256 => {
                let jwk = self.jwk_for(kid.ok_or(AuthError::UnknownKey)?, alg).await?;
                public_key(&jwk, alg).await?
            }
        };
        let ok = await_promise(subtle_verify(
            &algorithm,
            &key,
            &Uint8Array::from(signature),
            &Uint8Array::from(input),
        ))
        .await
        .map_err(|_| AuthError::BadSignature)?;
        if ok.as_bool() == Some(true) {
            Ok(())
        } else {
            Err(AuthError::BadSignature)
        }
    }
}
