//! `RoiAlign`: every region of interest is cut into an `output_height x output_width` grid of
//! cells; each cell is a regular grid of bilinear samples, averaged (or, in `max` mode, the
//! largest weighted corner taken, as the ONNX reference and onnxruntime define it).
//!
//! Follows `onnx/reference/ops/op_roi_align.py`: the sample positions and bilinear weights of a
//! region do not depend on the channel, so they are computed once per region and reused.

use super::MIN_ELEMENTS_PER_THREAD;
use super::{expect_shape, require_float, Inputs, Outputs, Real};
use crate::backend::cpu::parallel::{for_each_unit_mut, worker_count};
use crate::ir::ops::vision::{RoiAlign, RoiReduce};
use crate::{Error, Result};

const OP: &str = "RoiAlign";

pub(super) fn roi_align(attrs: &RoiAlign, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, rois, batch_indices) = (ins.get(0)?, ins.get(1)?, ins.get(2)?);
    require_float(OP, "X", &x)?;
    let &[batches, channels, height, width] = x.shape else {
        crate::bail!(shape, "{OP}: X must be [N, C, H, W], got {:?}", x.shape);
    };
    let num_rois = rois.shape.first().copied().unwrap_or(0);
    expect_shape(OP, "rois", &rois, &[num_rois, 4])?;
    expect_shape(OP, "batch_indices", &batch_indices, &[num_rois])?;
    let out_shape = [num_rois, channels, attrs.output_height, attrs.output_width];
    let image = Image { height, width };
    let boxes = rois.to_f64_vec()?;
    let batch_of = batch_indices.to_i64_vec()?;
    let regions = boxes
        .chunks_exact(4)
        .zip(&batch_of)
        .map(|(corners, &batch)| {
            let batch = usize::try_from(batch)
                .ok()
                .filter(|&b| b < batches)
                .ok_or_else(|| {
                    Error::argument(format!(
                        "{OP}: batch index {batch} is outside [0, {batches})"
                    ))
                })?;
            Ok((batch, [corners[0], corners[1], corners[2], corners[3]]))
        })
        .collect::<Result<Vec<_>>>()?;
    if out_shape.contains(&0) {
        out.alloc(0, x.dtype, &out_shape)?;
        return Ok(());
    }
    if height == 0 || width == 0 {
        crate::bail!(shape, "{OP}: cannot sample an empty image {:?}", x.shape);
    }
    crate::with_numeric_type!(x.dtype, T => {
        let data = x.as_slice::<T>()?;
        let y = out.alloc_typed::<T>(0, &out_shape)?;
        let cells = attrs.output_height * attrs.output_width;
        let plane = height * width;
        let workers = worker_count(ins.threads(), num_rois, y.len(), MIN_ELEMENTS_PER_THREAD);
        for_each_unit_mut(y, channels * cells, workers, |roi, y_roi| {
            let (batch, corners) = &regions[roi];
            let samples = Samples::of_region(attrs, &image, corners)?;
            let batch_data = &data[batch * channels * plane..(batch + 1) * channels * plane];
            for (channel, y_channel) in batch_data.chunks_exact(plane).zip(y_roi.chunks_exact_mut(cells)) {
                samples.pool(attrs.mode, channel, y_channel);
            }
            Ok(())
        })?;
        Ok(())
    }, _ => Err(Error::unsupported(OP, format!("X of dtype {}", x.dtype))))
}

/// The size of one channel plane of the sampled feature map.
struct Image {
    height: usize,
    width: usize,
}

/// One bilinear sample: four pixel offsets in a channel plane and their weights (all zero for
/// a sample outside the image).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tap {
    pos: [usize; 4],
    weight: [f64; 4],
}

/// The samples of one region, cell by cell (`per_cell` consecutive taps per output cell).
struct Samples {
    taps: Vec<Tap>,
    per_cell: usize,
}

