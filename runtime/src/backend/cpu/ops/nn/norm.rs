//! Channel normalizations: `BatchNormalization`, `InstanceNormalization`,
//! `GroupNormalization`, `LRN`, `MeanVarianceNormalization`.
//!
//! The first three all end as `y = (x − mean) · factor + shift` with constants per `[N, C]`
//! plane; they differ only in where the statistics come from, so each computes a [`PlaneAffine`]
//! per plane and shares [`apply_affine`]. Statistics are two-pass (mean, then squared
//! deviations) in f64.

use super::{batch_channels, f32_data, f32_output, parallel, workers_for};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::nn::{BatchNorm, GroupNorm, Lrn};
use crate::tensor::{numel, TensorView};
use crate::{Error, Result};
use std::borrow::Cow;

/// `y = (x − mean) · factor + shift` for one plane.
#[derive(Clone, Copy, Debug)]
struct PlaneAffine {
    mean: f32,
    factor: f32,
    shift: f32,
}

impl PlaneAffine {
    /// Normalizes with `mean`/`variance`, then scales and shifts.
    fn normalize(mean: f64, variance: f64, epsilon: f32, scale: f32, bias: f32) -> Self {
        let inv_std = 1.0 / (variance + f64::from(epsilon)).sqrt();
        PlaneAffine {
            mean: mean as f32,
            factor: (f64::from(scale) * inv_std) as f32,
            shift: bias,
        }
    }
}

/// Applies `affine[p]` to plane `p` of `x` into `y`, planes split across threads.
fn apply_affine(
    x: &[f32],
    y: &mut [f32],
    plane: usize,
    affine: &[PlaneAffine],
    threads: usize,
) -> Result<()> {
    if plane == 0 {
        return Ok(());
    }
    let workers = workers_for(threads, y.len(), plane);
    parallel::for_each_chunk_mut(y, plane, workers, |p0, planes| {
        for (p, dst) in planes.chunks_exact_mut(plane).enumerate() {
            let a = affine[p0 + p];
            let src = &x[(p0 + p) * plane..(p0 + p + 1) * plane];
            dst.iter_mut()
                .zip(src)
                .for_each(|(d, &v)| *d = (v - a.mean) * a.factor + a.shift);
        }
        Ok(())
    })
}

/// Mean and population variance of the concatenation of `chunks`, in f64.
fn mean_variance<'a>(chunks: impl Iterator<Item = &'a [f32]> + Clone) -> (f64, f64) {
    let (sum, count) = chunks.clone().fold((0f64, 0usize), |(s, n), c| {
        (
            s + c.iter().map(|&v| f64::from(v)).sum::<f64>(),
            n + c.len(),
        )
    });
    if count == 0 {
        return (0.0, 0.0);
    }
    let mean = sum / count as f64;
    let squares: f64 = chunks
        .flat_map(|c| c.iter())
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum();
    (mean, squares / count as f64)
}

/// A per-channel (or per-group) parameter vector of exactly `len` elements.
fn vector<'a>(op: &str, what: &str, v: &TensorView<'a>, len: usize) -> Result<Cow<'a, [f32]>> {
    if v.len() != len {
        crate::bail!(
            shape,
            "{op}: {what} has shape {:?}, {len} elements expected",
            v.shape
        );
    }
    f32_data(op, v)
}

