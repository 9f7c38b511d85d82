//! Image inputs: format and size from the bytes, the rules for a set of
//! inputs, and mask conversion to Stability's grayscale convention.
#![cfg(not(target_arch = "wasm32"))]

use imagegen::inputs::png::{read_mask, to_gray_mask, MAX_MASK_PIXELS};
use imagegen::inputs::sniff::{jpeg_from, sniff, sniff_all, Step, HEADER_BYTES};
use imagegen::inputs::{check_set, ImageFormat, Sniffed};
use imagegen::ErrorCode;
use proptest::prelude::*;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(&[0, 0, 0, 0]); // CRC is not checked by the reader
}

/// A PNG from unfiltered rows, each row stored with the given filter type
/// (the filter is applied here so the reader must undo it).
fn png(
    w: u32,
    h: u32,
    depth: u8,
    color: u8,
    rows: &[Vec<u8>],
    extra: &[(&[u8; 4], Vec<u8>)],
) -> Vec<u8> {
    let channels = match color {
        0 | 3 => 1,
        2 => 3,
        4 => 2,
        _ => 4,
    };
    let bpp = ((channels * depth as usize) / 8).max(1);
    let mut raw = Vec::new();
    for (y, row) in rows.iter().enumerate() {
        let filter = (y % 5) as u8;
        raw.push(filter);
        let prev: Vec<u8> = if y == 0 {
            vec![0; row.len()]
        } else {
            rows[y - 1].clone()
        };
        for x in 0..row.len() {
            let a = if x >= bpp { row[x - bpp] } else { 0 };
            let b = prev[x];
            let c = if x >= bpp { prev[x - bpp] } else { 0 };
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                _ => {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
            };
            raw.push(row[x].wrapping_sub(pred));
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    for (kind, body) in extra {
        chunk(&mut out, kind, body);
    }
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
    // Split the data over two IDAT chunks: the reader must join them.
    let (a, b) = z.split_at(z.len() / 2);
    chunk(&mut out, b"IDAT", a);
    chunk(&mut out, b"IDAT", b);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// An RGBA mask of w×h, transparent where `clear(x, y)`.
fn rgba_mask(w: u32, h: u32, clear: impl Fn(u32, u32) -> bool) -> Vec<u8> {
    let rows: Vec<Vec<u8>> = (0..h)
        .map(|y| {
            (0..w)
                .flat_map(|x| {
                    [
                        (x as u8).wrapping_mul(7),
                        (y as u8).wrapping_mul(3),
                        90,
                        if clear(x, y) { 0 } else { 255 },
                    ]
                })
                .collect()
        })
        .collect();
    png(w, h, 8, 6, &rows, &[])
}

/// Decodes the library's grayscale output: (width, height, pixels).
fn decode_gray(png: &[u8]) -> (u32, u32, Vec<u8>) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(
        &png[24..29],
        &[8, 0, 0, 0, 0],
        "8-bit grayscale, not interlaced"
    );
    let mut at = 8;
    let mut data = Vec::new();
    while at < png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
        let kind = &png[at + 4..at + 8];
        let body = &png[at + 8..at + 8 + len];
        let crc = u32::from_be_bytes(png[at + 8 + len..at + 12 + len].try_into().unwrap());
        assert_eq!(
            crc,
            crc32(&png[at + 4..at + 8 + len]),
            "CRC of {:?}",
            std::str::from_utf8(kind)
        );
        if kind == b"IDAT" {
            data.extend_from_slice(body);
        }
        at += 12 + len;
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&data).unwrap();
    let mut px = Vec::new();
    for row in raw.chunks(w as usize + 1) {
        assert_eq!(row[0], 0, "rows are written unfiltered");
        px.extend_from_slice(&row[1..]);
    }
    (w, h, px)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn jpeg(w: u16, h: u16, app_bytes: usize) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // Metadata segments (as a camera's EXIF block would be) before the frame header.
    let mut left = app_bytes;
    while left > 0 {
        let n = left.min(65_000);
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((n + 2) as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(0x41u8, n));
        left -= n;
    }
    out.extend_from_slice(&[0xFF, 0xC2, 0x00, 0x11, 0x08]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0xFF, 0xDA, 0, 2, 0xFF, 0xD9]);
    out
}

