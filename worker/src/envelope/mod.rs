//! Encrypted storage of users' provider API keys.
//!
//! AES-256-GCM with a fresh random 96-bit nonce per write. The additional
//! authenticated data binds a record to its format version, master-key id,
//! user and provider, so a ciphertext copied to another user or provider does
//! not decrypt. Master keys come from a secret holding several versions, one
//! of them active; records name their version, old ones still decrypt and
//! are re-encrypted with the active key.
//!
//! The format is pure; the cipher comes through [`Aead`] (WebCrypto in the
//! Worker, RustCrypto in tests).

use crate::b64;
use imagegen::{ProviderName, Secret};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Format version of stored records.
pub const VERSION: u8 = 1;

/// A 256-bit master key (never printed).
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// The raw bytes, for the cipher.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Problems with the master-key configuration (a deployment error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The master keys by id, and which one encrypts new records.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    /// By key id (a handful: a list is smaller code than a map).
    keys: Vec<(String, MasterKey)>,
    active: String,
}

impl MasterKeys {
    /// Reads `KEY_ENCRYPTION_KEYS` (`{"<kid>": "<base64 of 32 bytes>", ...}`)
    /// and `KEY_ENCRYPTION_ACTIVE_KID`.
    pub fn from_config(keys_json: &str, active: &str) -> Result<MasterKeys, ConfigError> {
        let not_an_object =
            || ConfigError("KEY_ENCRYPTION_KEYS must be a JSON object of base64 strings".into());
        let raw: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(keys_json.as_bytes()).map_err(|_| not_an_object())?;
        let mut keys = Vec::with_capacity(raw.len());
        for (kid, value) in raw {
            let value = value.as_str().ok_or_else(not_an_object)?.to_string();
            if kid.is_empty() || kid.len() > 64 || kid.contains('|') {
                return Err(ConfigError(
                    "a key id in KEY_ENCRYPTION_KEYS is empty, too long or contains '|'".into(),
                ));
            }
            let bytes = b64::decode(value.trim())
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    ConfigError(format!(
                        "KEY_ENCRYPTION_KEYS[{kid:?}] is not base64 of 32 bytes"
                    ))
                })?;
            keys.push((kid, MasterKey(bytes)));
        }
        let active = active.trim().to_string();
        if !keys.iter().any(|(kid, _)| *kid == active) {
            return Err(ConfigError(format!(
                "KEY_ENCRYPTION_ACTIVE_KID {active:?} is not a key of KEY_ENCRYPTION_KEYS"
            )));
        }
        Ok(MasterKeys { keys, active })
    }

    /// The id of the key that encrypts new records.
    pub fn active_kid(&self) -> &str {
        &self.active
    }

    fn get(&self, kid: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }
}

/// Why a record could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The record is not valid JSON of the expected shape or version.
    Malformed,
    /// The record names a master key this deployment does not have.
    UnknownKeyVersion(String),
    /// Authentication failed: wrong user/provider/key, or tampered data.
    Rejected,
}

/// The cipher: AES-256-GCM, tag appended to the ciphertext.
#[allow(async_fn_in_trait)] // single-threaded wasm
pub trait Aead {
    /// Encrypts; returns ciphertext ‖ 16-byte tag.
    async fn seal(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, String>;
    /// Decrypts and authenticates; `Err` on any mismatch.
    async fn open(
        &self,
        key: &MasterKey,
        nonce: &[u8; 12],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, String>;
    /// A fresh random nonce (an error if the platform has no secure randomness).
    fn nonce(&self) -> Result<[u8; 12], String>;
}

/// A stored key as it sits in KV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Format version.
    pub v: u8,
    /// Master-key id.
    pub kid: String,
    /// Base64 nonce.
    pub nonce: String,
    /// Base64 ciphertext ‖ tag.
    pub ct: String,
    /// Last four characters of the key, for display.
    pub last4: String,
    /// RFC 3339 time of the last write.
    pub updated_at: String,
}

/// What a caller may see of a stored key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Provider.
    pub provider: ProviderName,
    /// Last four characters.
    pub last4: String,
    /// Master-key id the record is encrypted with.
    pub key_version: String,
    /// RFC 3339 time of the last write.
    pub updated_at: String,
}

impl Record {
    /// The caller-visible fields.
    pub fn info(&self, provider: ProviderName) -> KeyInfo {
        KeyInfo {
            provider,
            last4: self.last4.clone(),
            key_version: self.kid.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// The additional authenticated data: length-prefixed fields, so no two
/// (version, kid, user, provider) tuples encode the same bytes.
pub fn aad(kid: &str, user: &str, provider: ProviderName) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"imagegen-key");
    for field in [&VERSION.to_string(), kid, user, provider.as_str()] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// Encrypts `api_key` for `user` and `provider` with the active master key.
pub async fn seal<A: Aead>(
    aead: &A,
    keys: &MasterKeys,
    user: &str,
    provider: ProviderName,
    api_key: &Secret,
    updated_at: &str,
) -> Result<Record, String> {
    let kid = keys.active_kid();
    let key = keys.get(kid).ok_or("active master key missing")?;
    let nonce = aead.nonce()?;
    let sealed = aead
        .seal(
            key,
            &nonce,
            &aad(kid, user, provider),
            api_key.expose().as_bytes(),
        )
        .await?;
    Ok(Record {
        v: VERSION,
        kid: kid.to_string(),
        nonce: b64::encode(&nonce),
        ct: b64::encode(&sealed),
        last4: api_key.last4(),
        updated_at: updated_at.to_string(),
    })
}

/// Parses a KV value.
pub fn parse_record(json: &str) -> Result<Record, OpenError> {
    let r: Record = serde_json::from_slice(json.as_bytes()).map_err(|_| OpenError::Malformed)?;
    if r.v != VERSION {
        return Err(OpenError::Malformed);
    }
    Ok(r)
}

/// Decrypts a record of `user` for `provider`.
pub async fn open<A: Aead>(
    aead: &A,
    keys: &MasterKeys,
    user: &str,
    provider: ProviderName,
    record: &Record,
) -> Result<Secret, OpenError> {
    let key = keys
        .get(&record.kid)
        .ok_or_else(|| OpenError::UnknownKeyVersion(record.kid.clone()))?;
    let nonce: [u8; 12] = b64::decode(&record.nonce)
        .and_then(|n| n.try_into().ok())
        .ok_or(OpenError::Malformed)?;
    let sealed = b64::decode(&record.ct).ok_or(OpenError::Malformed)?;
    let plain = aead
        .open(key, &nonce, &aad(&record.kid, user, provider), &sealed)
        .await
        .map_err(|_| OpenError::Rejected)?;
    let text = String::from_utf8(plain).map_err(|_| OpenError::Rejected)?;
    Ok(Secret::new(text))
}

/// True when the record should be re-encrypted with the active key.
pub fn needs_rewrap(keys: &MasterKeys, record: &Record) -> bool {
    record.kid != keys.active_kid()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
