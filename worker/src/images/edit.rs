//! `POST /v1/images/edits` without the platform: the multipart form's text
//! fields turned into the same request as generations ([`parse_fields`]),
//! and which file parts are the images (in order) and the mask. The files
//! themselves stay with the platform; only their part names come here.

use super::request::{parse_fields, Parsed, NUMBER_FIELDS};
use crate::error::ApiError;
use imagegen::inputs::MAX_IMAGES;
use serde_json::{Map, Value};

/// Largest edit request body: room for 16 large images.
pub const MAX_EDIT_BODY_BYTES: usize = 50 * 1024 * 1024;

/// Fields only OpenAI takes, forwarded to OpenAI entries on edits.
pub const EDIT_OPENAI_FIELDS: &[&str] = &["quality", "background", "user", "input_fidelity"];

/// An edit form: the request, and which file parts (by their index among
/// the form's files) are the images, in order, and the mask.
#[derive(Debug, Clone)]
pub struct EditForm {
    /// The request from the text fields, defaults applied.
    pub parsed: Parsed,
    /// Indices of the image files, in the form's order.
    pub images: Vec<usize>,
    /// Index of the mask file.
    pub mask: Option<usize>,
}

fn is_image_field(name: &str) -> bool {
    name == "image" || name == "image[]"
}

/// The `param` and message name of image `i` of `count`: `image` for one,
/// `image[i]` (zero-based, the client's list order) for several. Errors
/// about any image have `param: "image"`.
pub fn image_name(i: usize, count: usize) -> String {
    if count == 1 {
        "image".to_string()
    } else {
        format!("image[{i}]")
    }
}

/// Reads the form: `fields` are its text parts, `files` the names of its
/// file parts, both in order.
pub fn parse_form(
    fields: &[(String, String)],
    files: &[String],
    defaults: Option<&crate::config::Defaults>,
) -> Result<EditForm, ApiError> {
    let mut obj = Map::new();
    for (name, text) in fields {
        if is_image_field(name) || name == "mask" {
            let param = if name == "mask" { "mask" } else { "image" };
            return Err(ApiError::invalid(
                param,
                format!("`{name}` must be a file part, not text"),
            ));
        }
        if obj.contains_key(name) {
            return Err(ApiError::invalid(
                name,
                format!("`{name}` was sent more than once"),
            ));
        }
        let value = match text.trim().parse::<f64>() {
            Ok(n) if NUMBER_FIELDS.contains(&name.as_str()) && n.is_finite() => {
                serde_json::Number::from_f64(n).map_or(Value::String(text.clone()), Value::Number)
            }
            _ => Value::String(text.clone()),
        };
        obj.insert(name.clone(), value);
    }
    let (images, mask) = sort_files(files)?;
    let parsed = parse_fields(&obj, defaults, EDIT_OPENAI_FIELDS)?;
    Ok(EditForm {
        parsed,
        images,
        mask,
    })
}

fn sort_files(files: &[String]) -> Result<(Vec<usize>, Option<usize>), ApiError> {
    let mut images = Vec::new();
    let mut mask = None;
    for (i, name) in files.iter().enumerate() {
        if is_image_field(name) {
            images.push(i);
        } else if name == "mask" {
            if mask.is_some() {
                return Err(ApiError::invalid("mask", "`mask` was sent more than once"));
            }
            mask = Some(i);
        } else {
            return Err(ApiError::invalid(
                name,
                format!(
                    "unexpected file part `{name}`: images go in `image` (or repeated `image[]`), \
                     the mask in `mask`"
                ),
            ));
        }
    }
    if images.is_empty() {
        return Err(ApiError::invalid(
            "image",
            "`image` is required: send 1 to 16 image files as `image` or repeated `image[]`",
        ));
    }
    if images.len() > MAX_IMAGES {
        return Err(ApiError::invalid(
            "image",
            format!(
                "{} images were sent; at most {MAX_IMAGES} are accepted",
                images.len()
            ),
        ));
    }
    Ok((images, mask))
}

