//! Detection and geometric vision ops: box suppression (`NonMaxSuppression`), region pooling
//! (`RoiAlign`, `MaxRoiPool`), unpooling (`MaxUnpool`) and spatial sampling (`GridSample`,
//! `AffineGrid`).

use super::infer_util::{dtype, input, shape};
use crate::ir::Fact;
use crate::{DType, Result};

/// Detection and geometric vision ops.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum VisionOp {
    /// `NonMaxSuppression(boxes, scores, max_output_boxes_per_class?, iou_threshold?,
    /// score_threshold?)`: `[selected, 3]` int64 rows of `(batch, class, box)`.
    NonMaxSuppression {
        /// Boxes are `[x_center, y_center, width, height]` rather than two corners
        /// `[y1, x1, y2, x2]`.
        center_point_box: bool,
    },
    /// `RoiAlign(X, rois, batch_indices)`: bilinear sampling of each region into a fixed grid.
    RoiAlign(RoiAlign),
    /// `MaxRoiPool(X, rois)`: max over the integer cells of each region.
    MaxRoiPool(MaxRoiPool),
    /// `GridSample(X, grid)`: `X` sampled at the normalized positions of `grid`.
    GridSample(GridSample),
    /// `AffineGrid(theta, size)`: the sampling grid of a batch of affine transforms.
    AffineGrid {
        /// `-1` and `1` name the centers of the corner pixels rather than their outer edges.
        align_corners: bool,
    },
    /// `MaxUnpool(X, I, output_shape?)`: pooled values scattered back to the flat indices
    /// `MaxPool` recorded, zeros elsewhere.
    MaxUnpool(MaxUnpool),
}

/// `MaxUnpool` attributes (per spatial axis), those of the `MaxPool` being inverted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaxUnpool {
    /// Pooling window.
    pub kernel_shape: Vec<usize>,
    /// Strides (one per axis).
    pub strides: Vec<usize>,
    /// Pads, begin values then end values.
    pub pads: Vec<usize>,
}

impl MaxUnpool {
    /// `[N, C, (in - 1) * stride + kernel - pads...]`: the shape the pooled `x` came from,
    /// which `MaxPool`'s indices address.
    pub fn unpooled_shape(&self, x: &[usize]) -> Result<Vec<usize>> {
        let axes = self.kernel_shape.len();
        if self.strides.len() != axes || self.pads.len() != 2 * axes {
            crate::bail!(
                invalid_model,
                "MaxUnpool: {} strides and {} pads for {axes} spatial axes",
                self.strides.len(),
                self.pads.len()
            );
        }
        if x.len() != axes + 2 {
            crate::bail!(
                shape,
                "MaxUnpool: input {x:?} does not have the {axes} spatial axes of kernel_shape"
            );
        }
        let spatial = (0..axes).map(|d| {
            x[d + 2]
                .checked_sub(1)
                .and_then(|v| v.checked_mul(self.strides[d]))
                .and_then(|v| v.checked_add(self.kernel_shape[d]))
                .and_then(|v| v.checked_sub(self.pads[d] + self.pads[axes + d]))
                .ok_or_else(|| {
                    crate::Error::shape(format!(
                        "MaxUnpool: no unpooled size for spatial axis {d} of input {x:?}"
                    ))
                })
        });
        [Ok(x[0]), Ok(x[1])].into_iter().chain(spatial).collect()
    }
}

/// How `RoiAlign` reduces the samples of one output cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RoiReduce {
    /// The mean of the bilinear samples.
    Avg,
    /// The largest weighted corner over all samples (the ONNX reference's definition).
    Max,
}

/// `RoiAlign` attributes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoiAlign {
    /// Average or max over a cell's samples.
    pub mode: RoiReduce,
    /// `half_pixel` (opset 16+ default): region corners are shifted by -0.5 pixel;
    /// `output_half_pixel` (the opset 10 behaviour): unshifted, and regions at least 1x1.
    pub half_pixel: bool,
    /// Output rows per region.
    pub output_height: usize,
    /// Output columns per region.
    pub output_width: usize,
    /// Samples per cell along each axis; 0: adaptive (`ceil(region size / output size)`).
    pub sampling_ratio: usize,
    /// Multiplies region coordinates to reach `X`'s pixel coordinates.
    pub spatial_scale: f32,
}

/// `MaxRoiPool` attributes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaxRoiPool {
    /// Output rows per region.
    pub pooled_height: usize,
    /// Output columns per region.
    pub pooled_width: usize,
    /// Multiplies region coordinates to reach `X`'s pixel coordinates.
    pub spatial_scale: f32,
}

