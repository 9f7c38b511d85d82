//! `POST /v1/images/generations`: the user's config and keys from KV, the
//! OpenAI-compatible request turned into the engine's ([`crate::images`]),
//! the engine run with this isolate's client, the response. With an
//! `Idempotency-Key`, through [`crate::idempotency`].

use super::Request;
use crate::config::UserConfig;
use crate::error::ApiError;
use crate::idempotency;
use crate::images;
use crate::keystore::Loaded;
use crate::platform;
use crate::respond::{header, json_response, stringify, to_js_object};
use imagegen::engine::{self, NoEvents};
use imagegen::inputs::EditInputs;
use imagegen::resilience::ClientState;
use imagegen::runtime::CancelToken;
use imagegen::ProviderName;
use std::rc::Rc;
use wasm_bindgen::JsValue;

thread_local! {
    // One long-lived engine client per isolate: a retry budget and circuit
    // breakers shared by all requests, so an outage does not multiply load.
    static CLIENT: std::cell::RefCell<Option<Rc<ClientState>>> =
        const { std::cell::RefCell::new(None) };
}

/// `POST /v1/images/generations`.
pub async fn post(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    match header(r.req, "idempotency-key") {
        None => {
            let obj = generate(r).await?;
            json_response(200, &stringify(&obj)?, &[])
        }
        Some(key) => idempotency::run(&r.store.kv, &r.store.user, &key, &r.body, generate(r)).await,
    }
}

/// Runs a generation; the response object (images stay JS strings).
async fn generate(r: &Request<'_>) -> Result<JsValue, ApiError> {
    let (loaded, config) = user_records(r).await?;
    let parsed = images::parse_request(&r.body, config.as_ref().map(|c| &c.defaults))?;
    run(r, loaded, config.as_ref(), parsed, None).await
}

/// The user's records; a chain stored while the mock was enabled loses
/// its mock entries when the mock is now off.
pub(super) async fn user_records(
    r: &Request<'_>,
) -> Result<(Loaded, Option<UserConfig>), ApiError> {
    let mut loaded = r.store.load().await?;
    let mut config = loaded.config.take();
    if !r.settings.mock_enabled {
        if let Some(c) = config.as_mut() {
            c.providers.retain(|i| i.provider != ProviderName::Mock);
        }
    }
    Ok((loaded, config))
}

/// Runs a parsed request (an edit when `inputs` are given) over the user's
/// chain and keys; the response object.
pub(super) async fn run(
    r: &Request<'_>,
    loaded: Loaded,
    config: Option<&UserConfig>,
    parsed: images::Parsed,
    inputs: Option<Rc<EditInputs>>,
) -> Result<JsValue, ApiError> {
    images::check_mock_allowed(&parsed.choice, r.settings.mock_enabled)?;
    // Which providers have a readable stored key? Only those can be used.
    let wanted = images::wanted(&parsed.choice, config);
    let secrets = r.store.open_keys(loaded, &wanted).await?;
    let chain = images::build_chain(&parsed.choice, config, |p| {
        secrets.iter().any(|(q, _)| *q == p)
    })?;
    let (providers, warnings) = images::providers(chain, &secrets, &parsed.openai_params, |p| {
        r.settings.base_url(p)
    })?;
    let mut valid = images::build(parsed.request, providers)?;
    valid.image.inputs = inputs;
    let created = platform::now_ms() / 1000;
    let client = CLIENT.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| Rc::new(ClientState::new(r.settings.client)))
            .clone()
    });
    let result = engine::generate_with_client(
        &platform::runtime(),
        &valid,
        &NoEvents,
        &CancelToken::new(),
        Some(&client),
    )
    .await?;
    to_js_object(&images::response(result, created, warnings))
}
