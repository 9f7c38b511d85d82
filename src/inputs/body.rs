//! Request bodies that carry input images without holding their bytes:
//! a multipart form whose file parts name an input, or a JSON text with an
//! input's base64 spliced in. The transport assembles the real body where
//! the inputs live (FormData and JS strings on wasm; bytes natively).

/// The bytes of one input image, wherever they live.
#[cfg(not(target_arch = "wasm32"))]
pub type InputData = std::rc::Rc<[u8]>;

/// The bytes of one input image, wherever they live.
#[cfg(target_arch = "wasm32")]
pub type InputData = crate::wasm::inputs::JsInput;

/// One field of a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormValue {
    /// A text field.
    Text(String),
    /// A file part with the request's input `index` as its content.
    Input {
        /// Index into the request's inputs.
        index: usize,
        /// File name sent with the part.
        filename: String,
        /// The part's content type (the format found by magic bytes).
        mime: &'static str,
    },
    /// A file part made by the library (a converted mask).
    File {
        /// The content.
        bytes: Vec<u8>,
        /// File name sent with the part.
        filename: String,
        /// The part's content type.
        mime: &'static str,
    },
}

/// A named multipart field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: FormValue,
}

/// A piece of a JSON text: literal text or an input's base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal JSON text.
    Text(String),
    /// The base64 of the request's input `index` (without quotes).
    Base64(usize),
}

/// A body that refers to the request's inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `multipart/form-data`; the transport picks the boundary.
    Form(Vec<FormPart>),
    /// `application/json` text with inputs' base64 spliced in.
    Spliced(Vec<Piece>),
}

/// A JSON string value that [`splice`] replaces by input `index`'s base64.
pub fn placeholder(index: usize) -> String {
    format!("@@imagegen-input-{index}@@")
}

/// Splits serialized JSON at the placeholders of inputs `0..count`.
///
/// A placeholder is matched with its quotes: a caller's string containing
/// the same text is serialized with escaped quotes and never matches.
pub fn splice(json: &str, count: usize) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = json;
    loop {
        let next = (0..count)
            .filter_map(|i| {
                let p = format!("\"{}\"", placeholder(i));
                rest.find(&p).map(|at| (at, i, p.len()))
            })
            .min();
        let Some((at, index, len)) = next else { break };
        // Keep the quotes: the base64 goes between them.
        pieces.push(Piece::Text(format!("{}\"", &rest[..at])));
        pieces.push(Piece::Base64(index));
        rest = &rest[at + len - 1..];
    }
    pieces.push(Piece::Text(rest.to_string()));
    pieces
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::{FormValue, InputData, Payload, Piece};

    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    fn base64(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for c in bytes.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
                if i <= c.len() {
                    out.push(char::from(B64[(n >> shift) as usize & 63]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Renders a payload to bytes with its content type (native transports
    /// and tests). Missing inputs render as empty parts.
    pub fn render(payload: &Payload, inputs: &[InputData]) -> (String, Vec<u8>) {
        let input = |i: usize| inputs.get(i).map_or(&[][..], |d| &d[..]);
        match payload {
            Payload::Spliced(pieces) => {
                let mut out = Vec::new();
                for p in pieces {
                    match p {
                        Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
                        Piece::Base64(i) => out.extend_from_slice(base64(input(*i)).as_bytes()),
                    }
                }
                ("application/json".to_string(), out)
            }
            Payload::Form(parts) => {
                let mut boundary = String::from("imagegen-boundary");
                let clash = |b: &str| {
                    parts.iter().any(|p| match &p.value {
                        FormValue::Text(t) => t.contains(b),
                        FormValue::Input { index, .. } => contains(input(*index), b.as_bytes()),
                        FormValue::File { bytes, .. } => contains(bytes, b.as_bytes()),
                    })
                };
                while clash(&boundary) {
                    boundary.push('x');
                }
                let mut out = Vec::new();
                for p in parts {
                    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    let (file, mime, bytes) = match &p.value {
                        FormValue::Text(t) => (None, None, t.as_bytes()),
                        FormValue::Input {
                            index,
                            filename,
                            mime,
                        } => (Some(filename), Some(*mime), input(*index)),
                        FormValue::File {
                            bytes,
                            filename,
                            mime,
                        } => (Some(filename), Some(*mime), &bytes[..]),
                    };
                    let mut head = format!("Content-Disposition: form-data; name=\"{}\"", p.name);
                    if let Some(f) = file {
                        head.push_str(&format!("; filename=\"{f}\""));
                    }
                    head.push_str("\r\n");
                    if let Some(m) = mime {
                        head.push_str(&format!("Content-Type: {m}\r\n"));
                    }
                    head.push_str("\r\n");
                    out.extend_from_slice(head.as_bytes());
                    out.extend_from_slice(bytes);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                (format!("multipart/form-data; boundary={boundary}"), out)
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::render;
