//! Request handling: auth, body limits, routes, KV, the engine. wasm32 only.

use crate::api::{self, ApiError, Cors, Route, MAX_BODY_BYTES};
use crate::config::{self, UserConfig};
use crate::envelope::{self, KeyInfo, MasterKeys, OpenError, Record};
use crate::images::{self, ModelChoice};
use crate::jwt::{self, AuthError, JwtPolicy};
use crate::platform::{self, Env, JwtVerifier, Kv, WebCryptoAead};
use imagegen::engine::{self, NoEvents, Runtime};
use imagegen::model::{ProviderConfig, Warning, WarningCode};
use imagegen::runtime::CancelToken;
use imagegen::validate::{default_base_url, parse_origin};
use imagegen::wasm::{DateClock, FetchTransport, TimerSleeper};
use imagegen::{ProviderName, Secret};
use js_sys::{Function, JsString, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Providers that take keys.
const KEYED: [ProviderName; 3] = [
    ProviderName::Openai,
    ProviderName::Gemini,
    ProviderName::Stability,
];
/// Timeout of a key check on `PUT /v1/keys/{provider}`.
const VALIDATE_TIMEOUT_MS: u64 = 30_000;
/// Longest API key accepted.
const MAX_KEY_LEN: usize = 1024;

/// Settings read from the environment for one request.
pub struct Settings {
    /// CORS allow-list.
    pub cors: Cors,
    policy: JwtPolicy,
    verifier: JwtVerifier,
    master_keys: Result<MasterKeys, String>,
    base_urls: Result<[String; 3], String>,
    /// Requests that write or call a provider, per user per minute
    /// (`RATE_LIMIT_PER_MINUTE`; 0 = off).
    rate_limit_per_minute: u32,
    /// Retry budget and circuit breakers of this isolate's engine client.
    client: imagegen::client::ClientSettings,
    /// `ENABLE_MOCK_PROVIDER`: the offline `mock` provider may be used.
    mock_enabled: bool,
    /// `EXPOSE_MEMORY_STATS`: `/healthz` reports the wasm memory size.
    expose_memory: bool,
}

/// Rate limit when `RATE_LIMIT_PER_MINUTE` is unset or unreadable.
const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 30;

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
}

