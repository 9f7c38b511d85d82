//! `response_format`: images inline as base64 (`b64_json`, the default) or
//! as signed links to objects in R2 (`url`, see [`crate::files`]).

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// How a response carries its images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// `data[i].b64_json`: the image inline, base64.
    #[default]
    B64Json,
    /// `data[i].url`: a signed, expiring link to the image.
    Url,
}

/// Parses a request's `response_format` (`None` when absent).
pub fn parse(value: Option<&str>) -> Result<Option<ResponseFormat>, ApiError> {
    match value {
        None => Ok(None),
        Some("b64_json") => Ok(Some(ResponseFormat::B64Json)),
        Some("url") => Ok(Some(ResponseFormat::Url)),
        Some(other) => Err(ApiError::invalid(
            "response_format",
            format!("response_format {other:?} is not b64_json or url"),
        )),
    }
}

/// The format of one response: the request's, else the user's default,
/// else `b64_json`. A streamed response always carries its images inline
/// (its events are OpenAI's, which have `b64_json` only): asking for `url`
/// with `"stream": true` is refused; a default of `url` does not apply to
/// streams.
pub fn resolve(
    requested: Option<ResponseFormat>,
    default: Option<ResponseFormat>,
    streamed: bool,
) -> Result<ResponseFormat, ApiError> {
    if streamed {
        return match requested {
            Some(ResponseFormat::Url) => Err(ApiError::invalid(
                "response_format",
                "response_format \"url\" cannot be streamed: stream events carry b64_json; \
                 drop \"stream\" to get links",
            )),
            _ => Ok(ResponseFormat::B64Json),
        };
    }
    Ok(requested.or(default).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::ResponseFormat::{B64Json, Url};
    use super::*;

    #[test]
    fn parses_the_two_formats() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("url")).unwrap(), Some(Url));
        assert_eq!(parse(Some("b64_json")).unwrap(), Some(B64Json));
        for bad in ["URL", "b64", ""] {
            let e = parse(Some(bad)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("response_format"), "{bad}");
        }
    }

    #[test]
    fn request_then_default_then_base64() {
        assert_eq!(resolve(None, None, false).unwrap(), B64Json);
        assert_eq!(resolve(None, Some(Url), false).unwrap(), Url);
        assert_eq!(resolve(Some(B64Json), Some(Url), false).unwrap(), B64Json);
        assert_eq!(resolve(Some(Url), Some(B64Json), false).unwrap(), Url);
    }

    #[test]
    fn streams_stay_inline() {
        assert_eq!(resolve(None, Some(Url), true).unwrap(), B64Json);
        assert_eq!(resolve(Some(B64Json), None, true).unwrap(), B64Json);
        let e = resolve(Some(Url), None, true).unwrap_err();
        assert_eq!(
            (e.status, e.param.as_deref()),
            (400, Some("response_format"))
        );
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&Url).unwrap(), "\"url\"");
        assert_eq!(
            serde_json::from_str::<ResponseFormat>("\"b64_json\"").unwrap(),
            B64Json
        );
    }
}
