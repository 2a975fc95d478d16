//! Charts drawn on the server as SVG: grouped bars for statistics and a state strip for a
//! device's timeline. No script, no external library.

use std::fmt::Write;

use super::html::{datetime, esc};

/// One series of a bar chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Fill colour.
    pub color: &'static str,
    /// One value per category.
    pub values: Vec<u64>,
}

/// A "nice" axis maximum at or above `max`: 1, 2 or 5 times a power of ten.
pub fn nice_max(max: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if p.saturating_mul(m) >= max.max(1) {
                return p * m;
            }
        }
        p = p.saturating_mul(10);
    }
}

/// Grouped bars: one group per category, one bar per series, with a y axis and a legend.
pub fn bars(categories: &[String], series: &[Series], title: &str) -> String {
    let (w, h) = (800.0_f64, 280.0_f64);
    let (left, right, top, bottom) = (48.0, 10.0, 14.0, 54.0);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    // At least 5, so that five grid steps fall on whole numbers.
    let ymax = nice_max(max.max(5)) as f64;
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"11\">",
        esc(title)
    );
    for i in 0..=5 {
        let v = ymax * f64::from(i) / 5.0;
        let y = top + plot_h - plot_h * f64::from(i) / 5.0;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e8eb\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5b6b75\">{}</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            v.round() as u64
        );
    }
    let n = categories.len().max(1) as f64;
    let group_w = plot_w / n;
    let bar_w = (group_w * 0.8 / series.len().max(1) as f64).clamp(1.0, 36.0);
    let pad = (group_w - bar_w * series.len() as f64) / 2.0;
    let label_every = (categories.len() / 16).max(1);
    for (ci, cat) in categories.iter().enumerate() {
        let gx = left + group_w * ci as f64 + pad;
        for (si, ser) in series.iter().enumerate() {
            let v = ser.values.get(ci).copied().unwrap_or(0) as f64;
            let bh = if ymax > 0.0 { plot_h * v / ymax } else { 0.0 };
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                gx + bar_w * si as f64,
                top + plot_h - bh,
                bar_w,
                ser.color,
                esc(cat),
                esc(&ser.label),
                v as u64
            );
        }
        if ci % label_every == 0 {
            let x = left + group_w * (ci as f64 + 0.5);
            let _ = write!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"end\" transform=\"rotate(-40 {x:.1} {:.1})\" fill=\"#5b6b75\">{}</text>",
                h - bottom + 14.0,
                h - bottom + 14.0,
                esc(cat)
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9aa6ad\"/></svg><div class=\"legend\">",
        w - right,
        top + plot_h,
        top + plot_h
    );
    for ser in series {
        let _ = write!(
            s,
            "<span><i style=\"background:{}\"></i>{}</span>",
            ser.color,
            esc(&ser.label)
        );
    }
    s.push_str("</div>");
    s
}

/// A strip showing online (green) and offline (grey) periods, from the oldest entry to
/// `now`. `entries` are `(time ms, online)`, newest first, as the timeline lists them.
pub fn timeline(entries: &[(i64, bool)], now: i64, utc_offset_min: i32) -> String {
    let Some(&(start, _)) = entries.last() else {
        return String::new();
    };
    let span = (now - start).max(1) as f64;
    let (w, h) = (800.0_f64, 46.0_f64);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    // Oldest first, with runs of the same state merged into one period.
    let mut chrono_order: Vec<(i64, bool)> = Vec::new();
    for &(t, online) in entries.iter().rev() {
        if chrono_order.last().map(|l| l.1) != Some(online) {
            chrono_order.push((t, online));
        }
    }
    for (i, (t, online)) in chrono_order.iter().enumerate() {
        let end = chrono_order.get(i + 1).map(|e| e.0).unwrap_or(now);
        let x0 = w * (t - start) as f64 / span;
        let x1 = w * (end - start) as f64 / span;
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"4\" width=\"{:.1}\" height=\"22\" fill=\"{}\"/>",
            (x1 - x0).max(0.5),
            if *online { "#1a7f37" } else { "#9aa6ad" }
        );
    }
    let _ = write!(
        s,
        "<text x=\"2\" y=\"40\" fill=\"#5b6b75\">{}</text><text x=\"{}\" y=\"40\" text-anchor=\"end\" fill=\"#5b6b75\">{}</text></svg>",
        datetime(start, utc_offset_min),
        w - 2.0,
        datetime(now, utc_offset_min)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(480), 500);
    }

    #[test]
    fn bars_scale_to_the_axis() {
        let svg = bars(
            &["2026-01".into(), "<b>".into()],
            &[Series {
                label: "Lượt mượn".into(),
                color: "#0b6e4f",
                values: vec![10, 5],
            }],
            "t",
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("&lt;b&gt;"), "labels are escaped");
        assert!(
            svg.contains("height=\"212.0\""),
            "10 of 10 fills the plot: {svg}"
        );
        assert!(svg.contains("height=\"106.0\""));
        assert!(svg.contains("Lượt mượn"));
        assert!(svg.contains(">4</text>"), "whole-number grid steps");
    }

    #[test]
    fn timeline_covers_the_span() {
        let svg = timeline(&[(150, false), (100, true)], 200, 0);
        assert!(
            svg.contains("x=\"0.0\" y=\"4\" width=\"400.0\" height=\"22\" fill=\"#1a7f37\""),
            "{svg}"
        );
        assert!(svg.contains("x=\"400.0\" y=\"4\" width=\"400.0\" height=\"22\" fill=\"#9aa6ad\""));
        assert_eq!(timeline(&[], 1, 0), "");
    }
}
