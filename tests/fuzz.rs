//! No panics on any input: property tests feeding arbitrary bytes and
//! arbitrary JSON to every response parser, the request validator and the
//! small parsers. 10,000 cases per target (a panic would kill a wasm instance).
#![cfg(not(target_arch = "wasm32"))]

use imagegen::geometry::{Ratio, Size};
use imagegen::http::{parse_duration_ms, parse_http_date, retry_after_from_headers, HttpResponse};
use imagegen::providers::{self, ParseContext};
use imagegen::validate::{validate, ChainEntry, ImageRequest};
use imagegen::{GenerateRequest, ProviderName, Secret};
use proptest::prelude::*;
use serde_json::{json, Value};

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON, biased towards the shapes providers use.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        "[a-zA-Z0-9_:/+=. -]{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="),
            Just("image/png"),
            Just("IMAGE_SAFETY"),
            Just("CONTENT_FILTERED"),
            Just("rate_limit_exceeded"),
            Just("14s"),
            Just("Please try again in 3.5s"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        Just("data"),
        Just("b64_json"),
        Just("error"),
        Just("code"),
        Just("message"),
        Just("type"),
        Just("param"),
        Just("candidates"),
        Just("content"),
        Just("parts"),
        Just("inlineData"),
        Just("mimeType"),
        Just("finishReason"),
        Just("promptFeedback"),
        Just("blockReason"),
        Just("details"),
        Just("retryDelay"),
        Just("violations"),
        Just("quotaId"),
        Just("status"),
        Just("image"),
        Just("finish_reason"),
        Just("seed"),
        Just("errors"),
        Just("name"),
        Just("thought"),
        Just("text"),
        Just("output_format"),
        Just("url"),
        Just("reason"),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn arb_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("retry-after".to_string()),
                Just("retry-after-ms".to_string()),
                Just("content-type".to_string()),
                Just("finish-reason".to_string()),
                Just("seed".to_string()),
            ],
            prop_oneof![
                "[ -~]{0,30}",
                Just("application/json; type=image/png".to_string()),
                Just("image/png".to_string()),
                Just("Sun, 06 Nov 1994 08:49:37 GMT".to_string()),
                Just("99999999999999999999".to_string()),
                Just("-1".to_string()),
                Just("NaN".to_string()),
            ],
        ),
        0..4,
    )
}

fn entry(provider: ProviderName) -> ChainEntry {
    ChainEntry {
        provider,
        api_key: Secret::new("sk-fuzz-key-0000000000000000"),
        model: imagegen::validate::default_model(provider).to_string(),
        base_url: "http://127.0.0.1:1".into(),
        params: serde_json::Map::new(),
    }
}

fn request() -> ImageRequest {
    ImageRequest {
        prompt: "p".into(),
        count: 2,
        size: None,
        aspect_ratio: None,
        seed: Some(1),
        negative_prompt: None,
        output_format: None,
        inputs: None,
        partial_images: 0,
    }
}

