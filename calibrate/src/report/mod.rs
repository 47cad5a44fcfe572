//! `calibrate report`: how model variants (quantized, FP16...) compare with the original on
//! calibration data: accuracy (top-1 with labels; cosine, SNR and max abs error against the
//! original's outputs), file size, Mote latency and planned peak memory; plus the original's
//! activation histograms with the clipping ranges of a table.
//!
//! Samples are read and run one at a time through every model, so memory does not depend on
//! the number of samples.

pub mod labels;
pub mod metrics;
pub mod plot;
mod render;

use crate::collect::ObservedModel;
use crate::data::{CalibrationData, Sample};
use crate::stats::{range_of, Calibration, Histogram, StatsOptions};
use crate::table::CalibrationTable;
use crate::{Error, Result};
use metrics::{Agreement, TopOne};
use mote::{Model, Session, SessionOptions, Tensor};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `compare` measures and how.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// Worker threads of every session (latency is measured with this many).
    pub threads: usize,
    /// Timed runs per model for the latency median (after one warm-up run).
    pub runs: usize,
    /// Class labels file (see [`labels::read`]); top-1 accuracy when given.
    pub labels: Option<PathBuf>,
    /// Ranges drawn on the plots; `None` computes them from the histograms with `stats`.
    pub table: Option<CalibrationTable>,
    /// How ranges are computed when no table is given.
    pub stats: StatsOptions,
    /// Progress bars on stderr.
    pub progress: bool,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            threads: 1,
            runs: 20,
            labels: None,
            table: None,
            stats: StatsOptions {
                progress: false,
                ..StatsOptions::default()
            },
            progress: true,
        }
    }
}

/// Whether a row is the reference model or one compared with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Original,
    Variant,
}

/// One model's row.
#[derive(Clone, Debug)]
pub struct ModelReport {
    pub path: PathBuf,
    pub role: Role,
    pub file_bytes: u64,
    /// Top-1 accuracy against the labels, when labels were given.
    pub top1: Option<f64>,
    /// Cosine similarity of all outputs with the original's.
    pub cosine: f64,
    /// Signal-to-noise ratio of the outputs against the original's, dB (+inf when equal).
    pub snr_db: f64,
    pub max_abs_error: f64,
    /// Outputs that could not be compared with the original's (other type or size).
    pub mismatched_outputs: u64,
    /// Median latency of one run on the first sample, milliseconds.
    pub latency_ms_median: f64,
    /// The planned arena: peak bytes of intermediate tensors for the first sample's shapes.
    pub planned_peak_bytes: usize,
}

/// Everything `calibrate report` writes.
#[derive(Clone, Debug)]
pub struct Report {
    pub data_dir: PathBuf,
    pub samples: usize,
    pub labels: Option<PathBuf>,
    pub threads: usize,
    pub runs: usize,
    /// The original first, then the variants in the order given.
    pub models: Vec<ModelReport>,
    /// The original's activation histograms and the ranges drawn on them.
    pub calibration: Calibration,
}

fn load_variant(path: &Path) -> Result<Model> {
    Model::load(path).map_err(|e| match e.kind() {
        mote::ErrorKind::Io => Error::Runtime(e),
        _ => Error::Usage(format!("{}: {e}", path.display())),
    })
}

fn session(model: &Model, threads: usize) -> Result<Session> {
    Ok(model.session(SessionOptions {
        threads,
        ..Default::default()
    })?)
}

/// `outputs` in the order of `names` when every name is there, else as they are.
fn align(outputs: Vec<(String, Tensor)>, names: &[String]) -> Vec<Tensor> {
    if names.iter().all(|n| outputs.iter().any(|(m, _)| m == n)) {
        let mut by_name: BTreeMap<String, Tensor> = outputs.into_iter().collect();
        names.iter().filter_map(|n| by_name.remove(n)).collect()
    } else {
        outputs.into_iter().map(|(_, t)| t).collect()
    }
}

/// Median latency (ms) of `runs` runs on `sample` after one warm-up, and the planned arena.
fn time_model(model: &Model, sample: &Sample, opts: &ReportOptions) -> Result<(f64, usize)> {
    let mut s = session(model, opts.threads)?;
    let inputs: Vec<(&str, &Tensor)> = sample.iter().map(|(n, t)| (n.as_str(), t)).collect();
    s.run(&inputs)?;
    let mut times = Vec::with_capacity(opts.runs.max(1));
    for _ in 0..opts.runs.max(1) {
        let start = Instant::now();
        s.run(&inputs)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let signature: Vec<_> = model
        .inputs()
        .iter()
        .filter_map(|v| sample.iter().find(|(n, _)| *n == v.name))
        .map(|(_, t)| (t.dtype(), t.shape().to_vec()))
        .collect();
    let arena = s.plan_for(&signature)?.arena_bytes();
    Ok((median, arena))
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len())
}

