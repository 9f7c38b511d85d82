//! The seed-compatible services: `createImageService` and the per-provider
//! service classes, thin wrappers over the same engine as `generateImages`.

use super::api::{reject, run, to_js_error, validate_key, JsRequestInputs, ValidateOptions};
use super::checks::{
    check_field, check_json_data, from_js, js_extras, parse_provider, string_arg, Kind,
    MAX_FIELD_CHARS, MAX_PROMPT_CHARS,
};
use crate::model::{
    Error, GenerateRequest, OutputFormat, ProviderConfig, ProviderName, RetryOptions,
};
use crate::secret::Secret;
use js_sys::{Function, JsString, Promise};
use serde::Deserialize;
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

// The option types below derive their declarations with tsify. Written by
// hand: what tsify cannot express. `signal` and `onEvent` stay JS values (an
// `AbortSignal`, a function) that serde never sees, so they are added to
// `ServiceGenerateOptions` by declaration merging; `ImageGenerationService` is
// an interface with methods, which no Rust type derives.
#[wasm_bindgen(typescript_custom_section)]
const TS_SERVICES: &'static str = r#"
/** Options that stay JS values: a cancellation signal and a progress callback. */
export interface ServiceGenerateOptions {
  /** Aborting rejects with `aborted` at once and cancels requests in flight. */
  signal?: AbortSignal;
  /** Called for each progress event, in order. Exceptions it throws are ignored. */
  onEvent?: (e: GenerateEvent) => void;
}

/** Options of a service's `editImages`: those of `generateImages` plus the mask. */
export interface ServiceEditOptions extends ServiceGenerateOptions {
  /** A PNG the size of the first image; alpha 0 marks the area to change. */
  mask?: ImageInput;
}

/** The original design's per-provider service. */
export interface ImageGenerationService {
  readonly provider: ProviderName;
  /** Resolves with `data:` URLs. */
  generateImages(prompt: string, options?: ServiceGenerateOptions): Promise<string[]>;
  /** Edits: 1 to 16 input images (and `options.mask`); resolves with `data:` URLs. */
  editImages(prompt: string, images: ImageInput[], options?: ServiceEditOptions): Promise<string[]>;
  validateApiKey(apiKey: string): Promise<boolean>;
}
"#;

/// Options of the seed-compatible service constructors.
#[derive(Deserialize, Default, Clone, Tsify)]
#[serde(rename_all = "camelCase")]
struct ServiceOptions {
    /// Model id; each provider has a default.
    #[serde(default)]
    #[tsify(optional)]
    model: Option<String>,
    /// The provider's origin (scheme, host, port), e.g. `http://127.0.0.1:8080`.
    #[serde(default)]
    #[tsify(optional)]
    base_url: Option<String>,
    /// Extra provider fields, deep-merged into the request body (null removes a default).
    #[serde(default)]
    #[tsify(optional, type = "Record<string, unknown>")]
    params: Option<serde_json::Value>,
    /// Retry settings.
    #[serde(default)]
    #[tsify(optional)]
    retry: Option<RetryOptions>,
    /// Per attempt, in ms (default 180000).
    #[serde(default)]
    #[tsify(optional)]
    timeout_ms: Option<f64>,
    /// Whole call, in ms (default: none).
    #[serde(default)]
    #[tsify(optional)]
    deadline_ms: Option<f64>,
}

