//! Masks: read a PNG mask's transparency and write it in another provider's
//! convention.
//!
//! The JS API takes masks in OpenAI's convention (a PNG whose fully
//! transparent pixels, alpha 0, mark the area to change). Stability wants an
//! 8-bit grayscale PNG where white marks the area to change. Masks are small
//! next to images and may enter wasm memory; input images never do.

use crate::Error;

/// Largest mask accepted, in pixels (4096 × 4096): decoding one needs
/// several bytes per pixel of wasm memory.
pub const MAX_MASK_PIXELS: u64 = 4096 * 4096;

const PARAM: &str = "mask";

fn bad(message: impl Into<String>) -> Error {
    Error::invalid(PARAM, message)
}

#[derive(Clone, Copy)]
struct Header {
    width: u32,
    height: u32,
    depth: u8,
    color: u8,
}

impl Header {
    fn channels(&self) -> usize {
        match self.color {
            0 | 3 => 1,
            2 => 3,
            4 => 2,
            _ => 4,
        }
    }

    fn bits_per_pixel(&self) -> usize {
        self.channels() * usize::from(self.depth)
    }

    fn row_bytes(&self) -> usize {
        (self.width as usize * self.bits_per_pixel()).div_ceil(8)
    }
}

struct Chunks<'a> {
    header: Header,
    palette_alpha: &'a [u8],
    key: Option<&'a [u8]>,
    data: Vec<u8>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn read_chunks(png: &[u8]) -> Result<Chunks<'_>, Error> {
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(bad("`mask` must be a PNG image"));
    }
    let cut = || bad("`mask` is a damaged or truncated PNG");
    let mut at = 8usize;
    let mut header = None;
    let (mut palette_alpha, mut key, mut data): (&[u8], _, Vec<u8>) = (&[], None, Vec::new());
    loop {
        let len = be32(png, at).ok_or_else(cut)? as usize;
        let kind = png.get(at + 4..at + 8).ok_or_else(cut)?;
        let end = (at + 8).checked_add(len).ok_or_else(cut)?;
        let body = png.get(at + 8..end).ok_or_else(cut)?;
        match kind {
            b"IHDR" => header = Some(parse_header(body)?),
            b"tRNS" => match header.as_ref().map(|h: &Header| h.color) {
                Some(3) => palette_alpha = body,
                _ => key = Some(body),
            },
            b"IDAT" => data.extend_from_slice(body),
            b"IEND" => break,
            _ => {}
        }
        at = end + 4;
    }
    let header = header.ok_or_else(cut)?;
    Ok(Chunks {
        header,
        palette_alpha,
        key,
        data,
    })
}

fn parse_header(b: &[u8]) -> Result<Header, Error> {
    let cut = || bad("`mask` has a damaged PNG header");
    let width = be32(b, 0).ok_or_else(cut)?;
    let height = be32(b, 4).ok_or_else(cut)?;
    let (depth, color, interlace) = match b.get(8..13) {
        Some(&[d, c, _, _, i]) => (d, c, i),
        _ => return Err(cut()),
    };
    let valid = matches!(
        (color, depth),
        (0, 1 | 2 | 4 | 8 | 16) | (3, 1 | 2 | 4 | 8) | (2 | 4 | 6, 8 | 16)
    );
    if !valid || width == 0 || height == 0 {
        return Err(cut());
    }
    if interlace != 0 {
        return Err(bad(
            "`mask` is an interlaced PNG; save it without interlacing",
        ));
    }
    if u64::from(width) * u64::from(height) > MAX_MASK_PIXELS {
        return Err(bad(format!(
            "`mask` is larger than {MAX_MASK_PIXELS} pixels"
        )));
    }
    Ok(Header {
        width,
        height,
        depth,
        color,
    })
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// Undoes the per-row filters in place; returns the rows without filter bytes.
fn unfilter(h: &Header, raw: &[u8]) -> Result<Vec<u8>, Error> {
    let stride = h.row_bytes();
    let bpp = h.bits_per_pixel().div_ceil(8).max(1);
    let rows = h.height as usize;
    if raw.len() < rows * (stride + 1) {
        return Err(bad("`mask` PNG data is shorter than its size says"));
    }
    let mut out = vec![0u8; rows * stride];
    for y in 0..rows {
        let filter = raw[y * (stride + 1)];
        let src = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        let (done, rest) = out.split_at_mut(y * stride);
        let prev = if y == 0 {
            None
        } else {
            done.get((y - 1) * stride..)
        };
        let cur = &mut rest[..stride];
        for x in 0..stride {
            let a = if x >= bpp { cur[x - bpp] } else { 0 };
            let b = prev.map_or(0, |p| p[x]);
            let c = if x >= bpp {
                prev.map_or(0, |p| p[x - bpp])
            } else {
                0
            };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                4 => paeth(a, b, c),
                _ => return Err(bad("`mask` PNG uses an unknown row filter")),
            };
            cur[x] = src[x].wrapping_add(pred);
        }
    }
    Ok(out)
}

