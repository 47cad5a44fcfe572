//! `MaxRoiPool` (Fast R-CNN ROI pooling): every region `[batch, x1, y1, x2, y2]` is rounded to
//! whole pixels and cut into `pooled_height x pooled_width` cells of (nearly) equal size; each
//! output is the maximum over its cell, 0 for a cell that falls outside the image.
//!
//! Follows onnxruntime's kernel (the ONNX reference has none), except that the running
//! maximum starts below every value instead of at the smallest positive float.

use super::{expect_shape, require_float, Inputs, Outputs, Real};
use crate::ir::ops::vision::MaxRoiPool;
use crate::{Error, Result};

const OP: &str = "MaxRoiPool";

pub(super) fn max_roi_pool(attrs: &MaxRoiPool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, rois) = (ins.get(0)?, ins.get(1)?);
    require_float(OP, "X", &x)?;
    let &[batches, channels, height, width] = x.shape else {
        crate::bail!(shape, "{OP}: X must be [N, C, H, W], got {:?}", x.shape);
    };
    let num_rois = rois.shape.first().copied().unwrap_or(0);
    expect_shape(OP, "rois", &rois, &[num_rois, 5])?;
    let (pooled_h, pooled_w) = (attrs.pooled_height, attrs.pooled_width);
    let out_shape = [num_rois, channels, pooled_h, pooled_w];
    let regions = rois
        .to_f32_vec()?
        .chunks_exact(5)
        .map(|roi| Region::new(roi, attrs.spatial_scale, batches))
        .collect::<Result<Vec<_>>>()?;
    if out_shape.contains(&0) || height == 0 || width == 0 {
        // Nothing to compute, or every cell is empty (reads 0).
        out.alloc(0, x.dtype, &out_shape)?;
        return Ok(());
    }
    crate::with_numeric_type!(x.dtype, T => {
        let data = x.as_slice::<T>()?;
        let y = out.alloc_typed::<T>(0, &out_shape)?;
        let plane = height * width;
        let per_channel = pooled_h * pooled_w;
        for (region, y_roi) in regions.iter().zip(y.chunks_exact_mut(channels * per_channel)) {
            let rows = cells(region.y0, region.height, pooled_h, height);
            let cols = cells(region.x0, region.width, pooled_w, width);
            let image = &data[region.batch * channels * plane..(region.batch + 1) * channels * plane];
            for (channel, y_channel) in image.chunks_exact(plane).zip(y_roi.chunks_exact_mut(per_channel)) {
                for (row_cells, y_row) in rows.iter().zip(y_channel.chunks_exact_mut(pooled_w)) {
                    for (col_cells, y) in cols.iter().zip(y_row.iter_mut()) {
                        *y = cell_max(channel, width, row_cells.clone(), col_cells.clone());
                    }
                }
            }
        }
        Ok(())
    }, _ => Err(Error::unsupported(OP, format!("X of dtype {}", x.dtype))))
}

/// The maximum over rows x cols of a plane of `width` columns; 0 for an empty cell.
fn cell_max<T: Real>(
    plane: &[T],
    width: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> T {
    if rows.is_empty() || cols.is_empty() {
        return T::from_f64(0.0);
    }
    let mut best = f64::NEG_INFINITY;
    for r in rows {
        for v in &plane[r * width + cols.start..r * width + cols.end] {
            best = best.max(v.to_f64());
        }
    }
    T::from_f64(best)
}

/// A region rounded to whole pixels (at least 1x1).
struct Region {
    batch: usize,
    x0: i64,
    y0: i64,
    width: i64,
    height: i64,
}

impl Region {
    fn new(roi: &[f32], spatial_scale: f32, batches: usize) -> Result<Region> {
        let batch = roi[0] as i64;
        let batch = usize::try_from(batch)
            .ok()
            .filter(|&b| b < batches)
            .ok_or_else(|| {
                Error::argument(format!(
                    "{OP}: batch index {} is outside [0, {batches})",
                    roi[0]
                ))
            })?;
        // Rounding half away from zero, like C's `round`.
        let pixel = |v: f32| (v * spatial_scale).round() as i64;
        let (x0, y0, x1, y1) = (pixel(roi[1]), pixel(roi[2]), pixel(roi[3]), pixel(roi[4]));
        Ok(Region {
            batch,
            x0,
            y0,
            width: x1.saturating_sub(x0).saturating_add(1).max(1),
            height: y1.saturating_sub(y0).saturating_add(1).max(1),
        })
    }
}

/// The pixel ranges of the `pooled` cells along an axis where a region starts at `start` and
/// spans `span` pixels, clipped to `[0, limit)`.
fn cells(start: i64, span: i64, pooled: usize, limit: usize) -> Vec<std::ops::Range<usize>> {
    let bin = span as f64 / pooled as f64;
    let clip = |v: f64| (v as i64).saturating_add(start).clamp(0, limit as i64) as usize;
    (0..pooled)
        .map(|p| clip((p as f64 * bin).floor())..clip(((p + 1) as f64 * bin).ceil()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cover_the_region_and_clip_to_the_image() {
        let r = Region::new(&[0.0, 1.0, 0.0, 4.0, 2.0], 1.0, 1).unwrap();
        assert_eq!((r.x0, r.width, r.y0, r.height), (1, 4, 0, 3));
        assert_eq!(cells(r.x0, r.width, 2, 10), vec![1..3, 3..5]);
        assert_eq!(cells(r.x0, r.width, 2, 4), vec![1..3, 3..4]);
        // Three rows into two cells overlap in the middle row.
        assert_eq!(cells(r.y0, r.height, 2, 10), vec![0..2, 1..3]);
        assert!(Region::new(&[1.0, 0.0, 0.0, 1.0, 1.0], 1.0, 1).is_err());
    }

    #[test]
    fn empty_cells_read_zero() {
        let plane = [-3.0f32, -1.0, -2.0, -4.0];
        assert_eq!(cell_max(&plane, 2, 0..2, 0..2), -1.0);
        assert_eq!(cell_max(&plane, 2, 2..2, 0..2), 0.0);
    }
}
