//! `NonMaxSuppression`: for every (batch, class), boxes are taken greedily by descending score
//! (ties: lower box index first), skipping any box that overlaps an already selected one by an
//! IoU above the threshold. Arithmetic is f32 like the ONNX reference and onnxruntime, so
//! boundary cases (IoU exactly at the threshold) decide the same way.

use super::{Inputs, Outputs};
use crate::ir::ops::vision::nms_layout;
use crate::tensor::TensorView;
use crate::{Result, Tensor};

pub(super) fn non_max_suppression(
    center_point_box: bool,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let (boxes, scores) = (ins.get(0)?, ins.get(1)?);
    let (batches, classes, num_boxes) = nms_layout(boxes.shape, scores.shape)?;
    // Omitted (or empty) limits: no box at all is kept, any overlap suppresses, and every
    // score is a candidate.
    let max_per_class = match given(ins.opt(2)) {
        Some(v) => usize::try_from(v.to_i64_vec()?[0].max(0)).unwrap_or(usize::MAX),
        None => 0,
    };
    let iou_threshold = match given(ins.opt(3)) {
        Some(v) => v.to_f32_vec()?[0],
        None => 0.0,
    };
    let score_threshold = given(ins.opt(4))
        .map(|v| v.to_f32_vec().map(|v| v[0]))
        .transpose()?;

    let coords = boxes.to_f32_vec()?;
    let scores = scores.to_f32_vec()?;
    let extents: Vec<Extent> = coords
        .chunks_exact(4)
        .map(|b| Extent::new(b, center_point_box))
        .collect();

    let mut selected_rows: Vec<i64> = Vec::new();
    let mut candidates: Vec<(f32, usize)> = Vec::with_capacity(num_boxes);
    let mut kept: Vec<usize> = Vec::new();
    for batch in 0..batches {
        let batch_extents = &extents[batch * num_boxes..(batch + 1) * num_boxes];
        for class in 0..classes {
            let offset = (batch * classes + class) * num_boxes;
            let class_scores = &scores[offset..offset + num_boxes];
            candidates.clear();
            candidates.extend(
                class_scores
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| score_threshold.is_none_or(|t| s > t))
                    .map(|(i, &s)| (s, i)),
            );
            candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

            kept.clear();
            for &(_, i) in &candidates {
                if kept.len() >= max_per_class {
                    break;
                }
                let candidate = &batch_extents[i];
                if kept
                    .iter()
                    .all(|&k| !candidate.overlaps(&batch_extents[k], iou_threshold))
                {
                    kept.push(i);
                    selected_rows.extend([batch as i64, class as i64, i as i64]);
                }
            }
        }
    }
    let selected = selected_rows.len() / 3;
    out.set(0, Tensor::from_vec(&[selected, 3], selected_rows)?)
}

/// An optional scalar input, `None` when omitted or empty (the reference treats both alike).
fn given(v: Option<TensorView<'_>>) -> Option<TensorView<'_>> {
    v.filter(|v| !v.is_empty())
}

/// A box as its extent along each axis.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Extent {
    x_min: f32,
    x_max: f32,
    y_min: f32,
    y_max: f32,
}

impl Extent {
    /// From `[y1, x1, y2, x2]` (any two opposite corners) or, with `center_point_box`,
    /// `[x_center, y_center, width, height]`.
    fn new(b: &[f32], center_point_box: bool) -> Extent {
        if center_point_box {
            let (half_w, half_h) = (b[2] / 2.0, b[3] / 2.0);
            Extent {
                x_min: b[0] - half_w,
                x_max: b[0] + half_w,
                y_min: b[1] - half_h,
                y_max: b[1] + half_h,
            }
        } else {
            Extent {
                x_min: b[1].min(b[3]),
                x_max: b[1].max(b[3]),
                y_min: b[0].min(b[2]),
                y_max: b[0].max(b[2]),
            }
        }
    }

    fn area(&self) -> f32 {
        (self.x_max - self.x_min) * (self.y_max - self.y_min)
    }

    /// Whether the intersection over union exceeds `threshold` (degenerate boxes never do).
    fn overlaps(&self, other: &Extent, threshold: f32) -> bool {
        let (x_min, x_max) = (self.x_min.max(other.x_min), self.x_max.min(other.x_max));
        let (y_min, y_max) = (self.y_min.max(other.y_min), self.y_max.min(other.y_max));
        if x_max <= x_min || y_max <= y_min {
            return false;
        }
        let intersection = (x_max - x_min) * (y_max - y_min);
        let (a, b) = (self.area(), other.area());
        let union = a + b - intersection;
        if intersection <= 0.0 || a <= 0.0 || b <= 0.0 || union <= 0.0 {
            return false;
        }
        intersection / union > threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corner_order_does_not_matter() {
        let a = Extent::new(&[1.0, 0.0, 0.0, 1.0], false);
        let b = Extent::new(&[0.0, 1.0, 1.0, 0.0], false);
        assert_eq!(a, b);
    }

    #[test]
    fn iou_is_strictly_above_threshold() {
        // Two unit squares overlapping by half: IoU = 0.5 / 1.5 = 1/3.
        let a = Extent::new(&[0.0, 0.0, 1.0, 1.0], false);
        let b = Extent::new(&[0.0, 0.5, 1.0, 1.5], false);
        assert!(a.overlaps(&b, 0.3));
        assert!(!a.overlaps(&b, 0.34));
        // Touching boxes do not overlap.
        let c = Extent::new(&[0.0, 1.0, 1.0, 2.0], false);
        assert!(!a.overlaps(&c, 0.0));
    }

    #[test]
    fn center_format() {
        let e = Extent::new(&[0.5, 0.5, 1.0, 2.0], true);
        assert_eq!((e.x_min, e.x_max, e.y_min, e.y_max), (0.0, 1.0, -0.5, 1.5));
    }
}
