//! Cost: each provider's reported usage (payloads shaped like the official
//! SDKs' types: `openai` `ImagesResponse.usage`, `@google/genai`
//! `GenerateContentResponseUsageMetadata`) priced by the table, billed
//! failures, unknown prices, caller prices, and the `maxCostUsd` cap.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use imagegen::engine::{self, Runtime};
use imagegen::runtime::CancelToken;
use imagegen::validate::{validate, ValidRequest};
use imagegen::{
    ErrorCode, GenerateEvent, GenerateRequest, GenerateResult, Outcome, ProviderConfig,
    ProviderName, WarningCode,
};
use serde_json::{json, Value};
use support::{Reply, ScriptedTransport, TestRng, VirtualTime};

const OPENAI: &str = "http://openai.test";
const GEMINI: &str = "http://gemini.test";
const STABILITY: &str = "http://stability.test";
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

fn cfg(provider: ProviderName, origin: &str, model: &str) -> ProviderConfig {
    ProviderConfig {
        model: Some(model.into()),
        ..support::cfg(provider, origin)
    }
}

fn mock() -> ProviderConfig {
    ProviderConfig {
        provider: Some(ProviderName::Mock),
        ..Default::default()
    }
}

fn request(
    providers: Vec<ProviderConfig>,
    edit: impl FnOnce(&mut GenerateRequest),
) -> ValidRequest {
    let mut r = GenerateRequest {
        prompt: Some("a lighthouse at dusk".into()),
        providers: Some(providers),
        ..Default::default()
    };
    edit(&mut r);
    validate(&r).unwrap()
}

struct Harness {
    vt: VirtualTime,
    rt: Runtime<ScriptedTransport, VirtualTime, VirtualTime, TestRng>,
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
        }
    }

    fn script(&self, origin: &str, replies: Vec<Reply>) {
        self.rt.transport.script(origin, replies);
    }

    fn run(&self, req: &ValidRequest) -> Result<GenerateResult, imagegen::Error> {
        let sink = |_e: GenerateEvent| {};
        self.vt
            .run(engine::generate(&self.rt, req, &sink, &CancelToken::new()))
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ok_json(body: Value) -> Reply {
    Reply::Json(200, vec![("content-type", "application/json")], body, 5)
}

#[test]
fn openai_usage_tokens_are_priced_by_kind() {
    // `ImagesResponse.usage` of the openai SDK, with both details objects.
    let h = Harness::new();
    h.script(
        OPENAI,
        vec![ok_json(json!({
            "created": 1788000000, "data": [{"b64_json": PNG}],
            "usage": {"input_tokens": 50, "total_tokens": 1106, "output_tokens": 1056,
                      "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
                      "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0}}
        }))],
    );
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Openai, OPENAI, "gpt-image-1.5")],
            |_| {},
        ))
        .unwrap();
    // 40 text in × $5 + 10 image in × $8 + 1056 image out × $32, per 1M.
    let want = (40.0 * 5.0 + 10.0 * 8.0 + 1056.0 * 32.0) / 1e6;
    assert!(
        close(r.attempts[0].cost_usd.unwrap(), want),
        "{:?}",
        r.attempts[0]
    );
    assert!(close(r.usage.cost_usd.unwrap(), want));
    assert!(close(r.images[0].cost_usd.unwrap(), want));
    let t = r.usage.tokens.expect("every billed call reported tokens");
    assert_eq!(
        (t.text_in, t.image_in, t.text_out, t.image_out),
        (40, 10, 0, 1056)
    );
    let row = &r.usage.by_provider[0];
    assert_eq!(
        (row.provider, row.model.as_str(), row.images),
        (ProviderName::Openai, "gpt-image-1.5", 1)
    );
}

#[test]
fn openai_recorded_fixture_without_output_details_counts_output_as_image() {
    // tests/fixtures/openai/success.json: 18 text tokens in, 1056 out.
    let h = Harness::new();
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Openai, OPENAI, "gpt-image-2")],
            |_| {},
        ))
        .unwrap();
    let want = (18.0 * 5.0 + 1056.0 * 30.0) / 1e6;
    assert!(close(r.usage.cost_usd.unwrap(), want), "{:?}", r.usage);
}

