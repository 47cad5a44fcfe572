//! `QMatMul`: `Y = A · W` as the 8-bit GEMM `Yᵀ = Wᵀ · Aᵀ` (the GEMM's packed operand is its
//! left one, and here the constant is `W`): `A`'s rows become the GEMM's columns, so `A` is
//! transposed in, and the result transposed out.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
use crate::backend::cpu::parallel;
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::QMatMul;
use crate::tensor::TensorView;
use crate::{bail, DType, Result};
use mote_kernels::cpu::qgemm::{
    qgemm_block, split_output, PackedQWeights, QGemm, QOperandB, QOutput,
};
use std::sync::Arc;

const COLUMN_GRAIN: usize = 64;
const MIN_MACS_PER_THREAD: usize = 1 << 18;

/// What a `QMatMul` keeps from load time.
#[derive(Debug)]
pub(crate) struct QMatMulPrepared {
    /// `Wᵀ` (`[N, K]`) packed.
    packed: PackedQWeights,
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
            let mut t = vec![0u8; n * k];
            for (kk, row) in w.bytes.chunks_exact(n.max(1)).enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    t[j * k + kk] = v;
                }
            }
            t
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
        let layout = mote_kernels::cpu::table().qgemm_layout;
        let packed = PackedQWeights::pack(layout, n, k, &wt, k, signed, &q.w_zero_point)
            .map_err(|e| kernel_error("QMatMul", e))?;
        Ok(QMatMulPrepared {
            packed,
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
    let (n, k) = (prepared.packed.rows(), prepared.packed.depth());
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
    // Aᵀ: `[K, rows]`.
    let mut at = vec![0u8; k * rows];
    for (r, row) in ab.chunks_exact(k.max(1)).enumerate() {
        for (kk, &v) in row.iter().enumerate() {
            at[kk * rows + r] = v;
        }
    }
    let call = QGemm {
        m: n,
        n: rows,
        k,
        a: &prepared.packed,
        b: QOperandB::Matrix {
            data: &at,
            ld: rows,
        },
        b_signed: q.a.signed,
        b_zero_point: q.a.zero_point,
    };
    let (lo, hi) = q.y.range();
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
    let grains = rows.div_ceil(COLUMN_GRAIN);
    let workers = parallel::worker_count(ins.threads(), grains, n * rows * k, MIN_MACS_PER_THREAD);
    let cuts: Vec<usize> = (1..workers)
        .map(|t| (grains * t / workers) * COLUMN_GRAIN)
        .collect();
    let parts = split_output(output, n, rows, &cuts).map_err(|e| kernel_error("QMatMul", e))?;
    parallel::for_each_part(parts, |part| {
        qgemm_block(&call, part).map_err(|e| kernel_error("QMatMul", e))
    })?;
    let table = q.lut.as_deref();
    for (j, col) in yt.chunks_exact(rows).enumerate() {
        for (r, &v) in col.iter().enumerate() {
            y.bytes[r * n + j] = table.map_or(v, |t| t[v as usize]);
        }
    }
    Ok(())
}
