//! `GridSample` over any number of spatial axes: every output position reads `X` at the
//! normalized position the grid gives it (`-1..1` per axis, the grid's last axis listing them
//! innermost-first: x, y, z...), by nearest, linear or cubic interpolation, with zero, border
//! or reflected values outside the image.
//!
//! Follows `onnx/reference/ops/op_grid_sample.py` (PyTorch's semantics): coordinates are
//! computed in f32, out-of-range positions are first moved in by the padding mode, then each
//! interpolation tap is padded again. Separable interpolation is evaluated as a sum over the
//! tensor product of per-axis taps. Taps depend only on the grid, so they are computed once per
//! batch item and applied to every channel.

use super::MIN_ELEMENTS_PER_THREAD;
use super::{Inputs, Outputs, Real};
use crate::backend::cpu::parallel::{for_each_unit_mut, worker_count};
use crate::ir::ops::vision::{grid_sample_shape, GridPadding, GridSample, Interpolation};
use crate::tensor::{numel, strides_of};
use crate::{Error, Result};

const OP: &str = "GridSample";

pub(super) fn grid_sample(attrs: &GridSample, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, grid) = (ins.get(0)?, ins.get(1)?);
    let out_shape = grid_sample_shape(x.shape, grid.shape)?;
    if !grid.dtype.is_float() {
        return Err(Error::unsupported(
            OP,
            format!("grid of dtype {} (float types only)", grid.dtype),
        ));
    }
    let (batches, channels) = (x.shape[0], x.shape[1]);
    let in_dims = &x.shape[2..];
    let axes = in_dims.len();
    let points = numel(&grid.shape[1..=axes]);
    if numel(&out_shape) == 0 || in_dims.contains(&0) {
        // Nothing to compute, or nothing to sample from: every read is padding.
        out.alloc(0, x.dtype, &out_shape)?;
        return Ok(());
    }
    let positions = grid.to_f32_vec()?;
    let sampler = Sampler::new(*attrs, in_dims);
    let plane = numel(in_dims);
    crate::with_numeric_type!(x.dtype, T => {
        let data = x.as_slice::<T>()?;
        let y = out.alloc_typed::<T>(0, &out_shape)?;
        for ((image, y_batch), batch_positions) in data
            .chunks_exact(channels * plane)
            .zip(y.chunks_exact_mut(channels * points))
            .zip(positions.chunks_exact(points * axes))
            .take(batches)
        {
            let taps = sampler.taps(batch_positions);
            let workers = worker_count(ins.threads(), channels, y_batch.len(), MIN_ELEMENTS_PER_THREAD);
            for_each_unit_mut(y_batch, points, workers, |channel, y_channel| {
                taps.apply(attrs.mode, &image[channel * plane..(channel + 1) * plane], y_channel);
                Ok(())
            })?;
        }
        Ok(())
    }, _ => Err(Error::unsupported(OP, format!("X of dtype {}", x.dtype))))
}

/// The weighted pixel reads of every output position of one batch item (compressed rows:
/// position `p` reads `reads[starts[p]..starts[p + 1]]`).
struct Taps {
    starts: Vec<usize>,
    reads: Vec<(usize, f64)>,
}

impl Taps {
    /// Samples one channel plane into `y` (one value per position).
    fn apply<T: Real>(&self, mode: Interpolation, plane: &[T], y: &mut [T]) {
        for (p, y) in y.iter_mut().enumerate() {
            let reads = &self.reads[self.starts[p]..self.starts[p + 1]];
            *y = match mode {
                // Copied, not converted: exact for every dtype.
                Interpolation::Nearest => reads
                    .first()
                    .map_or(T::from_f64(0.0), |&(offset, _)| plane[offset]),
                Interpolation::Linear | Interpolation::Cubic => T::from_f64(
                    reads
                        .iter()
                        .map(|&(offset, w)| w * plane[offset].to_f64())
                        .sum(),
                ),
            };
        }
    }
}

/// Keys' cubic convolution parameter (PyTorch's and the reference's choice).
const CUBIC_ALPHA: f64 = -0.75;

