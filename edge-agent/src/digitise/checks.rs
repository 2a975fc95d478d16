//! Automatic page checks: blank, too dark, too light, skewed (with an estimated angle).
//!
//! Pure functions over a greyscale picture; they flag, staff decide.

use image::GrayImage;
use rong_protocol::digitise::PageCheck;

/// Mean brightness below this is "too dark".
pub const DARK_MEAN: u8 = 70;
/// Mean brightness above this is "too light" (beyond ordinary white paper).
pub const LIGHT_MEAN: u8 = 250;
/// A page with fewer ink pixels than this share is blank.
pub const BLANK_INK: f64 = 0.002;
/// Skew at or beyond this many degrees is flagged.
pub const SKEW_FLAG_DEG: f32 = 0.5;
/// The skew search range, degrees either way.
pub const SKEW_RANGE_DEG: f32 = 5.0;
/// Long side of the copy the checks work on.
const WORK_SIDE: u32 = 1000;

/// Runs every check on a page.
pub fn check_page(grey: &GrayImage) -> Vec<PageCheck> {
    let small = downscale(grey);
    let mut out = Vec::new();
    let mean = mean(&small);
    let ink = ink_points(&small);
    let area = (small.width() as f64 * small.height() as f64).max(1.0);
    let blank = (ink.len() as f64) / area < BLANK_INK;
    if blank {
        out.push(PageCheck::Blank);
    }
    if mean < DARK_MEAN {
        out.push(PageCheck::TooDark { mean });
    } else if mean > LIGHT_MEAN {
        out.push(PageCheck::TooLight { mean });
    }
    if !blank && mean >= DARK_MEAN {
        if let Some(deg) = skew_of_points(&ink) {
            if deg.abs() >= SKEW_FLAG_DEG {
                out.push(PageCheck::Skewed {
                    degrees: (deg * 10.0).round() / 10.0,
                });
            }
        }
    }
    out
}

fn downscale(grey: &GrayImage) -> GrayImage {
    let long = grey.width().max(grey.height());
    if long <= WORK_SIDE {
        return grey.clone();
    }
    let f = WORK_SIDE as f64 / long as f64;
    let w = ((grey.width() as f64 * f).round() as u32).max(1);
    let h = ((grey.height() as f64 * f).round() as u32).max(1);
    image::imageops::thumbnail(grey, w, h)
}

/// Mean brightness, 0–255.
pub fn mean(grey: &GrayImage) -> u8 {
    let n = grey.as_raw().len().max(1) as u64;
    let sum: u64 = grey.as_raw().iter().map(|&v| u64::from(v)).sum();
    (sum / n) as u8
}

