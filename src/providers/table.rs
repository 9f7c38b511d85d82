//! What the provider table is made of: [`ProviderSpec`], the macro that
//! turns the table (in `providers/mod.rs`, the one place that lists the
//! providers) into the provider modules and [`ProviderName`], and what is
//! derived from it (wire names, model-family routing, the headers a
//! transport reads).

use super::{BuiltRequest, Capabilities, ModelStatus, ParseContext, ProviderName};
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{Error, GeneratedImage};
use crate::request::{ChainEntry, ImageRequest};
use crate::secret::Secret;
use serde_json::{Map, Value};
use std::fmt;

#[doc(hidden)]
macro_rules! count {
    () => { 0usize };
    ($head:ident $($tail:ident)*) => { 1usize + count!($($tail)*) };
}

/// Generates the provider modules and [`ProviderName`] from the table in
/// `providers/mod.rs`: one line per provider, `Variant = "wire name" =>
/// module`, where `module::SPEC` is its spec.
macro_rules! provider_table {
    ($( $(#[doc = $doc:expr])* $variant:ident = $wire:literal => $module:ident, )*) => {
        $( pub mod $module; )*

        /// The providers the library can call.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize, ::tsify::Tsify,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum ProviderName {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ProviderName {
            /// All providers, in a stable order.
            pub const ALL: [ProviderName; count!($($variant)*)] = [$(ProviderName::$variant),*];

            /// The lowercase name used on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( ProviderName::$variant => $wire, )*
                }
            }

            /// The provider's spec.
            pub fn spec(self) -> &'static $crate::providers::ProviderSpec {
                match self {
                    $( ProviderName::$variant => &$module::SPEC, )*
                }
            }
        }
    };
}

/// Everything the library knows about one provider, as data and pure
/// functions. Each provider module exports one as `SPEC`.
#[derive(Debug)]
pub struct ProviderSpec {
    /// The lowercase name used on the wire (`openai`).
    pub name: &'static str,
    /// The name people read (`OpenAI`).
    pub display_name: &'static str,
    /// The model used when the caller names none.
    pub default_model: &'static str,
    /// The origin requests go to unless the caller sets `baseUrl`.
    pub default_origin: &'static str,
    /// Whether calls need a key (`mock` does not).
    pub needs_key: bool,
    /// The environment variable servers read the key from (`OPENAI_API_KEY`);
    /// empty when the provider takes no key.
    pub key_env: &'static str,
    /// The environment variable that points the provider at another origin
    /// in development and tests; empty when there is none.
    pub base_url_env: &'static str,
    /// Model-id prefixes that identify this provider's models in a bare
    /// `model` string (`gpt-image` means OpenAI).
    pub model_prefixes: &'static [&'static str],
    /// The model lifecycle table.
    pub models: &'static [ModelStatus],
    /// The price table (`providers/prices.rs`): rows per model, with dates
    /// and sources.
    pub prices: &'static [crate::cost::PriceRow],
    /// Response headers the parser reads, besides the common ones
    /// ([`COMMON_RESPONSE_HEADERS`]); a transport must pass them on.
    pub response_headers: &'static [&'static str],
    /// What a chain entry (model, params) can do.
    pub capabilities: fn(&ChainEntry) -> Capabilities,
    /// Checks the entry's `params` beyond "is an object"; `field` names
    /// them in errors (`providers[1].params`).
    pub check_params: fn(&Map<String, Value>, &str) -> Result<(), Error>,
    /// Builds the request for one call of `req.count` images.
    pub build: fn(&ImageRequest, &ChainEntry) -> BuiltRequest,
    /// Parses a response into images or a classified error.
    pub parse: fn(HttpResponse, &ParseContext<'_>) -> Result<Vec<GeneratedImage>, Error>,
    /// The cheap request that proves a key works (key and origin), if the
    /// provider has one; without one every non-blank key is taken as valid.
    pub key_check: Option<fn(&Secret, &str) -> HttpRequest>,
}

/// Headers every provider's parser may read (content type and retry hints).
pub const COMMON_RESPONSE_HEADERS: &[&str] = &["content-type", "retry-after", "retry-after-ms"];

/// `check_params` for providers that take any object.
pub fn any_params(_params: &Map<String, Value>, _field: &str) -> Result<(), Error> {
    Ok(())
}

impl ProviderName {
    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<ProviderName> {
        ProviderName::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The provider a bare model id belongs to, by its family prefix
    /// (`gpt-image-2` → OpenAI), if one claims it.
    pub fn for_model(model: &str) -> Option<ProviderName> {
        ProviderName::ALL.into_iter().find(|p| {
            p.spec()
                .model_prefixes
                .iter()
                .any(|prefix| model.starts_with(prefix))
        })
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every response header some provider reads, each once: what a transport
/// that cannot pass on all headers must keep.
pub fn response_headers() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = COMMON_RESPONSE_HEADERS.to_vec();
    for p in ProviderName::ALL {
        for h in p.spec().response_headers {
            if !out.contains(h) {
                out.push(h);
            }
        }
    }
    out
}

/// The wire names joined for messages: `openai, gemini, stability or mock`.
pub fn names_for_message() -> String {
    let names: Vec<&str> = ProviderName::ALL.iter().map(|p| p.as_str()).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_match_the_table() {
        for p in ProviderName::ALL {
            let spec = p.spec();
            assert_eq!(spec.name, p.as_str());
            assert_eq!(ProviderName::parse(spec.name), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), spec.name);
            assert!(!spec.default_model.is_empty(), "{p}");
            assert_eq!(spec.needs_key, !spec.key_env.is_empty(), "{p}");
        }
    }

    #[test]
    fn model_families_route_to_their_provider() {
        assert_eq!(
            ProviderName::for_model("gpt-image-2"),
            Some(ProviderName::Openai)
        );
        assert_eq!(
            ProviderName::for_model("dall-e-3"),
            Some(ProviderName::Openai)
        );
        assert_eq!(
            ProviderName::for_model("gemini-nano-banana-2.1"),
            Some(ProviderName::Gemini)
        );
        assert_eq!(ProviderName::for_model("core"), None);
        assert_eq!(ProviderName::for_model("mock-svg"), None);
    }

    #[test]
    fn transports_read_every_header_parsers_need() {
        let h = response_headers();
        for name in [
            "content-type",
            "retry-after",
            "retry-after-ms",
            "x-should-retry",
            "finish-reason",
            "seed",
            "x-request-id",
        ] {
            assert!(h.contains(&name), "{name}");
        }
        let names = names_for_message();
        assert!(names.starts_with("openai, gemini, "), "{names}");
        let last = ProviderName::ALL
            .last()
            .map(|p| p.as_str())
            .unwrap_or_default();
        assert!(names.ends_with(&format!(" or {last}")), "{names}");
    }
}
