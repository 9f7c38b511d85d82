//! `POST /v1/images/generations`: the user's config and keys from KV, the
//! OpenAI-compatible request turned into the engine's ([`crate::images`]),
//! the engine run with this isolate's client, the response. With an
//! `Idempotency-Key`, through [`crate::idempotency`].

use super::Request;
use crate::error::ApiError;
use crate::idempotency;
use crate::images;
use crate::platform;
use crate::respond::{header, json_response, stringify, to_js_object};
use imagegen::engine::{self, NoEvents};
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
    let mut loaded = r.store.load().await?;
    let mut config = loaded.config.take();
    if !r.settings.mock_enabled {
        // A chain stored while the mock was enabled: skip it now.
        if let Some(c) = config.as_mut() {
            c.providers.retain(|i| i.provider != ProviderName::Mock);
        }
    }
    let parsed = images::parse_request(&r.body, config.as_ref().map(|c| &c.defaults))?;
    images::check_mock_allowed(&parsed.choice, r.settings.mock_enabled)?;
    // Which providers have a readable stored key? Only those can be used.
    let wanted = images::wanted(&parsed.choice, config.as_ref());
    let secrets = r.store.open_keys(loaded, &wanted).await?;
    let chain = images::build_chain(&parsed.choice, config.as_ref(), |p| {
        secrets.iter().any(|(q, _)| *q == p)
    })?;
    let (providers, warnings) = images::providers(chain, &secrets, &parsed.openai_params, |p| {
        r.settings.base_url(p)
    })?;
    let valid = images::build(parsed.request, providers)?;
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
