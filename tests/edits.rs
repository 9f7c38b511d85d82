//! Edits through the engine: each provider's edit request as sent, and a
//! chain that skips entries that cannot take the inputs (recorded, warned,
//! no HTTP call), or rejects before any call when none can.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use imagegen::engine::{self, Runtime};
use imagegen::inputs::{EditInputs, Input, MaskInput};
use imagegen::runtime::CancelToken;
use imagegen::validate::{validate, ValidRequest};
use imagegen::{
    ErrorCode, GenerateRequest, Outcome, ProviderConfig, ProviderName, Secret, WarningCode,
};
use serde_json::Value;
use std::rc::Rc;
use support::{Reply, ScriptedTransport, TestRng, VirtualTime};

const OPENAI: &str = "http://openai.test";
const GEMINI: &str = "http://gemini.test";
const STABILITY: &str = "http://stability.test";

fn cfg(provider: ProviderName, origin: &str, model: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        provider: Some(provider),
        api_key: Some(Secret::new(format!("sk-{provider}-test-key-000000000000"))),
        model: model.map(str::to_string),
        base_url: Some(origin.to_string()),
        params: None,
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&[0; 4]);
}

/// An RGBA PNG of w×h, transparent where `clear`.
fn png(w: u32, h: u32, clear: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            raw.extend_from_slice(&[200, 100, 50, if clear(x, y) { 0 } else { 255 }]);
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn edit_inputs(n: usize, side: u32, mask: bool) -> Rc<EditInputs> {
    let images = (0..n)
        .map(|i| Input::from_bytes(png(side, side, |_, _| false), &format!("images[{i}]")).unwrap())
        .collect();
    let mask = mask.then(|| MaskInput::from_bytes(png(side, side, |x, _| x < side / 2)).unwrap());
    Rc::new(EditInputs::new(images, mask).unwrap())
}

fn request(providers: Vec<ProviderConfig>, inputs: Rc<EditInputs>) -> ValidRequest {
    let r = GenerateRequest {
        prompt: Some("put a hat on it".into()),
        providers: Some(providers),
        ..Default::default()
    };
    let mut v = validate(&r).unwrap();
    v.image.inputs = Some(inputs);
    v
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

    fn run(&self, req: &ValidRequest) -> Result<imagegen::GenerateResult, imagegen::Error> {
        let sink = |_e: imagegen::GenerateEvent| {};
        self.vt
            .run(engine::generate(&self.rt, req, &sink, &CancelToken::new()))
    }

    /// The n-th request sent, rendered: (url, content type, body).
    fn sent(&self, n: usize) -> (String, String, Vec<u8>) {
        let log = self.rt.transport.log.borrow();
        let req = &log[n];
        let (ctype, body) = req.rendered_body();
        (
            req.url.clone(),
            ctype.unwrap_or_default(),
            body.unwrap_or_default(),
        )
    }
}

fn mock_svg(result: &imagegen::GenerateResult) -> String {
    let b64 = result.images[0].base64.to_rust_string();
    String::from_utf8(support::decode_base64(&b64)).unwrap()
}

#[test]
fn openai_edit_is_multipart_with_every_image_and_the_mask() {
    let h = Harness::new();
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 100)]);
    let req = request(
        vec![cfg(ProviderName::Openai, OPENAI, None)],
        edit_inputs(3, 16, true),
    );
    let out = h.run(&req).unwrap();
    assert_eq!(out.images.len(), 1);
    let (url, ctype, body) = h.sent(0);
    assert_eq!(url, format!("{OPENAI}/v1/images/edits"));
    assert!(
        ctype.starts_with("multipart/form-data; boundary="),
        "{ctype}"
    );
    let text = String::from_utf8_lossy(&body);
    assert_eq!(text.matches("name=\"image[]\"; filename=").count(), 3);
    assert_eq!(
        text.matches("Content-Type: image/png").count(),
        4,
        "three images and the mask"
    );
    assert!(text.contains("name=\"mask\"; filename=\"mask.png\""));
    assert!(text.contains("name=\"model\"\r\n\r\ngpt-image-2\r\n"));
    assert!(text.contains("name=\"prompt\"\r\n\r\nput a hat on it\r\n"));
}

impl Harness {
    fn script(&self, origin: &str, replies: Vec<Reply>) {
        self.rt.transport.script(origin, replies);
    }
}

#[test]
fn gemini_edit_sends_inline_parts_and_no_aspect_ratio_unless_asked() {
    let h = Harness::new();
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 100)]);
    let req = request(
        vec![cfg(ProviderName::Gemini, GEMINI, None)],
        edit_inputs(2, 16, false),
    );
    h.run(&req).unwrap();
    let (url, ctype, body) = h.sent(0);
    assert!(url.ends_with(":generateContent"), "{url}");
    assert_eq!(ctype, "application/json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let parts = v["contents"][0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1]["inlineData"]["mimeType"], "image/png");
    assert!(parts[1]["inlineData"]["data"]
        .as_str()
        .unwrap()
        .starts_with("iVBORw0KGgo"));
    assert!(
        v["generationConfig"]["imageConfig"]
            .get("aspectRatio")
            .is_none(),
        "{v}"
    );
}

