//! Geometry of the integer convolutions (`ConvInteger`, `QLinearConv`): the ONNX `Conv`
//! attributes and their resolution against concrete input and kernel shapes.

use crate::{bail, Result};

/// ONNX `auto_pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum AutoPad {
    /// Explicit `pads` (zero when absent).
    #[default]
    NotSet,
    /// Output size `ceil(input / stride)`, an odd total padding puts the extra at the end.
    SameUpper,
    /// As `SameUpper`, the extra padding at the beginning.
    SameLower,
    /// No padding.
    Valid,
}

/// The convolution attributes as written in the model; absent lists take their defaults when
/// resolved against the input shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ConvAttrs {
    /// `auto_pad`.
    pub auto_pad: AutoPad,
    /// `kernel_shape` (the weight's spatial shape when absent).
    pub kernel_shape: Option<Vec<usize>>,
    /// `strides` (1 per axis when absent).
    pub strides: Option<Vec<usize>>,
    /// `dilations` (1 per axis when absent).
    pub dilations: Option<Vec<usize>>,
    /// `pads`: all begins then all ends (0 when absent).
    pub pads: Option<Vec<usize>>,
    /// `group`.
    pub group: usize,
}

/// The geometry of one convolution with every list filled in, one entry per spatial axis.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvGeometry {
    /// Kernel size.
    pub kernel: Vec<usize>,
    /// Strides.
    pub strides: Vec<usize>,
    /// Dilations.
    pub dilations: Vec<usize>,
    /// Padding before the first element.
    pub pads_begin: Vec<usize>,
    /// Padding after the last element.
    pub pads_end: Vec<usize>,
    /// Output spatial size.
    pub output: Vec<usize>,
}

