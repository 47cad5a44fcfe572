//! `calibrate quantize`: static INT8 post-training quantization (QDQ), or dynamic.

use super::{DataArgs, MethodArg};
use calibrate::collect::ObservedModel;
use calibrate::qdq::dynamic::{quantize_dynamic, DynamicOptions};
use calibrate::qdq::{prepare_float, quantize_static, BiasCorrection, QType, QdqOptions};
use calibrate::stats::collect_table_observing;
use calibrate::stats::ActivationType;
use calibrate::table::CalibrationTable;
use calibrate::{collect_table, onnx, output, Error, Method, Result, StatsOptions};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActivationArg {
    U8,
    S8,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Defaults: MinMax ranges, int8 symmetric per-channel weights, int8 asymmetric \
activations, Relu/Clip folded into ranges, BatchNormalization and constant Mul/Add folded into \
Conv first. Measured against FP32 on held-out inputs, everything run by onnxruntime (cosine; \
onnxruntime's own quantize_static MinMax model in brackets): PP-OCRv4 det 0.9774 [0.9719], \
rec 0.9509 [0.9441], mobile cls SNR 39.8 dB [38.4 dB]; demo MLP top-1 unchanged. MinMax is the \
only method at least as close as onnxruntime's on all three: --method mse is better on rec \
(0.9644) and cls (48.1 dB) but worse on det (0.9693); percentile and entropy are worse
(entropy: rec 0.943, det 0.964).

--equalize and --bias-correction mostly repair --per-tensor weights (rec 0.464 -> 0.913 with
both, det 0.969 -> 0.975, cls logits 21.7 -> 24.0 dB); with per-channel weights they change
little and can cost a little (rec with --bias-correction: 0.943). Both calibrate the folded,
equalized float model, so they need --data.

Examples:
  calibrate quantize model.onnx --data samples/ -o model.int8.onnx
  calibrate quantize model.onnx --data samples/ -o model.int8.mote --method percentile --percentile 99.99
  calibrate quantize model.onnx --data images/ --preprocess 'resize=224x224,scale=0.0039215686' -o model.int8.onnx
  calibrate quantize model.onnx --data samples/ -o model.int8.onnx --per-tensor --equalize --bias-correction
  calibrate quantize model.onnx --table model.table -o model.int8.onnx
  calibrate quantize model.onnx --dynamic -o model.dyn.onnx"
)]
pub(crate) struct QuantizeArgs {
    /// The float32 ONNX model.
    pub(crate) model: PathBuf,
    /// Output: .onnx (a standard QDQ model onnxruntime runs as a drop-in replacement) or
    /// .mote (Mote's format).
    #[arg(short, long)]
    pub(crate) output: PathBuf,
    /// Calibration samples: one per file, .npy (single input), .npz keyed by input name, or
    /// PNG/JPEG images (with --preprocess); see `calibrate table --help`.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Image preprocessing for --data images (see `calibrate table --help`).
    #[arg(long, value_name = "SPEC", requires = "data")]
    pub(crate) preprocess: Option<String>,
    /// Use the ranges of an (edited) calibration table file instead of --data.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    pub(crate) table: Option<PathBuf>,
    /// How activation ranges are chosen from the data.
    #[arg(long, value_enum, default_value = "minmax")]
    pub(crate) method: MethodArg,
    /// The percentile of |x| kept by --method percentile.
    #[arg(long, default_value_t = 99.999, value_name = "P")]
    pub(crate) percentile: f64,
    /// Worker threads of the session running the model on the data.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Weights per tensor instead of per output channel.
    #[arg(long)]
    pub(crate) per_tensor: bool,
    /// Activation integer type.
    #[arg(long, value_enum, default_value = "s8")]
    pub(crate) activations: ActivationArg,
    /// Symmetric activation ranges (zero point at the type's middle).
    #[arg(long)]
    pub(crate) symmetric: bool,
    /// Keep Relu/Clip nodes after quantized tensors instead of folding them into the ranges.
    #[arg(long)]
    pub(crate) keep_activations: bool,
    /// Op types to quantize (comma-separated); default: onnxruntime's QDQ defaults.
    #[arg(long, value_delimiter = ',', value_name = "OPS")]
    pub(crate) op_types: Option<Vec<String>>,
    /// Dynamic quantization of MatMul/Gemm weights (activations quantized at run time by
    /// DynamicQuantizeLinear + MatMulInteger, as onnxruntime's quantize_dynamic); needs no data.
    #[arg(long, conflicts_with_all = ["data", "table"])]
    pub(crate) dynamic: bool,
    /// Empirical bias correction: subtract from each Conv/Gemm/MatMul(+Add) bias the mean
    /// output error its quantized weights cause on the calibration data, (Wq - W)·E[x]
    /// (a bias is added to a Conv/Gemm without one). Needs --data.
    #[arg(long, requires = "data", conflicts_with_all = ["table", "dynamic"])]
    pub(crate) bias_correction: bool,
    /// Cross-layer equalization (Nagel et al. 2019) before calibrating: rescale the channels
    /// of Conv -> [Relu|LeakyRelu|MaxPool|Identity] -> Conv pairs so both layers' per-channel
    /// weight ranges match (the float model computes the same). Mostly helps --per-tensor.
    /// Relu6/Clip(0,6) and HardSwish are not scale-equivariant: pairs across them are kept.
    #[arg(long, requires = "data", conflicts_with_all = ["table", "dynamic"])]
    pub(crate) equalize: bool,
}

