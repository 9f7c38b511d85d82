//! HTTP requests and responses as plain data, so providers stay pure and a
//! transport (fetch on wasm, a scripted fake in tests) does the I/O.

use crate::inputs::body::{InputData, Payload};
use serde::de::DeserializeOwned;
use std::fmt;

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

impl Method {
    /// The method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request header. Sensitive headers (credentials) print as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// Lowercase header name.
    pub name: String,
    /// Header value.
    pub value: String,
    /// True for credentials.
    pub sensitive: bool,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sensitive {
            write!(f, "{}: ***", self.name)
        } else {
            write!(f, "{}: {}", self.name, self.value)
        }
    }
}

/// An outbound request, built by a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers in the order they are sent.
    pub headers: Vec<Header>,
    /// Body bytes, if any.
    pub body: Option<Vec<u8>>,
    /// A body that refers to input images (instead of `body`).
    pub payload: Option<Payload>,
    /// The input images `payload` refers to, by index.
    pub inputs: Vec<InputData>,
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: String) -> Self {
        HttpRequest {
            method,
            url,
            headers: Vec::new(),
            body: None,
            payload: None,
            inputs: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.into(),
            sensitive: false,
        });
        self
    }

    /// Adds a credential header (redacted in `Debug`).
    pub fn secret_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push(Header {
            name: name.to_ascii_lowercase(),
            value: value.into(),
            sensitive: true,
        });
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    /// True when the request goes over HTTP(S); requests to other schemes
    /// (`mock:`) are answered in process.
    pub fn over_http(&self) -> bool {
        self.url.starts_with("http://") || self.url.starts_with("https://")
    }

    /// Sets a body made of input images (the transport assembles it).
    pub fn payload(mut self, payload: Payload, inputs: Vec<InputData>) -> Self {
        self.payload = Some(payload);
        self.inputs = inputs;
        self
    }

    /// The body as bytes with its content type when it is a payload (native
    /// transports and tests); the plain body otherwise.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn rendered_body(&self) -> (Option<String>, Option<Vec<u8>>) {
        match &self.payload {
            Some(p) => {
                let (ctype, bytes) = crate::inputs::body::render(p, &self.inputs);
                (Some(ctype), Some(bytes))
            }
            None => (None, self.body.clone()),
        }
    }

    /// The value of a header, by case-insensitive name.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .field("inputs", &self.inputs.len())
            .finish()
    }
}

/// A response body, read in full by the transport.
pub enum Body {
    /// Bytes (native transports, binary bodies).
    Bytes(Vec<u8>),
    /// Text still held by JS, so large JSON is parsed by the platform's
    /// `JSON.parse` and image strings never enter wasm memory.
    #[cfg(target_arch = "wasm32")]
    Js(js_sys::JsString),
    /// JSON already parsed by the platform (a streamed event reshaped as
    /// the non-streamed body): its image strings are JS strings.
    #[cfg(target_arch = "wasm32")]
    Value(wasm_bindgen::JsValue),
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            #[cfg(target_arch = "wasm32")]
            Body::Js(s) => write!(f, "<{} JS chars>", s.length()),
            #[cfg(target_arch = "wasm32")]
            Body::Value(_) => write!(f, "<parsed JSON>"),
        }
    }
}

/// Longest error-body prefix kept for messages.
const ERROR_TEXT_LIMIT: usize = 4096;

impl Body {
    /// Parses the body as JSON into `T`. On wasm this goes through
    /// `JSON.parse` + serde-wasm-bindgen, which is what lets [`crate::ImageData`]
    /// keep the JS strings.
    pub fn decode_json<T: DeserializeOwned>(&self) -> Result<T, String> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            match self {
                Body::Bytes(b) => serde_json::from_slice(b).map_err(|e| e.to_string()),
            }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let text: js_sys::JsString = match self {
                Body::Bytes(b) => js_sys::JsString::from(String::from_utf8_lossy(b).as_ref()),
                Body::Js(s) => s.clone(),
                Body::Value(v) => {
                    return serde_wasm_bindgen::from_value(v.clone()).map_err(|e| e.to_string())
                }
            };
            let value =
                crate::wasm::js::json_parse(&text).map_err(|_| "invalid JSON".to_string())?;
            serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
        }
    }

    /// The body as text, cut to a few KB (for error bodies and messages).
    pub fn text_prefix(&self) -> String {
        match self {
            Body::Bytes(b) => {
                let cut = b.len().min(ERROR_TEXT_LIMIT);
                String::from_utf8_lossy(b.get(..cut).unwrap_or_default()).into_owned()
            }
            #[cfg(target_arch = "wasm32")]
            Body::Js(s) => {
                let cut = s.length().min(ERROR_TEXT_LIMIT as u32);
                String::from(s.substring(0, cut))
            }
            #[cfg(target_arch = "wasm32")]
            Body::Value(v) => {
                let s = js_sys::JSON::stringify(v).unwrap_or_else(|_| js_sys::JsString::from(""));
                let cut = s.length().min(ERROR_TEXT_LIMIT as u32);
                String::from(s.substring(0, cut))
            }
        }
    }

    /// The bytes, when the transport read the body as bytes.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Body::Bytes(b) => Some(b),
            #[cfg(target_arch = "wasm32")]
            Body::Js(_) | Body::Value(_) => None,
        }
    }

    /// Length of the body (bytes, or JS characters).
    pub fn len(&self) -> usize {
        match self {
            Body::Bytes(b) => b.len(),
            #[cfg(target_arch = "wasm32")]
            Body::Js(s) => s.length() as usize,
            #[cfg(target_arch = "wasm32")]
            Body::Value(_) => 0,
        }
    }

    /// True for an empty body.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers with lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Body,
}

