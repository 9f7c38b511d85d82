//! Edits: a generation request plus input images (and a mask), mapped to
//! each provider's edit route. What a model can take is data
//! ([`InputCaps`]); an entry that cannot take the inputs is skipped by the
//! engine, never called with inputs dropped.

use crate::inputs::body::{placeholder, splice, FormPart, FormValue, Payload};
use crate::inputs::{EditInputs, ImageFormat};
use serde_json::{json, Map, Value};

/// What one model can take as inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputCaps {
    /// Most input images (0: no edits).
    pub max_images: usize,
    /// Whether a mask can be honoured.
    pub mask: bool,
    /// Largest single input, in bytes.
    pub max_image_bytes: u64,
    /// Largest total of inputs as sent (base64 counts 4/3), in bytes.
    pub max_total_bytes: u64,
    /// Smallest side, in pixels.
    pub min_side: u32,
    /// Most pixels of one input (0: no limit).
    pub max_pixels: u64,
    /// Whether inputs travel as base64 (4/3 of their size) in a JSON body.
    pub base64: bool,
    /// Whether inputs are taken only with a mask (an inpainting-only route).
    pub needs_mask: bool,
}

const MIB: u64 = 1024 * 1024;

/// A model that takes no inputs.
pub const NO_INPUTS: InputCaps = InputCaps {
    max_images: 0,
    mask: false,
    max_image_bytes: 0,
    max_total_bytes: 0,
    min_side: 0,
    max_pixels: 0,
    base64: false,
    needs_mask: false,
};

/// OpenAI's GPT image models: up to 16 images under 50 MB each, a mask.
pub const OPENAI_GPT_IMAGE: InputCaps = InputCaps {
    max_images: 16,
    mask: true,
    max_image_bytes: 50 * MIB,
    max_total_bytes: u64::MAX,
    min_side: 1,
    max_pixels: 0,
    base64: false,
    needs_mask: false,
};

/// Gemini image models: up to 14 references inline (100 MB request, base64
/// included), no mask.
pub const fn gemini(max_images: usize) -> InputCaps {
    InputCaps {
        max_images,
        mask: false,
        max_image_bytes: 75 * MIB,
        max_total_bytes: 100 * MIB,
        min_side: 1,
        max_pixels: 0,
        base64: true,
        needs_mask: false,
    }
}

/// Stability: one image (10 MiB request), sides ≥ 64 px, ≤ 9,437,184 px;
/// `image_to_image` false: only inpainting (with a mask).
pub const fn stability(image_to_image: bool) -> InputCaps {
    InputCaps {
        max_images: 1,
        mask: true,
        max_image_bytes: 10 * MIB,
        max_total_bytes: 10 * MIB,
        min_side: 64,
        max_pixels: 9_437_184,
        base64: false,
        needs_mask: !image_to_image,
    }
}

/// Why an entry with these capabilities cannot take the inputs, if it cannot.
pub fn input_problem(caps: &InputCaps, model: &str, inputs: &EditInputs) -> Option<String> {
    let n = inputs.images.len();
    if caps.max_images == 0 {
        return Some(format!("{model} does not take input images"));
    }
    if n > caps.max_images {
        return Some(format!(
            "{model} takes at most {} input images; {n} given",
            caps.max_images
        ));
    }
    if inputs.mask.is_some() && !caps.mask {
        return Some(format!("{model} cannot take a mask"));
    }
    if inputs.mask.is_none() && caps.needs_mask {
        return Some(format!(
            "{model} edits only with a mask (no image-to-image)"
        ));
    }
    for (i, img) in inputs.images.iter().enumerate() {
        if img.len > caps.max_image_bytes {
            return Some(format!(
                "images[{i}] is {} bytes; {model} takes at most {}",
                img.len, caps.max_image_bytes
            ));
        }
        let (w, h) = (img.info.width, img.info.height);
        if w.min(h) < caps.min_side {
            return Some(format!(
                "images[{i}] is {w}x{h}; {model} needs sides of at least {} px",
                caps.min_side
            ));
        }
        if caps.max_pixels > 0 && u64::from(w) * u64::from(h) > caps.max_pixels {
            return Some(format!(
                "images[{i}] has {} pixels; {model} takes at most {}",
                u64::from(w) * u64::from(h),
                caps.max_pixels
            ));
        }
    }
    let mask_bytes = inputs.mask.as_ref().map_or(0, |m| m.bytes.len() as u64);
    let sent = if caps.max_total_bytes == u64::MAX {
        0
    } else {
        inputs.total_bytes() + mask_bytes
    };
    let sent = if caps.mask {
        sent
    } else {
        sent.saturating_mul(4) / 3
    };
    (sent > caps.max_total_bytes).then(|| {
        format!(
            "the inputs make a {sent}-byte request; {model} takes at most {}",
            caps.max_total_bytes
        )
    })
}