fn sniffed(format: ImageFormat, width: u32, height: u32) -> Sniffed {
    Sniffed {
        format,
        width,
        height,
    }
}

#[test]
fn png_jpeg_and_webp_are_known_by_their_bytes() {
    let p = rgba_mask(5, 3, |_, _| false);
    assert_eq!(
        sniff_all(&p, "images[0]").unwrap(),
        sniffed(ImageFormat::Png, 5, 3)
    );
    assert_eq!(
        sniff_all(&jpeg(640, 480, 100), "images[0]").unwrap(),
        sniffed(ImageFormat::Jpeg, 640, 480)
    );

    let mut lossy = b"RIFF\0\0\0\0WEBPVP8 \0\0\0\0".to_vec();
    lossy.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]);
    lossy.extend_from_slice(&1024u16.to_le_bytes());
    lossy.extend_from_slice(&(768u16 | 0x4000).to_le_bytes()); // scale bits are not size
    assert_eq!(
        sniff_all(&lossy, "i").unwrap(),
        sniffed(ImageFormat::Webp, 1024, 768)
    );

    let mut lossless = b"RIFF\0\0\0\0WEBPVP8L\0\0\0\0\x2f".to_vec();
    let bits: u32 = (300 - 1) | ((200 - 1) << 14);
    lossless.extend_from_slice(&bits.to_le_bytes());
    assert_eq!(
        sniff_all(&lossless, "i").unwrap(),
        sniffed(ImageFormat::Webp, 300, 200)
    );

    let mut extended = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\x10\0\0\0".to_vec();
    extended.extend_from_slice(&(4095u32).to_le_bytes()[..3]);
    extended.extend_from_slice(&(2047u32).to_le_bytes()[..3]);
    assert_eq!(
        sniff_all(&extended, "i").unwrap(),
        sniffed(ImageFormat::Webp, 4096, 2048)
    );
}

#[test]
fn other_bytes_are_refused_with_the_field_named() {
    for bytes in [
        &b"GIF89a\x01\x00\x01\x00"[..],
        b"<svg xmlns=",
        b"",
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0",
    ] {
        let e = sniff(bytes, "images[2]").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.param.as_deref(), Some("images[2]"));
        assert!(e.message.contains("images[2]"), "{}", e.message);
    }
}

#[test]
fn a_jpeg_frame_header_past_the_prefix_is_found_by_reading_further() {
    let big = jpeg(1536, 1024, 200_000);
    let prefix = &big[..HEADER_BYTES];
    let mut step = sniff(prefix, "images[0]").unwrap();
    let mut reads = 0;
    let found = loop {
        match step {
            Step::Done(s) => break s,
            Step::Need { offset, len } => {
                reads += 1;
                let from = offset as usize;
                let chunk = &big[from..(from + len).min(big.len())];
                step = jpeg_from(chunk, offset, "images[0]").unwrap();
            }
        }
    };
    assert_eq!(found, sniffed(ImageFormat::Jpeg, 1536, 1024));
    assert!((1..=4).contains(&reads), "{reads} further reads");
}

#[test]
fn a_cut_or_looping_jpeg_is_refused() {
    let whole = jpeg(10, 10, 1000);
    let cut = &whole[..600];
    assert_eq!(
        sniff_all(cut, "images[0]").unwrap_err().param.as_deref(),
        Some("images[0]")
    );
    // A segment claiming length 0 would loop on the same marker.
    let looping = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0xFF, 0xE0];
    assert!(sniff_all(&looping, "images[0]").is_err());
    // Start of scan before any frame header.
    assert!(sniff_all(&[0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02], "images[0]").is_err());
}

