//! Engine scenarios with a scripted fake transport, virtual time and a
//! recording sleeper: retries, Retry-After, fallback, fail-fast, bounded
//! concurrency, partial results, deadline, abort.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use imagegen::engine::{self, Runtime};
use imagegen::runtime::CancelToken;
use imagegen::validate::{validate, ValidRequest};
use imagegen::{
    ErrorCode, GenerateEvent, GenerateRequest, GenerateResult, Outcome, ProviderConfig,
    ProviderName, Secret,
};
use serde_json::json;
use std::cell::RefCell;
use support::{cfg, Reply, ScriptedTransport, TestRng, VirtualTime};

const OPENAI: &str = "http://openai.test";
const GEMINI: &str = "http://gemini.test";
const STABILITY: &str = "http://stability.test";

fn openai() -> ProviderConfig {
    cfg(ProviderName::Openai, OPENAI)
}
fn gemini() -> ProviderConfig {
    cfg(ProviderName::Gemini, GEMINI)
}
fn stability() -> ProviderConfig {
    cfg(ProviderName::Stability, STABILITY)
}
fn mock(params: serde_json::Value) -> ProviderConfig {
    ProviderConfig {
        provider: Some(ProviderName::Mock),
        params: Some(params),
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
    events: RefCell<Vec<String>>,
}

impl Harness {
    /// `roll` pins the RNG: 0.5 → every backoff is half its cap.
    fn new(roll: f64) -> Self {
        let vt = VirtualTime::new();
        Harness {
            rt: Runtime {
                transport: ScriptedTransport::new(&vt),
                sleeper: vt.clone(),
                clock: vt.clone(),
                rng: TestRng::fixed(roll),
            },
            vt,
            events: RefCell::new(Vec::new()),
        }
    }

    fn script(&self, origin: &str, replies: Vec<Reply>) {
        self.rt.transport.script(origin, replies);
    }

    fn run(&self, req: &ValidRequest) -> Result<GenerateResult, imagegen::Error> {
        self.run_with(req, &CancelToken::new())
    }

    fn run_with(
        &self,
        req: &ValidRequest,
        cancel: &CancelToken,
    ) -> Result<GenerateResult, imagegen::Error> {
        let sink = |e: GenerateEvent| self.events.borrow_mut().push(describe(&e));
        self.vt.run(engine::generate(&self.rt, req, &sink, cancel))
    }

    fn events(&self) -> Vec<String> {
        self.events.borrow().clone()
    }
}

fn outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Failed(c) => c.to_string(),
    }
}

fn describe(e: &GenerateEvent) -> String {
    match e {
        GenerateEvent::AttemptStart {
            provider,
            part,
            attempt,
            ..
        } => format!("start {provider} p{part} a{attempt}"),
        GenerateEvent::AttemptEnd {
            provider,
            part,
            attempt,
            outcome: o,
            status,
            ..
        } => format!(
            "end {provider} p{part} a{attempt} {}{}",
            outcome(o),
            status.map(|s| format!(" {s}")).unwrap_or_default()
        ),
        GenerateEvent::RetryScheduled {
            provider,
            part,
            attempt,
            code,
            delay_ms,
        } => {
            format!("retry {provider} p{part} a{attempt} {code} {delay_ms}ms")
        }
        GenerateEvent::Fallback {
            part,
            from,
            to,
            code,
        } => format!("fallback p{part} {from}->{to} {code}"),
        GenerateEvent::Image { part, index, .. } => format!("image p{part} #{index}"),
        GenerateEvent::PartialImage {
            part,
            provider,
            index,
            ..
        } => format!("preview {provider} p{part} #{index}"),
    }
}

fn outcomes(attempts: &[imagegen::Attempt]) -> Vec<String> {
    attempts
        .iter()
        .map(|a| {
            format!(
                "{} p{} a{} {}",
                a.provider,
                a.part,
                a.attempt,
                outcome(&a.outcome)
            )
        })
        .collect()
}

