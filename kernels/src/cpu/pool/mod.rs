//! 2-D pooling (`MaxPool`, `AveragePool`) over `[channels, in_h, in_w]` planes, and global
//! pooling (a maximum or mean per contiguous plane), with ONNX semantics.
//!
//! The caller resolves the output size (`auto_pad`, `ceil_mode`) and passes it with the pads;
//! window `(oy, ox)` covers input rows `oy·stride_h − pad_top + ky·dilation_h` (`ky <
//! kernel_h`), likewise columns. Taps outside the image never contribute:
//!
//! * **Max**: the largest in-image tap; NaN taps are skipped (as `f32::max` and onnxruntime
//!   do), so a window whose taps are all NaN gives `-inf`. A window with no in-image tap
//!   gives 0 (the ONNX reference's value).
//! * **Average**: the in-image sum divided by the in-image tap count (`count_include_pad`
//!   false) or by the taps inside the padded input, `[−pad_top, in_h + pad_bottom)` ×
//!   `[−pad_left, in_w + pad_right)` (true): the part of a `ceil_mode` window past the end
//!   padding never counts. A window with nothing to count divides by zero (NaN).
//! * **Global**: per plane, the maximum (NaN skipped, as above) or the mean.
//!
//! Variants: `reference.rs` (**the oracle**: per-window loops, sums in `f64`) and one
//! vectorised body (`body.rs`) over the depthwise family's padded, stride-split planes and
//! vector trait, instantiated for AVX-512, AVX2 + FMA and NEON.

pub(crate) mod body;
pub mod bytes;
pub(crate) mod reference;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;

#[cfg(test)]
mod tests;

use crate::cpu::depthwise::padded::Window;
use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Geometry of one 2-D pooling over `channels` planes, output size included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolParams {
    /// Planes to pool.
    pub channels: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output height (resolved by the caller: `auto_pad`, `ceil_mode`).
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Window height (`>= 1`).
    pub kernel_h: usize,
    /// Window width (`>= 1`).
    pub kernel_w: usize,
    /// Vertical stride (`>= 1`).
    pub stride_h: usize,
    /// Horizontal stride (`>= 1`).
    pub stride_w: usize,
    /// Vertical dilation (`>= 1`).
    pub dilation_h: usize,
    /// Horizontal dilation (`>= 1`).
    pub dilation_w: usize,
    /// Padding rows above the image.
    pub pad_top: usize,
    /// Padding columns left of the image.
    pub pad_left: usize,
    /// Padding rows below the image (counts only in `count_include_pad` averages).
    pub pad_bottom: usize,
    /// Padding columns right of the image (likewise).
    pub pad_right: usize,
}

impl PoolParams {
    pub(crate) fn window(&self) -> Window {
        Window {
            in_h: self.in_h,
            in_w: self.in_w,
            out_h: self.out_h,
            out_w: self.out_w,
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

    /// The vertical axis.
    pub(crate) fn rows(&self) -> Axis {
        Axis {
            len: self.in_h,
            kernel: self.kernel_h,
            stride: self.stride_h,
            dilation: self.dilation_h,
            pad_begin: self.pad_top,
            pad_end: self.pad_bottom,
        }
    }

    /// The horizontal axis.
    pub(crate) fn cols(&self) -> Axis {
        Axis {
            len: self.in_w,
            kernel: self.kernel_w,
            stride: self.stride_w,
            dilation: self.dilation_w,
            pad_begin: self.pad_left,
            pad_end: self.pad_right,
        }
    }
}

/// One axis of a pooling window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Axis {
    pub(crate) len: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) dilation: usize,
    pub(crate) pad_begin: usize,
    pub(crate) pad_end: usize,
}

impl Axis {
    /// Where tap `j` of window `o` falls, shifted by `pad_begin` (so the image is
    /// `pad_begin..pad_begin + len`). Fits: checked by [`validate`].
    pub(crate) fn shifted(&self, o: usize, j: usize) -> usize {
        o * self.stride + j * self.dilation
    }

    /// `(in-image taps, taps inside the padded input)` of window `o`.
    pub(crate) fn counts(&self, o: usize) -> (usize, usize) {
        let image = self.pad_begin..self.pad_begin + self.len;
        let padded_end = image.end + self.pad_end;
        (0..self.kernel).fold((0, 0), |(inside, padded), j| {
            let at = self.shifted(o, j);
            (
                inside + usize::from(image.contains(&at)),
                padded + usize::from(at < padded_end),
            )
        })
    }
}

/// Which 2-D pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolOp {
    /// `MaxPool` (values only; indices are the caller's business).
    Max,
    /// `AveragePool`.
    Average {
        /// Divide by the taps inside the padded input rather than the in-image ones.
        count_include_pad: bool,
    },
}

/// Which global pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobalPoolOp {
    /// `GlobalMaxPool`.
    Max,
    /// `GlobalAveragePool`.
    Average,
}

/// A 2-D pooling kernel: `(params, op, x [channels, in_h, in_w], y [channels, out_h, out_w])`.
pub type Pool2dFn = fn(&PoolParams, PoolOp, &[f32], &mut [f32]) -> Result<(), KernelError>;

