//! CPU evaluation of matrix products and softmax (always compiled: every model family needs
//! them) and, with the `ops-transformer` feature, of the rest of the family ([`blocks`]:
//! normalizations (layer, RMS, Lp), attention (softmax and linear), rotary embeddings, SwiGLU,
//! Einsum and determinants). f32 products go through `mote-kernels`' SGEMM; other types use a
//! portable loop ([`numeric`]). f16/bf16 are computed in f32 and rounded. MatMul, Gemm and
//! both attentions share their work out among `Inputs::threads()` workers
//! ([`crate::backend::cpu::parallel`]).

#[cfg(feature = "ops-transformer")]
mod blocks;
mod fused_matmul;
mod gemm;
mod matmul;
mod numeric;
mod packed;
mod softmax;

use super::{Inputs, Outputs};
use crate::ir::ops::TransformerOp;
use crate::tensor::{Tensor, TensorView};
use crate::{DType, Error, Result};

/// Multiply-adds below which one more thread does not pay for starting it (tens of µs).
const MIN_WORK_PER_THREAD: usize = 1 << 17;

pub(super) fn eval(op: &TransformerOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        TransformerOp::MatMul => matmul::eval(ins, out),
        TransformerOp::Gemm(g) => gemm::eval(g, ins, out),
        TransformerOp::FusedMatMul(f) => fused_matmul::eval(f, ins, out),
        TransformerOp::Softmax(s) => softmax::eval(s, ins, out),
        #[cfg(feature = "ops-transformer")]
        _ => blocks::eval(op, ins, out),
        #[cfg(not(feature = "ops-transformer"))]
        _ => Err(super::not_compiled(op.name(), "ops-transformer")),
    }
}

/// Whether `op` is one of the products or softmax, compiled in every build (the rest of the
/// family needs the `ops-transformer` feature).
pub(super) fn is_core(op: &TransformerOp) -> bool {
    matches!(
        op,
        TransformerOp::MatMul
            | TransformerOp::Gemm(_)
            | TransformerOp::FusedMatMul(_)
            | TransformerOp::Softmax(_)
    )
}

/// Checks that every given input in `which` has the dtype of input 0 and returns it.
fn same_dtype(op: &str, ins: &Inputs<'_>, which: &[usize]) -> Result<DType> {
    let t = ins.get(0)?.dtype;
    for &i in which {
        if let Some(v) = ins.opt(i) {
            if v.dtype != t {
                return Err(Error::dtype(format!(
                    "{op}: input {i} is {}, input 0 is {t}",
                    v.dtype
                )));
            }
        }
    }
    Ok(t)
}

/// The integer type [`through_wide_int`] computes narrow integers in: wrapping `+` and `·`
/// agree modulo 2^bits whatever the width, so the narrowed results are exact.
fn wide_int(t: DType) -> Option<DType> {
    match t {
        DType::I8 | DType::U8 | DType::I16 | DType::U16 => Some(DType::I32),
        DType::U32 => Some(DType::I64),
        _ => None,
    }
}

/// Evaluates `eval` on copies of the inputs of dtype `narrow` widened to `wide`
/// ([`wide_int`]) and wraps every `wide` output back to `narrow`. For ops computing sums of
/// products only (MatMul, Einsum): each has its loops for five integer types, not ten.
fn through_wide_int(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    narrow: DType,
    wide: DType,
    eval: impl FnOnce(&Inputs<'_>, &mut Outputs) -> Result<()>,
) -> Result<()> {
    let widened = (0..ins.len())
        .map(|i| match ins.opt(i) {
            Some(v) if v.dtype == narrow => ints_as(wide, v.shape, &v.to_i64_vec()?).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<Vec<Option<Tensor>>>>()?;
    let views: Vec<Option<TensorView<'_>>> = widened
        .iter()
        .enumerate()
        .map(|(i, w)| w.as_ref().map(Tensor::view).or_else(|| ins.opt(i)))
        .collect();
    let mut wide_out = Outputs::fresh(out.len());
    eval(&Inputs::new(views, ins.threads()), &mut wide_out)?;
    for (i, result) in wide_out.into_results().into_iter().enumerate() {
        if let Some(t) = result {
            if t.dtype() == wide {
                let narrowed = ints_as(narrow, t.shape(), &t.view().to_i64_vec()?)?;
                out.set(i, narrowed)?;
            } else {
                out.set(i, t)?;
            }
        }
    }
    Ok(())
}

/// `values` as a tensor of integer dtype `t`, wrapping (keeping the low bits).
fn ints_as(t: DType, shape: &[usize], values: &[i64]) -> Result<Tensor> {
    fn wrap<T: crate::tensor::Element>(
        shape: &[usize],
        values: &[i64],
        f: impl Fn(i64) -> T,
    ) -> Result<Tensor> {
        Tensor::from_vec(shape, values.iter().map(|&v| f(v)).collect())
    }
    match t {
        DType::I8 => wrap(shape, values, |v| v as i8),
        DType::U8 => wrap(shape, values, |v| v as u8),
        DType::I16 => wrap(shape, values, |v| v as i16),
        DType::U16 => wrap(shape, values, |v| v as u16),
        DType::I32 => wrap(shape, values, |v| v as i32),
        DType::U32 => wrap(shape, values, |v| v as u32),
        DType::I64 => wrap(shape, values, |v| v),
        _ => Err(Error::internal(format!("{t} is not a narrow integer type"))),
    }
}

/// Evaluates `eval` on f32 copies of the inputs of dtype `half` (f16/bf16) and rounds every
/// f32 output back to `half`: products and sums of half types are computed in f32.
fn through_f32(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    half: DType,
    eval: impl FnOnce(&Inputs<'_>, &mut Outputs) -> Result<()>,
) -> Result<()> {
    let widened = (0..ins.len())
        .map(|i| match ins.opt(i) {
            Some(v) if v.dtype == half => Tensor::from_vec(v.shape, v.to_f32_vec()?).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<Vec<Option<Tensor>>>>()?;
    let views: Vec<Option<TensorView<'_>>> = widened
        .iter()
        .enumerate()
        .map(|(i, w)| w.as_ref().map(Tensor::view).or_else(|| ins.opt(i)))
        .collect();
    let mut wide_out = Outputs::fresh(out.len());
    eval(&Inputs::new(views, ins.threads()), &mut wide_out)?;
    for (i, result) in wide_out.into_results().into_iter().enumerate() {
        if let Some(t) = result {
            if t.dtype() == DType::F32 {
                numeric::store(out, i, half, t.shape(), t.as_slice::<f32>()?)?;
            } else {
                out.set(i, t)?;
            }
        }
    }
    Ok(())
}
