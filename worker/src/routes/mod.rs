//! The router: which room handles a method and path ([`route`], pure), and
//! on wasm32 [`handle`]: authentication, the rate limit, the body, then the
//! route's own file.

use crate::error::ApiError;
use imagegen::ProviderName;

#[cfg(target_arch = "wasm32")]
mod config;
#[cfg(target_arch = "wasm32")]
mod edit;
#[cfg(target_arch = "wasm32")]
mod files;
#[cfg(target_arch = "wasm32")]
mod generate;
#[cfg(target_arch = "wasm32")]
mod health;
#[cfg(target_arch = "wasm32")]
mod jobs;
#[cfg(target_arch = "wasm32")]
mod keys;
#[cfg(target_arch = "wasm32")]
mod stream;
#[cfg(target_arch = "wasm32")]
mod usage;

/// The routes of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `POST /v1/images/generations`.
    Generate,
    /// `POST /v1/images/edits` (multipart).
    Edit,
    /// `GET /v1/keys`.
    ListKeys,
    /// `PUT /v1/keys/{provider}`.
    PutKey(ProviderName),
    /// `DELETE /v1/keys/{provider}`.
    DeleteKey(ProviderName),
    /// `GET /v1/config`.
    GetConfig,
    /// `PUT /v1/config`.
    PutConfig,
    /// `GET /v1/jobs/{id}` (the id is read from the path by the handler).
    GetJob,
    /// `GET /v1/usage`: the month's spending and what is left of the budget.
    Usage,
    /// `GET` or `HEAD /v1/files/<id>`: a result behind a signed link (no
    /// JWT); the handler reads the id and the signature from the URL.
    File,
}

/// Matches a method and path. `Err` is the error response to send.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let not_allowed = |allow: &'static str| Err(ApiError::method_not_allowed(method, allow));
    match path {
        "/healthz" => match method {
            "GET" | "HEAD" => Ok(Route::Health),
            _ => not_allowed("GET"),
        },
        "/v1/images/generations" => match method {
            "POST" => Ok(Route::Generate),
            _ => not_allowed("POST"),
        },
        "/v1/images/edits" => match method {
            "POST" => Ok(Route::Edit),
            _ => not_allowed("POST"),
        },
        "/v1/usage" => match method {
            "GET" => Ok(Route::Usage),
            _ => not_allowed("GET"),
        },
        "/v1/keys" => match method {
            "GET" => Ok(Route::ListKeys),
            _ => not_allowed("GET"),
        },
        "/v1/config" => match method {
            "GET" => Ok(Route::GetConfig),
            "PUT" => Ok(Route::PutConfig),
            _ => not_allowed("GET, PUT"),
        },
        _ if path.starts_with("/v1/files/") => match method {
            "GET" | "HEAD" => Ok(Route::File),
            _ => not_allowed("GET, HEAD"),
        },
        _ => {
            if path.starts_with("/v1/jobs/") {
                return match method {
                    "GET" => Ok(Route::GetJob),
                    _ => not_allowed("GET"),
                };
            }
            if let Some(name) = path.strip_prefix("/v1/keys/") {
                let provider = ProviderName::parse(name).ok_or_else(|| {
                    ApiError::not_found(&format!(
                        "no provider named {name:?}; expected {}",
                        crate::keystore::keyed_names_for_message()
                    ))
                })?;
                return match method {
                    "PUT" => Ok(Route::PutKey(provider)),
                    "DELETE" => Ok(Route::DeleteKey(provider)),
                    _ => not_allowed("PUT, DELETE"),
                };
            }
            Err(ApiError::not_found(&format!(
                "no route for {method} {path}"
            )))
        }
    }
}

/// Whether a `Prefer` header asks for `respond-async` (RFC 7240: a
/// comma-separated list of preferences, each maybe with parameters).
pub fn prefers_async(prefer: &str) -> bool {
    prefer.split(',').any(|p| {
        let token = p.split(';').next().unwrap_or_default().trim();
        token.eq_ignore_ascii_case("respond-async")
    })
}

