//! Sliding-window geometry shared by convolutions and pooling: attributes as ONNX states them,
//! resolved against a concrete input into per-axis pads and output sizes.
//!
//! The rules are ONNX's, to the letter, because a planner and an evaluator that disagree by one
//! on an output size is an internal error at run time:
//!
//! * explicit pads: `out = floor((in + pad_begin + pad_end − window) / stride) + 1`, where
//!   `window = dilation · (kernel − 1) + 1`; with `ceil_mode` the division rounds up, and a
//!   last window that would start inside the end padding is dropped (PyTorch's rule, which
//!   the ONNX reference follows);
//! * `SAME_UPPER` / `SAME_LOWER`: `out = ceil(in / stride)`, the total padding
//!   `max(0, (out − 1) · stride + window − in)` is split in half, the odd element going to the
//!   end (UPPER) or the beginning (LOWER);
//! * `VALID`: no padding.
//!
//! Transposed convolutions have their own rules ([`Window::resolve_transposed`]).

use crate::{Error, Result};

/// How a window op pads its input (the `auto_pad` and `pads` attributes together).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Padding {
    /// `auto_pad = NOTSET`: the `pads` attribute, split into its begin and end halves (empty:
    /// no padding).
    Explicit {
        /// Padding before the first element, per spatial axis.
        begin: Vec<usize>,
        /// Padding after the last element, per spatial axis.
        end: Vec<usize>,
    },
    /// Output size `ceil(in / stride)`, odd padding at the end.
    SameUpper,
    /// Output size `ceil(in / stride)`, odd padding at the beginning.
    SameLower,
    /// No padding.
    Valid,
}

/// The window attributes of a convolution or pooling op. Empty vectors mean the ONNX default
/// (all ones for strides and dilations; for `kernel_shape`, "take it from the weights").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// `kernel_shape`, per spatial axis.
    pub kernel_shape: Vec<usize>,
    /// `strides`, per spatial axis.
    pub strides: Vec<usize>,
    /// `dilations`, per spatial axis.
    pub dilations: Vec<usize>,
    /// `auto_pad` + `pads`.
    pub padding: Padding,
}

/// A window resolved against one input: everything per spatial axis.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Geometry {
    /// Kernel extent (undilated).
    pub kernel: Vec<usize>,
    /// Step between windows.
    pub strides: Vec<usize>,
    /// Step between taps of a window.
    pub dilations: Vec<usize>,
    /// Padding before the first input element.
    pub pads_begin: Vec<usize>,
    /// Padding after the last input element (as declared; with `ceil_mode` the last window may
    /// reach further, and reads nothing there).
    pub pads_end: Vec<usize>,
    /// Output size.
    pub output: Vec<usize>,
}

/// A transposed-convolution window resolved against one input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransposedGeometry {
    /// Kernel extent (undilated).
    pub kernel: Vec<usize>,
    /// Step between the positions where consecutive input elements land.
    pub strides: Vec<usize>,
    /// Step between taps of the kernel.
    pub dilations: Vec<usize>,
    /// Output element `o` is element `o + crop_begin` of the full (unpadded) scatter result,
    /// `(in − 1) · stride + window` long; negative values mean zero rows before it.
    pub crop_begin: Vec<isize>,
    /// Output size.
    pub output: Vec<usize>,
}

impl Window {
    /// Resolves the window for an input of spatial size `input` and a kernel of size `kernel`
    /// (from the weights for a convolution, `None` to use `kernel_shape`).
    pub fn resolve(
        &self,
        input: &[usize],
        kernel: Option<&[usize]>,
        ceil_mode: bool,
    ) -> Result<Geometry> {
        let rank = input.len();
        let kernel = self.kernel(rank, kernel)?;
        let strides = per_axis("strides", &self.strides, rank)?;
        let dilations = per_axis("dilations", &self.dilations, rank)?;
        let mut geometry = Geometry {
            pads_begin: vec![0; rank],
            pads_end: vec![0; rank],
            output: vec![0; rank],
            kernel,
            strides,
            dilations,
        };
        for (d, &len) in input.iter().enumerate() {
            let window = span(geometry.kernel[d], geometry.dilations[d])?;
            let stride = geometry.strides[d];
            let (begin, end) = match &self.padding {
                Padding::Explicit { begin, end } => (pad(begin, d, rank)?, pad(end, d, rank)?),
                Padding::Valid => (0, 0),
                Padding::SameUpper | Padding::SameLower => {
                    let out = len.div_ceil(stride);
                    let reach = (out.max(1) - 1)
                        .checked_mul(stride)
                        .and_then(|x| x.checked_add(window))
                        .ok_or_else(|| Error::shape("padded input size overflows"))?;
                    let total = reach.saturating_sub(len);
                    let small = total / 2;
                    let begin = if self.padding == Padding::SameUpper {
                        small
                    } else {
                        total - small
                    };
                    geometry.pads_begin[d] = begin;
                    geometry.pads_end[d] = total - begin;
                    geometry.output[d] = out;
                    continue;
                }
            };
            let padded = len
                .checked_add(begin)
                .and_then(|x| x.checked_add(end))
                .ok_or_else(|| Error::shape("padded input size overflows"))?;
            if padded < window {
                crate::bail!(
                    shape,
                    "axis {d}: window of {window} does not fit the padded input of {padded}"
                );
            }
            let mut out = if ceil_mode {
                (padded - window).div_ceil(stride)
            } else {
                (padded - window) / stride
            } + 1;
            // A last window starting in the end padding covers no input: drop it.
            if ceil_mode && (out - 1) * stride >= len + begin {
                out -= 1;
            }
            geometry.pads_begin[d] = begin;
            geometry.pads_end[d] = end;
            geometry.output[d] = out;
        }
        Ok(geometry)
    }

