//! 8-bit integer GEMM with a requantising epilogue: `C = requant(A · B)`, the core of
//! quantized `Conv` / `MatMul` (QDQ models).
//!
//! * `A` (`[m, k]`, weights, `u8` or `i8`, a zero point per row or per tensor) is packed once
//!   into the variant's layout ([`PackedQWeights::pack`] with [`QGemmKernels::layout`] /
//!   [`crate::cpu::KernelTable::qgemm_layout`]); a variant rejects weights packed for another.
//! * `B` (`[k, n]`, activations, `u8` or `i8`, one zero point) is a row-major matrix or the
//!   implicit im2col matrix of one group of an NCHW image ([`QOperandB`]); it is packed per call.
//! * `acc[r][c] = Σ_k (A[r,k] − za[r]) · (B[k,c] − zb)`, exact in `i32` (wrapping where the exact
//!   value would not fit), then one of the [`QOutput`] epilogues.
//!
//! Every variant is bit-identical to `reference.rs` (**the oracle**: a triple loop over the
//! unpacked math); they share the epilogue code (`output.rs`), whose float steps are exactly
//! specified. Variants: AVX-512 VNNI and AVX-VNNI (`vpdpbusd`, `u8 × s8` with zero-point
//! corrections), AVX2
//! (`vpmaddwd` on operands widened to `i16` with the zero points subtracted: exact, no
//! saturation), NEON (`vmlal` on the same `i16` operands) and NEON `SDOT` (`s8 × s8` with the
//! corrections, where the CPU has the dot-product extension), all run by `driver.rs`.
//!
//! ## Threads
//!
//! [`qgemm`] computes a column range of `C` addressed through the whole `C`. To let threads
//! write disjoint column ranges of one `C` at once (as the `f32` conv does with
//! [`crate::cpu::matmul::ColumnBlock`]), cut the output with [`split_output`] into
//! [`QColumnBlock`]s (`Send`) and give each thread its own [`qgemm_block`] call on one block;
//! all of them share the packed weights. Blocks may start at any column.

mod driver;
mod output;
mod pack;
pub(crate) mod reference;
#[cfg(test)]
mod tests;

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use std::ops::Range;

pub(crate) use output::requant;
pub use output::{split_output, QColumnBlock};
pub use pack::{PackedQWeights, QLayout};

use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// The activation operand `B[k, n]`.
#[derive(Clone, Copy, Debug)]
pub enum QOperandB<'a> {
    /// Row-major `[k, n]`: element `(l, j)` is `data[l * ld + j]`.
    Matrix {
        /// The elements (raw bytes of `u8` or `i8`).
        data: &'a [u8],
        /// Distance between rows, in elements (`>= n` when `k > 1`).
        ld: usize,
    },
    /// Implicit im2col of one group of a 2-D NCHW image: `data` is `[channels, in_h, in_w]`
    /// contiguous (exactly that long); row `l = (c·kernel_h + ky)·kernel_w + kx`, column
    /// `j = oy·out_w + ox` reads input `(c, oy·stride_h + ky·dilation_h − pad_top,
    /// ox·stride_w + kx·dilation_w − pad_left)`, or `pad` (the zero point's bits) outside the image.
    Image {
        /// The group's channels.
        data: &'a [u8],
        /// The convolution's geometry.
        geometry: QConvGeometry,
        /// The value of taps outside the image.
        pad: u8,
    },
}

/// Geometry of the implicit im2col of [`QOperandB::Image`]: `k = channels·kernel_h·kernel_w`,
/// `n = out_h·out_w`. `out_h`/`out_w` are taken as given (taps they reach outside the image read
/// the pad value), so any padding at the bottom/right is implied by them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The names say it all.
pub struct QConvGeometry {
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

/// One quantized GEMM: `A` packed, `B` per call.
#[derive(Clone, Copy, Debug)]
pub struct QGemm<'a> {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `B` and `C`.
    pub n: usize,
    /// The reduction length.
    pub k: usize,
    /// The weights, packed for the variant that runs the call.
    pub a: &'a PackedQWeights,
    /// The activations.
    pub b: QOperandB<'a>,
    /// `B` holds `i8` (else `u8`).
    pub b_signed: bool,
    /// `B`'s zero point, inside `B`'s type range.
    pub b_zero_point: i32,
}