/// Options of `generateImages` on the seed-compatible services.
#[derive(Deserialize, Default, Tsify)]
#[serde(rename_all = "camelCase")]
struct ServiceGenerateOptions {
    /// 1..=10, default 1.
    #[serde(default)]
    #[tsify(optional)]
    count: Option<f64>,
    /// `"WxH"`, e.g. `"1024x1024"`.
    #[serde(default)]
    #[tsify(optional)]
    size: Option<String>,
    /// `"W:H"`, e.g. `"16:9"`.
    #[serde(default)]
    #[tsify(optional)]
    aspect_ratio: Option<String>,
    /// Seed for providers that take one (0..=4294967294).
    #[serde(default)]
    #[tsify(optional)]
    seed: Option<f64>,
    /// What the image should not contain, for providers that take it.
    #[serde(default)]
    #[tsify(optional)]
    negative_prompt: Option<String>,
    /// Requested image format.
    #[serde(default)]
    #[tsify(optional)]
    output_format: Option<OutputFormat>,
    /// Extra provider fields (become `params`).
    #[serde(default)]
    #[tsify(optional, type = "Record<string, unknown>")]
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

    fn generate(&self, prompt: JsValue, options: JsValue, inputs: JsRequestInputs) -> Promise {
        let prompt = match string_arg(&prompt, "prompt", MAX_PROMPT_CHARS) {
            Ok(Some(p)) => p,
            Ok(None) => return reject(&Error::invalid("prompt", "`prompt` must be a string")),
            Err(e) => return reject(&e),
        };
        let (opts, on_event, signal) = match parse_generate_options(&options) {
            Ok(p) => p,
            Err(e) => return reject(&e),
        };
        let req = self.request(prompt, opts);
        future_to_promise(async move {
            let result = run(req, inputs, on_event, signal, None)
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

    /// The one-provider request a service call stands for.
    fn request(&self, prompt: String, opts: ServiceGenerateOptions) -> GenerateRequest {
        let params = merge_objects(self.options.params.clone(), opts.additional_params);
        GenerateRequest {
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
            partial_images: None,
            max_cost_usd: None,
            prices: None,
        }
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

/// Service `generateImages` options with the JS-only `onEvent` and `signal`.
type GenerateOptions = (
    ServiceGenerateOptions,
    Option<Function>,
    Option<AbortSignal>,
);

/// Checks and reads the options of a service's `generateImages`.
fn parse_generate_options(options: &JsValue) -> Result<GenerateOptions, Error> {
    if options.is_object() {
        let params = check_field(options, "additionalParams", "additionalParams", Kind::Obj)?;
        if params.is_object() {
            check_json_data(&params, "additionalParams")?;
        }
    }
    if options.is_undefined() || options.is_null() {
        return Ok((ServiceGenerateOptions::default(), None, None));
    }
    let (on_event, signal) = js_extras(options)?;
    let opts = from_js::<ServiceGenerateOptions>(options, "options")?;
    Ok((opts, on_event, signal))
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
                self.inner.generate(
                    prompt,
                    options.unwrap_or(JsValue::UNDEFINED),
                    JsRequestInputs::default(),
                )
            }

            /// Edits images (1 to 16, plus `options.mask`); resolves with `data:` URLs.
            #[wasm_bindgen(js_name = editImages, unchecked_return_type = "Promise<string[]>")]
            pub fn edit_images(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] prompt: JsValue,
                #[wasm_bindgen(unchecked_param_type = "ImageInput[]")] images: JsValue,
                #[wasm_bindgen(unchecked_optional_param_type = "ServiceEditOptions")]
                options: Option<JsValue>,
            ) -> Promise {
                let options = options.unwrap_or(JsValue::UNDEFINED);
                let mask = if options.is_object() {
                    js_sys::Reflect::get(&options, &JsValue::from_str("mask"))
                        .unwrap_or(JsValue::UNDEFINED)
                } else {
                    JsValue::UNDEFINED
                };
                let images = if images.is_undefined() || images.is_null() {
                    js_sys::Array::new().into()
                } else {
                    images
                };
                self.inner
                    .generate(prompt, options, JsRequestInputs { images, mask })
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
        // Providers added after the seed design have no class of their own.
        #[allow(unreachable_patterns)]
        other => {
            return Err(to_js_error(&Error::invalid(
                "provider",
                format!("`provider` {other} has no seed-design service; use generateImages"),
            )))
        }
    })
}
