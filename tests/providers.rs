//! Providers as pure functions: the exact outbound request for representative
//! requests, and the classification of every fixture in tests/fixtures.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use imagegen::geometry::{Ratio, Size};
use imagegen::http::Method;
use imagegen::providers::{self, ParseContext};
use imagegen::validate::{ChainEntry, ImageRequest};
use imagegen::{ErrorCode, OutputFormat, ProviderName, Secret, WarningCode};
use serde_json::{json, Value};
use support::{fixture, fixtures};

const KEY: &str = "sk-test-key-0123456789abcdefghijkl";

fn entry(provider: ProviderName, model: &str) -> ChainEntry {
    ChainEntry {
        provider,
        api_key: Secret::new(KEY),
        model: model.to_string(),
        base_url: "http://127.0.0.1:9".to_string(),
        params: serde_json::Map::new(),
    }
}

fn request(prompt: &str) -> ImageRequest {
    ImageRequest {
        prompt: prompt.to_string(),
        count: 1,
        size: None,
        aspect_ratio: None,
        seed: None,
        negative_prompt: None,
        output_format: None,
        inputs: None,
        partial_images: 0,
    }
}

fn json_body(req: &imagegen::http::HttpRequest) -> Value {
    serde_json::from_slice(req.body.as_ref().unwrap()).unwrap()
}

fn header_names(req: &imagegen::http::HttpRequest) -> Vec<(&str, &str)> {
    req.headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.as_str()))
        .collect()
}

// ------------------------------------------------------------------ OpenAI

#[test]
fn openai_request_is_exact() {
    let mut req = request("a lighthouse at dusk");
    req.count = 3;
    req.size = Some(Size::new(1536, 1024));
    req.output_format = Some(OutputFormat::Webp);
    let built =
        providers::build_request(&req, &entry(ProviderName::Openai, "gpt-image-1")).unwrap();
    let http = &built.request;
    assert_eq!(http.method, Method::Post);
    assert_eq!(http.url, "http://127.0.0.1:9/v1/images/generations");
    assert_eq!(
        header_names(http),
        vec![
            ("authorization", format!("Bearer {KEY}").as_str()),
            ("content-type", "application/json")
        ]
    );
    assert_eq!(
        json_body(http),
        json!({"model": "gpt-image-1", "prompt": "a lighthouse at dusk", "n": 3,
               "size": "1536x1024", "quality": "medium", "output_format": "webp"})
    );
    assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    assert!(!format!("{http:?}").contains(KEY), "Debug leaks the key");
}

#[test]
fn openai_maps_unsupported_options_to_warnings() {
    let mut req = request("p");
    req.aspect_ratio = Some(Ratio::new(16, 9));
    req.seed = Some(7);
    req.negative_prompt = Some("blur".into());
    let mut e = entry(ProviderName::Openai, "gpt-image-1.5");
    e.params = json!({"quality": "high", "moderation": "low"})
        .as_object()
        .unwrap()
        .clone();
    let built = providers::build_request(&req, &e).unwrap();
    let body = json_body(&built.request);
    assert_eq!(body["size"], "1536x1024");
    assert_eq!(body["quality"], "high", "params override defaults");
    assert_eq!(body["moderation"], "low");
    assert!(body.get("seed").is_none() && body.get("negative_prompt").is_none());
    let codes: Vec<_> = built.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        vec![
            WarningCode::OptionMapped,
            WarningCode::UnsupportedOption,
            WarningCode::UnsupportedOption
        ]
    );
}

