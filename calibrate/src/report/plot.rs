//! Per-tensor activation histograms as SVG, with the clipping range drawn as two red lines.
//! plotters' SVG backend writes text as `<text>` elements, so no font library is involved.

use crate::stats::Histogram;
use crate::table::TensorRange;
use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// Bars drawn at most.
const BARS: usize = 160;

/// Bars `(from, to, log10(1 + count))` over the part of the histogram that holds values or the
/// range.
fn bars(h: &Histogram, range: Option<&TensorRange>) -> Vec<(f64, f64, f64)> {
    if h.total() == 0 {
        return Vec::new();
    }
    let w = h.bin_width();
    let r = h.half_range() as f64;
    let counts = h.counts();
    let (mut lo, mut hi) = (h.min() as f64, h.max() as f64);
    if let Some(t) = range {
        lo = lo.min(t.min as f64);
        hi = hi.max(t.max as f64);
    }
    let bin = |x: f64| (((x + r) / w).floor().max(0.0) as usize).min(counts.len() - 1);
    let (first, last) = (bin(lo.max(-r)), bin(hi.min(r)));
    let per_bar = (last + 1 - first).div_ceil(BARS);
    (first..=last)
        .step_by(per_bar)
        .map(|start| {
            let stop = (start + per_bar).min(last + 1);
            let n: u64 = counts[start..stop].iter().sum();
            (
                -r + start as f64 * w,
                -r + stop as f64 * w,
                (1.0 + n as f64).log10(),
            )
        })
        .collect()
}

/// The SVG text of tensor `name`'s histogram.
pub fn svg(name: &str, h: &Histogram, range: Option<&TensorRange>) -> Result<String> {
    let bars = bars(h, range);
    let x0 = bars.first().map_or(-1.0, |b| b.0);
    let x1 = bars.last().map_or(1.0, |b| b.1).max(x0 + f64::EPSILON);
    let ymax = bars.iter().map(|b| b.2).fold(1.0, f64::max) * 1.05;
    let title = match range {
        Some(t) => format!("{name}: [{}, {}] ({})", t.min, t.max, t.method.to_text()),
        None => name.to_string(),
    };
    let mut out = String::new();
    {
        let draw_err = |e: &dyn std::fmt::Display| {
            Error::Data(format!("cannot draw the histogram of '{name}': {e}"))
        };
        let root = SVGBackend::with_string(&mut out, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(x0..x1, 0f64..ymax)
            .map_err(|e| draw_err(&e))?;
        chart
            .configure_mesh()
            .x_desc("value")
            .y_desc("log10(1 + count)")
            .disable_mesh()
            .draw()
            .map_err(|e| draw_err(&e))?;
        chart
            .draw_series(
                bars.iter()
                    .map(|&(a, b, y)| Rectangle::new([(a, 0.0), (b, y)], BLUE.mix(0.6).filled())),
            )
            .map_err(|e| draw_err(&e))?;
        if let Some(t) = range {
            for x in [t.min as f64, t.max as f64] {
                chart
                    .draw_series(LineSeries::new([(x, 0.0), (x, ymax)], RED.stroke_width(2)))
                    .map_err(|e| draw_err(&e))?;
            }
        }
        root.present().map_err(|e| draw_err(&e))?;
    }
    Ok(out)
}

/// A file name for tensor `name`: ASCII letters, digits, `-`, `_` and `.` kept, the rest `_`,
/// with the index in front so that two names that sanitize alike stay apart.
pub fn file_name(index: usize, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{index:04}_{clean}.svg")
}

/// Writes the plot of `name` to `path`.
pub fn write(path: &Path, name: &str, h: &Histogram, range: Option<&TensorRange>) -> Result<()> {
    std::fs::write(path, svg(name, h, range)?).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Method;

    #[test]
    fn draws_bars_and_the_range() {
        let mut h = Histogram::default();
        h.add(
            &(0..1000)
                .map(|i| i as f32 / 100.0 - 3.0)
                .collect::<Vec<_>>(),
        );
        let range = TensorRange {
            min: -2.0,
            max: 4.5,
            method: Method::Entropy,
        };
        let s = svg("conv/out", &h, Some(&range)).unwrap();
        assert!(s.starts_with("<svg"), "{}", &s[..50.min(s.len())]);
        assert!(s.contains("conv/out: [-2, 4.5] (entropy)"));
        assert!(s.matches("<rect").count() > 50);
        assert!(s.contains("<polyline") || s.contains("<line") || s.contains("<path"));
        let empty = svg("empty", &Histogram::default(), None).unwrap();
        assert!(empty.starts_with("<svg"));
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name(3, "a/b:c d"), "0003_a_b_c_d.svg");
        assert_ne!(file_name(1, "a/b"), file_name(2, "a:b"));
    }
}
