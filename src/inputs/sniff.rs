//! What an input image is, from its bytes alone: format by magic bytes and
//! pixel dimensions from the header. A declared MIME type is never trusted.
//!
//! Only a prefix of the image is needed. A JPEG's frame header can sit after
//! large metadata segments, so a JPEG is walked segment by segment: when the
//! bytes at hand run out, [`Step::Need`] says which bytes to read next (a
//! slice of a Blob, say), and [`jpeg_from`] continues from there.

use crate::Error;

/// An input image format the providers accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

impl ImageFormat {
    /// The format's MIME type.
    pub const fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// The format's name.
    pub const fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Webp => "WebP",
        }
    }

    /// The usual file extension.
    pub const fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Webp => "webp",
        }
    }
}

/// Format and size of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    /// The format, by magic bytes.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The outcome of looking at some bytes of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Format and dimensions are known.
    Done(Sniffed),
    /// A JPEG whose frame header lies further on: read up to `len` bytes at
    /// file offset `offset` and pass them to [`jpeg_from`].
    Need {
        /// File offset of the next JPEG marker.
        offset: u64,
        /// How many bytes to read (fewer at the end of the file is fine).
        len: usize,
    },
}

/// How many bytes to read at the start of an input (and per JPEG step).
pub const HEADER_BYTES: usize = 64 * 1024;

/// Most JPEG segments walked before giving up (a hostile file could chain
/// tiny segments forever).
pub const MAX_JPEG_SEGMENTS: u32 = 4096;

fn not_an_image(param: &str) -> Error {
    Error::invalid(
        param,
        format!("`{param}` is not a PNG, JPEG or WebP image (checked by its first bytes)"),
    )
}

fn damaged(param: &str, format: ImageFormat) -> Error {
    Error::invalid(
        param,
        format!(
            "`{param}` starts like a {} image but its header is damaged or cut short",
            format.name()
        ),
    )
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 2)?;
    Some(u32::from(s[0]) << 8 | u32::from(s[1]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 2)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8)
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Looks at the first bytes of an image (at least the first
/// [`HEADER_BYTES`], or the whole file if shorter). `param` names the
/// request field for errors.
pub fn sniff(prefix: &[u8], param: &str) -> Result<Step, Error> {
    if prefix.starts_with(PNG_MAGIC) {
        return png(prefix, param).map(Step::Done);
    }
    if prefix.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return jpeg_from(&prefix[2..], 2, param);
    }
    if prefix.len() >= 12 && &prefix[0..4] == b"RIFF" && &prefix[8..12] == b"WEBP" {
        return webp(prefix, param).map(Step::Done);
    }
    Err(not_an_image(param))
}

fn png(b: &[u8], param: &str) -> Result<Sniffed, Error> {
    let bad = || damaged(param, ImageFormat::Png);
    if b.get(12..16) != Some(b"IHDR".as_slice()) {
        return Err(bad());
    }
    let width = be32(b, 16).ok_or_else(bad)?;
    let height = be32(b, 20).ok_or_else(bad)?;
    if width == 0 || height == 0 {
        return Err(bad());
    }
    Ok(Sniffed {
        format: ImageFormat::Png,
        width,
        height,
    })
}

fn webp(b: &[u8], param: &str) -> Result<Sniffed, Error> {
    let bad = || damaged(param, ImageFormat::Webp);
    let (width, height) = match b.get(12..16) {
        // Lossy: frame tag (3 bytes), start code 9d 01 2a, then 14-bit sizes.
        Some(b"VP8 ") => {
            if b.get(23..26) != Some([0x9d, 0x01, 0x2a].as_slice()) {
                return Err(bad());
            }
            let w = le16(b, 26).ok_or_else(bad)? & 0x3fff;
            let h = le16(b, 28).ok_or_else(bad)? & 0x3fff;
            (w, h)
        }
        // Lossless: signature 0x2f, then 14 bits width-1, 14 bits height-1.
        Some(b"VP8L") => {
            if b.get(20) != Some(&0x2f) {
                return Err(bad());
            }
            let bits = be32(b, 21).map(u32::swap_bytes).ok_or_else(bad)?;
            ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1)
        }
        // Extended: canvas width-1 and height-1 as 24-bit little-endian.
        Some(b"VP8X") => {
            let w = le24(b, 24).ok_or_else(bad)? + 1;
            let h = le24(b, 27).ok_or_else(bad)? + 1;
            (w, h)
        }
        _ => return Err(bad()),
    };
    if width == 0 || height == 0 {
        return Err(bad());
    }
    Ok(Sniffed {
        format: ImageFormat::Webp,
        width,
        height,
    })
}

/// Walks JPEG segments in `chunk`, which holds the file's bytes from
/// `offset` on and starts at a marker (`0xFF`).
pub fn jpeg_from(chunk: &[u8], offset: u64, param: &str) -> Result<Step, Error> {
    let bad = || damaged(param, ImageFormat::Jpeg);
    let mut at = 0usize;
    for _ in 0..MAX_JPEG_SEGMENTS {
        // Fill bytes (0xFF repeated) may precede a marker.
        while chunk.get(at) == Some(&0xFF) && chunk.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (chunk.get(at), chunk.get(at + 1)) else {
            if at + 1 < chunk.len() {
                return Err(bad());
            }
            return more(chunk, offset, at, param);
        };
        match marker {
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => {
                at += 2;
                continue;
            }
            // End of image or start of scan before any frame header.
            0xD9 | 0xDA => return Err(bad()),
            _ => {}
        }
        let Some(len) = be16(chunk, at + 2) else {
            return more(chunk, offset, at, param);
        };
        if len < 2 {
            return Err(bad());
        }
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let (Some(h), Some(w)) = (be16(chunk, at + 5), be16(chunk, at + 7)) else {
                return more(chunk, offset, at, param);
            };
            if w == 0 || h == 0 {
                return Err(bad());
            }
            return Ok(Step::Done(Sniffed {
                format: ImageFormat::Jpeg,
                width: w,
                height: h,
            }));
        }
        at += 2 + len as usize;
    }
    Err(bad())
}

fn more(chunk: &[u8], offset: u64, at: usize, param: &str) -> Result<Step, Error> {
    if chunk.is_empty() {
        return Err(damaged(param, ImageFormat::Jpeg));
    }
    Ok(Step::Need {
        offset: offset + at as u64,
        len: HEADER_BYTES,
    })
}

/// Sniffs bytes that are all in memory (native callers, small inputs),
/// following [`Step::Need`] within them.
pub fn sniff_all(bytes: &[u8], param: &str) -> Result<Sniffed, Error> {
    let mut step = sniff(bytes, param)?;
    loop {
        match step {
            Step::Done(s) => return Ok(s),
            Step::Need { offset, .. } => {
                let from = usize::try_from(offset).unwrap_or(usize::MAX);
                let rest = bytes.get(from..).unwrap_or(&[]);
                if rest.is_empty() {
                    return Err(damaged(param, ImageFormat::Jpeg));
                }
                step = jpeg_from(rest, offset, param)?;
                if let Step::Need { offset: next, .. } = step {
                    if next <= offset {
                        return Err(damaged(param, ImageFormat::Jpeg));
                    }
                }
            }
        }
    }
}
