//! The fast variant: per plane, the column pass of every input row some output row reads
//! (once, into an `in_h × out_w` scratch), then each output row blends its input rows from
//! the scratch and is quantized, whole rows at a time.
//!
//! Every element goes through the same `f32` operations as in the oracle, in the same order
//! (column taps in order from 0, then row taps in order from 0, then the scaling): only when
//! and how often they run differs, so the results are identical.

use super::{centred, centred_range, quantize, validate, QResizeParams, Taps};
use crate::KernelError;

/// The fast [`super::QResizeFn`].
pub fn qresize(
    p: &QResizeParams,
    rows: &Taps<'_>,
    cols: &Taps<'_>,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(p, rows, cols, x, y)?;
    let (in_len, out_len) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if p.planes == 0 || out_len == 0 {
        return Ok(());
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
    let (lo, hi) = centred_range(p.y_signed, p.y_zero_point);
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
            blended.fill(0.0);
            let taps = r * rows.n..(r + 1) * rows.n;
            for (&i, &w) in rows.index[taps.clone()].iter().zip(&rows.weight[taps]) {
                let h = &scratch[i * p.out_w..][..p.out_w];
                for (v, &h) in blended.iter_mut().zip(h) {
                    *v += w * h;
                }
            }
            for (o, &v) in out_row.iter_mut().zip(&blended) {
                *o = quantize(v, p.multiplier, lo, hi, p.y_zero_point);
            }
            // Rare (tf_crop_and_resize only): columns outside the region of interest.
            for (o, &outside) in out_row.iter_mut().zip(cols.outside) {
                if outside {
                    *o = p.fill;
                }
            }
        }
    }
    Ok(())
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
