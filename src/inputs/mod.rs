//! Image inputs for edits: what they are (by their bytes), the rules every
//! request's inputs must follow, and masks in each provider's convention.
//!
//! Input image bytes stay where the caller put them: natively a shared byte
//! buffer, on wasm the caller's JS value. Only a header prefix is read to
//! learn format and size, and only masks are decoded.

pub mod body;
pub mod png;
pub mod sniff;

pub use sniff::{ImageFormat, Sniffed};

use crate::Error;

/// Most input images in one request.
pub const MAX_IMAGES: usize = 16;

/// One input image as the engine sees it: its format, size and byte length,
/// plus the bytes wherever they live.
#[derive(Clone)]
pub struct Input<D> {
    /// Format and pixel size, from the bytes.
    pub info: Sniffed,
    /// Length in bytes.
    pub len: u64,
    /// The bytes (a native buffer or a JS value).
    pub data: D,
}

impl<D> std::fmt::Debug for Input<D> {
    // Never print the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<{} {}x{}, {} bytes>",
            self.info.format.mime(),
            self.info.width,
            self.info.height,
            self.len
        )
    }
}

/// Checks the rules that hold for every provider: 1..=16 images, a mask
/// only with images, a mask that is a PNG of the first image's size.
pub fn check_set(images: &[Sniffed], mask: Option<Sniffed>) -> Result<(), Error> {
    if images.len() > MAX_IMAGES {
        return Err(Error::invalid(
            "images",
            format!(
                "`images` holds {} images; at most {MAX_IMAGES} are accepted",
                images.len()
            ),
        ));
    }
    let Some(mask) = mask else { return Ok(()) };
    let Some(first) = images.first() else {
        return Err(Error::invalid(
            "mask",
            "`mask` needs at least one image in `images`",
        ));
    };
    if mask.format != ImageFormat::Png {
        return Err(Error::invalid("mask", "`mask` must be a PNG image"));
    }
    if (mask.width, mask.height) != (first.width, first.height) {
        return Err(Error::invalid(
            "mask",
            format!(
                "`mask` is {}x{} but the first image is {}x{}; they must be the same size",
                mask.width, mask.height, first.width, first.height
            ),
        ));
    }
    Ok(())
}