#[test]
fn gemini_usage_metadata_prices_image_output_and_thoughts() {
    // `GenerateContentResponseUsageMetadata` (docs/providers.md P2.3.5).
    let h = Harness::new();
    h.script(
        GEMINI,
        vec![ok_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1138,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 18}, {"modality": "IMAGE", "tokenCount": 1120}],
                "candidatesTokenCount": 1120, "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
                "thoughtsTokenCount": 312, "totalTokenCount": 2570}
        }))],
    );
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Gemini, GEMINI, "gemini-3-pro-image")],
            |_| {},
        ))
        .unwrap();
    // Input $2 (text and image), thoughts at $12, image output at $120.
    let want = (18.0 * 2.0 + 1120.0 * 2.0 + 312.0 * 12.0 + 1120.0 * 120.0) / 1e6;
    assert!(close(r.usage.cost_usd.unwrap(), want), "{:?}", r.usage);
}

#[test]
fn a_filtered_result_that_is_billed_is_counted() {
    // Gemini's IMAGE_SAFETY answer bills its prompt tokens; Stability's
    // CONTENT_FILTERED answer bills the withheld image. Both stop the chain
    // (content_policy), so the call rejects: the cost is on the attempts.
    let h = Harness::new();
    h.script(GEMINI, vec![Reply::Fixture("gemini/image_safety", 5)]);
    let e = h
        .run(&request(
            vec![cfg(ProviderName::Gemini, GEMINI, "gemini-3.1-flash-image")],
            |_| {},
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ContentPolicy);
    assert!(close(e.attempts[0].cost_usd.unwrap(), 9.0 * 0.5 / 1e6));

    let h = Harness::new();
    h.script(
        STABILITY,
        vec![
            Reply::Fixture("stability/content_filtered", 5),
            Reply::Fixture("stability/success_json", 5),
        ],
    );
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Stability, STABILITY, "core")],
            |r| {
                r.count = Some(2.0);
            },
        ))
        .unwrap();
    // Two calls of one image: one filtered (billed, 3 credits), one made.
    assert_eq!(r.images.len(), 1);
    let costs: Vec<_> = r.attempts.iter().map(|a| a.cost_usd).collect();
    assert_eq!(costs, vec![Some(0.03), Some(0.03)]);
    assert!(close(r.usage.cost_usd.unwrap(), 0.06));
    assert_eq!(r.usage.by_provider[0].images, 1);
}

#[test]
fn error_answers_cost_nothing_and_unknown_prices_stay_unknown() {
    let h = Harness::new();
    h.script(
        OPENAI,
        vec![
            Reply::Fixture("openai/server_error", 5),
            Reply::Fixture("openai/success", 5),
        ],
    );
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Openai, OPENAI, "gpt-image-2.6")],
            |_| {},
        ))
        .unwrap();
    assert_eq!(r.attempts[0].cost_usd, Some(0.0), "a 500 is not billed");
    assert_eq!(r.attempts[1].cost_usd, None, "no price for this model");
    assert_eq!(r.images[0].cost_usd, None);
    assert_eq!(r.usage.cost_usd, None);
    assert_eq!(r.usage.by_provider[0].cost_usd, None);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.code == WarningCode::PriceUnknown));
    let v = serde_json::to_value(&r.usage).unwrap();
    assert_eq!(
        v,
        json!({"costUsd": null, "byProvider": [
        {"provider": "openai", "model": "gpt-image-2.6", "images": 1, "costUsd": null}]})
    );
}

#[test]
fn caller_prices_replace_the_table() {
    let h = Harness::new();
    h.script(STABILITY, vec![Reply::Fixture("stability/success_json", 5)]);
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Stability, STABILITY, "core")],
            |r| {
                r.prices = Some(vec![serde_json::from_value(json!(
                {"provider": "stability", "model": "core", "imageUsd": 0.5}))
                .unwrap()]);
            },
        ))
        .unwrap();
    assert!(close(r.usage.cost_usd.unwrap(), 0.5));
    // Bad prices are refused before any call.
    let bad = GenerateRequest {
        prompt: Some("x".into()),
        providers: Some(vec![mock()]),
        prices: Some(vec![serde_json::from_value(json!(
            {"provider": "mock", "model": "mock-svg", "imageUsd": -1}))
        .unwrap()]),
        ..Default::default()
    };
    assert_eq!(
        validate(&bad).unwrap_err().param.as_deref(),
        Some("prices[0]")
    );
}

