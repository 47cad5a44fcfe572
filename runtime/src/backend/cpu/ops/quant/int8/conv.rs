//! `QConv`: the 8-bit GEMM over the implicit im2col of each (image, group), or the 8-bit
//! depthwise kernel, both requantizing in their epilogue; a folded `Lut` runs on the bytes after.
//! A 1×1 conv over inputs of one position per image (the squeeze-excite convs after a global
//! pool) is a matrix product of the `[N, C_in]` channels: it runs on the row-major `qmatmul`
//! where the CPU has it, which the GEMM would run on a single column of its tile.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, gemm, kernel_error};
use crate::backend::cpu::parallel;
use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::quant::QConv;
use crate::tensor::TensorView;
use crate::{bail, DType, Result};
use mote_kernels::cpu::depthwise::DepthwiseParams;
use mote_kernels::cpu::qdepthwise::{
    qdepthwise, PackedQDepthwiseWeights, QDepthwise, QDepthwiseOut,
};
use mote_kernels::cpu::qgemm::{PackedQWeights, QConvGeometry, QGemm, QOperandB, QOutput};
use mote_kernels::cpu::qmatmul::{PackedQMatMulWeights, QMatMulCall, QMatMulFn, QMatMulOutput};
use std::sync::Arc;

/// Depthwise multiply-adds below which one more thread does not pay: half the GEMM's figure,
/// because a depthwise MAC costs more (16-bit pairs, a setup per channel); with the GEMM's,
/// the mobile classifier's mid-size depthwise layers ran on one thread of two.
const MIN_DEPTHWISE_MACS_PER_THREAD: usize = 1 << 16;

/// What a `QConv` keeps from load time: weights packed for its kernel, and the requantization
/// of each output channel.
#[derive(Debug)]
pub(crate) struct QConvPrepared {
    /// One packed block per group for the GEMM, or the depthwise weights.
    kernel: QConvWeights,
    /// `i32` bias per output channel (zeros when the model has none).
    bias: Vec<i32>,
    /// `x.scale · w_scale[c] / y.scale` per output channel.
    scale: Vec<f32>,
}

#[derive(Debug)]
enum QConvWeights {
    Gemm(Vec<PackedQWeights>),
    Depthwise(PackedQDepthwiseWeights),
    /// A 1×1 conv over one position per image, as `[N, C_in] · Wᵀ` on the row-major product.
    Rows(QMatMulFn, PackedQMatMulWeights),
}

impl QConvPrepared {
    /// Packs `w` (`[C_out, C_in/group, kh, kw]`, or 1-D `[C_out, C_in/group, k]`);
    /// `single_position`: the input is known to have one position per image.
    pub(crate) fn new(
        q: &QConv,
        w: TensorView<'_>,
        bias: Option<TensorView<'_>>,
        single_position: bool,
    ) -> Result<Self> {
        let signed = match w.dtype {
            DType::I8 => true,
            DType::U8 => false,
            other => bail!(dtype, "QConv: weights are {other}, expected u8 or i8"),
        };
        if !(3..=4).contains(&w.shape.len()) || q.conv.group == 0 || w.shape[0] % q.conv.group != 0
        {
            bail!(
                shape,
                "QConv: weights {:?} with {} groups",
                w.shape,
                q.conv.group
            );
        }
        let out_channels = w.shape[0];
        let taps: usize = w.shape[2..].iter().product();
        let per_channel = |v: &[f32]| -> Result<Vec<f32>> {
            match v.len() {
                1 => Ok(vec![v[0]; out_channels]),
                n if n == out_channels => Ok(v.to_vec()),
                n => bail!(
                    shape,
                    "QConv: {n} weight scales for {out_channels} channels"
                ),
            }
        };
        let w_scale = per_channel(&q.w_scale)?;
        if q.w_zero_point.len() != q.w_scale.len() {
            bail!(
                shape,
                "QConv: weight zero points and scales differ in length"
            );
        }
        let scale = w_scale
            .iter()
            .map(|&ws| q.x.scale * ws / q.y.scale)
            .collect();
        let bias = match bias {
            None => vec![0; out_channels],
            Some(b) if b.dtype == DType::I32 && b.len() == out_channels => {
                b.as_slice::<i32>()?.to_vec()
            }
            Some(b) => bail!(
                shape,
                "QConv: bias {} {:?} for {out_channels} channels",
                b.dtype,
                b.shape
            ),
        };
        let depthwise = q.conv.group == out_channels && w.shape[1] == 1 && w.shape.len() == 4;
        let rows_kernel = mote_kernels::cpu::table().qmatmul.map(|(_, f)| f);
        let kernel = if let Some(f) = rows_kernel.filter(|_| {
            single_position
                && q.conv.group == 1
                && taps == 1
                && one_position_out(q, w.shape.len() - 2)
        }) {
            // `[C_out, C_in, 1, 1]` is `Wᵀ` row-major.
            let (n, k) = (out_channels, w.shape[1]);
            let packed = PackedQMatMulWeights::pack(n, k, w.bytes, k, signed, &q.w_zero_point)
                .map_err(|e| kernel_error("QConv", e))?;
            QConvWeights::Rows(f, packed)
        } else if depthwise {
            let packed = PackedQDepthwiseWeights::pack(
                w.bytes,
                signed,
                &q.w_zero_point,
                out_channels,
                [w.shape[2], w.shape[3]],
            )
            .map_err(|e| kernel_error("QConv", e))?;
            QConvWeights::Depthwise(packed)
        } else {
            let rows = out_channels / q.conv.group;
            let depth = w.shape[1] * taps;
            let layout = mote_kernels::cpu::table().qgemm_layout;
            let blocks = (0..q.conv.group)
                .map(|g| {
                    let zp = if q.w_zero_point.len() == 1 {
                        &q.w_zero_point[..]
                    } else {
                        &q.w_zero_point[g * rows..(g + 1) * rows]
                    };
                    let block = &w.bytes[g * rows * depth..(g + 1) * rows * depth];
                    PackedQWeights::pack(layout, rows, depth, block, depth, signed, zp)
                        .map_err(|e| kernel_error("QConv", e))
                })
                .collect::<Result<Vec<_>>>()?;
            QConvWeights::Gemm(blocks)
        };
        Ok(QConvPrepared {
            kernel,
            bias,
            scale,
        })
    }
}