#[test]
fn openai_sizes_per_model_family() {
    let size_for = |model: &str, size: Option<Size>, ratio: Option<Ratio>| {
        let mut req = request("p");
        req.size = size;
        req.aspect_ratio = ratio;
        let b = providers::build_request(&req, &entry(ProviderName::Openai, model)).unwrap();
        (
            json_body(&b.request)["size"].as_str().map(str::to_string),
            b.warnings.len(),
        )
    };
    assert_eq!(
        size_for("gpt-image-1", Some(Size::new(512, 512)), None),
        (Some("1024x1024".into()), 1)
    );
    assert_eq!(
        size_for("gpt-image-1", Some(Size::new(1024, 1536)), None),
        (Some("1024x1536".into()), 0)
    );
    assert_eq!(
        size_for("gpt-image-1", None, Some(Ratio::new(3, 2))),
        (Some("1536x1024".into()), 0)
    );
    assert_eq!(
        size_for("gpt-image-1", None, Some(Ratio::new(9, 16))),
        (Some("1024x1536".into()), 1)
    );
    // gpt-image-2 takes free sizes.
    assert_eq!(
        size_for("gpt-image-2", Some(Size::new(2048, 1152)), None),
        (Some("2048x1152".into()), 0)
    );
    assert_eq!(
        size_for("gpt-image-2", None, Some(Ratio::new(16, 9))),
        (Some("1536x864".into()), 0)
    );
    let (s, warnings) = size_for("gpt-image-2", Some(Size::new(1000, 1000)), None);
    assert_eq!(warnings, 1);
    let s = Size::parse(&s.unwrap()).unwrap();
    assert!(
        s.w % 16 == 0 && s.h % 16 == 0 && s.pixels() >= 655_360,
        "{s}"
    );
    assert_eq!(size_for("gpt-image-1", None, None), (None, 0));
}

