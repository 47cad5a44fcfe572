//! Serde for [`Graph`] (constants go to the blob section, see `blobs.rs`) and for tensors held
//! inline in op attributes (small: `ConstantOfShape`'s fill value).

use super::blobs::{self, ConstRef};
use crate::ir::{Graph, Node, ValueId, ValueInfo};
use crate::tensor::byte_len;
use crate::{DType, Tensor};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Serialize)]
struct GraphOut<'a> {
    values: &'a [ValueInfo],
    inputs: &'a [ValueId],
    outputs: &'a [ValueId],
    captures: &'a [ValueId],
    constants: Vec<(ValueId, ConstRef)>,
    nodes: &'a [Node],
}

#[derive(Deserialize)]
struct GraphIn {
    values: Vec<ValueInfo>,
    inputs: Vec<ValueId>,
    outputs: Vec<ValueId>,
    captures: Vec<ValueId>,
    constants: Vec<(ValueId, ConstRef)>,
    nodes: Vec<Node>,
}

impl Serialize for Graph {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let constants = self
            .constants
            .iter()
            .map(|(&id, t)| {
                blobs::place(t)
                    .map(|c| (id, c))
                    .ok_or_else(|| S::Error::custom("graphs can only be written by format::write"))
            })
            .collect::<Result<_, _>>()?;
        GraphOut {
            values: &self.values,
            inputs: &self.inputs,
            outputs: &self.outputs,
            captures: &self.captures,
            constants,
            nodes: &self.nodes,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Graph {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Graph, D::Error> {
        blobs::enter_graph().map_err(blobs::de_error::<D::Error>)?;
        let parsed = GraphIn::deserialize(d);
        blobs::leave_graph();
        let g = parsed?;
        let mut constants = BTreeMap::new();
        for (id, c) in &g.constants {
            let t = blobs::resolve(c).map_err(blobs::de_error::<D::Error>)?;
            if constants.insert(*id, Arc::new(t)).is_some() {
                return Err(blobs::de_error::<D::Error>(format!(
                    "value {} has two constants",
                    id.0
                )));
            }
        }
        Ok(Graph {
            values: g.values,
            nodes: g.nodes,
            inputs: g.inputs,
            outputs: g.outputs,
            constants,
            captures: g.captures,
        })
    }
}

#[derive(Serialize)]
struct TensorOut<'a> {
    dtype: DType,
    shape: &'a [usize],
    #[serde(with = "serde_bytes_slice")]
    bytes: &'a [u8],
}

#[derive(Deserialize)]
struct TensorIn {
    dtype: DType,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// `&[u8]` as one byte string rather than a sequence of integers.
mod serde_bytes_slice {
    pub(super) fn serialize<S: serde::Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
}

impl Serialize for Tensor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TensorOut {
            dtype: self.dtype(),
            shape: self.shape(),
            bytes: self.bytes(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tensor, D::Error> {
        let t = TensorIn::deserialize(d)?;
        let expected = byte_len(t.dtype, &t.shape).map_err(blobs::de_error::<D::Error>)?;
        if t.bytes.len() != expected {
            return Err(blobs::de_error::<D::Error>(format!(
                "inline tensor {}{:?} has {} bytes, needs {expected}",
                t.dtype,
                t.shape,
                t.bytes.len()
            )));
        }
        Tensor::from_bytes(t.dtype, &t.shape, &t.bytes).map_err(blobs::de_error::<D::Error>)
    }
}