#[test]
fn rate_limit_with_retry_after_then_success_sleeps_exactly_the_hint() {
    let h = Harness::new(0.5);
    h.script(
        OPENAI,
        vec![
            Reply::Json(
                429,
                vec![("retry-after", "7")],
                json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
                100,
            ),
            Reply::Fixture("openai/success", 300),
        ],
    );
    let req = request(vec![openai()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(
        h.vt.slept(),
        vec![7000],
        "the only sleep is the provider's Retry-After"
    );
    assert_eq!(result.images.len(), 1);
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 rate_limited", "openai p0 a2 ok"]
    );
    assert_eq!(result.attempts[0].retry_after_ms, Some(7000));
    assert_eq!(result.attempts[0].status, Some(429));
    assert_eq!(result.attempts[1].started_at_ms, 100 + 7000);
    assert_eq!(result.attempts[1].duration_ms, 300);
    assert_eq!(
        h.events(),
        vec![
            "start openai p0 a1",
            "end openai p0 a1 rate_limited 429",
            "retry openai p0 a1 rate_limited 7000ms",
            "start openai p0 a2",
            "end openai p0 a2 ok 200",
            "image p0 #0",
        ]
    );
    assert!(result.errors.is_empty());
    // The hint in the message text works the same ("Please try again in 12s").
    let h = Harness::new(0.5);
    h.script(
        OPENAI,
        vec![
            Reply::Fixture("openai/rate_limit", 0),
            Reply::Fixture("openai/success", 0),
        ],
    );
    h.run(&req).unwrap();
    assert_eq!(h.vt.slept(), vec![12_000]);
}

#[test]
fn three_503s_then_fallback_to_the_next_provider() {
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/overloaded", 10); 3]);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 10)]);
    let req = request(vec![openai(), gemini()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 3);
    assert_eq!(h.rt.transport.calls_to(GEMINI), 1);
    // Full jitter at roll 0.5: 500 then 1000; no sleep after the third failure.
    assert_eq!(h.vt.slept(), vec![500, 1000]);
    assert_eq!(
        outcomes(&result.attempts),
        vec![
            "openai p0 a1 provider_error",
            "openai p0 a2 provider_error",
            "openai p0 a3 provider_error",
            "gemini p0 a1 ok"
        ]
    );
    assert_eq!(result.images[0].provider, ProviderName::Gemini);
    let events = h.events();
    let fallback_at = events
        .iter()
        .position(|e| e == "fallback p0 openai->gemini provider_error")
        .unwrap();
    assert_eq!(
        events[fallback_at - 1],
        "end openai p0 a3 provider_error 503"
    );
    assert_eq!(events[fallback_at + 1], "start gemini p0 a1");
    assert!(
        result.errors.is_empty(),
        "recovered failures are not part errors"
    );
}

#[test]
fn auth_error_falls_back_at_once_without_retry() {
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/invalid_api_key", 5)]);
    h.script(STABILITY, vec![Reply::Fixture("stability/success_json", 5)]);
    let req = request(vec![openai(), stability()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    assert!(h.vt.slept().is_empty());
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 auth", "stability p0 a1 ok"]
    );
    assert_eq!(result.images[0].seed, Some(742_048_682));
}

#[test]
fn content_policy_neither_retries_nor_falls_back() {
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/moderation_blocked", 5)]);
    h.script(GEMINI, vec![]);
    let req = request(vec![openai(), gemini()], |_| {});
    let err = h.run(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::ContentPolicy);
    assert!(!err.retryable());
    assert_eq!(err.provider, Some(ProviderName::Openai));
    assert_eq!(err.status, Some(400));
    assert_eq!(outcomes(&err.attempts), vec!["openai p0 a1 content_policy"]);
    assert_eq!(h.rt.transport.calls_to(GEMINI), 0);
    assert!(h.vt.slept().is_empty());
    // Opting in with fallbackOn moves on.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/moderation_blocked", 5)]);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let req = request(vec![openai(), gemini()], |r| {
        r.fallback_on = Some(vec![ErrorCode::ContentPolicy])
    });
    assert_eq!(h.run(&req).unwrap().images.len(), 1);
}

#[test]
fn count_split_respects_concurrency() {
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 1000); 5]);
    let req = request(vec![gemini()], |r| {
        r.count = Some(5.0);
        r.concurrency = Some(2.0);
    });
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(GEMINI), 5);
    assert_eq!(h.rt.transport.peak_in_flight(), 2);
    assert_eq!(result.images.len(), 5);
    // 5 calls of 1 s, 2 at a time: done at 3 s.
    assert_eq!(h.vt.elapsed(), 3000);
    let parts: Vec<u32> = result.attempts.iter().map(|a| a.part).collect();
    assert_eq!(parts, vec![0, 1, 2, 3, 4]);
    assert_eq!(
        result
            .warnings
            .iter()
            .filter(|w| w.code == imagegen::WarningCode::CountSplit)
            .count(),
        1
    );
    // One call on a provider that takes n.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/success_two", 10)]);
    let req = request(vec![openai()], |r| r.count = Some(2.0));
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    let body: serde_json::Value =
        serde_json::from_slice(h.rt.transport.log.borrow()[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(body["n"], 2);
    assert_eq!(result.images.len(), 2);
    assert!(result.warnings.is_empty());
}

#[test]
fn partial_success_keeps_images_and_reports_the_failed_part() {
    let h = Harness::new(0.5);
    h.script(
        GEMINI,
        vec![
            Reply::Fixture("gemini/success", 10),
            Reply::Fixture("gemini/image_safety", 20),
            Reply::Fixture("gemini/success", 30),
        ],
    );
    let req = request(vec![gemini()], |r| r.count = Some(3.0));
    let result = h.run(&req).unwrap();
    assert_eq!(result.images.len(), 2);
    assert_eq!(result.errors.len(), 1);
    let e = &result.errors[0];
    assert_eq!(
        (e.code, e.part, e.provider, e.retryable),
        (
            ErrorCode::ContentPolicy,
            Some(1),
            Some(ProviderName::Gemini),
            false
        )
    );
    assert_eq!(e.name, "ImageGenError");
    assert_eq!(outcomes(&e.attempts), vec!["gemini p1 a1 content_policy"]);
    assert_eq!(result.attempts.len(), 3);
    // Errors serialise to the same shape as the JS error.
    let v = serde_json::to_value(e).unwrap();
    assert_eq!(v["code"], "content_policy");
    assert_eq!(v["attempts"][0]["outcome"], "content_policy");
}

#[test]
fn deadline_stops_retries_and_reports_timeout() {
    let h = Harness::new(0.999);
    h.script(OPENAI, vec![Reply::Fixture("openai/server_error", 1000); 3]);
    let req = request(vec![openai()], |r| {
        r.deadline_ms = Some(2500.0);
        r.retry = Some(imagegen::model::RetryOptions {
            max_attempts: Some(3),
            base_delay_ms: Some(100),
            ..Default::default()
        });
    });
    let err = h.run(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::Timeout);
    assert!(err.message.contains("deadline"), "{}", err.message);
    // t=0..1000 a1, sleep 100, t=1100..2100 a2, sleep 200, t=2300 a3 cut at 2500.
    assert_eq!(h.vt.elapsed(), 2500);
    assert_eq!(
        outcomes(&err.attempts),
        vec![
            "openai p0 a1 provider_error",
            "openai p0 a2 provider_error",
            "openai p0 a3 timeout"
        ]
    );
    assert_eq!(err.attempts[2].duration_ms, 200);
    assert!(h
        .events()
        .last()
        .unwrap()
        .starts_with("end openai p0 a3 timeout"));

    // A wait longer than the time left is not started: fall back instead.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/rate_limit", 10)]); // "try again in 12s"
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 10)]);
    let req = request(vec![openai(), gemini()], |r| r.deadline_ms = Some(5000.0));
    let result = h.run(&req).unwrap();
    assert!(h.vt.slept().is_empty());
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 rate_limited", "gemini p0 a1 ok"]
    );
}

