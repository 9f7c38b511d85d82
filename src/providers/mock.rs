//! The built-in `mock` provider: no network, SVG images that show the prompt,
//! with latency and fault injection through `params`. It is what the demo and
//! users' own tests run against without keys.
//!
//! `params`: `latencyMs` (wait per call), `failFirst` (fail the first N calls
//! to this chain entry), `failRate` (fail with probability p, from the
//! engine's RNG), `failCode` (the code of injected failures, default
//! `provider_error`), `retryAfterMs` (hint sent with injected failures),
//! `maxImagesPerCall` (default 4).

use super::{standard_base64, warning, Capabilities, SizeRule};
use crate::geometry::Size;
use crate::image_data::ImageData;
use crate::model::{Error, ErrorCode, GeneratedImage, ProviderName, Warning, WarningCode};
use crate::validate::{ChainEntry, ImageRequest};
use serde_json::{Map, Value};

const PROVIDER: ProviderName = ProviderName::Mock;

/// Images per call unless `params.maxImagesPerCall` says otherwise.
pub const DEFAULT_MAX_PER_CALL: u32 = 4;

/// The mock's settings, read from `params`.
#[derive(Debug, Clone, PartialEq)]
pub struct MockSettings {
    /// Wait per call.
    pub latency_ms: u64,
    /// Fail the first N calls.
    pub fail_first: u32,
    /// Fail each call with this probability.
    pub fail_rate: f64,
    /// Code of injected failures.
    pub fail_code: ErrorCode,
    /// Retry hint of injected failures.
    pub retry_after_ms: Option<u64>,
    /// Images per call.
    pub max_images_per_call: u32,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            latency_ms: 0,
            fail_first: 0,
            fail_rate: 0.0,
            fail_code: ErrorCode::ProviderError,
            retry_after_ms: None,
            max_images_per_call: DEFAULT_MAX_PER_CALL,
        }
    }
}

fn number(
    params: &Map<String, Value>,
    key: &str,
    field: &str,
    max: u32,
) -> Result<Option<f64>, Error> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (0.0..=f64::from(max)).contains(&v) => Ok(Some(v)),
            _ => Err(Error::invalid(
                &format!("{field}.{key}"),
                format!("`{field}.{key}` must be a number from 0 to {max}"),
            )),
        },
        Some(_) => Err(Error::invalid(
            &format!("{field}.{key}"),
            format!("`{field}.{key}` must be a number"),
        )),
    }
}

impl MockSettings {
    /// Reads settings from `params`; `field` names the params in errors
    /// (e.g. `providers[1].params`).
    pub fn from_params(params: &Map<String, Value>, field: &str) -> Result<MockSettings, Error> {
        let mut s = MockSettings::default();
        if let Some(v) = number(params, "latencyMs", field, 600_000)? {
            s.latency_ms = v as u64;
        }
        if let Some(v) = number(params, "failFirst", field, 1000)? {
            s.fail_first = v as u32;
        }
        if let Some(v) = number(params, "failRate", field, 1)? {
            s.fail_rate = v;
        }
        if let Some(v) = number(params, "retryAfterMs", field, 3_600_000)? {
            s.retry_after_ms = Some(v as u64);
        }
        if let Some(v) = number(params, "maxImagesPerCall", field, 10)? {
            s.max_images_per_call = (v as u32).max(1);
        }
        match params.get("failCode") {
            None | Some(Value::Null) => {}
            Some(Value::String(code)) => {
                s.fail_code = ErrorCode::parse(code)
                    .filter(|c| *c != ErrorCode::Aborted)
                    .ok_or_else(|| {
                        Error::invalid(
                            &format!("{field}.failCode"),
                            format!("`{field}.failCode` must be an error code other than aborted, got {code:?}"),
                        )
                    })?;
            }
            Some(_) => {
                return Err(Error::invalid(
                    &format!("{field}.failCode"),
                    format!("`{field}.failCode` must be a string"),
                ))
            }
        }
        Ok(s)
    }
}

