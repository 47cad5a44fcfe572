//! `calibrate report`: compare model variants with the original.

use super::{DataArgs, MethodArgs};
use calibrate::report::{compare, ReportOptions};
use calibrate::{CalibrationTable, Result};
use clap::Args;
use std::path::PathBuf;

/// Accuracy, size, latency and memory of each variant against the original, with
/// activation histograms of the original.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  calibrate report model.onnx model.qdq.onnx model.fp16.onnx --data samples/
  calibrate report model.onnx model.qdq.onnx --data samples/ --labels labels.npy --threads 4 --out report/
  calibrate report model.onnx model.qdq.onnx --data samples/ --table model.table

Writes OUT/report.md, OUT/report.json and OUT/plots/*.svg. Labels (a .npy of class ids or a
text file, one per line) follow the sorted order of the sample files.")]
pub(crate) struct ReportArgs {
    /// The original ONNX model.
    pub(crate) original: PathBuf,
    /// The variants to compare with it (ONNX or .mote).
    #[arg(required = true)]
    pub(crate) variants: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Class labels for top-1 accuracy.
    #[arg(long, value_name = "FILE")]
    pub(crate) labels: Option<PathBuf>,
    /// Worker threads (latency is measured with this many).
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Timed runs per model for the latency median.
    #[arg(long, default_value_t = 20)]
    pub(crate) runs: usize,
    /// Output directory.
    #[arg(long, default_value = "calibration-report", value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Draw these ranges on the histograms (else computed with --method).
    #[arg(long, value_name = "FILE")]
    pub(crate) table: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) method: MethodArgs,
    /// Skip the per-activation plots.
    #[arg(long)]
    pub(crate) no_plots: bool,
}

pub(crate) fn run(args: &ReportArgs) -> Result<()> {
    let data = args.data.open(&args.original)?;
    let table = args
        .table
        .as_deref()
        .map(CalibrationTable::read)
        .transpose()?;
    let opts = ReportOptions {
        threads: args.threads,
        runs: args.runs,
        labels: args.labels.clone(),
        table,
        stats: args.method.stats_options(args.threads, false),
        progress: true,
    };
    let report = compare(&args.original, &args.variants, &data, &opts)?;
    let files = report.write(&args.out, !args.no_plots)?;
    eprintln!(
        "compared {} model(s) on {} samples -> {} ({} files)",
        report.models.len(),
        report.samples,
        args.out.join("report.md").display(),
        files.len()
    );
    Ok(())
}
