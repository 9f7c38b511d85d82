//! What a user stores in KV: provider keys (sealed with [`crate::envelope`])
//! and the config. The KV names, and on wasm32 reading (with the fallback to
//! names from before they were hashed), opening, storing and deleting.

use imagegen::ProviderName;

/// The providers that take keys, in the provider table's order.
pub fn keyed() -> Vec<ProviderName> {
    ProviderName::ALL
        .into_iter()
        .filter(|p| p.spec().needs_key)
        .collect()
}

/// The keyed providers' names for messages: `openai, gemini or stability`.
pub fn keyed_names_for_message() -> String {
    let names: Vec<&str> = keyed().into_iter().map(ProviderName::as_str).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_string(),
        None => String::new(),
    }
}

/// KV's longest key name, in bytes.
pub const MAX_KV_NAME_BYTES: usize = 512;

/// KV names are built from the SHA-256 of the user id (`user_hash`, 64
/// lowercase hex digits), so every `sub` fits KV's name limit. The `#`
/// keeps them apart from the older names, which never contain one.
pub fn key_kv_name(user_hash: &str, provider: ProviderName) -> String {
    format!("key:#{user_hash}:{}", provider.as_str())
}

/// KV name of a user's config.
pub fn config_kv_name(user_hash: &str) -> String {
    format!("config:#{user_hash}")
}

/// Percent-encodes a user id (everything but `A-Za-z0-9-_.`), as KV names
/// were built before they used a hash.
pub fn kv_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn legacy(name: String) -> Option<String> {
    (name.len() <= MAX_KV_NAME_BYTES).then_some(name)
}

/// Where a stored key lived before names were hashed (read as a fallback,
/// removed on the next write); `None` when that name could never exist.
pub fn legacy_key_kv_name(user: &str, provider: ProviderName) -> Option<String> {
    legacy(format!("key:{}:{}", kv_user(user), provider.as_str()))
}

/// Where a config lived before names were hashed.
pub fn legacy_config_kv_name(user: &str) -> Option<String> {
    legacy(format!("config:{}", kv_user(user)))
}

/// Formats unix milliseconds as RFC 3339 UTC (`2026-11-26T07:00:00.123Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let ms = unix_ms % 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil from days (Howard Hinnant).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(target_arch = "wasm32")]
pub use kv::{KeyStore, Loaded};

#[cfg(target_arch = "wasm32")]
mod kv {
    use super::*;
    use crate::auth::User;
    use crate::config::UserConfig;
    use crate::envelope::{self, KeyInfo, OpenError};
    use crate::error::{ApiError, StorageUnavailable};
    use crate::platform::{self, Env, Kv, WebCryptoAead};
    use crate::settings::Settings;
    use imagegen::Secret;

