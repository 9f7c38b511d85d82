//! The seed-compatible services: `createImageService` and the per-provider
//! service classes, thin wrappers over the same engine as `generateImages`.

use super::api::{reject, run, to_js_error, validate_key, ValidateOptions};
use super::checks::{
    check_field, check_json_data, from_js, js_extras, parse_provider, string_arg, Kind,
    MAX_FIELD_CHARS, MAX_PROMPT_CHARS,
};
use crate::model::{Error, GenerateRequest, ProviderConfig, ProviderName};
use crate::secret::Secret;
use js_sys::{JsString, Promise};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen(typescript_custom_section)]
const TS_SERVICES: &'static str = r#"
/** Options of `generateImages` on the seed-compatible services. */
export interface ServiceGenerateOptions {
  count?: number;
  size?: string;
  aspectRatio?: string;
  seed?: number;
  negativePrompt?: string;
  outputFormat?: OutputFormat;
  /** Extra provider fields (become `params`). */
  additionalParams?: Record<string, unknown>;
  signal?: AbortSignal;
  onEvent?: (e: GenerateEvent) => void;
}

/** Options of the seed-compatible service constructors. */
export interface ServiceOptions {
  model?: string;
  baseUrl?: string;
  params?: Record<string, unknown>;
  retry?: RetryOptions;
  timeoutMs?: number;
  deadlineMs?: number;
}

/** The original design's per-provider service. */
export interface ImageGenerationService {
  readonly provider: ProviderName;
  /** Resolves with `data:` URLs. */
  generateImages(prompt: string, options?: ServiceGenerateOptions): Promise<string[]>;
  validateApiKey(apiKey: string): Promise<boolean>;
}
"#;

/// Constructor options of the services.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct ServiceOptions {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
    #[serde(default)]
    retry: Option<crate::model::RetryOptions>,
    #[serde(default)]
    timeout_ms: Option<f64>,
    #[serde(default)]
    deadline_ms: Option<f64>,
}

/// `generateImages` options of the services.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ServiceGenerateOptions {
    #[serde(default)]
    count: Option<f64>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    aspect_ratio: Option<String>,
    #[serde(default)]
    seed: Option<f64>,
    #[serde(default)]
    negative_prompt: Option<String>,
    #[serde(default)]
    output_format: Option<crate::model::OutputFormat>,
    #[serde(default)]
    additional_params: Option<serde_json::Value>,
}

/// The state shared by the service classes.
#[derive(Clone)]
struct Service {
    provider: ProviderName,
    api_key: Option<Secret>,
    options: ServiceOptions,
}

impl Service {
    fn new(provider: ProviderName, api_key: JsValue, options: JsValue) -> Result<Service, JsValue> {
        let api_key = string_arg(&api_key, "apiKey", MAX_FIELD_CHARS)
            .map_err(|e| to_js_error(&e))?
            .map(Secret::new);
        let options = if options.is_undefined() || options.is_null() {
            ServiceOptions::default()
        } else {
            let params = check_field(&options, "params", "options.params", Kind::Obj)
                .map_err(|e| to_js_error(&e))?;
            if params.is_object() {
                check_json_data(&params, "options.params").map_err(|e| to_js_error(&e))?;
            }
            for key in ["model", "baseUrl"] {
                check_field(&options, key, &format!("options.{key}"), Kind::Str)
                    .map_err(|e| to_js_error(&e))?;
            }
            from_js(&options, "options").map_err(|e| to_js_error(&e))?
        };
        Ok(Service {
            provider,
            api_key,
            options,
        })
    }

