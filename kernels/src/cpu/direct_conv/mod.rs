//! Direct 2-D convolution at dilation 1 (any stride), for one image and one group, writing the
//! same `C = W · im2col(x)` as the GEMM path (`C` is `[out_channels, out_h · out_w]`), with the
//! GEMM's post-ops ([`PostOp`]) fused.
//!
//! Why it exists: with few output channels (PP-OCR det's 96 → 24 3×3 convs at 160×160), an
//! im2col GEMM spends most of its time packing the `Π kernel`-times larger column matrix for
//! a 24-row `A`. The direct kernels instead load each input vector straight from the image and
//! reuse it for a whole block of output channels held in registers, so nothing is packed but
//! the (constant) weights, once, at load ([`PackedConvWeights`]).
//!
//! `C[o, oy·out_w + ox] = Σ_{ic, ky, kx} w[o, ic, ky, kx] · x[ic, oy·stride_h + ky − pad_top,
//! ox·stride_w + kx − pad_left]`, taps outside the image contributing nothing (zero padding).
//! The sum runs in `(ic, ky, kx)` order in every variant.
//!
//! Layouts (row-major, contiguous): `x` is `[in_channels, in_h, in_w]`; ONNX weights
//! `[out_channels, in_channels, kernel_h, kernel_w]` are packed by [`PackedConvWeights::pack`];
//! `C` is reached through a [`ColumnBlock`], so threads split the output positions exactly as
//! they split a GEMM's columns.
//!
//! Variants: `reference.rs` (**the oracle**, one sum per output element) and `avx512.rs`
//! (12 output channels × 32 positions per register tile). Other instruction sets have no
//! direct variant: [`crate::cpu::KernelTable::direct_conv`] is `None` there and callers use
//! the im2col GEMM.

mod packing;
pub(crate) mod reference;

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) mod avx512;

#[cfg(test)]
mod tests;

pub use packing::PackedConvWeights;