fn parse_all(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) {
    let req = request();
    for provider in [
        ProviderName::Openai,
        ProviderName::Gemini,
        ProviderName::Stability,
    ] {
        let e = entry(provider);
        let ctx = ParseContext {
            request: &req,
            entry: &e,
            now_unix_ms: 1_788_000_000_000,
            billed: &Default::default(),
        };
        let resp = HttpResponse::new(status, headers.clone(), body.clone());
        match providers::parse_response(resp, &ctx) {
            Ok(images) => assert!(!images.is_empty(), "Ok must carry images"),
            Err(err) => {
                assert!(!err.message.contains("sk-fuzz-key"), "key in message");
                assert!(err.message.chars().count() < 2000, "bounded message");
            }
        }
        let resp = HttpResponse::new(status, headers.clone(), body.clone());
        let _ = providers::parse_validate_key_response(provider, resp, &e.api_key, 0);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsers_survive_arbitrary_bytes(status in 0u16..700, headers in arb_headers(), body in prop::collection::vec(any::<u8>(), 0..256)) {
        parse_all(status, headers, body);
    }

    #[test]
    fn parsers_survive_arbitrary_json(status in prop_oneof![Just(200u16), Just(400), Just(401), Just(403), Just(404), Just(429), Just(500), Just(503), 100u16..600], headers in arb_headers(), body in arb_json()) {
        parse_all(status, headers, serde_json::to_vec(&body).unwrap_or_default());
    }

    #[test]
    fn validator_survives_arbitrary_requests(value in arb_request()) {
        if let Ok(req) = serde_json::from_value::<GenerateRequest>(value) {
            if let Ok(valid) = validate(&req) {
                prop_assert!((1..=10).contains(&valid.image.count));
                prop_assert!(!valid.chain.is_empty());
                prop_assert!(!valid.image.prompt.trim().is_empty());
                prop_assert!(valid.concurrency >= 1);
                // Every built request is well-formed for every chain entry.
                for e in &valid.chain {
                    if e.provider != ProviderName::Mock {
                        let built = providers::build_request(&valid.image, e).expect("build");
                        prop_assert!(built.request.url.starts_with(&e.base_url));
                    }
                }
            }
        }
    }

    #[test]
    fn small_parsers_survive_arbitrary_text(s in "\\PC{0,40}") {
        let _ = parse_duration_ms(&s);
        let _ = parse_http_date(&s);
        let _ = Size::parse(&s);
        let _ = Ratio::parse(&s);
        let _ = imagegen::validate::parse_origin("u", &s);
        let resp = HttpResponse::new(429, vec![("retry-after".into(), s.clone())], vec![]);
        let _ = retry_after_from_headers(&resp, 0);
        let svg = imagegen::providers::mock::render_svg(&s, Size::new(1, 1), 0, "");
        prop_assert!(svg.starts_with("<svg"));
    }
}

fn arb_request() -> impl Strategy<Value = Value> {
    let provider = prop_oneof![
        Just(json!("openai")),
        Just(json!("gemini")),
        Just(json!("stability")),
        Just(json!("mock")),
        Just(json!("dalle")),
        Just(json!(1)),
    ];
    let entry = (provider, prop::option::of("[a-z0-9-]{0,12}"), prop::option::of(prop_oneof![
        Just("http://127.0.0.1:9".to_string()), Just("https://x".to_string()), "[ -~]{0,20}",
    ]), prop::option::of(arb_json()))
        .prop_map(|(p, key, base, params)| json!({"provider": p, "apiKey": key, "baseUrl": base, "params": params}));
    (
        prop_oneof!["[ -~]{0,30}".prop_map(|s| json!(s)), Just(json!(null)), Just(json!(7))],
        prop::option::of(prop_oneof![(-3.0f64..14.0).prop_map(|f| json!(f)), Just(json!(2))]),
        prop::option::of(prop_oneof!["[0-9x]{0,10}", Just("1024x1024".to_string()), Just("1x16384".to_string())]),
        prop::option::of(prop_oneof!["[0-9:]{0,6}", Just("16:9".to_string()), Just("1000:1".to_string())]),
        prop::option::of(any::<f64>()),
        prop::collection::vec(entry, 0..4),
        prop::option::of((any::<u32>(), any::<u64>(), any::<u64>())),
        prop::option::of(-5.0f64..1e7),
    )
        .prop_map(|(prompt, count, size, ratio, seed, providers, retry, timeout)| {
            json!({
                "prompt": prompt, "count": count, "size": size, "aspectRatio": ratio,
                "seed": seed.filter(|f| f.is_finite()), "providers": providers,
                "retry": retry.map(|(a, b, c)| json!({"maxAttempts": a % 12, "baseDelayMs": b % 5_000_000, "maxDelayMs": c})),
                "timeoutMs": timeout,
            })
        })
}
