//! Direct 2-D depthwise convolution (one input channel per output channel), with an optional
//! per-channel bias and a fused [`Activation`]:
//!
//! `y[c, oy, ox] = act(bias[c] + Σ_{ky, kx} w[c, ky·kw + kx] · x[c, oy·sh + ky·dh − pad_top,
//! ox·sw + kx·dw − pad_left])`, taps outside the image contributing nothing (zero padding).
//!
//! Layouts (row-major, contiguous): `x` is `[channels, in_h, in_w]`, `w` is
//! `[channels, kernel_h · kernel_w]` (ONNX `[C, 1, kh, kw]`), `bias` is `[channels]`, `y` is
//! `[channels, out_h, out_w]` with the sizes of [`DepthwiseParams::output_size`].
//!
//! Variants: `reference.rs` (**the oracle**: one sum per output element) and one vectorised
//! body (`body.rs`, generic over [`lanes::F32Lanes`]) instantiated for AVX-512, AVX2 + FMA and
//! NEON. The body copies each channel into a padded, stride-split plane (`padded.rs`) so every
//! output row is computed with full-vector loads, then specialises the hot shapes (3×3 and 5×5,
//! stride 1 and 2, dilation 1) with the weights held in registers.

pub(crate) mod body;
pub(crate) mod lanes;
pub(crate) mod padded;
pub(crate) mod reference;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

#[cfg(test)]
mod tests;

use crate::cpu::activation::Activation;
use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Geometry of one depthwise convolution over `channels` planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthwiseParams {
    /// Planes (channels) to convolve, each with its own kernel.
    pub channels: usize,
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
    /// Vertical dilation (`>= 1`).
    pub dilation_h: usize,
    /// Horizontal dilation (`>= 1`).
    pub dilation_w: usize,
    /// Zero rows above the image.
    pub pad_top: usize,
    /// Zero columns left of the image.
    pub pad_left: usize,
    /// Zero rows below the image.
    pub pad_bottom: usize,
    /// Zero columns right of the image.
    pub pad_right: usize,
}

impl DepthwiseParams {
    /// `(out_h, out_w)`: `(in + pad_begin + pad_end − dilation·(kernel − 1) − 1) / stride + 1`
    /// per axis; `Err` for a zero kernel, stride or dilation, a dilated kernel larger than the
    /// padded input, or an overflow.
    pub fn output_size(&self) -> Result<(usize, usize), KernelError> {
        let axis = |name: &str, len: usize, k: usize, s: usize, d: usize, p0: usize, p1: usize| {
            if k == 0 || s == 0 || d == 0 {
                return Err(KernelError::invalid(format!(
                    "depthwise {name}: kernel {k}, stride {s}, dilation {d} must all be >= 1"
                )));
            }
            let padded = len.checked_add(p0).and_then(|v| v.checked_add(p1));
            let extent = (k - 1).checked_mul(d).and_then(|v| v.checked_add(1));
            match (padded, extent) {
                (Some(padded), Some(extent)) if padded >= extent => Ok((padded - extent) / s + 1),
                (Some(padded), Some(extent)) => Err(KernelError::invalid(format!(
                    "depthwise {name}: dilated kernel {extent} exceeds padded input {padded}"
                ))),
                _ => Err(KernelError::invalid(format!(
                    "depthwise {name}: sizes overflow usize"
                ))),
            }
        };
        let p = self;
        Ok((
            axis(
                "height",
                p.in_h,
                p.kernel_h,
                p.stride_h,
                p.dilation_h,
                p.pad_top,
                p.pad_bottom,
            )?,
            axis(
                "width",
                p.in_w,
                p.kernel_w,
                p.stride_w,
                p.dilation_w,
                p.pad_left,
                p.pad_right,
            )?,
        ))
    }

    /// `kernel_h · kernel_w` (fits: validated by [`validate`] before any use).
    fn taps(&self) -> usize {
        self.kernel_h * self.kernel_w
    }

    /// The window as the shared padded-plane code sees it.
    pub(crate) fn window(&self, out_h: usize, out_w: usize) -> padded::Window {
        padded::Window {
            in_h: self.in_h,
            in_w: self.in_w,
            out_h,
            out_w,
            kernel_h: self.kernel_h,
            kernel_w: self.kernel_w,
            stride_h: self.stride_h,
            stride_w: self.stride_w,
            dilation_h: self.dilation_h,
            dilation_w: self.dilation_w,
            pad_top: self.pad_top,
            pad_left: self.pad_left,
        }
    }
}

/// A depthwise convolution kernel: `(params, x, w, bias, activation, y)`. Every variant and
/// [`depthwise`] have this type.
pub type DepthwiseFn = fn(
    &DepthwiseParams,
    &[f32],
    &[f32],
    Option<&[f32]>,
    Option<Activation>,
    &mut [f32],
) -> Result<(), KernelError>;

/// The depthwise convolution with the best kernel of this CPU ([`table`]).
pub fn depthwise(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    (table().depthwise)(p, x, w, bias, act, y)
}