fn text_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn text_parts(fields: &Map<String, Value>) -> Vec<FormPart> {
    fields
        .iter()
        .filter_map(|(k, v)| {
            text_value(v).map(|t| FormPart {
                name: k.clone(),
                value: FormValue::Text(t),
            })
        })
        .collect()
}

fn image_part(name: &str, index: usize, format: ImageFormat) -> FormPart {
    FormPart {
        name: name.to_string(),
        value: FormValue::Input {
            index,
            filename: format!("image-{index}.{}", format.extension()),
            mime: format.mime(),
        },
    }
}

fn mask_part(bytes: Vec<u8>) -> FormPart {
    FormPart {
        name: "mask".into(),
        value: FormValue::File {
            bytes,
            filename: "mask.png".into(),
            mime: "image/png",
        },
    }
}

/// OpenAI `/v1/images/edits`: the generation fields as text parts, one
/// image as `image` or several as repeated `image[]` (caller's order, each
/// with its real type), the mask as `mask`.
pub fn openai_form(fields: &Map<String, Value>, inputs: &EditInputs) -> Payload {
    let mut parts = text_parts(fields);
    let name = if inputs.images.len() == 1 {
        "image"
    } else {
        "image[]"
    };
    for (i, img) in inputs.images.iter().enumerate() {
        parts.push(image_part(name, i, img.info.format));
    }
    if let Some(mask) = &inputs.mask {
        parts.push(mask_part(mask.bytes.to_vec()));
    }
    Payload::Form(parts)
}

/// Gemini: the request JSON with one `inlineData` part per image after the
/// text part; the base64 is spliced in by the transport.
pub fn gemini_payload(mut body: Value, inputs: &EditInputs) -> Payload {
    if let Some(parts) = body
        .pointer_mut("/contents/0/parts")
        .and_then(Value::as_array_mut)
    {
        for (i, img) in inputs.images.iter().enumerate() {
            parts.push(
                json!({"inlineData": {"mimeType": img.info.format.mime(), "data": placeholder(i)}}),
            );
        }
    }
    Payload::Spliced(splice(&body.to_string(), inputs.images.len()))
}

/// Stability: the route and form for an edit. With a mask → `edit/inpaint`
/// (mask converted to grayscale, white = change); without → image-to-image
/// on the generate route (`sd3`: `mode` + `strength`; `ultra`: `strength`).
/// `fields` are the generation fields (already merged with `params`).
pub fn stability_edit(
    endpoint: &str,
    mut fields: Map<String, Value>,
    params: &Map<String, Value>,
    inputs: &EditInputs,
) -> (String, Payload) {
    // Text-to-image only; invalid with an input image.
    if !params.contains_key("aspect_ratio") {
        fields.remove("aspect_ratio");
    }
    let route = match &inputs.mask {
        Some(_) => {
            fields.remove("model");
            "edit/inpaint".to_string()
        }
        None => {
            if endpoint == "sd3" && !params.contains_key("mode") {
                fields.insert("mode".into(), json!("image-to-image"));
            }
            if !params.contains_key("strength") {
                fields.insert("strength".into(), json!(0.7));
            }
            format!("generate/{endpoint}")
        }
    };
    let mut parts = text_parts(&fields);
    if let Some(img) = inputs.images.first() {
        parts.push(image_part("image", 0, img.info.format));
    }
    if let Some(mask) = &inputs.mask {
        parts.push(mask_part(mask.gray.to_vec()));
    }
    (route, Payload::Form(parts))
}
