//! Windowed pooling (`MaxPool`, `AveragePool`, `LpPool`) and global pooling.
//!
//! 2-D `AveragePool`, 2-D f32 `MaxPool` without indices, `GlobalAveragePool` and
//! `GlobalMaxPool` run on `mote_kernels`' vectorised pooling kernels, planes split across
//! threads. Everything else (other ranks, `LpPool`, `MaxPool` on other types or with
//! `Indices`) takes the portable path below: every `[N, C]` plane shares one window geometry,
//! computed once per axis into [`Windows`]: for each output coordinate, the range of kernel
//! taps that fall inside the image. Padding never contributes to a max, adds zero to a sum, and
//! only counts in an average's divisor, so only in-image taps are visited, the last axis as one
//! strided run.

use super::{batch_channels, f32_data, f32_output, kernel_error, parallel, workers_for};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::nn::{pool_shape, Geometry, GlobalPoolKind, Pool, PoolKind};
use crate::tensor::{byte_len, numel, strides_of, Element};
use crate::{DType, Error, Result};
use mote_kernels::cpu::pool::bytes::max_pool2d_u8;
use mote_kernels::cpu::pool::{
    global_pool as pool_planes, pool2d, GlobalPoolOp, PoolOp, PoolParams,
};

pub(super) fn pool(attrs: &Pool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let shape = pool_shape(attrs, x.shape)?;
    // Refuse absurd output sizes before sizing anything from them.
    byte_len(x.dtype, &shape)?;
    let geometry = attrs.window.resolve(&x.shape[2..], None, attrs.ceil_mode)?;
    let windows = Windows::new(&x.shape[2..], &geometry)?;
    let threads = ins.threads();
    let spatial = &x.shape[2..];
    match attrs.kind {
        PoolKind::Max { .. } if spatial.len() == 2 && x.dtype == DType::F32 && !out.is_used(1) => {
            let xs = x.as_slice::<f32>()?;
            f32_output(out, 0, x.dtype, &shape, |y| {
                pool_2d(&geometry, spatial, PoolOp::Max, xs, y, threads)
            })
        }
        // 8-bit values (a quantized model's MaxPool) on the byte kernel: a max only picks one
        // of its inputs.
        PoolKind::Max { .. }
            if spatial.len() == 2
                && matches!(x.dtype, DType::U8 | DType::I8)
                && !out.is_used(1) =>
        {
            let y = out.alloc_uninit(0, x.dtype, &shape)?;
            let signed = x.dtype == DType::I8;
            max_pool_2d_bytes(&geometry, spatial, signed, x.bytes, y.bytes, threads)
        }
        PoolKind::Average { count_include_pad } if spatial.len() == 2 => {
            let xs = f32_data("AveragePool", &x)?;
            let op = PoolOp::Average { count_include_pad };
            f32_output(out, 0, x.dtype, &shape, |y| {
                pool_2d(&geometry, spatial, op, &xs, y, threads)
            })
        }
        PoolKind::Max {
            column_major_indices,
        } => {
            let indices = out.is_used(1).then_some(column_major_indices);
            crate::with_numeric_type!(x.dtype, T => max_pool::<T>(&windows, x.as_slice::<T>()?, &shape, indices, threads, out),
                _ => Err(Error::unsupported("MaxPool", format!("dtype {}", x.dtype))))
        }
        PoolKind::Average { count_include_pad } => {
            let xs = f32_data("AveragePool", &x)?;
            f32_output(out, 0, x.dtype, &shape, |y| {
                per_plane(
                    &xs,
                    windows.input_plane,
                    y,
                    windows.output_plane,
                    threads,
                    |src, dst| {
                        let mut dst = dst.iter_mut();
                        windows.for_each_window(|window| {
                            let (mut sum, mut count) = (0f64, 0usize);
                            windows.visit_taps(window, |o| {
                                sum += f64::from(src[o]);
                                count += 1;
                            });
                            let divisor = if count_include_pad {
                                window.iter().map(|w| w.padded).product()
                            } else {
                                count
                            };
                            if let Some(d) = dst.next() {
                                *d = (sum / divisor as f64) as f32;
                            }
                        });
                    },
                )
            })
        }
        PoolKind::Lp { p } => {
            let xs = f32_data("LpPool", &x)?;
            f32_output(out, 0, x.dtype, &shape, |y| {
                per_plane(
                    &xs,
                    windows.input_plane,
                    y,
                    windows.output_plane,
                    threads,
                    |src, dst| {
                        let mut dst = dst.iter_mut();
                        let mut taps = Vec::new();
                        windows.for_each_window(|window| {
                            taps.clear();
                            windows.visit_taps(window, |o| taps.push(src[o]));
                            if let Some(d) = dst.next() {
                                *d = lp_norm(taps.iter().copied(), p);
                            }
                        });
                    },
                )
            })
        }
    }
}

