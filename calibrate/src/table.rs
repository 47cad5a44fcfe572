//! The calibration table: for each tensor of the source model (by its ONNX name), the float
//! range that quantization maps onto the integer range, and how that range was chosen.
//!
//! It is the contract between the two halves of `calibrate`: the statistics side (running the
//! model on calibration data, observers, `--table` files) produces it, and the model writers
//! (QDQ ONNX, `.mote`) consume it. Keep it plain data.

use std::collections::BTreeMap;

/// How a tensor's range was chosen.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// The smallest and largest value seen.
    MinMax,
    /// The given percentile of |x| (for example 99.999) of the values seen.
    Percentile(f64),
    /// The clipping threshold that minimises the KL divergence between the float histogram and
    /// its quantized version (TensorRT's entropy calibration).
    Entropy,
    /// The clipping threshold that minimises the mean squared quantization error.
    Mse,
    /// Written or edited by hand in a table file.
    Manual,
}

/// The float range of one tensor. Quantization always includes 0 in the range (so that zero
/// padding is exact), whatever the range says.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRange {
    pub min: f32,
    pub max: f32,
    pub method: Method,
}

/// Ranges by tensor name. A BTreeMap so that iteration, and every file written from it, is
/// deterministic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CalibrationTable {
    pub ranges: BTreeMap<String, TensorRange>,
}

mod text;
