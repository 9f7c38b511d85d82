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

#[cfg(not(target_arch = "wasm32"))]
impl Input<body::InputData> {
    /// An input from bytes in memory (native callers), checked by its
    /// magic bytes; `param` names the field for errors.
    pub fn from_bytes(bytes: impl Into<std::rc::Rc<[u8]>>, param: &str) -> Result<Self, Error> {
        let data: std::rc::Rc<[u8]> = bytes.into();
        let info = sniff::sniff_all(&data, param)?;
        Ok(Input {
            info,
            len: data.len() as u64,
            data,
        })
    }
}

impl MaskInput {
    /// Checks a mask's bytes: a PNG by its magic bytes.
    pub fn sniff(bytes: &[u8]) -> Result<Sniffed, Error> {
        let info = sniff::sniff_all(bytes, "mask")?;
        if info.format != ImageFormat::Png {
            return Err(Error::invalid("mask", "`mask` must be a PNG image"));
        }
        Ok(info)
    }

    /// A mask from its bytes, checked and converted to grayscale.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_bytes(bytes: impl Into<std::rc::Rc<[u8]>>) -> Result<Self, Error> {
        let bytes: std::rc::Rc<[u8]> = bytes.into();
        let info = Self::sniff(&bytes)?;
        let gray = png::to_gray_mask(&bytes)?.into();
        Ok(MaskInput { info, bytes, gray })
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

/// A mask as the engine holds it: small, so its bytes are in Rust memory
/// (they are converted for providers with another convention).
#[derive(Clone)]
pub struct MaskInput {
    /// Format and size (always a PNG once checked).
    pub info: Sniffed,
    /// The PNG, in OpenAI's convention (alpha 0 = the area to change).
    pub bytes: std::rc::Rc<[u8]>,
    /// The same mask in Stability's convention (8-bit gray, white = change).
    pub gray: std::rc::Rc<[u8]>,
}

/// The inputs of an edit: 1..=16 images and an optional mask, checked.
#[derive(Clone)]
pub struct EditInputs {
    /// The images, in the caller's order.
    pub images: Vec<Input<body::InputData>>,
    /// The mask, applied to the first image.
    pub mask: Option<MaskInput>,
}

impl std::fmt::Debug for EditInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EditInputs")
            .field("images", &self.images)
            .field("mask", &self.mask.as_ref().map(|m| m.bytes.len()))
            .finish()
    }
}

impl PartialEq for EditInputs {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: &Input<body::InputData>, b: &Input<body::InputData>| {
            a.info == b.info && a.len == b.len && a.data == b.data
        };
        self.images.len() == other.images.len()
            && self
                .images
                .iter()
                .zip(&other.images)
                .all(|(a, b)| same(a, b))
            && self.mask.as_ref().map(|m| &m.bytes) == other.mask.as_ref().map(|m| &m.bytes)
    }
}

impl EditInputs {
    /// Checks the rules of [`check_set`] (plus: at least one image).
    pub fn new(
        images: Vec<Input<body::InputData>>,
        mask: Option<MaskInput>,
    ) -> Result<Self, Error> {
        if images.is_empty() {
            return Err(Error::invalid(
                "images",
                "`images` is empty; give 1 to 16 images, or leave it out",
            ));
        }
        let infos: Vec<Sniffed> = images.iter().map(|i| i.info).collect();
        check_set(&infos, mask.as_ref().map(|m| m.info))?;
        Ok(EditInputs { images, mask })
    }

    /// The image data, by index, for a request's payload.
    pub fn data(&self) -> Vec<body::InputData> {
        self.images.iter().map(|i| i.data.clone()).collect()
    }

    /// Total bytes of the images.
    pub fn total_bytes(&self) -> u64 {
        self.images.iter().map(|i| i.len).sum()
    }
}
