//! `calibrate`: Mote's offline model tool (post-training quantization with calibration data,
//! FP16 conversion, pruning, and one accuracy/size/latency/memory report).
//!
//! The statistics side: [`data`] reads calibration samples one file at a time, [`collect`]
//! runs the original model with every float activation exposed by its ONNX name, [`stats`]
//! turns what was seen into a [`CalibrationTable`] (MinMax, percentile, entropy, MSE over
//! streaming histograms), and [`report`] compares model variants. The model side: [`onnx`]
//! edits graphs (BatchNorm folding, cross-layer equalization in [`onnx::equalize`]) and
//! [`qdq`] writes quantized models ([`qdq::BiasCorrection`] corrects biases from statistics
//! gathered during calibration, [`stats::collect_table_observing`]).

pub mod collect;
pub mod data;
pub mod error;
pub mod fp16;
pub mod onnx;
pub mod output;
pub mod progress;
pub mod qdq;
pub mod report;
pub mod stats;
pub mod table;

pub use data::{CalibrationData, InputSpec, Preprocess};
pub use error::{Error, Result};
pub use stats::{collect_table, Calibration, StatsOptions};
pub use table::{CalibrationTable, Method, TensorRange};