impl HttpResponse {
    /// A response with bytes as its body.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        HttpResponse {
            status,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body: Body::Bytes(body),
        }
    }

    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Connection refused, reset, DNS failure, body cut short, CORS refusal.
    Network(String),
    /// The caller's signal aborted the request.
    Aborted,
}

/// Sends requests. Implemented over `fetch` on wasm and by fakes in tests.
/// Dropping the returned future must cancel the request.
#[allow(async_fn_in_trait)] // single-threaded: wasm and tests never need `Send`
pub trait Transport {
    /// Sends one request and reads the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Sends a request whose answer may be an event stream
    /// (`text/event-stream`): each event goes to `decoder` as it arrives
    /// (previews reach its sink at once), and the response it ends with is
    /// returned; the end of the stream before that is an error
    /// ([`crate::sse::StreamDecoder::ended`]). Other answers (errors before
    /// the stream starts) are returned as [`Transport::send`] returns them.
    /// The default reads the whole answer and then decodes it: transports
    /// that can read incrementally override it.
    async fn send_stream(
        &self,
        request: HttpRequest,
        decoder: &mut crate::sse::StreamDecoder<'_>,
    ) -> Result<HttpResponse, TransportError> {
        let resp = self.send(request).await?;
        crate::sse::decode_whole(resp, decoder)
    }
}

/// Parses a Retry-After-style hint from response headers, in ms:
/// `retry-after-ms` (OpenAI), then `retry-after` as seconds or an HTTP date.
pub fn retry_after_from_headers(resp: &HttpResponse, now_unix_ms: u64) -> Option<u64> {
    if let Some(ms) = resp
        .header("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms.round() as u64);
        }
    }
    let value = resp.header("retry-after")?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some((secs * 1000.0).round() as u64);
        }
        return None;
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_unix_ms))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to unix ms.
pub fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [_, day, month, year, time, zone] = parts.as_slice() else {
        return None;
    };
    if *zone != "GMT" {
        return None;
    }
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days.checked_mul(86_400)? + h * 3600 + m * 60 + sec;
    secs.checked_mul(1000)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400) as u64;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe as i64 - 719_468;
    u64::try_from(days).ok()
}

/// Parses Google-style durations (`"14s"`, `"14.5s"`, `"500ms"`) and
/// OpenAI's `"1s"`, `"6m0s"`, `"1h2m3.5s"` to ms.
pub fn parse_duration_ms(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    let mut number = String::new();
    let mut chars = s.chars().peekable();
    let mut saw_unit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number.parse().ok()?;
        number.clear();
        let factor = match c {
            'h' => 3_600_000.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1.0
            }
            'm' => 60_000.0,
            's' => 1000.0,
            _ => return None,
        };
        total += value * factor;
        saw_unit = true;
    }
    if !number.is_empty() || !saw_unit || !total.is_finite() {
        return None;
    }
    Some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("14s"), Some(14_000));
        assert_eq!(parse_duration_ms("14.5s"), Some(14_500));
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("6m0s"), Some(360_000));
        assert_eq!(parse_duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(parse_duration_ms("12"), None);
        assert_eq!(parse_duration_ms("s"), None);
        assert_eq!(parse_duration_ms("1x"), None);
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn retry_after_headers() {
        let now = 784_111_777_000;
        let r = |h: &[(&str, &str)]| {
            HttpResponse::new(
                429,
                h.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                vec![],
            )
        };
        assert_eq!(
            retry_after_from_headers(&r(&[("Retry-After", "7")]), now),
            Some(7000)
        );
        assert_eq!(
            retry_after_from_headers(&r(&[("retry-after-ms", "250"), ("retry-after", "7")]), now),
            Some(250)
        );
        assert_eq!(
            retry_after_from_headers(&r(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]), now),
            Some(10_000)
        );
        assert_eq!(
            retry_after_from_headers(&r(&[("retry-after", "-3")]), now),
            None
        );
        assert_eq!(retry_after_from_headers(&r(&[]), now), None);
    }

    #[test]
    fn debug_redacts_sensitive_headers() {
        let req = HttpRequest::new(Method::Get, "http://x".into())
            .secret_header("Authorization", "Bearer sk-secret-value")
            .header("accept", "application/json");
        let dbg = format!("{req:?}");
        assert!(!dbg.contains("sk-secret-value"));
        assert!(dbg.contains("authorization: ***"));
    }
}
