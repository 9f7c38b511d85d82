//! The user's Durable Object (`USER_STATE`, class `UserState` in
//! `worker/js/state.js`), reached through its RPC methods. Every failure to
//! reach it is [`StateUnavailable`]; what that means is decided per route
//! (see `ratelimit.rs`, `idempotency.rs`, `routes/jobs.rs`).

use super::{get, Env};
use crate::error::ApiError;
use wasm_bindgen::JsValue;

/// The binding's name.
const BINDING: &str = "USER_STATE";

/// The Durable Object could not be reached, or its call failed.
#[derive(Debug)]
pub struct StateUnavailable;

impl From<StateUnavailable> for ApiError {
    fn from(_: StateUnavailable) -> ApiError {
        let mut e = ApiError::new(
            503,
            "state_unavailable",
            "the per-user state is unavailable; try again",
        );
        e.retryable = Some(true);
        e.retry_after_s = Some(1);
        e
    }
}

/// A stub of one user's Durable Object.
#[derive(Clone)]
pub struct UserState(JsValue);

impl UserState {
    /// The object of the user whose `sub` hashes to `user_hash`; `None`
    /// without the binding, or when the runtime refuses the name.
    pub fn for_user(env: &Env, user_hash: &str) -> Option<UserState> {
        let ns = get(&env.0, BINDING)?;
        let id = call_sync(&ns, "idFromName", &[user_hash.into()])?;
        call_sync(&ns, "get", &[id]).map(UserState)
    }

    /// Calls one RPC method of the object. The method is called without a
    /// `this`: the runtime would try to send the stub itself along.
    pub async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue, StateUnavailable> {
        use wasm_bindgen::JsCast;
        // An RPC method is callable (`typeof` "function") but no `Function`
        // instance.
        let f: js_sys::Function = js_sys::Reflect::get(&self.0, &method.into())
            .ok()
            .filter(JsValue::is_function)
            .ok_or(StateUnavailable)?
            .unchecked_into();
        // `Reflect.apply`: the method's own `apply` would be taken for
        // another RPC method.
        let pending = js_sys::Reflect::apply(
            &f,
            &JsValue::UNDEFINED,
            &args.iter().collect::<js_sys::Array>(),
        )
        .map_err(|_| StateUnavailable)?;
        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&pending))
            .await
            .map_err(|_| StateUnavailable)
    }
}

fn call_sync(obj: &JsValue, method: &str, args: &[JsValue]) -> Option<JsValue> {
    use wasm_bindgen::JsCast;
    let f: js_sys::Function = js_sys::Reflect::get(obj, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    f.apply(obj, &args.iter().collect::<js_sys::Array>()).ok()
}
