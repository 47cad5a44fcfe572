//! Layer normalization over contiguous rows of `f32`:
//! `y = (x - mean) / √(var + ε) · scale + bias`, with `mean` and the (biased) `var` of each row,
//! optionally reporting each row's `mean` and `1/√(var + ε)`.
//!
//! The runtime calls it for ONNX `LayerNormalization` when the normalized axes are the innermost
//! ones and `Scale`/`B` are the same for every row. [`reference::layer_norm`] (in `f64`)
//! defines the result. The vectorised variants compute in `f32` — the mean, then the variance
//! as the mean of `(x - mean)²` (two passes: no `E[x²] - mean²` cancellation) — and are within
//! `|scale|·inv·(n + 8)·ε·(2·A + |x - mean|) + ε·|bias|` of it, where `A` is the row's mean of
//! `|x|`, `inv` its `1/√(var + ε)` and `n` its length (the worst case of an `f32` sum of `n`
//! terms, for the mean and, relatively, for the variance); the statistics within
//! `(n + 8)·ε·A` (mean) and `(n + 8)·ε·inv` (inverse standard deviation).

mod kernel;
pub(crate) mod reference;
#[cfg(test)]
mod tests;
pub(crate) mod variants;

use crate::KernelError;

/// The shape of a layer-norm call: `x` and `y` hold `x.len() / row_len` rows of `row_len`
/// contiguous elements each; `scale` (and `bias`) one row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerNormParams {
    /// Elements per row (the normalized axes, flattened).
    pub row_len: usize,
    /// Added to the variance before the square root.
    pub epsilon: f32,
}

/// Where to report each row's statistics: one element per row each.
#[derive(Debug)]
pub struct RowStats<'a> {
    /// The row's mean.
    pub mean: &'a mut [f32],
    /// The row's `1 / √(var + ε)`.
    pub inv_std_dev: &'a mut [f32],
}

/// Layer norm of every row of `x` into `y`: `(params, x, scale, bias, y, stats)`.
pub type LayerNormFn = fn(
    &LayerNormParams,
    &[f32],
    &[f32],
    Option<&[f32]>,
    &mut [f32],
    Option<RowStats<'_>>,
) -> Result<(), KernelError>;

/// [`LayerNormFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn layer_norm(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    stats: Option<RowStats<'_>>,
) -> Result<(), KernelError> {
    (crate::cpu::table().layer_norm)(p, x, scale, bias, y, stats)
}

/// Checks every slice against `row_len` and the number of rows.
pub(crate) fn validate(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &[f32],
    stats: Option<&RowStats<'_>>,
) -> Result<(), KernelError> {
    let short = |what: &str, len: usize, want: usize| {
        KernelError::out_of_bounds(format!(
            "layer norm: {what} has {len} elements, want {want}"
        ))
    };
    if x.len() != y.len() {
        return Err(short("output", y.len(), x.len()));
    }
    if p.row_len == 0 {
        return if x.is_empty() {
            Ok(())
        } else {
            Err(KernelError::invalid("layer norm: rows of length 0"))
        };
    }
    if x.len() % p.row_len != 0 {
        return Err(KernelError::invalid(format!(
            "layer norm: {} elements are not whole rows of {}",
            x.len(),
            p.row_len
        )));
    }
    if scale.len() != p.row_len {
        return Err(short("scale", scale.len(), p.row_len));
    }
    if let Some(b) = bias.filter(|b| b.len() != p.row_len) {
        return Err(short("bias", b.len(), p.row_len));
    }
    let rows = x.len() / p.row_len;
    if let Some(st) = stats {
        if st.mean.len() != rows {
            return Err(short("mean", st.mean.len(), rows));
        }
        if st.inv_std_dev.len() != rows {
            return Err(short("inv_std_dev", st.inv_std_dev.len(), rows));
        }
    }
    Ok(())
}