    /// Resolves a transposed convolution for an input of spatial size `input` and a kernel of
    /// size `kernel` (from the weights). `output_padding` and `output_shape` are the ONNX
    /// attributes (empty when absent).
    pub fn resolve_transposed(
        &self,
        input: &[usize],
        kernel: &[usize],
        output_padding: &[usize],
        output_shape: &[usize],
    ) -> Result<TransposedGeometry> {
        let rank = input.len();
        let kernel = self.kernel(rank, Some(kernel))?;
        let strides = per_axis("strides", &self.strides, rank)?;
        let dilations = per_axis("dilations", &self.dilations, rank)?;
        let output_padding = if output_padding.is_empty() {
            vec![0; rank]
        } else {
            exact("output_padding", output_padding, rank)?
        };
        // Some exporters write the full output shape (N, C, spatial...): keep the spatial part.
        let output_shape = match output_shape.len() {
            0 => None,
            n if n == rank => Some(output_shape),
            n if n == rank + 2 => Some(&output_shape[2..]),
            n => crate::bail!(
                shape,
                "output_shape has {n} entries for {rank} spatial axes"
            ),
        };
        let mut crop_begin = vec![0isize; rank];
        let mut output = vec![0usize; rank];
        for d in 0..rank {
            let window = span(kernel[d], dilations[d])?;
            if input[d] == 0 {
                crate::bail!(shape, "axis {d}: empty input");
            }
            // The full scatter result plus output_padding, before any padding is removed.
            let overflow = || Error::shape("transposed convolution size overflows");
            let natural = (input[d] - 1)
                .checked_mul(strides[d])
                .and_then(|x| x.checked_add(window))
                .and_then(|x| x.checked_add(output_padding[d]))
                .ok_or_else(overflow)?;
            let natural = checked_isize(natural)?;
            let target = match (output_shape, &self.padding) {
                (Some(shape), _) => Some(checked_isize(shape[d])?),
                (None, Padding::SameUpper | Padding::SameLower) => Some(checked_isize(
                    input[d].checked_mul(strides[d]).ok_or_else(overflow)?,
                )?),
                _ => None,
            };
            let (begin, out) = match (target, &self.padding) {
                (Some(out), padding) => {
                    let total = natural - out;
                    // Floor division, as the ONNX reference does for a negative total.
                    let small = total.div_euclid(2);
                    (
                        if *padding == Padding::SameUpper {
                            small
                        } else {
                            total - small
                        },
                        out,
                    )
                }
                (None, Padding::Explicit { begin, end }) => {
                    let (b, e) = (
                        checked_isize(pad(begin, d, rank)?)?,
                        checked_isize(pad(end, d, rank)?)?,
                    );
                    (
                        b,
                        natural
                            .checked_sub(b)
                            .and_then(|x| x.checked_sub(e))
                            .ok_or_else(overflow)?,
                    )
                }
                (None, _) => (0, natural),
            };
            if out <= 0 {
                crate::bail!(
                    shape,
                    "axis {d}: transposed convolution output size {out} is not positive"
                );
            }
            crop_begin[d] = begin;
            output[d] = out as usize;
        }
        Ok(TransposedGeometry {
            kernel,
            strides,
            dilations,
            crop_begin,
            output,
        })
    }

    /// The kernel extent: from the weights when given (checked against `kernel_shape`), else
    /// `kernel_shape`.
    fn kernel(&self, rank: usize, from_weights: Option<&[usize]>) -> Result<Vec<usize>> {
        let kernel = match from_weights {
            Some(k) => {
                if !self.kernel_shape.is_empty() && self.kernel_shape != k {
                    crate::bail!(
                        shape,
                        "kernel_shape {:?} differs from the weights' {k:?}",
                        self.kernel_shape
                    );
                }
                k.to_vec()
            }
            None if self.kernel_shape.is_empty() => crate::bail!(shape, "kernel_shape is required"),
            None => self.kernel_shape.clone(),
        };
        if kernel.len() != rank {
            crate::bail!(
                shape,
                "kernel has {} axes, input has {rank} spatial axes",
                kernel.len()
            );
        }
        if kernel.contains(&0) {
            crate::bail!(shape, "kernel {kernel:?} has an empty axis");
        }
        Ok(kernel)
    }
}