pub(super) fn global_pool(kind: GlobalPoolKind, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    let op = match kind {
        GlobalPoolKind::Max => "GlobalMaxPool",
        GlobalPoolKind::Average => "GlobalAveragePool",
        GlobalPoolKind::Lp { .. } => "GlobalLpPool",
    };
    let (_, _, plane) = batch_channels(op, x.shape, 3)?;
    let shape: Vec<usize> = x
        .shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if i < 2 { d } else { 1 })
        .collect();
    let xs = f32_data(op, &x)?;
    let threads = ins.threads();
    f32_output(out, 0, x.dtype, &shape, |y| {
        if plane == 0 {
            crate::bail!(shape, "{op}: empty spatial input {:?}", x.shape);
        }
        let kernel_op = match kind {
            GlobalPoolKind::Max => GlobalPoolOp::Max,
            GlobalPoolKind::Average => GlobalPoolOp::Average,
            GlobalPoolKind::Lp { p } => {
                for (src, d) in xs.chunks_exact(plane).zip(y.iter_mut()) {
                    *d = lp_norm(src.iter().copied(), p);
                }
                return Ok(());
            }
        };
        let workers = workers_for(threads, xs.len(), plane);
        parallel::for_each_chunk_mut(y, 1, workers, |p0, dst| {
            let src = &xs[p0 * plane..(p0 + dst.len()) * plane];
            pool_planes(kernel_op, plane, src, dst).map_err(|e| kernel_error(op, e))
        })
    })
}