/// Capability table: the mock takes everything but formats (it makes SVG).
pub fn capabilities(params: &Map<String, Value>) -> Capabilities {
    let settings = MockSettings::from_params(params, "params").unwrap_or_default();
    Capabilities {
        max_images_per_call: settings.max_images_per_call,
        sizes: SizeRule::Free {
            multiple: 1,
            max_edge: 16_384,
            max_ratio: 1000.0,
            min_pixels: 1,
            max_pixels: u64::MAX,
        },
        aspect_ratios: &[],
        image_size_tiers: &[],
        seed: true,
        negative_prompt: true,
        output_formats: &[],
    }
}

/// Warnings for a request (the only thing the mock cannot do is formats).
pub fn warnings(req: &ImageRequest) -> Vec<Warning> {
    req.output_format
        .map(|f| {
            warning(
                PROVIDER,
                WarningCode::UnsupportedOption,
                format!(
                    "the mock provider makes SVG images; outputFormat {} ignored",
                    f.as_str()
                ),
            )
        })
        .into_iter()
        .collect()
}

/// The injected failure for the `call_number`-th call (1-based) to this
/// entry, if any. `roll` is a uniform number in [0, 1) from the engine's RNG.
pub fn injected_failure(
    settings: &MockSettings,
    model: &str,
    call_number: u32,
    roll: f64,
) -> Option<Error> {
    let fail = call_number <= settings.fail_first || roll < settings.fail_rate;
    if !fail {
        return None;
    }
    let code = settings.fail_code;
    let status = match code {
        ErrorCode::InvalidRequest | ErrorCode::ContentPolicy => Some(400),
        ErrorCode::Auth => Some(401),
        ErrorCode::Quota => Some(402),
        ErrorCode::Permission => Some(403),
        ErrorCode::NotFound | ErrorCode::Unsupported => Some(404),
        ErrorCode::RateLimited => Some(429),
        ErrorCode::ProviderError => Some(503),
        ErrorCode::BadResponse => Some(200),
        ErrorCode::Timeout | ErrorCode::Network | ErrorCode::Aborted => None,
    };
    let mut e = Error::new(
        code,
        format!("mock ({model} {code}): injected failure on call {call_number}"),
    )
    .with_provider(PROVIDER)
    .with_retry_after(settings.retry_after_ms);
    e.status = status;
    Some(e)
}

/// Output size: the requested size, else the aspect ratio at a 1024 long
/// edge, else 1024×1024.
fn output_size(req: &ImageRequest) -> Size {
    if let Some(s) = req.size {
        return s;
    }
    if let Some(r) = req.aspect_ratio {
        let v = r.value();
        return if v >= 1.0 {
            Size::new(1024, ((1024.0 / v).round() as u32).max(1))
        } else {
            Size::new(((1024.0 * v).round() as u32).max(1), 1024)
        };
    }
    Size::new(1024, 1024)
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Splits a prompt into at most `max_lines` lines of about `width` characters.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().take(width).collect();
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// An SVG that shows the prompt on a gradient whose colours come from `seed`.
pub fn render_svg(prompt: &str, size: Size, seed: u32) -> String {
    // Integer arithmetic only: float formatting would add kilobytes to the wasm.
    let (w, h) = (i64::from(size.w), i64::from(size.h));
    let hue1 = seed % 360;
    let hue2 = (hue1 + 137) % 360;
    let hue3 = (hue1 + 240) % 360;
    let unit = w.min(h);
    let font = (unit / 14).max(8);
    let chars_per_line = ((w * 85 / 100) / (font * 55 / 100).max(1)).clamp(8, 60) as usize;
    let lines = wrap(prompt, chars_per_line, 8);
    let line_height = font * 5 / 4;
    let text_top = h / 2 - line_height * (lines.len() as i64 - 1) / 2;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
<stop offset=\"0\" stop-color=\"hsl({hue1},70%,55%)\"/><stop offset=\"1\" stop-color=\"hsl({hue2},65%,30%)\"/>\
</linearGradient></defs><rect width=\"{w}\" height=\"{h}\" fill=\"url(#g)\"/>\
<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"hsl({hue3},80%,75%)\" opacity=\"0.3\"/>",
        cx = (i64::from(seed) * 7919) % w.max(1),
        cy = (i64::from(seed) * 104_729) % h.max(1),
        r = unit * 35 / 100,
    );
    for (i, line) in lines.iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"50%\" y=\"{y}\" font-family=\"sans-serif\" font-size=\"{font}\" fill=\"#fff\" text-anchor=\"middle\">{}</text>",
            escape_xml(line),
            y = text_top + line_height * i as i64,
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{x}\" y=\"{y}\" font-family=\"monospace\" font-size=\"{small}\" fill=\"#fff\" opacity=\"0.8\" text-anchor=\"end\">imagegen mock · seed {seed}</text></svg>",
        x = w - font / 2,
        y = h - font / 2,
        small = (font / 2).max(6),
    ));
    svg
}