/// The dark pixels: those clearly darker than the paper (its 90th percentile).
fn ink_points(grey: &GrayImage) -> Vec<(f32, f32)> {
    let mut hist = [0u64; 256];
    for &v in grey.as_raw() {
        hist[v as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let mut acc = 0;
    let mut paper = 255u8;
    for (v, &n) in hist.iter().enumerate() {
        acc += n;
        if acc * 10 >= total * 9 {
            paper = v as u8;
            break;
        }
    }
    // Ink must stand well apart from the paper; on a dark or flat page nothing does.
    let Some(threshold) = paper.checked_sub(80) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (x, y, p) in grey.enumerate_pixels() {
        if p.0[0] < threshold {
            out.push((x as f32, y as f32));
        }
    }
    out
}

/// Estimated skew of a page, degrees, positive clockwise: the angle whose horizontal
/// projection of the ink is sharpest. `None` when there is too little ink to tell.
pub fn estimate_skew(grey: &GrayImage) -> Option<f32> {
    skew_of_points(&ink_points(&downscale(grey)))
}

fn skew_of_points(points: &[(f32, f32)]) -> Option<f32> {
    if points.len() < 200 {
        return None;
    }
    // Enough points for a sharp profile, few enough to stay fast on a Pi.
    let stride = (points.len() / 40_000).max(1);
    let pts: Vec<(f32, f32)> = points.iter().step_by(stride).copied().collect();
    let max_x = pts.iter().map(|p| p.0).fold(0.0f32, f32::max);
    let max_y = pts.iter().map(|p| p.1).fold(0.0f32, f32::max);
    let shift = (max_x * (SKEW_RANGE_DEG + 1.0).to_radians().tan()).ceil() + 1.0;
    let mut bins = vec![0u32; (max_y + 2.0 * shift) as usize + 2];
    let mut score = |deg: f32| -> f64 {
        let t = deg.to_radians().tan();
        bins.iter_mut().for_each(|b| *b = 0);
        for &(x, y) in &pts {
            let i = (y - x * t + shift).floor().max(0.0) as usize;
            if let Some(b) = bins.get_mut(i) {
                *b += 1;
            }
        }
        bins.iter().map(|&n| f64::from(n) * f64::from(n)).sum()
    };
    let mut search = |from: f32, to: f32, step: f32| -> f32 {
        let mut best = (f64::MIN, 0.0f32);
        let steps = ((to - from) / step).round() as i32;
        for i in 0..=steps {
            let a = from + i as f32 * step;
            let s = score(a);
            if s > best.0 {
                best = (s, a);
            }
        }
        best.1
    };
    let coarse = search(-SKEW_RANGE_DEG, SKEW_RANGE_DEG, 0.25);
    Some(search(coarse - 0.25, coarse + 0.25, 0.05))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn paper(w: u32, h: u32, v: u8) -> GrayImage {
        GrayImage::from_pixel(w, h, Luma([v]))
    }

    /// Text-like lines of word blocks, rotated `deg` clockwise about the page centre.
    fn text_page(deg: f32) -> GrayImage {
        let (w, h) = (1200u32, 1600u32);
        let mut img = paper(w, h, 235);
        let t = deg.to_radians();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        for line in 0..30 {
            let y0 = 150.0 + line as f32 * 44.0;
            let mut x = 150.0;
            let mut word = line;
            while x < 1050.0 {
                let len = 30.0 + ((word * 37) % 70) as f32;
                for dx in 0..len as i32 {
                    for dy in 0..14 {
                        let (ux, uy) = (x + dx as f32 - cx, y0 + dy as f32 - cy);
                        // Clockwise on screen (y down): rotate by +t.
                        let rx = cx + ux * t.cos() - uy * t.sin();
                        let ry = cy + ux * t.sin() + uy * t.cos();
                        if rx >= 0.0 && ry >= 0.0 && (rx as u32) < w && (ry as u32) < h {
                            img.put_pixel(rx as u32, ry as u32, Luma([30]));
                        }
                    }
                }
                x += len + 18.0;
                word += 1;
            }
        }
        img
    }

    #[test]
    fn a_blank_page_is_blank_and_a_white_one_too_light() {
        let checks = check_page(&paper(800, 1100, 238));
        assert_eq!(checks, vec![PageCheck::Blank]);
        let checks = check_page(&paper(800, 1100, 254));
        assert!(checks.contains(&PageCheck::Blank), "{checks:?}");
        assert!(
            checks.contains(&PageCheck::TooLight { mean: 254 }),
            "{checks:?}"
        );
    }

    #[test]
    fn a_dark_page_is_too_dark() {
        let checks = check_page(&paper(800, 1100, 20));
        assert!(
            checks.contains(&PageCheck::TooDark { mean: 20 }),
            "{checks:?}"
        );
    }

    #[test]
    fn a_level_text_page_passes() {
        let checks = check_page(&text_page(0.0));
        assert!(checks.is_empty(), "{checks:?}");
    }

    #[test]
    fn skew_is_estimated_within_half_a_degree() {
        for deg in [2.0f32, -3.0, 1.2, 4.5] {
            let got = estimate_skew(&text_page(deg)).unwrap();
            assert!((got - deg).abs() <= 0.5, "drawn at {deg}, estimated {got}");
            let checks = check_page(&text_page(deg));
            assert!(
                checks.iter().any(
                    |c| matches!(c, PageCheck::Skewed { degrees } if (degrees - deg).abs() <= 0.5)
                ),
                "{deg}: {checks:?}"
            );
        }
    }
}
