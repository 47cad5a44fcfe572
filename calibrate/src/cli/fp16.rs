//! `calibrate fp16`: FP16 conversion.

use calibrate::fp16::{convert, Fp16Options, DEFAULT_KEEP_FP32};
use calibrate::{onnx, output, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  calibrate fp16 model.onnx -o model.fp16.onnx
  calibrate fp16 model.onnx -o model.fp16.onnx --keep-io-fp32
  calibrate fp16 model.onnx -o model.fp16.mote --keep-fp32 Resize,Range,TopK,Softmax")]
pub(crate) struct Fp16Args {
    /// The float32 ONNX model.
    pub(crate) model: PathBuf,
    /// Output: .onnx (standard ONNX) or .mote (Mote's format).
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// Keep the graph inputs and outputs float32 (Casts inside the graph), so the converted
    /// model is a drop-in replacement; by default they become float16.
    #[arg(long)]
    pub keep_io_fp32: bool,
    /// Op types computed in float32 (comma-separated), replacing the default list:
    /// onnxconverter-common's block list (Resize, Range, TopK, CumSum, Min, Max, Upsample,
    /// NonMaxSuppression, RoiAlign and the ai.onnx.ml ops). Control-flow ops, quantization
    /// ops and ops of other domains always stay float32.
    #[arg(long, value_delimiter = ',', value_name = "OPS")]
    pub keep_fp32: Option<Vec<String>>,
}

pub(crate) fn run(args: &Fp16Args) -> Result<()> {
    let model = onnx::load(&args.model)?;
    let opts = Fp16Options {
        keep_io_fp32: args.keep_io_fp32,
        keep_fp32_ops: args
            .keep_fp32
            .clone()
            .unwrap_or_else(|| DEFAULT_KEEP_FP32.iter().map(|s| s.to_string()).collect()),
        ..Fp16Options::default()
    };
    let (h, report) = convert(&model, &opts)?;
    let bytes = output::write_model(&h, &args.output)?;
    eprintln!(
        "calibrate fp16: wrote {} ({bytes} bytes): {} initializers in float16 ({} values clamped \
         into float16's range), {} nodes kept in float32, {} Casts",
        args.output.display(),
        report.converted_initializers,
        report.clamped_values,
        report.fp32_nodes,
        report.casts
    );
    Ok(())
}
