//! The Worker's platform pieces: its bindings (variables, KV, the rate
//! limiter), the console, WebCrypto (AES-GCM, HMAC, RSA/ECDSA signatures,
//! SHA-256, random bytes) and the JWKS cache. wasm32 only.
//!
//! The bindings are reached directly through `Reflect` (a few lines each)
//! rather than through a Workers SDK: the Worker starts faster with less
//! wasm and JS glue.

use crate::envelope::{Aead, MasterKey};
use crate::jwt::{Alg, AuthError, Verifier};
use js_sys::{Array, Function, JsString, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    /// `console.log`.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    pub fn console_log(message: &str);
    /// `console.warn`.
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(message: &str);
    /// `console.error`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(message: &str);
    type TextEncoder;
    #[wasm_bindgen(constructor)]
    fn new() -> TextEncoder;
    #[wasm_bindgen(method)]
    fn encode(this: &TextEncoder, text: &JsString) -> Uint8Array;
}

/// Whether `text` takes at most `limit` bytes in UTF-8, without copying it
/// into wasm memory (each UTF-16 unit is 1 to 3 bytes; the exact size is
/// only computed when the bounds do not decide).
pub fn utf8_fits(text: &JsString, limit: usize) -> bool {
    let units = text.length() as usize;
    if units > limit {
        false
    } else if units.saturating_mul(3) <= limit {
        true
    } else {
        TextEncoder::new().encode(text).length() as usize <= limit
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn get(obj: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(obj, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

async fn call_method(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = Reflect::get(obj, &JsValue::from_str(method))?.dyn_into()?;
    let result = f.apply(obj, &args.iter().collect::<Array>())?;
    JsFuture::from(Promise::resolve(&result)).await
}

/// The Worker's `env`: variables, secrets and bindings.
pub struct Env(JsValue);

impl Env {
    /// Wraps the `env` object passed to the fetch handler.
    pub fn new(env: JsValue) -> Env {
        Env(env)
    }

    /// A variable or secret, trimmed; `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        get(&self.0, name)
            .and_then(|v| v.as_string())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// A KV namespace binding.
    pub fn kv(&self, name: &str) -> Option<Kv> {
        get(&self.0, name).map(Kv)
    }

    /// A rate-limiting binding.
    pub fn rate_limiter(&self, name: &str) -> Option<RateLimiter> {
        get(&self.0, name).map(RateLimiter)
    }
}

/// A KV namespace.
pub struct Kv(JsValue);

impl Kv {
    /// The value as text; `None` when absent.
    pub async fn get_text(&self, name: &str) -> Result<Option<String>, JsValue> {
        Ok(call_method(&self.0, "get", &[name.into()])
            .await?
            .as_string())
    }

    /// The value parsed as JSON by the runtime (large strings stay JS
    /// strings); `None` when absent.
    pub async fn get_json(&self, name: &str) -> Result<Option<JsValue>, JsValue> {
        let v = call_method(&self.0, "get", &[name.into(), "json".into()]).await?;
        Ok(Some(v).filter(|v| !v.is_null() && !v.is_undefined()))
    }

    /// Stores a value, expiring after `ttl_s` seconds if given.
    pub async fn put(
        &self,
        name: &str,
        value: &JsValue,
        ttl_s: Option<u64>,
    ) -> Result<(), JsValue> {
        let options = Object::new();
        if let Some(ttl) = ttl_s {
            Reflect::set(
                &options,
                &"expirationTtl".into(),
                &JsValue::from_f64(ttl as f64),
            )?;
        }
        call_method(
            &self.0,
            "put",
            &[name.into(), value.clone(), options.into()],
        )
        .await?;
        Ok(())
    }

    /// Deletes a value (no error when it is absent).
    pub async fn delete(&self, name: &str) -> Result<(), JsValue> {
        call_method(&self.0, "delete", &[name.into()]).await?;
        Ok(())
    }
}

/// A Workers rate-limiting binding.
pub struct RateLimiter(JsValue);

impl RateLimiter {
    /// Whether one more request under `key` is allowed now.
    pub async fn allow(&self, key: &str) -> Result<bool, JsValue> {
        let arg = obj(&[("key", key.into())]);
        let outcome = call_method(&self.0, "limit", &[arg]).await?;
        Ok(get(&outcome, "success").and_then(|s| s.as_bool()) == Some(true))
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    fn import_key(
        format: &str,
        data: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = encrypt, catch)]
    fn subtle_encrypt(
        algorithm: &JsValue,
        key: &JsValue,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = decrypt, catch)]
    fn subtle_decrypt(
        algorithm: &JsValue,
        key: &JsValue,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = verify, catch)]
    fn subtle_verify(
        algorithm: &JsValue,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = digest, catch)]
    fn subtle_digest(algorithm: &str, data: &Uint8Array) -> Result<Promise, JsValue>;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(buf: &Uint8Array) -> Result<JsValue, JsValue>;
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

fn usages(list: &[&str]) -> Array {
    list.iter().map(|u| JsValue::from_str(u)).collect()
}

async fn await_promise(p: Result<Promise, JsValue>) -> Result<JsValue, String> {
    let p = p.map_err(|_| "crypto call refused".to_string())?;
    JsFuture::from(p)
        .await
        .map_err(|_| "crypto operation failed".to_string())
}

/// Fills `buf` with cryptographically secure random bytes.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), String> {
    let arr = Uint8Array::new_with_length(buf.len() as u32);
    get_random_values(&arr).map_err(|_| "crypto.getRandomValues failed".to_string())?;
    arr.copy_to(buf);
    Ok(())
}

/// SHA-256 of `data`, as lowercase hex.
pub async fn sha256_hex(data: &[u8]) -> Result<String, crate::api::ApiError> {
    let out = await_promise(subtle_digest("SHA-256", &Uint8Array::from(data)))
        .await
        .map_err(|_| crate::api::ApiError::server("SHA-256 is unavailable"))?;
    Ok(hex(&Uint8Array::new(&out).to_vec()))
}

/// Random lowercase hex (request ids).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if random_bytes(&mut buf).is_err() {
        // Request ids are not secrets; fall back to Math.random.
        for b in buf.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    hex(&buf)
}

