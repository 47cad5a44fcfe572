//! `DFT` and `STFT`: gather each line to transform into a complex buffer, run the planned
//! FFT, and scatter the wanted bins. Everything is computed in f64 and rounded once.

use super::fft::{Complex, Direction, Fft};
use super::{check_float, optional_scalar};
use crate::backend::cpu::ops::util::store_f64;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::signal::{Dft, Stft};
use crate::tensor::numel;
use crate::{Error, Result};

pub(super) fn dft(op: &Dft, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    check_float("DFT", x.dtype)?;
    let geometry = op.geometry(x.shape, optional_scalar(ins, 1)?, optional_scalar(ins, 2)?)?;
    let n = geometry.length;
    let rank = x.shape.len();
    let lines = LineLayout {
        outer: numel(&x.shape[..geometry.axis]),
        inner: numel(&x.shape[geometry.axis + 1..rank - 1]),
    };
    let (len_in, parts_in) = (x.shape[geometry.axis], x.shape[rank - 1]);
    let (len_out, parts_out) = (
        geometry.out_shape[geometry.axis],
        geometry.out_shape[rank - 1],
    );
    let real_output = op.inverse && op.onesided;
    // An IRFFT reads the bins 0..=n/2 of a Hermitian spectrum and mirrors the rest.
    let bins_read = len_in.min(if real_output { n / 2 + 1 } else { n });
    let direction = if op.inverse {
        Direction::Inverse
    } else {
        Direction::Forward
    };
    let scale = if op.inverse { 1.0 / n as f64 } else { 1.0 };

    let input = x.to_f64_vec()?;
    let mut output = vec![0.0; numel(&geometry.out_shape)];
    let fft = Fft::new(n, direction);
    let mut line = vec![Complex::ZERO; n];
    let mut scratch = Vec::new();
    for o in 0..lines.outer {
        for i in 0..lines.inner {
            line.fill(Complex::ZERO);
            for (k, v) in line.iter_mut().take(bins_read).enumerate() {
                let at = ((o * len_in + k) * lines.inner + i) * parts_in;
                *v = complex_at(&input, at, parts_in);
            }
            if real_output {
                for k in n / 2 + 1..n {
                    line[k] = line[n - k].conj();
                }
            }
            fft.apply(&mut line, &mut scratch);
            for (k, v) in line.iter().take(len_out).enumerate() {
                let at = ((o * len_out + k) * lines.inner + i) * parts_out;
                output[at] = v.re * scale;
                if parts_out == 2 {
                    output[at + 1] = v.im * scale;
                }
            }
        }
    }
    store_f64(
        &mut out.alloc_uninit(0, x.dtype, &geometry.out_shape)?,
        &output,
    )
}

pub(super) fn stft(op: &Stft, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let signal = ins.get(0)?;
    check_float("STFT", signal.dtype)?;
    let frame_step = ins.get(1)?.scalar_i64()?;
    let window = ins.opt(2);
    let window_len = match window.map(|w| w.shape) {
        None => None,
        Some(&[len]) => Some(len),
        Some(s) => {
            return Err(Error::shape(format!(
                "STFT window must be 1-D, got shape {s:?}"
            )))
        }
    };
    let g = op.geometry(
        signal.shape,
        frame_step,
        window_len,
        optional_scalar(ins, 3)?,
    )?;
    let window = window.map(|w| w.to_f64_vec()).transpose()?;
    let (batch, signal_len, parts) = (signal.shape[0], signal.shape[1], signal.shape[2]);

    let input = signal.to_f64_vec()?;
    let mut output = vec![0.0; numel(&g.out_shape)];
    let fft = Fft::new(g.frame_length, Direction::Forward);
    let mut frame = vec![Complex::ZERO; g.frame_length];
    let mut scratch = Vec::new();
    let mut bins_out = output.chunks_exact_mut(g.bins * 2);
    for b in 0..batch {
        for f in 0..g.frames {
            let start = b * signal_len + f * g.frame_step;
            for (j, v) in frame.iter_mut().enumerate() {
                let weight = window.as_ref().map_or(1.0, |w| w[j]);
                *v = complex_at(&input, (start + j) * parts, parts).scale(weight);
            }
            fft.apply(&mut frame, &mut scratch);
            let dst = bins_out
                .next()
                .ok_or_else(|| Error::internal("STFT output smaller than its frames"))?;
            for (pair, v) in dst.chunks_exact_mut(2).zip(&frame) {
                pair[0] = v.re;
                pair[1] = v.im;
            }
        }
    }
    store_f64(
        &mut out.alloc_uninit(0, signal.dtype, &g.out_shape)?,
        &output,
    )
}

/// A tensor `[outer..., axis, inner..., parts]` seen as `outer × inner` lines along the axis.
struct LineLayout {
    outer: usize,
    inner: usize,
}

/// The complex value stored at `at`: real only when `parts` is 1.
fn complex_at(values: &[f64], at: usize, parts: usize) -> Complex {
    let im = if parts == 2 { values[at + 1] } else { 0.0 };
    Complex::new(values[at], im)
}
