//! `QConvTranspose` (stride = kernel, no padding): one 8-bit GEMM per image,
//! `[C_out · kh · kw, C_in] · [C_in, H · W]`, requantized per output channel, then each row
//! `(c, ky, kx)` scattered to the output pixels `(oy · kh + ky, ox · kw + kx)`.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, gemm, kernel_error};
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::QConvTranspose;
use crate::tensor::TensorView;
use crate::{bail, DType, Result};
use mote_kernels::cpu::qgemm::{PackedQWeights, QGemm, QOperandB, QOutput};
use std::sync::Arc;

/// What a `QConvTranspose` keeps from load time: the weights as GEMM rows `(c, ky, kx)`, and the
/// requantization of each row.
#[derive(Debug)]
pub(crate) struct QConvTransposePrepared {
    packed: PackedQWeights,
    bias: Vec<i32>,
    scale: Vec<f32>,
    out_channels: usize,
    kernel: (usize, usize),
}

impl QConvTransposePrepared {
    pub(crate) fn new(
        q: &QConvTranspose,
        w: TensorView<'_>,
        bias: Option<TensorView<'_>>,
    ) -> Result<Self> {
        let signed = match w.dtype {
            DType::I8 => true,
            DType::U8 => false,
            other => bail!(
                dtype,
                "QConvTranspose: weights are {other}, expected u8 or i8"
            ),
        };
        let &[c_in, c_out, kh, kw] = w.shape else {
            bail!(shape, "QConvTranspose: weights {:?} are not 4-D", w.shape);
        };
        let taps = kh * kw;
        let rows = c_out * taps;
        let per_channel = |len: usize, what: &str| -> Result<()> {
            if len != 1 && len != c_out {
                bail!(
                    shape,
                    "QConvTranspose: {len} weight {what} for {c_out} channels"
                );
            }
            Ok(())
        };
        per_channel(q.w_scale.len(), "scales")?;
        per_channel(q.w_zero_point.len(), "zero points")?;
        let of = |v: &[f32], c: usize| v[if v.len() == 1 { 0 } else { c }];
        // A[(c·kh + ky)·kw + kx][i] = W[i][c][ky][kx].
        let mut a = vec![0u8; rows * c_in];
        for i in 0..c_in {
            for r in 0..rows {
                a[r * c_in + i] = w.bytes[i * rows + r];
            }
        }
        let zero_points: Vec<i32> = (0..rows)
            .map(|r| {
                q.w_zero_point[if q.w_zero_point.len() == 1 {
                    0
                } else {
                    r / taps
                }]
            })
            .collect();
        let scale = (0..rows)
            .map(|r| q.x.scale * of(&q.w_scale, r / taps) / q.y.scale)
            .collect();
        let channel_bias = match bias {
            None => vec![0; c_out],
            Some(b) if b.dtype == DType::I32 && b.len() == c_out => b.as_slice::<i32>()?.to_vec(),
            Some(b) => bail!(
                shape,
                "QConvTranspose: bias {} {:?} for {c_out} channels",
                b.dtype,
                b.shape
            ),
        };
        let bias = (0..rows).map(|r| channel_bias[r / taps]).collect();
        let layout = mote_kernels::cpu::table().qgemm_layout;
        let packed = PackedQWeights::pack(layout, rows, c_in, &a, c_in, signed, &zero_points)
            .map_err(|e| kernel_error("QConvTranspose", e))?;
        Ok(QConvTransposePrepared {
            packed,
            bias,
            scale,
            out_channels: c_out,
            kernel: (kh, kw),
        })
    }
}

pub(in crate::backend::cpu::ops::quant) fn qconv_transpose(
    q: &QConvTranspose,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (x, w) = (ins.get(0)?, ins.get(1)?);
    let xb = bytes_of("QConvTranspose", &x, q.x)?;
    let fresh;
    let p = match ins.prepared() {
        Some(Prepared::QConvTranspose(p)) => p,
        _ => {
            fresh = Arc::new(QConvTransposePrepared::new(q, w, ins.opt(2))?);
            &*fresh
        }
    };
    let &[batch, c_in, h, wd] = x.shape else {
        bail!(shape, "QConvTranspose: input {:?} is not 4-D", x.shape);
    };
    if c_in != p.packed.depth() {
        bail!(
            shape,
            "QConvTranspose: input {:?} for {} input channels",
            x.shape,
            p.packed.depth()
        );
    }
    let (kh, kw) = p.kernel;
    let (c_out, rows, n) = (p.out_channels, p.packed.rows(), h * wd);
    let y = out.alloc_uninit(0, q.y.dtype(), &[batch, c_out, h * kh, wd * kw])?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let (lo, hi) = q.y.range();
    let mut rows_out = vec![0u8; rows * n];
    gemm::with_table(y.bytes, q.lut.as_deref(), |out| {
        for (image, yb) in out.chunks_exact_mut(c_out * n * kh * kw).enumerate() {
            let call = QGemm {
                m: rows,
                n,
                k: c_in,
                a: &p.packed,
                b: QOperandB::Matrix {
                    data: &xb[image * c_in * n..(image + 1) * c_in * n],
                    ld: n,
                },
                b_signed: q.x.signed,
                b_zero_point: q.x.zero_point,
            };
            let output = QOutput::Requant {
                c: &mut rows_out,
                ldc: n,
                signed: q.y.signed,
                bias: &p.bias,
                scale: &p.scale,
                zero_point: q.y.zero_point,
                lo,
                hi,
            };
            gemm::run("QConvTranspose", &call, output, ins.threads())?;
            // Scatter: row (c, ky, kx), pixel (oy, ox) → output (c, oy·kh + ky, ox·kw + kx).
            let out_w = wd * kw;
            for (r, row) in rows_out.chunks_exact(n).enumerate() {
                let (c, ky, kx) = (r / (kh * kw), (r / kw) % kh, r % kw);
                let plane = &mut yb[c * n * kh * kw..(c + 1) * n * kh * kw];
                for (oy, src) in row.chunks_exact(wd).enumerate() {
                    let dst = &mut plane[(oy * kh + ky) * out_w..];
                    for (ox, &v) in src.iter().enumerate() {
                        dst[ox * kw + kx] = v;
                    }
                }
            }
        }
        Ok(())
    })
}
