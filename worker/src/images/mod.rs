//! The OpenAI-compatible `POST /v1/images/generations` and
//! `POST /v1/images/edits`, without the platform: the request turned into
//! the engine's ([`request`]; an edit's form fields and file parts in
//! [`edit`]), model
//! routing over the user's chain ([`routing`]), and the response shape
//! (OpenAI's, plus `attempts`, `warnings` and `errors`, all snake_case;
//! [`response`]), and a streamed response's options and events ([`stream`]).

pub mod edit;
pub mod format;
pub mod request;
pub mod response;
pub mod routing;
pub mod stream;

pub use format::ResponseFormat;
pub use request::{build, parse_request, providers, Parsed, NAMES};
pub use response::{response, AttemptOut, DataItem, ErrorOut, ImagesResponse};
pub use routing::{build_chain, check_mock_allowed, parse_model, wanted, ModelChoice, Step};