/// `(Σ |x|^p)^(1/p)`, accumulated in f64.
fn lp_norm(values: impl Iterator<Item = f32>, p: f32) -> f32 {
    if p == 2.0 {
        return values
            .map(|v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt() as f32;
    }
    let p = f64::from(p);
    values
        .map(|v| f64::from(v).abs().powf(p))
        .sum::<f64>()
        .powf(1.0 / p) as f32
}

/// A 2-D `MaxPool` / `AveragePool` of every `[N, C]` plane with the pooling kernel, planes
/// split across threads (one kernel call per thread).
/// 2-D max pooling of 8-bit planes, split over threads by planes as [`pool_2d`].
fn max_pool_2d_bytes(
    g: &Geometry,
    spatial: &[usize],
    signed: bool,
    x: &[u8],
    y: &mut [u8],
    threads: usize,
) -> Result<()> {
    let (input_plane, output_plane) = (numel(spatial), numel(&g.output));
    if output_plane == 0 {
        return Ok(());
    }
    let workers = workers_for(threads, y.len(), output_plane);
    parallel::for_each_chunk_mut(y, output_plane, workers, |p0, planes| {
        let channels = planes.len() / output_plane;
        let params = pool_params(g, spatial, channels);
        let src = &x[p0 * input_plane..(p0 + channels) * input_plane];
        max_pool2d_u8(&params, signed, src, planes).map_err(|e| kernel_error("MaxPool", e))
    })
}

/// The kernels' geometry of `channels` planes pooled by `g`.
fn pool_params(g: &Geometry, spatial: &[usize], channels: usize) -> PoolParams {
    PoolParams {
        channels,
        in_h: spatial[0],
        in_w: spatial[1],
        out_h: g.output[0],
        out_w: g.output[1],
        kernel_h: g.kernel[0],
        kernel_w: g.kernel[1],
        stride_h: g.strides[0],
        stride_w: g.strides[1],
        dilation_h: g.dilations[0],
        dilation_w: g.dilations[1],
        pad_top: g.pads_begin[0],
        pad_left: g.pads_begin[1],
        pad_bottom: g.pads_end[0],
        pad_right: g.pads_end[1],
    }
}

fn pool_2d(
    g: &Geometry,
    spatial: &[usize],
    op: PoolOp,
    x: &[f32],
    y: &mut [f32],
    threads: usize,
) -> Result<()> {
    let (input_plane, output_plane) = (numel(spatial), numel(&g.output));
    if output_plane == 0 {
        return Ok(());
    }
    let name = match op {
        PoolOp::Max => "MaxPool",
        _ => "AveragePool",
    };
    let workers = workers_for(threads, y.len(), output_plane);
    parallel::for_each_chunk_mut(y, output_plane, workers, |p0, planes| {
        let channels = planes.len() / output_plane;
        let params = pool_params(g, spatial, channels);
        let src = &x[p0 * input_plane..(p0 + channels) * input_plane];
        pool2d(&params, op, src, planes).map_err(|e| kernel_error(name, e))
    })
}

/// Runs `f(input_plane, output_plane)` for every `[N, C]` plane, planes split across threads.
fn per_plane<T: Sync, U: Send>(
    x: &[T],
    input_plane: usize,
    y: &mut [U],
    output_plane: usize,
    threads: usize,
    f: impl Fn(&[T], &mut [U]) + Sync,
) -> Result<()> {
    if output_plane == 0 {
        return Ok(());
    }
    let workers = workers_for(threads, y.len(), output_plane);
    parallel::for_each_chunk_mut(y, output_plane, workers, |p0, planes| {
        for (p, dst) in planes.chunks_exact_mut(output_plane).enumerate() {
            let start = (p0 + p) * input_plane;
            f(&x[start..start + input_plane], dst);
        }
        Ok(())
    })
}

/// `MaxPool` on the input's own type; `indices` (when requested: `Some(column_major)`) are
/// flat indices into the whole input tensor.
fn max_pool<T: Element>(
    windows: &Windows,
    x: &[T],
    shape: &[usize],
    indices: Option<bool>,
    threads: usize,
    out: &mut Outputs,
) -> Result<()> {
    let (input_plane, output_plane) = (windows.input_plane, windows.output_plane);
    // Offset of each window's first maximum; `None` for a window entirely in the padding.
    let argmax = |src: &[T], window: &[AxisWindow]| {
        let mut best: Option<usize> = None;
        windows.visit_taps(window, |o| {
            if best.is_none_or(|b| src[o] > src[b]) {
                best = Some(o);
            }
        });
        best
    };
    // A window reading nothing yields zero, as in the ONNX reference.
    per_plane(
        x,
        input_plane,
        out.alloc_typed::<T>(0, shape)?,
        output_plane,
        threads,
        |src, dst| {
            let mut dst = dst.iter_mut();
            windows.for_each_window(|window| {
                if let Some(d) = dst.next() {
                    *d = argmax(src, window).map_or_else(T::default, |o| src[o]);
                }
            });
        },
    )?;
    if let Some(column_major) = indices {
        // Sequential: indices are rarely asked for outside training graphs.
        let idx = out.alloc_typed::<i64>(1, shape)?;
        if output_plane > 0 {
            for (plane, dst) in idx.chunks_exact_mut(output_plane).enumerate() {
                let src = &x[plane * input_plane..(plane + 1) * input_plane];
                let mut dst = dst.iter_mut();
                windows.for_each_window(|window| {
                    let index = argmax(src, window).map_or(-1, |o| {
                        let spatial = if column_major {
                            windows.column_major(o)
                        } else {
                            o
                        };
                        (plane * input_plane + spatial) as i64
                    });
                    if let Some(d) = dst.next() {
                        *d = index;
                    }
                });
            }
        }
    }
    Ok(())
}

/// The most spatial axes a pooling op accepts (windows are walked with fixed-size arrays).
const MAX_RANK: usize = 8;

/// One pooling geometry over one plane: the taps of every output coordinate, per axis.
struct Windows {
    /// `axes[d][o]`: the window of output coordinate `o` along axis `d`.
    axes: Vec<Vec<AxisWindow>>,
    dilations: Vec<usize>,
    /// Row-major strides of the input plane.
    in_strides: Vec<usize>,
    input_spatial: Vec<usize>,
    input_plane: usize,
    output: Vec<usize>,
    output_plane: usize,
}

/// The taps of one window along one axis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct AxisWindow {
    /// Input coordinate of the first in-image tap.
    first: usize,
    /// In-image taps.
    count: usize,
    /// Taps inside the padded input: an average's divisor with `count_include_pad` (the part
    /// of a `ceil_mode` window past the end padding does not count).
    padded: usize,
}

