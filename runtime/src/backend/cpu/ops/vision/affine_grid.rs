//! `AffineGrid`: the sampling grid `GridSample` reads for a batch of affine transforms. Each
//! output position holds `theta · (x, y, [z,] 1)` where `(x, y, z)` runs over an evenly spaced
//! grid of `[-1, 1]` per axis (pixel centers; the corner pixels' centers are `±1` with
//! `align_corners`, their outer edges otherwise).

use super::{require_float, Inputs, Outputs, Real};
use crate::ir::ops::vision::affine_grid_shape;
use crate::{Error, Result};

const OP: &str = "AffineGrid";

pub(super) fn affine_grid(align_corners: bool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (theta, size) = (ins.get(0)?, ins.get(1)?);
    require_float(OP, "theta", &theta)?;
    let out_shape = affine_grid_shape(Some(theta.shape), &size.to_i64_vec()?)?;
    let axes = out_shape.len() - 2;
    // `[H, W]` is handled as `[1, H, W]` with no z coordinate.
    let (depth, height, width) = match out_shape[1..=axes] {
        [h, w] => (1, h, w),
        [d, h, w] => (d, h, w),
        _ => return Err(Error::internal(format!("{OP}: output shape {out_shape:?}"))),
    };
    let (zs, ys, xs) = (
        positions(depth, align_corners),
        positions(height, align_corners),
        positions(width, align_corners),
    );
    let thetas = theta.to_f64_vec()?;
    crate::with_numeric_type!(theta.dtype, T => {
        let grid = out.alloc_typed::<T>(0, &out_shape)?;
        let mut cells = grid.chunks_exact_mut(axes);
        for theta in thetas.chunks_exact(axes * (axes + 1)) {
            for &z in &zs {
                for &y in &ys {
                    for &x in &xs {
                        let point = if axes == 2 { [x, y, 1.0, 0.0] } else { [x, y, z, 1.0] };
                        let Some(cell) = cells.next() else {
                            return Err(Error::internal(format!("{OP}: grid too small")));
                        };
                        transform(theta, &point[..=axes], cell);
                    }
                }
            }
        }
        Ok(())
    }, _ => Err(Error::unsupported(OP, format!("theta of dtype {}", theta.dtype))))
}

/// `theta` (`rows x point.len()`, row-major) times the homogeneous `point`, into `out`.
fn transform<T: Real>(theta: &[f64], point: &[f64], out: &mut [T]) {
    for (row, o) in theta.chunks_exact(point.len()).zip(out.iter_mut()) {
        *o = T::from_f64(row.iter().zip(point).map(|(a, b)| a * b).sum());
    }
}

/// The normalized coordinates of the `len` pixel centers along one axis. A single pixel with
/// aligned corners sits at -1 (as the reference's `arange` gives).
fn positions(len: usize, align_corners: bool) -> Vec<f64> {
    if align_corners {
        let step = if len > 1 { 2.0 / (len - 1) as f64 } else { 0.0 };
        (0..len).map(|i| -1.0 + i as f64 * step).collect()
    } else {
        let step = 2.0 / len as f64;
        (0..len)
            .map(|i| -1.0 + step / 2.0 + i as f64 * step)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_span_centers_or_edges() {
        assert_eq!(positions(3, true), vec![-1.0, 0.0, 1.0]);
        assert_eq!(positions(2, false), vec![-0.5, 0.5]);
        assert_eq!(positions(1, true), vec![-1.0]);
        assert_eq!(positions(1, false), vec![0.0]);
    }

    #[test]
    fn identity_transform_reproduces_the_point() {
        let theta = [1.0, 0.0, 0.5, 0.0, 1.0, -0.5];
        let mut out = [0f32; 2];
        transform(&theta, &[0.25, 0.75, 1.0], &mut out);
        assert_eq!(out, [0.75, 0.25]);
    }
}