#[test]
fn no_sleep_after_the_last_attempt() {
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/unavailable", 50); 3]);
    let req = request(vec![gemini()], |_| {});
    let err = h.run(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::ProviderError);
    assert!(err.retryable());
    assert_eq!(h.vt.slept(), vec![500, 1000]);
    assert_eq!(
        h.vt.elapsed(),
        50 * 3 + 500 + 1000,
        "the call ends right after the last failure"
    );
    assert_eq!(err.attempts.len(), 3);
    assert!(!h
        .events()
        .iter()
        .any(|e| e.contains("a3") && e.starts_with("retry")));
}

#[test]
fn retry_after_above_the_cap_falls_back_immediately() {
    let h = Harness::new(0.5);
    h.script(STABILITY, vec![Reply::Fixture("stability/rate_limit", 5)]); // 60 s timeout window
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
    let req = request(vec![stability(), openai()], |r| {
        r.retry = Some(imagegen::model::RetryOptions {
            max_retry_after_ms: Some(30_000),
            ..Default::default()
        })
    });
    let result = h.run(&req).unwrap();
    assert!(h.vt.slept().is_empty());
    assert_eq!(result.attempts[0].retry_after_ms, Some(60_000));
    assert_eq!(result.images[0].provider, ProviderName::Openai);
}

#[test]
fn attempt_timeout_is_retried() {
    let h = Harness::new(0.0);
    h.script(
        OPENAI,
        vec![Reply::Hang, Reply::Fixture("openai/success", 10)],
    );
    let req = request(vec![openai()], |r| r.timeout_ms = Some(5000.0));
    let result = h.run(&req).unwrap();
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 timeout", "openai p0 a2 ok"]
    );
    assert_eq!(result.attempts[0].duration_ms, 5000);
    assert_eq!(h.vt.elapsed(), 5010);
}