impl Windows {
    fn new(input: &[usize], g: &Geometry) -> Result<Self> {
        let rank = input.len();
        if rank == 0 || rank > MAX_RANK {
            crate::bail!(
                shape,
                "pooling over {rank} spatial axes; 1 to {MAX_RANK} supported"
            );
        }
        Ok(Windows {
            axes: (0..rank).map(|d| axis_windows(input[d], g, d)).collect(),
            dilations: g.dilations.clone(),
            in_strides: strides_of(input),
            input_spatial: input.to_vec(),
            input_plane: numel(input),
            output: g.output.clone(),
            output_plane: numel(&g.output),
        })
    }

    /// Calls `f` with the window of every output position, in row-major order.
    fn for_each_window(&self, mut f: impl FnMut(&[AxisWindow])) {
        let rank = self.axes.len();
        if self.output_plane == 0 {
            return;
        }
        let mut pos = [0usize; MAX_RANK];
        let mut window = [AxisWindow::default(); MAX_RANK];
        loop {
            for d in 0..rank {
                window[d] = self.axes[d][pos[d]];
            }
            f(&window[..rank]);
            if !advance(&mut pos[..rank], &self.output) {
                break;
            }
        }
    }

    /// Calls `f` with the plane offset of every in-image tap of `window`, in row-major order.
    #[inline]
    fn visit_taps(&self, window: &[AxisWindow], mut f: impl FnMut(usize)) {
        let last = window.len() - 1;
        if window.iter().any(|w| w.count == 0) {
            return;
        }
        let mut counts = [0usize; MAX_RANK];
        for (c, w) in counts.iter_mut().zip(window) {
            *c = w.count;
        }
        let mut tap = [0usize; MAX_RANK];
        let (run, step) = (window[last], self.dilations[last]);
        loop {
            let base: usize = (0..last)
                .map(|d| (window[d].first + tap[d] * self.dilations[d]) * self.in_strides[d])
                .sum();
            let mut offset = base + run.first;
            for _ in 0..run.count {
                f(offset);
                offset += step;
            }
            if !advance(&mut tap[..last], &counts[..last]) {
                break;
            }
        }
    }

    /// A row-major spatial offset re-expressed column-major (`MaxPool`'s `storage_order = 1`).
    fn column_major(&self, mut offset: usize) -> usize {
        let mut coords = [0usize; MAX_RANK];
        let rank = self.input_spatial.len();
        for (c, &d) in coords[..rank].iter_mut().zip(&self.input_spatial).rev() {
            *c = offset % d;
            offset /= d;
        }
        let (mut result, mut stride) = (0, 1);
        for (c, &d) in coords[..rank].iter().zip(&self.input_spatial) {
            result += c * stride;
            stride *= d;
        }
        result
    }
}

