//! `LayerNormalization` and `RMSNormalization` over the axes `axis..rank`, seen as rows of a
//! `[∏ d[..axis], ∏ d[axis..]]` matrix. The statistics are computed in the stash type; the
//! affine stage (`· Scale + B`) rounds like the input type, as the ONNX function body does.
//!
//! f32 `LayerNormalization` with f32 statistics and `Scale`/`B` shared by every row (the usual
//! case) goes to the vectorised row kernel of `mote_kernels`, which computes the statistics in
//! f32 (two passes); everything else takes the portable loop here.

use super::numeric::{rounding, store, with_real_type, write_with, Real};
use super::{same_dtype, Inputs, Outputs};
use crate::backend::cpu::ops::util::broadcast_index;
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::transformer::Normalization;
use crate::tensor::{numel, TensorView};
use crate::{DType, Error, Result};
use mote_kernels::cpu::layernorm::{layer_norm, LayerNormParams, RowStats};
use std::borrow::Cow;

/// Which normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `(x - mean) / √(var + ε) · Scale + B`; outputs `Mean` and `InvStdDev` too.
    Layer,
    /// `x / √(mean(x²) + ε) · Scale`.
    Rms,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Layer => "LayerNormalization",
            Kind::Rms => "RMSNormalization",
        }
    }
}

pub(super) fn eval(
    n: &Normalization,
    kind: Kind,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let t = same_dtype(kind.name(), ins, &[1, 2])?;
    if !t.is_float() {
        return Err(Error::unsupported(kind.name(), format!("dtype {t}")));
    }
    let (x, scale) = (ins.get(0)?, ins.get(1)?);
    let bias = if kind == Kind::Layer {
        ins.opt(2)
    } else {
        None
    };
    let f32_rows = kind == Kind::Layer && x.dtype == DType::F32 && n.stash == DType::F32;
    if f32_rows && layer_norm_rows_f32(n, x, scale, bias, out)? {
        return Ok(());
    }
    with_real_type!(n.stash, R => run::<R>(n, kind, x, scale, bias, out),
        _ => Err(Error::unsupported(kind.name(), format!("stash_type {}", n.stash))))
}

/// `Scale` or `B` broadcast (unidirectionally) over `x`, addressed by `(row, col)`: a table of
/// one row when it does not vary across rows (the usual case), else of every element.
struct Affine<'a, R: Real> {
    values: Cow<'a, [R]>,
    per_element: bool,
    cols: usize,
}

impl<'a, R: Real> Affine<'a, R> {
    fn new(p: TensorView<'a>, x_shape: &[usize], axis: usize, what: &str) -> Result<Self> {
        let (rank, p_rank) = (x_shape.len(), p.rank());
        let fits = p_rank <= rank
            && p.shape
                .iter()
                .rev()
                .zip(x_shape.iter().rev())
                .all(|(&d, &o)| d == 1 || d == o);
        if !fits {
            return Err(Error::shape(format!(
                "{what} of shape {:?} does not broadcast to {x_shape:?}",
                p.shape
            )));
        }
        let values = R::read(&p)?;
        let cols = numel(&x_shape[axis..]);
        // Dimensions of p that fall before `axis` (right-aligned) must be 1 for a row table.
        let leading = p_rank.saturating_sub(rank - axis);
        let per_element = p.shape[..leading].iter().any(|&d| d != 1);
        let (shape, target) = if per_element {
            (p.shape, x_shape)
        } else {
            (&p.shape[leading..], &x_shape[axis..])
        };
        let values = if shape == target {
            values
        } else {
            let index = broadcast_index(shape, target);
            Cow::Owned((0..numel(target)).map(|i| values[index(i)]).collect())
        };
        Ok(Affine {
            values,
            per_element,
            cols,
        })
    }

    fn row(&self, row: usize) -> &[R] {
        let start = if self.per_element { row * self.cols } else { 0 };
        &self.values[start..start + self.cols]
    }
}

