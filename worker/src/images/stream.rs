//! Streamed responses without the platform: a request's stream options
//! (`stream`, `partial_images`, `imagegen_progress`) and the data of each
//! event in OpenAI's format (`image_generation.*` / `image_edit.*`), plus
//! our `imagegen.progress` events. The SSE framing and the JSON text are
//! made by the platform (`worker/js/sse.js`): images stay JS strings.

use super::response::{format_of, AttemptOut, ErrorOut};
use crate::error::ApiError;
use imagegen::model::{ErrorInfo, GenerateEvent, GenerateResult, Warning};
use imagegen::{ErrorCode, ImageData, ProviderName};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Most previews OpenAI sends per image.
pub const MAX_PARTIAL_IMAGES: u8 = 3;

/// The type of our own progress events.
pub const PROGRESS: &str = "imagegen.progress";

/// The type of the event that reports a failure once the stream started.
pub const ERROR: &str = "error";

/// What a streamed request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Previews per image (0..=3).
    pub partial_images: u8,
    /// Our `imagegen.progress` events are wanted.
    pub progress: bool,
}

/// A boolean field: JSON `true`/`false`, or the text `true`/`false` (form
/// fields arrive as text).
fn flag(obj: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::invalid(
            name,
            format!("`{name}` must be true or false"),
        )),
    }
}

fn partial_images(obj: &Map<String, Value>) -> Result<u8, ApiError> {
    let bad = || {
        ApiError::invalid(
            "partial_images",
            format!("`partial_images` must be a whole number from 0 to {MAX_PARTIAL_IMAGES}"),
        )
    };
    let n = match obj.get("partial_images") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Number(n)) => n.as_f64().ok_or_else(bad)?,
        Some(Value::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if n.fract() != 0.0 || !(0.0..=f64::from(MAX_PARTIAL_IMAGES)).contains(&n) {
        return Err(bad());
    }
    Ok(n as u8)
}

/// The stream options of a request (a generation's JSON body or an edit's
/// form fields); `None` when it does not ask for a stream. `partial_images`
/// and `imagegen_progress` are checked either way and only used with a
/// stream (previews cost output tokens, so none are asked for without one).
pub fn stream_options(obj: &Map<String, Value>) -> Result<Option<StreamOptions>, ApiError> {
    let stream = flag(obj, "stream")?;
    let options = StreamOptions {
        partial_images: partial_images(obj)?,
        progress: flag(obj, "imagegen_progress")?,
    };
    Ok(stream.then_some(options))
}

/// Whether a generation's JSON body asks for a stream (a body that does
/// not parse is left to the request parser, which says why).
pub fn requested(body: &[u8]) -> Result<Option<StreamOptions>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(obj)) => stream_options(&obj),
        _ => Ok(None),
    }
}

/// Whether an edit's form fields ask for a stream.
pub fn requested_in_form(fields: &[(String, String)]) -> Result<Option<StreamOptions>, ApiError> {
    let obj: Map<String, Value> = fields
        .iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "stream" | "partial_images" | "imagegen_progress"
            )
        })
        .map(|(name, text)| (name.clone(), Value::String(text.clone())))
        .collect();
    stream_options(&obj)
}

/// Which endpoint streams: its events are named after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `image_generation.*`.
    Generation,
    /// `image_edit.*`.
    Edit,
}

impl Endpoint {
    /// `image_generation.partial_image` / `image_edit.partial_image`.
    pub fn partial_type(self) -> &'static str {
        match self {
            Endpoint::Generation => "image_generation.partial_image",
            Endpoint::Edit => "image_edit.partial_image",
        }
    }

    /// `image_generation.completed` / `image_edit.completed`.
    pub fn completed_type(self) -> &'static str {
        match self {
            Endpoint::Generation => "image_generation.completed",
            Endpoint::Edit => "image_edit.completed",
        }
    }
}

/// The fields every image event repeats: what was asked for (`auto` where
/// the request left it open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// Names the events.
    pub endpoint: Endpoint,
    /// `WxH` or `auto`.
    pub size: String,
    /// OpenAI's `quality`, or `auto`.
    pub quality: String,
    /// OpenAI's `background`, or `auto`.
    pub background: String,
}

impl EventMeta {
    /// The meta of a parsed request.
    pub fn new(endpoint: Endpoint, parsed: &super::Parsed) -> EventMeta {
        let openai = |name: &str| {
            parsed
                .openai_params
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("auto")
                .to_string()
        };
        EventMeta {
            endpoint,
            size: parsed.request.size.clone().unwrap_or_else(|| "auto".into()),
            quality: openai("quality"),
            background: openai("background"),
        }
    }
}

/// `*.partial_image` and `*.completed` data: OpenAI's fields (the index
/// only on previews) plus where the image came from.
#[derive(Serialize)]
pub struct ImageEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    b64_json: &'a ImageData,
    #[serde(skip_serializing_if = "Option::is_none")]
    partial_image_index: Option<u32>,
    created_at: u64,
    size: &'a str,
    quality: &'a str,
    background: &'a str,
    output_format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    revised_prompt: Option<&'a str>,
    provider: ProviderName,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<u32>,
}

/// One image as it goes out: its data, type and origin.
pub struct Shown<'a> {
    /// Base64 (a JS string on wasm).
    pub base64: &'a ImageData,
    /// e.g. `image/png`.
    pub mime_type: &'a str,
    /// Who made it.
    pub provider: ProviderName,
    /// With which model.
    pub model: &'a str,
    /// The part of the request it belongs to (with previews each image is
    /// a part of its own, so this tells several images' previews apart).
    pub part: Option<u32>,
}

