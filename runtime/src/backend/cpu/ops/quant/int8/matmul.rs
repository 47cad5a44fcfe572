//! `QMatMul`: `Y = A · W` on the row-major 8-bit product (`qmatmul`: `A` read in place, `Y`
//! written row by row) where the CPU has an optimised variant of it; elsewhere as the 8-bit
//! GEMM `Yᵀ = Wᵀ · Aᵀ` (the GEMM's packed operand is its left one, and here the constant is
//! `W`): `A`'s rows become the GEMM's columns, so `A` is transposed in, and the result
//! transposed out.

use super::super::super::{Inputs, Outputs};
use super::gemm::PackedProduct;
use super::{bytes_of, gemm, kernel_error};
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::QMatMul;
use crate::tensor::TensorView;
use crate::{bail, DType, Result};
use mote_kernels::cpu::qgemm::{PackedQWeights, QGemm, QOperandB, QOutput};
use mote_kernels::cpu::qmatmul::{QMatMulCall, QMatMulOutput};
use std::sync::Arc;

/// What a `QMatMul` keeps from load time.
#[derive(Debug)]
pub(crate) struct QMatMulPrepared {
    /// Output columns `N` and depth `K`.
    n: usize,
    k: usize,
    /// The packed weights.
    weights: PackedProduct,
    /// `i32` bias per output column (zeros when the model has none).
    bias: Vec<i32>,
    /// `a.scale · w_scale[n] / y.scale` per output column.
    scale: Vec<f32>,
}

impl QMatMulPrepared {
    pub(crate) fn new(
        q: &QMatMul,
        w: TensorView<'_>,
        bias: Option<TensorView<'_>>,
    ) -> Result<Self> {
        let signed = match w.dtype {
            DType::I8 => true,
            DType::U8 => false,
            other => bail!(dtype, "QMatMul: weights are {other}, expected u8 or i8"),
        };
        let &[rows, cols] = w.shape else {
            bail!(shape, "QMatMul: weights {:?} are not 2-D", w.shape);
        };
        let (k, n) = if q.trans_b {
            (cols, rows)
        } else {
            (rows, cols)
        };
        // Wᵀ row-major: `[N, K]`.
        let wt: Vec<u8> = if q.trans_b {
            w.bytes.to_vec()
        } else {
            gemm::transposed_bytes(w.bytes, k, n)?
        };
        let expand = |len: usize| -> Result<()> {
            if len != 1 && len != n {
                bail!(shape, "QMatMul: {len} weight scales for {n} columns");
            }
            Ok(())
        };
        expand(q.w_scale.len())?;
        expand(q.w_zero_point.len())?;
        let scale = (0..n)
            .map(|j| q.a.scale * q.w_scale[if q.w_scale.len() == 1 { 0 } else { j }] / q.y.scale)
            .collect();
        let bias = match bias {
            None => vec![0; n],
            Some(b) if b.dtype == DType::I32 && b.len() == n => b.as_slice::<i32>()?.to_vec(),
            Some(b) => bail!(
                shape,
                "QMatMul: bias {} {:?} for {n} columns",
                b.dtype,
                b.shape
            ),
        };
        let weights = PackedProduct::pack("QMatMul", n, k, &wt, signed, &q.w_zero_point)?;
        Ok(QMatMulPrepared {
            n,
            k,
            weights,
            bias,
            scale,
        })
    }
}

pub(in crate::backend::cpu::ops::quant) fn qmatmul(
    q: &QMatMul,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (a, w) = (ins.get(0)?, ins.get(1)?);
    let ab = bytes_of("QMatMul", &a, q.a)?;
    let fresh;
    let prepared = match ins.prepared() {
        Some(Prepared::QMatMul(p)) => p,
        _ => {
            fresh = Arc::new(QMatMulPrepared::new(q, w, ins.opt(2))?);
            &*fresh
        }
    };
    let (n, k) = (prepared.n, prepared.k);
    let Some((&ka, lead)) = a.shape.split_last() else {
        bail!(shape, "QMatMul: scalar input");
    };
    if ka != k {
        bail!(
            shape,
            "QMatMul: input {:?} for weights of depth {k}",
            a.shape
        );
    }
    let rows: usize = lead.iter().product();
    let mut shape = lead.to_vec();
    shape.push(n);
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let (lo, hi) = q.y.range();
    let packed = match &prepared.weights {
        PackedProduct::Gemm(packed) => packed,
        PackedProduct::Rows(f, w) => {
            let call = QMatMulCall {
                rows,
                a: ab,
                lda: k,
                a_signed: q.a.signed,
                a_zero_point: q.a.zero_point,
                w,
            };
            return gemm::with_table(y.bytes, q.lut.as_deref(), |out| {
                let output = QMatMulOutput::Requant {
                    y: out,
                    ldy: n,
                    signed: q.y.signed,
                    bias: &prepared.bias,
                    scale: &prepared.scale,
                    zero_point: q.y.zero_point,
                    lo,
                    hi,
                };
                gemm::run_rows("QMatMul", *f, &call, output, n, ins.threads())
            });
        }
    };
    let at = gemm::transposed_bytes(ab, rows, k)?; // Aᵀ: `[K, rows]`.
    let call = QGemm {
        m: n,
        n: rows,
        k,
        a: packed,
        b: QOperandB::Matrix {
            data: &at,
            ld: rows,
        },
        b_signed: q.a.signed,
        b_zero_point: q.a.zero_point,
    };
    let mut yt = vec![0u8; n * rows];
    let output = QOutput::Requant {
        c: &mut yt,
        ldc: rows,
        signed: q.y.signed,
        bias: &prepared.bias,
        scale: &prepared.scale,
        zero_point: q.y.zero_point,
        lo,
        hi,
    };
    gemm::run("QMatMul", &call, output, ins.threads())?;
    gemm::with_table(y.bytes, q.lut.as_deref(), |out| {
        gemm::transpose_bytes(&yt, n, rows, out)
    })
}

