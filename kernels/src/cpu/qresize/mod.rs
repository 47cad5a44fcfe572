//! `qresize`: linear / cubic (any separable, tap-based) resize of 8-bit planes into 8-bit
//! planes, `y = Q_y(interp(DQ_x(x)))`: the `DequantizeLinear → Resize → QuantizeLinear`
//! pattern of quantized models, without a float tensor in memory.
//!
//! `x` is `planes` row-major planes of `in_h × in_w` bytes, `y` is `planes` planes of
//! `out_h × out_w`. Each output row reads [`Taps::n`] input rows with weights, each output
//! column [`Taps::n`] input columns: the per-axis taps the caller derived from its coordinate
//! rules (the kernel knows nothing of them). Interpolation is a weighted sum, so it runs on
//! the centred values `x − zx` and is scaled once into the output:
//!
//! ```text
//! h[r][c]  = Σ_j wc_j · (x[r][ic_j] − zx)              (f32, taps in order)
//! v[r][c]  = Σ_i wr_i · h[ir_i][c]                     (f32, taps in order)
//! y[r][c]  = clamp(round_half_even(v · multiplier), lo − zy, hi − zy) + zy
//! ```
//!
//! with `multiplier = x_scale / y_scale`. An output row or column marked outside (ONNX
//! `tf_crop_and_resize` positions outside the region of interest) is `fill`, the caller's
//! quantization of the extrapolation value.
//!
//! Variants: `reference` (**the oracle**: every output element computed on its own, exactly
//! as the formula above orders it), and one generic body (`kernel.rs`) that computes each
//! needed input row's column pass once per plane and then blends and quantizes whole rows,
//! compiled as `portable` (the baseline target: SSE2 on x86-64, NEON on aarch64, where NEON is
//! the baseline so no separate variant exists) and inside `#[target_feature]` functions for
//! AVX2 and AVX-512 (`variants.rs`), where the compiler vectorises the row loops 8 and 16
//! lanes wide. No hand-written intrinsics: the column pass is a gather (the taps are arbitrary
//! indices), which vector ISAs here barely speed up, and the rest are plain loops over
//! contiguous `f32` (the rounding is the `1.5·2^23` trick, not a library call or a saturating
//! cast). Every variant performs the same `f32` operations in the same order for every
//! element (Rust never contracts `a·b + c` into a fused multiply-add, whatever features are
//! enabled), so all agree with the oracle bit for bit.

mod kernel;
mod reference;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod variants;

pub use reference::qresize_reference;

use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Shape and quantizations of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QResizeParams {
    /// Independent planes.
    pub planes: usize,
    /// Input rows per plane.
    pub in_h: usize,
    /// Input columns per plane.
    pub in_w: usize,
    /// Output rows per plane.
    pub out_h: usize,
    /// Output columns per plane.
    pub out_w: usize,
    /// `x` holds `i8` (else `u8`).
    pub x_signed: bool,
    /// `x`'s zero point (in its type's range).
    pub x_zero_point: i32,
    /// `x_scale / y_scale` (finite, positive).
    pub multiplier: f32,
    /// `y` holds `i8` (else `u8`).
    pub y_signed: bool,
    /// `y`'s zero point (in its type's range).
    pub y_zero_point: i32,
    /// The output byte of positions outside the region of interest.
    pub fill: u8,
}

/// The taps of one axis: output position `o` reads input positions `index[o·n..(o+1)·n]`
/// with weights `weight[o·n..(o+1)·n]`, or is `fill` when `outside[o]`.
#[derive(Clone, Copy, Debug)]
pub struct Taps<'a> {
    /// Taps per output position (at least 1).
    pub n: usize,
    /// Input positions, `n` per output position, each below the input length.
    pub index: &'a [usize],
    /// Finite weights, `n` per output position.
    pub weight: &'a [f32],
    /// Per output position: outside the region of interest.
    pub outside: &'a [bool],
}

/// Resizes `x` into `y` (see the module docs).
pub type QResizeFn =
    fn(&QResizeParams, &Taps<'_>, &Taps<'_>, &[u8], &mut [u8]) -> Result<(), KernelError>;

/// [`QResizeFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn qresize(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    (crate::cpu::table().qresize)(p, rows, cols, x, y)
}

const fn variant(isa: Isa, name: &'static str, reference: bool, f: QResizeFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "qresize",
            dtype: "u8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::QResize(f),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "qresize_u8_reference",
    true,
    qresize_reference,
);
/// The generic body for the baseline target.
pub(crate) const PORTABLE: Variant = variant(
    Isa::Generic,
    "qresize_u8_portable",
    false,
    kernel::qresize_portable,
);
/// The generic body vectorised for AVX2.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant =
    variant(Isa::Avx2, "qresize_u8_avx2", false, variants::qresize_avx2);
