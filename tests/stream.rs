//! Streamed previews (`partialImages`) through the engine, natively: a
//! scripted transport plays OpenAI event streams in virtual time.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use imagegen::engine::{self, Runtime};
use imagegen::runtime::CancelToken;
use imagegen::validate::{validate, ValidRequest};
use imagegen::{
    ErrorCode, GenerateEvent, GenerateRequest, GenerateResult, ProviderConfig, ProviderName,
    WarningCode,
};
use serde_json::{json, Value};
use std::cell::RefCell;
use support::{cfg, transcript, Reply, ScriptedTransport, TestRng, VirtualTime};

const OPENAI: &str = "http://openai.test";
const GEMINI: &str = "http://gemini.test";

fn openai() -> ProviderConfig {
    cfg(ProviderName::Openai, OPENAI)
}

fn mock(params: Value) -> ProviderConfig {
    ProviderConfig {
        provider: Some(ProviderName::Mock),
        params: Some(params),
        ..Default::default()
    }
}

fn request(providers: Vec<ProviderConfig>, partial_images: u32) -> ValidRequest {
    let r = GenerateRequest {
        prompt: Some("a lighthouse at dusk".into()),
        providers: Some(providers),
        partial_images: Some(f64::from(partial_images)),
        retry: Some(imagegen::model::RetryOptions {
            base_delay_ms: Some(100),
            max_delay_ms: Some(100),
            ..Default::default()
        }),
        ..Default::default()
    };
    validate(&r).unwrap()
}

/// What the events said, with the virtual time of previews and images.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Start(ProviderName, u32),
    End(ProviderName, String),
    Preview(ProviderName, u32, String, String, u64),
    Image(String, u64),
    Other,
}

struct Harness {
    vt: VirtualTime,
    rt: Runtime<ScriptedTransport, VirtualTime, VirtualTime, TestRng>,
    seen: RefCell<Vec<Seen>>,
}

impl Harness {
    fn new() -> Self {
        let vt = VirtualTime::new();
        Harness {
            rt: Runtime {
                transport: ScriptedTransport::new(&vt),
                sleeper: vt.clone(),
                clock: vt.clone(),
                rng: TestRng::fixed(0.5),
            },
            vt,
            seen: RefCell::new(Vec::new()),
        }
    }

    fn run(&self, req: &ValidRequest) -> Result<GenerateResult, imagegen::Error> {
        let t0 = imagegen::runtime::Clock::now_ms(&self.vt);
        let now = || imagegen::runtime::Clock::now_ms(&self.vt) - t0;
        let sink = |e: GenerateEvent| {
            let s = match e {
                GenerateEvent::AttemptStart {
                    provider, attempt, ..
                } => Seen::Start(provider, attempt),
                GenerateEvent::AttemptEnd {
                    provider, outcome, ..
                } => Seen::End(
                    provider,
                    serde_json::to_value(outcome)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .into(),
                ),
                GenerateEvent::PartialImage {
                    provider,
                    index,
                    image,
                    ..
                } => Seen::Preview(
                    provider,
                    index,
                    image.mime_type,
                    image.base64.to_rust_string(),
                    now(),
                ),
                GenerateEvent::Image { image, .. } => {
                    Seen::Image(image.base64.to_rust_string(), now())
                }
                _ => Seen::Other,
            };
            self.seen.borrow_mut().push(s);
        };
        self.vt
            .run(engine::generate(&self.rt, req, &sink, &CancelToken::new()))
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen
            .borrow()
            .iter()
            .filter(|s| **s != Seen::Other)
            .cloned()
            .collect()
    }

    fn previews(&self) -> Vec<(ProviderName, u32, String)> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Preview(p, i, _, b, _) => Some((p, i, b)),
                _ => None,
            })
            .collect()
    }
}

fn preview(i: u32, b64: &str) -> (&'static str, Value) {
    (
        "image_generation.partial_image",
        json!({"type": "image_generation.partial_image", "b64_json": b64,
               "partial_image_index": i, "output_format": "png"}),
    )
}

fn completed(b64: &str) -> (&'static str, Value) {
    (
        "image_generation.completed",
        json!({"type": "image_generation.completed", "b64_json": b64, "created_at": 1,
               "output_format": "webp", "usage": {"total_tokens": 300}}),
    )
}

fn error_event(kind: &str, code: &str) -> (&'static str, Value) {
    (
        "error",
        json!({"error": {"message": "stream failed", "type": kind, "code": code, "param": null}}),
    )
}

fn stream(events: &[(&str, Value)], delay: u64) -> Reply {
    Reply::Stream(transcript(events), delay)
}

fn body_of(h: &Harness, i: usize) -> Value {
    let log = h.rt.transport.log.borrow();
    serde_json::from_slice(log[i].body.as_deref().unwrap()).unwrap()
}

