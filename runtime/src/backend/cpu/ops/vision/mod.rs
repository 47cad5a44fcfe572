//! CPU evaluation of the detection and geometric vision ops, one module per op.

mod affine_grid;
mod grid_sample;
mod nms;
mod roi_align;
mod roi_pool;
mod unpool;

use super::{Inputs, Outputs};
use crate::ir::ops::VisionOp;
use crate::tensor::{Element, TensorView};
use crate::{Error, Result};

/// Output elements (each a handful of multiply-adds) below which one more thread does not pay.
const MIN_ELEMENTS_PER_THREAD: usize = 1 << 15;

pub(super) fn eval(op: &VisionOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        VisionOp::NonMaxSuppression { center_point_box } => {
            nms::non_max_suppression(*center_point_box, ins, out)
        }
        VisionOp::RoiAlign(attrs) => roi_align::roi_align(attrs, ins, out),
        VisionOp::MaxRoiPool(attrs) => roi_pool::max_roi_pool(attrs, ins, out),
        VisionOp::GridSample(attrs) => grid_sample::grid_sample(attrs, ins, out),
        VisionOp::AffineGrid { align_corners } => {
            affine_grid::affine_grid(*align_corners, ins, out)
        }
        VisionOp::MaxUnpool(attrs) => unpool::max_unpool(attrs, ins, out),
    }
}

/// An element these ops compute with: converted to `f64` for arithmetic and back.
trait Real: Element {
    fn to_f64(self) -> f64;
    /// Floats round to nearest; integers truncate toward zero and saturate (numpy's
    /// `astype`, which the ONNX reference applies to its float results).
    fn from_f64(v: f64) -> Self;
}

macro_rules! real_by_cast {
    ($($t:ty),*) => {$(
        impl Real for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
real_by_cast!(f32, f64, u8, i8, u16, i16, u32, i32, u64, i64);

impl Real for half::f16 {
    fn to_f64(self) -> f64 {
        half::f16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        half::f16::from_f64(v)
    }
}

impl Real for half::bf16 {
    fn to_f64(self) -> f64 {
        half::bf16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        half::bf16::from_f64(v)
    }
}

/// Rejects a non-float input of a float-only op.
fn require_float(op: &str, what: &str, v: &TensorView<'_>) -> Result<()> {
    if v.dtype.is_float() {
        Ok(())
    } else {
        Err(Error::unsupported(
            op,
            format!("{what} of dtype {} (float types only)", v.dtype),
        ))
    }
}

/// Checks that `v` has shape `want`.
fn expect_shape(op: &str, what: &str, v: &TensorView<'_>, want: &[usize]) -> Result<()> {
    if v.shape == want {
        Ok(())
    } else {
        crate::bail!(
            shape,
            "{op}: {what} has shape {:?}, {want:?} expected",
            v.shape
        )
    }
}
