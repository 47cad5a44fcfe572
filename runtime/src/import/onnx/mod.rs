//! ONNX import: the only module that sees tract types (`tract_onnx::pb`, the protobuf layer).
//!
//! We lower from the ONNX protobuf, op by op, following ONNX semantics; tract's own typed or
//! optimized graph is never used (it folds DequantizeLinear of weights into f32, and its ops
//! are tract's kernels, not ours).

mod contrib;
mod expand;
mod graph;
pub(crate) mod lower;
mod node;
mod survey;
pub(crate) mod tensor_proto;

pub use survey::{survey, Survey};
pub(crate) use tract_onnx::pb;

use crate::ir::Graph;
use crate::{Error, Result, Tensor};
use prost::Message;
use std::path::Path;

/// The newest `ai.onnx` opset Mote knows (what onnx 1.23.2 generates).
pub const MAX_OPSET: i64 = 28;

/// Domains whose nodes Mote lowers (the default domain under its two spellings).
fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// Parses an ONNX model. `model_dir` locates external data.
pub(crate) fn load(bytes: &[u8], model_dir: Option<&Path>) -> Result<Graph> {
    let model = pb::ModelProto::decode(bytes).map_err(|e| {
        Error::invalid_model(format!("not an ONNX model (protobuf decode failed: {e})"))
    })?;
    let mut opset = None;
    for o in &model.opset_import {
        if is_default_domain(&o.domain) {
            opset = Some(o.version);
        }
    }
    let opset = match opset {
        Some(v) if v > MAX_OPSET => {
            return Err(Error::unsupported(
                "opset",
                format!("the model uses ai.onnx opset {v}; Mote supports opsets up to {MAX_OPSET}"),
            ))
        }
        Some(v) => v,
        // IR versions before 3 had no opset_import; opset 1 was implied.
        None if model.opset_import.is_empty() => 1,
        None => {
            let domains: Vec<&str> = model
                .opset_import
                .iter()
                .map(|o| o.domain.as_str())
                .collect();
            return Err(Error::unsupported(
                "domain",
                format!("the model imports only the opset domains {domains:?}; Mote runs the default ai.onnx domain"),
            ));
        }
    };
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::invalid_model("the model has no graph"))?;
    let cx = graph::ImportCx {
        opset,
        model_dir,
        functions: &model.functions,
    };
    let g = graph::translate(&cx, graph, &[])?.graph;
    g.validate()?;
    Ok(g)
}

/// Reads a `TensorProto` file (the ONNX test-data format).
pub fn read_tensor_file(path: &Path) -> Result<Tensor> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::new(crate::ErrorKind::Io, format!("{}: {e}", path.display())))?;
    let proto = pb::TensorProto::decode(bytes.as_slice()).map_err(|e| {
        Error::invalid_model(format!("{} is not a TensorProto: {e}", path.display()))
    })?;
    tensor_proto::decode(&proto, path.parent())
}

/// Serializes a tensor as a `TensorProto` (the ONNX test-data format).
pub fn tensor_to_proto_bytes(t: &Tensor, name: &str) -> Vec<u8> {
    tensor_proto::encode(t, name).encode_to_vec()
}
