//! Shared wasm-bindgen tests: the real `fetch` transport against the mock
//! provider server (tests/mock-server), run in Node (tests/node.rs) and in
//! headless Chromium (tests/web.rs). The server must be listening at
//! `IMAGEGEN_MOCK_URL` (compile-time env; default http://127.0.0.1:18931).
#![allow(dead_code)]

use imagegen::engine::{self, Runtime};
use imagegen::runtime::{CancelToken, SplitMix64};
use imagegen::validate::validate;
use imagegen::wasm::{DateClock, FetchTransport, TimerSleeper};
use imagegen::{
    ErrorCode, GenerateEvent, GenerateRequest, GenerateResult, ProviderConfig, ProviderName, Secret,
};
use js_sys::{Promise, Reflect};
use serde_json::json;
use std::cell::RefCell;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Request, RequestInit, Response};

pub fn mock_url() -> &'static str {
    option_env!("IMAGEGEN_MOCK_URL").unwrap_or("http://127.0.0.1:18931")
}

/// A key no other test uses, so scripts do not collide.
pub fn key(name: &str) -> String {
    let n = (js_sys::Math::random() * 1e12) as u64;
    format!("sk-{name}-{n:012}")
}

async fn post_json(path: &str, body: serde_json::Value) -> Response {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body.to_string()));
    let headers = web_sys::Headers::new().unwrap();
    headers.set("content-type", "application/json").unwrap();
    init.set_headers(&headers);
    let req = Request::new_with_str_and_init(&format!("{}{path}", mock_url()), &init).unwrap();
    let resp = JsFuture::from(imagegen::wasm::js::global_fetch(&req).unwrap())
        .await
        .unwrap();
    resp.dyn_into().unwrap()
}

/// Scripts the mock server's replies for requests made with `key`.
pub async fn script(key: &str, steps: serde_json::Value) {
    let resp = post_json("/__mock/script", json!({"key": key, "steps": steps})).await;
    assert_eq!(resp.status(), 200, "scripting the mock failed");
}

/// How many requests the mock received with `key`.
pub async fn received(key: &str) -> usize {
    let req = Request::new_with_str(&format!("{}/__mock/requests?key={key}", mock_url())).unwrap();
    let resp: Response = JsFuture::from(imagegen::wasm::js::global_fetch(&req).unwrap())
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    let body = JsFuture::from(resp.json().unwrap()).await.unwrap();
    let requests = Reflect::get(&body, &"requests".into()).unwrap();
    js_sys::Array::from(&requests).length() as usize
}

pub fn provider(p: ProviderName, key: &str) -> ProviderConfig {
    ProviderConfig {
        provider: Some(p),
        api_key: Some(Secret::new(key)),
        model: None,
        base_url: Some(mock_url().to_string()),
        params: None,
    }
}

fn runtime() -> Runtime<FetchTransport, TimerSleeper, DateClock, SplitMix64> {
    Runtime {
        transport: FetchTransport,
        sleeper: TimerSleeper,
        clock: DateClock,
        rng: SplitMix64::new(7),
    }
}

pub async fn generate(
    req: GenerateRequest,
) -> (Result<GenerateResult, imagegen::Error>, Vec<String>) {
    let valid = validate(&req).unwrap();
    let events = RefCell::new(Vec::new());
    let sink = |e: GenerateEvent| {
        let s = match &e {
            GenerateEvent::AttemptStart { provider, .. } => format!("start {provider}"),
            GenerateEvent::AttemptEnd {
                provider, outcome, ..
            } => format!(
                "end {provider} {}",
                serde_json::to_value(outcome).unwrap().as_str().unwrap()
            ),
            GenerateEvent::RetryScheduled { delay_ms, .. } => format!("retry {delay_ms}"),
            GenerateEvent::Fallback { from, to, .. } => format!("fallback {from}->{to}"),
            GenerateEvent::Image { .. } => "image".to_string(),
            GenerateEvent::PartialImage { index, .. } => format!("preview {index}"),
        };
        events.borrow_mut().push(s);
    };
    let r = engine::generate(&runtime(), &valid, &sink, &CancelToken::new()).await;
    (r, events.into_inner())
}