/// A global pooling kernel: `(op, plane, x, y)` reduces each of the `y.len()` contiguous
/// planes of `plane` elements of `x` to one element of `y`.
pub type GlobalPoolFn = fn(GlobalPoolOp, usize, &[f32], &mut [f32]) -> Result<(), KernelError>;

/// 2-D pooling with the best kernel of this CPU ([`table`]).
pub fn pool2d(p: &PoolParams, op: PoolOp, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    (table().pool2d)(p, op, x, y)
}

/// Global pooling with the best kernel of this CPU ([`table`]).
pub fn global_pool(
    op: GlobalPoolOp,
    plane: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    (table().global_pool)(op, plane, x, y)
}

/// Checks a 2-D pooling call: sizes `>= 1` where required, no overflow anywhere a variant
/// indexes, exact slice lengths. Every variant calls it before touching anything.
pub fn validate(p: &PoolParams, x: &[f32], y: &[f32]) -> Result<(), KernelError> {
    validate_lengths(p, x.len(), y.len())
}

/// [`validate`] for inputs and outputs of `x_len` and `y_len` elements of any type.
pub(crate) fn validate_lengths(
    p: &PoolParams,
    x_len: usize,
    y_len: usize,
) -> Result<(), KernelError> {
    let invalid = |what: &str| KernelError::invalid(format!("pool {p:?}: {what}"));
    if [
        p.kernel_h,
        p.kernel_w,
        p.stride_h,
        p.stride_w,
        p.dilation_h,
        p.dilation_w,
    ]
    .contains(&0)
    {
        return Err(invalid("kernel, strides and dilations must be >= 1"));
    }
    // The furthest shifted coordinate any window reaches, and the padded input's end.
    let reach = |out: usize, a: Axis| {
        out.saturating_sub(1)
            .checked_mul(a.stride)?
            .checked_add((a.kernel - 1).checked_mul(a.dilation)?)?
            .checked_add(1)?
            .checked_add(a.len)?
            .checked_add(a.pad_begin)?
            .checked_add(a.pad_end)
    };
    if reach(p.out_h, p.rows()).is_none() || reach(p.out_w, p.cols()).is_none() {
        return Err(invalid("window positions overflow usize"));
    }
    let len = |dims: [usize; 3]| dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let want_x = len([p.channels, p.in_h, p.in_w]).ok_or_else(|| invalid("x overflows"))?;
    let want_y = len([p.channels, p.out_h, p.out_w]).ok_or_else(|| invalid("y overflows"))?;
    if x_len != want_x || y_len != want_y {
        return Err(KernelError::out_of_bounds(format!(
            "pool: x has {x_len} elements (needs {want_x}), y {y_len} (needs {want_y})"
        )));
    }
    Ok(())
}

/// Checks a global pooling call: `plane >= 1`, `x.len() == y.len() · plane`.
pub fn validate_global(plane: usize, x: &[f32], y: &[f32]) -> Result<(), KernelError> {
    if plane == 0 {
        return Err(KernelError::invalid("global pool over empty planes"));
    }
    if y.len().checked_mul(plane) != Some(x.len()) {
        return Err(KernelError::out_of_bounds(format!(
            "global pool: x has {} elements, {} planes of {plane} need {}",
            x.len(),
            y.len(),
            y.len().saturating_mul(plane)
        )));
    }
    Ok(())
}

/// Entry points of one `pool` / `f32` variant.
#[derive(Clone, Copy, Debug)]
pub struct PoolKernels {
    /// 2-D `MaxPool` / `AveragePool`.
    pub pool2d: Pool2dFn,
    /// `GlobalMaxPool` / `GlobalAveragePool`.
    pub global_pool: GlobalPoolFn,
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, k: PoolKernels) -> Variant {
    Variant {
        info: KernelInfo {
            family: "pool",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Pool(k),
    }
}

const REFERENCE_KERNELS: PoolKernels = PoolKernels {
    pool2d: reference::pool2d,
    global_pool: reference::global_pool,
};

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant =
    variant(Isa::Generic, "pool_f32_reference", true, REFERENCE_KERNELS);
/// The AVX2 + FMA bodies' registry entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(
    Isa::Avx2,
    "pool_f32_avx2",
    false,
    PoolKernels {
        pool2d: avx2::pool2d,
        global_pool: avx2::global_pool,
    },
);
/// The AVX-512 bodies' registry entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "pool_f32_avx512",
    false,
    PoolKernels {
        pool2d: avx512::pool2d,
        global_pool: avx512::global_pool,
    },
);
/// The NEON bodies' registry entry.
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(
    Isa::Neon,
    "pool_f32_neon",
    false,
    PoolKernels {
        pool2d: neon::pool2d,
        global_pool: neon::global_pool,
    },
);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> (KernelInfo, PoolKernels) {
    select(variants(), "pool", "f32", features, max_isa)
        .and_then(|v| Some((v.info, v.pool()?)))
        .unwrap_or((REFERENCE.info, REFERENCE_KERNELS))
}
