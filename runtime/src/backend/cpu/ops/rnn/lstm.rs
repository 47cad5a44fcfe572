//! One LSTM sweep. Gates in ONNX order i, o, f, c; peepholes `P` in order i, o, f:
//!
//! ```text
//! i = f(Xi + Hi + Pi⊙C₋₁)   f = f(Xf + Hf + Pf⊙C₋₁)  (or 1 - i with input_forget)
//! c = g(Xc + Hc)            C = f⊙C₋₁ + i⊙c
//! o = f(Xo + Ho + Po⊙C)     H = o⊙h(C)
//! ```
//! (`X·` and `H·` are the input and recurrence projections with their biases; every gate
//! pre-activation is clipped.)

use super::activation::apply;
use super::layer::{matmul_by_transposed, Sweep};
use crate::ir::ops::rnn::Lstm;
use crate::Result;

/// Runs the sweep: `h` and `c` (`[batch, hidden]`) hold the initial states and end with the
/// final ones; `peepholes` is `[3·hidden]`; visited steps are written to `y`.
pub(super) fn sweep(
    lstm: &Lstm,
    s: &Sweep<'_>,
    peepholes: &[f32],
    h: &mut [f32],
    c: &mut [f32],
    y: &mut [f32],
) -> Result<()> {
    let dims = s.layout.dims;
    let hs = dims.hidden;
    let width = 4 * hs;
    let &[f, g, h_act] = s.activations else {
        return Err(crate::Error::internal(
            "LSTM needs three activations per direction",
        ));
    };
    let (p_i, p_o, p_f) = (
        &peepholes[..hs],
        &peepholes[hs..2 * hs],
        &peepholes[2 * hs..3 * hs],
    );
    let bias: Vec<f32> = s.wb.iter().zip(s.rb).map(|(a, b)| a + b).collect();
    let x_proj = s.project_inputs(&bias)?;
    let mut h_proj = vec![0.0; dims.batch * width];
    for step in 0..dims.seq {
        matmul_by_transposed(h, dims.batch, hs, s.r, width, &mut h_proj)?;
        for b in 0..dims.batch {
            let Some(t) = s.layout.time(step, b, s.reverse) else {
                continue;
            };
            let xg = &x_proj[s.layout.x_row(t, b) * width..][..width];
            let hg = &h_proj[b * width..][..width];
            let gate = |k: usize, j: usize| xg[k * hs + j] + hg[k * hs + j];
            let (h_b, c_b) = (&mut h[b * hs..][..hs], &mut c[b * hs..][..hs]);
            for j in 0..hs {
                let c_prev = c_b[j];
                let input = apply(f, s.clip(gate(0, j) + p_i[j] * c_prev));
                let forget = if lstm.input_forget {
                    1.0 - input
                } else {
                    apply(f, s.clip(gate(2, j) + p_f[j] * c_prev))
                };
                let candidate = apply(g, s.clip(gate(3, j)));
                let cell = forget * c_prev + input * candidate;
                let output = apply(f, s.clip(gate(1, j) + p_o[j] * cell));
                c_b[j] = cell;
                h_b[j] = output * apply(h_act, cell);
            }
            s.emit(y, t, b, h_b);
        }
    }
    Ok(())
}
