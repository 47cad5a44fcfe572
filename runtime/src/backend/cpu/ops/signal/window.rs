//! The generated tensors: window functions and the mel filterbank matrix. Values follow the
//! ONNX reference implementation, computed in f64 and converted once to the output type.

use super::scalar_f64;
use crate::backend::cpu::ops::util::store_f64;
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::signal::{window_len, MelWeightMatrix, Window, WindowKind};
use crate::{Error, Result};
use std::f64::consts::PI;

pub(super) fn window(op: &Window, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let size = window_len(ins.get(0)?.scalar_i64()?)?;
    let values = window_values(op.kind, size, op.periodic);
    store_f64(&mut out.alloc_uninit(0, op.dtype, &[size])?, &values)
}

/// `size` samples of the window. The denominator `N` is `size` for a periodic window and
/// `size - 1` for a symmetric one; a symmetric window of one sample is `[1]` (as in torch,
/// where the formula would divide by zero).
fn window_values(kind: WindowKind, size: usize, periodic: bool) -> Vec<f64> {
    let denominator = if periodic {
        size
    } else {
        size.saturating_sub(1)
    };
    if denominator == 0 {
        return vec![1.0; size];
    }
    let denominator = denominator as f64;
    // The operations are ordered as in the ONNX reference so that results rounded to an
    // integer output type agree with it.
    (0..size)
        .map(|n| {
            let n = n as f64;
            match kind {
                WindowKind::Hann => (n * PI / denominator).sin().powi(2),
                WindowKind::Hamming => {
                    let alpha = 25.0 / 46.0;
                    alpha - (n * PI * 2.0 / denominator).cos() * (1.0 - alpha)
                }
                WindowKind::Blackman => {
                    (n * (PI * 2.0) / denominator).cos() * -0.5
                        + (n * (PI * 4.0) / denominator).cos() * 0.08
                        + 0.42
                }
            }
        })
        .collect()
}

pub(super) fn mel_weight_matrix(
    op: &MelWeightMatrix,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let num_mel_bins = ins.get(0)?.scalar_i64()?;
    let dft_length = ins.get(1)?.scalar_i64()?;
    let shape = MelWeightMatrix::out_shape(num_mel_bins, dft_length)?;
    let sample_rate = ins.get(2)?.scalar_i64()?;
    if sample_rate <= 0 {
        return Err(Error::argument(format!(
            "MelWeightMatrix sample_rate {sample_rate} is not positive"
        )));
    }
    let edges = MelEdges {
        lower_hertz: scalar_f64(&ins.get(3)?)?,
        upper_hertz: scalar_f64(&ins.get(4)?)?,
    };
    let values = mel_matrix(shape[1], dft_length as usize, sample_rate as f64, edges);
    store_f64(&mut out.alloc_uninit(0, op.dtype, &shape)?, &values)
}

/// The frequency range the filterbank covers.
#[derive(Debug, Clone, Copy)]
struct MelEdges {
    lower_hertz: f64,
    upper_hertz: f64,
}

/// mel(f) = 2595 log10(1 + f/700).
fn hertz_to_mel(hertz: f64) -> f64 {
    2595.0 * (hertz / 700.0).ln_1p() / std::f64::consts::LN_10
}

/// The inverse of [`hertz_to_mel`].
fn mel_to_hertz(mel: f64) -> f64 {
    700.0 * (mel / 2595.0 * std::f64::consts::LN_10).exp_m1()
}

/// The `[dft_length/2 + 1, bands]` matrix of triangular filters with peak 1: band `i` rises
/// from spectrogram bin `edge[i]` to `edge[i+1]` and falls to `edge[i+2]`, the edges being
/// `bands + 2` points evenly spaced on the mel scale. Edges beyond the matrix (an upper edge
/// above the Nyquist frequency) are clipped.
fn mel_matrix(bands: usize, dft_length: usize, sample_rate: f64, edges: MelEdges) -> Vec<f64> {
    let rows = dft_length / 2 + 1;
    let low_mel = hertz_to_mel(edges.lower_hertz);
    let mel_step = (hertz_to_mel(edges.upper_hertz) - low_mel) / (bands + 2) as f64;
    let bin_edges: Vec<i64> = (0..bands + 2)
        .map(|i| {
            let hertz = mel_to_hertz(i as f64 * mel_step + low_mel);
            ((dft_length + 1) as f64 * hertz / sample_rate).floor() as i64
        })
        .collect();
    let mut matrix = vec![0.0; rows * bands];
    let mut set = |row: i64, band: usize, v: f64| {
        if let Ok(row) = usize::try_from(row) {
            if row < rows {
                matrix[row * bands + band] = v;
            }
        }
    };
    for (band, edge) in bin_edges.windows(3).enumerate() {
        let (left, center, right) = (edge[0], edge[1], edge[2]);
        if center == left {
            set(center, band, 1.0);
        } else {
            for row in left..=center {
                set(row, band, (row - left) as f64 / (center - left) as f64);
            }
        }
        if right > center {
            for row in center..right {
                set(row, band, (right - row) as f64 / (right - center) as f64);
            }
        }
    }
    matrix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_windows_are_symmetric_and_periodic_ones_drop_the_last_point() {
        for kind in [WindowKind::Hann, WindowKind::Hamming, WindowKind::Blackman] {
            let w = window_values(kind, 9, false);
            for i in 0..9 {
                assert!((w[i] - w[8 - i]).abs() < 1e-12);
            }
            let p = window_values(kind, 8, true);
            for i in 0..8 {
                assert!((p[i] - w[i]).abs() < 1e-12);
            }
        }
        assert_eq!(window_values(WindowKind::Hann, 1, false), vec![1.0]);
        assert!(window_values(WindowKind::Hann, 0, true).is_empty());
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 100.0, 4000.0] {
            assert!((mel_to_hertz(hertz_to_mel(hz)) - hz).abs() < 1e-9);
        }
    }
}
