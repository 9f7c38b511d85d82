//! HTTP rules that need no platform: body size, content types, CORS,
//! request ids.

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether a `Content-Type` is JSON (parameters such as charset allowed).
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether a `Content-Type` is `multipart/form-data` (with its boundary).
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// The allow-list of origins from `ALLOWED_ORIGINS`.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

/// Headers a preflight may ask for.
pub const ALLOW_HEADERS: &str =
    "authorization, content-type, idempotency-key, prefer, x-request-id";
/// Methods the API uses.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// Headers a browser may read.
pub const EXPOSE_HEADERS: &str =
    "x-request-id, retry-after, idempotent-replayed, location, preference-applied";

impl Cors {
    /// Parses a comma-separated list; `*` is ignored (never allowed).
    pub fn new(list: &str) -> Cors {
        Cors {
            origins: list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty() && o != "*")
                .collect(),
        }
    }

    /// The origin to echo in `Access-Control-Allow-Origin`, if allowed.
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|o| self.origins.iter().any(|a| a == o))
    }
}

/// A request id from the caller if it is short and plain, else `None`.
pub fn caller_request_id(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .filter(|v| {
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
        assert!(is_multipart(Some("multipart/form-data; boundary=x")));
        assert!(!is_multipart(Some("application/json")));
        assert!(!is_multipart(None));
    }

    #[test]
    fn cors_never_allows_everything() {
        let c = Cors::new("http://localhost:3000, https://app.example/ ,*");
        assert_eq!(
            c.allow(Some("http://localhost:3000")),
            Some("http://localhost:3000")
        );
        assert_eq!(
            c.allow(Some("https://app.example")),
            Some("https://app.example")
        );
        assert_eq!(c.allow(Some("https://evil.example")), None);
        assert_eq!(c.allow(Some("*")), None);
        assert_eq!(c.allow(None), None);
    }

    #[test]
    fn request_ids() {
        assert_eq!(caller_request_id(Some("req-123")), Some("req-123".into()));
        assert_eq!(caller_request_id(Some("bad id\n")), None);
    }
}
