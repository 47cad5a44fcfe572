//! The vectorised depthwise body, written once over [`F32Lanes`] and instantiated by each ISA's
//! `#[target_feature]` wrapper.
//!
//! Per channel: copy the plane into a padded, stride-split scratch plane ([`PaddedLayout`]),
//! then compute each output row a vector of output columns at a time, every tap a full-vector
//! load at a fixed offset (no border cases: the padding is in the plane; the last vector of a
//! row is computed in full and stored in part). The taps are summed in a few independent
//! accumulators (one per kernel row; four round-robin in the generic loop) to keep dependency
//! chains short, so results differ from the reference's sequential sum by rounding only.
//!
//! The hot shapes (3×3 and 5×5 kernels, horizontal stride 1 or 2, horizontal dilation 1) get
//! const-generic loops: fully unrolled taps, weights held in registers for the whole channel,
//! constant displacements from one base pointer per kernel row and phase. Everything else takes
//! the generic loop over a precomputed tap table.

use super::lanes::F32Lanes;
use super::padded::{PaddedLayout, Scratch};
use super::{DepthwiseParams, Epilogue};
use crate::KernelError;

/// One validated call: output sizes from [`super::validate`].
pub(crate) struct Call<'a> {
    pub(crate) p: &'a DepthwiseParams,
    pub(crate) out_h: usize,
    pub(crate) out_w: usize,
    pub(crate) x: &'a [f32],
    pub(crate) w: &'a [f32],
    pub(crate) bias: Option<&'a [f32]>,
    pub(crate) epilogue: Epilogue,
}

/// Runs a validated call.
///
/// # Safety
///
/// The CPU supports `V`'s ISA, and `call`/`y` passed [`super::validate`].
#[inline(always)]
pub(crate) unsafe fn depthwise<V: F32Lanes>(
    call: &Call<'_>,
    y: &mut [f32],
) -> Result<(), KernelError> {
    let (p, out_h, out_w) = (call.p, call.out_h, call.out_w);
    if p.channels == 0 || out_h == 0 || out_w == 0 {
        return Ok(());
    }
    let layout = PaddedLayout::new(p.window(out_h, out_w), V::LANES)?;
    let (in_plane, taps, out_plane) = (p.in_h * p.in_w, p.taps(), out_h * out_w);
    let shape = Shape::of(p);
    let mut guard = Scratch::take(layout.len());
    let scratch = &mut guard.as_mut_slice()[..layout.len()];
    layout.pad(scratch, 0.0);
    for c in 0..p.channels {
        layout.copy_image(&call.x[c * in_plane..(c + 1) * in_plane], scratch);
        let plane = Plane {
            layout: &layout,
            scratch,
            weights: &call.w[c * taps..(c + 1) * taps],
            bias: call.bias.map_or(0.0, |b| b[c]),
            epilogue: call.epilogue,
            out_w,
        };
        let y = &mut y[c * out_plane..(c + 1) * out_plane];
        // SAFETY: the caller guarantees `V`'s ISA; `plane` is a filled layout for this call.
        unsafe {
            match shape {
                Shape::K3S1 => plane.rows_fixed::<V, 3, 3, 1>(y),
                Shape::K3S2 => plane.rows_fixed::<V, 3, 3, 2>(y),
                Shape::K5S1 => plane.rows_fixed::<V, 5, 5, 1>(y),
                Shape::K5S2 => plane.rows_fixed::<V, 5, 5, 2>(y),
                Shape::Other => plane.rows_generic::<V>(p, y),
            }
        }
    }
    Ok(())
}

/// Which loop a geometry takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    K3S1,
    K3S2,
    K5S1,
    K5S2,
    Other,
}

impl Shape {
    fn of(p: &DepthwiseParams) -> Self {
        match (p.kernel_h, p.kernel_w, p.stride_w, p.dilation_w) {
            (3, 3, 1, 1) => Shape::K3S1,
            (3, 3, 2, 1) => Shape::K3S2,
            (5, 5, 1, 1) => Shape::K5S1,
            (5, 5, 2, 1) => Shape::K5S2,
            _ => Shape::Other,
        }
    }
}

/// One channel, its padded plane filled.
struct Plane<'a> {
    layout: &'a PaddedLayout,
    scratch: &'a [f32],
    /// `kernel_h · kernel_w` weights, row-major.
    weights: &'a [f32],
    bias: f32,
    epilogue: Epilogue,
    out_w: usize,
}