/// The generic body vectorised for AVX-512.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "qresize_u8_avx512",
    false,
    variants::qresize_avx512,
);

/// The [`crate::cpu::KernelTable`] choice for this family (`portable` where nothing faster
/// runs).
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> QResizeFn {
    select(variants(), "qresize", "u8", features, max_isa)
        .and_then(Variant::qresize)
        .unwrap_or(kernel::qresize_portable)
}

/// `1.5·2^23`: for `|v| < 2^22`, `v + ROUNDER` lies in `[2^23, 2^24)`, where `f32` steps by
/// 1, so the addition rounds `v` half to even and the bits of the sum are `ROUNDER_BITS +
/// round(v)`: a rounding and conversion to an integer without a (scalar, saturating) cast.
const ROUNDER: f32 = 12_582_912.0;
const ROUNDER_BITS: i32 = 0x4B40_0000;

/// The quantization step shared by both variants: `v` scaled into the output, rounded half
/// to even and saturated, as the stored byte.
#[inline(always)]
fn quantize(v: f32, multiplier: f32, lo: f32, hi: f32, zero_point: i32) -> u8 {
    // Clamping first keeps `|v| < 2^22` for the rounding trick (lo and hi are integers, so
    // clamping before or after rounding gives the same integer); `max`/`min` also turn a
    // NaN into `lo` rather than passing it on.
    let clamped = (v * multiplier).max(lo).min(hi);
    ((clamped + ROUNDER).to_bits() as i32 - ROUNDER_BITS + zero_point) as u8
}

/// The output range `(lo − zy, hi − zy)` around the zero point, as `f32`.
fn centred_range(signed: bool, zero_point: i32) -> (f32, f32) {
    let (lo, hi) = if signed { (-128, 127) } else { (0, 255) };
    ((lo - zero_point) as f32, (hi - zero_point) as f32)
}

/// The value of byte `b` minus the zero point.
#[inline(always)]
fn centred(b: u8, signed: bool, zero_point: i32) -> f32 {
    let q = if signed { b as i8 as i32 } else { b as i32 };
    (q - zero_point) as f32
}

/// Checks the parameters, the taps and the buffer lengths.
pub(crate) fn validate(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &[u8],
) -> Result<(), KernelError> {
    let in_range = |z: i32, signed: bool| {
        if signed {
            (-128..=127).contains(&z)
        } else {
            (0..=255).contains(&z)
        }
    };
    if !in_range(p.x_zero_point, p.x_signed) || !in_range(p.y_zero_point, p.y_signed) {
        return Err(KernelError::invalid(format!(
            "qresize: zero points {} / {} out of their types' range",
            p.x_zero_point, p.y_zero_point
        )));
    }
    if !(p.multiplier.is_finite() && p.multiplier > 0.0) {
        return Err(KernelError::invalid(format!(
            "qresize: multiplier {} is not finite and positive",
            p.multiplier
        )));
    }
    let sizes = |h: usize, w: usize| p.planes.checked_mul(h)?.checked_mul(w);
    let (Some(inputs), Some(outputs)) = (sizes(p.in_h, p.in_w), sizes(p.out_h, p.out_w)) else {
        return Err(KernelError::invalid(format!(
            "qresize: {p:?} overflows usize"
        )));
    };
    if x.len() != inputs || y.len() != outputs {
        return Err(KernelError::out_of_bounds(format!(
            "qresize: {p:?} needs {inputs} input and {outputs} output bytes, got {} and {}",
            x.len(),
            y.len()
        )));
    }
    check_taps("rows", rows, p.out_h, p.in_h)?;
    check_taps("columns", cols, p.out_w, p.in_w)
}

fn check_taps(what: &str, t: &Taps<'_>, out_len: usize, in_len: usize) -> Result<(), KernelError> {
    let total = t.n.checked_mul(out_len);
    if t.n == 0 || total != Some(t.index.len()) || total != Some(t.weight.len()) {
        return Err(KernelError::invalid(format!(
            "qresize: {what}: {} taps per position, {} indices and {} weights for {out_len} \
             positions",
            t.n,
            t.index.len(),
            t.weight.len()
        )));
    }
    if t.outside.len() != out_len {
        return Err(KernelError::invalid(format!(
            "qresize: {what}: {} outside flags for {out_len} positions",
            t.outside.len()
        )));
    }
    if let Some(&i) = t.index.iter().find(|&&i| i >= in_len) {
        return Err(KernelError::out_of_bounds(format!(
            "qresize: {what}: tap {i} outside an input of {in_len}"
        )));
    }
    if let Some(w) = t.weight.iter().find(|w| !w.is_finite()) {
        return Err(KernelError::invalid(format!(
            "qresize: {what}: weight {w} is not finite"
        )));
    }
    Ok(())
}