/// f32 layer norm through the row kernel; `false` (nothing written) when `Scale` or `B` varies
/// across rows, or rows are empty, which the kernel does not take.
fn layer_norm_rows_f32(
    n: &Normalization,
    x: TensorView<'_>,
    scale: TensorView<'_>,
    bias: Option<TensorView<'_>>,
    out: &mut Outputs,
) -> Result<bool> {
    let a = axis(n.axis, x.rank())?;
    let (rows, cols) = (numel(&x.shape[..a]), numel(&x.shape[a..]));
    let scale = Affine::<f32>::new(scale, x.shape, a, "Scale")?;
    let bias = bias
        .map(|b| Affine::<f32>::new(b, x.shape, a, "B"))
        .transpose()?;
    if cols == 0 || scale.per_element || bias.as_ref().is_some_and(|b| b.per_element) {
        return Ok(false);
    }
    let want_stats = out.is_used(1) || out.is_used(2);
    let stat_rows = if want_stats { rows } else { 0 };
    let (mut mean, mut inv_std_dev) = (vec![0.0f32; stat_rows], vec![0.0f32; stat_rows]);
    {
        let mut y = out.alloc_uninit(0, DType::F32, x.shape)?;
        let stats = want_stats.then_some(RowStats {
            mean: &mut mean,
            inv_std_dev: &mut inv_std_dev,
        });
        let p = LayerNormParams {
            row_len: cols,
            epsilon: n.epsilon,
        };
        let bias_row = bias.as_ref().map(|b| b.row(0));
        layer_norm(
            &p,
            x.as_slice::<f32>()?,
            scale.row(0),
            bias_row,
            y.as_mut_slice::<f32>()?,
            stats,
        )
        .map_err(|e| Error::internal(format!("LayerNormalization: {e}")))?;
    }
    if want_stats {
        let stats_shape = n.stats_shape(x.shape)?;
        for (i, values) in [(1, &mean), (2, &inv_std_dev)] {
            if out.is_used(i) {
                store(out, i, DType::F32, &stats_shape, values)?;
            }
        }
    }
    Ok(true)
}

fn run<R: Real>(
    n: &Normalization,
    kind: Kind,
    x: TensorView<'_>,
    scale: TensorView<'_>,
    bias: Option<TensorView<'_>>,
    out: &mut Outputs,
) -> Result<()> {
    let a = axis(n.axis, x.rank())?;
    let (rows, cols) = (numel(&x.shape[..a]), numel(&x.shape[a..]));
    let xs = R::read(&x)?;
    let scale = Affine::<R>::new(scale, x.shape, a, "Scale")?;
    let bias = bias
        .map(|b| Affine::<R>::new(b, x.shape, a, "B"))
        .transpose()?;
    let eps = R::from_f64(n.epsilon as f64);
    let stash = rounding::<R>(n.stash);
    let q = rounding::<R>(x.dtype);
    // Per row: (mean, 1/√(var + ε)); RMS has no mean (0) and uses the mean square.
    let stats: Vec<(R, R)> = (0..rows)
        .map(|r| {
            let row = &xs[r * cols..(r + 1) * cols];
            let count = cols as f64;
            let mean = match kind {
                Kind::Layer => row.iter().map(|v| v.to_f64()).sum::<f64>() / count,
                Kind::Rms => 0.0,
            };
            let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / count;
            let inv = R::ONE / (stash(R::from_f64(var)) + eps).sqrt();
            (stash(R::from_f64(mean)), stash(inv))
        })
        .collect();
    if kind == Kind::Layer {
        let stats_shape = n.stats_shape(x.shape)?;
        for (i, pick) in [(1, 0usize), (2, 1)] {
            if out.is_used(i) {
                let v: Vec<R> = stats
                    .iter()
                    .map(|s| if pick == 0 { s.0 } else { s.1 })
                    .collect();
                store(out, i, n.stash, &stats_shape, &v)?;
            }
        }
    }
    write_with::<R>(out, 0, x.dtype, x.shape, |y| {
        for (r, (&(mean, inv), y_row)) in stats
            .iter()
            .zip(y.chunks_exact_mut(cols.max(1)))
            .enumerate()
        {
            let x_row = &xs[r * cols..(r + 1) * cols];
            let w = scale.row(r);
            for ((d, &v), &w) in y_row.iter_mut().zip(x_row).zip(w) {
                *d = q(q(stash(v - mean) * inv) * w);
            }
            if let Some(b) = &bias {
                for (d, &b) in y_row.iter_mut().zip(b.row(r)) {
                    *d = q(*d + b);
                }
            }
        }
        Ok(())
    })
}