use crate::cpu::matmul::post::{self, CShape};
use crate::cpu::matmul::{ColumnBlock, PostOp};
use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Geometry of one dilation-1 2-D convolution of one image (one group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectConvParams {
    /// Input channels (of this group).
    pub in_channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Kernel height (`>= 1`).
    pub kernel_h: usize,
    /// Kernel width (`>= 1`).
    pub kernel_w: usize,
    /// Vertical stride (`>= 1`).
    pub stride_h: usize,
    /// Horizontal stride (`>= 1`).
    pub stride_w: usize,
    /// Zero rows above the image.
    pub pad_top: usize,
    /// Zero columns left of the image.
    pub pad_left: usize,
    /// Zero rows below the image.
    pub pad_bottom: usize,
    /// Zero columns right of the image.
    pub pad_right: usize,
}

impl DirectConvParams {
    /// `(out_h, out_w)` = `(in + pad_begin + pad_end − kernel) / stride + 1` per axis; `Err`
    /// for a zero kernel or stride, a kernel larger than the padded input, or an overflow.
    pub fn output_size(&self) -> Result<(usize, usize), KernelError> {
        let axis = |name: &str, len: usize, k: usize, s: usize, p0: usize, p1: usize| {
            if s == 0 {
                return Err(KernelError::invalid(format!(
                    "direct conv {name}: stride must be >= 1"
                )));
            }
            let padded = len
                .checked_add(p0)
                .and_then(|v| v.checked_add(p1))
                .ok_or_else(|| KernelError::invalid(format!("direct conv {name} overflows")))?;
            if k == 0 || k > padded {
                return Err(KernelError::invalid(format!(
                    "direct conv {name}: kernel {k} must be in 1..={padded} (the padded input)"
                )));
            }
            Ok((padded - k) / s + 1)
        };
        let p = self;
        Ok((
            axis(
                "height",
                p.in_h,
                p.kernel_h,
                p.stride_h,
                p.pad_top,
                p.pad_bottom,
            )?,
            axis(
                "width",
                p.in_w,
                p.kernel_w,
                p.stride_w,
                p.pad_left,
                p.pad_right,
            )?,
        ))
    }
}

/// A direct convolution kernel: `(params, x, packed weights, C's column block, post-ops)`.
/// Every variant has this type.
pub type DirectConvFn = fn(
    &DirectConvParams,
    &[f32],
    &PackedConvWeights,
    ColumnBlock<'_>,
    &[PostOp<'_>],
) -> Result<(), KernelError>;

/// Entry point of one direct conv variant and the output-channel block its weights must be
/// packed for.
#[derive(Clone, Copy, Debug)]
pub struct DirectConvKernel {
    /// The convolution.
    pub run: DirectConvFn,
    /// Output channels per register tile: pack the weights with this block
    /// (the reference reads any).
    pub block: usize,
}

/// Checks every parameter and length of a call and returns `(out_h, out_w)`. Every variant
/// calls it before touching anything.
pub fn validate(
    p: &DirectConvParams,
    x: &[f32],
    w: &PackedConvWeights,
    c: &ColumnBlock<'_>,
    post: &[PostOp<'_>],
) -> Result<(usize, usize), KernelError> {
    let (out_h, out_w) = p.output_size()?;
    let x_len = p
        .in_channels
        .checked_mul(p.in_h)
        .and_then(|v| v.checked_mul(p.in_w))
        .ok_or_else(|| KernelError::invalid("direct conv: input size overflows"))?;
    if x.len() != x_len {
        return Err(KernelError::out_of_bounds(format!(
            "direct conv: x has {} elements, [{}, {}, {}] needs {x_len}",
            x.len(),
            p.in_channels,
            p.in_h,
            p.in_w
        )));
    }
    if (w.in_channels(), w.kernel_h(), w.kernel_w()) != (p.in_channels, p.kernel_h, p.kernel_w) {
        return Err(KernelError::invalid(format!(
            "direct conv: weights packed for {} input channels and a {}×{} kernel, the call has \
             {} and {}×{}",
            w.in_channels(),
            w.kernel_h(),
            w.kernel_w(),
            p.in_channels,
            p.kernel_h,
            p.kernel_w
        )));
    }
    let (m, n) = (w.out_channels(), out_h * out_w);
    let cols = c.columns();
    if c.rows() != m || cols.end > n.max(cols.start) {
        return Err(KernelError::invalid(format!(
            "direct conv: column block ({} rows, columns {cols:?}) is not from a C of {m} rows \
             × {n} positions",
            c.rows()
        )));
    }
    if m == 0 || n == 0 {
        return Ok((out_h, out_w));
    }
    let row_stride = c.row_stride();
    if row_stride < 0 || (m > 1 && (row_stride as usize) < n) {
        return Err(KernelError::invalid(format!(
            "direct conv: C's row stride {row_stride} is below its {n} columns"
        )));
    }
    let needed = (m - 1)
        .checked_mul(row_stride as usize)
        .and_then(|v| v.checked_add(n))
        .ok_or_else(|| KernelError::invalid("direct conv: C's extent overflows"))?;
    if c.c_len() < needed {
        return Err(KernelError::out_of_bounds(format!(
            "direct conv: C has {} elements, its layout needs {needed}",
            c.c_len()
        )));
    }
    let shape = CShape {
        m,
        n,
        c_row_stride: row_stride,
    };
    for op in post {
        post::validate(op, shape, c.c_len())?;
    }
    Ok((out_h, out_w))
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, k: DirectConvKernel) -> Variant {
    Variant {
        info: KernelInfo {
            family: "direct_conv",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::DirectConv(k),
    }
}

/// The oracle's registry entry. Its block is only what the tests pack for: it reads any.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "direct_conv_f32_reference",
    true,
    DirectConvKernel {
        run: reference::direct_conv,
        block: 8,
    },
);

/// The AVX-512 12×32 tile's registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "direct_conv_f32_avx512_12x32",
    false,
    DirectConvKernel {
        run: avx512::direct_conv,
        block: avx512::OC_BLOCK,
    },
);

/// The [`crate::cpu::KernelTable`] choice: the best optimised variant, or `None` (the reference
/// is an oracle, slower than the im2col GEMM, so it is never chosen to run models).
pub(crate) fn choose(
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> Option<(KernelInfo, DirectConvKernel)> {
    let v = select(variants(), "direct_conv", "f32", features, max_isa)?;
    (!v.info.reference).then_some((v.info, v.direct_conv()?))
}
