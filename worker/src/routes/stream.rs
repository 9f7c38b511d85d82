//! Streamed generations and edits (`"stream": true`): everything that can
//! fail before a stream starts (auth, the body, config, keys, validation,
//! `Idempotency-Key` checks) is done first and answers as JSON; then the
//! response, `200 text/event-stream`, goes out at once and the engine runs
//! on (`waitUntil`), each engine event written as it happens
//! ([`crate::images::stream`] shapes them, `js/sse.js` writes them).
//!
//! - Images: a `*.partial_image` event per preview, a `*.completed` event
//!   per finished image as soon as it is done (any provider).
//! - Failures after the start: an `error` event (`{"error": {...}}`, the
//!   JSON error body), then the end. A result lacking some images sends its
//!   images, then an `error` event naming the first failed part.
//! - `imagegen_progress`: the engine's attempt, retry and fallback events,
//!   and finally the result summary, as `imagegen.progress` events.
//! - `Idempotency-Key`: the result is stored as the JSON response would be
//!   before the stream ends; a repeat is replayed as a stream of
//!   `*.completed` events (no previews). While a key is held the engine
//!   runs to its end even if the client goes away, so the paid result is
//!   kept; without a key, a client going away cancels the run.

use super::generate;
use super::Request;
use crate::error::ApiError;
use crate::idempotency::{self, Begun, Claim};
use crate::images;
use crate::images::response::format_of;
use crate::images::stream::{
    partial_failure, progress, result_event, EventMeta, FailedPart, Shown, StreamOptions, ERROR,
    PROGRESS,
};
use crate::platform::{self, EventStream};
use crate::respond::{header, to_js_object};
use crate::usage::{self, hold::Hold};
use imagegen::engine::{self, EventSink};
use imagegen::model::{GenerateEvent, Warning};
use imagegen::request::ValidRequest;
use imagegen::resilience::ClientState;
use imagegen::runtime::CancelToken;
use imagegen::{ErrorCode, ProviderName};
use js_sys::Array;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// A request ready to run: the engine's request, the Worker's warnings and
/// what every image event repeats.
pub struct Prepared {
    /// The engine's request.
    pub valid: ValidRequest,
    /// Warnings of the Worker's own (options for other providers).
    pub warnings: Vec<Warning>,
    /// Fields of the image events.
    pub meta: EventMeta,
    /// The user's monthly budget (`None`: none).
    pub budget: Option<f64>,
}

/// How a streamed request is answered: its options, its fingerprint (the
/// body, or the form's description; only computed with an
/// `Idempotency-Key`), the fields of replayed events (the request's own,
/// without the user's defaults, which a replay does not read again) and
/// its preparation.
pub struct Streamed<F, M, P> {
    /// `partial_images`, `imagegen_progress`.
    pub options: StreamOptions,
    /// The idempotency fingerprint.
    pub fingerprint: F,
    /// Fields of replayed events.
    pub replay_meta: M,
    /// Config, keys and the engine's request; errors are JSON responses.
    pub prepare: P,
}

