//! `GET` and `HEAD /v1/files/<id>?exp=..&sig=..`: an object of the link
//! store ([`crate::files`]). No JWT: the signed link is the credential.
//! A bad, tampered or expired link is 403, a valid link to an object that
//! is gone (deleted, or past its own expiry) 404. The bytes go from R2 to
//! the client as a stream, with `Content-Type`, `ETag` and
//! `Cache-Control: private, max-age=<seconds left>`; `If-None-Match` → 304.

use crate::error::ApiError;
use crate::files::{self, Files};
use crate::platform::{self, Env};
use crate::respond::header;

fn forbidden(message: &str) -> ApiError {
    ApiError::new(403, "invalid_link", message)
}

/// Serves one object (`head`: headers only).
pub async fn get(
    req: &web_sys::Request,
    url: &web_sys::Url,
    env: &Env,
    head: bool,
) -> Result<web_sys::Response, ApiError> {
    let store = Files::from_env(env)?;
    let path = url.pathname();
    let id = path
        .strip_prefix(files::PATH_PREFIX)
        .unwrap_or_default()
        .trim_end_matches('/');
    let link = files::parse_query(&url.search())
        .ok_or_else(|| forbidden("this link is not signed; ask for a new one"))?;
    if !store.verify(id, link.exp, &link.sig).await {
        return Err(forbidden("this link's signature is not valid"));
    }
    let now = platform::now_ms() / 1000;
    if link.exp <= now {
        return Err(forbidden("this link has expired; ask for a new one"));
    }
    let gone = || ApiError::not_found("this file is gone (expired or deleted)");
    let object = store.get(id, head).await?.ok_or_else(gone)?;
    let until = match object.expires_at() {
        0 => link.exp,
        e => e.min(link.exp),
    };
    let etag = object.etag();
    let mut headers = vec![
        ("etag", etag.clone()),
        ("cache-control", files::cache_control(until, now)),
        // Served on the API's origin: never sniffed, never a document.
        ("x-content-type-options", "nosniff".to_string()),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_string(),
        ),
    ];
    let matched = header(req, "if-none-match").is_some_and(|v| files::etag_matches(&v, &etag));
    if matched {
        return object.response(304, false, &headers);
    }
    headers.push(("content-type", object.content_type()));
    headers.push(("content-length", object.size().to_string()));
    object.response(200, !head, &headers)
}
