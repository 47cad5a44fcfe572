//! The 8-bit ops made by QDQ folding (`ir::ops::quant::int8`): tensors are raw bytes read as
//! `u8` or `i8` per their quantization.

mod binary;
mod conv;
mod conv_transpose;
mod dynamic;
mod gemm;
mod lut;
mod matmul;
mod pool;
mod resize;
mod softmax;

pub(crate) use binary::kernel_op;
pub(super) use binary::qbinary;
pub(super) use conv::qconv;
pub(super) use conv_transpose::qconv_transpose;
pub(super) use dynamic::dynamic_qmatmul;
pub(super) use lut::{channel_lut, lut};
pub(super) use matmul::{matmul_integer, qmatmul};
pub(super) use pool::qglobal_average_pool;
pub(super) use resize::qresize;
pub(super) use softmax::qsoftmax;

pub(crate) use conv::QConvPrepared;
pub(crate) use conv_transpose::QConvTransposePrepared;
pub(crate) use dynamic::DynamicQMatMulPrepared;
pub(crate) use matmul::{pack_right_operand, right_zero_points, QMatMulPrepared};
pub(crate) use softmax::table as softmax_table;

use crate::ir::ops::quant::Quant8;
use crate::tensor::TensorView;
use crate::{bail, Error, Result};

fn kernel_error(op: &str, e: mote_kernels::KernelError) -> Error {
    Error::internal(format!("{op}: kernel rejected its arguments: {e}"))
}

/// The bytes of an 8-bit input, checking its type against the quantization the op expects.
fn bytes_of<'a>(op: &str, x: &TensorView<'a>, q: Quant8) -> Result<&'a [u8]> {
    if x.dtype != q.dtype() {
        bail!(dtype, "{op}: input is {}, expected {}", x.dtype, q.dtype());
    }
    Ok(x.bytes)
}