impl EventMeta {
    /// A preview's event data (`index`: 0-based within its attempt).
    pub fn partial<'a>(&'a self, image: Shown<'a>, index: u32, now_s: u64) -> ImageEvent<'a> {
        self.event(
            self.endpoint.partial_type(),
            image,
            Some(index),
            None,
            now_s,
        )
    }

    /// A finished image's event data.
    pub fn completed<'a>(
        &'a self,
        image: Shown<'a>,
        revised_prompt: Option<&'a str>,
        now_s: u64,
    ) -> ImageEvent<'a> {
        let kind = self.endpoint.completed_type();
        self.event(kind, image, None, revised_prompt, now_s)
    }

    fn event<'a>(
        &'a self,
        kind: &'static str,
        image: Shown<'a>,
        partial_image_index: Option<u32>,
        revised_prompt: Option<&'a str>,
        now_s: u64,
    ) -> ImageEvent<'a> {
        ImageEvent {
            kind,
            b64_json: image.base64,
            partial_image_index,
            created_at: now_s,
            size: &self.size,
            quality: &self.quality,
            background: &self.background,
            output_format: format_of(image.mime_type),
            revised_prompt,
            provider: image.provider,
            model: image.model,
            part: image.part,
        }
    }
}

/// An engine event as `imagegen.progress` data (snake_case, `stage` names
/// the engine event); `None` for image events, which have their own.
pub fn progress(event: &GenerateEvent) -> Option<Value> {
    let data = match event {
        GenerateEvent::AttemptStart {
            provider,
            model,
            part,
            attempt,
        } => json!({"stage": "attempt_start", "provider": provider, "model": model,
                    "part": part, "attempt": attempt}),
        GenerateEvent::AttemptEnd {
            provider,
            model,
            part,
            attempt,
            outcome,
            status,
            duration_ms,
            cost_usd,
        } => json!({"stage": "attempt_end", "provider": provider, "model": model,
                    "part": part, "attempt": attempt, "outcome": outcome,
                    "status": status, "duration_ms": duration_ms, "cost_usd": cost_usd}),
        GenerateEvent::RetryScheduled {
            provider,
            part,
            attempt,
            code,
            delay_ms,
        } => json!({"stage": "retry_scheduled", "provider": provider, "part": part,
                    "attempt": attempt, "code": code, "delay_ms": delay_ms}),
        GenerateEvent::Fallback {
            part,
            from,
            to,
            code,
        } => json!({"stage": "fallback", "part": part, "from": from, "to": to, "code": code}),
        GenerateEvent::Image { .. } | GenerateEvent::PartialImage { .. } => return None,
    };
    Some(with_type(data))
}

fn with_type(mut data: Value) -> Value {
    if let Value::Object(map) = &mut data {
        map.insert("type".into(), PROGRESS.into());
    }
    data
}

/// The last `imagegen.progress` event: what the JSON response holds
/// besides the images (every attempt, warnings, failed parts).
#[derive(Serialize)]
pub struct ResultEvent {
    #[serde(rename = "type")]
    kind: &'static str,
    stage: &'static str,
    images: usize,
    attempts: Vec<AttemptOut>,
    warnings: Vec<Warning>,
    errors: Vec<ErrorOut>,
    #[serde(flatten)]
    cost: crate::usage::CostFields,
}

/// The result summary of a finished stream (`extra_warnings`: the
/// Worker's own, before the engine's).
pub fn result_event(result: &GenerateResult, extra_warnings: &[Warning]) -> ResultEvent {
    let mut warnings = extra_warnings.to_vec();
    warnings.extend(result.warnings.iter().cloned());
    ResultEvent {
        kind: PROGRESS,
        stage: "result",
        images: result.images.len(),
        attempts: result.attempts.iter().map(AttemptOut::from).collect(),
        warnings,
        errors: result.errors.iter().map(ErrorOut::from).collect(),
        cost: crate::usage::CostFields::from(&result.usage),
    }
}

/// A failed part, as an `error` event needs it (from the engine's result,
/// or read back from a stored response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPart {
    /// Why it failed.
    pub code: ErrorCode,
    /// The engine's message (never holds a key).
    pub message: String,
    /// The provider that failed last.
    pub provider: Option<ProviderName>,
    /// Whether trying again may help.
    pub retryable: bool,
}

impl From<&ErrorInfo> for FailedPart {
    fn from(e: &ErrorInfo) -> Self {
        FailedPart {
            code: e.code,
            message: e.message.clone(),
            provider: e.provider,
            retryable: e.retryable,
        }
    }
}

/// The `error` event ending a stream whose result lacks some images: the
/// finished ones went out as `*.completed` events; this names the first
/// failed part, and how many failed.
pub fn partial_failure(errors: &[FailedPart], delivered: usize) -> Option<ApiError> {
    let first = errors.first()?;
    let status = ApiError::status_for(first.code);
    let mut e = ApiError::new(
        status,
        first.code.as_str(),
        format!(
            "{} part(s) of the request failed after {delivered} image(s) were sent: {}",
            errors.len(),
            first.message
        ),
    );
    e.provider = first.provider;
    e.retryable = Some(first.retryable);
    Some(e)
}

#[cfg(test)]
mod tests;
