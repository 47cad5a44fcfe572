//! `DynamicQMatMul`: the dynamic-quantization product in one node. `x` is quantized to `u8`
//! exactly as `DynamicQuantizeLinear` does, multiplied on the row-major 8-bit product
//! (`qmatmul`) where the CPU has it, else on the 8-bit GEMM as `Yᵀ = Wᵀ · Xᵀ` (the constant `W`
//! is the GEMM's packed operand, as in `QMatMul`), and the `i32` products leave through the
//! kernel's `f32` epilogue scaled by `x_scale · w_scale[n]`: no `i32` tensor, `Cast` or `Mul`
//! pass over the output. The bias is added last, to the rounded product, as the unfused `Add`
//! did.

use super::super::super::{Inputs, Outputs};
use super::super::linear::dynamic_quantize_u8;
use super::gemm::PackedProduct;
use super::{gemm, kernel_error};
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::DynamicQMatMul;
use crate::tensor::TensorView;
use crate::{bail, DType, Result};
use mote_kernels::cpu::qgemm::{QGemm, QOperandB, QOutput};
use mote_kernels::cpu::qmatmul::{QMatMulCall, QMatMulOutput};
use mote_kernels::cpu::transpose::{transpose, TransposeParams};
use std::sync::Arc;

/// What a `DynamicQMatMul` keeps from load time.
#[derive(Debug)]
pub(crate) struct DynamicQMatMulPrepared {
    /// Output columns `N` and depth `K`.
    n: usize,
    k: usize,
    /// `W` packed with its zero points for the kernel that runs the product.
    weights: PackedProduct,
    /// The weight scale of each output column.
    w_scale: Vec<f32>,
    /// `f32` bias per output column (empty when the model has none).
    bias: Vec<f32>,
}

impl DynamicQMatMulPrepared {
    pub(crate) fn new(
        q: &DynamicQMatMul,
        w: TensorView<'_>,
        bias: Option<TensorView<'_>>,
    ) -> Result<Self> {
        let signed = match w.dtype {
            DType::I8 => true,
            DType::U8 => false,
            other => bail!(
                dtype,
                "DynamicQMatMul: weights are {other}, expected u8 or i8"
            ),
        };
        let &[k, n] = w.shape else {
            bail!(shape, "DynamicQMatMul: weights {:?} are not 2-D", w.shape);
        };
        for (what, len) in [
            ("scales", q.w_scale.len()),
            ("zero points", q.w_zero_point.len()),
        ] {
            if len != 1 && len != n {
                bail!(shape, "DynamicQMatMul: {len} weight {what} for {n} columns");
            }
        }
        let w_scale = (0..n)
            .map(|j| q.w_scale[if q.w_scale.len() == 1 { 0 } else { j }])
            .collect();
        let bias = match bias {
            None => Vec::new(),
            Some(b) if b.dtype == DType::F32 && b.shape == [n] => b.as_slice::<f32>()?.to_vec(),
            Some(b) => bail!(
                shape,
                "DynamicQMatMul: bias {} {:?} for {n} columns (expected f32 [{n}])",
                b.dtype,
                b.shape
            ),
        };
        let wt = gemm::transposed_bytes(w.bytes, k, n)?; // Wᵀ row-major: `[N, K]`.
        let weights = PackedProduct::pack("DynamicQMatMul", n, k, &wt, signed, &q.w_zero_point)?;
        Ok(DynamicQMatMulPrepared {
            n,
            k,
            weights,
            w_scale,
            bias,
        })
    }
}