/// Checks every parameter and slice length of a call (exact lengths: a mismatch is a caller
/// bug) and returns `(out_h, out_w)`. Every variant calls it before touching anything.
pub fn validate(
    p: &DepthwiseParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    act: Option<Activation>,
    y: &[f32],
) -> Result<(usize, usize), KernelError> {
    let (out_h, out_w) = p.output_size()?;
    if let Some(act) = act {
        act.validate()?;
    }
    let len = |what: &str, dims: &[usize]| {
        dims.iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| KernelError::invalid(format!("depthwise: {what} {dims:?} overflows")))
    };
    let check = |what: &str, got: usize, dims: &[usize]| {
        let want = len(what, dims)?;
        if got == want {
            Ok(())
        } else {
            Err(KernelError::out_of_bounds(format!(
                "depthwise: {what} has {got} elements, {dims:?} needs {want}"
            )))
        }
    };
    check("x", x.len(), &[p.channels, p.in_h, p.in_w])?;
    check("w", w.len(), &[p.channels, p.kernel_h, p.kernel_w])?;
    check("y", y.len(), &[p.channels, out_h, out_w])?;
    if let Some(b) = bias {
        check("bias", b.len(), &[p.channels])?;
    }
    Ok((out_h, out_w))
}

/// How a variant applies the fused activation: the piecewise-linear ones in registers before
/// the store, the others with [`crate::cpu::activation::activate`] on each finished row while
/// it is in L1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Epilogue {
    /// No activation.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`.
    Clip { min: f32, max: f32 },
    /// `x · clip(x/6 + 1/2, 0, 1)`.
    HardSwish,
    /// Anything else, applied to the stored row.
    Row(Activation),
}

impl Epilogue {
    pub(crate) fn new(act: Option<Activation>) -> Self {
        match act {
            None => Epilogue::Identity,
            Some(Activation::Relu) => Epilogue::Relu,
            Some(Activation::Clip { min, max }) => Epilogue::Clip { min, max },
            Some(Activation::HardSwish) => Epilogue::HardSwish,
            Some(a) => Epilogue::Row(a),
        }
    }

    /// Applies the activation to one finished output row while it is in L1: the
    /// piecewise-linear ones with `V`, the others with
    /// [`crate::cpu::activation::activate`]. (A pass of its own rather than in the
    /// accumulation loop, whose registers all hold weights and sums.)
    ///
    /// # Safety
    ///
    /// The CPU supports `V`'s ISA.
    #[inline(always)]
    pub(crate) unsafe fn finish_row<V: lanes::F32Lanes>(self, row: &mut [f32]) {
        match self {
            Epilogue::Identity => {}
            Epilogue::Row(act) => crate::cpu::activation::activate(act, row),
            _ => {
                let (n, full) = (row.len(), row.len() / V::LANES * V::LANES);
                let p = row.as_mut_ptr();
                // SAFETY: `V`'s ISA per the caller; full vectors end at `full <= n`, the tail
                // touches the `n - full` elements left.
                unsafe {
                    let mut i = 0;
                    while i < full {
                        self.apply(V::load(p.add(i))).store(p.add(i));
                        i += V::LANES;
                    }
                    if full < n {
                        let v = V::load_first(p.add(full), n - full, 0.0);
                        self.apply(v).store_first(p.add(full), n - full);
                    }
                }
            }
        }
    }

    /// The piecewise-linear activations on one vector (the others pass through).
    ///
    /// # Safety
    ///
    /// The CPU supports `V`'s ISA.
    #[inline(always)]
    unsafe fn apply<V: lanes::F32Lanes>(self, v: V) -> V {
        // SAFETY: the caller guarantees `V`'s ISA; no memory is touched.
        unsafe {
            match self {
                Epilogue::Identity | Epilogue::Row(_) => v,
                Epilogue::Relu => v.at_least(V::splat(0.0)),
                Epilogue::Clip { min, max } => v.at_least(V::splat(min)).at_most(V::splat(max)),
                // x/6 as x·(1/6): within an ulp, and no division.
                Epilogue::HardSwish => {
                    let gate = v.mul_add(V::splat(1.0 / 6.0), V::splat(0.5));
                    v.mul(gate.at_least(V::splat(0.0)).at_most(V::splat(1.0)))
                }
            }
        }
    }
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, f: DepthwiseFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "depthwise",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Depthwise(f),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "depthwise_f32_reference",
    true,
    reference::depthwise,
);
/// The AVX2 + FMA body's registry entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "depthwise_f32_avx2", false, avx2::depthwise);
/// The AVX-512 body's registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "depthwise_f32_avx512",
    false,
    avx512::depthwise,
);
/// The NEON body's registry entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "depthwise_f32_neon", false, neon::depthwise);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> (KernelInfo, DepthwiseFn) {
    select(variants(), "depthwise", "f32", features, max_isa)
        .and_then(|v| Some((v.info, v.depthwise()?)))
        .unwrap_or((REFERENCE.info, reference::depthwise))
}