/// How `GridSample` interpolates between pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Interpolation {
    /// The nearest pixel (ties to even, as PyTorch).
    Nearest,
    /// Linear along every axis (`bilinear` before opset 20).
    Linear,
    /// Keys cubic convolution (alpha -0.75) along every axis (`bicubic` before opset 20).
    Cubic,
}

/// What `GridSample` reads outside the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GridPadding {
    /// Zero.
    Zeros,
    /// The nearest border pixel.
    Border,
    /// The image mirrored at its borders.
    Reflection,
}

/// `GridSample` attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GridSample {
    /// Interpolation between pixels.
    pub mode: Interpolation,
    /// Values outside the image.
    pub padding: GridPadding,
    /// `-1` and `1` name the centers of the corner pixels rather than their outer edges.
    pub align_corners: bool,
}

impl VisionOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            VisionOp::NonMaxSuppression { .. } => "NonMaxSuppression",
            VisionOp::RoiAlign(_) => "RoiAlign",
            VisionOp::MaxRoiPool(_) => "MaxRoiPool",
            VisionOp::GridSample(_) => "GridSample",
            VisionOp::AffineGrid { .. } => "AffineGrid",
            VisionOp::MaxUnpool(_) => "MaxUnpool",
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let out = |shape: Option<Vec<usize>>| Fact {
            dtype: dtype(inputs, 0),
            shape,
            value: None,
        };
        Ok(match self {
            VisionOp::NonMaxSuppression { .. } => {
                if let (Some(boxes), Some(scores)) = (shape(inputs, 0), shape(inputs, 1)) {
                    nms_layout(boxes, scores)?;
                }
                // How many boxes survive depends on the data.
                vec![Fact::of_dtype(DType::I64)]
            }
            VisionOp::RoiAlign(attrs) => vec![out(roi_shape(
                "RoiAlign",
                inputs,
                4,
                [attrs.output_height, attrs.output_width],
            )?)],
            VisionOp::MaxRoiPool(attrs) => vec![out(roi_shape(
                "MaxRoiPool",
                inputs,
                5,
                [attrs.pooled_height, attrs.pooled_width],
            )?)],
            VisionOp::GridSample(_) => match (shape(inputs, 0), shape(inputs, 1)) {
                (Some(x), Some(grid)) => vec![out(Some(grid_sample_shape(x, grid)?))],
                _ => vec![out(None)],
            },
            VisionOp::AffineGrid { .. } => {
                let size = input(inputs, 1)
                    .and_then(|f| f.value.as_ref())
                    .map(|v| v.view().to_i64_vec())
                    .transpose()?;
                match size {
                    Some(size) => vec![out(Some(affine_grid_shape(shape(inputs, 0), &size)?))],
                    None => vec![out(None)],
                }
            }
            VisionOp::MaxUnpool(attrs) => vec![out(max_unpool_shape(attrs, inputs)?)],
        })
    }
}

/// `(batches, classes, boxes)` of `NonMaxSuppression`'s `boxes [B, N, 4]` and
/// `scores [B, C, N]`.
pub fn nms_layout(boxes: &[usize], scores: &[usize]) -> Result<(usize, usize, usize)> {
    match (boxes, scores) {
        (&[b, n, 4], &[sb, c, sn]) if b == sb && n == sn => Ok((b, c, n)),
        _ => crate::bail!(
            shape,
            "NonMaxSuppression: boxes {boxes:?} must be [B, N, 4] and scores {scores:?} [B, C, N]"
        ),
    }
}

/// `[rois, C, height, width]` of a region pooling op whose `rois` rows have `roi_cols`
/// columns, when the shapes of `X` and `rois` are known.
fn roi_shape(
    op: &str,
    inputs: &[Option<&Fact>],
    roi_cols: usize,
    cell_grid: [usize; 2],
) -> Result<Option<Vec<usize>>> {
    let (Some(x), Some(rois)) = (shape(inputs, 0), shape(inputs, 1)) else {
        return Ok(None);
    };
    let channels = match x {
        &[_, c, _, _] => c,
        _ => crate::bail!(shape, "{op}: X must be [N, C, H, W], got {x:?}"),
    };
    let num_rois = match rois {
        &[r, cols] if cols == roi_cols => r,
        _ => crate::bail!(shape, "{op}: rois must be [R, {roi_cols}], got {rois:?}"),
    };
    if let Some(batch_indices) = shape(inputs, 2) {
        if batch_indices != [num_rois] {
            crate::bail!(
                shape,
                "{op}: batch_indices {batch_indices:?} must be [{num_rois}] like rois"
            );
        }
    }
    Ok(Some(vec![num_rois, channels, cell_grid[0], cell_grid[1]]))
}