/// Answers a streamed request (see the module documentation).
pub async fn respond<F, M, P>(
    r: &Request<'_>,
    s: Streamed<F, M, P>,
) -> Result<web_sys::Response, ApiError>
where
    F: Future<Output = Result<Vec<u8>, ApiError>>,
    M: FnOnce() -> Result<EventMeta, ApiError>,
    P: Future<Output = Result<Prepared, ApiError>>,
{
    if r.in_job {
        // Refused before anything is paid: a job's result is links.
        return Err(ApiError::invalid(
            "stream",
            "a streamed request (\"stream\": true) cannot run as a job (Prefer: respond-async)",
        ));
    }
    let Streamed {
        options,
        fingerprint,
        replay_meta,
        prepare,
    } = s;
    let claim = match header(r.req, "idempotency-key") {
        None => None,
        Some(key) => {
            let fp = fingerprint.await?;
            match idempotency::begin(r.state.as_ref(), &r.store.user, &key, &fp).await? {
                Begun::Replay(stored) => {
                    return replay(r, options, replay_meta()?, &stored.object()?)
                }
                Begun::Run(claim) => Some(claim),
            }
        }
    };
    let prepared = async {
        let mut p = prepare.await?;
        let ttl = r.settings.hold_ttl_ms;
        let hold = usage::hold::reserve(r.state.as_ref(), p.budget, ttl, &mut p.valid).await?;
        Ok::<_, ApiError>((p, hold))
    };
    let (prepared, hold) = match prepared.await {
        Ok(p) => p,
        Err(e) => {
            if let Some(c) = claim {
                c.failed().await;
            }
            return Err(e);
        }
    };
    let stream = EventStream::open(r.settings.keep_alive_ms, &[]);
    let response = match stream.http_response() {
        Ok(response) => response,
        Err(e) => {
            if let Some(c) = claim {
                c.failed().await;
            }
            if let Some(h) = hold {
                h.release().await;
            }
            return Err(e);
        }
    };
    let client = generate::client(r);
    let run = Run {
        stream,
        prepared,
        options,
        client,
        created: platform::now_ms() / 1000,
    };
    let task = wasm_bindgen_futures::future_to_promise(async move {
        run.go(claim, hold).await;
        Ok(JsValue::UNDEFINED)
    });
    platform::wait_until(r.ctx, &task);
    Ok(response)
}

/// One streamed run, after the response went out.
struct Run {
    stream: EventStream,
    prepared: Prepared,
    options: StreamOptions,
    client: Rc<ClientState>,
    created: u64,
}

impl Run {
    async fn go(self, claim: Option<Claim>, hold: Option<Hold>) {
        let cancel = CancelToken::new();
        let watch = (self.stream.clone(), cancel.clone(), claim.is_none());
        wasm_bindgen_futures::spawn_local(async move {
            let (stream, cancel, cancellable) = watch;
            // Resolves when the stream ends either way; `true`: the client left.
            if stream.client_gone().await && cancellable {
                cancel.cancel();
            }
        });
        let sink = Sink {
            stream: &self.stream,
            meta: &self.prepared.meta,
            progress: self.options.progress,
        };
        let result = engine::generate_with_client(
            &platform::runtime(),
            &self.prepared.valid,
            &sink,
            &cancel,
            Some(&self.client),
        )
        .await;
        if let Some(hold) = hold {
            hold.settle(&result).await;
        }
        match result {
            Ok(result) => {
                if self.options.progress {
                    let summary = result_event(&result, &self.prepared.warnings);
                    self.send(PROGRESS, to_js_object(&summary));
                }
                let failed: Vec<FailedPart> = result.errors.iter().map(FailedPart::from).collect();
                let failure = partial_failure(&failed, result.images.len());
                if let Some(claim) = claim {
                    let warnings = self.prepared.warnings.clone();
                    let obj = to_js_object(&images::response(result, self.created, warnings));
                    // Paid for: kept for a replay before the stream ends (or,
                    // if it cannot be, the key is marked done: never paid twice).
                    let _ = claim.done(&obj.unwrap_or(JsValue::NULL)).await;
                }
                if let Some(e) = failure {
                    self.stream.event_text(ERROR, &e.body());
                }
            }
            Err(e) => {
                if let Some(claim) = claim {
                    claim.failed().await;
                }
                self.stream
                    .event_text(ERROR, &ApiError::from_engine(&e).body());
            }
        }
        self.stream.finish();
    }

    fn send(&self, kind: &str, data: Result<JsValue, ApiError>) {
        if let Ok(data) = data {
            self.stream.event(kind, &data);
        }
    }
}

/// Writes engine events to the stream as they happen.
struct Sink<'a> {
    stream: &'a EventStream,
    meta: &'a EventMeta,
    progress: bool,
}