/// The job id of a `/v1/jobs/<id>` path, if it is one the Worker issues
/// (`job_` and 32 lowercase hex digits).
pub fn job_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/v1/jobs/")?;
    let id = id.strip_suffix('/').unwrap_or(id);
    let hex = id.strip_prefix("job_")?;
    (hex.len() == 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(id)
}

#[cfg(target_arch = "wasm32")]
pub use dispatch::{handle, Request};

#[cfg(target_arch = "wasm32")]
mod dispatch {
    use super::*;
    use crate::auth;
    use crate::http;
    use crate::keystore::KeyStore;
    use crate::platform::{self, Env, UserState};
    use crate::ratelimit;
    use crate::respond::{header, read_body};
    use crate::settings::Settings;

    /// What a route's handler gets: the request, the settings, the
    /// authenticated user's store and the body (JSON, at most 1 MiB; empty
    /// for GET and DELETE, and for edits, whose form the handler reads).
    pub struct Request<'a> {
        /// The request.
        pub req: &'a web_sys::Request,
        /// Its URL.
        pub url: web_sys::Url,
        /// The deployment's settings.
        pub settings: &'a Settings,
        /// The calling user's records.
        pub store: KeyStore<'a>,
        /// The body.
        pub body: Vec<u8>,
        /// The runtime's context (`waitUntil`): a streamed response runs on
        /// after the handler returned.
        pub ctx: &'a wasm_bindgen::JsValue,
        /// The user's Durable Object (`None` without the binding).
        pub state: Option<UserState>,
        /// Whether this is an async job's run (its result is links).
        pub in_job: bool,
        /// The environment (bindings such as the `IMAGES` bucket).
        pub env: &'a Env,
    }

    /// Handles one request (after CORS preflight handling).
    pub async fn handle(
        req: &web_sys::Request,
        env: &Env,
        settings: &Settings,
        ctx: &wasm_bindgen::JsValue,
    ) -> Result<web_sys::Response, ApiError> {
        let url = web_sys::Url::new(&req.url())
            .map_err(|_| ApiError::invalid("url", "bad request URL"))?;
        let method = req.method();
        let route = route(&method, &url.pathname())?;
        if route == Route::Health {
            return health::get(settings);
        }
        if route == Route::File {
            return files::get(req, &url, env, method == "HEAD").await;
        }
        let user = auth::authenticate(req, settings).await?;
        let state = UserState::for_user(env, &user.hash);
        // A job's run (in the user's Durable Object, `jobs::start`) was
        // counted when it was started; the flag is on the context, which no
        // client can set.
        let in_job = platform::get(ctx, "imagegenJob").is_some();
        // Every route that writes or calls a provider counts against the
        // user's limit, before its body is even read.
        if !in_job
            && matches!(
                route,
                Route::PutKey(_)
                    | Route::DeleteKey(_)
                    | Route::PutConfig
                    | Route::Generate
                    | Route::Edit
            )
        {
            ratelimit::check(env, settings, &user, state.as_ref()).await?;
        }
        if !in_job && matches!(route, Route::Generate | Route::Edit) && jobs::wanted(req) {
            check_type(req, route)?;
            // A spent budget is refused now rather than as a failed job.
            let store = KeyStore::new(env, user, settings)?;
            let budget = settings.budget_for(store.config().await?.as_ref());
            crate::usage::hold::precheck(state.as_ref(), budget, settings.hold_ttl_ms).await?;
            return jobs::start(req, route, state.as_ref(), &store.user).await;
        }
        if route == Route::GetJob {
            return jobs::get(&url, state.as_ref()).await;
        }
        let body = body(req, route, &method).await?;
        let r = Request {
            req,
            url,
            settings,
            store: KeyStore::new(env, user, settings)?,
            body,
            ctx,
            state,
            in_job,
            env,
        };
        match route {
            Route::Health => health::get(settings),
            Route::File => files::get(req, &r.url, env, method == "HEAD").await,
            Route::ListKeys => keys::list(&r).await,
            Route::PutKey(p) => keys::put(&r, p).await,
            Route::DeleteKey(p) => keys::delete(&r, p).await,
            Route::GetConfig => config::get(&r).await,
            Route::PutConfig => config::put(&r).await,
            Route::Generate => generate::post(&r).await,
            Route::Edit => edit::post(&r).await,
            Route::GetJob => jobs::get(&r.url, r.state.as_ref()).await,
            Route::Usage => usage::get(&r).await,
        }
    }

    /// The body after its content type is checked: JSON read here (at most
    /// 1 MiB), an edit's form left to its handler, none for GET and DELETE.
    async fn body(req: &web_sys::Request, route: Route, method: &str) -> Result<Vec<u8>, ApiError> {
        check_type(req, route)?;
        if route == Route::Edit || !matches!(method, "POST" | "PUT") {
            return Ok(Vec::new());
        }
        read_body(req).await
    }

    /// The content type a body must have: multipart for an edit, JSON for
    /// the other routes that take one.
    fn check_type(req: &web_sys::Request, route: Route) -> Result<(), ApiError> {
        let content_type = header(req, "content-type");
        let method = req.method();
        if route == Route::Edit {
            if !http::is_multipart(content_type.as_deref()) {
                return Err(unsupported("multipart/form-data"));
            }
        } else if matches!(method.as_str(), "POST" | "PUT")
            && !http::is_json(content_type.as_deref())
        {
            return Err(unsupported("application/json"));
        }
        Ok(())
    }

    fn unsupported(expected: &str) -> ApiError {
        ApiError::new(
            415,
            "unsupported_media_type",
            format!("send the body as {expected}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(route("POST", "/v1/images/generations"), Ok(Route::Generate));
        assert_eq!(
            route("POST", "/v1/images/generations/"),
            Ok(Route::Generate)
        );
        assert_eq!(
            route("PUT", "/v1/keys/openai"),
            Ok(Route::PutKey(ProviderName::Openai))
        );
        assert_eq!(
            route("DELETE", "/v1/keys/gemini"),
            Ok(Route::DeleteKey(ProviderName::Gemini))
        );
        assert_eq!(route("POST", "/v1/images/edits"), Ok(Route::Edit));
        assert_eq!(route("GET", "/v1/images/edits").unwrap_err().status, 405);
        assert_eq!(route("GET", "/v1/config"), Ok(Route::GetConfig));
        assert_eq!(route("GET", "/v1/usage"), Ok(Route::Usage));
        assert_eq!(route("POST", "/v1/usage").unwrap_err().allow, Some("GET"));
        assert_eq!(route("GET", "/v1/jobs/job_1"), Ok(Route::GetJob));
        assert_eq!(route("DELETE", "/v1/jobs/job_1").unwrap_err().status, 405);
    }

    #[test]
    fn async_preference_and_job_ids() {
        assert!(prefers_async("respond-async"));
        assert!(prefers_async("return=minimal, Respond-Async; wait=10"));
        assert!(!prefers_async("return=representation"));
        assert!(!prefers_async("respond-asyncx"));
        let id = format!("job_{}", "0a".repeat(16));
        assert_eq!(job_id(&format!("/v1/jobs/{id}")), Some(id.as_str()));
        assert_eq!(job_id(&format!("/v1/jobs/{id}/")), Some(id.as_str()));
        assert_eq!(job_id("/v1/jobs/job_123"), None);
        assert_eq!(job_id(&format!("/v1/jobs/{}", "0A".repeat(16))), None);
        assert_eq!(job_id(&format!("/v1/jobs/job_{}", "0g".repeat(16))), None);
        assert_eq!(
            route("GET", "/v1/images/generations").unwrap_err().status,
            405
        );
        assert_eq!(
            route("GET", "/v1/images/generations").unwrap_err().allow,
            Some("POST")
        );
        assert_eq!(route("POST", "/v1/keys").unwrap_err().status, 405);
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(route("PUT", "/v1/keys/dalle").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/keys/openai/x").unwrap_err().status, 404);
        assert_eq!(route("GET", "/v1/files/abc"), Ok(Route::File));
        assert_eq!(route("HEAD", "/v1/files/abc/"), Ok(Route::File));
        let e = route("DELETE", "/v1/files/abc").unwrap_err();
        assert_eq!((e.status, e.allow), (405, Some("GET, HEAD")));
    }
}
