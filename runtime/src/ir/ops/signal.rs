//! Signal processing: `DFT`, `STFT`, the window generators (`HannWindow`, `HammingWindow`,
//! `BlackmanWindow`) and `MelWeightMatrix`.
//!
//! Complex values travel as a trailing dimension of 2 (real, imaginary); real ones as a
//! trailing dimension of 1. The geometry of each op (which axis, how long the transform, the
//! output shape) is resolved here once, from the input shapes and the values of the scalar
//! inputs, so that shape inference and CPU evaluation cannot disagree.

use super::infer_util::{dtype, input, shape};
use crate::ir::Fact;
use crate::tensor::byte_len;
use crate::{DType, Error, Result};

/// Signal processing ops.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SignalOp {
    /// `DFT`: inputs `input, dft_length?, axis?` (the axis input exists from opset 20).
    Dft(Dft),
    /// `STFT`: inputs `signal, frame_step, window?, frame_length?`.
    Stft(Stft),
    /// `HannWindow`, `HammingWindow`, `BlackmanWindow`: input `size`.
    Window(Window),
    /// `MelWeightMatrix`: inputs `num_mel_bins, dft_length, sample_rate, lower_edge_hertz,
    /// upper_edge_hertz`.
    MelWeightMatrix(MelWeightMatrix),
}

/// `DFT` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dft {
    /// The transform axis: the attribute before opset 20, else the default used when the
    /// axis input (input 2) is omitted.
    pub axis: i64,
    /// Inverse transform (scaled by 1/n).
    pub inverse: bool,
    /// Forward: return bins `0..=n/2` only (RFFT). Inverse: the input holds those bins of a
    /// Hermitian spectrum and the output is the real signal (IRFFT).
    pub onesided: bool,
}

/// What a `DFT` does for given input shape and scalar inputs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DftGeometry {
    /// The transform axis, non-negative, never the trailing complex axis.
    pub axis: usize,
    /// The transform length `n` (the input is truncated or zero-padded to it).
    pub length: usize,
    /// The output shape.
    pub out_shape: Vec<usize>,
}

impl Dft {
    /// Resolves the geometry for an input of `shape`, with the values of the optional
    /// `dft_length` and `axis` inputs.
    pub fn geometry(
        &self,
        shape: &[usize],
        dft_length: Option<i64>,
        axis_input: Option<i64>,
    ) -> Result<DftGeometry> {
        let rank = shape.len();
        complex_dim(shape, "DFT input")?;
        let axis = axis_input.unwrap_or(self.axis);
        let r = rank as i64;
        let normalized = if axis < 0 { axis + r } else { axis };
        if !(0..r - 1).contains(&normalized) {
            return Err(Error::shape(format!(
                "DFT axis {axis} is out of range for rank {rank} (the last axis holds the \
                 complex components)"
            )));
        }
        let axis = normalized as usize;
        let signal_len = shape[axis];
        let length = match dft_length {
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::argument(format!("DFT dft_length {n} is not positive")))?,
            None if self.inverse && self.onesided => 2 * signal_len.saturating_sub(1),
            None => signal_len,
        };
        if length == 0 {
            return Err(Error::shape(format!(
                "DFT over an empty axis (input shape {shape:?})"
            )));
        }
        let mut out_shape = shape.to_vec();
        out_shape[axis] = match (self.onesided, self.inverse) {
            (true, false) => length / 2 + 1,
            _ => length,
        };
        out_shape[rank - 1] = if self.onesided && self.inverse { 1 } else { 2 };
        // The transform works on f64 complex lines: refuse lengths whose sizes overflow.
        byte_len(DType::F64, &out_shape)?;
        byte_len(DType::F64, &[length, 2])?;
        Ok(DftGeometry {
            axis,
            length,
            out_shape,
        })
    }
}

/// `STFT` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stft {
    /// Return bins `0..=frame_length/2` only.
    pub onesided: bool,
}

/// What an `STFT` does for given shapes and scalar inputs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StftGeometry {
    /// Samples per frame (= the DFT length).
    pub frame_length: usize,
    /// Samples between frame starts.
    pub frame_step: usize,
    /// Number of frames: `(signal_length - frame_length) / frame_step + 1`.
    pub frames: usize,
    /// Frequency bins per frame.
    pub bins: usize,
    /// `[batch, frames, bins, 2]`.
    pub out_shape: Vec<usize>,
}