#[test]
fn the_set_rules() {
    let png = sniffed(ImageFormat::Png, 64, 64);
    let jpg = sniffed(ImageFormat::Jpeg, 64, 64);
    assert!(check_set(&[jpg], Some(png)).is_ok());
    assert!(check_set(&[jpg; 16], None).is_ok());
    let e = check_set(&[jpg; 17], None).unwrap_err();
    assert_eq!(
        (e.code, e.param.as_deref()),
        (ErrorCode::InvalidRequest, Some("images"))
    );
    let e = check_set(&[], Some(png)).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("mask"));
    let e = check_set(&[jpg], Some(jpg)).unwrap_err();
    assert!(e.message.contains("PNG"), "{}", e.message);
    let e = check_set(&[jpg], Some(sniffed(ImageFormat::Png, 64, 32))).unwrap_err();
    assert_eq!(e.param.as_deref(), Some("mask"));
    assert!(
        e.message.contains("64x32") && e.message.contains("64x64"),
        "{}",
        e.message
    );
}

#[test]
fn an_rgba_mask_becomes_white_where_transparent() {
    let (w, h) = (37u32, 21u32);
    let inside = |x: u32, y: u32| (10..20).contains(&x) && (5..15).contains(&y);
    let gray = to_gray_mask(&rgba_mask(w, h, inside)).unwrap();
    let (gw, gh, px) = decode_gray(&gray);
    assert_eq!((gw, gh), (w, h));
    for y in 0..h {
        for x in 0..w {
            let want = if inside(x, y) { 255 } else { 0 };
            assert_eq!(px[(y * w + x) as usize], want, "pixel {x},{y}");
        }
    }
}

#[test]
fn masks_of_every_transparent_png_kind_are_read() {
    // Gray + alpha, 16-bit: only alpha 0 counts, not "mostly transparent".
    let rows: Vec<Vec<u8>> = (0..4)
        .map(|y| {
            (0..6u16)
                .flat_map(|x| {
                    let a: u16 = if x == y {
                        0
                    } else if x == 0 {
                        1
                    } else {
                        0xFFFF
                    };
                    let mut v = 0x1234u16.to_be_bytes().to_vec();
                    v.extend_from_slice(&a.to_be_bytes());
                    v
                })
                .collect()
        })
        .collect();
    let m = read_mask(&png(6, 4, 16, 4, &rows, &[])).unwrap();
    let changed: Vec<usize> = m
        .change
        .iter()
        .enumerate()
        .filter(|(_, c)| **c)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(changed, vec![0, 7, 14, 21]);

    // Palette with tRNS, 2-bit indices: index 2 is transparent.
    let rows = vec![
        vec![0b00_01_10_11, 0b10_00_00_00],
        vec![0b11_11_11_11, 0b11_00_00_00],
    ];
    let extra = [(b"PLTE", vec![0u8; 12]), (b"tRNS", vec![255, 255, 0, 255])];
    let m = read_mask(&png(5, 2, 2, 3, &rows, &extra)).unwrap();
    assert_eq!(
        m.change,
        vec![false, false, true, false, true, false, false, false, false, false]
    );

    // RGB with a colour key: the key colour is the transparent one.
    let rows = vec![vec![1, 2, 3, 9, 9, 9], vec![9, 9, 9, 1, 2, 3]];
    let extra = [(b"tRNS", vec![0, 1, 0, 2, 0, 3])];
    let m = read_mask(&png(2, 2, 8, 2, &rows, &extra)).unwrap();
    assert_eq!(m.change, vec![true, false, false, true]);
}