pub(in crate::backend::cpu::ops::quant) fn dynamic_qmatmul(
    q: &DynamicQMatMul,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (x, w) = (ins.get(0)?, ins.get(1)?);
    if x.dtype != DType::F32 {
        bail!(dtype, "DynamicQMatMul: input is {}, expected f32", x.dtype);
    }
    let fresh;
    let prepared = match ins.prepared() {
        Some(Prepared::DynamicQMatMul(p)) => p,
        _ => {
            fresh = Arc::new(DynamicQMatMulPrepared::new(q, w, ins.opt(2))?);
            &*fresh
        }
    };
    let (n, k) = (prepared.n, prepared.k);
    let Some((&kx, lead)) = x.shape.split_last() else {
        bail!(shape, "DynamicQMatMul: scalar input");
    };
    if kx != k {
        bail!(
            shape,
            "DynamicQMatMul: input {:?} for weights of depth {k}",
            x.shape
        );
    }
    let rows: usize = lead.iter().product();
    let mut shape = lead.to_vec();
    shape.push(n);
    // The whole input is quantized (its range is the whole tensor's), even when empty.
    let mut xq = vec![0u8; x.len()];
    let (x_scale, x_zero_point) = dynamic_quantize_u8(x.as_slice::<f32>()?, &mut xq)?;
    let y = out.alloc_typed::<f32>(0, &shape)?;
    if y.is_empty() {
        return Ok(());
    }
    // The product of the two scale tensors, as the chain's `Mul(x_scale, w_scale)` rounds it.
    let scale: Vec<f32> = prepared.w_scale.iter().map(|&s| x_scale * s).collect();
    let packed = match &prepared.weights {
        PackedProduct::Gemm(packed) => packed,
        PackedProduct::Rows(f, w) => {
            let call = QMatMulCall {
                rows,
                a: &xq,
                lda: k,
                a_signed: false,
                a_zero_point: x_zero_point as i32,
                w,
            };
            let threads = ins.threads();
            if scale.iter().all(|s| s.is_finite()) {
                let output = QMatMulOutput::F32 {
                    y: &mut *y,
                    ldy: n,
                    scale: &scale,
                };
                gemm::run_rows("DynamicQMatMul", *f, &call, output, n, threads)?;
            } else {
                // As below: the `i32` products, then the same `f32` product per element.
                let mut acc = vec![0i32; n * rows];
                let output = QMatMulOutput::I32 {
                    y: &mut acc,
                    ldy: n,
                };
                gemm::run_rows("DynamicQMatMul", *f, &call, output, n, threads)?;
                for (v, a) in y.chunks_exact_mut(n).zip(acc.chunks_exact(n)) {
                    v.iter_mut()
                        .zip(a)
                        .zip(&scale)
                        .for_each(|((v, &a), &s)| *v = a as f32 * s);
                }
            }
            add_bias(y, &prepared.bias, n);
            return Ok(());
        }
    };
    let xt = gemm::transposed_bytes(&xq, rows, k)?; // Xᵀ: `[K, rows]`.
    let call = QGemm {
        m: n,
        n: rows,
        k,
        a: packed,
        b: QOperandB::Matrix {
            data: &xt,
            ld: rows,
        },
        b_signed: false,
        b_zero_point: x_zero_point as i32,
    };
    let mut yt = vec![0f32; n * rows];
    if scale.iter().all(|s| s.is_finite()) {
        let output = QOutput::F32 {
            c: &mut yt,
            ldc: rows,
            bias: &[],
            scale: &scale,
        };
        gemm::run("DynamicQMatMul", &call, output, ins.threads())?;
    } else {
        // An infinite scale (an input holding ±inf) is outside the epilogue's contract: the
        // `i32` products, then the same `f32` product per element.
        let mut acc = vec![0i32; n * rows];
        let output = QOutput::I32 {
            c: &mut acc,
            ldc: rows,
        };
        gemm::run("DynamicQMatMul", &call, output, ins.threads())?;
        let columns = yt.chunks_exact_mut(rows).zip(acc.chunks_exact(rows));
        for ((v, a), &s) in columns.zip(&scale) {
            v.iter_mut().zip(a).for_each(|(v, &a)| *v = a as f32 * s);
        }
    }
    // Back to row-major `[rows, N]` with the vectorised transpose, then the bias.
    let back = TransposeParams::contiguous(1, n, rows);
    transpose(&back, &yt, y).map_err(|e| kernel_error("DynamicQMatMul", e))?;
    add_bias(y, &prepared.bias, n);
    Ok(())
}

/// `y[.., c] += bias[c]` over rows of `n` (nothing for an empty bias).
fn add_bias(y: &mut [f32], bias: &[f32], n: usize) {
    if bias.is_empty() {
        return;
    }
    for row in y.chunks_exact_mut(n) {
        row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
    }
}
