//! Streamed previews in the engine: the sink that turns an attempt's
//! previews into `partial_image` events, and the one retry without
//! streaming when a model refuses to stream.

use super::state::Ctx;
use super::EventSink;
use crate::http::Transport;
use crate::model::{Error, ErrorCode, GenerateEvent, PreviewImage, ProviderName};
use crate::model::{Warning, WarningCode};
use crate::providers;
use crate::runtime::{Clock, Rng, Sleeper};
use crate::sse::PreviewSink;

/// Passes a streaming attempt's previews on as events. They are events
/// only: a failed attempt's previews never become results.
pub(super) struct Previews<'e> {
    pub(super) events: &'e dyn EventSink,
    pub(super) part: u32,
    pub(super) provider: ProviderName,
    pub(super) model: &'e str,
}

impl PreviewSink for Previews<'_> {
    fn preview(&self, index: u32, image: PreviewImage) {
        self.events.emit(GenerateEvent::PartialImage {
            part: self.part,
            provider: self.provider,
            model: self.model.to_string(),
            index,
            image,
        });
    }
}

impl<T: Transport, S: Sleeper, C: Clock, R: Rng> Ctx<'_, T, S, C, R> {
    /// True when a streamed attempt on `entry_index` was refused because of
    /// streaming itself (a 400 naming `stream` or `partial_images`: some
    /// models do not stream, P2.2.1): the entry is then tried once more
    /// without previews, with a warning, instead of falling back.
    pub(super) fn refused_streaming(&self, entry_index: usize, error: &Error) -> bool {
        let Some(entry) = self.req.chain.get(entry_index) else {
            return false;
        };
        let param = error.param.as_deref().unwrap_or_default();
        let refused = error.code == ErrorCode::InvalidRequest
            && error.status == Some(400)
            && matches!(param, "stream" | "partial_images")
            && providers::streams_previews(&self.req.image, entry);
        if refused {
            self.push_warning(Warning {
                provider: entry.provider,
                code: WarningCode::UnsupportedOption,
                message: format!(
                    "{} ({}) refused streaming (`{param}`): partialImages dropped, tried again without previews",
                    entry.provider, entry.model
                ),
            });
        }
        refused
    }
}
