//! The JS adapter: checks a `GenerateRequest` (the JS API's shape) before
//! any network call and turns it into the typed, defaulted form the engine
//! works with, through [`crate::request`]. Every failure is an
//! `invalid_request` error naming the field at fault.

use crate::model::{Error, GenerateRequest};
pub use crate::request::{
    default_base_url, default_fallback_on, default_model, describe_number, parse_origin,
    ChainEntry, FieldNames, ImageRequest, RequestInput, RetrySettings, ValidRequest,
    DEFAULT_BASE_DELAY_MS, DEFAULT_CONCURRENCY, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_DELAY_MS,
    DEFAULT_MAX_RETRY_AFTER_MS, DEFAULT_TIMEOUT_MS, MAX_COUNT, MAX_PROMPT_CHARS, MAX_PROVIDERS,
    MAX_SEED,
};

/// Validates a request and fills in defaults.
pub fn validate(req: &GenerateRequest) -> Result<ValidRequest, Error> {
    RequestInput::from(req).build(&FieldNames::JS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorCode, ProviderConfig, ProviderName};

    fn base() -> GenerateRequest {
        GenerateRequest {
            prompt: Some("a lighthouse".into()),
            providers: Some(vec![ProviderConfig {
                provider: Some(ProviderName::Mock),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn param_of(req: GenerateRequest) -> String {
        let e = validate(&req).expect_err("should be invalid");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(
            e.message.contains(e.param.as_deref().unwrap_or("?")),
            "{}",
            e.message
        );
        e.param.as_deref().unwrap_or_default().to_string()
    }

    #[test]
    fn defaults_are_filled_in() {
        let v = validate(&base()).unwrap();
        assert_eq!(v.image.count, 1);
        assert_eq!(v.retry, RetrySettings::default());
        assert_eq!(v.timeout_ms, 180_000);
        assert_eq!(v.concurrency, 4);
        assert_eq!(v.image.partial_images, 0);
        assert_eq!(v.chain[0].model, "mock-svg");
        assert!(!v.fallback_on.contains(&ErrorCode::ContentPolicy));
        assert!(v.fallback_on.contains(&ErrorCode::Auth));
    }

    #[test]
    fn each_bad_field_is_named() {
        type Mutation = Box<dyn Fn(&mut GenerateRequest)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("prompt", Box::new(|r| r.prompt = Some("   ".into()))),
            ("prompt", Box::new(|r| r.prompt = None)),
            ("count", Box::new(|r| r.count = Some(0.0))),
            ("count", Box::new(|r| r.count = Some(11.0))),
            ("count", Box::new(|r| r.count = Some(1.5))),
            ("count", Box::new(|r| r.count = Some(f64::NAN))),
            ("size", Box::new(|r| r.size = Some("abc".into()))),
            (
                "aspectRatio",
                Box::new(|r| r.aspect_ratio = Some("wide".into())),
            ),
            ("seed", Box::new(|r| r.seed = Some(-1.0))),
            ("providers", Box::new(|r| r.providers = Some(vec![]))),
            ("providers", Box::new(|r| r.providers = None)),
            ("timeoutMs", Box::new(|r| r.timeout_ms = Some(0.0))),
            ("concurrency", Box::new(|r| r.concurrency = Some(0.0))),
            ("partialImages", Box::new(|r| r.partial_images = Some(4.0))),
            ("partialImages", Box::new(|r| r.partial_images = Some(-1.0))),
            ("partialImages", Box::new(|r| r.partial_images = Some(1.5))),
            (
                "fallbackOn",
                Box::new(|r| r.fallback_on = Some(vec![ErrorCode::Aborted])),
            ),
            (
                "providers[0].apiKey",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Openai),
                        ..Default::default()
                    }])
                }),
            ),
            (
                "providers[0].baseUrl",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Mock),
                        base_url: Some("http://user:pw@127.0.0.1:1".into()),
                        ..Default::default()
                    }])
                }),
            ),
            (
                "providers[0].params",
                Box::new(|r| {
                    r.providers = Some(vec![ProviderConfig {
                        provider: Some(ProviderName::Mock),
                        params: Some(serde_json::json!([1])),
                        ..Default::default()
                    }])
                }),
            ),
        ];
        for (field, mutate) in cases {
            let mut r = base();
            mutate(&mut r);
            assert_eq!(param_of(r), field);
        }
    }

    #[test]
    fn partial_images_from_0_to_3_are_kept() {
        for n in 0..=3u32 {
            let r = GenerateRequest {
                partial_images: Some(f64::from(n)),
                ..base()
            };
            assert_eq!(validate(&r).unwrap().image.partial_images, n);
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("u", "http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(parse_origin("u", "ftp://x").is_err());
        assert!(parse_origin("u", "https://x/v1").is_err());
        assert!(parse_origin("u", "https://").is_err());
        assert!(parse_origin("u", "https://a b").is_err());
    }
}