#[test]
fn masks_that_cannot_be_read_are_refused_on_the_mask_field() {
    let opaque = png(2, 2, 8, 2, &[vec![0; 6], vec![0; 6]], &[]);
    let e = read_mask(&opaque).unwrap_err();
    assert_eq!(
        (e.code, e.param.as_deref()),
        (ErrorCode::InvalidRequest, Some("mask"))
    );
    assert!(e.message.contains("transparen"), "{}", e.message);

    let mut truncated = rgba_mask(8, 8, |x, _| x < 4);
    truncated.truncate(truncated.len() - 30);
    assert_eq!(
        read_mask(&truncated).unwrap_err().param.as_deref(),
        Some("mask")
    );

    let huge = {
        let side = (MAX_MASK_PIXELS as f64).sqrt() as u32 + 1;
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = side.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&side.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        chunk(&mut p, b"IHDR", &ihdr);
        chunk(&mut p, b"IEND", &[]);
        p
    };
    assert!(read_mask(&huge).unwrap_err().message.contains("larger"));
    assert!(read_mask(&jpeg(4, 4, 0))
        .unwrap_err()
        .message
        .contains("PNG"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn no_bytes_make_the_readers_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..400) {
        let _ = sniff_all(&bytes, "images[0]");
        let _ = read_mask(&bytes);
        let mut p = rgba_mask(6, 5, |x, y| x == y);
        let n = cut.min(p.len());
        p.truncate(n);
        p.extend_from_slice(&bytes);
        let _ = read_mask(&p);
        let _ = sniff_all(&p, "mask");
    }
}

mod bodies {
    use imagegen::inputs::body::{
        placeholder, render, splice, FormPart, FormValue, Payload, Piece,
    };
    use std::rc::Rc;

    #[test]
    fn json_is_split_at_each_placeholder_and_only_there() {
        let value = serde_json::json!({
            "contents": [{"parts": [
                {"text": format!("\"{}\" stays text", placeholder(0))},
                {"inlineData": {"mimeType": "image/png", "data": placeholder(0)}},
                {"inlineData": {"mimeType": "image/jpeg", "data": placeholder(1)}},
            ]}]
        });
        let text = value.to_string();
        let pieces = splice(&text, 2);
        let bases: Vec<usize> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Base64(i) => Some(*i),
                _ => None,
            })
            .collect();
        assert_eq!(bases, vec![0, 1]);
        let inputs: Vec<Rc<[u8]>> = vec![
            Rc::from(&b"\x89PNG-ish"[..]),
            Rc::from(&b"\xff\xd8\xff"[..]),
        ];
        let (ctype, body) = render(&Payload::Spliced(pieces), &inputs);
        assert_eq!(ctype, "application/json");
        let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let parts = &back["contents"][0]["parts"];
        assert_eq!(
            parts[0]["text"],
            format!("\"{}\" stays text", placeholder(0))
        );
        assert_eq!(parts[1]["inlineData"]["data"], "iVBORy1pc2g=");
        assert_eq!(parts[2]["inlineData"]["data"], "/9j/");
    }

    #[test]
    fn a_form_renders_as_multipart_with_a_boundary_not_in_the_content() {
        let inputs: Vec<Rc<[u8]>> = vec![Rc::from(&b"one --imagegen-boundary two"[..])];
        let payload = Payload::Form(vec![
            FormPart {
                name: "prompt".into(),
                value: FormValue::Text("a cat".into()),
            },
            FormPart {
                name: "image[]".into(),
                value: FormValue::Input {
                    index: 0,
                    filename: "image-0.png".into(),
                    mime: "image/png",
                },
            },
            FormPart {
                name: "mask".into(),
                value: FormValue::File {
                    bytes: b"MASK".to_vec(),
                    filename: "mask.png".into(),
                    mime: "image/png",
                },
            },
        ]);
        let (ctype, body) = render(&payload, &inputs);
        let boundary = ctype
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_string();
        assert_ne!(
            boundary, "imagegen-boundary",
            "the boundary must not occur in a part"
        );
        let text = String::from_utf8_lossy(&body);
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 3);
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert!(text.contains("name=\"prompt\"\r\n\r\na cat\r\n"));
        assert!(text.contains("name=\"image[]\"; filename=\"image-0.png\"\r\nContent-Type: image/png\r\n\r\none --imagegen-boundary two\r\n"));
        assert!(text.contains(
            "name=\"mask\"; filename=\"mask.png\"\r\nContent-Type: image/png\r\n\r\nMASK\r\n"
        ));
    }
}

mod edit_requests {
    use super::{jpeg, rgba_mask};
    use imagegen::inputs::body::{render, FormValue, Payload};
    use imagegen::inputs::{EditInputs, Input, MaskInput};
    use imagegen::providers::edit::{
        gemini, gemini_payload, input_problem, openai_form, stability, stability_edit, NO_INPUTS,
        OPENAI_GPT_IMAGE,
    };
    use serde_json::{json, Map, Value};