impl ConvAttrs {
    /// Resolves the attributes for an input `[N, C, *spatial]` and weights `[M, C/group,
    /// *kernel]`, checking channel counts; returns the geometry and the output shape
    /// `[N, M, *output]`.
    pub fn resolve(&self, x: &[usize], w: &[usize]) -> Result<(ConvGeometry, Vec<usize>)> {
        if x.len() < 3 || w.len() != x.len() {
            bail!(
                shape,
                "convolution input {x:?} and weights {w:?} must have the same rank >= 3"
            );
        }
        let rank = x.len() - 2;
        let (batch, channels, spatial) = (x[0], x[1], &x[2..]);
        let (out_channels, group_channels) = (w[0], w[1]);
        let group = self.group;
        if group == 0
            || group_channels.checked_mul(group) != Some(channels)
            || out_channels % group != 0
        {
            bail!(
                shape,
                "convolution of {channels} channels in {group} groups with weights {w:?}"
            );
        }
        let list = |name: &str, v: &Option<Vec<usize>>, default: usize, len: usize| {
            let v = v.clone().unwrap_or_else(|| vec![default; len]);
            if v.len() != len {
                bail!(shape, "{name} has {} entries, expected {len}", v.len());
            }
            Ok(v)
        };
        let kernel = list("kernel_shape", &self.kernel_shape, 1, rank)?;
        if self.kernel_shape.is_some() && kernel[..] != w[2..] {
            bail!(
                shape,
                "kernel_shape {kernel:?} disagrees with weights {w:?}"
            );
        }
        let kernel = w[2..].to_vec();
        let strides = list("strides", &self.strides, 1, rank)?;
        let dilations = list("dilations", &self.dilations, 1, rank)?;
        let pads = list("pads", &self.pads, 0, 2 * rank)?;
        if strides.contains(&0) || dilations.contains(&0) || kernel.contains(&0) {
            bail!(shape, "zero stride, dilation or kernel size");
        }
        let (mut pads_begin, mut pads_end) = (pads[..rank].to_vec(), pads[rank..].to_vec());
        let mut output = Vec::with_capacity(rank);
        let overflow = || crate::Error::shape("convolution sizes overflow");
        for d in 0..rank {
            let window = dilations[d]
                .checked_mul(kernel[d] - 1)
                .and_then(|v| v.checked_add(1))
                .ok_or_else(overflow)?;
            if matches!(self.auto_pad, AutoPad::SameUpper | AutoPad::SameLower) {
                let out = spatial[d].div_ceil(strides[d]);
                let total = ((out.max(1) - 1) * strides[d])
                    .checked_add(window)
                    .ok_or_else(overflow)?
                    .saturating_sub(spatial[d]);
                let small = total / 2;
                (pads_begin[d], pads_end[d]) = match self.auto_pad {
                    AutoPad::SameUpper => (small, total - small),
                    _ => (total - small, small),
                };
            } else if self.auto_pad == AutoPad::Valid {
                (pads_begin[d], pads_end[d]) = (0, 0);
            }
            let padded = spatial[d]
                .checked_add(pads_begin[d])
                .and_then(|v| v.checked_add(pads_end[d]))
                .ok_or_else(overflow)?;
            if padded < window {
                bail!(
                    shape,
                    "axis {d}: kernel window {window} exceeds padded input {padded}"
                );
            }
            output.push((padded - window) / strides[d] + 1);
        }
        let mut shape = vec![batch, out_channels];
        shape.extend_from_slice(&output);
        Ok((
            ConvGeometry {
                kernel,
                strides,
                dilations,
                pads_begin,
                pads_end,
                output,
            },
            shape,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_pads_and_strides() {
        let attrs = ConvAttrs {
            pads: Some(vec![1, 1, 1, 1]),
            strides: Some(vec![2, 2]),
            group: 1,
            ..Default::default()
        };
        let (g, shape) = attrs.resolve(&[1, 3, 7, 5], &[4, 3, 3, 3]).unwrap();
        assert_eq!(shape, vec![1, 4, 4, 3]);
        assert_eq!(g.output, vec![4, 3]);
    }

    #[test]
    fn same_lower_puts_extra_padding_first() {
        let attrs = ConvAttrs {
            auto_pad: AutoPad::SameLower,
            group: 1,
            ..Default::default()
        };
        let (g, shape) = attrs.resolve(&[1, 1, 4], &[1, 1, 2]).unwrap();
        assert_eq!(shape, vec![1, 1, 4]);
        assert_eq!((g.pads_begin[0], g.pads_end[0]), (1, 0));
    }

    #[test]
    fn rejects_bad_groups() {
        let attrs = ConvAttrs {
            group: 2,
            ..Default::default()
        };
        assert!(attrs.resolve(&[1, 3, 4, 4], &[2, 1, 1, 1]).is_err());
    }
}

impl ConvAttrs {
    /// The same convolution as a float `Conv`'s attributes (what `QConv` carries), or `None`
    /// when `pads` has an odd length (the op then fails at run time with its own message).
    pub fn to_conv(&self) -> Option<crate::ir::ops::nn::Conv> {
        use crate::ir::ops::nn::{Conv, Padding, Window};
        let padding = match self.auto_pad {
            AutoPad::NotSet => {
                let pads = self.pads.clone().unwrap_or_default();
                if pads.len() % 2 != 0 {
                    return None;
                }
                let (begin, end) = pads.split_at(pads.len() / 2);
                Padding::Explicit {
                    begin: begin.to_vec(),
                    end: end.to_vec(),
                }
            }
            AutoPad::SameUpper => Padding::SameUpper,
            AutoPad::SameLower => Padding::SameLower,
            AutoPad::Valid => Padding::Valid,
        };
        Some(Conv {
            window: Window {
                kernel_shape: self.kernel_shape.clone().unwrap_or_default(),
                strides: self.strides.clone().unwrap_or_default(),
                dilations: self.dilations.clone().unwrap_or_default(),
                padding,
            },
            group: self.group,
        })
    }
}
