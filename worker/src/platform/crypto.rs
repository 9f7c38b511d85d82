//! WebCrypto: AES-256-GCM for stored keys, SHA-256, random bytes.

use super::obj;
use crate::envelope::{Aead, MasterKey};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey, catch)]
    pub(super) fn import_key(
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
    pub(super) fn subtle_verify(
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

pub(super) fn usages(list: &[&str]) -> Array {
    list.iter().map(|u| JsValue::from_str(u)).collect()
}

pub(super) async fn await_promise(p: Result<Promise, JsValue>) -> Result<JsValue, String> {
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
pub async fn sha256_hex(data: &[u8]) -> Result<String, crate::error::ApiError> {
    let out = await_promise(subtle_digest("SHA-256", &Uint8Array::from(data)))
        .await
        .map_err(|_| crate::error::ApiError::server("SHA-256 is unavailable"))?;
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