/// `dilation · (kernel − 1) + 1`, the extent a dilated kernel covers.
pub fn span(kernel: usize, dilation: usize) -> Result<usize> {
    dilation
        .checked_mul(kernel.saturating_sub(1))
        .and_then(|x| x.checked_add(1))
        .ok_or_else(|| Error::shape("dilated kernel size overflows"))
}

/// A strides/dilations attribute for `rank` axes: all ones when absent, each at least 1.
fn per_axis(name: &str, values: &[usize], rank: usize) -> Result<Vec<usize>> {
    if values.is_empty() {
        return Ok(vec![1; rank]);
    }
    let values = exact(name, values, rank)?;
    if values.contains(&0) {
        crate::bail!(shape, "{name} {values:?} must all be at least 1");
    }
    Ok(values)
}

fn exact(name: &str, values: &[usize], rank: usize) -> Result<Vec<usize>> {
    if values.len() != rank {
        crate::bail!(
            shape,
            "{name} has {} entries for {rank} spatial axes",
            values.len()
        );
    }
    Ok(values.to_vec())
}

/// Half `d` of a pads attribute (empty: zero).
fn pad(half: &[usize], d: usize, rank: usize) -> Result<usize> {
    if half.is_empty() {
        return Ok(0);
    }
    if half.len() != rank {
        crate::bail!(
            shape,
            "pads has {} entries for {rank} spatial axes",
            2 * half.len()
        );
    }
    Ok(half[d])
}

fn checked_isize(x: usize) -> Result<isize> {
    isize::try_from(x).map_err(|_| Error::shape(format!("size {x} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(kernel: &[usize], strides: &[usize], padding: Padding) -> Window {
        Window {
            kernel_shape: kernel.to_vec(),
            strides: strides.to_vec(),
            dilations: vec![],
            padding,
        }
    }

    fn explicit(begin: &[usize], end: &[usize]) -> Padding {
        Padding::Explicit {
            begin: begin.to_vec(),
            end: end.to_vec(),
        }
    }

    #[test]
    fn floor_and_ceil_output_sizes() {
        let w = window(&[3], &[2], explicit(&[0], &[0]));
        assert_eq!(w.resolve(&[8], None, false).unwrap().output, vec![3]);
        assert_eq!(w.resolve(&[8], None, true).unwrap().output, vec![4]);
    }

    #[test]
    fn ceil_mode_drops_a_window_starting_in_the_padding() {
        // in 4, pad 1+1, kernel 2, stride 2: ceil gives 4 windows, the last starts at 6 >= 4 + 1.
        let w = window(&[2], &[2], explicit(&[1], &[1]));
        assert_eq!(w.resolve(&[4], None, true).unwrap().output, vec![3]);
    }

    #[test]
    fn same_padding_splits_odd_totals() {
        let upper = window(&[4], &[1], Padding::SameUpper)
            .resolve(&[5], None, false)
            .unwrap();
        assert_eq!(
            (upper.pads_begin[0], upper.pads_end[0], upper.output[0]),
            (1, 2, 5)
        );
        let lower = window(&[4], &[1], Padding::SameLower)
            .resolve(&[5], None, false)
            .unwrap();
        assert_eq!(
            (lower.pads_begin[0], lower.pads_end[0], lower.output[0]),
            (2, 1, 5)
        );
        let strided = window(&[3], &[2], Padding::SameUpper)
            .resolve(&[7], None, false)
            .unwrap();
        assert_eq!(
            (
                strided.pads_begin[0],
                strided.pads_end[0],
                strided.output[0]
            ),
            (1, 1, 4)
        );
    }

    #[test]
    fn kernel_larger_than_input_is_an_error() {
        let w = window(&[5], &[1], Padding::Valid);
        assert!(w.resolve(&[3], None, false).is_err());
    }

    #[test]
    fn transposed_with_output_shape_may_pad_negatively() {
        // ONNX test convtranspose_output_shape: in 3, stride 3, kernel 3 → natural 9, asked 10.
        let w = window(&[], &[3], explicit(&[], &[]));
        let g = w.resolve_transposed(&[3], &[3], &[], &[10]).unwrap();
        assert_eq!((g.crop_begin[0], g.output[0]), (0, 10));
    }

    #[test]
    fn transposed_explicit_pads_and_output_padding() {
        let w = window(&[], &[2], explicit(&[1], &[2]));
        let g = w.resolve_transposed(&[3], &[3], &[1], &[]).unwrap();
        // natural = 2·2 + 3 + 1 = 8, minus 3 of padding.
        assert_eq!((g.crop_begin[0], g.output[0]), (1, 5));
    }
}