/// AES-256-GCM through WebCrypto.
pub struct WebCryptoAead;

impl WebCryptoAead {
    async fn key(&self, key: &MasterKey, usage: &str) -> Result<JsValue, String> {
        let raw = Uint8Array::from(&key.bytes()[..]);
        await_promise(import_key(
            "raw",
            &raw.into(),
            &obj(&[("name", "AES-GCM".into())]),
            false,
            &usages(&[usage]),
        ))
        .await
    }

    fn params(nonce: &[u8; 12], aad: &[u8]) -> JsValue {
        obj(&[
            ("name", "AES-GCM".into()),
            ("iv", Uint8Array::from(&nonce[..]).into()),
            ("additionalData", Uint8Array::from(aad).into()),
            ("tagLength", JsValue::from_f64(128.0)),
        ])
    }
}

impl Aead for WebCryptoAead {
    async fn seal(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, String> {
        let k = self.key(key, "encrypt").await?;
        let out = await_promise(subtle_encrypt(
            &Self::params(nonce, aad),
            &k,
            &Uint8Array::from(plaintext),
        ))
        .await?;
        Ok(Uint8Array::new(&out).to_vec())
    }

    async fn open(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, String> {
        let k = self.key(key, "decrypt").await?;
        let out = await_promise(subtle_decrypt(
            &Self::params(nonce, aad),
            &k,
            &Uint8Array::from(sealed),
        ))
        .await?;
        Ok(Uint8Array::new(&out).to_vec())
    }

    fn nonce(&self) -> Result<[u8; 12], String> {
        let mut n = [0u8; 12];
        random_bytes(&mut n)?;
        Ok(n)
    }
}

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
                let key = await_promise(import_key(
                    "raw",
                    &raw.into(),
                    &hmac,
                    false,
                    &usages(&["verify"]),
                ))
                .await
                .map_err(|_| AuthError::BadSignature)?;
                (key, JsValue::from_str("HMAC"))
            }
            Alg::Rs256 | Alg::Es256 => {
                let jwk = self.jwk_for(kid.ok_or(AuthError::UnknownKey)?, alg).await?;
                let kty = Reflect::get(&jwk, &"kty".into())
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
                    if let Ok(v) = Reflect::get(&jwk, &field.into()) {
                        if !v.is_undefined() {
                            let _ = Reflect::set(&public, &field.into(), &v);
                        }
                    }
                }
                let key = await_promise(import_key(
                    "jwk",
                    &public.into(),
                    &import_alg,
                    false,
                    &usages(&["verify"]),
                ))
                .await
                .map_err(|_| AuthError::BadSignature)?;
                (key, verify_alg)
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
