//! One GRU sweep. Gates in ONNX order z, r, h:
//!
//! ```text
//! z = f(Xz + Hz)   r = f(Xr + Hr)
//! h = g(Xh + (r⊙H₋₁)·Rhᵀ + Rbh)      (default)
//! h = g(Xh + r⊙(H₋₁·Rhᵀ + Rbh))      (linear_before_reset)
//! H = (1 - z)⊙h + z⊙H₋₁
//! ```
//! The default form needs the reset gate before the last matmul, so each step runs in
//! three phases: gates, `(r⊙H₋₁)·Rhᵀ` for the whole batch, then the new state.

use super::activation::apply;
use super::layer::{matmul_by_transposed, Sweep};
use crate::ir::ops::rnn::Gru;
use crate::Result;

/// Runs the sweep: `h` (`[batch, hidden]`) holds the initial state and ends with the final
/// one; visited steps are written to `y`.
pub(super) fn sweep(gru: &Gru, s: &Sweep<'_>, h: &mut [f32], y: &mut [f32]) -> Result<()> {
    let dims = s.layout.dims;
    let (hs, batch) = (dims.hidden, dims.batch);
    let width = 3 * hs;
    let &[f, g] = s.activations else {
        return Err(crate::Error::internal(
            "GRU needs two activations per direction",
        ));
    };
    // Biases outside the reset gate go into the input projection; with linear_before_reset
    // the recurrence bias of h stays inside it.
    let bias: Vec<f32> =
        s.wb.iter()
            .zip(s.rb)
            .enumerate()
            .map(|(k, (w, r))| {
                if gru.linear_before_reset && k >= 2 * hs {
                    *w
                } else {
                    w + r
                }
            })
            .collect();
    let rb_h = &s.rb[2 * hs..width];
    let x_proj = s.project_inputs(&bias)?;
    // Recurrence projections: z, r (and h with linear_before_reset) of H₋₁.
    let h_width = if gru.linear_before_reset {
        width
    } else {
        2 * hs
    };
    let mut h_proj = vec![0.0; batch * h_width];
    let mut z = vec![0.0; batch * hs];
    let mut reset = vec![0.0; batch * hs];
    let mut reset_h = vec![0.0; batch * hs]; // r⊙H₋₁, then (r⊙H₋₁)·Rhᵀ
    let mut reset_h_proj = vec![0.0; batch * hs];
    for step in 0..dims.seq {
        matmul_by_transposed(h, batch, hs, &s.r[..h_width * hs], h_width, &mut h_proj)?;
        for b in 0..batch {
            let Some(t) = s.layout.time(step, b, s.reverse) else {
                continue;
            };
            let xg = &x_proj[s.layout.x_row(t, b) * width..][..width];
            let hg = &h_proj[b * h_width..][..h_width];
            for j in 0..hs {
                let at = b * hs + j;
                z[at] = apply(f, s.clip(xg[j] + hg[j]));
                reset[at] = apply(f, s.clip(xg[hs + j] + hg[hs + j]));
                reset_h[at] = reset[at] * h[at];
            }
        }
        if !gru.linear_before_reset {
            matmul_by_transposed(
                &reset_h,
                batch,
                hs,
                &s.r[2 * hs * hs..width * hs],
                hs,
                &mut reset_h_proj,
            )?;
        }
        for b in 0..batch {
            let Some(t) = s.layout.time(step, b, s.reverse) else {
                continue;
            };
            let xg = &x_proj[s.layout.x_row(t, b) * width + 2 * hs..][..hs];
            for j in 0..hs {
                let at = b * hs + j;
                let recurrent = if gru.linear_before_reset {
                    reset[at] * (h_proj[b * h_width + 2 * hs + j] + rb_h[j])
                } else {
                    reset_h_proj[at]
                };
                let candidate = apply(g, s.clip(xg[j] + recurrent));
                h[at] = (1.0 - z[at]) * candidate + z[at] * h[at];
            }
            s.emit(y, t, b, &h[b * hs..][..hs]);
        }
    }
    Ok(())
}
