//! `Resize` (and `Upsample`) attributes and the output-size rule, following the ONNX
//! reference implementation (`onnx/reference/ops/op_resize.py`).

use super::rules::normalize_axes;
use crate::{bail, Error, Result};

/// Interpolation kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResizeMode {
    /// Nearest neighbour.
    Nearest,
    /// (Multi)linear.
    Linear,
    /// Cubic convolution with coefficient `cubic_coeff_a`.
    Cubic,
}

/// How an output coordinate maps back to an input coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CoordinateMode {
    /// `(x + 0.5) / scale - 0.5`.
    HalfPixel,
    /// Half-pixel, except that a one-element output samples input coordinate -0.5.
    PytorchHalfPixel,
    /// Corner pixels of input and output are aligned.
    AlignCorners,
    /// `x / scale`.
    Asymmetric,
    /// Coordinates inside the region of interest; outside it, the extrapolation value.
    TfCropAndResize,
    /// Half-pixel with the output canvas centred on the input.
    HalfPixelSymmetric,
}

/// Rounding of nearest-neighbour coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NearestMode {
    /// Round, halves down.
    RoundPreferFloor,
    /// Round, halves up.
    RoundPreferCeil,
    /// Floor.
    Floor,
    /// Ceil.
    Ceil,
}

/// How `sizes` are reconciled with the input's aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeepAspectRatio {
    /// Each axis takes its requested size.
    Stretch,
    /// One scale for all axes, the largest that fits inside the requested sizes.
    NotLarger,
    /// One scale for all axes, the smallest that covers the requested sizes.
    NotSmaller,
}

/// `Resize` attributes, and where its parameters come from (they moved between opsets).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResizeAttrs {
    /// Interpolation kernel.
    pub mode: ResizeMode,
    /// Output-to-input coordinate mapping.
    pub coordinate_mode: CoordinateMode,
    /// Rounding for `Nearest`.
    pub nearest_mode: NearestMode,
    /// Cubic kernel coefficient.
    pub cubic_coeff_a: f32,
    /// Taps outside the input get weight 0 (weights renormalised).
    pub exclude_outside: bool,
    /// Value outside the region of interest (`TfCropAndResize`).
    pub extrapolation_value: f32,
    /// Widen linear/cubic kernels when downsampling.
    pub antialias: bool,
    /// The resized axes (scales/sizes/roi list only these); `None`: all.
    pub axes: Option<Vec<i64>>,
    /// Aspect-ratio policy for `sizes`.
    pub keep_aspect_ratio: KeepAspectRatio,
    /// Input position of the region of interest, if the opset has it.
    pub roi_input: Option<usize>,
    /// Input position of the scales, if the opset has it.
    pub scales_input: Option<usize>,
    /// Input position of the sizes, if the opset has it.
    pub sizes_input: Option<usize>,
    /// Scales from an attribute (`Upsample` opset 7).
    pub scales_attr: Option<Vec<f32>>,
}

/// The resolved geometry of one resize: per dim, output size, scale and region of interest.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResizePlan {
    /// Output shape.
    pub out_shape: Vec<usize>,
    /// Scale factor per dim (output / input).
    pub scales: Vec<f64>,
    /// Region of interest `(start, end)` per dim, normalised coordinates; `None` without one.
    pub roi: Option<Vec<(f64, f64)>>,
    /// Dims to interpolate, in order.
    pub axes: Vec<usize>,
}

impl ResizeAttrs {
    /// Output geometry for `input` from the (already read) roi/scales/sizes parameters;
    /// empty tensors count as absent.
    pub fn plan(
        &self,
        input: &[usize],
        roi: Option<&[f64]>,
        scales: Option<&[f32]>,
        sizes: Option<&[i64]>,
    ) -> Result<ResizePlan> {
        let rank = input.len();
        let listed = match &self.axes {
            Some(a) => normalize_axes(a, rank)?,
            None => (0..rank).collect(),
        };
        let scales = scales
            .filter(|s| !s.is_empty())
            .or(self.scales_attr.as_deref());
        let sizes = sizes.filter(|s| !s.is_empty());
        let (out_shape, scales) = match (scales, sizes) {
            (Some(_), Some(_)) => bail!(shape, "Resize: only one of scales and sizes may be given"),
            (None, None) => bail!(shape, "Resize: neither scales nor sizes is given"),
            (Some(s), None) => sizes_from_scales(input, &listed, s)?,
            (None, Some(s)) => self.scales_from_sizes(input, &listed, s)?,
        };
        let roi = match roi.filter(|r| !r.is_empty()) {
            None => None,
            Some(r) if r.len() == 2 * listed.len() => {
                let mut full = vec![(0.0, 1.0); rank];
                for (i, &a) in listed.iter().enumerate() {
                    full[a] = (r[i], r[listed.len() + i]);
                }
                Some(full)
            }
            Some(r) => bail!(
                shape,
                "Resize: roi has {} values for {} axes",
                r.len(),
                listed.len()
            ),
        };
        let mut axes = listed;
        axes.sort_unstable();
        Ok(ResizePlan {
            out_shape,
            scales,
            roi,
            axes,
        })
    }

