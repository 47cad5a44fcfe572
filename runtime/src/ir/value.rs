//! What the IR knows about a value before any data flows.

use crate::DType;

/// One dimension: known, or named/unknown until concrete input shapes arrive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Dim {
    /// A fixed size.
    Known(usize),
    /// A symbolic size (`"batch"`), or `"?"` when the model gave no name and no value.
    Symbol(String),
}

/// Quantization parameters of a value (per tensor, per axis, or per block along an axis).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuantParams {
    /// The stored integer type.
    pub dtype: DType,
    /// One scale per tensor, channel or block.
    pub scale: Vec<f32>,
    /// One zero point per scale.
    pub zero_point: Vec<i32>,
    /// The channel axis for per-axis and blocked quantization.
    pub axis: Option<usize>,
    /// Block length along `axis` for blocked quantization.
    pub block_size: Option<usize>,
}

/// Static facts about a value.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ValueInfo {
    /// Name in the source model (unique within a graph).
    pub name: String,
    /// Element type, if known.
    pub dtype: Option<DType>,
    /// Shape, if the rank is known.
    pub shape: Option<Vec<Dim>>,
    /// Quantization parameters when the value holds quantized integers.
    pub quant: Option<QuantParams>,
}

impl ValueInfo {
    /// A value known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        ValueInfo {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The shape when every dim is known.
    pub fn concrete_shape(&self) -> Option<Vec<usize>> {
        self.shape
            .as_ref()?
            .iter()
            .map(|d| match d {
                Dim::Known(n) => Some(*n),
                Dim::Symbol(_) => None,
            })
            .collect()
    }
}
