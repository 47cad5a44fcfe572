//! Reductions (`ReduceSum`, `ReduceMax`... over a set of axes), arg-reductions (`ArgMax`,
//! `ArgMin` along one axis) and the cumulative scans `CumSum` / `CumProd`.
//!
//! Which axes a reduction covers is decided here once ([`Reduce::reduced_axes`]) so that shape
//! inference and the CPU evaluation cannot disagree.

use super::infer_util::{axis, dtype, input, shape};
use crate::ir::Fact;
use crate::{DType, Error, Result};

/// Reductions and scans.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ReduceOp {
    /// `Reduce*` over a set of axes.
    Reduce(Reduce),
    /// `ArgMax` / `ArgMin` along one axis.
    Arg(ArgReduce),
    /// `CumSum` / `CumProd` along an axis given as input 1.
    Cumulative(Cumulative),
}

/// The combining function of a [`Reduce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReduceKind {
    /// Σx
    Sum,
    /// Σx / n
    Mean,
    /// max x
    Max,
    /// min x
    Min,
    /// Πx
    Prod,
    /// Σ|x|
    L1,
    /// √Σx²
    L2,
    /// ln Σx
    LogSum,
    /// ln Σeˣ
    LogSumExp,
    /// Σx²
    SumSquare,
}

impl ReduceKind {
    /// The ONNX op type.
    pub fn onnx_name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "ReduceSum",
            ReduceKind::Mean => "ReduceMean",
            ReduceKind::Max => "ReduceMax",
            ReduceKind::Min => "ReduceMin",
            ReduceKind::Prod => "ReduceProd",
            ReduceKind::L1 => "ReduceL1",
            ReduceKind::L2 => "ReduceL2",
            ReduceKind::LogSum => "ReduceLogSum",
            ReduceKind::LogSumExp => "ReduceLogSumExp",
            ReduceKind::SumSquare => "ReduceSumSquare",
        }
    }
}

/// A reduction over a set of axes. Input 0 is the data; input 1 (newer opsets) the axes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reduce {
    /// The combining function.
    pub kind: ReduceKind,
    /// Axes given as an attribute (older opsets). `None`: they come from input 1 when it is
    /// given, else the default applies (see `noop_with_empty_axes`).
    pub axes: Option<Vec<i64>>,
    /// Keep reduced axes as size-1 dimensions.
    pub keepdims: bool,
    /// With no (or empty) axes: `true` reduces nothing, `false` reduces every axis.
    pub noop_with_empty_axes: bool,
}

impl Reduce {
    /// For an input of `rank`, which axes are reduced. `input_axes` is the value of input 1
    /// (ignored when the attribute form is used).
    pub fn reduced_axes(&self, rank: usize, input_axes: Option<&[i64]>) -> Result<Vec<bool>> {
        let listed = self.axes.as_deref().or(input_axes).unwrap_or(&[]);
        if listed.is_empty() {
            return Ok(vec![!self.noop_with_empty_axes; rank]);
        }
        let mut mask = vec![false; rank];
        for &a in listed {
            let a = axis(a, rank)?;
            // A rank-0 input accepts axis 0/-1 (numpy does too) and reduces nothing.
            if let Some(m) = mask.get_mut(a) {
                if *m {
                    return Err(Error::shape(format!(
                        "axis {a} is listed twice in {listed:?}"
                    )));
                }
                *m = true;
            }
        }
        Ok(mask)
    }
}

/// The output shape of a reduction of `shape` over the axes in `mask`.
pub fn reduced_shape(shape: &[usize], mask: &[bool], keepdims: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&d, &reduced)| match (reduced, keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// `ArgMax` or `ArgMin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ArgKind {
    /// Index of the largest element.
    Max,
    /// Index of the smallest element.
    Min,
}

/// An arg-reduction along one axis; the output is `i64` indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArgReduce {
    /// Max or min.
    pub kind: ArgKind,
    /// The axis (negative counts from the end).
    pub axis: i64,
    /// Keep the axis as a size-1 dimension.
    pub keepdims: bool,
    /// On ties, the last index instead of the first.
    pub select_last_index: bool,
}

/// The combining function of a [`Cumulative`] scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CumKind {
    /// Running sum (`CumSum`).
    Sum,
    /// Running product (`CumProd`).
    Prod,
}