/// Makes `req.count` SVG images. `next_seed` supplies seeds when the request
/// has none.
pub fn generate(
    req: &ImageRequest,
    entry: &ChainEntry,
    mut next_seed: impl FnMut() -> u32,
) -> Vec<GeneratedImage> {
    let size = output_size(req);
    (0..req.count)
        .map(|i| {
            let seed = match req.seed {
                Some(s) => s.wrapping_add(i),
                None => next_seed(),
            };
            let svg = render_svg(&req.prompt, size, seed);
            GeneratedImage {
                mime_type: "image/svg+xml".into(),
                base64: ImageData::from_string(standard_base64(svg.as_bytes())),
                provider: PROVIDER,
                model: entry.model.clone(),
                seed: Some(u64::from(seed)),
                revised_prompt: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_from_params() {
        let p = json!({"failFirst": 2, "failCode": "rate_limited", "retryAfterMs": 500, "maxImagesPerCall": 1});
        let s = MockSettings::from_params(p.as_object().unwrap(), "providers[0].params").unwrap();
        assert_eq!(s.fail_first, 2);
        assert_eq!(s.fail_code, ErrorCode::RateLimited);
        assert_eq!(s.max_images_per_call, 1);
        let bad = json!({"failCode": "nope"});
        let e =
            MockSettings::from_params(bad.as_object().unwrap(), "providers[0].params").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("providers[0].params.failCode"));
        let bad = json!({"failRate": 2});
        assert!(MockSettings::from_params(bad.as_object().unwrap(), "p").is_err());
    }

    #[test]
    fn failures_follow_settings() {
        let s = MockSettings {
            fail_first: 2,
            fail_code: ErrorCode::RateLimited,
            retry_after_ms: Some(250),
            ..Default::default()
        };
        let e = injected_failure(&s, "mock-svg", 1, 0.99).unwrap();
        assert_eq!(
            (e.code, e.status, e.retry_after_ms),
            (ErrorCode::RateLimited, Some(429), Some(250))
        );
        assert!(injected_failure(&s, "mock-svg", 2, 0.99).is_some());
        assert!(injected_failure(&s, "mock-svg", 3, 0.99).is_none());
        let s = MockSettings {
            fail_rate: 0.3,
            ..Default::default()
        };
        assert!(injected_failure(&s, "mock-svg", 1, 0.29).is_some());
        assert!(injected_failure(&s, "mock-svg", 1, 0.31).is_none());
    }

    #[test]
    fn svg_shows_the_escaped_prompt_and_seed_colours() {
        let svg = render_svg("a <cat> & \"dog\"", Size::new(1024, 576), 42);
        assert!(svg.contains("a &lt;cat&gt; &amp; &quot;dog&quot;"));
        assert!(svg.contains("hsl(42,70%,55%)"));
        assert!(svg.contains("width=\"1024\" height=\"576\""));
        assert_ne!(
            svg,
            render_svg("a <cat> & \"dog\"", Size::new(1024, 576), 43)
        );
    }

    #[test]
    fn long_prompts_wrap_and_truncate() {
        let lines = wrap(&"word ".repeat(200), 20, 8);
        assert_eq!(lines.len(), 8);
        assert!(lines.iter().all(|l| l.chars().count() <= 21));
        assert!(lines.last().unwrap().ends_with('…'));
    }
}