/// A library error about an input, with this endpoint's `param`: `image`
/// for any image, `mask` for the mask.
pub fn input_error(e: imagegen::Error) -> ApiError {
    let param = match e.param.as_deref() {
        Some(p) if p.starts_with("mask") => "mask",
        _ => "image",
    };
    ApiError::invalid(param, e.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Defaults;
    use imagegen::request::Number;

    fn text(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn param(r: Result<EditForm, ApiError>) -> String {
        r.unwrap_err().param.map(String::from).unwrap_or_default()
    }

    #[test]
    fn fields_map_like_generations() {
        let d = Defaults {
            quality: Some("high".into()),
            ..Default::default()
        };
        let f = parse_form(
            &text(&[
                ("prompt", "a hat"),
                ("n", "2"),
                ("seed", " 7 "),
                ("model", "openai"),
                ("size", "auto"),
                ("input_fidelity", "high"),
                ("moderation", "low"),
            ]),
            &names(&["image[]", "mask", "image[]"]),
            Some(&d),
        )
        .unwrap();
        assert_eq!(f.parsed.request.prompt.as_deref(), Some("a hat"));
        assert_eq!(f.parsed.request.count, Some(Number(2.0)));
        assert_eq!(f.parsed.request.seed, Some(Number(7.0)));
        assert_eq!(f.parsed.request.size, None);
        assert_eq!(f.parsed.openai_params["input_fidelity"], "high");
        assert_eq!(f.parsed.openai_params["quality"], "high");
        assert!(!f.parsed.openai_params.contains_key("moderation"));
        assert_eq!(f.images, vec![0, 2], "images in order, mask apart");
        assert_eq!(f.mask, Some(1));
    }

    #[test]
    fn form_errors_name_the_field() {
        let one = names(&["image"]);
        let p = |fields: &[(&str, &str)], files: &[String]| {
            param(parse_form(&text(fields), files, None))
        };
        assert_eq!(p(&[("n", "1")], &one), "prompt");
        assert_eq!(p(&[("prompt", "x"), ("n", "two")], &one), "n");
        assert_eq!(p(&[("prompt", "x"), ("prompt", "y")], &one), "prompt");
        assert_eq!(p(&[("prompt", "x"), ("image", "a.png")], &one), "image");
        assert_eq!(p(&[("prompt", "x"), ("mask", "m.png")], &one), "mask");
        assert_eq!(p(&[("prompt", "x")], &[]), "image");
        assert_eq!(p(&[("prompt", "x")], &names(&["mask"])), "image");
        assert_eq!(
            p(&[("prompt", "x")], &names(&["image", "mask", "mask"])),
            "mask"
        );
        assert_eq!(
            p(&[("prompt", "x")], &names(&["image", "prompt"])),
            "prompt"
        );
        assert_eq!(
            p(&[("prompt", "x")], &vec!["image[]".to_string(); 17]),
            "image"
        );
        assert_eq!(
            p(&[("prompt", "x"), ("output_format", "gif")], &one),
            "output_format"
        );
        assert!(parse_form(&text(&[("prompt", "x")]), &vec!["image[]".into(); 16], None).is_ok());
    }

    #[test]
    fn input_errors_get_image_or_mask() {
        let e = input_error(imagegen::Error::invalid("image[3]", "bad"));
        assert_eq!(e.param.as_deref(), Some("image"));
        assert_eq!(e.status, 400);
        let e = input_error(imagegen::Error::invalid("images", "bad"));
        assert_eq!(e.param.as_deref(), Some("image"));
        let e = input_error(imagegen::Error::invalid("mask", "bad"));
        assert_eq!(e.param.as_deref(), Some("mask"));
        assert_eq!(image_name(0, 1), "image");
        assert_eq!(image_name(2, 3), "image[2]");
    }
}
