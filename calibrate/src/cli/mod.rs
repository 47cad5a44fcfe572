//! The subcommands, one module each; `main.rs` only parses and dispatches. Argument groups
//! that several subcommands share live here.

pub(crate) mod fp16;
pub(crate) mod quantize;
pub(crate) mod report;
pub(crate) mod table;

use calibrate::data::{CalibrationData, InputSpec, Preprocess};
use calibrate::stats::ActivationType;
use calibrate::{Method, Result, StatsOptions};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// Where the calibration samples are.
#[derive(Args, Debug, Clone)]
pub(crate) struct DataArgs {
    /// Directory with one sample per file: .npy (single input), .npz keyed by input name,
    /// or PNG/JPEG images (with --preprocess). Files are read in sorted name order.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// Image preprocessing: a file, or key=value pairs such as
    /// 'resize=224x224,scale=0.0039215686,mean=0.485/0.456/0.406,std=0.229/0.224/0.225,layout=nchw,channels=rgb'.
    #[arg(long, value_name = "SPEC")]
    pub(crate) preprocess: Option<String>,
}

impl DataArgs {
    /// Opens the data for `model`'s inputs.
    pub(crate) fn open(&self, model: &Path) -> Result<CalibrationData> {
        let preprocess = self
            .preprocess
            .as_deref()
            .map(Preprocess::from_arg)
            .transpose()?;
        let inputs = InputSpec::of_model(&mote::Model::load(model)?);
        CalibrationData::open(&self.data, &inputs, preprocess.as_ref())
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MethodArg {
    /// The smallest and largest value seen.
    Minmax,
    /// A percentile of |x| (see --percentile).
    Percentile,
    /// KL divergence (TensorRT's entropy calibration; each side of zero searched on its own
    /// for asymmetric ranges).
    Entropy,
    /// Least mean squared quantization error.
    Mse,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ActivationArg {
    U8,
    S8,
}

/// How activation ranges are chosen.
#[derive(Args, Debug, Clone)]
pub(crate) struct MethodArgs {
    /// Calibration method.
    #[arg(long, value_enum, default_value = "minmax")]
    pub(crate) method: MethodArg,
    /// The percentile of |x| kept by --method percentile.
    #[arg(long, default_value_t = 99.999, value_name = "P")]
    pub(crate) percentile: f64,
    /// Activation integer type.
    #[arg(long, value_enum, default_value = "u8")]
    pub(crate) activations: ActivationArg,
    /// Symmetric activation ranges (zero maps to zero, no zero point).
    #[arg(long)]
    pub(crate) symmetric: bool,
}

impl MethodArgs {
    pub(crate) fn stats_options(&self, threads: usize, progress: bool) -> StatsOptions {
        StatsOptions {
            method: match self.method {
                MethodArg::Minmax => Method::MinMax,
                MethodArg::Percentile => Method::Percentile(self.percentile),
                MethodArg::Entropy => Method::Entropy,
                MethodArg::Mse => Method::Mse,
            },
            activations: match self.activations {
                ActivationArg::U8 => ActivationType::U8,
                ActivationArg::S8 => ActivationType::S8,
            },
            symmetric: self.symmetric,
            threads,
            progress,
        }
    }
}