/// `MatMulInteger` with a 2-D right operand on the 8-bit GEMM (`i32` out), as `Yᵀ = Bᵀ · Aᵀ`:
/// the dynamic-quantization path of transformers (`DynamicQuantizeLinear` then
/// `MatMulInteger`). `Ok(false)` when the operands are outside that case (a 1-D or batched
/// `B`, zero points that are not a scalar / `B`'s per-column vector); the general
/// implementation then runs.
pub(in crate::backend::cpu::ops::quant) fn matmul_integer(
    a: TensorView<'_>,
    b: TensorView<'_>,
    a_zero_point: Option<TensorView<'_>>,
    b_zero_point: Option<TensorView<'_>>,
    prepared: Option<&Prepared>,
    threads: usize,
    out: &mut Outputs,
) -> Result<bool> {
    let signed = |d: DType| match d {
        DType::I8 => Some(true),
        DType::U8 => Some(false),
        _ => None,
    };
    let (Some(a_signed), Some(_)) = (signed(a.dtype), signed(b.dtype)) else {
        return Ok(false);
    };
    let (&[k, n], Some((&ka, lead))) = (b.shape, a.shape.split_last()) else {
        return Ok(false);
    };
    if ka != k || lead.is_empty() {
        return Ok(false);
    }
    let a_zp = match &a_zero_point {
        None => 0,
        Some(z) if z.len() == 1 && z.dtype == a.dtype => zero_point_at(z, 0),
        Some(_) => return Ok(false),
    };
    let Some(b_zps) = right_zero_points(&b, b_zero_point.as_ref()) else {
        return Ok(false);
    };
    let rows: usize = lead.iter().product();
    let mut shape = lead.to_vec();
    shape.push(n);
    let y = out.alloc_typed::<i32>(0, &shape)?;
    if y.is_empty() {
        return Ok(true);
    }
    // Bᵀ `[N, K]` packed as the GEMM's left operand (once at load when `B` is a constant);
    // Aᵀ `[K, rows]` its right one.
    let fresh;
    let packed = match prepared {
        Some(Prepared::MatMulInteger(p)) if (p.rows(), p.depth()) == (n, k) => p,
        _ => {
            fresh = pack_right_operand(b, &b_zps)?;
            &fresh
        }
    };
    let at = gemm::transposed_bytes(a.bytes, rows, k)?;
    let call = QGemm {
        m: n,
        n: rows,
        k,
        a: &packed,
        b: QOperandB::Matrix {
            data: &at,
            ld: rows,
        },
        b_signed: a_signed,
        b_zero_point: a_zp,
    };
    let mut yt = vec![0i32; n * rows];
    let output = QOutput::I32 {
        c: &mut yt,
        ldc: rows,
    };
    gemm::run("MatMulInteger", &call, output, threads)?;
    gemm::transpose_i32(&yt, n, rows, y)?;
    Ok(true)
}

/// `MatMulInteger`'s 2-D right operand `B` (`[K, N]`, zero points one or per column) as
/// packed GEMM weights `Bᵀ`.
pub(crate) fn pack_right_operand(b: TensorView<'_>, zero_points: &[i32]) -> Result<PackedQWeights> {
    let &[k, n] = b.shape else {
        bail!(shape, "MatMulInteger: B {:?} is not 2-D", b.shape);
    };
    let signed = b.dtype == DType::I8;
    let bt = gemm::transposed_bytes(b.bytes, k, n)?;
    let layout = mote_kernels::cpu::table().qgemm_layout;
    PackedQWeights::pack(layout, n, k, &bt, k, signed, zero_points)
        .map_err(|e| kernel_error("MatMulInteger", e))
}

/// The zero points of `MatMulInteger`'s `B` as the packing wants them, when they are a scalar
/// or one per column (`None` otherwise).
pub(crate) fn right_zero_points(
    b: &TensorView<'_>,
    z: Option<&TensorView<'_>>,
) -> Option<Vec<i32>> {
    let n = *b.shape.get(1)?;
    match z {
        None => Some(vec![0]),
        Some(z) if z.dtype == b.dtype && (z.len() == 1 || (z.rank() == 1 && z.len() == n)) => {
            Some((0..z.len()).map(|i| zero_point_at(z, i)).collect())
        }
        Some(_) => None,
    }
}

/// Element `i` of an 8-bit zero-point tensor as an integer.
fn zero_point_at(z: &TensorView<'_>, i: usize) -> i32 {
    if z.dtype == DType::I8 {
        z.bytes[i] as i8 as i32
    } else {
        z.bytes[i] as i32
    }
}