    fn generate(&self, prompt: JsValue, options: JsValue) -> Promise {
        let prompt = match string_arg(&prompt, "prompt", MAX_PROMPT_CHARS) {
            Ok(Some(p)) => p,
            Ok(None) => return reject(&Error::invalid("prompt", "`prompt` must be a string")),
            Err(e) => return reject(&e),
        };
        if options.is_object() {
            let checked = check_field(&options, "additionalParams", "additionalParams", Kind::Obj)
                .and_then(|p| {
                    if p.is_object() {
                        check_json_data(&p, "additionalParams")
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = checked {
                return reject(&e);
            }
        }
        let parsed = if options.is_undefined() || options.is_null() {
            Ok((ServiceGenerateOptions::default(), None, None))
        } else {
            js_extras(&options).and_then(|(on_event, signal)| {
                from_js::<ServiceGenerateOptions>(&options, "options")
                    .map(|o| (o, on_event, signal))
            })
        };
        let (opts, on_event, signal) = match parsed {
            Ok(p) => p,
            Err(e) => return reject(&e),
        };
        let params = merge_objects(self.options.params.clone(), opts.additional_params);
        let req = GenerateRequest {
            prompt: Some(prompt),
            count: opts.count,
            size: opts.size,
            aspect_ratio: opts.aspect_ratio,
            seed: opts.seed,
            negative_prompt: opts.negative_prompt,
            output_format: opts.output_format,
            providers: Some(vec![ProviderConfig {
                provider: Some(self.provider),
                api_key: self.api_key.clone(),
                model: self.options.model.clone(),
                base_url: self.options.base_url.clone(),
                params,
            }]),
            retry: self.options.retry.clone(),
            fallback_on: None,
            timeout_ms: self.options.timeout_ms,
            deadline_ms: self.options.deadline_ms,
            concurrency: None,
        };
        future_to_promise(async move {
            let result = run(req, on_event, signal, None)
                .await
                .map_err(|e| to_js_error(&e))?;
            let urls = js_sys::Array::new();
            for image in &result.images {
                let prefix = JsString::from(format!("data:{};base64,", image.mime_type).as_str());
                urls.push(&prefix.concat(image.base64.as_js()));
            }
            Ok(urls.into())
        })
    }

    fn validate(&self, api_key: JsValue) -> Promise {
        let provider = self.provider;
        let opts = ValidateOptions {
            base_url: self.options.base_url.clone(),
            timeout_ms: None,
        };
        future_to_promise(async move {
            validate_key(provider, api_key, opts)
                .await
                .map(JsValue::from_bool)
                .map_err(|e| to_js_error(&e))
        })
    }
}

/// Shallow-merges two optional objects (`extra` wins).
fn merge_objects(
    base: Option<serde_json::Value>,
    extra: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    match (base, extra) {
        (Some(serde_json::Value::Object(mut a)), Some(serde_json::Value::Object(b))) => {
            a.extend(b);
            Some(serde_json::Value::Object(a))
        }
        (a, None) => a,
        (_, b) => b,
    }
}

macro_rules! service_class {
    ($rust:ident, $js:literal, $provider:expr, $doc:literal) => {
        #[doc = $doc]
        #[wasm_bindgen(js_name = $js)]
        pub struct $rust {
            inner: Service,
        }

        #[wasm_bindgen(js_class = $js)]
        impl $rust {
            /// `new Service(apiKey, options?)`.
            #[wasm_bindgen(constructor)]
            pub fn new(
                #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
                #[wasm_bindgen(unchecked_optional_param_type = "ServiceOptions")] options: Option<
                    JsValue,
                >,
            ) -> Result<$rust, JsValue> {
                Ok($rust {
                    inner: Service::new($provider, api_key, options.unwrap_or(JsValue::UNDEFINED))?,
                })
            }

            /// The provider this service calls.
            #[wasm_bindgen(getter, unchecked_return_type = "ProviderName")]
            pub fn provider(&self) -> String {
                self.inner.provider.as_str().to_string()
            }

            /// Generates images; resolves with `data:` URLs.
            #[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<string[]>")]
            pub fn generate_images(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] prompt: JsValue,
                #[wasm_bindgen(unchecked_optional_param_type = "ServiceGenerateOptions")]
                options: Option<JsValue>,
            ) -> Promise {
                self.inner
                    .generate(prompt, options.unwrap_or(JsValue::UNDEFINED))
            }

            /// Checks a key: `true` if it works, `false` if it is refused.
            #[wasm_bindgen(js_name = validateApiKey, unchecked_return_type = "Promise<boolean>")]
            pub fn validate_api_key(
                &self,
                #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
            ) -> Promise {
                self.inner.validate(api_key)
            }
        }
    };
}

service_class!(
    OpenAIService,
    "OpenAIService",
    ProviderName::Openai,
    "OpenAI images, the seed design's way."
);
service_class!(
    GeminiService,
    "GeminiService",
    ProviderName::Gemini,
    "Gemini images, the seed design's way."
);
service_class!(
    StabilityService,
    "StabilityService",
    ProviderName::Stability,
    "Stability AI images, the seed design's way."
);
service_class!(
    MockService,
    "MockService",
    ProviderName::Mock,
    "The offline mock provider, the seed design's way."
);

/// The seed design's factory: a service for `provider`. Throws an
/// `ImageGenError` (`invalid_request`) for an unsupported provider.
#[wasm_bindgen(js_name = createImageService, unchecked_return_type = "ImageGenerationService")]
pub fn create_image_service(
    #[wasm_bindgen(unchecked_param_type = "ProviderName")] provider: JsValue,
    #[wasm_bindgen(js_name = apiKey, unchecked_param_type = "string")] api_key: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "ServiceOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsValue> {
    let provider = parse_provider(&provider, "provider").map_err(|e| to_js_error(&e))?;
    let inner = Service::new(provider, api_key, options.unwrap_or(JsValue::UNDEFINED))?;
    Ok(match provider {
        ProviderName::Openai => OpenAIService { inner }.into(),
        ProviderName::Gemini => GeminiService { inner }.into(),
        ProviderName::Stability => StabilityService { inner }.into(),
        ProviderName::Mock => MockService { inner }.into(),
    })
}