/// Where and how `acc` is stored. `C` is row-major with row stride `ldc`: element `(r, j)` is
/// `c[r * ldc + j]`; `bias` (empty = zeros, else length `m`) and `scale` (length `m`, finite)
/// are per row.
#[derive(Debug)]
pub enum QOutput<'a> {
    /// `c = acc`.
    I32 {
        /// The output.
        c: &'a mut [i32],
        /// Row stride.
        ldc: usize,
    },
    /// `v = (acc + bias[r]) as f32 · scale[r]` (one `f32` product), `q = round_half_even(v) +
    /// zero_point` clamped to `[lo, hi]`, stored as `i8` bits when `signed`, else `u8`
    /// (ONNX `QLinearConv` rounding; `lo`/`hi` fuse a ReLU).
    Requant {
        /// The output bytes.
        c: &'a mut [u8],
        /// Row stride.
        ldc: usize,
        /// `i8` output (else `u8`).
        signed: bool,
        /// Per-row `i32` bias (empty = zeros).
        bias: &'a [i32],
        /// Per-row scale.
        scale: &'a [f32],
        /// Output zero point, inside the output type's range.
        zero_point: i32,
        /// Lowest stored value, inside the output type's range.
        lo: i32,
        /// Highest stored value, `lo <= hi`, inside the output type's range.
        hi: i32,
    },
    /// `c = (acc + bias[r]) as f32 · scale[r]` (one `f32` product).
    F32 {
        /// The output.
        c: &'a mut [f32],
        /// Row stride.
        ldc: usize,
        /// Per-row `i32` bias (empty = zeros).
        bias: &'a [i32],
        /// Per-row scale.
        scale: &'a [f32],
    },
}

/// Computes columns `cols` (inside `0..n`) of `C`, which is addressed as the whole `[m, ldc]`
/// matrix. Every variant and [`qgemm`] have this type.
pub type QGemmFn = fn(&QGemm<'_>, QOutput<'_>, Range<usize>) -> Result<(), KernelError>;

/// Computes the columns of one [`QColumnBlock`] (from [`split_output`] on a `C` of the call's
/// shape): threads run one call each on disjoint blocks of the same `C`.
pub type QGemmBlockFn = fn(&QGemm<'_>, QColumnBlock<'_>) -> Result<(), KernelError>;

/// Entry points of one `qgemm` variant.
#[derive(Clone, Copy, Debug)]
pub struct QGemmKernels {
    /// Columns of `C` addressed through the whole output.
    pub qgemm: QGemmFn,
    /// One column block of `C` (for threads).
    pub qgemm_block: QGemmBlockFn,
    /// The layout the weights must be packed in.
    pub layout: QLayout,
}

/// [`QGemmFn`] with the best kernel of this CPU ([`table`]); pack `A` with
/// `table().qgemm_layout`.
pub fn qgemm(g: &QGemm<'_>, out: QOutput<'_>, cols: Range<usize>) -> Result<(), KernelError> {
    (table().qgemm)(g, out, cols)
}

/// [`QGemmBlockFn`] with the best kernel of this CPU ([`table`]).
pub fn qgemm_block(g: &QGemm<'_>, block: QColumnBlock<'_>) -> Result<(), KernelError> {
    (table().qgemm_block)(g, block)
}

/// The range of an 8-bit type.
pub(crate) fn type_range(signed: bool) -> Range<i32> {
    if signed {
        -128..128
    } else {
        0..256
    }
}