#[test]
fn network_errors_and_bad_responses_are_retried_then_fall_back() {
    let h = Harness::new(0.0);
    h.script(
        OPENAI,
        vec![
            Reply::Network(5),
            Reply::Fixture("openai/malformed_json", 5),
            Reply::Fixture("openai/empty_data", 5),
        ],
    );
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let req = request(vec![openai(), gemini()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(
        outcomes(&result.attempts),
        vec![
            "openai p0 a1 network",
            "openai p0 a2 bad_response",
            "openai p0 a3 bad_response",
            "gemini p0 a1 ok"
        ]
    );
    // bad_response is retried at most once per provider, even with attempts left.
    let h = Harness::new(0.0);
    h.script(
        GEMINI,
        vec![
            Reply::Fixture("gemini/no_image", 5),
            Reply::Fixture("gemini/text_only_stop", 5),
        ],
    );
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
    let req = request(vec![gemini(), openai()], |r| {
        r.retry = Some(imagegen::model::RetryOptions {
            max_attempts: Some(5),
            ..Default::default()
        })
    });
    let result = h.run(&req).unwrap();
    assert_eq!(
        outcomes(&result.attempts),
        vec![
            "gemini p0 a1 bad_response",
            "gemini p0 a2 bad_response",
            "openai p0 a1 ok"
        ]
    );
}

#[test]
fn every_provider_failing_rejects_with_the_last_error_and_all_attempts() {
    let h = Harness::new(0.0);
    h.script(OPENAI, vec![Reply::Fixture("openai/insufficient_quota", 5)]);
    h.script(GEMINI, vec![Reply::Fixture("gemini/api_key_invalid", 5)]);
    h.script(
        STABILITY,
        vec![Reply::Fixture("stability/payment_required", 5)],
    );
    let req = request(vec![openai(), gemini(), stability()], |_| {});
    let err = h.run(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::Quota);
    assert_eq!(err.provider, Some(ProviderName::Stability));
    assert_eq!(err.status, Some(402));
    assert_eq!(
        outcomes(&err.attempts),
        vec![
            "openai p0 a1 quota",
            "gemini p0 a1 auth",
            "stability p0 a1 quota"
        ]
    );
    assert!(!err.message.contains("sk-"), "{}", err.message);
}

#[test]
fn fallback_re_splits_the_part_for_the_next_provider() {
    let h = Harness::new(0.0);
    h.script(OPENAI, vec![Reply::Fixture("openai/invalid_api_key", 5)]);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5); 3]);
    let req = request(vec![openai(), gemini()], |r| r.count = Some(3.0));
    let result = h.run(&req).unwrap();
    assert_eq!(result.images.len(), 3);
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    assert_eq!(h.rt.transport.calls_to(GEMINI), 3);
    let events = h.events();
    for p in 0..3 {
        assert!(
            events.contains(&format!("fallback p{p} openai->gemini auth")),
            "{events:?}"
        );
        assert!(
            events.contains(&format!("start gemini p{p} a1")),
            "{events:?}"
        );
    }
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.code == imagegen::WarningCode::CountSplit
                && w.provider == ProviderName::Gemini)
    );
}

#[test]
fn abort_cancels_requests_in_flight_and_keeps_finished_images() {
    let h = Harness::new(0.0);
    h.script(
        GEMINI,
        vec![Reply::Fixture("gemini/success", 10), Reply::Hang],
    );
    let req = request(vec![gemini()], |r| r.count = Some(2.0));
    let cancel = CancelToken::new();
    // Abort at t=500: part 0 finished at 10 ms, part 1 hangs.
    let fut = async {
        let work = engine::generate(&h.rt, &req, &imagegen::engine::NoEvents, &cancel);
        let abort = async {
            h.vt.delay(500).await;
            cancel.cancel();
            std::future::pending::<()>().await
        };
        futures_util::future::select(Box::pin(work), Box::pin(abort)).await
    };
    let err = match h.vt.run(fut) {
        futures_util::future::Either::Left((r, _)) => r.unwrap_err(),
        futures_util::future::Either::Right(_) => unreachable!(),
    };
    assert_eq!(err.code, ErrorCode::Aborted);
    assert!(!err.retryable());
    assert_eq!(err.images.len(), 1);
    assert_eq!(
        outcomes(&err.attempts),
        vec!["gemini p0 a1 ok", "gemini p1 a1 aborted"]
    );
    assert_eq!(h.vt.elapsed(), 500);
    // A token that fired before the call starts nothing.
    let h = Harness::new(0.0);
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = h.run_with(&req, &cancel).unwrap_err();
    assert_eq!(err.code, ErrorCode::Aborted);
    assert!(h.rt.transport.log.borrow().is_empty());
}

#[test]
fn mock_provider_fault_injection_drives_retry_and_fallback() {
    let h = Harness::new(0.5);
    let req = request(
        vec![
            mock(json!({"failFirst": 3, "failCode": "provider_error", "latencyMs": 100})),
            mock(json!({})),
        ],
        |r| r.count = Some(2.0),
    );
    let result = h.run(&req).unwrap();
    assert_eq!(
        outcomes(&result.attempts),
        vec![
            "mock p0 a1 provider_error",
            "mock p0 a2 provider_error",
            "mock p0 a3 provider_error",
            "mock p0 a1 ok"
        ]
    );
    assert_eq!(result.images.len(), 2);
    assert!(result.images.iter().all(|i| i.mime_type == "image/svg+xml"));
    // latency 100 per call on the first entry + backoffs 500, 1000
    assert_eq!(h.vt.slept(), vec![100, 500, 100, 1000, 100]);
    let h = Harness::new(0.5);
    let req = request(
        vec![mock(
            json!({"failFirst": 1, "failCode": "rate_limited", "retryAfterMs": 250}),
        )],
        |_| {},
    );
    let result = h.run(&req).unwrap();
    assert_eq!(h.vt.slept(), vec![250]);
    assert_eq!(result.attempts[0].status, Some(429));
    let svg = support::decode_base64(&result.images[0].base64.to_rust_string());
    assert!(String::from_utf8(svg)
        .unwrap()
        .contains("a lighthouse at dusk"));
}

