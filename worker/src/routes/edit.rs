//! `POST /v1/images/edits`: the multipart form read by the platform (its
//! files stay JS `File` objects, handed to the library's input loader), its
//! fields mapped as generations map theirs ([`crate::images::edit`]), then
//! the same run, response, and `Idempotency-Key` handling as generations;
//! `stream=true` streams as generations do.

use super::generate;
use super::stream::{self, Prepared, Streamed};
use super::Request;
use crate::error::ApiError;
use crate::idempotency;
use crate::images::edit::{image_name, input_error, parse_form, EditForm, MAX_EDIT_BODY_BYTES};
use crate::images::stream::{requested_in_form, Endpoint, EventMeta};
use crate::platform::{self, Form};
use crate::respond::{header, json_response, stringify};
use imagegen::inputs::EditInputs;
use imagegen::wasm::inputs;
use std::rc::Rc;
use wasm_bindgen::JsValue;

/// `POST /v1/images/edits`.
pub async fn post(r: &Request<'_>) -> Result<web_sys::Response, ApiError> {
    let form = platform::read_form(r.req, MAX_EDIT_BODY_BYTES).await?;
    if let Some(options) = requested_in_form(&form.fields)? {
        let prepare = async {
            let (loaded, config) = generate::user_records(r).await?;
            let defaults = config.as_ref().map(|c| &c.defaults);
            let parsed = parse_form(&form.fields, &form.file_names, defaults)?;
            let inputs = Rc::new(load_inputs(&form, &parsed).await?);
            let meta = EventMeta::new(Endpoint::Edit, &parsed.parsed);
            let (valid, warnings) =
                generate::prepare(r, loaded, config.as_ref(), parsed.parsed, Some(inputs)).await?;
            Ok(Prepared {
                valid,
                warnings,
                meta,
                budget: r.settings.budget_for(config.as_ref()),
            })
        };
        let streamed = Streamed {
            options,
            fingerprint: async { Ok(form.fingerprint().await?.into_bytes()) },
            replay_meta: || {
                let parsed = parse_form(&form.fields, &form.file_names, None)?;
                Ok(EventMeta::new(Endpoint::Edit, &parsed.parsed))
            },
            prepare,
        };
        return stream::respond(r, streamed).await;
    }
    match header(r.req, "idempotency-key") {
        None => {
            let obj = edit(r, &form).await?;
            json_response(200, &stringify(&obj)?, &[])
        }
        Some(key) => {
            let fp = form.fingerprint().await?;
            idempotency::run(
                r.state.as_ref(),
                &r.store.user,
                &key,
                fp.as_bytes(),
                edit(r, &form),
            )
            .await
        }
    }
}

/// Runs an edit; the response object (images stay JS strings).
async fn edit(r: &Request<'_>, form: &Form) -> Result<JsValue, ApiError> {
    let (loaded, config) = generate::user_records(r).await?;
    let defaults = config.as_ref().map(|c| &c.defaults);
    let parsed = parse_form(&form.fields, &form.file_names, defaults)?;
    let inputs = load_inputs(form, &parsed).await?;
    generate::run(
        r,
        loaded,
        config.as_ref(),
        parsed.parsed,
        Some(Rc::new(inputs)),
    )
    .await
}

/// The images (in order) and the mask, checked by their bytes: only their
/// first bytes (and the whole mask) are read into wasm memory.
async fn load_inputs(form: &Form, parsed: &EditForm) -> Result<EditInputs, ApiError> {
    let file = |at: usize| {
        form.files
            .get(at)
            .ok_or_else(|| ApiError::server("a file part went missing"))
    };
    let count = parsed.images.len();
    let mut images = Vec::with_capacity(count);
    for (i, at) in parsed.images.iter().enumerate() {
        let input = inputs::load(file(*at)?, &image_name(i, count)).await;
        images.push(input.map_err(input_error)?);
    }
    let mask = match parsed.mask {
        Some(at) => Some(inputs::load_mask(file(at)?).await.map_err(input_error)?),
        None => None,
    };
    EditInputs::new(images, mask).map_err(input_error)
}