/// `[N, C, out spatial...]` of `GridSample` with `X [N, C, in spatial...]` and
/// `grid [N, out spatial..., r]`.
pub fn grid_sample_shape(x: &[usize], grid: &[usize]) -> Result<Vec<usize>> {
    let r = x.len().saturating_sub(2);
    if x.len() < 3 || grid.len() != x.len() || grid[0] != x[0] || grid[r + 1] != r {
        crate::bail!(
            shape,
            "GridSample: X {x:?} must be [N, C, d1..dr] and grid {grid:?} [N, o1..or, r]"
        );
    }
    Ok([&x[..2], &grid[1..=r]].concat())
}

/// `[N, H, W, 2]` or `[N, D, H, W, 3]` of `AffineGrid` from `size` (`[N, C, H, W]` or
/// `[N, C, D, H, W]`), checked against `theta` (`[N, 2, 3]` or `[N, 3, 4]`) when its shape is
/// known.
pub fn affine_grid_shape(theta: Option<&[usize]>, size: &[i64]) -> Result<Vec<usize>> {
    let dims = size
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<std::result::Result<Vec<usize>, _>>()
        .ok()
        .filter(|dims| matches!(dims.len(), 4 | 5));
    let Some(dims) = dims else {
        crate::bail!(
            shape,
            "AffineGrid: size {size:?} must be [N, C, H, W] or [N, C, D, H, W], non-negative"
        );
    };
    let r = dims.len() - 2;
    if let Some(theta) = theta {
        if theta != [dims[0], r, r + 1] {
            crate::bail!(
                shape,
                "AffineGrid: theta {theta:?} must be [{}, {r}, {}] for size {size:?}",
                dims[0],
                r + 1
            );
        }
    }
    Ok([&[dims[0]][..], &dims[2..], &[r]].concat())
}

/// `MaxUnpool`'s output shape: `output_shape` when given (known only when constant), else the
/// unpooled shape.
fn max_unpool_shape(attrs: &MaxUnpool, inputs: &[Option<&Fact>]) -> Result<Option<Vec<usize>>> {
    if let Some(output_shape) = input(inputs, 2) {
        let Some(value) = &output_shape.value else {
            return Ok(None);
        };
        let dims = value.view().to_i64_vec()?;
        return dims
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|_| {
                crate::Error::shape(format!("MaxUnpool: negative output_shape {dims:?}"))
            });
    }
    shape(inputs, 0)
        .map(|x| attrs.unpooled_shape(x))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_sample_shape_takes_batch_and_channels_from_x() {
        let s = grid_sample_shape(&[2, 3, 5, 6], &[2, 7, 8, 2]).unwrap();
        assert_eq!(s, vec![2, 3, 7, 8]);
        assert!(grid_sample_shape(&[2, 3, 5, 6], &[2, 7, 8, 3]).is_err());
        assert!(grid_sample_shape(&[2, 3, 5, 6], &[1, 7, 8, 2]).is_err());
    }

    #[test]
    fn unpooled_shape_inverts_max_pool() {
        let attrs = MaxUnpool {
            kernel_shape: vec![2, 3],
            strides: vec![2, 1],
            pads: vec![0, 1, 1, 1],
        };
        assert_eq!(
            attrs.unpooled_shape(&[1, 3, 4, 5]).unwrap(),
            vec![1, 3, 7, 5]
        );
        assert!(attrs.unpooled_shape(&[1, 3, 4]).is_err());
        assert!(attrs.unpooled_shape(&[1, 3, 0, 5]).is_err());
    }

    #[test]
    fn affine_grid_shape_2d_and_3d() {
        assert_eq!(
            affine_grid_shape(Some(&[2, 2, 3]), &[2, 3, 4, 5]).unwrap(),
            vec![2, 4, 5, 2]
        );
        assert_eq!(
            affine_grid_shape(None, &[1, 1, 2, 3, 4]).unwrap(),
            vec![1, 2, 3, 4, 3]
        );
        assert!(affine_grid_shape(Some(&[2, 3, 4]), &[2, 3, 4, 5]).is_err());
        assert!(affine_grid_shape(None, &[1, 1, -2, 3]).is_err());
    }
}