#[test]
fn mock_fail_rate_uses_the_injected_rng() {
    // Roll 0.2 < failRate 0.3: every call fails; nothing to fall back to.
    let h = Harness::new(0.2);
    let req = request(
        vec![mock(json!({"failRate": 0.3, "failCode": "network"}))],
        |_| {},
    );
    let err = h.run(&req).unwrap_err();
    assert_eq!(err.code, ErrorCode::Network);
    assert_eq!(err.attempts.len(), 3);
    let h = Harness::new(0.4);
    assert!(h.run(&req).is_ok());
}

#[test]
fn warnings_are_reported_once_per_provider() {
    let h = Harness::new(0.0);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5); 2]);
    let req = request(vec![gemini()], |r| {
        r.count = Some(2.0);
        r.negative_prompt = Some("blur".into());
    });
    let result = h.run(&req).unwrap();
    let unsupported: Vec<_> = result
        .warnings
        .iter()
        .filter(|w| w.code == imagegen::WarningCode::UnsupportedOption)
        .collect();
    assert_eq!(unsupported.len(), 1, "{:?}", result.warnings);
}

// ------------------------------------------------------------ long-lived client

mod client {
    use super::*;
    use imagegen::client::{BreakerSettings, BudgetSettings, ClientSettings, ClientState};

    fn run_with_client(
        h: &Harness,
        req: &ValidRequest,
        client: &ClientState,
    ) -> Result<GenerateResult, imagegen::Error> {
        h.vt.run(engine::generate_with_client(
            &h.rt,
            req,
            &imagegen::engine::NoEvents,
            &CancelToken::new(),
            Some(client),
        ))
    }

    fn no_budget_limit() -> BudgetSettings {
        BudgetSettings {
            ratio: 1000.0,
            ..BudgetSettings::default()
        }
    }

    #[test]
    fn an_outage_does_not_multiply_load() {
        let h = Harness::new(0.0);
        h.script(OPENAI, vec![Reply::Fixture("openai/overloaded", 10); 200]);
        let req = request(vec![openai()], |_| {});
        // Without a client: every call makes 3 attempts.
        for _ in 0..5 {
            assert!(h.run(&req).is_err());
        }
        assert_eq!(h.rt.transport.calls_to(OPENAI), 15);

        let h = Harness::new(0.0);
        h.script(OPENAI, vec![Reply::Fixture("openai/overloaded", 10); 200]);
        let client = ClientState::new(ClientSettings {
            budget: no_budget_limit(),
            ..Default::default()
        });
        let mut skipped = 0;
        for _ in 0..20 {
            let e = run_with_client(&h, &req, &client).unwrap_err();
            assert_eq!(e.code, ErrorCode::ProviderError);
            if e.message.contains("circuit open") && e.attempts.is_empty() {
                skipped += 1;
            }
        }
        // 5 consecutive failures open the circuit; the rest are skipped.
        assert_eq!(h.rt.transport.calls_to(OPENAI), 5);
        assert_eq!(skipped, 18);
        assert_eq!(
            client
                .open_circuits(h.vt.elapsed() + support::EPOCH_MS)
                .len(),
            1
        );
    }

