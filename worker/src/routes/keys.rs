//! `GET /v1/keys`, `PUT /v1/keys/{provider}`, `DELETE /v1/keys/{provider}`:
//! the user's provider keys (sealed in KV, never returned).

use super::Request;
use crate::error::ApiError;
use crate::platform;
use crate::respond::ok_json;
use imagegen::engine;
use imagegen::{ProviderName, Secret};

/// Timeout of a key check on `PUT /v1/keys/{provider}`.
const VALIDATE_TIMEOUT_MS: u64 = 30_000;
/// Longest API key accepted.
const MAX_KEY_LEN: usize = 1024;

/// `GET /v1/keys`: what may be shown of each stored key.
pub async fn list(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    ok_json(&serde_json::json!({ "data": r.store.key_infos().await? }))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutKeyBody {
    api_key: Option<serde_json::Value>,
}

/// The key in a `PUT /v1/keys/{provider}` body.
fn parse_key(body: &[u8]) -> Result<Secret, ApiError> {
    let parsed: PutKeyBody = serde_json::from_slice(body)
        .map_err(|_| ApiError::invalid("apiKey", "body must be {\"apiKey\": \"...\"}"))?;
    let key = match parsed.api_key {
        Some(serde_json::Value::String(k)) => k.trim().to_string(),
        _ => return Err(ApiError::invalid("apiKey", "`apiKey` must be a string")),
    };
    if key.is_empty()
        || key.len() > MAX_KEY_LEN
        || key.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::invalid(
            "apiKey",
            "`apiKey` must be a non-empty key without spaces",
        ));
    }
    Ok(Secret::new(key))
}

/// Asks the provider whether it accepts `key`.
async fn check_with_provider(
    r: &Request<'_>,
    provider: ProviderName,
    key: &Secret,
) -> Result<(), ApiError> {
    let base = r.settings.base_url(provider)?;
    let runtime = platform::runtime();
    match engine::validate_key(&runtime, provider, key, &base, VALIDATE_TIMEOUT_MS).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            let mut e = ApiError::invalid(
                "apiKey",
                format!("{provider} refused this key; nothing was stored"),
            );
            e.code = "invalid_api_key".into();
            e.provider = Some(provider);
            Err(e)
        }
        Err(e) => {
            let message = format!(
                "could not check the key with {provider}, nothing was stored: {}",
                e.message
            );
            Err(ApiError {
                message,
                ..ApiError::from(e)
            })
        }
    }
}

/// `PUT /v1/keys/{provider}`: checks the key with the provider (unless
/// `?validate=false`), seals it and stores it.
pub async fn put(r: &Request<'_>, provider: ProviderName) -> Result<web_sys::Response, ApiError> {
    if !provider.spec().needs_key {
        return Err(ApiError::invalid(
            "provider",
            format!("the {provider} provider needs no key"),
        ));
    }
    let key = parse_key(&r.body)?;
    // A deployment without master keys fails before the provider is asked.
    r.settings.keys()?;
    let skip_validation = r.url.search_params().get("validate").as_deref() == Some("false");
    if !skip_validation {
        check_with_provider(r, provider, &key).await?;
    }
    ok_json(&r.store.put_key(provider, &key).await?)
}

/// `DELETE /v1/keys/{provider}`.
pub async fn delete(
    r: &Request<'_>,
    provider: ProviderName,
) -> Result<web_sys::Response, ApiError> {
    if !r.store.delete_key(provider).await? {
        return Err(ApiError::new(
            404,
            "key_not_found",
            format!("no key is stored for {provider}"),
        ));
    }
    ok_json(&serde_json::json!({"provider": provider, "deleted": true}))
}
