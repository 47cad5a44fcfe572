//! THE ORACLE for [`super::Pool2dFn`] and [`super::GlobalPoolFn`]: every window visits its taps
//! one by one with bounds checks; sums and means in `f64`.

use super::{validate, validate_global, GlobalPoolOp, PoolOp, PoolParams};
use crate::KernelError;

/// Reference [`super::Pool2dFn`].
pub(crate) fn pool2d(
    p: &PoolParams,
    op: PoolOp,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate(p, x, y)?;
    let (rows, cols) = (p.rows(), p.cols());
    let (in_plane, out_plane) = (p.in_h * p.in_w, p.out_h * p.out_w);
    for c in 0..p.channels {
        let x = &x[c * in_plane..(c + 1) * in_plane];
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                let (mut max, mut sum, mut inside, mut padded) =
                    (f32::NEG_INFINITY, 0f64, 0usize, 0usize);
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let (sy, sx) = (rows.shifted(oy, ky), cols.shifted(ox, kx));
                        let in_padded =
                            |at: usize, a: &super::Axis| at < a.pad_begin + a.len + a.pad_end;
                        if in_padded(sy, &rows) && in_padded(sx, &cols) {
                            padded += 1;
                        }
                        let iy = sy.checked_sub(p.pad_top).filter(|&iy| iy < p.in_h);
                        let ix = sx.checked_sub(p.pad_left).filter(|&ix| ix < p.in_w);
                        let (Some(iy), Some(ix)) = (iy, ix) else {
                            continue;
                        };
                        let v = x[iy * p.in_w + ix];
                        inside += 1;
                        sum += f64::from(v);
                        if v > max {
                            max = v; // NaN is never greater: skipped.
                        }
                    }
                }
                y[c * out_plane + oy * p.out_w + ox] = match op {
                    PoolOp::Max if inside == 0 => 0.0,
                    PoolOp::Max => max,
                    PoolOp::Average { count_include_pad } => {
                        let divisor = if count_include_pad { padded } else { inside };
                        (sum / divisor as f64) as f32
                    }
                };
            }
        }
    }
    Ok(())
}

/// Reference [`super::GlobalPoolFn`].
pub(crate) fn global_pool(
    op: GlobalPoolOp,
    plane: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<(), KernelError> {
    validate_global(plane, x, y)?;
    for (src, d) in x.chunks_exact(plane).zip(y) {
        *d = match op {
            GlobalPoolOp::Max => src.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            GlobalPoolOp::Average => {
                (src.iter().map(|&v| f64::from(v)).sum::<f64>() / plane as f64) as f32
            }
        };
    }
    Ok(())
}