pub(crate) fn run(args: &QuantizeArgs) -> Result<()> {
    // Fail on a bad extension before any work.
    output::Format::of(&args.output)?;
    let model = onnx::load(&args.model)?;
    if args.dynamic {
        let opts = DynamicOptions {
            per_channel: !args.per_tensor,
            op_types: args
                .op_types
                .clone()
                .unwrap_or_else(|| DynamicOptions::default().op_types),
        };
        let (q, count) = quantize_dynamic(&model, &opts)?;
        let bytes = output::write_model(&q, &args.output)?;
        eprintln!(
            "calibrate quantize --dynamic: wrote {} ({bytes} bytes): {count} MatMul/Gemm nodes \
             with int8 weights",
            args.output.display()
        );
        return Ok(());
    }
    let mut opts = QdqOptions {
        per_channel: !args.per_tensor,
        activations: match args.activations {
            ActivationArg::U8 => QType::U8,
            ActivationArg::S8 => QType::S8,
        },
        symmetric_activations: args.symmetric,
        keep_removable_activations: args.keep_activations,
        ..QdqOptions::default()
    };
    if let Some(ops) = &args.op_types {
        opts.op_types = ops.clone();
    }
    let (model, table) = if args.equalize || args.bias_correction {
        prepared_and_table(args, &model, &opts)?
    } else {
        let table = table_of(args)?;
        (model, table)
    };
    let (q, report) = quantize_static(&model, &table, &opts)?;
    let bytes = output::write_model(&q, &args.output)?;
    eprintln!(
        "calibrate quantize: wrote {} ({bytes} bytes): {} nodes quantized, {} activations, {} \
         weights, {} biases, {} Relu/Clip folded, {} ops folded into Conv",
        args.output.display(),
        report.quantized_nodes,
        report.activations,
        report.weights,
        report.biases,
        report.removed_activations,
        report.folded_into_conv
    );
    Ok(())
}

/// --equalize / --bias-correction: the float model prepared for quantization (folded,
/// equalized), calibrated in one pass that also gathers bias correction's means, and its
/// biases corrected.
fn prepared_and_table(
    args: &QuantizeArgs,
    model: &onnx::pb::ModelProto,
    opts: &QdqOptions,
) -> Result<(onnx::pb::ModelProto, CalibrationTable)> {
    let dir = args.data.as_ref().ok_or_else(|| {
        Error::Usage("--equalize and --bias-correction need calibration data (--data DIR)".into())
    })?;
    let (prepared, _, eq) = prepare_float(model, opts, args.equalize)?;
    if let Some(r) = eq {
        eprintln!(
            "calibrate quantize: {} Conv pairs equalized ({} sweeps)",
            r.pairs, r.sweeps
        );
    }
    let data = data_of(args, dir)?;
    let observed = ObservedModel::from_onnx(&prepared)?;
    let mut correction = if args.bias_correction {
        Some(BiasCorrection::plan(&prepared, opts)?)
    } else {
        None
    };
    let calibration =
        collect_table_observing(
            &observed,
            &data,
            &stats_options(args),
            |n, t| match correction.as_mut() {
                Some(c) => c.observe(n, t),
                None => Ok(()),
            },
        )?;
    eprintln!(
        "calibrate quantize: {} tensors calibrated on {} samples",
        calibration.table.ranges.len(),
        data.len()
    );
    let model = match correction {
        Some(c) => {
            let (m, r) = c.apply(&prepared, opts)?;
            eprintln!(
                "calibrate quantize: {} biases corrected (largest shift {:.3} of the layer's \
                 largest |bias|)",
                r.corrected, r.max_shift
            );
            m
        }
        None => prepared,
    };
    Ok((model, calibration.table))
}

fn data_of(args: &QuantizeArgs, dir: &std::path::Path) -> Result<calibrate::CalibrationData> {
    DataArgs {
        data: dir.to_path_buf(),
        preprocess: args.preprocess.clone(),
    }
    .open(&args.model)
}

fn stats_options(args: &QuantizeArgs) -> StatsOptions {
    StatsOptions {
        method: match args.method {
            MethodArg::Minmax => Method::MinMax,
            MethodArg::Percentile => Method::Percentile(args.percentile),
            MethodArg::Entropy => Method::Entropy,
            MethodArg::Mse => Method::Mse,
        },
        activations: match args.activations {
            ActivationArg::U8 => ActivationType::U8,
            ActivationArg::S8 => ActivationType::S8,
        },
        symmetric: args.symmetric,
        threads: args.threads,
        progress: true,
    }
}

/// The ranges to quantize with, from --table or from running the model on --data.
fn table_of(args: &QuantizeArgs) -> Result<CalibrationTable> {
    match (&args.table, &args.data) {
        (Some(path), _) => CalibrationTable::read(path),
        (None, Some(dir)) => {
            let data = data_of(args, dir)?;
            let opts = stats_options(args);
            let calibration = collect_table(&args.model, &data, &opts)?;
            eprintln!(
                "calibrate quantize: {} tensors calibrated on {} samples",
                calibration.table.ranges.len(),
                data.len()
            );
            Ok(calibration.table)
        }
        (None, None) => Err(Error::Usage(
            "static quantization needs calibration data (--data DIR) or a table (--table FILE); \
             --dynamic needs neither"
                .into(),
        )),
    }
}