fn req(providers: Vec<ProviderConfig>) -> GenerateRequest {
    GenerateRequest {
        prompt: Some("a lighthouse at dusk".into()),
        providers: Some(providers),
        retry: Some(imagegen::model::RetryOptions {
            base_delay_ms: Some(20),
            ..Default::default()
        }),
        ..Default::default()
    }
}

const PNG_1X1: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

#[wasm_bindgen_test]
async fn success_through_real_fetch_for_each_provider() {
    for p in [
        ProviderName::Openai,
        ProviderName::Gemini,
        ProviderName::Stability,
    ] {
        let k = key("ok");
        let mut r = req(vec![provider(p, &k)]);
        r.count = Some(2.0);
        let (result, events) = generate(r).await;
        let result = result.unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(result.images.len(), 2, "{p}");
        let image = &result.images[0];
        assert_eq!(image.provider, p);
        assert_eq!(image.mime_type, "image/png");
        // The image is the provider's JS string, not a copy in wasm memory.
        assert_eq!(image.base64.as_js().length() as usize, PNG_1X1.len());
        assert_eq!(image.base64.to_rust_string(), PNG_1X1);
        assert_eq!(
            received(&k).await,
            if p == ProviderName::Openai { 1 } else { 2 },
            "{p}"
        );
        assert!(events.contains(&"image".to_string()));
    }
}