    #[test]
    fn an_open_circuit_falls_back_at_once_and_lets_a_trial_through_after_the_cooldown() {
        let h = Harness::new(0.0);
        h.script(OPENAI, vec![Reply::Fixture("openai/insufficient_quota", 5)]);
        h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5); 3]);
        let client = ClientState::new(ClientSettings::default());
        let req = request(vec![openai(), gemini()], |_| {});
        // quota opens the circuit at once (a human has to act).
        let r = run_with_client(&h, &req, &client).unwrap();
        assert_eq!(
            outcomes(&r.attempts),
            vec!["openai p0 a1 quota", "gemini p0 a1 ok"]
        );
        let r = run_with_client(&h, &req, &client).unwrap();
        assert_eq!(
            outcomes(&r.attempts),
            vec!["gemini p0 a1 ok"],
            "openai skipped without a call"
        );
        assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
        // After the 5-minute cooldown one trial call goes out; success closes the circuit.
        h.vt.run(h.vt.delay(BreakerSettings::default().hard_cooldown_ms));
        h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
        let r = run_with_client(&h, &req, &client).unwrap();
        assert_eq!(outcomes(&r.attempts), vec!["openai p0 a1 ok"]);
        assert!(client
            .open_circuits(support::EPOCH_MS + h.vt.elapsed())
            .is_empty());
    }

    #[test]
    fn retries_are_limited_to_a_fraction_of_recent_calls() {
        let h = Harness::new(0.0);
        h.script(GEMINI, vec![Reply::Fixture("gemini/unavailable", 10); 200]);
        let client = ClientState::new(ClientSettings {
            breaker: BreakerSettings {
                failure_threshold: 1000,
                ..Default::default()
            },
            ..Default::default()
        });
        let req = request(vec![gemini()], |_| {});
        for _ in 0..30 {
            assert!(run_with_client(&h, &req, &client).is_err());
        }
        let calls = h.rt.transport.calls_to(GEMINI);
        let retries = calls - 30;
        // All within one 10 s window (backoff rolls are 0): retries ≤ max(3, 20% of calls),
        // where a client-less loop would have made 60 retries.
        assert!(h.vt.elapsed() < 10_000);
        assert!(
            retries as f64 <= (0.2 * calls as f64).max(3.0),
            "{retries} retries for {calls} calls"
        );
        assert!(
            retries >= 3,
            "the floor still allows some retries: {retries}"
        );
        // A new window refills the budget.
        h.vt.run(h.vt.delay(10_001));
        let before = h.rt.transport.calls_to(GEMINI);
        assert!(run_with_client(&h, &req, &client).is_err());
        assert_eq!(
            h.rt.transport.calls_to(GEMINI) - before,
            3,
            "full retries again"
        );
    }

    fn keyed(key: &str) -> ProviderConfig {
        ProviderConfig {
            api_key: Some(Secret::new(key)),
            ..openai()
        }
    }

    #[test]
    fn one_keys_failures_do_not_spend_another_keys_retries() {
        let h = Harness::new(0.0);
        let client = ClientState::new(ClientSettings::default());
        // Key A fails on every call and asks for 10 attempts per request.
        h.script(OPENAI, vec![Reply::Fixture("openai/overloaded", 10); 60]);
        let a = request(vec![keyed("sk-user-a-0000000000000000")], |r| {
            r.retry = Some(imagegen::model::RetryOptions {
                max_attempts: Some(10),
                ..Default::default()
            })
        });
        for _ in 0..4 {
            assert!(run_with_client(&h, &a, &client).is_err());
        }
        let a_calls = h.rt.transport.calls_to(OPENAI);
        assert!(
            a_calls <= 4 + 3,
            "A's retries come from A's own budget: {a_calls}"
        );
        // Key B on the same provider and model: its first retry is its own.
        h.rt.transport.scripts_clear(OPENAI);
        h.script(
            OPENAI,
            vec![
                Reply::Fixture("openai/overloaded", 10),
                Reply::Fixture("openai/success", 10),
            ],
        );
        let b = request(vec![keyed("sk-user-b-0000000000000000")], |_| {});
        let r = run_with_client(&h, &b, &client).expect("B's retry was not spent by A");
        assert_eq!(
            outcomes(&r.attempts),
            vec!["openai p0 a1 provider_error", "openai p0 a2 ok"]
        );
    }

    #[test]
    fn a_retry_that_is_never_sent_is_not_counted() {
        // Two parts fail together: the first gets the only retry of the
        // budget, the second opens the circuit, so the first part's retry is
        // skipped after its backoff. That retry must go back to the budget.
        let h = Harness::new(0.5);
        let client = ClientState::new(ClientSettings {
            budget: BudgetSettings {
                window_ms: 60_000,
                ratio: 0.0,
                min_retries: 1,
            },
            breaker: BreakerSettings {
                failure_threshold: 2,
                cooldown_ms: 1000,
                ..Default::default()
            },
        });
        h.script(GEMINI, vec![Reply::Fixture("gemini/unavailable", 10); 2]);
        let two = request(vec![gemini()], |r| r.count = Some(2.0));
        let e = run_with_client(&h, &two, &client).unwrap_err();
        assert_eq!(e.code, ErrorCode::ProviderError);
        assert_eq!(h.rt.transport.calls_to(GEMINI), 2, "the retry was not sent");
        // After the cooldown a trial call closes the circuit again.
        h.vt.run(h.vt.delay(1000));
        h.script(GEMINI, vec![Reply::Fixture("gemini/success", 10)]);
        let one = request(vec![gemini()], |_| {});
        run_with_client(&h, &one, &client).unwrap();
        // Within the same budget window, a failure still gets its retry.
        h.script(
            GEMINI,
            vec![
                Reply::Fixture("gemini/unavailable", 10),
                Reply::Fixture("gemini/success", 10),
            ],
        );
        let r = run_with_client(&h, &one, &client).expect("the unsent retry was given back");
        assert_eq!(
            outcomes(&r.attempts),
            vec!["gemini p0 a1 provider_error", "gemini p0 a2 ok"]
        );
    }
}

// ------------------------------------------------------------ secret hygiene