    /// A user's records in the `KEYS` namespace.
    pub struct KeyStore<'a> {
        /// The namespace (idempotency records live there too).
        pub kv: Kv,
        /// Whose records.
        pub user: User,
        settings: &'a Settings,
    }

    /// The config and the raw key records, read in one round trip.
    pub struct Loaded {
        /// The user's config, if stored and readable.
        pub config: Option<UserConfig>,
        keys: Vec<(ProviderName, Result<Option<String>, StorageUnavailable>)>,
    }

    impl<'a> KeyStore<'a> {
        /// The store of `user`; an error when the namespace is not bound.
        pub fn new(env: &Env, user: User, settings: &'a Settings) -> Result<Self, ApiError> {
            let kv = env
                .kv("KEYS")
                .ok_or_else(|| ApiError::server("the KEYS KV namespace is not bound"))?;
            Ok(KeyStore { kv, user, settings })
        }

        /// Completes a read of a record's name: when it is absent, the name
        /// the record had before KV names were hashed (`legacy`). Nothing is
        /// written here: records move to the new name on their next write.
        async fn or_legacy(
            &self,
            read: Result<Option<String>, StorageUnavailable>,
            legacy: Option<String>,
        ) -> Result<Option<String>, ApiError> {
            match (read?, legacy) {
                (Some(v), _) => Ok(Some(v)),
                (None, Some(old)) => Ok(self.kv.get_text(&old).await?),
                (None, None) => Ok(None),
            }
        }

        /// Removes a record's old (pre-hash) name after a write to the new
        /// one. A failure only leaves a record that the new one shadows.
        async fn forget_legacy(&self, legacy: Option<String>) {
            if let Some(old) = legacy {
                if self.kv.delete(&old).await.is_err() {
                    platform::console_warn("could not remove a record under its old KV name");
                }
            }
        }

        async fn key_record(&self, provider: ProviderName) -> Result<Option<String>, ApiError> {
            let read = self
                .kv
                .get_text(&key_kv_name(&self.user.hash, provider))
                .await;
            self.or_legacy(read, legacy_key_kv_name(&self.user.sub, provider))
                .await
        }

        /// The config, if one is stored and readable.
        pub async fn config(&self) -> Result<Option<UserConfig>, ApiError> {
            let read = self.kv.get_text(&config_kv_name(&self.user.hash)).await;
            let raw = self
                .or_legacy(read, legacy_config_kv_name(&self.user.sub))
                .await?;
            Ok(raw.and_then(|r| serde_json::from_slice(r.as_bytes()).ok()))
        }

        /// Stores the config.
        pub async fn put_config(&self, config: &UserConfig) -> Result<(), ApiError> {
            let json = serde_json::to_string(config)
                .map_err(|_| ApiError::server("could not store the config"))?;
            self.kv
                .put(&config_kv_name(&self.user.hash), &json.into(), None)
                .await?;
            self.forget_legacy(legacy_config_kv_name(&self.user.sub))
                .await;
            Ok(())
        }

        /// The config and every key record, read concurrently (one round
        /// trip instead of up to four); see [`KeyStore::open_keys`].
        pub async fn load(&self) -> Result<Loaded, ApiError> {
            let hash = &self.user.hash;
            let keyed = keyed();
            let key_names: Vec<String> = keyed.iter().map(|p| key_kv_name(hash, *p)).collect();
            let keys =
                futures_util::future::join_all(key_names.iter().map(|n| self.kv.get_text(n)));
            let (config, keys) =
                futures_util::future::join(self.kv.get_text(&config_kv_name(hash)), keys).await;
            let raw = self
                .or_legacy(config, legacy_config_kv_name(&self.user.sub))
                .await?;
            Ok(Loaded {
                config: raw.and_then(|r| serde_json::from_slice(r.as_bytes()).ok()),
                keys: keyed.into_iter().zip(keys).collect(),
            })
        }

        /// The keys of the `wanted` providers among `loaded` that open.
        pub async fn open_keys(
            &self,
            loaded: Loaded,
            wanted: &[ProviderName],
        ) -> Result<Vec<(ProviderName, Secret)>, ApiError> {
            let mut secrets = Vec::new();
            for (p, read) in loaded.keys {
                if wanted.contains(&p) {
                    let raw = self
                        .or_legacy(read, legacy_key_kv_name(&self.user.sub, p))
                        .await?;
                    if let Some((secret, _)) = self.open(p, raw).await? {
                        secrets.push((p, secret));
                    }
                }
            }
            Ok(secrets)
        }

        /// What may be shown of each stored key.
        pub async fn key_infos(&self) -> Result<Vec<KeyInfo>, ApiError> {
            let keyed = keyed();
            let reads =
                futures_util::future::join_all(keyed.iter().map(|p| self.key_record(*p))).await;
            let mut infos = Vec::new();
            for (p, raw) in keyed.into_iter().zip(reads) {
                if let Some((_, info)) = self.open(p, raw?).await? {
                    infos.push(info);
                }
            }
            Ok(infos)
        }

        /// Decrypts a stored key read from KV (`raw`). Unreadable records
        /// (tampered, copied from another user or provider, unknown key
        /// version) count as absent. Records under an older master key are
        /// not rewritten here: a read never writes (it could undo a
        /// concurrent PUT or DELETE); they move to the active key when the
        /// user stores the key again.
        async fn open(
            &self,
            provider: ProviderName,
            raw: Option<String>,
        ) -> Result<Option<(Secret, KeyInfo)>, ApiError> {
            let Some(raw) = raw else {
                return Ok(None);
            };
            let keys = self.settings.keys()?;
            let Ok(record) = envelope::parse_record(&raw) else {
                platform::console_warn(&format!("stored key for {provider} is malformed; ignored"));
                return Ok(None);
            };
            match envelope::open(&WebCryptoAead, keys, &self.user.sub, provider, &record).await {
                Ok(secret) => Ok(Some((secret, record.info(provider)))),
                Err(e) => {
                    let why = match e {
                        OpenError::UnknownKeyVersion(_) => "uses an unknown master key version",
                        _ => "does not decrypt for this user",
                    };
                    platform::console_warn(&format!("stored key for {provider} {why}; ignored"));
                    Ok(None)
                }
            }
        }

        /// Seals `key` with the active master key and stores it.
        pub async fn put_key(
            &self,
            provider: ProviderName,
            key: &Secret,
        ) -> Result<KeyInfo, ApiError> {
            let record = envelope::seal(
                &WebCryptoAead,
                self.settings.keys()?,
                &self.user.sub,
                provider,
                key,
                &rfc3339(platform::now_ms()),
            )
            .await
            .map_err(|_| ApiError::server("could not encrypt the key"))?;
            let json = serde_json::to_string(&record)
                .map_err(|_| ApiError::server("could not store the key"))?;
            self.kv
                .put(&key_kv_name(&self.user.hash, provider), &json.into(), None)
                .await?;
            self.forget_legacy(legacy_key_kv_name(&self.user.sub, provider))
                .await;
            Ok(record.info(provider))
        }

        /// Deletes a stored key (under both names); `false` when there was none.
        pub async fn delete_key(&self, provider: ProviderName) -> Result<bool, ApiError> {
            if self.key_record(provider).await?.is_none() {
                return Ok(false);
            }
            self.kv
                .delete(&key_kv_name(&self.user.hash, provider))
                .await?;
            if let Some(old) = legacy_key_kv_name(&self.user.sub, provider) {
                self.kv.delete(&old).await?;
            }
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_providers_come_from_the_table() {
        assert_eq!(
            keyed(),
            [
                ProviderName::Openai,
                ProviderName::Gemini,
                ProviderName::Stability
            ]
        );
        assert_eq!(keyed_names_for_message(), "openai, gemini or stability");
    }

    #[test]
    fn kv_names() {
        let h = "a".repeat(64);
        assert_eq!(
            key_kv_name(&h, ProviderName::Openai),
            format!("key:#{h}:openai")
        );
        assert_eq!(config_kv_name(&h), format!("config:#{h}"));
        assert_eq!(kv_user("4f2c-ab_9.x"), "4f2c-ab_9.x");
        assert_eq!(kv_user("a:b/é"), "a%3Ab%2F%C3%A9");
        assert_eq!(
            legacy_key_kv_name("a:b", ProviderName::Openai).as_deref(),
            Some("key:a%3Ab:openai")
        );
        assert_eq!(legacy_config_kv_name("u1").as_deref(), Some("config:u1"));
        // The old names never contain '#', so no old name equals a new one.
        assert!(!kv_user("#").contains('#'));
        // A sub of 254 '|' or 127 'é' had no valid old name.
        assert_eq!(
            legacy_key_kv_name(&"|".repeat(254), ProviderName::Openai),
            None
        );
        assert_eq!(legacy_config_kv_name(&"é".repeat(127)), None);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_788_000_000_123), "2026-08-29T10:40:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
