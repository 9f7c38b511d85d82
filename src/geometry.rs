//! Sizes and aspect ratios, and the nearest-match rules used to re-map them
//! between providers.

use std::fmt;

/// Width × height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Size {
    /// A size.
    pub const fn new(w: u32, h: u32) -> Self {
        Size { w, h }
    }

    /// Parses `"WxH"` (each side 1..=16384).
    pub fn parse(s: &str) -> Option<Size> {
        let (w, h) = s.trim().split_once(['x', 'X'])?;
        let w = parse_dimension(w, 16_384)?;
        let h = parse_dimension(h, 16_384)?;
        Some(Size { w, h })
    }

    /// width / height.
    pub fn ratio(self) -> f64 {
        f64::from(self.w) / f64::from(self.h)
    }

    /// The longer side.
    pub fn long_edge(self) -> u32 {
        self.w.max(self.h)
    }

    /// Pixel count.
    pub fn pixels(self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.w, self.h)
    }
}

/// An aspect ratio `W:H`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    /// Width part.
    pub w: u32,
    /// Height part.
    pub h: u32,
}

impl Ratio {
    /// A ratio.
    pub const fn new(w: u32, h: u32) -> Self {
        Ratio { w, h }
    }

    /// Parses `"W:H"` (each part 1..=1000).
    pub fn parse(s: &str) -> Option<Ratio> {
        let (w, h) = s.trim().split_once(':')?;
        let w = parse_dimension(w, 1000)?;
        let h = parse_dimension(h, 1000)?;
        Some(Ratio { w, h })
    }

    /// width / height.
    pub fn value(self) -> f64 {
        f64::from(self.w) / f64::from(self.h)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.w, self.h)
    }
}

fn parse_dimension(s: &str, max: u32) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (1..=max).contains(&v).then_some(v)
}

/// Distance between two ratios on a log scale, so 2:1 and 1:2 are equally far from 1:1.
fn ratio_distance(a: f64, b: f64) -> f64 {
    (a.ln() - b.ln()).abs()
}

/// The allowed ratio closest to `target` (first wins on ties).
pub fn nearest_ratio(target: f64, allowed: &[Ratio]) -> Option<Ratio> {
    let mut best: Option<(Ratio, f64)> = None;
    for &r in allowed {
        let d = ratio_distance(target, r.value());
        if best.is_none_or(|(_, bd)| d < bd - 1e-12) {
            best = Some((r, d));
        }
    }
    best.map(|(r, _)| r)
}

/// The allowed size closest in shape to `target`, then in area.
pub fn nearest_size(target: Size, allowed: &[Size]) -> Option<Size> {
    let mut best: Option<(Size, f64, f64)> = None;
    for &s in allowed {
        let d = ratio_distance(target.ratio(), s.ratio());
        let area = (target.pixels() as f64 - s.pixels() as f64).abs();
        let better = match best {
            None => true,
            Some((_, bd, ba)) => d < bd - 1e-9 || ((d - bd).abs() <= 1e-9 && area < ba),
        };
        if better {
            best = Some((s, d, area));
        }
    }
    best.map(|(s, _, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_ratios() {
        assert_eq!(Size::parse("1024x768"), Some(Size::new(1024, 768)));
        assert_eq!(Size::parse(" 16X9 "), Some(Size::new(16, 9)));
        for bad in [
            "abc",
            "0x10",
            "10x",
            "x10",
            "1.5x2",
            "-1x2",
            "99999x1",
            "1024*1024",
        ] {
            assert_eq!(Size::parse(bad), None, "{bad}");
        }
        assert_eq!(Ratio::parse("16:9"), Some(Ratio::new(16, 9)));
        for bad in ["16/9", "0:1", "a:b", ":", "1:"] {
            assert_eq!(Ratio::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn nearest_matches() {
        let allowed = [
            Ratio::new(1, 1),
            Ratio::new(16, 9),
            Ratio::new(9, 16),
            Ratio::new(5, 4),
        ];
        assert_eq!(nearest_ratio(4.0 / 3.0, &allowed), Some(Ratio::new(5, 4)));
        assert_eq!(nearest_ratio(2.0, &allowed), Some(Ratio::new(16, 9)));
        assert_eq!(nearest_ratio(0.5, &allowed), Some(Ratio::new(9, 16)));
        let sizes = [
            Size::new(1024, 1024),
            Size::new(1536, 1024),
            Size::new(1024, 1536),
        ];
        assert_eq!(
            nearest_size(Size::new(512, 512), &sizes),
            Some(Size::new(1024, 1024))
        );
        assert_eq!(
            nearest_size(Size::new(1920, 1080), &sizes),
            Some(Size::new(1536, 1024))
        );
        assert_eq!(
            nearest_size(Size::new(600, 1000), &sizes),
            Some(Size::new(1024, 1536))
        );
        assert_eq!(nearest_ratio(1.0, &[]), None);
    }
}
