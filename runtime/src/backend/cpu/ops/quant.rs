//! CPU evaluation of type conversion and quantization ops, one module per kind of work.

mod bitcast;
mod cast;
mod int8;

pub(crate) use int8::kernel_op;
mod int_conv;
mod int_matmul;
mod linear;
mod params;
mod values;

use super::{Inputs, Outputs};
use crate::ir::ops::QuantOp;
use crate::Result;

pub(crate) use int8::{
    pack_right_operand, right_zero_points, softmax_table, DynamicQMatMulPrepared, QConvPrepared,
    QConvTransposePrepared, QMatMulPrepared,
};

pub(super) fn eval(op: &QuantOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        QuantOp::Cast(a) => cast::eval(a, false, ins, out),
        QuantOp::CastLike(a) => cast::eval(a, true, ins, out),
        QuantOp::BitCast { to } => bitcast::eval(*to, ins, out),
        QuantOp::QuantizeLinear(a) => linear::quantize(a, ins, out),
        QuantOp::DequantizeLinear(a) => linear::dequantize(a, ins, out),
        QuantOp::DynamicQuantizeLinear => linear::dynamic_quantize(ins, out),
        QuantOp::MatMulInteger => int_matmul::matmul_integer(ins, out),
        QuantOp::QLinearMatMul => int_matmul::qlinear_matmul(ins, out),
        QuantOp::ConvInteger(a) => int_conv::conv_integer(a, ins, out),
        QuantOp::QLinearConv(a) => int_conv::qlinear_conv(a, ins, out),
        QuantOp::QConv(q) => int8::qconv(q, ins, out),
        QuantOp::QMatMul(q) => int8::qmatmul(q, ins, out),
        QuantOp::Lut(l) => int8::lut(l, ins, out),
        QuantOp::QBinary(q) => int8::qbinary(q, ins, out),
        QuantOp::QGlobalAveragePool(q) => int8::qglobal_average_pool(q, ins, out),
        QuantOp::QConvTranspose(q) => int8::qconv_transpose(q, ins, out),
        QuantOp::ChannelLut(l) => int8::channel_lut(l, ins, out),
        QuantOp::DynamicQMatMul(q) => int8::dynamic_qmatmul(q, ins, out),
        QuantOp::QSoftmax(q) => int8::qsoftmax(q, ins, out),
        QuantOp::QResize(q) => int8::qresize(q, ins, out),
    }
}
