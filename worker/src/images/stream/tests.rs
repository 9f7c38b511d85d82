use super::*;
use crate::images::parse_request;
use imagegen::model::{Attempt, GenerateResult, Outcome};
use imagegen::ErrorCode;

fn options(body: &str) -> Result<Option<StreamOptions>, (String, String)> {
    match parse_request(body.as_bytes(), None) {
        Ok(p) => Ok(p.stream),
        Err(e) => Err((e.param.map(String::from).unwrap_or_default(), e.code)),
    }
}

#[test]
fn stream_options_are_read_and_checked() {
    assert_eq!(options(r#"{"prompt":"x"}"#), Ok(None));
    assert_eq!(
        options(r#"{"prompt":"x","stream":false,"partial_images":2}"#),
        Ok(None)
    );
    assert_eq!(
        options(r#"{"prompt":"x","stream":true,"partial_images":2}"#),
        Ok(Some(StreamOptions {
            partial_images: 2,
            progress: false
        }))
    );
    assert_eq!(
        options(r#"{"prompt":"x","stream":true,"imagegen_progress":true}"#),
        Ok(Some(StreamOptions {
            partial_images: 0,
            progress: true
        }))
    );
    let bad = |body: &str| options(body).unwrap_err().0;
    assert_eq!(bad(r#"{"prompt":"x","stream":"yes"}"#), "stream");
    assert_eq!(bad(r#"{"prompt":"x","stream":1}"#), "stream");
    assert_eq!(
        bad(r#"{"prompt":"x","stream":true,"partial_images":4}"#),
        "partial_images"
    );
    assert_eq!(
        bad(r#"{"prompt":"x","stream":true,"partial_images":1.5}"#),
        "partial_images"
    );
    assert_eq!(
        bad(r#"{"prompt":"x","stream":true,"partial_images":-1}"#),
        "partial_images"
    );
    assert_eq!(
        bad(r#"{"prompt":"x","stream":true,"partial_images":[]}"#),
        "partial_images"
    );
    assert_eq!(
        bad(r#"{"prompt":"x","stream":true,"imagegen_progress":"on"}"#),
        "imagegen_progress"
    );
}

#[test]
fn form_fields_stream_as_text() {
    let mut obj = Map::new();
    obj.insert("stream".into(), "true".into());
    obj.insert("partial_images".into(), "3".into());
    assert_eq!(
        stream_options(&obj).unwrap(),
        Some(StreamOptions {
            partial_images: 3,
            progress: false
        })
    );
    obj.insert("stream".into(), "False".into());
    assert_eq!(stream_options(&obj).unwrap(), None);
    obj.insert("partial_images".into(), "two".into());
    assert!(stream_options(&obj).is_err());
}

#[test]
fn image_events_carry_openais_fields() {
    let parsed = parse_request(
        br#"{"prompt":"x","size":"1024x1536","quality":"high","stream":true}"#,
        None,
    )
    .unwrap();
    let meta = EventMeta::new(Endpoint::Generation, &parsed);
    let data = ImageData::from_string("QUJD".into());
    let shown = || Shown {
        base64: &data,
        mime_type: "image/webp",
        provider: ProviderName::Openai,
        model: "gpt-image-2",
        part: Some(0),
    };
    let partial = serde_json::to_value(meta.partial(shown(), 1, 1_794_000_000)).unwrap();
    assert_eq!(
        partial,
        json!({"type": "image_generation.partial_image", "b64_json": "QUJD",
               "partial_image_index": 1, "created_at": 1_794_000_000u64, "size": "1024x1536",
               "quality": "high", "background": "auto", "output_format": "webp",
               "provider": "openai", "model": "gpt-image-2", "part": 0})
    );
    let done = serde_json::to_value(meta.completed(shown(), Some("a cat"), 7)).unwrap();
    assert_eq!(done["type"], "image_generation.completed");
    assert!(done.get("partial_image_index").is_none());
    assert_eq!(done["revised_prompt"], "a cat");
    let edit = EventMeta::new(
        Endpoint::Edit,
        &parse_request(br#"{"prompt":"x"}"#, None).unwrap(),
    );
    let done = serde_json::to_value(edit.completed(shown(), None, 7)).unwrap();
    assert_eq!(
        (&done["type"], &done["size"], &done["quality"]),
        (
            &json!("image_edit.completed"),
            &json!("auto"),
            &json!("auto")
        )
    );
    assert!(done.get("revised_prompt").is_none());
    assert_eq!(Endpoint::Edit.partial_type(), "image_edit.partial_image");
}

#[test]
fn progress_events_are_snake_case_and_typed() {
    let start = GenerateEvent::AttemptStart {
        provider: ProviderName::Openai,
        model: "m".into(),
        part: 0,
        attempt: 1,
    };
    assert_eq!(
        progress(&start).unwrap(),
        json!({"type": PROGRESS, "stage": "attempt_start", "provider": "openai",
               "model": "m", "part": 0, "attempt": 1})
    );
    let fallback = GenerateEvent::Fallback {
        part: 0,
        from: ProviderName::Openai,
        to: ProviderName::Gemini,
        code: ErrorCode::RateLimited,
    };
    let v = progress(&fallback).unwrap();
    assert_eq!(
        (&v["stage"], &v["to"]),
        (&json!("fallback"), &json!("gemini"))
    );
    let retry = GenerateEvent::RetryScheduled {
        provider: ProviderName::Openai,
        part: 0,
        attempt: 1,
        code: ErrorCode::ProviderError,
        delay_ms: 250,
    };
    assert_eq!(progress(&retry).unwrap()["delay_ms"], 250);
    let image = GenerateEvent::Image {
        part: 0,
        index: 0,
        image: imagegen::model::GeneratedImage {
            mime_type: "image/png".into(),
            base64: ImageData::from_string("QQ==".into()),
            provider: ProviderName::Mock,
            model: "mock".into(),
            seed: None,
            revised_prompt: None,
            cost_usd: None,
        },
    };
    assert!(progress(&image).is_none(), "images have their own events");
}

fn failed_part(code: ErrorCode) -> ErrorInfo {
    ErrorInfo {
        name: "ImageGenError".into(),
        code,
        message: "provider said no".into(),
        provider: Some(ProviderName::Gemini),
        status: Some(429),
        retryable: true,
        part: Some(1),
        param: None,
        attempts: vec![],
    }
}

#[test]
fn a_partial_result_ends_in_an_error_naming_the_failed_part() {
    assert!(partial_failure(&[], 2).is_none());
    let failed = FailedPart::from(&failed_part(ErrorCode::RateLimited));
    let e = partial_failure(&[failed], 2).unwrap();
    let body: Value = serde_json::from_str(&e.body()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["error"]["provider"], "gemini");
    assert!(body["error"]["param"].is_null());
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("after 2 image(s)"), "{message}");
    let stored = FailedPart {
        code: ErrorCode::Timeout,
        message: "slow".into(),
        provider: None,
        retryable: true,
    };
    let e = partial_failure(&[stored], 0).unwrap();
    assert_eq!((e.status, e.code.as_str()), (504, "timeout"));
}

#[test]
fn the_result_event_summarises_attempts_and_errors() {
    let attempt = Attempt {
        provider: ProviderName::Openai,
        model: "m".into(),
        part: 0,
        attempt: 1,
        started_at_ms: 1,
        duration_ms: 2,
        outcome: Outcome::Ok,
        status: Some(200),
        retry_after_ms: None,
        images: 1,
        skipped: false,
        cost_usd: Some(0.04),
    };
    let result = GenerateResult {
        images: vec![],
        warnings: vec![],
        attempts: vec![attempt],
        errors: vec![failed_part(ErrorCode::Timeout)],
        usage: Default::default(),
    };
    let v = serde_json::to_value(result_event(&result, &[])).unwrap();
    assert_eq!(
        (&v["type"], &v["stage"]),
        (&json!(PROGRESS), &json!("result"))
    );
    assert_eq!(v["attempts"][0]["duration_ms"], 2);
    assert_eq!(v["errors"][0]["code"], "timeout");
    assert_eq!(v["images"], 0);
    assert!(v["cost_usd"].is_null(), "no cost reported: unknown");
}

#[test]
fn previews_are_asked_of_the_engine_only_with_a_stream() {
    let p = parse_request(br#"{"prompt":"x","stream":true,"partial_images":2}"#, None).unwrap();
    assert_eq!(
        p.request.partial_images,
        Some(imagegen::request::Number(2.0))
    );
    let p = parse_request(br#"{"prompt":"x","partial_images":2}"#, None).unwrap();
    assert_eq!(p.request.partial_images, None);
    let p = parse_request(br#"{"prompt":"x","stream":true,"partial_images":0}"#, None).unwrap();
    assert_eq!(p.request.partial_images, None);
}