/// Whether the conv's window, on an input of one position, reads that position alone and gives
/// one position (no padding).
fn one_position_out(q: &QConv, spatial: usize) -> bool {
    let ones = vec![1; spatial];
    q.conv
        .window
        .resolve(&ones, Some(&ones), false)
        .is_ok_and(|g| {
            g.output.iter().all(|&o| o == 1)
                && g.pads_begin.iter().chain(&g.pads_end).all(|&p| p == 0)
        })
}

pub(in crate::backend::cpu::ops::quant) fn qconv(
    q: &QConv,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (x, w) = (ins.get(0)?, ins.get(1)?);
    let xb = bytes_of("QConv", &x, q.x)?;
    if x.shape.len() < 3 || w.shape.len() != x.shape.len() {
        bail!(
            shape,
            "QConv: input {:?} and weights {:?} need equal ranks of at least 3",
            x.shape,
            w.shape
        );
    }
    // Resolved once per call (the output shape comes from it too): small convs run often.
    let geometry = q
        .conv
        .window
        .resolve(&x.shape[2..], Some(&w.shape[2..]), false)?;
    let shape = [&[x.shape[0], w.shape[0]][..], &geometry.output].concat();
    let fresh;
    let one_position = x.shape.len() > 2 && x.shape[2..].iter().all(|&d| d == 1);
    let prepared = match ins.prepared() {
        // Packed for one position per image, and this input has more: pack for the GEMM.
        Some(Prepared::QConv(p)) if one_position || !matches!(p.kernel, QConvWeights::Rows(..)) => {
            p
        }
        _ => {
            fresh = Arc::new(QConvPrepared::new(q, w, ins.opt(2), one_position)?);
            &*fresh
        }
    };
    // 1-D convs run as 2-D ones of height 1.
    let (in_h, in_w, kh, kw) = match (x.shape.len(), w.shape.len()) {
        (4, 4) => (x.shape[2], x.shape[3], w.shape[2], w.shape[3]),
        (3, 3) => (1, x.shape[2], 1, w.shape[2]),
        _ => bail!(shape, "QConv: input {:?}, weights {:?}", x.shape, w.shape),
    };
    let two = |v: &[usize], fill: usize| {
        if v.len() == 2 {
            (v[0], v[1])
        } else {
            (fill, v[0])
        }
    };
    let (sh, sw) = two(&geometry.strides, 1);
    let (dh, dw) = two(&geometry.dilations, 1);
    let (pt, pl) = two(&geometry.pads_begin, 0);
    let (pb, pr) = two(&geometry.pads_end, 0);
    let (out_h, out_w) = if geometry.output.len() == 2 {
        (geometry.output[0], geometry.output[1])
    } else {
        (1, geometry.output[0])
    };
    if x.shape[1] != w.shape[1] * q.conv.group {
        bail!(
            shape,
            "QConv: input {:?} for weights {:?} in {} groups",
            x.shape,
            w.shape,
            q.conv.group
        );
    }
    let threads = ins.threads();
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    let (lo, hi) = q.y.range();
    let (c_in, c_out) = (x.shape[1], w.shape[0]);
    let groups = q.conv.group;
    let (cg_in, cg_out) = (c_in / groups, c_out / groups);
    let (in_plane, out_plane) = (in_h * in_w, out_h * out_w);
    if y.bytes.is_empty() {
        return Ok(());
    }
    gemm::with_table(y.bytes, q.lut.as_deref(), |out| {
        match &prepared.kernel {
            QConvWeights::Rows(f, wr) => {
                let images = x.shape[0];
                let call = QMatMulCall {
                    rows: images,
                    a: xb,
                    lda: c_in,
                    a_signed: q.x.signed,
                    a_zero_point: q.x.zero_point,
                    w: wr,
                };
                let output = QMatMulOutput::Requant {
                    y: &mut *out,
                    ldy: c_out,
                    signed: q.y.signed,
                    bias: &prepared.bias,
                    scale: &prepared.scale,
                    zero_point: q.y.zero_point,
                    lo,
                    hi,
                };
                gemm::run_rows("QConv", *f, &call, output, c_out, threads)?;
            }
            QConvWeights::Depthwise(wd) => {
                let params = DepthwiseParams {
                    channels: c_in,
                    in_h,
                    in_w,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    dilation_h: dh,
                    dilation_w: dw,
                    pad_top: pt,
                    pad_left: pl,
                    pad_bottom: pb,
                    pad_right: pr,
                };
                for (image, yb) in out.chunks_exact_mut(c_out * out_plane).enumerate() {
                    let call = QDepthwise {
                        params,
                        x: &xb[image * c_in * in_plane..(image + 1) * c_in * in_plane],
                        x_signed: q.x.signed,
                        x_zero_point: q.x.zero_point,
                        w: wd.as_slice(),
                        w_pairs: wd.pairs(),
                        bias: &prepared.bias,
                        scale: &prepared.scale,
                    };
                    let work = c_out * out_plane * kh * kw;
                    let workers =
                        parallel::worker_count(threads, c_out, work, MIN_DEPTHWISE_MACS_PER_THREAD);
                    let per = c_out.div_ceil(workers);
                    let parts: Vec<(usize, &mut [u8])> =
                        yb.chunks_mut(per * out_plane).enumerate().collect();
                    parallel::for_each_part(parts, |(i, part)| {
                        let first = i * per;
                        let range = first..first + part.len() / out_plane;
                        let sub = call.channels(range).map_err(|e| kernel_error("QConv", e))?;
                        let dst = QDepthwiseOut::U8 {
                            y: part,
                            signed: q.y.signed,
                            zero_point: q.y.zero_point,
                            lo,
                            hi,
                        };
                        qdepthwise(&sub, dst).map_err(|e| kernel_error("QConv", e))
                    })?;
                }
            }
            QConvWeights::Gemm(blocks) => {
                let k = cg_in * kh * kw;
                let n = out_plane;
                let pointwise = kh == 1
                    && kw == 1
                    && sh == 1
                    && sw == 1
                    && pt == 0
                    && pl == 0
                    && (out_h, out_w) == (in_h, in_w);
                let block_len = cg_out * n;
                for (i, yb) in out.chunks_exact_mut(block_len).enumerate() {
                    let (image, g) = (i / groups, i % groups);
                    let start = (image * groups + g) * cg_in * in_plane;
                    let data = &xb[start..start + cg_in * in_plane];
                    let b = if pointwise {
                        QOperandB::Matrix { data, ld: n }
                    } else {
                        QOperandB::Image {
                            data,
                            geometry: QConvGeometry {
                                channels: cg_in,
                                in_h,
                                in_w,
                                kernel_h: kh,
                                kernel_w: kw,
                                stride_h: sh,
                                stride_w: sw,
                                dilation_h: dh,
                                dilation_w: dw,
                                pad_top: pt,
                                pad_left: pl,
                                out_h,
                                out_w,
                            },
                            pad: q.x.zero_point as u8,
                        }
                    };
                    let call = QGemm {
                        m: cg_out,
                        n,
                        k,
                        a: &blocks[g],
                        b,
                        b_signed: q.x.signed,
                        b_zero_point: q.x.zero_point,
                    };
                    let output = QOutput::Requant {
                        c: yb,
                        ldc: n,
                        signed: q.y.signed,
                        bias: &prepared.bias[g * cg_out..(g + 1) * cg_out],
                        scale: &prepared.scale[g * cg_out..(g + 1) * cg_out],
                        zero_point: q.y.zero_point,
                        lo,
                        hi,
                    };
                    gemm::run("QConv", &call, output, threads)?;
                }
            }
        }
        Ok(())
    })
}