    fn inputs(images: &[Vec<u8>], mask: Option<Vec<u8>>) -> EditInputs {
        let images = images
            .iter()
            .enumerate()
            .map(|(i, b)| Input::from_bytes(b.clone(), &format!("images[{i}]")).unwrap())
            .collect();
        EditInputs::new(images, mask.map(|m| MaskInput::from_bytes(m).unwrap())).unwrap()
    }

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// (name, filename, content type, bytes) of a part.
    type Part = (String, Option<String>, Option<String>, Vec<u8>);

    /// Each part of a form, with the inputs' bytes in place.
    fn parts(p: &Payload, e: &EditInputs) -> Vec<Part> {
        let Payload::Form(form) = p else {
            panic!("not a form")
        };
        let data = e.data();
        form.iter()
            .map(|part| match &part.value {
                FormValue::Text(t) => (part.name.clone(), None, None, t.as_bytes().to_vec()),
                FormValue::Input {
                    index,
                    filename,
                    mime,
                } => (
                    part.name.clone(),
                    Some(filename.clone()),
                    Some(mime.to_string()),
                    data[*index].to_vec(),
                ),
                FormValue::File {
                    bytes,
                    filename,
                    mime,
                } => (
                    part.name.clone(),
                    Some(filename.clone()),
                    Some(mime.to_string()),
                    bytes.clone(),
                ),
            })
            .collect()
    }

    #[test]
    fn openai_gets_image_or_repeated_image_parts_with_real_types_and_the_mask() {
        let png = rgba_mask(8, 6, |_, _| false);
        let jpg = jpeg(8, 6, 10);
        let mask = rgba_mask(8, 6, |x, _| x < 3);
        let one = inputs(std::slice::from_ref(&png), None);
        let f =
            fields(json!({"model": "gpt-image-2", "prompt": "a hat", "n": 2, "quality": "medium"}));
        let got = parts(&openai_form(&f, &one), &one);
        let names: Vec<&str> = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["model", "n", "prompt", "quality", "image"]);
        assert_eq!(got[1].3, b"2");
        assert_eq!(got[4].2.as_deref(), Some("image/png"));
        assert_eq!(got[4].3, png);

