//! What shape inference knows about a value for one concrete set of input shapes.

use crate::{DType, Tensor};
use std::sync::Arc;

/// Inference state of one value: any of dtype, concrete shape, and constant value may be known.
/// Unknown is always a correct answer: it only costs planning (the value gets a dynamically
/// sized buffer) and folding opportunities.
#[derive(Debug, Clone, Default)]
pub struct Fact {
    /// Element type.
    pub dtype: Option<DType>,
    /// Concrete shape.
    pub shape: Option<Vec<usize>>,
    /// Known value (then dtype and shape are known too).
    pub value: Option<Arc<Tensor>>,
}

impl Fact {
    /// Nothing known.
    pub fn unknown() -> Fact {
        Fact::default()
    }
    /// Type and shape known.
    pub fn typed(dtype: DType, shape: Vec<usize>) -> Fact {
        Fact {
            dtype: Some(dtype),
            shape: Some(shape),
            value: None,
        }
    }
    /// Only the type known.
    pub fn of_dtype(dtype: DType) -> Fact {
        Fact {
            dtype: Some(dtype),
            shape: None,
            value: None,
        }
    }
    /// A known value.
    pub fn constant(t: Arc<Tensor>) -> Fact {
        Fact {
            dtype: Some(t.dtype()),
            shape: Some(t.shape().to_vec()),
            value: Some(t),
        }
    }
    /// True when both dtype and shape are known.
    pub fn is_concrete(&self) -> bool {
        self.dtype.is_some() && self.shape.is_some()
    }
}