#[test]
fn previews_arrive_as_events_before_the_final_image() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![stream(
            &[
                preview(0, "UDA="),
                preview(1, "UDE="),
                completed("RklOQUw="),
            ],
            1000,
        )],
    );
    let r = h.run(&request(vec![openai()], 2)).unwrap();
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.images[0].base64.to_rust_string(), "RklOQUw=");
    assert_eq!(r.images[0].mime_type, "image/webp");
    let o = ProviderName::Openai;
    assert_eq!(
        h.seen(),
        vec![
            Seen::Start(o, 1),
            Seen::Preview(o, 0, "image/png".into(), "UDA=".into(), 1000),
            Seen::Preview(o, 1, "image/png".into(), "UDE=".into(), 2000),
            Seen::End(o, "ok".into()),
            Seen::Image("RklOQUw=".into(), 3000),
        ]
    );
    let body = body_of(&h, 0);
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["partial_images"], json!(2));
    assert_eq!(body["n"], json!(1));
}

#[test]
fn an_error_event_mid_stream_is_retried_and_its_previews_are_not_results() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![
            stream(
                &[
                    preview(0, "RkFJTEVE"),
                    error_event("server_error", "server_error"),
                ],
                10,
            ),
            stream(&[preview(0, "UDA="), completed("T0s=")], 10),
        ],
    );
    let r = h.run(&request(vec![openai()], 1)).unwrap();
    let images: Vec<String> = r.images.iter().map(|i| i.base64.to_rust_string()).collect();
    assert_eq!(images, vec!["T0s=".to_string()]);
    let outcomes: Vec<_> = r.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            imagegen::Outcome::Failed(ErrorCode::ProviderError),
            imagegen::Outcome::Ok
        ]
    );
    // The error event is reported with the status the same error has over HTTP.
    assert_eq!(r.attempts[0].status, Some(500));
    let o = ProviderName::Openai;
    assert_eq!(
        h.previews(),
        vec![(o, 0, "RkFJTEVE".into()), (o, 0, "UDA=".into())]
    );
}

#[test]
fn an_error_event_that_falls_back_moves_on_to_the_next_provider_with_its_previews() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![stream(
            &[
                preview(0, "UDA="),
                error_event("insufficient_quota", "insufficient_quota"),
            ],
            10,
        )],
    );
    let r = h
        .run(&request(vec![openai(), mock(json!({"latencyMs": 400}))], 3))
        .unwrap();
    assert_eq!(
        r.attempts[0].outcome,
        imagegen::Outcome::Failed(ErrorCode::Quota)
    );
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.images[0].provider, ProviderName::Mock);
    let mock_previews: Vec<_> = h
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Preview(ProviderName::Mock, i, mime, b64, _) => Some((i, mime, b64)),
            _ => None,
        })
        .collect();
    assert_eq!(mock_previews.len(), 3);
    assert!(mock_previews.iter().all(|(_, m, _)| m == "image/svg+xml"));
    // Distinct images, each saying which preview it is.
    for (i, (index, _, b64)) in mock_previews.iter().enumerate() {
        assert_eq!(*index, i as u32);
        let svg = String::from_utf8(support::decode_base64(b64)).unwrap();
        assert!(svg.contains(&format!("preview {}", i + 1)), "{svg}");
    }
}

#[test]
fn a_rate_limit_error_event_is_retried_like_a_429() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![
            stream(&[error_event("requests", "rate_limit_exceeded")], 10),
            stream(&[completed("T0s=")], 10),
        ],
    );
    let r = h.run(&request(vec![openai()], 1)).unwrap();
    assert_eq!(
        r.attempts[0].outcome,
        imagegen::Outcome::Failed(ErrorCode::RateLimited)
    );
    assert_eq!(r.attempts[0].status, Some(429));
    assert_eq!(r.images.len(), 1);
}

#[test]
fn a_cut_stream_is_a_network_error_and_is_retried() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![
            stream(&[preview(0, "UDA="), preview(1, "UDE=")], 10),
            stream(&[completed("T0s=")], 10),
        ],
    );
    let r = h.run(&request(vec![openai()], 2)).unwrap();
    assert_eq!(
        r.attempts[0].outcome,
        imagegen::Outcome::Failed(ErrorCode::Network)
    );
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.images[0].base64.to_rust_string(), "T0s=");
}

#[test]
fn a_malformed_event_is_a_bad_response() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![
            Reply::Stream(
                "event: image_generation.partial_image\ndata: {\"b64_json\": \"UDA\n\n".into(),
                10,
            ),
            stream(&[completed("T0s=")], 10),
        ],
    );
    let r = h.run(&request(vec![openai()], 1)).unwrap();
    assert_eq!(
        r.attempts[0].outcome,
        imagegen::Outcome::Failed(ErrorCode::BadResponse)
    );
    assert_eq!(r.images.len(), 1);
}

