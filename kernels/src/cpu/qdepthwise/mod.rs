//! Direct 2-D depthwise convolution on 8-bit tensors (ONNX QDQ `DequantizeLinear → Conv(group =
//! channels) → QuantizeLinear`, folded), exact in integers:
//!
//! `acc[c, oy, ox] = Σ_{ky, kx} (x[c, iy, ix] − zx) · w'[c, ky·kw + kx]` over the taps inside the
//! image (padding taps read the zero point, i.e. contribute 0), `iy = oy·sh + ky·dh − pad_top`,
//! `ix = ox·sw + kx·dw − pad_left`, with `w' = w − zw[c]` prepared by
//! [`PackedQDepthwiseWeights::pack`]. The sum is in `i32` with wrapping arithmetic (it cannot
//! wrap for 8-bit inputs and fewer than 33 000 taps; wrapping makes every variant agree anyway).
//! Then, per [`QDepthwiseOut`]:
//!
//! * `U8`: `y = clamp(round_half_even(clamp(f, ±65536)) + zy, lo, hi)` stored as `u8`, or as
//!   `i8` bit patterns when `signed`, with `f = (acc + bias[c]) as f32 * scale[c]` (one `i32`
//!   wrapping add, one conversion, one `f32` multiply). The ±65536 clamp changes no result
//!   (`zy`, `lo`, `hi` are within −128..=255) and keeps the float-to-int conversion exact.
//! * `F32`: `y = (acc + bias[c]) as f32 * scale[c]`, for a float consumer.
//!
//! Layouts (row-major, contiguous): `x` is `[channels, in_h, in_w]` (raw bytes; `x_signed` says
//! whether they are `i8`), `w` is `[channels, kernel_h · kernel_w]` `i16`, `bias` is `[channels]`
//! or empty, `scale` is `[channels]`, `y` is `[channels, out_h, out_w]`
//! ([`DepthwiseParams::output_size`]).
//!
//! **Threading**: channels are independent. Split them with [`QDepthwise::channels`] (which
//! slices `x`, `w`, `bias`, `scale` and sets `params.channels` to the range's length) and hand
//! each call the matching `y[range.start · out_plane .. range.end · out_plane]`.
//!
//! Variants: `reference.rs` (**the oracle**) and one vectorised body (`body.rs`, generic over
//! [`lanes::QLanes`]) for AVX-512 BW (with and without VNNI), AVX2 and NEON; all bit-identical to the oracle. The body
//! builds a padded, stride-split plane of *row pairs* (`i16` `(x − zx)` of padded rows `r` and
//! `r + dilation_h`, interleaved) so one `madd` (`vpmaddwd`; NEON: `vld2` + `vmlal`) applies two
//! kernel rows to a vector of consecutive output columns.

pub(crate) mod body;
pub(crate) mod lanes;
pub(crate) mod reference;

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

#[cfg(test)]
mod tests;

use std::ops::Range;

pub use crate::cpu::depthwise::DepthwiseParams;
use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// One quantized depthwise convolution (everything but the output).
#[derive(Clone, Copy, Debug)]
pub struct QDepthwise<'a> {
    /// Geometry; `channels` is the number of planes in `x` (a thread's share, see the module
    /// docs).
    pub params: DepthwiseParams,
    /// `[channels, in_h, in_w]` raw 8-bit values.
    pub x: &'a [u8],
    /// Whether `x` holds `i8` bit patterns (else `u8`).
    pub x_signed: bool,
    /// `x`'s zero point, within `x`'s type range.
    pub x_zero_point: i32,
    /// `[channels, kernel_h · kernel_w]` weights minus their zero point
    /// ([`PackedQDepthwiseWeights::as_slice`]).
    pub w: &'a [i16],
    /// The same weights as the vectorised bodies read them, `[channels, kernel_h · kernel_w]`
    /// pairs of two kernel rows ([`PackedQDepthwiseWeights::pairs`]).
    pub w_pairs: &'a [u32],
    /// `[channels]` accumulator offsets, or empty for none.
    pub bias: &'a [i32],
    /// `[channels]` finite multipliers from the accumulator to the output (for a `U8` output:
    /// `x_scale · w_scale[c] / y_scale`).
    pub scale: &'a [f32],
}