/// Running sum or product along an axis (input 1, a scalar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cumulative {
    /// Sum or product.
    pub kind: CumKind,
    /// Each output excludes its own element (the first output is the identity, 0 or 1).
    pub exclusive: bool,
    /// Combine from the end of the axis towards its start.
    pub reverse: bool,
}

impl ReduceOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Reduce(r) => r.kind.onnx_name(),
            ReduceOp::Arg(a) => match a.kind {
                ArgKind::Max => "ArgMax",
                ArgKind::Min => "ArgMin",
            },
            ReduceOp::Cumulative(c) => match c.kind {
                CumKind::Sum => "CumSum",
                CumKind::Prod => "CumProd",
            },
        }
    }

    /// Output facts from input facts; see [`super::Op::infer`].
    pub fn infer(&self, inputs: &[Option<&Fact>]) -> Result<Vec<Fact>> {
        let data_shape = shape(inputs, 0);
        Ok(match self {
            ReduceOp::Reduce(r) => {
                let out_shape = match (data_shape, reduce_axes_input(r, inputs)?) {
                    (Some(s), AxesInput::Absent) => Some(r.reduced_axes(s.len(), None)?),
                    (Some(s), AxesInput::Known(axes)) => {
                        Some(r.reduced_axes(s.len(), Some(&axes))?)
                    }
                    _ => None,
                }
                .zip(data_shape)
                .map(|(mask, s)| reduced_shape(s, &mask, r.keepdims));
                vec![Fact {
                    dtype: dtype(inputs, 0),
                    shape: out_shape,
                    value: None,
                }]
            }
            ReduceOp::Arg(a) => {
                let out_shape = match data_shape {
                    Some(s) => {
                        let ax = axis(a.axis, s.len())?;
                        let mask: Vec<bool> = (0..s.len()).map(|i| i == ax).collect();
                        Some(reduced_shape(s, &mask, a.keepdims))
                    }
                    None => None,
                };
                vec![Fact {
                    dtype: Some(DType::I64),
                    shape: out_shape,
                    value: None,
                }]
            }
            ReduceOp::Cumulative(_) => vec![Fact {
                dtype: dtype(inputs, 0),
                shape: data_shape.map(|s| s.to_vec()),
                value: None,
            }],
        })
    }
}

/// What inference knows of a reduction's axes input.
enum AxesInput {
    /// Not given (or the attribute form is used).
    Absent,
    /// Given, with a known value.
    Known(Vec<i64>),
    /// Given, value known only at run time.
    Unknown,
}

fn reduce_axes_input(r: &Reduce, inputs: &[Option<&Fact>]) -> Result<AxesInput> {
    if r.axes.is_some() {
        return Ok(AxesInput::Absent);
    }
    Ok(match input(inputs, 1) {
        None => AxesInput::Absent,
        Some(Fact { value: Some(v), .. }) => AxesInput::Known(v.view().to_i64_vec()?),
        Some(_) => AxesInput::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(axes: Option<Vec<i64>>, noop: bool) -> Reduce {
        Reduce {
            kind: ReduceKind::Sum,
            axes,
            keepdims: true,
            noop_with_empty_axes: noop,
        }
    }

    #[test]
    fn empty_axes_reduce_all_or_nothing() {
        assert_eq!(
            sum(None, false).reduced_axes(3, None).unwrap(),
            vec![true; 3]
        );
        assert_eq!(
            sum(None, true).reduced_axes(3, Some(&[])).unwrap(),
            vec![false; 3]
        );
    }

    #[test]
    fn negative_and_duplicate_axes() {
        assert_eq!(
            sum(None, false).reduced_axes(3, Some(&[-1, 0])).unwrap(),
            vec![true, false, true]
        );
        assert!(sum(None, false).reduced_axes(3, Some(&[1, -2])).is_err());
        assert!(sum(Some(vec![3]), false).reduced_axes(3, None).is_err());
    }

    #[test]
    fn shapes_with_and_without_keepdims() {
        let mask = [true, false, true];
        assert_eq!(reduced_shape(&[2, 3, 4], &mask, true), vec![1, 3, 1]);
        assert_eq!(reduced_shape(&[2, 3, 4], &mask, false), vec![3]);
    }
}