pub(super) fn batch_norm(attrs: &BatchNorm, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    const OP: &str = "BatchNormalization";
    let x = ins.get(0)?;
    let (batch, channels, plane) = batch_channels(OP, x.shape, 2)?;
    let xs = f32_data(OP, &x)?;
    let scale = vector(OP, "scale", &ins.get(1)?, channels)?;
    let bias = vector(OP, "B", &ins.get(2)?, channels)?;
    let (mean_in, var_in) = (ins.get(3)?, ins.get(4)?);
    let mean = vector(OP, "input_mean", &mean_in, channels)?;
    let var = vector(OP, "input_var", &var_in, channels)?;
    let data: &[f32] = &xs;
    let planes_of = |c: usize| {
        (0..batch).map(move |n| &data[(n * channels + c) * plane..(n * channels + c + 1) * plane])
    };
    let stats: Vec<(f64, f64)> = if attrs.training {
        (0..channels).map(|c| mean_variance(planes_of(c))).collect()
    } else {
        (0..channels)
            .map(|c| (f64::from(mean[c]), f64::from(var[c])))
            .collect()
    };
    let per_channel: Vec<PlaneAffine> = (0..channels)
        .map(|c| PlaneAffine::normalize(stats[c].0, stats[c].1, attrs.epsilon, scale[c], bias[c]))
        .collect();
    let affine: Vec<PlaneAffine> = (0..batch)
        .flat_map(|_| per_channel.iter().copied())
        .collect();
    f32_output(out, 0, x.dtype, x.shape, |y| {
        apply_affine(&xs, y, plane, &affine, ins.threads())
    })?;
    if attrs.training {
        // Running statistics: old · momentum + batch · (1 − momentum).
        let momentum = f64::from(attrs.momentum);
        let running = |old: &[f32], batch_stat: &dyn Fn(usize) -> f64| -> Vec<f32> {
            (0..channels)
                .map(|c| (f64::from(old[c]) * momentum + batch_stat(c) * (1.0 - momentum)) as f32)
                .collect()
        };
        for (i, input, values) in [
            (1, &mean_in, running(&mean, &|c| stats[c].0)),
            (2, &var_in, running(&var, &|c| stats[c].1)),
        ] {
            if out.is_used(i) {
                f32_output(out, i, input.dtype, input.shape, |y| {
                    y.copy_from_slice(&values);
                    Ok(())
                })?;
            }
        }
    }
    Ok(())
}

pub(super) fn instance_norm(epsilon: f32, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    const OP: &str = "InstanceNormalization";
    let x = ins.get(0)?;
    let (batch, channels, plane) = batch_channels(OP, x.shape, 3)?;
    let xs = f32_data(OP, &x)?;
    let scale = vector(OP, "scale", &ins.get(1)?, channels)?;
    let bias = vector(OP, "B", &ins.get(2)?, channels)?;
    let affine: Vec<PlaneAffine> = (0..batch * channels)
        .map(|p| {
            let (mean, var) = mean_variance(std::iter::once(&xs[p * plane..(p + 1) * plane]));
            PlaneAffine::normalize(mean, var, epsilon, scale[p % channels], bias[p % channels])
        })
        .collect();
    f32_output(out, 0, x.dtype, x.shape, |y| {
        apply_affine(&xs, y, plane, &affine, ins.threads())
    })
}

pub(super) fn group_norm(attrs: &GroupNorm, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    const OP: &str = "GroupNormalization";
    let x = ins.get(0)?;
    let (batch, channels, plane) = batch_channels(OP, x.shape, 2)?;
    let groups = attrs.num_groups;
    if channels % groups != 0 {
        crate::bail!(
            shape,
            "{OP}: {channels} channels do not split into {groups} groups"
        );
    }
    let per_group = channels / groups;
    let affine_len = if attrs.per_channel_affine {
        channels
    } else {
        groups
    };
    let xs = f32_data(OP, &x)?;
    let scale = vector(OP, "scale", &ins.get(1)?, affine_len)?;
    let bias = vector(OP, "bias", &ins.get(2)?, affine_len)?;
    let group_len = per_group * plane;
    let mut affine = Vec::with_capacity(batch * channels);
    for (i, group) in xs
        .chunks_exact(group_len.max(1))
        .take(batch * groups)
        .enumerate()
    {
        let (mean, var) = mean_variance(std::iter::once(group));
        for c in (i % groups) * per_group..(i % groups + 1) * per_group {
            let a = if attrs.per_channel_affine {
                c
            } else {
                c / per_group
            };
            affine.push(PlaneAffine::normalize(
                mean,
                var,
                attrs.epsilon,
                scale[a],
                bias[a],
            ));
        }
    }
    if group_len == 0 {
        affine.resize(
            batch * channels,
            PlaneAffine {
                mean: 0.0,
                factor: 0.0,
                shift: 0.0,
            },
        );
    }
    f32_output(out, 0, x.dtype, x.shape, |y| {
        apply_affine(&xs, y, plane, &affine, ins.threads())
    })
}