/// Where and how a [`QDepthwiseFn`] writes its result.
#[derive(Debug)]
pub enum QDepthwiseOut<'y> {
    /// Requantized to 8 bits: `clamp(round_half_even(f) + zero_point, lo, hi)`.
    U8 {
        /// `[channels, out_h, out_w]`.
        y: &'y mut [u8],
        /// Store `i8` bit patterns (`lo..=hi` within −128..=127) rather than `u8` (0..=255).
        signed: bool,
        /// Output zero point, within the output type's range.
        zero_point: i32,
        /// Lowest value stored (a fused Relu/Clip; the type minimum for none).
        lo: i32,
        /// Highest value stored (the type maximum for none).
        hi: i32,
    },
    /// `(acc + bias) as f32 * scale`.
    F32 {
        /// `[channels, out_h, out_w]`.
        y: &'y mut [f32],
    },
}

impl QDepthwiseOut<'_> {
    /// Elements of the output slice.
    fn len(&self) -> usize {
        match self {
            QDepthwiseOut::U8 { y, .. } => y.len(),
            QDepthwiseOut::F32 { y } => y.len(),
        }
    }
}

/// A quantized depthwise convolution kernel. Every variant and [`qdepthwise`] have this type.
pub type QDepthwiseFn = fn(&QDepthwise<'_>, QDepthwiseOut<'_>) -> Result<(), KernelError>;

/// The quantized depthwise convolution with the best kernel of this CPU ([`table`]).
pub fn qdepthwise(q: &QDepthwise<'_>, y: QDepthwiseOut<'_>) -> Result<(), KernelError> {
    (table().qdepthwise)(q, y)
}

impl<'a> QDepthwise<'a> {
    /// The same convolution restricted to `range` of its channels (`x`, `w`, `bias`, `scale`
    /// sliced, `params.channels = range.len()`); `Err` if the range or a slice is out of bounds.
    /// The matching output is `y[range.start · out_plane .. range.end · out_plane]` with
    /// `out_plane = out_h · out_w`.
    pub fn channels(&self, range: Range<usize>) -> Result<QDepthwise<'a>, KernelError> {
        let p = &self.params;
        if range.start > range.end || range.end > p.channels {
            return Err(KernelError::out_of_bounds(format!(
                "qdepthwise: channel range {range:?} of {} channels",
                p.channels
            )));
        }
        let per = |what: &str, v: usize| {
            v.checked_mul(range.start)
                .zip(v.checked_mul(range.end))
                .map(|(a, b)| a..b)
                .ok_or_else(|| KernelError::invalid(format!("qdepthwise: {what} overflows")))
        };
        let slice = |what: &str, len: usize, r: Range<usize>| {
            if r.end <= len {
                Ok(r)
            } else {
                Err(KernelError::out_of_bounds(format!(
                    "qdepthwise: {what} has {len} elements, channels {range:?} need {}",
                    r.end
                )))
            }
        };
        let plane = p.in_h.checked_mul(p.in_w);
        let taps = p.kernel_h.checked_mul(p.kernel_w);
        let (Some(plane), Some(taps)) = (plane, taps) else {
            return Err(KernelError::invalid("qdepthwise: plane size overflows"));
        };
        let xr = slice("x", self.x.len(), per("x", plane)?)?;
        let wr = slice("w", self.w.len(), per("w", taps)?)?;
        let pr = slice("w_pairs", self.w_pairs.len(), per("w_pairs", taps)?)?;
        let sr = slice("scale", self.scale.len(), range.clone())?;
        let bias = if self.bias.is_empty() {
            self.bias
        } else {
            &self.bias[slice("bias", self.bias.len(), range.clone())?]
        };
        Ok(QDepthwise {
            params: DepthwiseParams {
                channels: range.len(),
                ..*p
            },
            x: &self.x[xr],
            w: &self.w[wr],
            w_pairs: &self.w_pairs[pr],
            bias,
            scale: &self.scale[sr],
            ..*self
        })
    }
}

