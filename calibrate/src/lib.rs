//! `calibrate`: Mote's offline model tool (post-training quantization with calibration data,
//! FP16 conversion, pruning, and one accuracy/size/latency/memory report).

pub mod error;
pub mod fp16;
pub mod onnx;
pub mod output;
pub mod qdq;
pub mod table;

pub use error::{Error, Result};
