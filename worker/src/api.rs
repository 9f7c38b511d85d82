//! The Worker's pure HTTP surface in one place, for tests and tools: the
//! router, the error type and the helpers that need no platform, each
//! re-exported from its own file.

pub use crate::error::ApiError;
pub use crate::http::{caller_request_id, is_json, Cors, MAX_BODY_BYTES};
pub use crate::keystore::kv_user;
pub use crate::routes::{route, Route};