/// Sample `i` (of `bits` bits) of a row, as an integer.
fn sample(row: &[u8], i: usize, bits: usize) -> u16 {
    match bits {
        16 => u16::from_be_bytes([row[2 * i], row[2 * i + 1]]),
        8 => u16::from(row[i]),
        _ => {
            let bit = i * bits;
            let byte = row[bit / 8];
            let shift = 8 - bits - bit % 8;
            u16::from(byte >> shift) & ((1u16 << bits) - 1)
        }
    }
}

fn key_matches(key: Option<&[u8]>, row: &[u8], x: usize, h: &Header) -> bool {
    let Some(key) = key else { return false };
    let bits = usize::from(h.depth);
    (0..h.channels()).all(|c| {
        let want = key
            .get(2 * c..2 * c + 2)
            .map(|k| u16::from_be_bytes([k[0], k[1]]));
        want == Some(sample(row, x * h.channels() + c, bits))
    })
}

/// Whether each pixel is fully transparent, row by row.
fn transparent_pixels(c: &Chunks<'_>, rows: &[u8]) -> Result<Vec<bool>, Error> {
    let h = &c.header;
    let has_alpha = matches!(h.color, 4 | 6) || !c.palette_alpha.is_empty() || c.key.is_some();
    if !has_alpha {
        return Err(bad(
            "`mask` has no transparency: mark the area to change with fully transparent pixels (alpha 0)",
        ));
    }
    let (w, stride, bits) = (h.width as usize, h.row_bytes(), usize::from(h.depth));
    let mut out = Vec::with_capacity(w * h.height as usize);
    for row in rows.chunks_exact(stride) {
        for x in 0..w {
            let clear = match h.color {
                4 | 6 => sample(row, x * h.channels() + h.channels() - 1, bits) == 0,
                3 => c.palette_alpha.get(usize::from(sample(row, x, bits))) == Some(&0),
                _ => key_matches(c.key, row, x, h),
            };
            out.push(clear);
        }
    }
    Ok(out)
}

/// A mask decoded to "change this pixel or not".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskPixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major; `true` where the area is to change (alpha 0 in the input).
    pub change: Vec<bool>,
}

/// A mask PNG split into what decoding needs; its pixel data is still
/// zlib-compressed (inflated natively with miniz_oxide, on wasm by the
/// platform's `DecompressionStream`).
pub struct MaskPng {
    header: Header,
    palette_alpha: Vec<u8>,
    key: Option<Vec<u8>>,
    /// The concatenated IDAT data (zlib).
    pub zlib: Vec<u8>,
}

impl MaskPng {
    /// Parses and checks the chunks of an OpenAI-convention mask.
    pub fn parse(png: &[u8]) -> Result<MaskPng, Error> {
        let c = read_chunks(png)?;
        Ok(MaskPng {
            palette_alpha: c.palette_alpha.to_vec(),
            key: c.key.map(<[u8]>::to_vec),
            header: c.header,
            zlib: c.data,
        })
    }

    /// How many bytes the inflated data must have.
    pub fn raw_len(&self) -> usize {
        self.header.height as usize * (self.header.row_bytes() + 1)
    }

    /// Decodes the inflated data to "change this pixel or not".
    pub fn pixels(&self, raw: &[u8]) -> Result<MaskPixels, Error> {
        let rows = unfilter(&self.header, raw)?;
        let chunks = Chunks {
            header: Header { ..self.header },
            palette_alpha: &self.palette_alpha,
            key: self.key.as_deref(),
            data: Vec::new(),
        };
        let change = transparent_pixels(&chunks, &rows)?;
        Ok(MaskPixels {
            width: self.header.width,
            height: self.header.height,
            change,
        })
    }
}

/// Reads an OpenAI-convention mask PNG (native: inflates in Rust).
#[cfg(not(target_arch = "wasm32"))]
pub fn read_mask(png: &[u8]) -> Result<MaskPixels, Error> {
    let mask = MaskPng::parse(png)?;
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&mask.zlib, mask.raw_len())
        .map_err(|_| bad("`mask` PNG data cannot be decompressed"))?;
    mask.pixels(&raw)
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for part in parts {
        for &byte in *part {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
    }
    !crc
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&crc32(&[kind, body]).to_be_bytes());
}

/// The rows of an 8-bit grayscale image, each with filter byte 0: white
/// where the area is to change, black elsewhere (Stability's convention).
/// Compress them with zlib and pass them to [`gray_png`].
pub fn gray_rows(mask: &MaskPixels) -> Vec<u8> {
    let w = mask.width as usize;
    let mut raw = Vec::with_capacity((w + 1) * mask.height as usize);
    for row in mask.change.chunks(w.max(1)) {
        raw.push(0);
        raw.extend(row.iter().map(|&c| if c { 255u8 } else { 0 }));
    }
    raw
}

/// An 8-bit grayscale PNG of the given size around zlib data.
pub fn gray_png(width: u32, height: u32, zlib: &[u8]) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Writes Stability's grayscale mask (native: deflates in Rust).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_gray_mask(mask: &MaskPixels) -> Vec<u8> {
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&gray_rows(mask), 6);
    gray_png(mask.width, mask.height, &zlib)
}

/// Converts an OpenAI-convention mask to Stability's grayscale mask.
#[cfg(not(target_arch = "wasm32"))]
pub fn to_gray_mask(png: &[u8]) -> Result<Vec<u8>, Error> {
    read_mask(png).map(|m| write_gray_mask(&m))
}
