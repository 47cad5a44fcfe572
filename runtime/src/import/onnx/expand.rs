//! Expansion of one ONNX node into a small subgraph of standard `ai.onnx` nodes.
//!
//! Some ops are exact compositions of standard ones (onnxruntime's `com.microsoft.QLinearAdd`
//! is `QuantizeLinear(Add(DequantizeLinear(A), DequantizeLinear(B)))`). Rather than give each
//! its own IR op and kernel, the importer rewrites such a node into standard `NodeProto`s and
//! translates those exactly as if the model had contained them: attribute parsing, validation
//! and lowering are the ones of the standard ops, and later passes (the QDQ folding) see the
//! usual patterns.
//!
//! An [`Expander`] collects the new nodes. Intermediate values get fresh names derived from the
//! expanded node's first output (`<output>#mote<k>`): output names are unique in a valid model
//! (SSA), so two expansions cannot collide, and the `#mote` suffix keeps them apart from the
//! model's own names. The last node of an expansion writes the original output names, so the
//! rest of the graph is untouched. Constants become `Constant` nodes.
//!
//! Each new node carries the `ai.onnx` opset whose semantics it is written for
//! ([`Synthetic::opset`]), independent of the model's opset: an expansion of a model at opset
//! 11 can still emit a `Softmax` with opset-13 axis semantics or a `ReduceMean` with an `axes`
//! attribute.

use super::{pb, tensor_proto};
use crate::Tensor;

/// The opset the expansions are written for unless they say otherwise: `axes` of ReduceMean
/// is still an attribute, Softmax normalizes along one axis, Unsqueeze/Reshape take inputs.
pub(super) const EXPANSION_OPSET: i64 = 13;

/// A standard node produced by an expansion.
pub(super) struct Synthetic {
    /// The node (default domain).
    pub(super) proto: pb::NodeProto,
    /// The `ai.onnx` opset whose semantics the node follows.
    pub(super) opset: i64,
}

/// Builds the subgraph replacing one node.
pub(super) struct Expander<'a> {
    origin: &'a pb::NodeProto,
    nodes: Vec<Synthetic>,
    fresh: usize,
}

/// An int attribute.
pub(super) fn attr_int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: 2, // INT
        i: v,
        ..Default::default()
    }
}

/// A float attribute.
pub(super) fn attr_float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: 1, // FLOAT
        f: v,
        ..Default::default()
    }
}

/// A list-of-ints attribute.
pub(super) fn attr_ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.to_string(),
        r#type: 7, // INTS
        ints: v.to_vec(),
        ..Default::default()
    }
}

impl<'a> Expander<'a> {
    /// Starts the expansion of `origin`.
    pub(super) fn new(origin: &'a pb::NodeProto) -> Self {
        Expander {
            origin,
            nodes: Vec::new(),
            fresh: 0,
        }
    }

    /// Input `i` of the expanded node, `None` when absent or written as "".
    pub(super) fn input(&self, i: usize) -> Option<&'a str> {
        self.origin
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A new value name, unique within the model (see the module docs).
    fn fresh_name(&mut self) -> String {
        let base = self
            .origin
            .output
            .first()
            .map(String::as_str)
            .unwrap_or(&self.origin.name);
        self.fresh += 1;
        format!("{base}#mote{}", self.fresh)
    }

    /// Appends `op_type(inputs) -> outputs` at `opset`; "" marks an omitted optional input.
    pub(super) fn node_at(
        &mut self,
        opset: i64,
        op_type: &str,
        inputs: &[&str],
        outputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
    ) {
        // Node names point back at the expanded node so errors can be traced to the model.
        let name = format!("{}/{}{}", self.origin.name, op_type, self.nodes.len() + 1);
        self.nodes.push(Synthetic {
            proto: pb::NodeProto {
                input: inputs.iter().map(|s| s.to_string()).collect(),
                output: outputs.iter().map(|s| s.to_string()).collect(),
                name,
                op_type: op_type.to_string(),
                attribute,
                ..Default::default()
            },
            opset,
        });
    }

    /// Appends a one-output node writing a fresh value, and returns that value's name.
    pub(super) fn node(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        let out = self.fresh_name();
        self.node_at(EXPANSION_OPSET, op_type, inputs, &[&out], attribute);
        out
    }

    /// A `Constant` node holding `t`; returns its name.
    pub(super) fn constant(&mut self, t: &Tensor) -> String {
        let out = self.fresh_name();
        let value = pb::AttributeProto {
            name: "value".to_string(),
            r#type: 4, // TENSOR
            t: Some(tensor_proto::encode(t, &out)),
            ..Default::default()
        };
        self.node_at(EXPANSION_OPSET, "Constant", &[], &[&out], vec![value]);
        out
    }

    /// `DequantizeLinear(x, scale, zero_point)`; an absent zero point means 0.
    pub(super) fn dequantize(&mut self, x: &str, scale: &str, zero_point: Option<&str>) -> String {
        self.dequantize_axis(x, scale, zero_point, 1)
    }

    /// `DequantizeLinear` with per-axis parameters along `axis` (ignored for scalar ones).
    pub(super) fn dequantize_axis(
        &mut self,
        x: &str,
        scale: &str,
        zero_point: Option<&str>,
        axis: i64,
    ) -> String {
        let mut inputs = vec![x, scale];
        inputs.extend(zero_point);
        self.node("DequantizeLinear", &inputs, vec![attr_int("axis", axis)])
    }

    /// `QuantizeLinear(y, scale, zero_point) -> output`. Without a zero point the result has
    /// the type of `like` (the ORT contrib ops' output type is their input's) with zero point
    /// 0: `CastLike(0, like)` gives that zero point whatever `like`'s type turns out to be.
    pub(super) fn quantize_to(
        &mut self,
        y: &str,
        scale: &str,
        zero_point: Option<&str>,
        like: &str,
        output: &str,
    ) {
        let zp = match zero_point {
            Some(z) => z.to_string(),
            None => {
                let zero = self.constant(&Tensor::scalar(0u8));
                self.node("CastLike", &[&zero, like], vec![])
            }
        };
        self.node_at(
            EXPANSION_OPSET,
            "QuantizeLinear",
            &[y, scale, &zp],
            &[output],
            vec![],
        );
    }

    /// The new nodes, in execution order.
    pub(super) fn finish(self) -> Vec<Synthetic> {
        self.nodes
    }
}