#[test]
fn a_chain_skips_entries_that_cannot_take_the_inputs_without_calling_them() {
    // A mask: Gemini cannot take it; dall-e-3 takes no inputs; the mock can.
    let h = Harness::new();
    let req = request(
        vec![
            cfg(ProviderName::Gemini, GEMINI, None),
            cfg(ProviderName::Openai, OPENAI, Some("dall-e-3")),
            ProviderConfig {
                provider: Some(ProviderName::Mock),
                ..Default::default()
            },
        ],
        edit_inputs(2, 16, true),
    );
    let out = h.run(&req).unwrap();
    assert_eq!(
        h.rt.transport.log.borrow().len(),
        0,
        "no HTTP call to the skipped entries"
    );
    let skipped: Vec<(ProviderName, bool, String)> = out
        .attempts
        .iter()
        .map(|a| {
            let o = match a.outcome {
                Outcome::Ok => "ok".to_string(),
                Outcome::Failed(c) => c.to_string(),
            };
            (a.provider, a.skipped, o)
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            (ProviderName::Gemini, true, "unsupported".into()),
            (ProviderName::Openai, true, "unsupported".into()),
            (ProviderName::Mock, false, "ok".into()),
        ]
    );
    let warned: Vec<_> = out
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::InputUnsupported)
        .collect();
    assert_eq!(warned.len(), 2);
    assert!(warned[0].message.contains("mask"), "{}", warned[0].message);
    assert!(
        warned[1].message.contains("does not take input images"),
        "{}",
        warned[1].message
    );
    assert!(mock_svg(&out).contains("inputs=2 mask=yes"));
}

#[test]
fn skipping_ignores_fallback_on_because_the_inputs_decided() {
    let h = Harness::new();
    let r = GenerateRequest {
        prompt: Some("p".into()),
        providers: Some(vec![
            cfg(ProviderName::Gemini, GEMINI, None),
            ProviderConfig {
                provider: Some(ProviderName::Mock),
                ..Default::default()
            },
        ]),
        fallback_on: Some(vec![ErrorCode::RateLimited]),
        ..Default::default()
    };
    let mut req = validate(&r).unwrap();
    req.image.inputs = Some(edit_inputs(1, 16, true));
    let out = h.run(&req).unwrap();
    assert_eq!(out.images[0].provider, ProviderName::Mock);
}

#[test]
fn when_no_entry_can_take_the_inputs_the_call_is_rejected_before_any_call() {
    let h = Harness::new();
    let req = request(
        vec![
            cfg(ProviderName::Gemini, GEMINI, Some("gemini-2.5-flash-image")),
            cfg(ProviderName::Stability, STABILITY, Some("sd3.5-large")),
        ],
        edit_inputs(4, 16, false),
    );
    let e = h.run(&req).unwrap_err();
    assert_eq!(e.code, ErrorCode::Unsupported);
    assert_eq!(h.rt.transport.log.borrow().len(), 0);
    assert_eq!(e.attempts.len(), 2);
    assert!(e
        .attempts
        .iter()
        .all(|a| a.skipped && a.outcome == Outcome::Failed(ErrorCode::Unsupported)));
    assert!(e.message.contains("at most 1"), "{}", e.message);
}

#[test]
fn stability_inpaints_with_a_converted_mask_after_a_fallback() {
    let h = Harness::new();
    h.script(
        OPENAI,
        vec![Reply::Fixture("openai/insufficient_quota", 50)],
    );
    h.script(
        STABILITY,
        vec![Reply::Fixture("stability/success_json", 50)],
    );
    let req = request(
        vec![
            cfg(ProviderName::Openai, OPENAI, None),
            cfg(ProviderName::Stability, STABILITY, Some("sd3.5-large")),
        ],
        edit_inputs(1, 64, true),
    );
    let out = h.run(&req).unwrap();
    assert_eq!(out.images[0].provider, ProviderName::Stability);
    let (url, _, body) = h.sent(1);
    assert_eq!(url, format!("{STABILITY}/v2beta/stable-image/edit/inpaint"));
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("name=\"image\"; filename=\"image-0.png\""));
    assert!(text.contains("name=\"mask\"; filename=\"mask.png\""));
    assert!(!text.contains("name=\"aspect_ratio\""));
    // The OpenAI-convention mask (alpha) was turned into an 8-bit grayscale PNG.
    let at = body.windows(4).position(|w| w == b"IHDR").unwrap();
    let masks: Vec<usize> = body
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"IHDR")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(masks.len(), 2, "image and mask");
    assert_eq!(
        &body[masks[1] + 12..masks[1] + 14],
        &[8, 0],
        "mask is 8-bit gray"
    );
    assert_eq!(
        &body[at + 12..at + 14],
        &[8, 6],
        "image sent as given (RGBA)"
    );
}
