//! One sweep of the plain recurrent layer: `H = f(X·Wᵀ + H₋₁·Rᵀ + Wb + Rb)`.

use super::activation::apply;
use super::layer::{matmul_by_transposed, Sweep};
use crate::Result;

/// Runs the sweep: `h` (`[batch, hidden]`) holds the initial state and ends with the final
/// one; visited steps are written to `y`.
pub(super) fn sweep(s: &Sweep<'_>, h: &mut [f32], y: &mut [f32]) -> Result<()> {
    let dims = s.layout.dims;
    let hs = dims.hidden;
    let &[f] = s.activations else {
        return Err(crate::Error::internal(
            "RNN needs one activation per direction",
        ));
    };
    let bias: Vec<f32> = s.wb.iter().zip(s.rb).map(|(a, b)| a + b).collect();
    let x_proj = s.project_inputs(&bias)?;
    let mut h_proj = vec![0.0; dims.batch * hs];
    for step in 0..dims.seq {
        matmul_by_transposed(h, dims.batch, hs, s.r, hs, &mut h_proj)?;
        for b in 0..dims.batch {
            let Some(t) = s.layout.time(step, b, s.reverse) else {
                continue;
            };
            let xg = &x_proj[s.layout.x_row(t, b) * hs..][..hs];
            let h_b = &mut h[b * hs..][..hs];
            for (j, v) in h_b.iter_mut().enumerate() {
                *v = apply(f, s.clip(xg[j] + h_proj[b * hs + j]));
            }
            s.emit(y, t, b, h_b);
        }
    }
    Ok(())
}