/// Turns normalized grid positions into pixel reads of an image of fixed spatial size.
struct Sampler<'a> {
    attrs: GridSample,
    dims: &'a [usize],
    strides: Vec<usize>,
}

/// One interpolation tap along one axis: a pixel index (`None` outside the image with zero
/// padding) and its weight.
type AxisTap = (Option<usize>, f64);

impl<'a> Sampler<'a> {
    fn new(attrs: GridSample, dims: &'a [usize]) -> Self {
        Sampler {
            attrs,
            dims,
            strides: strides_of(dims),
        }
    }

    /// Taps per axis of the interpolation mode.
    fn taps_per_axis(&self) -> usize {
        match self.attrs.mode {
            Interpolation::Nearest => 1,
            Interpolation::Linear => 2,
            Interpolation::Cubic => 4,
        }
    }

    /// The reads of every position of `positions` (`axes` values per position, x first).
    fn taps(&self, positions: &[f32]) -> Taps {
        let axes = self.dims.len();
        let k = self.taps_per_axis();
        let points = positions.len() / axes;
        let mut taps = Taps {
            starts: Vec::with_capacity(points + 1),
            reads: Vec::with_capacity(points * k.pow(axes as u32)),
        };
        let mut axis_taps: Vec<AxisTap> = vec![(None, 0.0); axes * k];
        let mut digits = vec![0usize; axes];
        taps.starts.push(0);
        for position in positions.chunks_exact(axes) {
            // Data axis `d` is the grid's component `axes - 1 - d`.
            for (d, row) in axis_taps.chunks_exact_mut(k).enumerate() {
                self.axis_taps(position[axes - 1 - d], d, row);
            }
            // Every combination of one tap per axis.
            digits.fill(0);
            'combos: loop {
                let mut offset = 0;
                let mut weight = 1.0;
                let mut inside = true;
                for (d, &digit) in digits.iter().enumerate() {
                    match axis_taps[d * k + digit] {
                        (Some(i), w) => {
                            offset += i * self.strides[d];
                            weight *= w;
                        }
                        (None, _) => inside = false,
                    }
                }
                if inside {
                    taps.reads.push((offset, weight));
                }
                for digit in digits.iter_mut().rev() {
                    *digit += 1;
                    if *digit < k {
                        continue 'combos;
                    }
                    *digit = 0;
                }
                break;
            }
            taps.starts.push(taps.reads.len());
        }
        taps
    }

    /// The taps along data axis `d` of the normalized coordinate `n`, into `row`.
    fn axis_taps(&self, n: f32, d: usize, row: &mut [AxisTap]) {
        let len = self.dims[d];
        let align = self.attrs.align_corners;
        let mut v = if align {
            (n + 1.0) / 2.0 * (len - 1) as f32
        } else {
            ((n + 1.0) * len as f32 - 1.0) / 2.0
        };
        if self.attrs.mode == Interpolation::Nearest {
            v = v.round_ties_even();
        }
        let (lo, hi) = bounds(len, align);
        if v < lo || v > hi {
            match self.attrs.padding {
                GridPadding::Zeros => {}
                GridPadding::Border => v = v.clamp(0.0, (len - 1) as f32),
                GridPadding::Reflection => v = reflect(v as f64, lo as f64, hi as f64) as f32,
            }
        }
        // Far outside, every tap is outside too; bounding `v` keeps the index math small.
        let v = v.clamp(lo - 4.0, hi + 4.0);
        let index = |i: f32| self.pad_index(i as i64, len, lo, hi);
        match self.attrs.mode {
            // Truncation toward zero, like the reference's cast to int32.
            Interpolation::Nearest => row[0] = (index(v.trunc()), 1.0),
            Interpolation::Linear => {
                let x0 = v.floor();
                let t = (v - x0) as f64;
                row[0] = (index(x0), 1.0 - t);
                row[1] = (index(x0 + 1.0), t);
            }
            Interpolation::Cubic => {
                let x0 = v.floor();
                let coeffs = cubic_coeffs((v - x0) as f64);
                for (j, (slot, c)) in row.iter_mut().zip(coeffs).enumerate() {
                    *slot = (index(x0 + j as f32 - 1.0), c);
                }
            }
        }
    }

    /// A pixel index along an axis of `len`, moved inside by the padding mode (`None`: reads
    /// zero).
    fn pad_index(&self, i: i64, len: usize, lo: f32, hi: f32) -> Option<usize> {
        let last = len as i64 - 1;
        match self.attrs.padding {
            GridPadding::Zeros => usize::try_from(i).ok().filter(|&i| i < len),
            GridPadding::Border => Some(i.clamp(0, last) as usize),
            GridPadding::Reflection => {
                let r = reflect(i as f64, lo as f64, hi as f64) as i64;
                Some(r.clamp(0, last) as usize)
            }
        }
    }
}