impl EventSink for Sink<'_> {
    fn emit(&self, event: GenerateEvent) {
        let now_s = platform::now_ms() / 1000;
        match &event {
            GenerateEvent::Image { image, part, .. } => {
                let shown = Shown {
                    base64: &image.base64,
                    mime_type: &image.mime_type,
                    provider: image.provider,
                    model: &image.model,
                    part: Some(*part),
                };
                let data = self
                    .meta
                    .completed(shown, image.revised_prompt.as_deref(), now_s);
                if let Ok(obj) = to_js_object(&data) {
                    self.stream.event(self.meta.endpoint.completed_type(), &obj);
                }
            }
            GenerateEvent::PartialImage {
                part,
                provider,
                model,
                index,
                image,
            } => {
                let shown = Shown {
                    base64: &image.base64,
                    mime_type: &image.mime_type,
                    provider: *provider,
                    model,
                    part: Some(*part),
                };
                let data = self.meta.partial(shown, *index, now_s);
                if let Ok(obj) = to_js_object(&data) {
                    self.stream.event(self.meta.endpoint.partial_type(), &obj);
                }
            }
            other if self.progress => {
                if let Some(data) = progress(other) {
                    self.stream.event_text(PROGRESS, &data.to_string());
                }
            }
            _ => {}
        }
    }
}

/// A stored result replayed as a stream: its images as `*.completed`
/// events, the summary when asked for, an `error` event if parts failed.
/// The stored JS object is read where it is (no copy of its images).
fn replay(
    r: &Request<'_>,
    options: StreamOptions,
    meta: EventMeta,
    stored: &JsValue,
) -> Result<web_sys::Response, ApiError> {
    let list = |name: &str| {
        platform::get(stored, name)
            .map(|v| Array::from(&v))
            .unwrap_or_default()
    };
    let (data, errors) = (list("data"), list("errors"));
    let stream = EventStream::open(
        r.settings.keep_alive_ms,
        &[("idempotent-replayed", "true".to_string())],
    );
    let response = stream.http_response()?;
    let now_s = (platform::now_ms() / 1000) as f64;
    let kind = meta.endpoint.completed_type();
    for item in data.iter() {
        let field = |name: &str| platform::get(&item, name).unwrap_or_default();
        let mime = field("mime_type").as_string().unwrap_or_default();
        let mut pairs = vec![
            ("type", kind.into()),
            ("b64_json", field("b64_json")),
            ("created_at", now_s.into()),
            ("size", meta.size.as_str().into()),
            ("quality", meta.quality.as_str().into()),
            ("background", meta.background.as_str().into()),
            ("output_format", format_of(&mime).into()),
        ];
        if let Some(revised) = platform::get(&item, "revised_prompt") {
            pairs.push(("revised_prompt", revised));
        }
        pairs.extend([("provider", field("provider")), ("model", field("model"))]);
        stream.event(kind, &platform::obj(&pairs));
    }
    if options.progress {
        let summary = platform::obj(&[
            ("type", PROGRESS.into()),
            ("stage", "result".into()),
            ("images", data.length().into()),
            ("attempts", list("attempts").into()),
            ("warnings", list("warnings").into()),
            ("errors", errors.clone().into()),
        ]);
        stream.event(PROGRESS, &summary);
    }
    let failed: Vec<FailedPart> = errors.iter().map(|e| stored_part(&e)).collect();
    if let Some(e) = partial_failure(&failed, data.length() as usize) {
        stream.event_text(ERROR, &e.body());
    }
    stream.finish();
    Ok(response)
}

/// A failed part of a stored response.
fn stored_part(e: &JsValue) -> FailedPart {
    let text = |name: &str| platform::get(e, name).and_then(|v| v.as_string());
    FailedPart {
        code: text("code")
            .and_then(|c| ErrorCode::parse(&c))
            .unwrap_or(ErrorCode::ProviderError),
        message: text("message").unwrap_or_default(),
        provider: text("provider").and_then(|p| ProviderName::parse(&p)),
        retryable: platform::get(e, "retryable").and_then(|v| v.as_bool()) == Some(true),
    }
}
