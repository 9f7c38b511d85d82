//! `createClient`: a long-lived client whose calls share a retry budget and
//! circuit breakers.

use super::api::{generate_promise, to_js_error};
use super::checks::from_js;
use super::transport::DateClock;
use crate::resilience::{ClientSettings, ClientState};
use crate::runtime::Clock;
use js_sys::Promise;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

use crate::resilience::ClientOptions;

/// A long-lived client: the same `generateImages`, with a retry budget and
/// circuit breakers shared by all its calls.
#[wasm_bindgen(js_name = ImageGenClient)]
pub struct ImageGenClient {
    state: Rc<ClientState>,
}

#[wasm_bindgen(js_class = ImageGenClient)]
impl ImageGenClient {
    /// Generates images; see the free `generateImages`.
    #[wasm_bindgen(js_name = generateImages, unchecked_return_type = "Promise<GenerateResult>")]
    pub fn generate_images(
        &self,
        #[wasm_bindgen(unchecked_param_type = "GenerateRequest")] request: JsValue,
    ) -> Promise {
        generate_promise(request, Some(self.state.clone()))
    }

    /// Providers currently skipped, as `"provider|model|origin"`.
    #[wasm_bindgen(js_name = openCircuits)]
    pub fn open_circuits(&self) -> Vec<String> {
        self.state.open_circuits(DateClock.now_ms())
    }
}

/// Creates a long-lived client. Throws `ImageGenError` (`invalid_request`) on bad options.
#[wasm_bindgen(js_name = createClient)]
pub fn create_client(
    #[wasm_bindgen(unchecked_optional_param_type = "ClientOptions")] options: Option<JsValue>,
) -> Result<ImageGenClient, JsValue> {
    let options = match options.filter(|o| !o.is_undefined() && !o.is_null()) {
        None => ClientOptions::default(),
        Some(o) => from_js(&o, "options").map_err(|e| to_js_error(&e))?,
    };
    let settings = ClientSettings::from_options(&options).map_err(|e| to_js_error(&e))?;
    let prices = options.prices.unwrap_or_default();
    crate::cost::check_prices(&prices, "prices").map_err(|e| to_js_error(&e))?;
    let mut state = ClientState::new(settings);
    state.prices = prices;
    Ok(ImageGenClient {
        state: Rc::new(state),
    })
}