#[test]
fn the_per_attempt_timeout_cuts_a_slow_stream() {
    let h = Harness::new();
    h.rt.transport.script(
        OPENAI,
        vec![stream(&[preview(0, "UDA="), completed("T0s=")], 4000)],
    );
    let mut req = request(vec![openai()], 1);
    req.timeout_ms = 6000;
    req.retry.max_attempts = 1;
    let e = h.run(&req).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    // The preview at 4 s came; the image at 8 s never did.
    assert_eq!(h.previews().len(), 1);
}

#[test]
fn streaming_splits_the_count_into_one_image_per_call() {
    let h = Harness::new();
    let one = |b: &str| stream(&[preview(0, "UDA="), completed(b)], 10);
    h.rt.transport
        .script(OPENAI, vec![one("QQ=="), one("Qg=="), one("Qw==")]);
    let mut req = request(vec![openai()], 1);
    req.image.count = 3;
    let r = h.run(&req).unwrap();
    assert_eq!(r.images.len(), 3);
    assert_eq!(h.rt.transport.calls_to(OPENAI), 3);
    for i in 0..3 {
        assert_eq!(body_of(&h, i)["n"], json!(1));
    }
    assert_eq!(h.previews().len(), 3);
}

#[test]
fn a_provider_that_cannot_stream_warns_and_is_called_without_previews() {
    let h = Harness::new();
    h.rt.transport
        .script(GEMINI, vec![Reply::Fixture("gemini/success", 10)]);
    let r = h
        .run(&request(vec![cfg(ProviderName::Gemini, GEMINI)], 2))
        .unwrap();
    assert_eq!(r.images.len(), 1);
    let w: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::UnsupportedOption)
        .collect();
    assert_eq!(w.len(), 1, "{:?}", r.warnings);
    assert!(w[0].message.contains("partialImages"), "{}", w[0].message);
    let body = body_of(&h, 0).to_string();
    assert!(
        !body.contains("stream") && !body.contains("partial"),
        "{body}"
    );
    assert!(h.previews().is_empty());
}

#[test]
fn without_partial_images_nothing_streams() {
    let h = Harness::new();
    h.rt.transport
        .script(OPENAI, vec![Reply::Fixture("openai/success", 10)]);
    let r = h.run(&request(vec![openai()], 0)).unwrap();
    assert_eq!(r.images.len(), 1);
    let body = body_of(&h, 0);
    assert!(body.get("stream").is_none() && body.get("partial_images").is_none());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn fixture_transcripts_decode_like_the_sdk_reads_them() {
    let dir = support::fixtures_dir().join("openai-stream");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    for (name, previews, outcome) in [
        ("image_generation.sse", 2, Ok(())),
        ("image_edit.sse", 1, Ok(())),
        ("completed_then_done.sse", 0, Ok(())),
        ("error_midstream.sse", 1, Err(ErrorCode::ProviderError)),
    ] {
        let h = Harness::new();
        h.rt.transport
            .script(OPENAI, vec![Reply::Stream(read(name), 10)]);
        let mut req = request(vec![openai()], 2);
        req.retry.max_attempts = 1;
        let r = h.run(&req);
        assert_eq!(h.previews().len(), previews, "{name}");
        assert_eq!(
            r.map(|r| assert_eq!(r.images.len(), 1)).map_err(|e| e.code),
            outcome,
            "{name}"
        );
    }
}

#[test]
fn a_400_refusing_the_stream_is_tried_once_more_without_streaming() {
    let h = Harness::new();
    let refusal = json!({"error": {"message": "Streaming is not supported for this model.",
        "type": "invalid_request_error", "param": "stream", "code": "unsupported_value"}});
    h.rt.transport.script(
        OPENAI,
        vec![
            Reply::Json(400, vec![], refusal, 10),
            Reply::Fixture("openai/success", 10),
        ],
    );
    let r = h.run(&request(vec![openai()], 2)).unwrap();
    assert_eq!(r.images.len(), 1);
    assert_eq!(
        r.attempts[0].outcome,
        imagegen::Outcome::Failed(ErrorCode::InvalidRequest)
    );
    assert_eq!(body_of(&h, 0)["stream"], json!(true));
    let second = body_of(&h, 1);
    assert!(second.get("stream").is_none() && second.get("partial_images").is_none());
    let w: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::UnsupportedOption)
        .collect();
    assert_eq!(w.len(), 1, "{:?}", r.warnings);
    assert!(
        w[0].message.contains("refused streaming"),
        "{}",
        w[0].message
    );
}

#[test]
fn a_400_about_another_field_falls_back_as_before() {
    let h = Harness::new();
    h.rt.transport
        .script(OPENAI, vec![Reply::Fixture("openai/invalid_size", 10)]);
    let r = h.run(&request(vec![openai(), mock(json!({}))], 1)).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    assert_eq!(r.images[0].provider, ProviderName::Mock);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::ProviderRejectedRequest));
}
