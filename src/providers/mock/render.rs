//! The mock's images: SVGs that show the prompt on a gradient.

use crate::geometry::Size;
use crate::providers::standard_base64;
use crate::request::ImageRequest;

/// Output size: the requested size, else the aspect ratio at a 1024 long
/// edge, else 1024×1024.
pub(crate) fn output_size(req: &ImageRequest) -> Size {
    if let Some(s) = req.size {
        return s;
    }
    if let Some(r) = req.aspect_ratio {
        let v = r.value();
        return if v >= 1.0 {
            Size::new(1024, ((1024.0 / v).round() as u32).max(1))
        } else {
            Size::new(((1024.0 * v).round() as u32).max(1), 1024)
        };
    }
    Size::new(1024, 1024)
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Splits a prompt into at most `max_lines` lines of about `width` characters.
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().take(width).collect();
        if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

/// An SVG that shows the prompt on a gradient whose colours come from `seed`.
pub fn render_svg(prompt: &str, size: Size, seed: u32) -> String {
    // Integer arithmetic only: float formatting would add kilobytes to the wasm.
    let (w, h) = (i64::from(size.w), i64::from(size.h));
    let hue1 = seed % 360;
    let hue2 = (hue1 + 137) % 360;
    let hue3 = (hue1 + 240) % 360;
    let unit = w.min(h);
    let font = (unit / 14).max(8);
    let chars_per_line = ((w * 85 / 100) / (font * 55 / 100).max(1)).clamp(8, 60) as usize;
    let lines = wrap(prompt, chars_per_line, 8);
    let line_height = font * 5 / 4;
    let text_top = h / 2 - line_height * (lines.len() as i64 - 1) / 2;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
<stop offset=\"0\" stop-color=\"hsl({hue1},70%,55%)\"/><stop offset=\"1\" stop-color=\"hsl({hue2},65%,30%)\"/>\
</linearGradient></defs><rect width=\"{w}\" height=\"{h}\" fill=\"url(#g)\"/>\
<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"hsl({hue3},80%,75%)\" opacity=\"0.3\"/>",
        cx = (i64::from(seed) * 7919) % w.max(1),
        cy = (i64::from(seed) * 104_729) % h.max(1),
        r = unit * 35 / 100,
    );
    for (i, line) in lines.iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"50%\" y=\"{y}\" font-family=\"sans-serif\" font-size=\"{font}\" fill=\"#fff\" text-anchor=\"middle\">{}</text>",
            escape_xml(line),
            y = text_top + line_height * i as i64,
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{x}\" y=\"{y}\" font-family=\"monospace\" font-size=\"{small}\" fill=\"#fff\" opacity=\"0.8\" text-anchor=\"end\">imagegen mock · seed {seed}</text></svg>",
        x = w - font / 2,
        y = h - font / 2,
        small = (font / 2).max(6),
    ));
    svg
}

/// Makes `count` SVG images of `size`, as (seed, standard base64).
/// Seeds count up from `seed`, or come from `next_seed` when there is none.
pub fn generate(
    prompt: &str,
    size: Size,
    count: u32,
    seed: Option<u32>,
    mut next_seed: impl FnMut() -> u32,
) -> Vec<(u32, String)> {
    (0..count)
        .map(|i| {
            let seed = match seed {
                Some(s) => s.wrapping_add(i),
                None => next_seed(),
            };
            let svg = render_svg(prompt, size, seed);
            (seed, standard_base64(svg.as_bytes()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_shows_the_escaped_prompt_and_seed_colours() {
        let svg = render_svg("a <cat> & \"dog\"", Size::new(1024, 576), 42);
        assert!(svg.contains("a &lt;cat&gt; &amp; &quot;dog&quot;"));
        assert!(svg.contains("hsl(42,70%,55%)"));
        assert!(svg.contains("width=\"1024\" height=\"576\""));
        assert_ne!(
            svg,
            render_svg("a <cat> & \"dog\"", Size::new(1024, 576), 43)
        );
    }

    #[test]
    fn long_prompts_wrap_and_truncate() {
        let lines = wrap(&"word ".repeat(200), 20, 8);
        assert_eq!(lines.len(), 8);
        assert!(lines.iter().all(|l| l.chars().count() <= 21));
        assert!(lines.last().unwrap().ends_with('…'));
    }
}
