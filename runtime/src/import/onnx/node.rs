//! One ONNX node as seen by the lowering functions: op type, opset, typed attribute access,
//! and errors that name the op, the node and the opset.

use super::{pb, tensor_proto};
use crate::{Error, Result, Tensor};

/// ONNX `AttributeProto.AttributeType` codes.
mod attr_type {
    pub(super) const FLOAT: i32 = 1;
    pub(super) const INT: i32 = 2;
    pub(super) const STRING: i32 = 3;
    pub(super) const TENSOR: i32 = 4;
    pub(super) const FLOATS: i32 = 6;
    pub(super) const INTS: i32 = 7;
    pub(super) const STRINGS: i32 = 8;
}

/// A node being lowered.
pub(crate) struct NodeCx<'a> {
    pub(crate) proto: &'a pb::NodeProto,
    /// The model's `ai.onnx` opset.
    pub(crate) opset: i64,
}

impl<'a> NodeCx<'a> {
    /// The ONNX op type (`Conv`, `Add`...).
    pub(crate) fn op_type(&self) -> &'a str {
        &self.proto.op_type
    }

    /// The node's name.
    pub(crate) fn name(&self) -> &'a str {
        &self.proto.name
    }

    /// Number of inputs listed (including omitted optional ones written as "").
    pub(crate) fn input_count(&self) -> usize {
        self.proto.input.len()
    }

    /// Whether optional input `i` is given.
    pub(crate) fn has_input(&self, i: usize) -> bool {
        self.proto.input.get(i).is_some_and(|s| !s.is_empty())
    }

    /// Number of outputs listed.
    pub(crate) fn output_count(&self) -> usize {
        self.proto.output.len()
    }

    /// An "unsupported" error naming op, node and opset.
    pub(crate) fn unsupported(&self, reason: impl std::fmt::Display) -> Error {
        Error::unsupported(
            self.op_type(),
            format!("node '{}' (opset {}): {reason}", self.name(), self.opset),
        )
    }

    /// An "invalid model" error naming op, node and opset.
    pub(crate) fn invalid(&self, reason: impl std::fmt::Display) -> Error {
        Error::invalid_model(format!(
            "{} node '{}' (opset {}): {reason}",
            self.op_type(),
            self.name(),
            self.opset
        ))
    }

    fn attr(&self, name: &str, expected: i32) -> Result<Option<&'a pb::AttributeProto>> {
        match self.proto.attribute.iter().find(|a| a.name == name) {
            None => Ok(None),
            Some(a) if !a.ref_attr_name.is_empty() => {
                Err(self.unsupported(format!("attribute '{name}' refers to a function attribute")))
            }
            // Type 0 (undefined) appears in old models; trust the field then.
            Some(a) if a.r#type == expected || a.r#type == 0 => Ok(Some(a)),
            Some(a) => Err(self.invalid(format!(
                "attribute '{name}' has type {} where type {expected} is expected",
                a.r#type
            ))),
        }
    }

    /// Whether the attribute is present.
    pub(crate) fn has_attr(&self, name: &str) -> bool {
        self.proto.attribute.iter().any(|a| a.name == name)
    }

    /// An optional int attribute.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.attr(name, attr_type::INT)?.map(|a| a.i))
    }

    /// An int attribute with a default.
    pub(crate) fn int_or(&self, name: &str, default: i64) -> Result<i64> {
        Ok(self.int(name)?.unwrap_or(default))
    }

    /// An optional float attribute.
    pub(crate) fn float(&self, name: &str) -> Result<Option<f32>> {
        Ok(self.attr(name, attr_type::FLOAT)?.map(|a| a.f))
    }

    /// A float attribute with a default.
    pub(crate) fn float_or(&self, name: &str, default: f32) -> Result<f32> {
        Ok(self.float(name)?.unwrap_or(default))
    }

    /// An optional list-of-ints attribute.
    pub(crate) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.attr(name, attr_type::INTS)?.map(|a| a.ints.clone()))
    }

    /// An optional list-of-floats attribute.
    pub(crate) fn floats(&self, name: &str) -> Result<Option<Vec<f32>>> {
        Ok(self
            .attr(name, attr_type::FLOATS)?
            .map(|a| a.floats.clone()))
    }

    /// An optional string attribute (UTF-8).
    pub(crate) fn string(&self, name: &str) -> Result<Option<String>> {
        self.attr(name, attr_type::STRING)?
            .map(|a| {
                String::from_utf8(a.s.clone())
                    .map_err(|_| self.invalid(format!("attribute '{name}' is not UTF-8")))
            })
            .transpose()
    }

    /// A string attribute with a default.
    pub(crate) fn string_or(&self, name: &str, default: &str) -> Result<String> {
        Ok(self.string(name)?.unwrap_or_else(|| default.to_string()))
    }

    /// An optional list-of-strings attribute.
    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.attr(name, attr_type::STRINGS)?
            .map(|a| {
                a.strings
                    .iter()
                    .map(|s| {
                        String::from_utf8(s.clone())
                            .map_err(|_| self.invalid(format!("attribute '{name}' is not UTF-8")))
                    })
                    .collect()
            })
            .transpose()
    }

    /// An optional tensor attribute.
    pub(crate) fn tensor(&self, name: &str) -> Result<Option<Tensor>> {
        self.attr(name, attr_type::TENSOR)?
            .and_then(|a| a.t.as_ref())
            .map(|t| tensor_proto::decode(t, None).map_err(|e| e.context_with(self.name())))
            .transpose()
    }
}