    /// Output sizes and scales from requested sizes (`keep_aspect_ratio` applied).
    fn scales_from_sizes(
        &self,
        input: &[usize],
        axes: &[usize],
        given: &[i64],
    ) -> Result<(Vec<usize>, Vec<f64>)> {
        if given.len() != axes.len() {
            bail!(
                shape,
                "Resize: {} sizes for {} axes",
                given.len(),
                axes.len()
            );
        }
        let mut out = input.to_vec();
        for (&a, &s) in axes.iter().zip(given) {
            out[a] = usize::try_from(s)
                .map_err(|_| Error::shape(format!("Resize: negative size {s}")))?;
            if input[a] == 0 && out[a] != 0 {
                bail!(shape, "Resize: cannot resize an empty dim to {s}");
            }
        }
        let ratio = |a: usize| {
            if input[a] == 0 {
                1.0
            } else {
                out[a] as f64 / input[a] as f64
            }
        };
        let mut scales: Vec<f64> = (0..input.len()).map(ratio).collect();
        if self.keep_aspect_ratio != KeepAspectRatio::Stretch {
            let picked = axes.iter().map(|&a| scales[a]);
            let scale = match self.keep_aspect_ratio {
                KeepAspectRatio::NotLarger => picked.fold(f64::INFINITY, f64::min),
                _ => picked.fold(f64::NEG_INFINITY, f64::max),
            };
            for &a in axes {
                scales[a] = scale;
                // round half up, as the reference does
                out[a] = (scale * input[a] as f64 + 0.5) as usize;
            }
        }
        Ok((out, scales))
    }
}

/// Output sizes (`floor(scale * dim)`) and per-dim scales from the given scales.
fn sizes_from_scales(
    input: &[usize],
    axes: &[usize],
    given: &[f32],
) -> Result<(Vec<usize>, Vec<f64>)> {
    if given.len() != axes.len() {
        bail!(
            shape,
            "Resize: {} scales for {} axes",
            given.len(),
            axes.len()
        );
    }
    let mut scales = vec![1.0f64; input.len()];
    for (&a, &s) in axes.iter().zip(given) {
        if !(s > 0.0 && s.is_finite()) {
            bail!(shape, "Resize: scale {s} is not positive");
        }
        scales[a] = s as f64;
    }
    let out = input
        .iter()
        .zip(&scales)
        .map(|(&d, &s)| (s * d as f64).floor() as usize)
        .collect();
    Ok((out, scales))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(policy: KeepAspectRatio, axes: Option<Vec<i64>>) -> ResizeAttrs {
        ResizeAttrs {
            mode: ResizeMode::Nearest,
            coordinate_mode: CoordinateMode::HalfPixel,
            nearest_mode: NearestMode::RoundPreferFloor,
            cubic_coeff_a: -0.75,
            exclude_outside: false,
            extrapolation_value: 0.0,
            antialias: false,
            axes,
            keep_aspect_ratio: policy,
            roi_input: Some(1),
            scales_input: Some(2),
            sizes_input: Some(3),
            scales_attr: None,
        }
    }

    #[test]
    fn scales_floor_the_output_size() {
        let p = attrs(KeepAspectRatio::Stretch, None)
            .plan(&[1, 1, 4, 4], None, Some(&[1.0, 1.0, 0.6, 0.6]), None)
            .unwrap();
        assert_eq!(p.out_shape, vec![1, 1, 2, 2]);
    }

    #[test]
    fn not_larger_keeps_the_aspect_ratio() {
        let a = attrs(KeepAspectRatio::NotLarger, Some(vec![2, 3]));
        let p = a.plan(&[1, 1, 2, 2], None, None, Some(&[7, 8])).unwrap();
        assert_eq!(p.out_shape, vec![1, 1, 7, 7]);
        assert_eq!(p.scales[3], 3.5);
    }
}