pub(super) fn lrn(attrs: &Lrn, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    const OP: &str = "LRN";
    let x = ins.get(0)?;
    let (_, channels, plane) = batch_channels(OP, x.shape, 3)?;
    let xs = f32_data(OP, &x)?;
    // Channels c − before ..= c + after contribute to channel c.
    let before = (attrs.size - 1) / 2;
    let after = attrs.size / 2;
    let scale = f64::from(attrs.alpha) / attrs.size as f64;
    let (bias, beta) = (f64::from(attrs.bias), f64::from(attrs.beta));
    f32_output(out, 0, x.dtype, x.shape, |y| {
        if plane == 0 || channels == 0 {
            return Ok(());
        }
        let mut sums = vec![0f64; plane];
        for (src, dst) in xs
            .chunks_exact(channels * plane)
            .zip(y.chunks_exact_mut(channels * plane))
        {
            for c in 0..channels {
                sums.fill(0.0);
                for k in c.saturating_sub(before)..(c + after + 1).min(channels) {
                    let neighbour = &src[k * plane..(k + 1) * plane];
                    sums.iter_mut()
                        .zip(neighbour)
                        .for_each(|(s, &v)| *s += f64::from(v) * f64::from(v));
                }
                let (src_plane, dst_plane) = (
                    &src[c * plane..(c + 1) * plane],
                    &mut dst[c * plane..(c + 1) * plane],
                );
                for ((d, &v), &s) in dst_plane.iter_mut().zip(src_plane).zip(&sums) {
                    *d = (f64::from(v) / (bias + scale * s).powf(beta)) as f32;
                }
            }
        }
        Ok(())
    })
}

pub(super) fn mean_variance_norm(axes: &[i64], ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    const OP: &str = "MeanVarianceNormalization";
    const EPSILON: f64 = 1e-9;
    let x = ins.get(0)?;
    let rank = x.shape.len();
    let mut reduced_shape = x.shape.to_vec();
    for &a in axes {
        let a = axis(a, rank).map_err(|e| e.context_with(OP))?;
        reduced_shape[a] = 1;
    }
    let xs = f32_data(OP, &x)?;
    let groups = numel(&reduced_shape);
    if groups == 0 || xs.is_empty() {
        return f32_output(out, 0, x.dtype, x.shape, |_| Ok(()));
    }
    let count = (xs.len() / groups) as f64;
    let to_group = broadcast_index(&reduced_shape, x.shape);
    let (mut sums, mut squares) = (vec![0f64; groups], vec![0f64; groups]);
    for (k, &v) in xs.iter().enumerate() {
        let g = to_group(k);
        sums[g] += f64::from(v);
        squares[g] += f64::from(v) * f64::from(v);
    }
    // The ONNX function's formula: (x − E[x]) / (sqrt(E[x²] − E[x]²) + ε).
    let stats: Vec<(f64, f64)> = sums
        .iter()
        .zip(&squares)
        .map(|(&s, &q)| {
            let mean = s / count;
            (mean, (q / count - mean * mean).max(0.0).sqrt() + EPSILON)
        })
        .collect();
    f32_output(out, 0, x.dtype, x.shape, |y| {
        for (k, (d, &v)) in y.iter_mut().zip(xs.iter()).enumerate() {
            let (mean, std) = stats[to_group(k)];
            *d = ((f64::from(v) - mean) / std) as f32;
        }
        Ok(())
    })
    .map_err(|e: Error| e.context_with(OP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_variance_spans_chunks() {
        let (a, b) = ([1f32, 2.0], [3f32, 4.0]);
        let (mean, var) = mean_variance([&a[..], &b[..]].into_iter());
        assert_eq!(mean, 2.5);
        assert_eq!(var, 1.25);
    }
}