/// The window of every output coordinate along axis `d`.
fn axis_windows(len: usize, g: &Geometry, d: usize) -> Vec<AxisWindow> {
    let (k, s, dil) = (g.kernel[d], g.strides[d], g.dilations[d]);
    let (pad_begin, pad_end) = (g.pads_begin[d], g.pads_end[d]);
    (0..g.output[d])
        .map(|o| {
            // Tap j reads coordinate o·s + j·dil − pad_begin; shifted by pad_begin to stay
            // unsigned, it is in the image for pad_begin <= o·s + j·dil < pad_begin + len.
            // `Window::resolve` checked that these sums fit.
            let start = o * s;
            let taps_below = |limit: usize| limit.saturating_sub(start).div_ceil(dil).min(k);
            let lo = taps_below(pad_begin);
            let hi = taps_below(pad_begin + len).max(lo);
            AxisWindow {
                first: (start + lo * dil).saturating_sub(pad_begin),
                count: hi - lo,
                padded: taps_below(pad_begin + len + pad_end),
            }
        })
        .collect()
}

/// Row-major odometer step of `idx` within `dims`; `false` once it wraps to zeros.
fn advance(idx: &mut [usize], dims: &[usize]) -> bool {
    for (i, &d) in idx.iter_mut().zip(dims).rev() {
        *i += 1;
        if *i < d {
            return true;
        }
        *i = 0;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ops::nn::{Padding, Window};

    fn geometry(
        input: &[usize],
        kernel: &[usize],
        strides: &[usize],
        pads: &[usize],
        ceil: bool,
    ) -> Geometry {
        let (begin, end) = pads.split_at(pads.len() / 2);
        Window {
            kernel_shape: kernel.to_vec(),
            strides: strides.to_vec(),
            dilations: vec![],
            padding: Padding::Explicit {
                begin: begin.to_vec(),
                end: end.to_vec(),
            },
        }
        .resolve(input, None, ceil)
        .unwrap()
    }

    fn taps(w: &Windows, p: usize) -> (Vec<usize>, usize) {
        let mut k = 0;
        let mut result = (Vec::new(), 0);
        w.for_each_window(|window| {
            if k == p {
                w.visit_taps(window, |o| result.0.push(o));
                result.1 = window.iter().map(|a| a.padded).product();
            }
            k += 1;
        });
        result
    }

    #[test]
    fn windows_list_in_image_taps_and_padded_counts() {
        // 1-D: in 5, kernel 3, stride 2, pads 1+1 → windows at -1, 1, 3.
        let w = Windows::new(&[5], &geometry(&[5], &[3], &[2], &[1, 1], false)).unwrap();
        assert_eq!(w.output_plane, 3);
        assert_eq!(taps(&w, 0), (vec![0, 1], 3));
        assert_eq!(taps(&w, 1), (vec![1, 2, 3], 3));
        assert_eq!(taps(&w, 2), (vec![3, 4], 3));
    }

    #[test]
    fn ceil_mode_windows_past_the_padding_count_less() {
        // in 4, kernel 3, stride 2, no pads, ceil → windows at 0 and 2; the second covers 2, 3.
        let w = Windows::new(&[4], &geometry(&[4], &[3], &[2], &[0, 0], true)).unwrap();
        assert_eq!(taps(&w, 1), (vec![2, 3], 2));
    }

    #[test]
    fn two_d_offsets_are_row_major() {
        let w = Windows::new(&[3, 4], &geometry(&[3, 4], &[2, 2], &[1, 2], &[], false)).unwrap();
        assert_eq!(taps(&w, 1).0, vec![2, 3, 6, 7]);
        assert_eq!(w.column_major(6), 1 + 2 * 3);
    }

    #[test]
    fn a_window_in_the_padding_reads_nothing() {
        let w = Windows::new(&[2], &geometry(&[2], &[2], &[1], &[3, 3], false)).unwrap();
        assert_eq!(taps(&w, 0), (vec![], 2));
    }
}
