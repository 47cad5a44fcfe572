//! The report as Markdown (for people) and JSON (for scripts).

use super::{ModelReport, Report, Role};
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// `1234567` -> `1.18 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

fn snr(db: f64) -> String {
    if db.is_infinite() && db > 0.0 {
        "inf (identical)".into()
    } else {
        format!("{db:.1}")
    }
}

/// A value for a table cell: tiny magnitudes in scientific notation.
fn short(x: f32) -> String {
    if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else {
        format!("{x}")
    }
}

/// Milliseconds with four significant digits or so, for sub-millisecond models too.
fn ms(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.4}")
    } else {
        format!("{x:.2}")
    }
}

/// A path relative to the report's folder when it is inside it.
fn relative(path: &Path, out: &Path) -> String {
    path.strip_prefix(out).unwrap_or(path).display().to_string()
}

fn name(m: &ModelReport) -> String {
    let file = m
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = m
        .path
        .parent()
        .and_then(|p| p.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Model folders often hold a `model.onnx`: the folder says which one it is.
    let shown = if parent.is_empty() {
        file
    } else {
        format!("{parent}/{file}")
    };
    match m.role {
        Role::Original => format!("{shown} (original)"),
        Role::Variant => shown,
    }
}

pub(super) fn markdown(r: &Report, out: &Path, plots: &[(String, PathBuf)]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Calibration report\n");
    let _ = writeln!(
        s,
        "Data: `{}` ({} samples){}. Latency: median of {} runs on the first sample, {} thread{}. \
         Accuracy columns compare each model's outputs with the original's over all samples.\n",
        r.data_dir.display(),
        r.samples,
        r.labels
            .as_ref()
            .map(|l| format!(", labels `{}`", l.display()))
            .unwrap_or_default(),
        r.runs,
        r.threads,
        if r.threads == 1 { "" } else { "s" }
    );
    let top1 = r.labels.is_some();
    let _ = writeln!(
        s,
        "| model |{} cosine | SNR (dB) | max abs error | file size | latency (ms) | planned peak memory |",
        if top1 { " top-1 |" } else { "" }
    );
    let _ = writeln!(
        s,
        "|---|{}---:|---:|---:|---:|---:|---:|",
        if top1 { "---:|" } else { "" }
    );
    for m in &r.models {
        let _ = writeln!(
            s,
            "| {} |{} {:.6} | {} | {:.3e} | {} | {} | {} |",
            name(m),
            if top1 {
                format!(
                    " {} |",
                    m.top1
                        .map(|a| format!("{:.2}%", a * 100.0))
                        .unwrap_or_else(|| "-".into())
                )
            } else {
                String::new()
            },
            m.cosine,
            snr(m.snr_db),
            m.max_abs_error,
            bytes(m.file_bytes),
            ms(m.latency_ms_median),
            bytes(m.planned_peak_bytes as u64),
        );
    }
    for m in &r.models {
        if m.mismatched_outputs > 0 {
            let _ = writeln!(
                s,
                "\n**{}**: {} outputs could not be compared with the original's (other type or size).",
                name(m),
                m.mismatched_outputs
            );
        }
    }
    if !plots.is_empty() {
        let _ = writeln!(
            s,
            "\n## Activation histograms of the original\n\nlog10(1 + count) per value; red lines: \
             the clipping range of the table.\n"
        );
        let _ = writeln!(s, "| tensor | min | max | range | method | plot |");
        let _ = writeln!(s, "|---|---:|---:|---|---|---|");
        for (tensor, file) in plots {
            let h = &r.calibration.histograms[tensor];
            let range = r.calibration.table.ranges.get(tensor);
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | [svg]({}) |",
                tensor.replace('|', "\\|"),
                short(h.min()),
                short(h.max()),
                range
                    .map(|t| format!("[{}, {}]", short(t.min), short(t.max)))
                    .unwrap_or_else(|| "-".into()),
                range.map(|t| t.method.to_text()).unwrap_or_default(),
                relative(file, out)
            );
        }
    }
    s
}

/// A finite number, or null (JSON has no infinity).
fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

pub(super) fn json(r: &Report, out: &Path, plots: &[(String, PathBuf)]) -> Value {
    let models: Vec<Value> = r
        .models
        .iter()
        .map(|m| {
            json!({
                "path": m.path.display().to_string(),
                "role": match m.role { Role::Original => "original", Role::Variant => "variant" },
                "file_bytes": m.file_bytes,
                "top1": m.top1,
                "cosine": num(m.cosine),
                "snr_db": num(m.snr_db),
                "identical_outputs": m.snr_db == f64::INFINITY,
                "max_abs_error": num(m.max_abs_error),
                "mismatched_outputs": m.mismatched_outputs,
                "latency_ms_median": m.latency_ms_median,
                "planned_peak_bytes": m.planned_peak_bytes,
            })
        })
        .collect();
    let tensors: Vec<Value> = r
        .calibration
        .histograms
        .iter()
        .map(|(name, h)| {
            let range = r.calibration.table.ranges.get(name);
            json!({
                "name": name,
                "min": num(h.min() as f64),
                "max": num(h.max() as f64),
                "range": range.map(|t| json!([t.min, t.max])),
                "method": range.map(|t| t.method.to_text()),
                "plot": plots.iter().find(|(n, _)| n == name).map(|(_, f)| relative(f, out)),
            })
        })
        .collect();
    json!({
        "data_dir": r.data_dir.display().to_string(),
        "samples": r.samples,
        "labels": r.labels.as_ref().map(|l| l.display().to_string()),
        "threads": r.threads,
        "latency_runs": r.runs,
        "models": models,
        "activations": tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(2048), "2.00 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.00 MiB");
        assert_eq!(snr(f64::INFINITY), "inf (identical)");
        assert_eq!(num(f64::INFINITY), Value::Null);
    }
}
