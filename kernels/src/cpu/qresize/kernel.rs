//! The fast variant: per plane, the column pass of every input row some output row reads
//! (once, into an `in_h × out_w` scratch), then each output row blends its input rows from
//! the scratch and is quantized, whole rows at a time.
//!
//! Every element goes through the same `f32` operations as in the oracle, in the same order
//! (column taps in order from 0, then row taps in order from 0, then the scaling): only when
//! and how often they run differs, so the results are identical.

use super::{centred, centred_range, quantize, validate, QResizeParams, Taps};
use crate::KernelError;

/// The portable [`super::QResizeFn`] (the body compiled for the baseline target).
pub(crate) fn qresize_portable(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, rows, cols, x, y)?;
    run(p, rows, cols, x, y);
    Ok(())
}

/// The body of every fast variant; `p`, the taps and the buffers are validated. Inlined into
/// each variant's `#[target_feature]` function, so the compiler vectorises the row loops for
/// that ISA.
#[inline(always)]
pub(super) fn run(p: &QResizeParams, rows: &Taps<'_>, cols: &Taps<'_>, x: &[u8], y: &mut [u8]) {
    let (in_len, out_len) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if p.planes == 0 || out_len == 0 {
        return;
    }
    // Input rows no (inside) output row reads, e.g. when downscaling, are never computed.
    let mut needed = vec![false; p.in_h];
    for (r, &outside) in rows.outside.iter().enumerate() {
        if !outside {
            for &i in &rows.index[r * rows.n..][..rows.n] {
                needed[i] = true;
            }
        }
    }
    let q = Quantizer::new(p);
    let any_outside_column = cols.outside.iter().any(|&o| o);
    let mut centred_row = vec![0.0f32; p.in_w];
    let mut scratch = vec![0.0f32; p.in_h * p.out_w];
    let mut blended = vec![0.0f32; p.out_w];
    for (input, output) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        for ((row, h), _) in input
            .chunks_exact(p.in_w)
            .zip(scratch.chunks_exact_mut(p.out_w))
            .zip(&needed)
            .filter(|(_, &needed)| needed)
        {
            for (c, &b) in centred_row.iter_mut().zip(row) {
                *c = centred(b, p.x_signed, p.x_zero_point);
            }
            column_pass(&centred_row, cols, h);
        }
        for (r, out_row) in output.chunks_exact_mut(p.out_w).enumerate() {
            if rows.outside[r] {
                out_row.fill(p.fill);
                continue;
            }
            let taps = r * rows.n..(r + 1) * rows.n;
            let (index, weight) = (&rows.index[taps.clone()], &rows.weight[taps]);
            match rows.n {
                1 => blend_n::<1>(&scratch, index, weight, &q, out_row),
                2 => blend_n::<2>(&scratch, index, weight, &q, out_row),
                4 => blend_n::<4>(&scratch, index, weight, &q, out_row),
                _ => {
                    blended.fill(0.0);
                    for (&i, &w) in index.iter().zip(weight) {
                        let h = &scratch[i * p.out_w..][..p.out_w];
                        for (v, &h) in blended.iter_mut().zip(h) {
                            *v += w * h;
                        }
                    }
                    for (o, &v) in out_row.iter_mut().zip(&blended) {
                        *o = q.apply(v);
                    }
                }
            }
            // Rare (tf_crop_and_resize only): columns outside the region of interest.
            if any_outside_column {
                for (o, &outside) in out_row.iter_mut().zip(cols.outside) {
                    if outside {
                        *o = p.fill;
                    }
                }
            }
        }
    }
}

/// The output quantization of a call.
struct Quantizer {
    multiplier: f32,
    lo: f32,
    hi: f32,
    zero_point: i32,
}

impl Quantizer {
    fn new(p: &QResizeParams) -> Self {
        let (lo, hi) = centred_range(p.y_signed, p.y_zero_point);
        Quantizer {
            multiplier: p.multiplier,
            lo,
            hi,
            zero_point: p.y_zero_point,
        }
    }

    #[inline(always)]
    fn apply(&self, v: f32) -> u8 {
        quantize(v, self.multiplier, self.lo, self.hi, self.zero_point)
    }
}

/// One output row from `N` scratch rows (`N` constant: one pass, the taps unrolled). The sum
/// starts from 0 and adds the taps in order, as the oracle's does.
#[inline(always)]
fn blend_n<const N: usize>(
    scratch: &[f32],
    index: &[usize],
    weight: &[f32],
    q: &Quantizer,
    out_row: &mut [u8],
) {
    let w = out_row.len();
    let rows: [&[f32]; N] = std::array::from_fn(|j| &scratch[index[j] * w..][..w]);
    let weights: [f32; N] = std::array::from_fn(|j| weight[j]);
    for (x, o) in out_row.iter_mut().enumerate() {
        let mut v = 0.0f32;
        for j in 0..N {
            v += weights[j] * rows[j][x];
        }
        *o = q.apply(v);
    }
}

/// `h[c] = Σ_j w_j · row[i_j]` for every output column `c`; the common tap counts (2: linear,
/// 4: cubic) with a constant count, so the inner loop unrolls.
fn column_pass(row: &[f32], cols: &Taps<'_>, h: &mut [f32]) {
    match cols.n {
        1 => column_pass_n::<1>(row, cols, h),
        2 => column_pass_n::<2>(row, cols, h),
        4 => column_pass_n::<4>(row, cols, h),
        n => {
            let taps = cols.index.chunks_exact(n).zip(cols.weight.chunks_exact(n));
            for (out, (index, weight)) in h.iter_mut().zip(taps) {
                let mut acc = 0.0f32;
                for (&i, &w) in index.iter().zip(weight) {
                    acc += w * row[i];
                }
                *out = acc;
            }
        }
    }
}

#[inline(always)]
fn column_pass_n<const N: usize>(row: &[f32], cols: &Taps<'_>, h: &mut [f32]) {
    let taps = cols.index.chunks_exact(N).zip(cols.weight.chunks_exact(N));
    for (out, (index, weight)) in h.iter_mut().zip(taps) {
        let mut acc = 0.0f32;
        for j in 0..N {
            acc += weight[j] * row[index[j]];
        }
        *out = acc;
    }
}