/// Checks the call's operands against its shape: packed weights of shape `m × k` (packed for
/// any layout: the variants check theirs), `B` inside its slice, a zero point inside `B`'s
/// type. The output is checked by [`split_output`] / [`QColumnBlock`].
pub fn validate(g: &QGemm<'_>) -> Result<(), KernelError> {
    if (g.a.rows(), g.a.depth()) != (g.m, g.k) {
        return Err(KernelError::invalid(format!(
            "qgemm: packed weights are {}×{}, the call needs {}×{}",
            g.a.rows(),
            g.a.depth(),
            g.m,
            g.k
        )));
    }
    if !type_range(g.b_signed).contains(&g.b_zero_point) {
        return Err(KernelError::invalid(format!(
            "qgemm: B zero point {} is outside the {} range",
            g.b_zero_point,
            if g.b_signed { "i8" } else { "u8" }
        )));
    }
    match g.b {
        QOperandB::Matrix { data, ld } => {
            if g.k > 1 && ld < g.n {
                return Err(KernelError::invalid(format!(
                    "qgemm: B rows overlap: ld {ld} < n {}",
                    g.n
                )));
            }
            if g.k > 0 && g.n > 0 {
                let need = (g.k - 1)
                    .checked_mul(ld)
                    .and_then(|x| x.checked_add(g.n))
                    .ok_or_else(|| KernelError::invalid("qgemm: B extent overflows usize"))?;
                if data.len() < need {
                    return Err(KernelError::out_of_bounds(format!(
                        "qgemm: B is {}×{} with ld {ld}: needs {need} bytes, has {}",
                        g.k,
                        g.n,
                        data.len()
                    )));
                }
            }
        }
        QOperandB::Image {
            data, geometry: q, ..
        } => {
            if [
                q.kernel_h,
                q.kernel_w,
                q.stride_h,
                q.stride_w,
                q.dilation_h,
                q.dilation_w,
            ]
            .contains(&0)
            {
                return Err(KernelError::invalid(format!(
                    "qgemm: kernel, stride and dilation must be positive: {q:?}"
                )));
            }
            let overflow = || KernelError::invalid(format!("qgemm: {q:?} overflows usize"));
            let rows = q
                .channels
                .checked_mul(q.kernel_h)
                .and_then(|x| x.checked_mul(q.kernel_w))
                .ok_or_else(overflow)?;
            let cols = q.out_h.checked_mul(q.out_w).ok_or_else(overflow)?;
            let image = q
                .channels
                .checked_mul(q.in_h)
                .and_then(|x| x.checked_mul(q.in_w))
                .ok_or_else(overflow)?;
            // Input coordinates are computed as `o·s + t·d` before subtracting the pad.
            let reach = |o: usize, s: usize, t: usize, d: usize| {
                o.checked_mul(s)
                    .and_then(|x| x.checked_add(t.checked_mul(d)?))
                    .ok_or_else(overflow)
            };
            reach(q.out_h, q.stride_h, q.kernel_h, q.dilation_h)?;
            reach(q.out_w, q.stride_w, q.kernel_w, q.dilation_w)?;
            // ... and compared with `pad + in` (kept inside isize, as signed coordinates are).
            for (pad, size) in [(q.pad_top, q.in_h), (q.pad_left, q.in_w)] {
                pad.checked_add(size)
                    .filter(|&x| isize::try_from(x).is_ok())
                    .ok_or_else(overflow)?;
            }
            if (rows, cols) != (g.k, g.n) {
                return Err(KernelError::invalid(format!(
                    "qgemm: the im2col matrix of {q:?} is {rows}×{cols}, the call needs {}×{}",
                    g.k, g.n
                )));
            }
            if data.len() != image {
                return Err(KernelError::out_of_bounds(format!(
                    "qgemm: image has {} bytes, {q:?} needs {image}",
                    data.len()
                )));
            }
        }
    }
    Ok(())
}

/// `qgemm` variants' registry entry with kernels `k`.
const fn variant(isa: Isa, name: &'static str, reference: bool, k: QGemmKernels) -> Variant {
    Variant {
        info: KernelInfo {
            family: "qgemm",
            dtype: "i8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::QGemm(k),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant =
    variant(Isa::Generic, "qgemm_i8_reference", true, reference::KERNELS);
/// AVX2: `i16` operands, `vpmaddwd`.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "qgemm_i8_avx2_6x16", false, x86::AVX2);
/// AVX-VNNI: 256-bit `vpdpbusd` (CPUs without AVX-512).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVXVNNI: Variant =
    variant(Isa::AvxVnni, "qgemm_i8_avxvnni_6x16", false, x86::AVXVNNI);
/// AVX-512 VNNI: `vpdpbusd`.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512VNNI: Variant = variant(
    Isa::Avx512Vnni,
    "qgemm_i8_avx512vnni_8x32",
    false,
    x86::VNNI,
);
/// NEON: `vmlal` on `i16` operands.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "qgemm_i8_neon_8x8", false, neon::NEON);
/// NEON + dot product: `SDOT`.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON_DOT: Variant = variant(
    Isa::NeonDotprod,
    "qgemm_i8_neondot_8x8",
    false,
    neon::NEON_DOT,
);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> (KernelInfo, QGemmKernels) {
    select(variants(), "qgemm", "i8", features, max_isa)
        .and_then(|v| Some((v.info, v.qgemm()?)))
        .unwrap_or((REFERENCE.info, reference::KERNELS))
}

/// The checks every variant runs on a block call: the call itself ([`validate`]), weights
/// packed for `layout`, and a block from an output of the call's shape.
pub(crate) fn check_call(
    g: &QGemm<'_>,
    c: &QColumnBlock<'_>,
    layout: QLayout,
) -> Result<(), KernelError> {
    validate(g)?;
    if g.a.layout() != layout {
        return Err(KernelError::invalid(format!(
            "qgemm: weights were packed for {:?}, this kernel needs {layout:?}",
            g.a.layout()
        )));
    }
    let cols = c.columns();
    if c.rows() != g.m || cols.end > g.n {
        return Err(KernelError::invalid(format!(
            "qgemm: output block ({} rows, columns {cols:?}) is not from a {}×{} C",
            c.rows(),
            g.m,
            g.n
        )));
    }
    Ok(())
}