#[test]
fn openai_key_check_request() {
    let r = providers::validate_key_request(
        ProviderName::Openai,
        &Secret::new(KEY),
        "https://api.openai.com",
    )
    .unwrap();
    assert_eq!(
        (r.method, r.url.as_str()),
        (Method::Get, "https://api.openai.com/v1/models")
    );
    assert_eq!(
        r.header_value("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

// ------------------------------------------------------------------ Gemini

#[test]
fn gemini_request_is_exact() {
    let mut req = request("a lighthouse at dusk, watercolor");
    req.size = Some(Size::new(2048, 1152));
    req.seed = Some(42);
    let built =
        providers::build_request(&req, &entry(ProviderName::Gemini, "gemini-3-pro-image")).unwrap();
    let http = &built.request;
    assert_eq!(http.method, Method::Post);
    assert_eq!(
        http.url,
        "http://127.0.0.1:9/v1beta/models/gemini-3-pro-image:generateContent"
    );
    assert_eq!(
        header_names(http),
        vec![
            ("x-goog-api-key", KEY),
            ("content-type", "application/json")
        ]
    );
    let safety: Vec<Value> = [
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    ]
    .iter()
    .map(|c| json!({"category": c, "threshold": "BLOCK_MEDIUM_AND_ABOVE"}))
    .collect();
    assert_eq!(
        json_body(http),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dusk, watercolor"}]}],
            "generationConfig": {
                "responseModalities": ["IMAGE"],
                "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
                "seed": 42
            },
            "safetySettings": safety
        })
    );
    // size → nearest ratio is a mapping, reported once.
    assert_eq!(built.warnings.len(), 1);
    assert_eq!(built.warnings[0].code, WarningCode::OptionMapped);
}

#[test]
fn gemini_aspect_ratios_per_model_and_params_merge() {
    let ratio_for = |model: &str, r: Ratio| {
        let mut req = request("p");
        req.aspect_ratio = Some(r);
        let b = providers::build_request(&req, &entry(ProviderName::Gemini, model)).unwrap();
        let body = json_body(&b.request);
        (
            body["generationConfig"]["imageConfig"]["aspectRatio"]
                .as_str()
                .unwrap()
                .to_string(),
            b.warnings.len(),
        )
    };
    assert_eq!(
        ratio_for("gemini-2.5-flash-image", Ratio::new(16, 9)),
        ("16:9".into(), 0)
    );
    assert_eq!(
        ratio_for("gemini-3.1-flash-image", Ratio::new(4, 1)),
        ("4:1".into(), 0)
    );
    assert_eq!(
        ratio_for("gemini-2.5-flash-image", Ratio::new(4, 1)),
        ("21:9".into(), 1)
    );
    // 2.5 Flash has no imageSize tiers: a large size is dropped with a warning.
    let mut req = request("p");
    req.size = Some(Size::new(4096, 4096));
    req.negative_prompt = Some("x".into());
    let mut e = entry(ProviderName::Gemini, "gemini-2.5-flash-image");
    e.params =
        json!({"safetySettings": null, "generationConfig": {"imageConfig": {"aspectRatio": null}}})
            .as_object()
            .unwrap()
            .clone();
    let b = providers::build_request(&req, &e).unwrap();
    let body = json_body(&b.request);
    assert!(body["generationConfig"]["imageConfig"]
        .get("imageSize")
        .is_none());
    assert!(body["generationConfig"]["imageConfig"]
        .get("aspectRatio")
        .is_none());
    assert!(
        body.get("safetySettings").is_none(),
        "null in params removes a default"
    );
    assert_eq!(b.warnings.len(), 3, "{:?}", b.warnings);
}

// ------------------------------------------------------------------ Stability

#[test]
fn stability_request_is_exact() {
    let mut req = request("a lighthouse");
    req.aspect_ratio = Some(Ratio::new(4, 3));
    req.seed = Some(1234);
    req.negative_prompt = Some("blurry".into());
    req.output_format = Some(OutputFormat::Jpeg);
    let built =
        providers::build_request(&req, &entry(ProviderName::Stability, "sd3.5-large-turbo"))
            .unwrap();
    let http = &built.request;
    assert_eq!(http.method, Method::Post);
    assert_eq!(
        http.url,
        "http://127.0.0.1:9/v2beta/stable-image/generate/sd3"
    );
    let boundary = "imagegen-form-boundary-5f3c8a2e91d74b06";
    assert_eq!(
        header_names(http),
        vec![
            ("authorization", format!("Bearer {KEY}").as_str()),
            ("accept", "application/json"),
            (
                "content-type",
                format!("multipart/form-data; boundary={boundary}").as_str()
            ),
        ]
    );
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let expected = [
        field("aspect_ratio", "5:4"),
        field("model", "sd3.5-large-turbo"),
        field("negative_prompt", "blurry"),
        field("output_format", "jpeg"),
        field("prompt", "a lighthouse"),
        field("seed", "1234"),
        format!("--{boundary}--\r\n"),
    ]
    .concat();
    assert_eq!(
        String::from_utf8(http.body.clone().unwrap()).unwrap(),
        expected
    );
    assert_eq!(built.warnings.len(), 1, "4:3 → 5:4 is reported");
    assert!(built.warnings[0].message.contains("5:4"));
}

#[test]
fn stability_sends_cfg_scale_only_when_the_caller_does() {
    // The API's own default (4; 1 for turbo/flash) is right for every SD3.5
    // model; the seed's 7 was for the retired v1 API.
    for model in [
        "sd3",
        "sd3.5-large",
        "sd3.5-large-turbo",
        "sd3.5-flash",
        "ultra",
    ] {
        let built = providers::build_request(&request("p"), &entry(ProviderName::Stability, model))
            .unwrap();
        let body = String::from_utf8(built.request.body.clone().unwrap()).unwrap();
        assert!(!body.contains("cfg_scale"), "{model}");
    }
    let mut e = entry(ProviderName::Stability, "sd3.5-large");
    e.params = json!({"cfg_scale": 5}).as_object().unwrap().clone();
    let built = providers::build_request(&request("p"), &e).unwrap();
    let body = String::from_utf8(built.request.body.clone().unwrap()).unwrap();
    assert!(body.contains("name=\"cfg_scale\"\r\n\r\n5\r\n"));
}

#[test]
fn gemini_sends_no_vertex_only_field_by_default() {
    const VERTEX_ONLY: [&str; 5] = [
        "personGeneration",
        "outputMimeType",
        "outputCompressionQuality",
        "imageOutputOptions",
        "prominentPeople",
    ];
    for model in [
        "gemini-nano-banana-2.1",
        "gemini-3-pro-image",
        "gemini-3.1-flash-image",
        "gemini-3.1-flash-lite-image",
        "gemini-2.5-flash-image",
    ] {
        let mut req = request("p");
        req.size = Some(Size::new(2048, 1152));
        req.seed = Some(3);
        req.output_format = Some(OutputFormat::Jpeg);
        let built = providers::build_request(&req, &entry(ProviderName::Gemini, model)).unwrap();
        let body = String::from_utf8(built.request.body.clone().unwrap()).unwrap();
        for field in VERTEX_ONLY {
            assert!(!body.contains(field), "{model} sends {field}: {body}");
        }
        let image_config = &json_body(&built.request)["generationConfig"]["imageConfig"];
        let keys: Vec<&String> = image_config.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| *k == "aspectRatio" || *k == "imageSize"),
            "{model}: {keys:?}"
        );
    }
    // A caller can still send one on purpose (e.g. through a Vertex-compatible proxy).
    let mut e = entry(ProviderName::Gemini, "gemini-3-pro-image");
    e.params = json!({"generationConfig": {"imageConfig": {"personGeneration": "ALLOW_ALL"}}})
        .as_object()
        .unwrap()
        .clone();
    let built = providers::build_request(&request("p"), &e).unwrap();
    assert_eq!(
        json_body(&built.request)["generationConfig"]["imageConfig"]["personGeneration"],
        "ALLOW_ALL"
    );
}