        let three = inputs(&[jpg.clone(), png.clone(), jpg.clone()], Some(mask.clone()));
        let got = parts(&openai_form(&f, &three), &three);
        let files: Vec<(&str, Option<&str>)> = got
            .iter()
            .filter(|p| p.1.is_some())
            .map(|p| (p.0.as_str(), p.2.as_deref()))
            .collect();
        assert_eq!(
            files,
            [
                ("image[]", Some("image/jpeg")),
                ("image[]", Some("image/png")),
                ("image[]", Some("image/jpeg")),
                ("mask", Some("image/png"))
            ]
        );
        assert_eq!(
            got.last().unwrap().3,
            mask,
            "OpenAI takes the mask as given"
        );
    }

    #[test]
    fn gemini_gets_inline_parts_after_the_text_in_order() {
        let png = rgba_mask(4, 4, |_, _| false);
        let jpg = jpeg(4, 4, 0);
        let e = inputs(&[png.clone(), jpg.clone()], None);
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "swap the sofa"}]}], "generationConfig": {}});
        let (ctype, bytes) = render(&gemini_payload(body, &e), &e.data());
        assert_eq!(ctype, "application/json");
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let parts = v["contents"][0]["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0]["text"], "swap the sofa");
        assert_eq!(parts[1]["inlineData"]["mimeType"], "image/png");
        assert_eq!(parts[2]["inlineData"]["mimeType"], "image/jpeg");
        let decoded = miniz_free_base64(parts[2]["inlineData"]["data"].as_str().unwrap());
        assert_eq!(decoded, jpg);
    }

    fn miniz_free_base64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let clean: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
        let mut out = Vec::new();
        for chunk in clean.chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                n |= u32::from(val(*c)) << (18 - 6 * i);
            }
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }

    #[test]
    fn stability_inpaints_with_a_grayscale_mask_and_otherwise_does_image_to_image() {
        let png = rgba_mask(64, 64, |_, _| false);
        let mask = rgba_mask(64, 64, |x, y| x < 10 && y < 10);
        let f = fields(
            json!({"prompt": "a hat", "aspect_ratio": "1:1", "output_format": "png", "model": "sd3.5-large"}),
        );

        let e = inputs(std::slice::from_ref(&png), Some(mask));
        let (route, payload) = stability_edit("sd3", f.clone(), &Map::new(), &e);
        assert_eq!(route, "edit/inpaint");
        let got = parts(&payload, &e);
        let names: Vec<&str> = got.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(names, ["output_format", "prompt", "image", "mask"]);
        let gray = imagegen::inputs::png::read_mask(&got[3].3);
        assert!(
            gray.is_err(),
            "the grayscale mask has no alpha: it is Stability's convention, not OpenAI's"
        );
        assert_eq!(&got[3].3[24..26], &[8, 0], "8-bit grayscale");

        let e = inputs(std::slice::from_ref(&png), None);
        let (route, payload) = stability_edit("sd3", f.clone(), &Map::new(), &e);
        assert_eq!(route, "generate/sd3");
        let got = parts(&payload, &e);
        let text = |name: &str| {
            got.iter()
                .find(|p| p.0 == name)
                .map(|p| String::from_utf8(p.3.clone()).unwrap())
        };
        assert_eq!(text("mode").as_deref(), Some("image-to-image"));
        assert_eq!(text("strength").as_deref(), Some("0.7"));
        assert_eq!(
            text("aspect_ratio"),
            None,
            "aspect_ratio is text-to-image only"
        );
        assert_eq!(text("model").as_deref(), Some("sd3.5-large"));

        let params = fields(json!({"strength": 0.35}));
        let mut f2 = f.clone();
        f2.insert("strength".into(), json!(0.35));
        let (route, payload) = stability_edit("ultra", f2, &params, &e);
        assert_eq!(route, "generate/ultra");
        let got = parts(&payload, &e);
        assert!(got.iter().all(|p| p.0 != "mode"));
        assert_eq!(got.iter().filter(|p| p.0 == "strength").count(), 1);
        assert!(got.iter().any(|p| p.0 == "strength" && p.3 == b"0.35"));
    }

    #[test]
    fn capabilities_say_why_an_entry_cannot_take_the_inputs() {
        let small = rgba_mask(32, 32, |_, _| false);
        let big_enough = rgba_mask(64, 64, |_, _| false);
        let mask = rgba_mask(32, 32, |x, _| x == 0);
        let with_mask = inputs(std::slice::from_ref(&small), Some(mask));
        assert_eq!(
            input_problem(&OPENAI_GPT_IMAGE, "gpt-image-2", &with_mask),
            None
        );
        assert!(input_problem(&gemini(14), "gemini-x", &with_mask)
            .unwrap()
            .contains("mask"));
        assert!(input_problem(&NO_INPUTS, "dall-e-3", &with_mask)
            .unwrap()
            .contains("does not take"));
        let bare = inputs(std::slice::from_ref(&big_enough), None);
        let why = input_problem(&stability(false), "core", &bare).unwrap();
        assert!(why.contains("only with a mask"), "{why}");
        assert_eq!(input_problem(&stability(true), "sd3", &bare), None);
        // Stability needs sides of 64 px.
        assert!(input_problem(&stability(true), "sd3", &with_mask)
            .unwrap()
            .contains("64"));
        let four = inputs(&vec![small.clone(); 4], None);
        assert!(input_problem(&gemini(3), "gemini-2.5-flash-image", &four)
            .unwrap()
            .contains("at most 3"));
        assert_eq!(input_problem(&gemini(14), "g", &four), None);
        let big = inputs(&[jpeg(4000, 3000, 8 * 1024 * 1024)], None);
        assert!(input_problem(&stability(true), "sd3", &big)
            .unwrap()
            .contains("pixels"));
        let heavy = inputs(&[jpeg(2000, 2000, 11 * 1024 * 1024)], None);
        assert!(input_problem(&stability(true), "sd3", &heavy)
            .unwrap()
            .contains("bytes"));
    }
}