#[wasm_bindgen_test]
async fn retry_after_is_honoured_over_real_fetch() {
    let k = key("retry");
    script(
        &k,
        json!([{"status": 429, "headers": {"retry-after-ms": "150", "content-type": "application/json"},
                 "body": {"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}}]),
    )
    .await;
    let started = js_sys::Date::now();
    let (result, events) = generate(req(vec![provider(ProviderName::Openai, &k)])).await;
    let result = result.unwrap();
    assert!(js_sys::Date::now() - started >= 140.0, "waited the hint");
    assert_eq!(result.attempts.len(), 2);
    assert_eq!(
        result.attempts[0].retry_after_ms,
        Some(150),
        "header readable (CORS exposes it)"
    );
    assert_eq!(result.attempts[0].status, Some(429));
    assert_eq!(
        events,
        vec![
            "start openai",
            "end openai rate_limited",
            "retry 150",
            "start openai",
            "end openai ok",
            "image"
        ]
    );
}

#[wasm_bindgen_test]
async fn falls_back_after_503s_over_real_fetch() {
    let k1 = key("primary");
    let k2 = key("fallback");
    script(&k1, json!([{"fixture": "openai/overloaded"}, {"fixture": "openai/overloaded"}, {"fixture": "openai/overloaded"}])).await;
    let (result, events) = generate(req(vec![
        provider(ProviderName::Openai, &k1),
        provider(ProviderName::Gemini, &k2),
    ]))
    .await;
    let result = result.unwrap();
    assert_eq!(result.images[0].provider, ProviderName::Gemini);
    assert_eq!(received(&k1).await, 3);
    assert!(
        events.contains(&"fallback openai->gemini".to_string()),
        "{events:?}"
    );
}

fn outcomes(attempts: &[imagegen::Attempt]) -> Vec<String> {
    attempts
        .iter()
        .map(|a| {
            serde_json::to_value(a.outcome)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn dropped_connections_are_network_errors() {
    // Every request's connection is reset. (Browsers may silently resend a
    // request once when a kept-alive connection closes, so script them all.)
    let k = key("drop");
    let resp = post_json(
        "/__mock/script",
        json!({"key": k, "steps": [], "after": {"drop": true}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut r = req(vec![provider(ProviderName::Openai, &k)]);
    r.retry = Some(imagegen::model::RetryOptions {
        max_attempts: Some(2),
        base_delay_ms: Some(10),
        ..Default::default()
    });
    let (result, _) = generate(r).await;
    let err = result.unwrap_err();
    assert_eq!(outcomes(&err.attempts), vec!["network", "network"]);
    assert_eq!(err.code, ErrorCode::Network);
}

#[wasm_bindgen_test]
async fn malformed_json_and_missing_images_are_bad_responses() {
    let k = key("malformed");
    script(&k, json!([{"malformed": true}, {"noImage": true}])).await;
    let mut r = req(vec![provider(ProviderName::Openai, &k)]);
    r.retry = Some(imagegen::model::RetryOptions {
        max_attempts: Some(3),
        base_delay_ms: Some(10),
        ..Default::default()
    });
    let (result, _) = generate(r).await;
    let err = result.unwrap_err();
    // bad_response is retried once per provider, so two attempts, not three.
    assert_eq!(
        outcomes(&err.attempts),
        vec!["bad_response", "bad_response"]
    );
    assert_eq!(err.code, ErrorCode::BadResponse);
}

#[wasm_bindgen_test]
async fn attempt_timeout_cancels_and_retries() {
    let k = key("timeout");
    script(&k, json!([{"delayMs": 3000}])).await;
    let mut r = req(vec![provider(ProviderName::Gemini, &k)]);
    r.timeout_ms = Some(300.0);
    let started = js_sys::Date::now();
    let (result, _) = generate(r).await;
    let result = result.unwrap();
    assert!(
        js_sys::Date::now() - started < 2500.0,
        "did not wait for the slow response"
    );
    assert_eq!(outcomes(&result.attempts), vec!["timeout", "ok"]);
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

#[wasm_bindgen_test]
async fn abort_mid_request_rejects_at_once_through_the_js_api() {
    let k = key("abort");
    script(&k, json!([{"delayMs": 5000}])).await;
    let controller = web_sys::AbortController::new().unwrap();
    let provider = obj(&[
        ("provider", "stability".into()),
        ("apiKey", JsValue::from_str(&k)),
        ("baseUrl", mock_url().into()),
    ]);
    let request = obj(&[
        ("prompt", "slow lighthouse".into()),
        ("providers", js_sys::Array::of1(&provider).into()),
        ("signal", controller.signal().into()),
    ]);
    let started = js_sys::Date::now();
    let promise = imagegen::wasm::api::generate_images(request);
    let c = controller.clone();
    let abort_later = Promise::new(&mut |resolve, _| {
        let c = c.clone();
        let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
            c.abort();
            resolve.call0(&JsValue::NULL).unwrap();
        });
        web_sys_set_timeout(&cb, 150);
    });
    JsFuture::from(abort_later).await.unwrap();
    let err = JsFuture::from(promise).await.unwrap_err();
    let elapsed = js_sys::Date::now() - started;
    assert!(
        elapsed < 2000.0,
        "rejected at once, not after the slow reply ({elapsed} ms)"
    );
    assert_eq!(Reflect::get(&err, &"name".into()).unwrap(), "ImageGenError");
    assert_eq!(Reflect::get(&err, &"code".into()).unwrap(), "aborted");
    assert_eq!(Reflect::get(&err, &"retryable".into()).unwrap(), false);
    let attempts = js_sys::Array::from(&Reflect::get(&err, &"attempts".into()).unwrap());
    assert_eq!(attempts.length(), 1);
    assert_eq!(
        Reflect::get(&attempts.get(0), &"outcome".into()).unwrap(),
        "aborted"
    );
}

fn web_sys_set_timeout(cb: &JsValue, ms: i32) {
    let global = js_sys::global();
    let set_timeout: js_sys::Function = Reflect::get(&global, &"setTimeout".into())
        .unwrap()
        .unchecked_into();
    set_timeout
        .call2(&JsValue::NULL, cb, &JsValue::from(ms))
        .unwrap();
}

#[wasm_bindgen_test]
async fn key_validation_over_real_fetch() {
    let rt = runtime();
    let good = Secret::new(key("valid"));
    let bad = Secret::new("invalid-key-000000");
    for p in [
        ProviderName::Openai,
        ProviderName::Gemini,
        ProviderName::Stability,
    ] {
        assert!(
            engine::validate_key(&rt, p, &good, mock_url(), 5000)
                .await
                .unwrap(),
            "{p}"
        );
        assert!(
            !engine::validate_key(&rt, p, &bad, mock_url(), 5000)
                .await
                .unwrap(),
            "{p}"
        );
    }
    let flaky = key("flaky");
    script(&flaky, json!([{"fixture": "openai/server_error"}])).await;
    let err = engine::validate_key(
        &rt,
        ProviderName::Openai,
        &Secret::new(flaky),
        mock_url(),
        5000,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::ProviderError,
        "an outage is not a bad key"
    );
}

#[wasm_bindgen_test]
async fn unreachable_provider_is_a_network_error() {
    let mut p = provider(ProviderName::Openai, &key("down"));
    p.base_url = Some("http://127.0.0.1:9".into());
    let mut r = req(vec![p]);
    r.retry = Some(imagegen::model::RetryOptions {
        max_attempts: Some(1),
        ..Default::default()
    });
    let (result, _) = generate(r).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::Network);
    assert!(err.retryable());
}

#[wasm_bindgen_test]
async fn redirects_are_not_followed_so_keys_stay_with_their_origin() {
    // The provider answers 307 to another origin (localhost vs 127.0.0.1):
    // the key must not be sent there.
    // (The key is redacted from messages, fragments of 8+ characters too: its
    // tag must not be a word the message uses.)
    let k = key("r3dir");
    let other_origin = mock_url().replace("127.0.0.1", "localhost");
    script(
        &k,
        json!([{"status": 307, "headers": {"location": format!("{other_origin}/v1/images/generations")}, "bodyText": ""}]),
    )
    .await;
    let mut r = req(vec![provider(ProviderName::Openai, &k)]);
    r.retry = Some(imagegen::model::RetryOptions {
        max_attempts: Some(1),
        ..Default::default()
    });
    let (result, _) = generate(r).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, ErrorCode::BadResponse);
    assert!(err.message.contains("redirect"), "{}", err.message);
    assert_eq!(
        received(&k).await,
        1,
        "the redirect target never saw the key"
    );
}

// ---------------------------------------------------------------- edits

/// A valid PNG (1×1) grown to `total` bytes with a comment chunk, as a JS
/// Uint8Array made in JS memory (the caller's bytes never pass through wasm).
fn big_png_js(total: u32) -> JsValue {
    // The 1×1 PNG of the other tests; the comment chunk goes before IEND (the last 12 bytes).
    let png: [u8; 68] = [
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 4, 0, 0, 0, 0xb5, 0x1c, 0x0c, 0x02, 0, 0, 0, 0x0b, 0x49, 0x44,
        0x41, 0x54, 0x78, 0xda, 0x63, 0x64, 0x60, 0, 0, 0, 6, 0, 2, 0x30, 0x81, 0xd0, 0x2f, 0, 0,
        0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let (head, iend) = png.split_at(png.len() - 12);
    let fill = total - png.len() as u32 - 12;
    let out = js_sys::Uint8Array::new_with_length(total);
    out.set(&js_sys::Uint8Array::from(head), 0);
    let mut at = head.len() as u32;
    out.set(&js_sys::Uint8Array::from(&fill.to_be_bytes()[..]), at);
    out.set(&js_sys::Uint8Array::from(&b"tEXt"[..]), at + 4);
    // The chunk's data stays zeros except its keyword; the CRC is over the data.
    out.set(&js_sys::Uint8Array::from(&b"Comment\0"[..]), at + 8);
    let mut crc = 0xFFFF_FFFFu32;
    let feed = |crc: &mut u32, b: u8| {
        *crc ^= u32::from(b);
        for _ in 0..8 {
            *crc = if *crc & 1 == 1 {
                (*crc >> 1) ^ 0xEDB8_8320
            } else {
                *crc >> 1
            };
        }
    };
    for &b in b"tEXtComment\0" {
        feed(&mut crc, b);
    }
    for _ in 0..fill - 8 {
        feed(&mut crc, 0);
    }
    at += 8 + fill;
    out.set(&js_sys::Uint8Array::from(&(!crc).to_be_bytes()[..]), at);
    out.set(&js_sys::Uint8Array::from(iend), at + 4);
    out.into()
}

#[wasm_bindgen_test]
async fn twenty_edits_of_4_mib_inputs_leave_wasm_memory_flat() {
    let k = key("edits-memory");
    let big = js_sys::Array::of1(&big_png_js(4 * 1024 * 1024));
    // The warm-up uses a small input: a copy of one 4 MiB input would show as growth.
    let small = js_sys::Array::of1(&big_png_js(4 * 1024));
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let run = |images: &js_sys::Array| {
        let images = images.clone();
        let k = k.clone();
        async move {
            let inputs = imagegen::wasm::inputs::load_request_inputs(&images, &JsValue::UNDEFINED)
                .await
                .unwrap()
                .unwrap();
            let mut valid = validate(&req(vec![provider(ProviderName::Openai, &k)])).unwrap();
            valid.image.inputs = Some(std::rc::Rc::new(inputs));
            let sink = |_e: GenerateEvent| {};
            engine::generate(&runtime(), &valid, &sink, &CancelToken::new())
                .await
                .unwrap()
        }
    };
    run(&small).await; // warm-up: first-call allocations are not what is measured
    let start = memory();
    for _ in 0..20 {
        assert_eq!(run(&big).await.images.len(), 1);
    }
    let growth = memory() - start;
    assert!(
        growth <= 1024 * 1024,
        "wasm memory grew by {growth} bytes over 20 edits of 4 MiB"
    );
    assert_eq!(received(&k).await, 21, "every edit reached the provider");
}

#[wasm_bindgen_test]
async fn fifty_streamed_generations_with_2_mib_previews_leave_wasm_memory_flat() {
    let k = key("stream-memory");
    let small = key("stream-memory-small");
    let scripted = json!({"key": k, "steps": [], "after": {"stream": {"previewBytes": 2_097_152}}});
    assert_eq!(post_json("/__mock/script", scripted).await.status(), 200);
    let memory = || {
        wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length()
    };
    let preview_chars = std::cell::Cell::new(0usize);
    let run = |key: String| {
        let preview_chars = &preview_chars;
        async move {
            let mut r = req(vec![provider(ProviderName::Openai, &key)]);
            r.partial_images = Some(3.0);
            let valid = validate(&r).unwrap();
            let sink = |e: GenerateEvent| {
                if let GenerateEvent::PartialImage { image, .. } = e {
                    preview_chars.set(preview_chars.get() + image.base64.len());
                }
            };
            engine::generate(&runtime(), &valid, &sink, &CancelToken::new())
                .await
                .unwrap()
        }
    };
    // The warm-up streams small previews: a copy of one 2 MiB preview would show as growth.
    run(small).await;
    let start = memory();
    preview_chars.set(0);
    for _ in 0..50 {
        assert_eq!(run(k.clone()).await.images.len(), 1);
    }
    let growth = memory() - start;
    assert!(
        preview_chars.get() >= 150 * 2_097_152 * 4 / 3,
        "{} preview chars delivered",
        preview_chars.get()
    );
    assert!(
        growth <= 1024 * 1024,
        "wasm memory grew by {growth} bytes over 50 streams with 3 previews of 2 MiB"
    );
}