#[test]
fn a_chain_under_a_cap_skips_an_expensive_fallback_and_takes_a_cheaper_one() {
    let h = Harness::new();
    h.script(OPENAI, vec![Reply::Fixture("openai/server_error", 5)]);
    h.script(STABILITY, vec![Reply::Fixture("stability/success_json", 5)]);
    let mut high = cfg(ProviderName::Openai, OPENAI, "gpt-image-2");
    high.params = Some(json!({"quality": "high"}));
    let r = h
        .run(&request(
            vec![
                cfg(ProviderName::Stability, STABILITY, "ultra"),
                high,
                cfg(ProviderName::Stability, STABILITY, "core"),
            ],
            |r| {
                r.max_cost_usd = Some(0.05);
                r.retry = Some(imagegen::model::RetryOptions {
                    max_attempts: Some(1),
                    ..Default::default()
                });
            },
        ))
        .unwrap();
    // ultra (0.08) and gpt-image-2 high (0.211) are over the cap: skipped
    // without a call; core (0.03) is made.
    assert_eq!(h.rt.transport.calls_to(OPENAI), 0);
    let seen: Vec<_> = r
        .attempts
        .iter()
        .map(|a| (a.model.as_str(), a.outcome, a.skipped))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ultra", Outcome::Failed(ErrorCode::BudgetExceeded), true),
            (
                "gpt-image-2",
                Outcome::Failed(ErrorCode::BudgetExceeded),
                true
            ),
            ("core", Outcome::Ok, false),
        ]
    );
    assert!(close(r.usage.cost_usd.unwrap(), 0.03));
}

#[test]
fn retries_count_against_the_cap() {
    // The first call times out: it may be billed, so the cap counts its
    // estimate (0.011) and its cost is unknown; a retry would exceed the
    // cap (0.015), so the chain moves on to the free mock.
    let h = Harness::new();
    h.script(OPENAI, vec![Reply::Hang]);
    let r = h
        .run(&request(
            vec![
                cfg(ProviderName::Openai, OPENAI, "gpt-image-1-mini"),
                mock(),
            ],
            |r| {
                r.max_cost_usd = Some(0.015);
                r.timeout_ms = Some(1000.0);
            },
        ))
        .unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    let seen: Vec<_> = r
        .attempts
        .iter()
        .map(|a| (a.provider, a.outcome, a.cost_usd))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                ProviderName::Openai,
                Outcome::Failed(ErrorCode::Timeout),
                None
            ),
            (
                ProviderName::Openai,
                Outcome::Failed(ErrorCode::BudgetExceeded),
                Some(0.0)
            ),
            (ProviderName::Mock, Outcome::Ok, Some(0.0)),
        ]
    );
    assert_eq!(
        r.usage.cost_usd, None,
        "the timed-out call may have been billed"
    );
}

#[test]
fn parts_in_parallel_reserve_their_estimates() {
    // Two one-image calls start together; the cap pays for one.
    let h = Harness::new();
    h.script(
        STABILITY,
        vec![
            Reply::Fixture("stability/success_json", 50),
            Reply::Fixture("stability/success_json", 50),
        ],
    );
    let r = h
        .run(&request(
            vec![cfg(ProviderName::Stability, STABILITY, "core")],
            |r| {
                r.count = Some(2.0);
                r.max_cost_usd = Some(0.05);
            },
        ))
        .unwrap();
    assert_eq!(h.rt.transport.calls_to(STABILITY), 1);
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].code, ErrorCode::BudgetExceeded);
    assert!(close(r.usage.cost_usd.unwrap(), 0.03));
}

#[test]
fn under_a_cap_an_entry_without_a_price_is_skipped_with_a_warning() {
    let h = Harness::new();
    let e = h
        .run(&request(
            vec![cfg(ProviderName::Openai, OPENAI, "chatgpt-image-latest")],
            |r| {
                r.max_cost_usd = Some(10.0);
            },
        ))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::BudgetExceeded);
    assert_eq!(h.rt.transport.calls_to(OPENAI), 0);
    assert!(e.message.contains("no price"), "{}", e.message);
}
