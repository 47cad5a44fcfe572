//! `CausalConvWithState`: a depthwise 1-D convolution over `[past_state, input]` (the past
//! defaults to zeros), valid padding, optional fused SiLU; the last `k − 1` positions of that
//! concatenation are the next call's state.

use super::{f32_data, f32_output, f32_output_overwrite, same_dtype};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::Result;

const OP: &str = "CausalConvWithState";

pub(super) fn causal_conv(silu: bool, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (x, w) = (ins.get(0)?, ins.get(1)?);
    let (b, past) = (ins.opt(2), ins.opt(3));
    let &[batch, channels, len] = x.shape else {
        crate::bail!(
            shape,
            "{OP}: input must be [batch, channels, length], got {:?}",
            x.shape
        );
    };
    let k = match w.shape {
        &[c, 1, k] if c == channels && k > 0 => k,
        s => crate::bail!(shape, "{OP}: weight {s:?} is not [{channels}, 1, k]"),
    };
    let state_shape = [batch, channels, k - 1];
    for (name, v, expected) in [
        ("weight", Some(&w), None),
        ("bias", b.as_ref(), Some(&[channels][..])),
        ("past_state", past.as_ref(), Some(&state_shape[..])),
    ] {
        if let Some(v) = v {
            same_dtype(OP, name, v, x.dtype)?;
            if expected.is_some_and(|e| e != v.shape) {
                crate::bail!(
                    shape,
                    "{OP}: {name} has shape {:?}, {expected:?} expected",
                    v.shape
                );
            }
        }
    }
    let (xs, ws) = (f32_data(OP, &x)?, f32_data(OP, &w)?);
    let bs = b.map(|b| f32_data(OP, &b)).transpose()?;
    let past = past.map(|p| f32_data(OP, &p)).transpose()?;
    // One row of [past, input] at a time.
    let mut padded = vec![0f32; len + k - 1];
    let load_row = |padded: &mut [f32], row: usize| {
        let (history, current) = padded.split_at_mut(k - 1);
        match &past {
            Some(p) => history.copy_from_slice(&p[row * (k - 1)..(row + 1) * (k - 1)]),
            None => history.fill(0.0),
        }
        current.copy_from_slice(&xs[row * len..(row + 1) * len]);
    };
    f32_output_overwrite(out, 0, x.dtype, x.shape, |y| {
        for (row, dst) in y
            .chunks_exact_mut(len.max(1))
            .take(batch * channels)
            .enumerate()
        {
            load_row(&mut padded, row);
            let src = &padded;
            let c = row % channels;
            let taps = &ws[c * k..(c + 1) * k];
            let bias = bs.as_ref().map_or(0.0, |b| b[c]);
            for (t, d) in dst.iter_mut().enumerate() {
                let v = bias
                    + taps
                        .iter()
                        .zip(&src[t..t + k])
                        .map(|(w, x)| w * x)
                        .sum::<f32>();
                *d = if silu { v / (1.0 + (-v).exp()) } else { v };
            }
        }
        Ok(())
    })?;
    if out.is_used(1) {
        f32_output(out, 1, x.dtype, &state_shape, |state| {
            if k > 1 {
                for (row, dst) in state.chunks_exact_mut(k - 1).enumerate() {
                    load_row(&mut padded, row);
                    dst.copy_from_slice(&padded[len..]);
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}