/// The range of unnormalized coordinates inside an axis of `len` pixels: pixel centers with
/// aligned corners, outer pixel edges otherwise.
fn bounds(len: usize, align_corners: bool) -> (f32, f32) {
    if align_corners {
        (0.0, (len - 1) as f32)
    } else {
        (-0.5, len as f32 - 0.5)
    }
}

/// `x` mirrored at `lo` and `hi` until it lies between them.
fn reflect(x: f64, lo: f64, hi: f64) -> f64 {
    let range = hi - lo;
    if range <= 0.0 {
        return lo;
    }
    let (dx, from_low) = if x < lo {
        (lo - x, true)
    } else if x > hi {
        (x - hi, false)
    } else {
        return x;
    };
    let flips = (dx / range).floor();
    let r = dx - flips * range;
    if (flips % 2.0 == 0.0) == from_low {
        lo + r
    } else {
        hi - r
    }
}

/// Weights of the four taps at offsets -1, 0, 1, 2 from `floor(v)`, for `t = v - floor(v)`.
fn cubic_coeffs(t: f64) -> [f64; 4] {
    let a = CUBIC_ALPHA;
    let far = |x: f64| ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    let near = |x: f64| ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_mirrors_back_and_forth() {
        assert_eq!(reflect(-1.0, -0.5, 2.5), 0.0);
        assert_eq!(reflect(3.0, -0.5, 2.5), 2.0);
        // Past a full range: mirrored twice.
        assert_eq!(reflect(6.0, -0.5, 2.5), 0.0);
        assert_eq!(reflect(1.0, 0.0, 0.0), 0.0);
        assert_eq!(reflect(1.25, -0.5, 2.5), 1.25);
    }

    #[test]
    fn cubic_weights_sum_to_one_and_interpolate() {
        for t in [0.0, 0.25, 0.5, 0.9] {
            let c = cubic_coeffs(t);
            assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(cubic_coeffs(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn bilinear_taps_of_a_corner_with_zero_padding() {
        let attrs = GridSample {
            mode: Interpolation::Linear,
            padding: GridPadding::Zeros,
            align_corners: false,
        };
        let dims = [2, 3];
        let sampler = Sampler::new(attrs, &dims);
        // (-1, -1) is the outer corner: a quarter of pixel (0, 0).
        let taps = sampler.taps(&[-1.0, -1.0]);
        assert_eq!(taps.starts, vec![0, 1]);
        assert_eq!(taps.reads, vec![(0, 0.25)]);
        // (1, 1) with aligned corners is exactly the last pixel.
        let aligned = Sampler::new(
            GridSample {
                align_corners: true,
                ..attrs
            },
            &dims,
        );
        let taps = aligned.taps(&[1.0, 1.0]);
        let total: f64 = taps.reads.iter().filter(|r| r.0 == 5).map(|r| r.1).sum();
        assert_eq!(total, 1.0);
    }

    #[test]
    fn nearest_rounds_half_to_even() {
        let attrs = GridSample {
            mode: Interpolation::Nearest,
            padding: GridPadding::Border,
            align_corners: true,
        };
        let dims = [5];
        let sampler = Sampler::new(attrs, &dims);
        // n = -0.5 -> v = 1.0; n = -0.25 -> v = 1.5 -> 2; n = 0.25 -> 2.5 -> 2.
        let taps = sampler.taps(&[-0.5, -0.25, 0.25, 9.0]);
        let picked: Vec<usize> = taps.reads.iter().map(|r| r.0).collect();
        assert_eq!(picked, vec![1, 2, 2, 4]);
    }
}