#[test]
fn keys_echoed_in_other_forms_are_redacted_from_errors_and_revised_prompts() {
    const KEY: &str = "sk-SECRET-echo-0123456789abcdefXYZ";
    let b64 = |s: &str| {
        use std::fmt::Write;
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in s.as_bytes().chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..=c.len() {
                write!(
                    out,
                    "{}",
                    table[((n >> (18 - 6 * i)) & 63) as usize] as char
                )
                .unwrap();
            }
        }
        out
    };
    let echoes = [
        KEY.to_uppercase(),
        format!("{} ... {}", &KEY[..16], &KEY[16..]),
        KEY.trim_start_matches("sk-").to_string(),
        b64(&format!("user:{KEY}")),
    ];
    let keyed = ProviderConfig {
        api_key: Some(Secret::new(KEY)),
        ..openai()
    };
    for echo in &echoes {
        let h = Harness::new(0.0);
        h.script(
            OPENAI,
            vec![Reply::Json(
                401,
                vec![],
                json!({"error": {"message": format!("Incorrect API key provided: {echo}"), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
                1,
            )],
        );
        let e = h.run(&request(vec![keyed.clone()], |_| {})).unwrap_err();
        assert_eq!(e.code, ErrorCode::Auth);
        assert!(e.message.contains("***"), "{}", e.message);
        assert!(!e.message.contains(echo.as_str()), "{}", e.message);

        let mut body = support::fixture("openai/success").json["body"].clone();
        body["data"][0]["revised_prompt"] =
            json!(format!("a lighthouse; by the way your key is {echo}"));
        h.script(OPENAI, vec![Reply::Json(200, vec![], body, 1)]);
        let r = h.run(&request(vec![keyed.clone()], |_| {})).unwrap();
        let revised = r.images[0].revised_prompt.clone().unwrap();
        assert!(
            revised.starts_with("a lighthouse; by the way your key is ") && revised.contains("***"),
            "{revised}"
        );
        for part in echo.split(" ... ") {
            assert!(!revised.contains(part), "{revised}");
        }
    }
}

#[test]
fn recognisable_keys_never_reach_messages_or_debug_output() {
    const MARK: &str = "sk-SECRET-hygiene";
    let keyed = |p: ProviderName, origin: &str| ProviderConfig {
        api_key: Some(Secret::new(format!("{MARK}-{p}-0123456789"))),
        ..cfg(p, origin)
    };
    let mut seen = Vec::new();
    let scenarios: Vec<(Vec<Reply>, Vec<Reply>)> = vec![
        (
            vec![Reply::Fixture("openai/invalid_api_key", 1)],
            vec![Reply::Fixture("gemini/success", 1)],
        ),
        (
            vec![Reply::Network(1); 3],
            vec![Reply::Fixture("gemini/api_key_invalid", 1)],
        ),
        (
            vec![
                Reply::Fixture("openai/rate_limit", 1),
                Reply::Fixture("openai/server_error", 1),
                Reply::Fixture("openai/overloaded", 1),
            ],
            vec![Reply::Fixture("gemini/unavailable", 1); 3],
        ),
        (
            vec![Reply::Json(
                401,
                vec![],
                json!({"error": {"message": format!("Incorrect API key provided: {MARK}-openai-0123456789"), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
                1,
            )],
            vec![Reply::Fixture("gemini/success", 1)],
        ),
    ];
    for (openai_replies, gemini_replies) in scenarios {
        let h = Harness::new(0.0);
        h.script(OPENAI, openai_replies);
        h.script(GEMINI, gemini_replies);
        let req = request(
            vec![
                keyed(ProviderName::Openai, OPENAI),
                keyed(ProviderName::Gemini, GEMINI),
            ],
            |_| {},
        );
        seen.push(format!("{req:?}"));
        let events = RefCell::new(Vec::new());
        let sink = |e: GenerateEvent| {
            events
                .borrow_mut()
                .push(format!("{e:?} {}", serde_json::to_string(&e).unwrap()))
        };
        match h
            .vt
            .run(engine::generate(&h.rt, &req, &sink, &CancelToken::new()))
        {
            Ok(r) => {
                seen.push(format!("{r:?}"));
                seen.push(serde_json::to_string(&r.errors).unwrap());
                seen.push(serde_json::to_string(&r.attempts).unwrap());
            }
            Err(e) => {
                seen.push(format!("{e:?} {e}"));
                seen.push(serde_json::to_string(&e.to_info()).unwrap());
            }
        }
        seen.extend(events.into_inner());
        for sent in h.rt.transport.log.borrow().iter() {
            seen.push(format!("{sent:?}"));
        }
    }
    assert!(seen.len() > 20);
    for text in &seen {
        assert!(!text.contains(MARK), "a key leaked: {text}");
    }
}

#[test]
fn a_provider_side_400_falls_back_with_a_warning_and_is_never_retried() {
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/unknown_field", 5)]);
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
    let req = request(vec![gemini(), openai()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(GEMINI), 1, "never retried");
    assert!(h.vt.slept().is_empty());
    assert_eq!(
        outcomes(&result.attempts),
        vec!["gemini p0 a1 invalid_request", "openai p0 a1 ok"]
    );
    assert!(h
        .events()
        .contains(&"fallback p0 gemini->openai invalid_request".to_string()));
    let rejected: Vec<_> = result
        .warnings
        .iter()
        .filter(|w| w.code == imagegen::WarningCode::ProviderRejectedRequest)
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", result.warnings);
    assert_eq!(rejected[0].provider, ProviderName::Gemini);
    assert!(
        rejected[0].message.contains("Unknown name"),
        "the provider's own message: {}",
        rejected[0].message
    );
    // Alone in the chain, the part fails with the provider's invalid_request.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/invalid_size", 5)]);
    let err = h.run(&request(vec![openai()], |_| {})).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert_eq!(err.param.as_deref(), Some("size"));
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    // Our own validation still rejects before any call.
    let bad = GenerateRequest {
        prompt: Some(" ".into()),
        providers: Some(vec![openai()]),
        ..Default::default()
    };
    assert_eq!(validate(&bad).unwrap_err().param.as_deref(), Some("prompt"));
}

#[test]
fn x_should_retry_false_moves_on_without_a_retry() {
    let h = Harness::new(0.5);
    h.script(
        OPENAI,
        vec![Reply::Fixture("openai/server_error_should_not_retry", 5)],
    );
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let result = h.run(&request(vec![openai(), gemini()], |_| {})).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    assert!(h.vt.slept().is_empty());
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 provider_error", "gemini p0 a1 ok"]
    );
}

fn with_model(mut c: ProviderConfig, model: &str) -> ProviderConfig {
    c.model = Some(model.to_string());
    c
}

#[test]
fn default_models_are_current() {
    let req = request(vec![openai(), gemini(), stability()], |_| {});
    let models: Vec<&str> = req.chain.iter().map(|e| e.model.as_str()).collect();
    assert_eq!(
        models,
        vec!["gpt-image-2", "gemini-nano-banana-2.1", "core"]
    );
    for e in &req.chain {
        assert_eq!(
            imagegen::providers::model_status(e.provider, &e.model).map(|r| r.lifecycle),
            Some(imagegen::providers::Lifecycle::Active),
            "{} {}",
            e.provider,
            e.model
        );
    }
}

#[test]
fn a_retired_model_is_skipped_without_a_call_and_the_chain_moves_on() {
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![]);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let req = request(vec![with_model(openai(), "gpt-image-1"), gemini()], |_| {});
    let result = h.run(&req).unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 0, "no paid call");
    assert_eq!(
        outcomes(&result.attempts),
        vec!["openai p0 a1 not_found", "gemini p0 a1 ok"]
    );
    assert!(result.attempts[0].skipped && !result.attempts[1].skipped);
    assert_eq!(result.attempts[0].status, None);
    assert_eq!(
        h.events()[..3],
        [
            "start openai p0 a1",
            "end openai p0 a1 not_found",
            "fallback p0 openai->gemini not_found"
        ]
    );
    let w = result
        .warnings
        .iter()
        .find(|w| w.code == imagegen::WarningCode::ModelDeprecated)
        .unwrap();
    assert!(w.message.contains("2026-10-23") && w.message.contains("gpt-image-2"));
    // Dated snapshots of a retired model are retired too; alone, the call
    // rejects with not_found naming the current default.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![]);
    let err = h
        .run(&request(
            vec![with_model(openai(), "gpt-image-1-2025-04-23")],
            |_| {},
        ))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(
        err.message.contains("current default is gpt-image-2"),
        "{}",
        err.message
    );
    assert_eq!(err.attempts.len(), 1);
    assert!(err.attempts[0].skipped);
    assert_eq!(h.rt.transport.calls_to(OPENAI), 0);
}

#[test]
fn a_deprecated_model_is_called_with_a_warning_and_unknown_ids_are_sent_as_they_are() {
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let result = h
        .run(&request(
            vec![with_model(gemini(), "gemini-3.1-flash-image")],
            |_| {},
        ))
        .unwrap();
    assert_eq!(h.rt.transport.calls_to(GEMINI), 1);
    let deprecated: Vec<_> = result
        .warnings
        .iter()
        .filter(|w| w.code == imagegen::WarningCode::ModelDeprecated)
        .collect();
    assert_eq!(deprecated.len(), 1);
    assert!(deprecated[0].message.contains("gemini-nano-banana-2.1"));
    // An id the table does not know (a model newer than the table) is called as it is.
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/success", 5)]);
    let result = h
        .run(&request(vec![with_model(openai(), "gpt-image-3")], |_| {}))
        .unwrap();
    assert_eq!(h.rt.transport.calls_to(OPENAI), 1);
    // Its only warning: no price is known for it, so its cost is unknown.
    let codes: Vec<_> = result.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, vec![imagegen::WarningCode::PriceUnknown]);
    assert_eq!(result.usage.cost_usd, None);
}

#[test]
fn a_404_names_the_current_default() {
    let h = Harness::new(0.5);
    h.script(OPENAI, vec![Reply::Fixture("openai/model_not_found", 5)]);
    let err = h
        .run(&request(
            vec![with_model(openai(), "gpt-image-2.5-flare")],
            |_| {},
        ))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(
        err.message.contains("may have been retired") && err.message.contains("gpt-image-2"),
        "{}",
        err.message
    );
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/model_not_found", 5)]);
    let err = h.run(&request(vec![gemini()], |_| {})).unwrap_err();
    assert!(
        err.message.contains("may have been retired"),
        "{}",
        err.message
    );
}

#[test]
fn gemini_reports_no_seed_it_did_not_report() {
    let h = Harness::new(0.5);
    h.script(GEMINI, vec![Reply::Fixture("gemini/success", 5)]);
    let result = h
        .run(&request(vec![gemini()], |r| r.seed = Some(42.0)))
        .unwrap();
    assert_eq!(result.images[0].seed, None);
}