impl Stft {
    /// Resolves the geometry for a `[batch, signal_length, 1|2]` signal, the `frame_step`
    /// value, the window length (when a window is given) and the `frame_length` value.
    pub fn geometry(
        &self,
        signal: &[usize],
        frame_step: i64,
        window_len: Option<usize>,
        frame_length: Option<i64>,
    ) -> Result<StftGeometry> {
        if signal.len() != 3 {
            return Err(Error::shape(format!(
                "STFT signal must be [batch, length, 1|2], got {signal:?}"
            )));
        }
        complex_dim(signal, "STFT signal")?;
        let signal_len = signal[1];
        let frame_step = usize::try_from(frame_step)
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| {
                Error::argument(format!("STFT frame_step {frame_step} is not positive"))
            })?;
        let frame_length = match (frame_length, window_len) {
            (Some(l), w) => {
                let l = usize::try_from(l).ok().filter(|&l| l > 0).ok_or_else(|| {
                    Error::argument(format!("STFT frame_length {l} is not positive"))
                })?;
                if let Some(w) = w.filter(|&w| w != l) {
                    return Err(Error::shape(format!(
                        "STFT window length {w} differs from frame_length {l}"
                    )));
                }
                l
            }
            (None, Some(w)) => w,
            (None, None) => signal_len,
        };
        if frame_length == 0 || frame_length > signal_len {
            return Err(Error::shape(format!(
                "STFT frame_length {frame_length} does not fit a signal of length {signal_len}"
            )));
        }
        let frames = (signal_len - frame_length) / frame_step + 1;
        let bins = if self.onesided {
            frame_length / 2 + 1
        } else {
            frame_length
        };
        Ok(StftGeometry {
            frame_length,
            frame_step,
            frames,
            bins,
            out_shape: vec![signal[0], frames, bins, 2],
        })
    }
}

/// The window generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Which window.
    pub kind: WindowKind,
    /// Periodic (`N` in the denominator, for spectral analysis) or symmetric (`N - 1`).
    pub periodic: bool,
    /// The output element type (`output_datatype`).
    pub dtype: DType,
}

/// Which window function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WindowKind {
    /// sin²(πn/N)
    Hann,
    /// 25/46 - 21/46 cos(2πn/N)
    Hamming,
    /// 0.42 - 0.5 cos(2πn/N) + 0.08 cos(4πn/N)
    Blackman,
}

/// `MelWeightMatrix` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MelWeightMatrix {
    /// The output element type (`output_datatype`).
    pub dtype: DType,
}

impl MelWeightMatrix {
    /// `[dft_length / 2 + 1, num_mel_bins]`.
    pub fn out_shape(num_mel_bins: i64, dft_length: i64) -> Result<Vec<usize>> {
        let bins = usize::try_from(num_mel_bins).map_err(|_| {
            Error::argument(format!(
                "MelWeightMatrix num_mel_bins {num_mel_bins} is negative"
            ))
        })?;
        let dft = usize::try_from(dft_length)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::argument(format!(
                    "MelWeightMatrix dft_length {dft_length} is not positive"
                ))
            })?;
        let shape = vec![dft / 2 + 1, bins];
        byte_len(DType::F64, &shape)?;
        Ok(shape)
    }
}

/// A window's length from the value of its `size` input.
pub fn window_len(size: i64) -> Result<usize> {
    let len = usize::try_from(size)
        .map_err(|_| Error::argument(format!("window size {size} is negative")))?;
    byte_len(DType::F64, &[len])?;
    Ok(len)
}