fn flag(env: &Env, name: &str) -> bool {
    var(env, name).is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// Logs a configuration problem once per isolate (settings are read per request).
fn warn_once(what: &str) {
    thread_local! {
        static WARNED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let first = WARNED.with(|w| {
        let mut w = w.borrow_mut();
        let first = !w.iter().any(|x| x == what);
        if first {
            w.push(what.to_string());
        }
        first
    });
    if first {
        platform::console_warn(what);
    }
}

fn rate_limit_setting(env: &Env) -> u32 {
    match var(env, "RATE_LIMIT_PER_MINUTE") {
        None => DEFAULT_RATE_LIMIT_PER_MINUTE,
        Some(v) => v.parse().unwrap_or_else(|_| {
            warn_once(&format!(
                "RATE_LIMIT_PER_MINUTE is not a whole number; using {DEFAULT_RATE_LIMIT_PER_MINUTE}"
            ));
            DEFAULT_RATE_LIMIT_PER_MINUTE
        }),
    }
}

impl Settings {
    /// Reads every variable and secret the Worker uses.
    pub fn from_env(env: &Env) -> Settings {
        let secret = var(env, "JWT_SECRET").map(Secret::new);
        let jwks_url = var(env, "JWKS_URL");
        let policy = JwtPolicy {
            hs256: secret.is_some(),
            jwks: jwks_url.is_some(),
            audience: var(env, "JWT_AUDIENCE")
                .unwrap_or_else(|| JwtPolicy::DEFAULT_AUDIENCE.to_string()),
            issuer: var(env, "JWT_ISSUER"),
            leeway_s: JwtPolicy::LEEWAY_S,
        };
        let master_keys = match (
            var(env, "KEY_ENCRYPTION_KEYS"),
            var(env, "KEY_ENCRYPTION_ACTIVE_KID"),
        ) {
            (Some(keys), Some(active)) => {
                MasterKeys::from_config(&keys, &active).map_err(|e| e.to_string())
            }
            _ => Err("KEY_ENCRYPTION_KEYS and KEY_ENCRYPTION_ACTIVE_KID must be set".to_string()),
        };
        // Development and tests only: point providers at a mock. Never taken from a request.
        let base_urls = (|| {
            let mut urls = [String::new(), String::new(), String::new()];
            for (slot, (p, name)) in urls.iter_mut().zip([
                (ProviderName::Openai, "OPENAI_BASE_URL"),
                (ProviderName::Gemini, "GEMINI_BASE_URL"),
                (ProviderName::Stability, "STABILITY_BASE_URL"),
            ]) {
                *slot = match var(env, name) {
                    Some(u) => parse_origin(name, &u).map_err(|e| e.message)?,
                    None => default_base_url(p).to_string(),
                };
            }
            Ok(urls)
        })();
        Settings {
            cors: Cors::new(&var(env, "ALLOWED_ORIGINS").unwrap_or_default()),
            policy,
            verifier: JwtVerifier { secret, jwks_url },
            master_keys,
            base_urls,
            rate_limit_per_minute: rate_limit_setting(env),
            client: client_settings(env),
            mock_enabled: flag(env, "ENABLE_MOCK_PROVIDER"),
            expose_memory: flag(env, "EXPOSE_MEMORY_STATS"),
        }
    }

    fn keys(&self) -> Result<&MasterKeys, ApiError> {
        self.master_keys
            .as_ref()
            .map_err(|e| ApiError::server(e.clone()))
    }

    fn base_url(&self, provider: ProviderName) -> Result<String, ApiError> {
        let urls = self
            .base_urls
            .as_ref()
            .map_err(|e| ApiError::server(e.clone()))?;
        Ok(match provider {
            ProviderName::Openai => urls[0].clone(),
            ProviderName::Gemini => urls[1].clone(),
            ProviderName::Stability => urls[2].clone(),
            ProviderName::Mock => default_base_url(ProviderName::Mock).to_string(),
        })
    }
}

/// Tuning of the per-isolate retry budget and circuit breakers (optional
/// variables; the library's defaults otherwise).
fn client_settings(env: &Env) -> imagegen::client::ClientSettings {
    let mut s = imagegen::client::ClientSettings::default();
    let num = |name: &str| {
        var(env, name)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    if let Some(v) = num("RETRY_BUDGET_RATIO") {
        s.budget.ratio = v;
    }
    if let Some(v) = num("RETRY_BUDGET_MIN_RETRIES") {
        s.budget.min_retries = v as u32;
    }
    if let Some(v) = num("CIRCUIT_BREAKER_FAILURES") {
        s.breaker.failure_threshold = (v as u32).max(1);
    }
    if let Some(v) = num("CIRCUIT_BREAKER_COOLDOWN_MS") {
        s.breaker.cooldown_ms = v as u64;
    }
    if let Some(v) = num("CIRCUIT_BREAKER_HARD_COOLDOWN_MS") {
        s.breaker.hard_cooldown_ms = v as u64;
    }
    s
}

fn header(req: &web_sys::Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn runtime() -> Runtime<FetchTransport, TimerSleeper, DateClock, imagegen::runtime::SplitMix64> {
    Runtime {
        transport: FetchTransport,
        sleeper: TimerSleeper,
        clock: DateClock,
        rng: imagegen::wasm::transport::seeded_rng(),
    }
}

fn now_ms() -> u64 {
    js_sys::Date::now().max(0.0) as u64
}

/// A response with a JSON body held as a JS string.
pub fn json_response(
    status: u16,
    body: &JsValue,
    headers: &[(&str, String)],
) -> Result<web_sys::Response, JsValue> {
    let h = web_sys::Headers::new()?;
    h.set("content-type", "application/json")?;
    for (k, v) in headers {
        h.set(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    let ctor: Function = Reflect::get(&js_sys::global(), &"Response".into())?.unchecked_into();
    let args = js_sys::Array::of2(body, &init);
    Reflect::construct(&ctor, &args)?.dyn_into()
}

/// An empty response (preflight, HEAD).
pub fn empty_response(
    status: u16,
    headers: &[(&str, String)],
) -> Result<web_sys::Response, JsValue> {
    let h = web_sys::Headers::new()?;
    for (k, v) in headers {
        h.set(k, v)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    web_sys::Response::new_with_opt_str_and_init(None, &init)
}

/// The response for an error.
pub fn error_response(e: &ApiError) -> Result<web_sys::Response, JsValue> {
    let mut headers = Vec::new();
    if let Some(allow) = e.allow {
        headers.push(("allow", allow.to_string()));
    }
    if let Some(s) = e.retry_after_s {
        headers.push(("retry-after", s.to_string()));
    }
    if let Some(r) = e.retryable {
        // OpenAI SDKs honour this instead of retrying every 5xx.
        headers.push(("x-should-retry", r.to_string()));
    }
    json_response(e.status, &JsValue::from_str(&e.body()), &headers)
}

/// A plain JS object (image strings pass through as the same JS values).
fn to_js_object<T: Serialize>(value: &T) -> Result<JsValue, ApiError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|_| ApiError::server("could not serialise the response"))
}

/// JSON text, built by `JSON.stringify` in JS.
fn stringify(js: &JsValue) -> Result<JsValue, ApiError> {
    js_sys::JSON::stringify(js)
        .map(JsValue::from)
        .map_err(|_| ApiError::server("could not serialise the response"))
}

fn to_json<T: Serialize>(value: &T) -> Result<JsValue, ApiError> {
    stringify(&to_js_object(value)?)
}

fn ok_json<T: Serialize>(value: &T) -> Result<web_sys::Response, ApiError> {
    json_response(200, &to_json(value)?, &[])
        .map_err(|_| ApiError::server("could not build the response"))
}

/// Reads the body, refusing more than 1 MiB whether or not a
/// Content-Length was sent.
async fn read_body(req: &web_sys::Request) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    if let Some(len) = header(req, "content-length").and_then(|l| l.trim().parse::<u64>().ok()) {
        if len > MAX_BODY_BYTES as u64 {
            return Err(too_large());
        }
    }
    let Some(stream) = req.body() else {
        return Ok(Vec::new());
    };
    let unreadable = |_| ApiError::invalid("body", "request body could not be read");
    let get_reader: Function = Reflect::get(&stream, &"getReader".into())
        .map_err(unreadable)?
        .unchecked_into();
    let reader = get_reader.call0(&stream).map_err(unreadable)?;
    let read: Function = Reflect::get(&reader, &"read".into())
        .map_err(unreadable)?
        .unchecked_into();
    let mut body = Vec::new();
    loop {
        let chunk = JsFuture::from(js_sys::Promise::from(
            read.call0(&reader).map_err(unreadable)?,
        ))
        .await
        .map_err(unreadable)?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            == Some(true)
        {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(unreadable)?;
        let bytes: Uint8Array = value.dyn_into().map_err(unreadable)?;
        if body.len() + bytes.length() as usize > MAX_BODY_BYTES {
            if let Ok(cancel) = Reflect::get(&reader, &"cancel".into()) {
                if let Ok(cancel) = cancel.dyn_into::<Function>() {
                    let _ = cancel.call0(&reader);
                }
            }
            return Err(too_large());
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
    Ok(body)
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::KeysUnavailable(_) => ApiError::new(503, "auth_unavailable", e.to_string()),
        other => ApiError::unauthorized(other.to_string()),
    }
}

fn kv(env: &Env) -> Result<Kv, ApiError> {
    env.kv("KEYS")
        .ok_or_else(|| ApiError::server("the KEYS KV namespace is not bound"))
}

fn kv_error<E>(_: E) -> ApiError {
    ApiError::new(
        503,
        "storage_unavailable",
        "the key store is unavailable; try again",
    )
}

/// The authenticated user: the token's `sub` (bound into the encryption of
/// stored keys) and its SHA-256 (what KV names are built from).
pub struct User {
    sub: String,
    hash: String,
}

/// Handles one request (after CORS preflight handling).
pub async fn handle(
    req: &web_sys::Request,
    env: &Env,
    settings: &Settings,
) -> Result<web_sys::Response, ApiError> {
    let url =
        web_sys::Url::new(&req.url()).map_err(|_| ApiError::invalid("url", "bad request URL"))?;
    let method = req.method();
    let route = api::route(&method, &url.pathname())?;
    if route == Route::Health {
        return health(settings);
    }
    let sub = jwt::authenticate(
        header(req, "authorization").as_deref(),
        &settings.policy,
        &settings.verifier,
        js_sys::Date::now() / 1000.0,
    )
    .await
    .map_err(auth_error)?;
    let user = User {
        hash: platform::sha256_hex(sub.as_bytes()).await?,
        sub,
    };
    // Every route that writes or calls a provider counts against the
    // user's limit, before its body is even read.
    if matches!(
        route,
        Route::PutKey(_) | Route::DeleteKey(_) | Route::PutConfig | Route::Generate
    ) {
        rate_limit(env, settings, &user).await?;
    }

    let body = if matches!(method.as_str(), "POST" | "PUT") {
        if !api::is_json(header(req, "content-type").as_deref()) {
            return Err(ApiError::new(
                415,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        read_body(req).await?
    } else {
        Vec::new()
    };
    let store = kv(env)?;
    match route {
        Route::Health => health(settings),
        Route::ListKeys => {
            let reads = KEYED.map(|p| read_key_record(&store, &user, p));
            let mut data = Vec::new();
            for (p, raw) in KEYED
                .into_iter()
                .zip(futures_util::future::join_all(reads).await)
            {
                if let Some((_, info)) = open_key(settings, &user, p, raw?).await? {
                    data.push(info);
                }
            }
            ok_json(&serde_json::json!({ "data": data }))
        }
        Route::PutKey(p) => put_key(&store, settings, &user, p, &url, &body).await,
        Route::DeleteKey(p) => {
            let name = api::key_kv_name(&user.hash, p);
            let legacy = api::legacy_key_kv_name(&user.sub, p);
            let existing = read_with_fallback(&store, &name, legacy.as_deref()).await?;
            if existing.is_none() {
                return Err(ApiError::new(
                    404,
                    "key_not_found",
                    format!("no key is stored for {p}"),
                ));
            }
            store.delete(&name).await.map_err(kv_error)?;
            if let Some(old) = legacy {
                store.delete(&old).await.map_err(kv_error)?;
            }
            ok_json(&serde_json::json!({"provider": p, "deleted": true}))
        }
        Route::GetConfig => match load_config(&store, &user).await? {
            Some(c) => ok_json(&c),
            None => Err(ApiError::new(
                404,
                "config_not_found",
                "no config is stored; PUT /v1/config first",
            )),
        },
        Route::PutConfig => {
            let c = config::parse(&body)?;
            config::check_mock_allowed(&c, settings.mock_enabled)?;
            let json = serde_json::to_string(&c)
                .map_err(|_| ApiError::server("could not store the config"))?;
            store
                .put(&api::config_kv_name(&user.hash), &json.into(), None)
                .await
                .map_err(kv_error)?;
            forget_legacy(&store, api::legacy_config_kv_name(&user.sub)).await;
            ok_json(&c)
        }
        Route::Generate => match header(req, "idempotency-key") {
            None => {
                let obj = generate(&store, settings, &user, &body).await?;
                json_response(200, &stringify(&obj)?, &[])
                    .map_err(|_| ApiError::server("could not build the response"))
            }
            Some(key) => idempotent_generate(&store, settings, &user, &key, &body).await,
        },
    }
}

thread_local! {
    // One long-lived engine client per isolate: a retry budget and circuit
    // breakers shared by all requests, so an outage does not multiply load.
    static CLIENT: std::cell::RefCell<Option<std::rc::Rc<imagegen::client::ClientState>>> =
        const { std::cell::RefCell::new(None) };
    // Idempotency keys being processed by this isolate.
    static IN_FLIGHT: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    // Per-isolate sliding windows of requests by user.
    static WINDOWS: std::cell::RefCell<crate::ratelimit::Windows> =
        std::cell::RefCell::new(crate::ratelimit::Windows::default());
}

/// The per-user rate limit: the `RATE_LIMITER` binding when there is one
/// (shared across isolates), else `RATE_LIMIT_PER_MINUTE` per isolate.
async fn rate_limit(env: &Env, settings: &Settings, user: &User) -> Result<(), ApiError> {
    let limited = |retry_after_s: u64| {
        let mut e = ApiError::new(
            429,
            "rate_limit_exceeded",
            "too many requests; slow down and retry after the Retry-After delay",
        );
        e.retry_after_s = Some(retry_after_s.max(1));
        e.retryable = Some(true);
        e
    };
    if let Some(limiter) = env.rate_limiter("RATE_LIMITER") {
        let allowed = limiter.allow(&user.hash).await.map_err(|_| {
            ApiError::new(
                503,
                "rate_limiter_unavailable",
                "the rate limiter is unavailable",
            )
        })?;
        return if allowed { Ok(()) } else { Err(limited(60)) };
    }
    if settings.rate_limit_per_minute == 0 {
        return Ok(());
    }
    let now = js_sys::Date::now();
    WINDOWS
        .with(|w| {
            w.borrow_mut()
                .hit(&user.hash, settings.rate_limit_per_minute, now)
        })
        .map_err(limited)
}

/// Liveness; with `EXPOSE_MEMORY_STATS`, this isolate's wasm memory (load
/// tests watch it stay flat). Not for production: it tells anyone how
/// busy an isolate is.
fn health(settings: &Settings) -> Result<web_sys::Response, ApiError> {
    if settings.expose_memory {
        let pages = core::arch::wasm32::memory_size(0);
        ok_json(&serde_json::json!({"status": "ok", "wasmMemoryBytes": pages * 65536}))
    } else {
        ok_json(&serde_json::json!({"status": "ok"}))
    }
}

/// Reads `name`, or the name the same record had before KV names were
/// hashed (`legacy`) when `name` is absent. Nothing is written here: records
/// move to the new name on their next write.
async fn read_with_fallback(
    store: &Kv,
    name: &str,
    legacy: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if let Some(v) = store.get_text(name).await.map_err(kv_error)? {
        return Ok(Some(v));
    }
    match legacy {
        Some(old) => store.get_text(old).await.map_err(kv_error),
        None => Ok(None),
    }
}

/// Removes a record's old (pre-hash) name after a write to the new one.
/// A failure only leaves a record that the new one shadows.
async fn forget_legacy(store: &Kv, legacy: Option<String>) {
    if let Some(old) = legacy {
        if store.delete(&old).await.is_err() {
            platform::console_warn("could not remove a record under its old KV name");
        }
    }
}

async fn read_key_record(
    store: &Kv,
    user: &User,
    provider: ProviderName,
) -> Result<Option<String>, ApiError> {
    read_with_fallback(
        store,
        &api::key_kv_name(&user.hash, provider),
        api::legacy_key_kv_name(&user.sub, provider).as_deref(),
    )
    .await
}

async fn load_config(store: &Kv, user: &User) -> Result<Option<UserConfig>, ApiError> {
    let raw = read_with_fallback(
        store,
        &api::config_kv_name(&user.hash),
        api::legacy_config_kv_name(&user.sub).as_deref(),
    )
    .await?;
    Ok(raw.and_then(|r| serde_json::from_slice(r.as_bytes()).ok()))
}

/// Decrypts a stored key read from KV (`raw`). Unreadable records
/// (tampered, copied from another user or provider, unknown key version)
/// count as absent. Records under an older master key are not rewritten
/// here: a read never writes (it could undo a concurrent PUT or DELETE);
/// they move to the active key when the user stores the key again.
async fn open_key(
    settings: &Settings,
    user: &User,
    provider: ProviderName,
    raw: Option<String>,
) -> Result<Option<(Secret, KeyInfo)>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let keys = settings.keys()?;
    let record = match envelope::parse_record(&raw) {
        Ok(r) => r,
        Err(_) => {
            platform::console_warn(&format!("stored key for {provider} is malformed; ignored"));
            return Ok(None);
        }
    };
    let secret = match envelope::open(&WebCryptoAead, keys, &user.sub, provider, &record).await {
        Ok(s) => s,
        Err(OpenError::UnknownKeyVersion(_)) => {
            platform::console_warn(&format!(
                "stored key for {provider} uses an unknown master key version; ignored"
            ));
            return Ok(None);
        }
        Err(_) => {
            platform::console_warn(&format!(
                "stored key for {provider} does not decrypt for this user; ignored"
            ));
            return Ok(None);
        }
    };
    Ok(Some((secret, record.info(provider))))
}

async fn store_record(store: &Kv, name: &str, record: &Record) -> Result<(), ApiError> {
    let json =
        serde_json::to_string(record).map_err(|_| ApiError::server("could not store the key"))?;
    store.put(name, &json.into(), None).await.map_err(kv_error)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutKeyBody {
    api_key: Option<serde_json::Value>,
}

async fn put_key(
    store: &Kv,
    settings: &Settings,
    user: &User,
    provider: ProviderName,
    url: &web_sys::Url,
    body: &[u8],
) -> Result<web_sys::Response, ApiError> {
    if provider == ProviderName::Mock {
        return Err(ApiError::invalid(
            "provider",
            "the mock provider needs no key",
        ));
    }
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
    let key = Secret::new(key);
    let keys = settings.keys()?;
    let skip_validation = url.search_params().get("validate").as_deref() == Some("false");
    if !skip_validation {
        let base = settings.base_url(provider)?;
        match engine::validate_key(&runtime(), provider, &key, &base, VALIDATE_TIMEOUT_MS).await {
            Ok(true) => {}
            Ok(false) => {
                let mut e = ApiError::invalid(
                    "apiKey",
                    format!("{provider} refused this key; nothing was stored"),
                );
                e.code = "invalid_api_key".into();
                e.provider = Some(provider);
                return Err(e);
            }
            Err(e) => {
                let mut api = ApiError::from_engine(&e);
                api.message = format!(
                    "could not check the key with {provider}, nothing was stored: {}",
                    e.message
                );
                return Err(api);
            }
        }
    }
    let record = envelope::seal(
        &WebCryptoAead,
        keys,
        &user.sub,
        provider,
        &key,
        &api::rfc3339(now_ms()),
    )
    .await
    .map_err(|_| ApiError::server("could not encrypt the key"))?;
    store_record(store, &api::key_kv_name(&user.hash, provider), &record).await?;
    forget_legacy(store, api::legacy_key_kv_name(&user.sub, provider)).await;
    ok_json(&record.info(provider))
}

async fn generate(
    store: &Kv,
    settings: &Settings,
    user: &User,
    body: &[u8],
) -> Result<JsValue, ApiError> {
    // The config and the stored keys are read from KV concurrently (one round
    // trip instead of up to four); only the keys the chain needs are decrypted.
    let key_names = KEYED.map(|p| api::key_kv_name(&user.hash, p));
    let config_name = api::config_kv_name(&user.hash);
    let raw_keys = futures_util::future::join_all(key_names.iter().map(|n| store.get_text(n)));
    let (config, raw_keys) =
        futures_util::future::join(store.get_text(&config_name), raw_keys).await;
    let config_raw = match config.map_err(kv_error)? {
        Some(c) => Some(c),
        None => match api::legacy_config_kv_name(&user.sub) {
            Some(old) => store.get_text(&old).await.map_err(kv_error)?,
            None => None,
        },
    };
    let mut config: Option<UserConfig> =
        config_raw.and_then(|r| serde_json::from_slice(r.as_bytes()).ok());
    if !settings.mock_enabled {
        // A chain stored while the mock was enabled: skip it now.
        if let Some(c) = config.as_mut() {
            c.providers.retain(|i| i.provider != ProviderName::Mock);
        }
    }
    let parsed = images::parse_request(body, config.as_ref().map(|c| &c.defaults))?;
    images::check_mock_allowed(&parsed.choice, settings.mock_enabled)?;

    // Which providers have a readable stored key? Only those can be used.
    let wanted: Vec<ProviderName> = match &parsed.choice {
        ModelChoice::Provider(p, _) => {
            let mut v = vec![*p];
            v.extend(
                config
                    .iter()
                    .flat_map(|c| c.providers.iter().map(|i| i.provider)),
            );
            v
        }
        ModelChoice::Auto => config
            .iter()
            .flat_map(|c| c.providers.iter().map(|i| i.provider))
            .collect(),
    };
    let mut secrets: Vec<(ProviderName, Secret)> = Vec::new();
    for (p, raw) in KEYED.into_iter().zip(raw_keys) {
        if wanted.contains(&p) {
            let raw = match raw.map_err(kv_error)? {
                Some(r) => Some(r),
                None => match api::legacy_key_kv_name(&user.sub, p) {
                    Some(old) => store.get_text(&old).await.map_err(kv_error)?,
                    None => None,
                },
            };
            if let Some((secret, _)) = open_key(settings, user, p, raw).await? {
                secrets.push((p, secret));
            }
        }
    }
    let chain = images::build_chain(&parsed.choice, config.as_ref(), |p| {
        secrets.iter().any(|(q, _)| *q == p)
    })?;

    let mut providers = Vec::with_capacity(chain.len());
    let mut warnings = Vec::new();
    for (p, model) in chain {
        let api_key = secrets
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s.clone());
        let params = (p == ProviderName::Openai && !parsed.openai_params.is_empty())
            .then(|| serde_json::Value::Object(parsed.openai_params.clone()));
        if p != ProviderName::Openai && !parsed.openai_params.is_empty() {
            warnings.push(Warning {
                provider: p,
                code: WarningCode::UnsupportedOption,
                message: format!(
                    "{} apply to OpenAI only",
                    parsed
                        .openai_params
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        providers.push(ProviderConfig {
            provider: Some(p),
            api_key,
            model,
            // Stored keys go only to the provider's own origin (or the
            // Worker's development override); never to a caller's URL.
            base_url: Some(settings.base_url(p)?).filter(|_| p != ProviderName::Mock),
            params,
        });
    }
    let mut request = parsed.request;
    request.providers = Some(providers);
    let valid = imagegen::validate::validate(&request).map_err(|e| {
        let param = images::snake_param(e.param.as_deref().unwrap_or("body"));
        ApiError::invalid(&param, e.message.replace("`count`", "`n`"))
    })?;
    let created = now_ms() / 1000;
    let client = CLIENT.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| {
                std::rc::Rc::new(imagegen::client::ClientState::new(settings.client))
            })
            .clone()
    });
    match engine::generate_with_client(
        &runtime(),
        &valid,
        &NoEvents,
        &CancelToken::new(),
        Some(&client),
    )
    .await
    {
        Ok(result) => to_js_object(&images::response(result, created, warnings)),
        Err(e) => Err(ApiError::from_engine(&e)),
    }
}

/// How long a pending idempotency marker blocks duplicates.
const IDEMPOTENCY_PENDING_MS: f64 = 10.0 * 60.0 * 1000.0;
/// How long a finished result is replayed.
const IDEMPOTENCY_TTL_S: u64 = 24 * 60 * 60;
/// Largest record stored: KV's value limit (25 MiB), less room for the
/// record's own fields.
const IDEMPOTENCY_MAX_RECORD_BYTES: usize = 25 * 1024 * 1024 - 4096;

/// An idempotency record as read back from KV (`body`, the response object,
/// stays a JS value: images are never copied into wasm memory).
#[derive(serde::Deserialize)]
struct IdemRecord {
    state: String,
    fp: String,
    at: f64,
    #[serde(default)]
    body: Option<JsBody>,
}

/// A JS value carried through serde untouched (images stay JS strings).
#[derive(serde::Deserialize)]
struct JsBody(#[serde(with = "serde_wasm_bindgen::preserve")] JsValue);

/// The JSON of a record without a body (`pending`, or `done` when the
/// result could not be kept).
fn idem_marker(state: &str, fp: &str, at: f64) -> String {
    serde_json::json!({"state": state, "fp": fp, "at": at as u64}).to_string()
}

/// Removes an idempotency key from this isolate's in-flight list when dropped.
struct InFlightGuard(String);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        IN_FLIGHT.with(|f| f.borrow_mut().retain(|k| *k != self.0));
    }
}

/// `POST /v1/images/generations` with an `Idempotency-Key`: a repeated key
/// (per user, same body) returns the stored result instead of paying again;
/// a concurrent duplicate gets 409; the same key with another body gets 422.
/// A result that cannot be stored (over KV's value limit, or KV failing) is
/// still returned, and the key is marked done: a repeat gets 410 instead of
/// paying again.
async fn idempotent_generate(
    store: &Kv,
    settings: &Settings,
    user: &User,
    key: &str,
    body: &[u8],
) -> Result<web_sys::Response, ApiError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    let name = api::idempotency_kv_name(&user.hash, &platform::sha256_hex(key.as_bytes()).await?);
    let fp = platform::sha256_hex(body).await?;
    let claimed = IN_FLIGHT.with(|f| {
        let mut f = f.borrow_mut();
        if f.contains(&name) {
            false
        } else {
            f.push(name.clone());
            true
        }
    });
    if !claimed {
        return Err(in_use());
    }
    let _guard = InFlightGuard(name.clone());
    let existing: Option<IdemRecord> = match store.get_json(&name).await.map_err(kv_error)? {
        Some(v) => serde_wasm_bindgen::from_value(v).ok(),
        None => None,
    };
    let now = js_sys::Date::now();
    if let Some(rec) = existing {
        if rec.fp != fp {
            let mut e = ApiError::invalid(
                "Idempotency-Key",
                "this Idempotency-Key was used with a different request body",
            );
            e.status = 422;
            e.code = "idempotency_key_reused".into();
            return Err(e);
        }
        match (rec.state.as_str(), rec.body) {
            ("done", Some(JsBody(obj))) => {
                return json_response(
                    200,
                    &stringify(&obj)?,
                    &[("idempotent-replayed", "true".to_string())],
                )
                .map_err(|_| ApiError::server("could not build the response"));
            }
            ("done", None) => return Err(result_not_kept()),
            ("pending", _) if now - rec.at < IDEMPOTENCY_PENDING_MS => return Err(in_use()),
            _ => {}
        }
    }
    store
        .put(
            &name,
            &idem_marker("pending", &fp, now).into(),
            Some((IDEMPOTENCY_PENDING_MS / 1000.0) as u64),
        )
        .await
        .map_err(kv_error)?;
    match generate(store, settings, user, body).await {
        Ok(obj) => {
            // Paid for: from here on, nothing may lose these images.
            let text = stringify(&obj)?;
            let text_js: JsString = text.clone().unchecked_into();
            let record = JsString::from(format!(
                r#"{{"state":"done","fp":"{fp}","at":{},"body":"#,
                now as u64
            ))
            .concat(&text_js)
            .concat(&"}".into());
            let stored = platform::utf8_fits(&record, IDEMPOTENCY_MAX_RECORD_BYTES)
                && store
                    .put(&name, &record.into(), Some(IDEMPOTENCY_TTL_S))
                    .await
                    .is_ok();
            if !stored {
                let marker = idem_marker("done", &fp, now);
                if store
                    .put(&name, &marker.into(), Some(IDEMPOTENCY_TTL_S))
                    .await
                    .is_err()
                {
                    platform::console_warn(
                        "an idempotency key could not be marked done; a repeat gets 409 until its marker expires",
                    );
                }
            }
            json_response(200, &text, &[])
                .map_err(|_| ApiError::server("could not build the response"))
        }
        Err(e) => {
            // Nothing was produced: let a retry with the same key run again.
            let _ = store.delete(&name).await;
            Err(e)
        }
    }
}

fn in_use() -> ApiError {
    let mut e = ApiError::new(
        409,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still being processed; retry later",
    );
    e.param = Some("Idempotency-Key".into());
    e.retryable = Some(true);
    e.retry_after_s = Some(1);
    e
}

fn result_not_kept() -> ApiError {
    let mut e = ApiError::new(
        410,
        "idempotency_result_not_kept",
        "the request with this Idempotency-Key succeeded and its images were returned then, \
         but the result was too large to keep for replay; it is not generated (or billed) again. \
         Use a new Idempotency-Key to generate again",
    );
    e.param = Some("Idempotency-Key".into());
    e.retryable = Some(false);
    e
}
