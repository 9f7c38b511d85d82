//! `POST /v1/images/generations`: the user's config and keys from KV, the
//! OpenAI-compatible request turned into the engine's ([`crate::images`]),
//! the engine run with this isolate's client, the response. With an
//! `Idempotency-Key`, through [`crate::idempotency`]. With `"stream": true`,
//! the same preparation, then the run streamed ([`super::stream`]).

use super::stream::{self, Prepared, Streamed};
use super::Request;
use crate::config::UserConfig;
use crate::error::ApiError;
use crate::files::{self, Files};
use crate::idempotency;
use crate::images::stream::{Endpoint, EventMeta};
use crate::images::{self, ResponseFormat};
use crate::keystore::Loaded;
use crate::platform;
use crate::respond::{header, json_response, stringify, to_js_object};
use crate::usage;
use imagegen::engine::{self, NoEvents};
use imagegen::inputs::EditInputs;
use imagegen::model::Warning;
use imagegen::request::ValidRequest;
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
    if let Some(options) = images::stream::requested(&r.body)? {
        let prepare = async {
            let (loaded, config) = user_records(r).await?;
            let parsed = images::parse_request(&r.body, config.as_ref().map(|c| &c.defaults))?;
            let meta = EventMeta::new(Endpoint::Generation, &parsed);
            let (valid, warnings) = prepare(r, loaded, config.as_ref(), parsed, None).await?;
            Ok(Prepared {
                valid,
                warnings,
                meta,
                budget: r.settings.budget_for(config.as_ref()),
            })
        };
        let streamed = Streamed {
            options,
            fingerprint: async { Ok(r.body.clone()) },
            replay_meta: || {
                let parsed = images::parse_request(&r.body, None)?;
                Ok(EventMeta::new(Endpoint::Generation, &parsed))
            },
            prepare,
        };
        return stream::respond(r, streamed).await;
    }
    match header(r.req, "idempotency-key") {
        None => {
            let obj = generate(r).await?;
            json_response(200, &stringify(&obj)?, &[])
        }
        Some(key) => {
            idempotency::run(r.state.as_ref(), &r.store.user, &key, &r.body, generate(r)).await
        }
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

/// The engine's request for a parsed request (an edit when `inputs` are
/// given) over the user's chain and keys, and the Worker's own warnings.
pub(super) async fn prepare(
    r: &Request<'_>,
    loaded: Loaded,
    config: Option<&UserConfig>,
    parsed: images::Parsed,
    inputs: Option<Rc<EditInputs>>,
) -> Result<(ValidRequest, Vec<Warning>), ApiError> {
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
    Ok((valid, warnings))
}

/// This isolate's engine client.
pub(super) fn client(r: &Request<'_>) -> Rc<ClientState> {
    CLIENT.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| Rc::new(ClientState::new(r.settings.client)))
            .clone()
    })
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
    // Links are checked before any provider is paid. A job's result is
    // always links (routes/jobs.rs).
    let format = if r.in_job {
        ResponseFormat::Url
    } else {
        parsed.response_format
    };
    let files = match format {
        ResponseFormat::Url => Some(Files::from_env(r.env)?),
        ResponseFormat::B64Json => None,
    };
    let (mut valid, warnings) = prepare(r, loaded, config, parsed, inputs).await?;
    let budget = r.settings.budget_for(config);
    let hold =
        usage::hold::reserve(r.state.as_ref(), budget, r.settings.hold_ttl_ms, &mut valid).await?;
    let created = platform::now_ms() / 1000;
    let result = engine::generate_with_client(
        &platform::runtime(),
        &valid,
        &NoEvents,
        &CancelToken::new(),
        Some(&client(r)),
    )
    .await;
    if let Some(hold) = hold {
        hold.settle(&result).await;
    }
    let result = result?;
    let response = to_js_object(&images::response(result, created, warnings))?;
    if let Some(files) = files {
        files::to_links(&files, &r.url.origin(), &response).await;
    }
    Ok(response)
}