#[test]
fn stability_core_sends_no_cfg_scale_and_maps_sizes() {
    let mut req = request("p");
    req.size = Some(Size::new(1920, 1080));
    let built = providers::build_request(&req, &entry(ProviderName::Stability, "core")).unwrap();
    assert!(built
        .request
        .url
        .ends_with("/v2beta/stable-image/generate/core"));
    let body = String::from_utf8(built.request.body.clone().unwrap()).unwrap();
    assert!(body.contains("name=\"aspect_ratio\"\r\n\r\n16:9\r\n"));
    assert!(!body.contains("cfg_scale") && !body.contains("name=\"model\""));
}

// ------------------------------------------------------------------ fixtures

/// Every fixture of a provider parses to what its `expect` says.
fn check_fixtures(provider: ProviderName, dir: &str, model: &str) {
    let e = entry(provider, model);
    let mut checked = 0;
    for f in fixtures(dir) {
        let expect = f.expect().clone();
        if expect.get("valid").is_some() {
            let valid = providers::parse_validate_key_response(
                provider,
                f.response(),
                &e.api_key,
                support::EPOCH_MS,
            );
            assert_eq!(
                valid.unwrap(),
                expect["valid"].as_bool().unwrap(),
                "{dir}/{}",
                f.name
            );
            checked += 1;
            continue;
        }
        let req = request("p");
        let ctx = ParseContext {
            request: &req,
            entry: &e,
            now_unix_ms: support::EPOCH_MS,
            billed: &Default::default(),
        };
        let result = providers::parse_response(f.response(), &ctx);
        if let Some(n) = expect.get("images") {
            let images = result.unwrap_or_else(|e| panic!("{dir}/{}: {e}", f.name));
            assert_eq!(images.len() as u64, n.as_u64().unwrap(), "{dir}/{}", f.name);
            assert_eq!(
                images[0].mime_type,
                expect["mimeType"].as_str().unwrap(),
                "{dir}/{}",
                f.name
            );
            assert_eq!(images[0].provider, provider);
            assert!(images.iter().all(|i| !i.base64.is_empty()));
            if let Some(seed) = expect.get("seed") {
                assert_eq!(images[0].seed, seed.as_u64(), "{dir}/{}", f.name);
            }
        } else {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{dir}/{} should fail", f.name));
            let code = expect["code"].as_str().unwrap();
            assert_eq!(err.code.as_str(), code, "{dir}/{}: {}", f.name, err.message);
            assert_eq!(
                err.retry_after_ms,
                expect.get("retryAfterMs").and_then(Value::as_u64),
                "{dir}/{}",
                f.name
            );
            if let Some(param) = expect.get("param") {
                assert_eq!(err.param.as_deref(), param.as_str(), "{dir}/{}", f.name);
            }
            let retryable = expect
                .get("retryable")
                .and_then(Value::as_bool)
                .unwrap_or(err.code.is_retryable());
            assert_eq!(err.retryable(), retryable, "{dir}/{}", f.name);
            assert_eq!(err.provider, Some(provider));
            assert_eq!(err.status, f.json["status"].as_u64().map(|s| s as u16));
            assert!(
                err.message.starts_with(provider.as_str()),
                "{}",
                err.message
            );
            assert!(!err.message.contains(KEY));
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures for {dir}");
}

#[test]
fn openai_fixtures_classify_as_expected() {
    check_fixtures(ProviderName::Openai, "openai", "gpt-image-1");
}

#[test]
fn gemini_fixtures_classify_as_expected() {
    check_fixtures(ProviderName::Gemini, "gemini", "gemini-2.5-flash-image");
}

#[test]
fn stability_fixtures_classify_as_expected() {
    check_fixtures(ProviderName::Stability, "stability", "core");
}

#[test]
fn error_codes_of_key_checks() {
    // auth/permission → false; anything else is an error, never "bad key".
    let key = Secret::new(KEY);
    for (path, expected) in [
        ("openai/invalid_api_key", Ok(false)),
        ("openai/org_not_verified", Ok(false)),
        ("openai/rate_limit", Err(ErrorCode::RateLimited)),
        ("openai/server_error", Err(ErrorCode::ProviderError)),
        ("gemini/api_key_invalid", Ok(false)),
        ("gemini/unregistered_caller", Ok(false)),
        ("gemini/unavailable", Err(ErrorCode::ProviderError)),
        ("stability/unauthorized_v1", Ok(false)),
        ("stability/internal_error", Err(ErrorCode::ProviderError)),
    ] {
        let provider = ProviderName::parse(path.split('/').next().unwrap()).unwrap();
        let got =
            providers::parse_validate_key_response(provider, fixture(path).response(), &key, 0)
                .map_err(|e| e.code);
        assert_eq!(got, expected, "{path}");
    }
}

#[test]
fn a_key_echoed_by_a_provider_is_redacted() {
    let e = entry(ProviderName::Openai, "gpt-image-1");
    let req = request("p");
    let ctx = ParseContext {
        request: &req,
        entry: &e,
        now_unix_ms: 0,
        billed: &Default::default(),
    };
    let body = json!({"error": {"message": format!("Incorrect API key provided: {KEY}. Also sk-proj-AAAAAAAAAAAAAAAAAAAAAAAAAAAA."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
    let resp = imagegen::http::HttpResponse::new(401, vec![], serde_json::to_vec(&body).unwrap());
    let err = providers::parse_response(resp, &ctx).unwrap_err();
    assert_eq!(err.code, ErrorCode::Auth);
    assert!(!err.message.contains(KEY), "{}", err.message);
    assert!(
        !err.message.contains("AAAAAAAAAAAAAAAAAAAA"),
        "{}",
        err.message
    );
    assert!(err.message.contains("***"));
}

#[test]
fn every_fixture_file_is_covered_by_a_provider_suite() {
    let total: usize = ["openai", "gemini", "stability"]
        .iter()
        .map(|d| fixtures(d).len())
        .sum();
    assert!(total >= 50, "{total}");
}

#[test]
fn redirects_are_refused_for_every_provider() {
    for provider in [
        ProviderName::Openai,
        ProviderName::Gemini,
        ProviderName::Stability,
    ] {
        let e = entry(provider, imagegen::validate::default_model(provider));
        let req = request("p");
        let ctx = ParseContext {
            request: &req,
            entry: &e,
            now_unix_ms: 0,
            billed: &Default::default(),
        };
        for status in [0u16, 301, 302, 307, 308] {
            let resp = imagegen::http::HttpResponse::new(
                status,
                vec![("location".into(), "https://evil.example/steal".into())],
                vec![],
            );
            let err = providers::parse_response(resp, &ctx).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadResponse, "{provider} {status}");
            assert!(err.message.contains("redirect"));
        }
    }
}