impl SignalOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            SignalOp::Dft(_) => "DFT",
            SignalOp::Stft(_) => "STFT",
            SignalOp::Window(w) => match w.kind {
                WindowKind::Hann => "HannWindow",
                WindowKind::Hamming => "HammingWindow",
                WindowKind::Blackman => "BlackmanWindow",
            },
            SignalOp::MelWeightMatrix(_) => "MelWeightMatrix",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`]. Shapes are known when the
    /// input shapes and the scalar inputs that size the output are.
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let (out_dtype, out_shape) = match self {
            SignalOp::Dft(dft) => (dtype(inputs, 0), infer_dft(dft, inputs)?),
            SignalOp::Stft(stft) => (dtype(inputs, 0), infer_stft(stft, inputs)?),
            SignalOp::Window(w) => {
                let shape = match optional_scalar(inputs, 0) {
                    Known(Some(size)) => Some(vec![window_len(size?)?]),
                    _ => None,
                };
                (Some(w.dtype), shape)
            }
            SignalOp::MelWeightMatrix(m) => {
                let shape = match (optional_scalar(inputs, 0), optional_scalar(inputs, 1)) {
                    (Known(Some(bins)), Known(Some(dft))) => {
                        Some(MelWeightMatrix::out_shape(bins?, dft?)?)
                    }
                    _ => None,
                };
                (Some(m.dtype), shape)
            }
        };
        Ok(vec![Fact {
            dtype: out_dtype,
            shape: out_shape,
            value: None,
        }])
    }
}

fn infer_dft(dft: &Dft, inputs: &[Option<&Fact>]) -> Result<Option<Vec<usize>>> {
    let (Some(s), Known(len), Known(axis)) = (
        shape(inputs, 0),
        optional_scalar(inputs, 1),
        optional_scalar(inputs, 2),
    ) else {
        return Ok(None);
    };
    Ok(Some(
        dft.geometry(s, len.transpose()?, axis.transpose()?)?
            .out_shape,
    ))
}

fn infer_stft(stft: &Stft, inputs: &[Option<&Fact>]) -> Result<Option<Vec<usize>>> {
    let window_len = match input(inputs, 2) {
        None => Known(None),
        Some(f) => match f.shape.as_deref() {
            Some(&[w]) => Known(Some(w)),
            Some(s) => return Err(Error::shape(format!("STFT window must be 1-D, got {s:?}"))),
            None => Unknown,
        },
    };
    let (Some(s), Known(Some(step)), Known(w), Known(len)) = (
        shape(inputs, 0),
        optional_scalar(inputs, 1),
        window_len,
        optional_scalar(inputs, 3),
    ) else {
        return Ok(None);
    };
    Ok(Some(
        stft.geometry(s, step?, w, len.transpose()?)?.out_shape,
    ))
}

/// Whether something is known at planning time.
enum Knowledge<T> {
    Known(T),
    Unknown,
}
use Knowledge::{Known, Unknown};

/// The value of an optional scalar integer input: `Known(None)` when omitted,
/// `Known(Some(v))` when constant, `Unknown` when given but computed at run time.
fn optional_scalar(inputs: &[Option<&Fact>], i: usize) -> Knowledge<Option<Result<i64>>> {
    match input(inputs, i) {
        None => Known(None),
        Some(f) => match &f.value {
            Some(v) => Known(Some(v.view().scalar_i64())),
            None => Unknown,
        },
    }
}

/// Checks that the trailing dimension holds a real (1) or complex (2) value.
fn complex_dim(shape: &[usize], what: &str) -> Result<()> {
    match shape.last() {
        Some(1 | 2) if shape.len() >= 2 => Ok(()),
        _ => Err(Error::shape(format!(
            "{what} must end in a dimension of 1 (real) or 2 (complex), got shape {shape:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dft(axis: i64, inverse: bool, onesided: bool) -> Dft {
        Dft {
            axis,
            inverse,
            onesided,
        }
    }

    #[test]
    fn dft_shapes() {
        let g = dft(1, false, false)
            .geometry(&[1, 10, 10, 1], None, None)
            .unwrap();
        assert_eq!((g.axis, g.length, g.out_shape), (1, 10, vec![1, 10, 10, 2]));
        let g = dft(-2, false, true)
            .geometry(&[1, 10, 10, 1], None, Some(1))
            .unwrap();
        assert_eq!((g.axis, g.length, g.out_shape), (1, 10, vec![1, 6, 10, 2]));
        let g = dft(1, true, true)
            .geometry(&[1, 6, 10, 2], None, None)
            .unwrap();
        assert_eq!((g.length, g.out_shape), (10, vec![1, 10, 10, 1]));
        let g = dft(-2, false, false)
            .geometry(&[3, 5, 2], Some(8), None)
            .unwrap();
        assert_eq!((g.axis, g.length, g.out_shape), (1, 8, vec![3, 8, 2]));
        // The trailing complex axis is never a transform axis.
        assert!(dft(-1, false, false)
            .geometry(&[3, 5, 2], None, None)
            .is_err());
        assert!(dft(2, false, false)
            .geometry(&[3, 5, 2], None, None)
            .is_err());
        assert!(dft(1, false, false)
            .geometry(&[3, 5, 3], None, None)
            .is_err());
        assert!(dft(1, false, false)
            .geometry(&[3, 5, 2], Some(0), None)
            .is_err());
    }

    #[test]
    fn stft_shapes() {
        let s = Stft { onesided: true };
        let g = s.geometry(&[1, 128, 1], 8, None, Some(16)).unwrap();
        assert_eq!((g.frames, g.bins, g.out_shape), (15, 9, vec![1, 15, 9, 2]));
        let g = s.geometry(&[2, 128, 1], 8, Some(16), None).unwrap();
        assert_eq!(g.frame_length, 16);
        assert!(s.geometry(&[1, 128, 1], 8, Some(15), Some(16)).is_err());
        assert!(s.geometry(&[1, 8, 1], 8, None, Some(16)).is_err());
        assert!(s.geometry(&[1, 128, 1], 0, None, Some(16)).is_err());
    }
}
