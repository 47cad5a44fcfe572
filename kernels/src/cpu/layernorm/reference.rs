//! THE ORACLE for [`super::LayerNormFn`]: the definition, row by row, in `f64`.

use super::{validate, LayerNormParams, RowStats};
use crate::KernelError;

/// Reference [`super::LayerNormFn`].
pub(crate) fn layer_norm(
    p: &LayerNormParams,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    mut stats: Option<RowStats<'_>>,
) -> Result<(), KernelError> {
    validate(p, x, scale, bias, y, stats.as_ref())?;
    if x.is_empty() {
        return Ok(());
    }
    let n = p.row_len as f64;
    for (r, (x, y)) in x
        .chunks_exact(p.row_len)
        .zip(y.chunks_exact_mut(p.row_len))
        .enumerate()
    {
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        let inv = 1.0 / (var + f64::from(p.epsilon)).sqrt();
        for (i, (d, &v)) in y.iter_mut().zip(x).enumerate() {
            let b = bias.map_or(0.0, |b| f64::from(b[i]));
            *d = ((f64::from(v) - mean) * inv * f64::from(scale[i]) + b) as f32;
        }
        if let Some(st) = stats.as_mut() {
            st.mean[r] = mean as f32;
            st.inv_std_dev[r] = inv as f32;
        }
    }
    Ok(())
}