impl Samples {
    fn of_region(attrs: &RoiAlign, image: &Image, corners: &[f64; 4]) -> Result<Samples> {
        let scale = attrs.spatial_scale as f64;
        // Do not round: the exact region is part of the definition.
        let shift = if attrs.half_pixel { 0.5 } else { 0.0 };
        let start_w = corners[0] * scale - shift;
        let start_h = corners[1] * scale - shift;
        let mut roi_w = corners[2] * scale - shift - start_w;
        let mut roi_h = corners[3] * scale - shift - start_h;
        if !attrs.half_pixel {
            // Malformed regions are forced to 1x1.
            roi_w = roi_w.max(1.0);
            roi_h = roi_h.max(1.0);
        }
        let (out_h, out_w) = (attrs.output_height, attrs.output_width);
        let bin_h = roi_h / out_h as f64;
        let bin_w = roi_w / out_w as f64;
        let grid = |bin: f64| match attrs.sampling_ratio {
            0 => bin.ceil().max(0.0) as usize,
            ratio => ratio,
        };
        let (grid_h, grid_w) = (grid(bin_h), grid(bin_w));
        let per_cell = grid_h.checked_mul(grid_w);
        let total = per_cell
            .and_then(|p| p.checked_mul(out_h))
            .and_then(|p| p.checked_mul(out_w));
        let (Some(per_cell), Some(total)) = (per_cell, total) else {
            crate::bail!(shape, "{OP}: region {corners:?} needs too many samples");
        };
        let mut taps = Vec::new();
        taps.try_reserve_exact(total).map_err(|_| {
            Error::shape(format!("{OP}: region {corners:?} needs too many samples"))
        })?;
        for ph in 0..out_h {
            for pw in 0..out_w {
                for iy in 0..grid_h {
                    let y = start_h + ph as f64 * bin_h + (iy as f64 + 0.5) * bin_h / grid_h as f64;
                    for ix in 0..grid_w {
                        let x =
                            start_w + pw as f64 * bin_w + (ix as f64 + 0.5) * bin_w / grid_w as f64;
                        taps.push(bilinear_tap(y, x, image.height, image.width));
                    }
                }
            }
        }
        Ok(Samples { taps, per_cell })
    }

    /// Reduces the samples of every cell over one channel plane into `y` (one value per cell).
    fn pool<T: Real>(&self, mode: RoiReduce, plane: &[T], y: &mut [T]) {
        let value = |p: usize| plane[p].to_f64();
        if self.per_cell == 0 {
            y.fill(T::from_f64(0.0));
            return;
        }
        for (cell, y) in self.taps.chunks_exact(self.per_cell).zip(y.iter_mut()) {
            let pooled = match mode {
                RoiReduce::Avg => {
                    let sum: f64 = cell
                        .iter()
                        .map(|t| (0..4).map(|k| t.weight[k] * value(t.pos[k])).sum::<f64>())
                        .sum();
                    sum / self.per_cell as f64
                }
                RoiReduce::Max => cell
                    .iter()
                    .map(|t| {
                        (0..4)
                            .map(|k| t.weight[k] * value(t.pos[k]))
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .fold(f64::NEG_INFINITY, f64::max),
            };
            *y = T::from_f64(pooled);
        }
    }
}

/// The bilinear tap at `(y, x)` of a `height x width` plane (both at least 1). Samples more
/// than one pixel outside read zero; the rest are clamped to the border.
fn bilinear_tap(y: f64, x: f64, height: usize, width: usize) -> Tap {
    if y < -1.0 || y > height as f64 || x < -1.0 || x > width as f64 {
        return Tap::default();
    }
    let (y_low, y_high, ly) = corners_along(y, height);
    let (x_low, x_high, lx) = corners_along(x, width);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    Tap {
        pos: [
            y_low * width + x_low,
            y_low * width + x_high,
            y_high * width + x_low,
            y_high * width + x_high,
        ],
        weight: [hy * hx, hy * lx, ly * hx, ly * lx],
    }
}

/// The two neighbouring pixel indices along an axis of `len` (at least 1) and the weight of the
/// upper one.
fn corners_along(v: f64, len: usize) -> (usize, usize, f64) {
    let v = v.max(0.0);
    let low = v as usize;
    if low >= len - 1 {
        (len - 1, len - 1, 0.0)
    } else {
        (low, low + 1, v - low as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_clamps_at_the_border_and_drops_far_samples() {
        let t = bilinear_tap(0.25, 1.5, 2, 2);
        assert_eq!(t.pos, [1, 1, 3, 3]);
        assert_eq!(t.weight, [0.75, 0.0, 0.25, 0.0]);
        assert_eq!(bilinear_tap(-1.5, 0.0, 2, 2), Tap::default());
        let inner = bilinear_tap(0.5, 0.5, 2, 2);
        assert_eq!(inner.weight, [0.25; 4]);
    }

    #[test]
    fn average_of_a_constant_plane_is_the_constant() {
        let attrs = RoiAlign {
            mode: RoiReduce::Avg,
            half_pixel: true,
            output_height: 2,
            output_width: 3,
            sampling_ratio: 0,
            spatial_scale: 1.0,
        };
        let image = Image {
            height: 4,
            width: 5,
        };
        let samples = Samples::of_region(&attrs, &image, &[0.5, 0.5, 4.0, 3.5]).unwrap();
        let plane = vec![2.5f32; 20];
        let mut y = vec![0f32; 6];
        samples.pool(RoiReduce::Avg, &plane, &mut y);
        assert!(y.iter().all(|&v| (v - 2.5).abs() < 1e-6), "{y:?}");
    }
}