/// Depthwise weights minus their zero points, `[channels, taps]` `i16` ([`QDepthwise::w`]),
/// and the same as pairs of kernel rows ([`QDepthwise::w_pairs`]). Built once at prepare
/// time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedQDepthwiseWeights {
    channels: usize,
    taps: usize,
    data: Vec<i16>,
    pairs: Vec<u32>,
}

impl PackedQDepthwiseWeights {
    /// `w − zero_point[c]` from raw 8-bit weights `[channels, taps]` (`i8` bit patterns when
    /// `signed`); `zero_points` has one entry (per tensor) or `channels` (per channel), each
    /// within the weight type's range. `Err` on any length or range mismatch.
    pub fn pack(
        w: &[u8],
        signed: bool,
        zero_points: &[i32],
        channels: usize,
        [kernel_h, kernel_w]: [usize; 2],
    ) -> Result<Self, KernelError> {
        let taps = kernel_h
            .checked_mul(kernel_w)
            .ok_or_else(|| KernelError::invalid("qdepthwise weights: kernel size overflows"))?;
        let want = channels
            .checked_mul(taps)
            .ok_or_else(|| KernelError::invalid("qdepthwise weights: size overflows"))?;
        if w.len() != want {
            return Err(KernelError::out_of_bounds(format!(
                "qdepthwise weights: {} elements, [{channels}, {taps}] needs {want}",
                w.len()
            )));
        }
        if zero_points.len() != 1 && zero_points.len() != channels {
            return Err(KernelError::out_of_bounds(format!(
                "qdepthwise weights: {} zero points for {channels} channels (need 1 or {channels})",
                zero_points.len()
            )));
        }
        for &z in zero_points {
            check_zero_point("weight", z, signed)?;
        }
        let mut data = Vec::with_capacity(want);
        for c in 0..channels {
            let z = zero_points[if zero_points.len() == 1 { 0 } else { c }];
            let row = &w[c * taps..(c + 1) * taps];
            data.extend(row.iter().map(|&b| (widen(b, signed) - z) as i16));
        }
        let mut pairs = vec![0u32; want];
        if taps > 0 {
            for (w, out) in data.chunks_exact(taps).zip(pairs.chunks_exact_mut(taps)) {
                weight_pairs(w, kernel_w, out);
            }
        }
        Ok(Self {
            channels,
            taps,
            data,
            pairs,
        })
    }

    /// The `[channels, taps]` values for [`QDepthwise::w`].
    pub fn as_slice(&self) -> &[i16] {
        &self.data
    }

    /// The `[channels, taps]` pairs for [`QDepthwise::w_pairs`]: per channel, for kernel rows
    /// `ky = 0, 2, 4, ...` then `ky = 1, 3, ...`, the `kernel_w` values
    /// `w[ky][kx] | w[ky + 1][kx] << 16` (as `u16` halves; 0 for a row past the kernel).
    pub fn pairs(&self) -> &[u32] {
        &self.pairs
    }

    /// Channels packed.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Taps per channel.
    pub fn taps(&self) -> usize {
        self.taps
    }
}

/// One channel's weight pairs (see [`PackedQDepthwiseWeights::pairs`]) from its `[kh, kw]`
/// values `w` into `out` (`w.len()` entries: ⌈kh/2⌉ + ⌊kh/2⌋ rows of pairs).
fn weight_pairs(w: &[i16], kernel_w: usize, out: &mut [u32]) {
    let rows: Vec<&[i16]> = w.chunks_exact(kernel_w).collect();
    let pair_rows = (0..rows.len()).step_by(2).chain((1..rows.len()).step_by(2));
    for (ky, slots) in pair_rows.zip(out.chunks_exact_mut(kernel_w)) {
        let below = rows.get(ky + 1);
        for (kx, slot) in slots.iter_mut().enumerate() {
            let high = below.map_or(0, |b| b[kx]);
            *slot = rows[ky][kx] as u16 as u32 | (high as u16 as u32) << 16;
        }
    }
}

/// A raw byte as the integer it encodes.
#[inline(always)]
pub(crate) fn widen(b: u8, signed: bool) -> i32 {
    if signed {
        b as i8 as i32
    } else {
        b as i32
    }
}

/// The value range of an 8-bit type.
pub(crate) fn type_range(signed: bool) -> (i32, i32) {
    if signed {
        (-128, 127)
    } else {
        (0, 255)
    }
}