/// Runs the original (ONNX) and every variant (ONNX or `.mote`) on every sample of `data`.
pub fn compare(
    original: &Path,
    variants: &[PathBuf],
    data: &CalibrationData,
    opts: &ReportOptions,
) -> Result<Report> {
    let labels = match &opts.labels {
        Some(p) => Some(labels::read(p, data.len())?),
        None => None,
    };
    let observed = ObservedModel::load(original)?;
    let original_names: Vec<String> = observed
        .model()
        .outputs()
        .iter()
        .take(observed.original_outputs())
        .map(|v| v.name.clone())
        .collect();
    let mut runner = observed.runner(opts.threads)?;
    let models: Vec<Model> = variants
        .iter()
        .map(|p| load_variant(p))
        .collect::<Result<_>>()?;
    let mut sessions: Vec<Session> = models
        .iter()
        .map(|m| session(m, opts.threads))
        .collect::<Result<_>>()?;
    let mut agreement = vec![Agreement::default(); variants.len()];
    let mut top = vec![TopOne::default(); variants.len() + 1];
    let mut histograms: BTreeMap<String, Histogram> = BTreeMap::new();
    let bar = crate::progress::bar(data.len() as u64, "comparing", opts.progress);
    for (i, sample) in data.samples().enumerate() {
        let sample = sample?;
        let file = &data.files()[i];
        let reference = runner
            .run(&sample, |name, values| {
                histograms.entry(name.to_string()).or_default().add(values)
            })
            .map_err(|e| Error::Data(format!("{}: the original model: {e}", file.display())))?;
        if let Some(l) = &labels {
            top[0].add(&reference, l[i]);
        }
        let inputs: Vec<(&str, &Tensor)> = sample.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for (v, s) in sessions.iter_mut().enumerate() {
            let outputs = s.run(&inputs).map_err(|e| {
                Error::Data(format!(
                    "{}: {}: {e}",
                    file.display(),
                    variants[v].display()
                ))
            })?;
            let outputs = align(outputs, &original_names);
            agreement[v].add(&reference, &outputs);
            if let Some(l) = &labels {
                top[v + 1].add(&outputs, l[i]);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let first = data.sample(0)?;
    let plain = Model::load(original)?;
    let mut rows = Vec::with_capacity(variants.len() + 1);
    let bar = crate::progress::bar(variants.len() as u64 + 1, "timing", opts.progress);
    let all = std::iter::once((original.to_path_buf(), &plain, None)).chain(
        variants
            .iter()
            .zip(&models)
            .enumerate()
            .map(|(v, (p, m))| (p.clone(), m, Some(v))),
    );
    for (path, model, variant) in all {
        let (latency, arena) = time_model(model, &first, opts)?;
        let (cosine, snr_db, max_abs_error, mismatched_outputs) = match variant {
            None => (1.0, f64::INFINITY, 0.0, 0),
            Some(v) => {
                let a = &agreement[v];
                (a.cosine(), a.snr_db(), a.max_abs_error(), a.mismatched())
            }
        };
        rows.push(ModelReport {
            file_bytes: file_size(&path)?,
            role: if variant.is_none() {
                Role::Original
            } else {
                Role::Variant
            },
            path,
            top1: top[variant.map_or(0, |v| v + 1)].accuracy(),
            cosine,
            snr_db,
            max_abs_error,
            mismatched_outputs,
            latency_ms_median: latency,
            planned_peak_bytes: arena,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();

    let table = match &opts.table {
        Some(t) => t.clone(),
        None => CalibrationTable {
            ranges: histograms
                .iter()
                .map(|(n, h)| (n.clone(), range_of(h, &opts.stats)))
                .collect(),
        },
    };
    Ok(Report {
        data_dir: data.dir().to_path_buf(),
        samples: data.len(),
        labels: opts.labels.clone(),
        threads: opts.threads,
        runs: opts.runs.max(1),
        models: rows,
        calibration: Calibration { table, histograms },
    })
}

impl Report {
    /// Writes `report.md`, `report.json` and, with `plots`, one SVG per activation under
    /// `plots/`, into `out` (created if needed). Returns the files written.
    pub fn write(&self, out: &Path, plots: bool) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let mut written = Vec::new();
        let plot_files = if plots {
            let dir = out.join("plots");
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let mut files = Vec::new();
            for (i, (name, h)) in self.calibration.histograms.iter().enumerate() {
                let file = dir.join(plot::file_name(i, name));
                plot::write(&file, name, h, self.calibration.table.ranges.get(name))?;
                files.push((name.clone(), file));
            }
            files
        } else {
            Vec::new()
        };
        let md = out.join("report.md");
        std::fs::write(&md, render::markdown(self, out, &plot_files))
            .map_err(|e| Error::io(&md, e))?;
        let json = out.join("report.json");
        let text = serde_json::to_string_pretty(&render::json(self, out, &plot_files))
            .map_err(|e| Error::Data(format!("report.json: {e}")))?;
        std::fs::write(&json, text + "\n").map_err(|e| Error::io(&json, e))?;
        written.push(md);
        written.push(json);
        written.extend(plot_files.into_iter().map(|(_, f)| f));
        Ok(written)
    }
}