impl Plane<'_> {
    /// All output rows of a `KH × KW` kernel with horizontal stride `SW`, horizontal dilation 1
    /// (any vertical stride and dilation).
    ///
    /// # Safety
    ///
    /// `V`'s ISA is available; the layout was built for this geometry with `V::LANES`, so
    /// every load below lies inside the scratch plane (see `padded.rs`); `y` holds
    /// `out_h · out_w` elements.
    #[inline(always)]
    unsafe fn rows_fixed<V: F32Lanes, const KH: usize, const KW: usize, const SW: usize>(
        &self,
        y: &mut [f32],
    ) {
        debug_assert_eq!(self.weights.len(), KH * KW);
        let (kernel_row, ow) = (self.layout.kernel_row(), self.out_w);
        // SAFETY: the caller guarantees `V`'s ISA; the index arithmetic is bounded as stated.
        unsafe {
            // Loops, not `array::from_fn` closures: a closure would not inherit the caller's
            // target features (see `Scratch`).
            let mut w = [[V::splat(0.0); KW]; KH];
            for (ky, w_row) in w.iter_mut().enumerate() {
                for (kx, wv) in w_row.iter_mut().enumerate() {
                    *wv = V::splat(self.weights[ky * KW + kx]);
                }
            }
            let (bias, zero) = (V::splat(self.bias), V::splat(0.0));
            for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
                let base = self.scratch.as_ptr().add(self.layout.output_row(oy));
                // One pointer per (kernel row, phase); tap kx sits `kx / SW` further on.
                let mut rows = [[base; SW]; KH];
                for (ky, row) in rows.iter_mut().enumerate() {
                    for (ph, ptr) in row.iter_mut().enumerate() {
                        *ptr = base.add(ky * kernel_row + self.layout.phase(ph));
                    }
                }
                // Full vectors, then the tail; no branch inside the loop, so the weights stay
                // in registers. (Plain loops and functions, no closures: a closure would not
                // inherit the caller's target features and its intrinsics would not inline.)
                let (dst, full) = (y_row.as_mut_ptr(), ow / V::LANES * V::LANES);
                let mut ox = 0;
                while ox < full {
                    fixed_vector(&rows, &w, bias, zero, ox).store(dst.add(ox));
                    ox += V::LANES;
                }
                if full < ow {
                    fixed_vector(&rows, &w, bias, zero, full).store_first(dst.add(full), ow - full);
                }
                self.epilogue.finish_row::<V>(y_row);
            }
        }
    }

    /// All output rows of any geometry, from a table of tap offsets.
    ///
    /// # Safety
    ///
    /// As for [`Plane::rows_fixed`].
    #[inline(always)]
    unsafe fn rows_generic<V: F32Lanes>(&self, p: &DepthwiseParams, y: &mut [f32]) {
        let ow = self.out_w;
        let taps: Vec<(usize, f32)> = (0..p.kernel_h)
            .flat_map(|ky| (0..p.kernel_w).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| (self.layout.tap(ky, kx), self.weights[ky * p.kernel_w + kx]))
            .collect();
        // SAFETY: the caller guarantees `V`'s ISA; every `base + offset + ox` load is bounded
        // as stated in `padded.rs`.
        unsafe {
            let (bias, zero) = (V::splat(self.bias), V::splat(0.0));
            for (oy, y_row) in y.chunks_exact_mut(ow).enumerate() {
                let base = self.scratch.as_ptr().add(self.layout.output_row(oy));
                let (dst, full) = (y_row.as_mut_ptr(), ow / V::LANES * V::LANES);
                let mut ox = 0;
                while ox < full {
                    generic_vector(base, &taps, bias, zero, ox).store(dst.add(ox));
                    ox += V::LANES;
                }
                if full < ow {
                    generic_vector(base, &taps, bias, zero, full)
                        .store_first(dst.add(full), ow - full);
                }
                self.epilogue.finish_row::<V>(y_row);
            }
        }
    }
}

/// `Σ acc` as a balanced tree.
///
/// # Safety
///
/// `V`'s ISA is available.
#[inline(always)]
unsafe fn sum<V: F32Lanes, const N: usize>(acc: [V; N]) -> V {
    // SAFETY: the caller guarantees `V`'s ISA; no memory is touched.
    unsafe {
        match N {
            1 => acc[0],
            2 => acc[0].add(acc[1]),
            3 => acc[0].add(acc[1]).add(acc[2]),
            4 => acc[0].add(acc[1]).add(acc[2].add(acc[3])),
            _ => {
                let mut total = acc[0];
                for &a in &acc[1..] {
                    total = total.add(a);
                }
                total
            }
        }
    }
}

/// The output vector at column `ox` of a fixed-shape kernel: one accumulator per kernel row
/// (KH short dependency chains rather than one of KH·KW multiply-adds, whose latency would
/// bound a short row), `rows[ky][phase]` pointing at the output row's taps.
///
/// # Safety
///
/// `V`'s ISA is available; every `rows[ky][kx % SW] + ox + kx / SW` is readable for `LANES`.
#[inline(always)]
unsafe fn fixed_vector<V: F32Lanes, const KH: usize, const KW: usize, const SW: usize>(
    rows: &[[*const f32; SW]; KH],
    w: &[[V; KW]; KH],
    bias: V,
    zero: V,
    ox: usize,
) -> V {
    let mut acc = [zero; KH];
    acc[0] = bias;
    // SAFETY: per this function's contract.
    unsafe {
        for ky in 0..KH {
            for kx in 0..KW {
                let x = V::load(rows[ky][kx % SW].add(ox + kx / SW));
                acc[ky] = x.mul_add(w[ky][kx], acc[ky]);
            }
        }
        sum(acc)
    }
}

/// The output vector at column `ox` for any geometry: taps `(offset from base, weight)`
/// round-robin over four accumulators (short dependency chains).
///
/// # Safety
///
/// `V`'s ISA is available; every `base + offset + ox` is readable for `LANES`.
#[inline(always)]
unsafe fn generic_vector<V: F32Lanes>(
    base: *const f32,
    taps: &[(usize, f32)],
    bias: V,
    zero: V,
    ox: usize,
) -> V {
    let mut acc = [zero; 4];
    acc[0] = bias;
    // SAFETY: per this function's contract.
    unsafe {
        for (i, &(offset, w)) in taps.iter().enumerate() {
            let x = V::load(base.add(offset + ox));
            acc[i % 4] = x.mul_add(V::splat(w), acc[i % 4]);
        }
        sum(acc)
    }
}