fn check_zero_point(what: &str, z: i32, signed: bool) -> Result<(), KernelError> {
    let (lo, hi) = type_range(signed);
    if (lo..=hi).contains(&z) {
        Ok(())
    } else {
        Err(KernelError::invalid(format!(
            "qdepthwise: {what} zero point {z} outside {lo}..={hi}"
        )))
    }
}

/// Checks every parameter and slice length of a call (exact lengths: a mismatch is a caller
/// bug) and returns `(out_h, out_w)`. Every variant calls it before touching anything.
pub fn validate(q: &QDepthwise<'_>, y: &QDepthwiseOut<'_>) -> Result<(usize, usize), KernelError> {
    let p = &q.params;
    let (out_h, out_w) = p.output_size()?;
    let len = |what: &str, dims: &[usize]| {
        dims.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| KernelError::invalid(format!("qdepthwise: {what} {dims:?} overflows")))
    };
    let check = |what: &str, got: usize, dims: &[usize]| {
        let want = len(what, dims)?;
        if got == want {
            Ok(())
        } else {
            Err(KernelError::out_of_bounds(format!(
                "qdepthwise: {what} has {got} elements, {dims:?} needs {want}"
            )))
        }
    };
    check("x", q.x.len(), &[p.channels, p.in_h, p.in_w])?;
    check("w", q.w.len(), &[p.channels, p.kernel_h, p.kernel_w])?;
    check(
        "w_pairs",
        q.w_pairs.len(),
        &[p.channels, p.kernel_h, p.kernel_w],
    )?;
    check("y", y.len(), &[p.channels, out_h, out_w])?;
    check("scale", q.scale.len(), &[p.channels])?;
    if !q.bias.is_empty() {
        check("bias", q.bias.len(), &[p.channels])?;
    }
    check_zero_point("x", q.x_zero_point, q.x_signed)?;
    if let Some(s) = q.scale.iter().find(|s| !s.is_finite()) {
        return Err(KernelError::invalid(format!(
            "qdepthwise: scale {s} is not finite"
        )));
    }
    if let QDepthwiseOut::U8 {
        signed,
        zero_point,
        lo,
        hi,
        ..
    } = *y
    {
        check_zero_point("y", zero_point, signed)?;
        let (tlo, thi) = type_range(signed);
        if !(tlo <= lo && lo <= hi && hi <= thi) {
            return Err(KernelError::invalid(format!(
                "qdepthwise: clamp {lo}..={hi} not within {tlo}..={thi}"
            )));
        }
    }
    Ok((out_h, out_w))
}

/// `clamp(round_half_even(clamp(f, ±65536)) + zero_point, lo, hi)`: the requantization every
/// variant reproduces (see the module docs).
#[inline(always)]
pub(crate) fn requantize_acc(f: f32, zero_point: i32, lo: i32, hi: i32) -> i32 {
    let r = f.clamp(-65536.0, 65536.0).round_ties_even() as i32;
    (r + zero_point).clamp(lo, hi)
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, f: QDepthwiseFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "qdepthwise",
            dtype: "u8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::QDepthwise(f),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "qdepthwise_u8_reference",
    true,
    reference::qdepthwise,
);
/// The AVX2 body's registry entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant =
    variant(Isa::Avx2, "qdepthwise_u8_avx2", false, x86::qdepthwise_avx2);
/// The AVX-512 BW body's registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "qdepthwise_u8_avx512",
    false,
    x86::qdepthwise_avx512,
);
/// The AVX-512 BW + VNNI body's registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512_VNNI: Variant = variant(
    Isa::Avx512Vnni,
    "qdepthwise_u8_avx512vnni",
    false,
    x86::qdepthwise_avx512vnni,
);
/// The NEON body's registry entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "qdepthwise_u8_neon", false, neon::qdepthwise);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> (KernelInfo, QDepthwiseFn) {
    select(variants(), "qdepthwise", "u8", features, max_isa)
        .and_then(|v| Some((v.info, v.qdepthwise()?)))
        .unwrap_or((REFERENCE.info, reference::qdepthwise))
}
