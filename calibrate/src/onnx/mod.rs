//! Reading, editing and writing ONNX models.
//!
//! The protobuf types are tract-onnx's prost-generated ones (`tract_onnx::pb`, re-exported
//! here as [`pb`]), the same ones Mote's importer decodes with: they are public, derive
//! `prost::Message`, and the workspace's prost encodes them, so no second protobuf codec or
//! build-time code generation is needed. Fields that schema does not know are dropped on
//! decode; every field of ONNX's `onnx.proto3` that a model written by current exporters uses
//! is in it.

pub mod equalize;
pub mod fold;
pub mod graph;
pub mod tensor;
pub mod upgrade;

pub use tract_onnx::pb;

use crate::{Error, Result};
use prost::Message;
use std::path::Path;

/// The default ("ai.onnx") operator set domain names: ONNX writes it as "" or "ai.onnx".
pub fn is_default_domain(domain: &str) -> bool {
    domain.is_empty() || domain == "ai.onnx"
}

/// Decodes a model from its protobuf bytes; a model without a graph is refused.
pub fn decode(bytes: &[u8]) -> Result<pb::ModelProto> {
    let model = pb::ModelProto::decode(bytes)
        .map_err(|e| Error::Onnx(format!("not a valid ONNX protobuf: {e}")))?;
    if model.graph.is_none() {
        return Err(Error::Onnx("the model has no graph".into()));
    }
    Ok(model)
}

/// Encodes a model to protobuf bytes.
pub fn encode(model: &pb::ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Reads and decodes an ONNX file. Tensors stored as external data are refused (the writers
/// would have to rewrite those files too).
pub fn load(path: impl AsRef<Path>) -> Result<pb::ModelProto> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let model = decode(&bytes).map_err(|e| match e {
        Error::Onnx(m) => Error::Onnx(format!("{}: {m}", path.display())),
        other => other,
    })?;
    let g = graph_of(&model)?;
    if let Some(t) = g.initializer.iter().find(|t| !t.external_data.is_empty()) {
        return Err(Error::Onnx(format!(
            "{}: initializer '{}' is stored as external data, which calibrate does not \
             support; save the model with all tensors inside the .onnx file",
            path.display(),
            t.name
        )));
    }
    Ok(model)
}

/// Encodes and writes an ONNX file.
pub fn save(model: &pb::ModelProto, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, encode(model)).map_err(|e| Error::io(path, e))
}

/// The model's graph.
pub fn graph_of(model: &pb::ModelProto) -> Result<&pb::GraphProto> {
    model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Onnx("the model has no graph".into()))
}

/// The model's graph, mutably.
pub fn graph_mut(model: &mut pb::ModelProto) -> Result<&mut pb::GraphProto> {
    model
        .graph
        .as_mut()
        .ok_or_else(|| Error::Onnx("the model has no graph".into()))
}

/// The version of the default operator set the model imports (ONNX reads a model with no
/// default-domain import as opset 1).
pub fn opset(model: &pb::ModelProto) -> i64 {
    model
        .opset_import
        .iter()
        .find(|o| is_default_domain(&o.domain))
        .map_or(1, |o| o.version)
}

/// The version of operator set `domain` the model imports, if any.
pub fn domain_opset(model: &pb::ModelProto, domain: &str) -> Option<i64> {
    model
        .opset_import
        .iter()
        .find(|o| o.domain == domain)
        .map(|o| o.version)
}

/// Sets the default operator set version, keeping every other import as it is.
pub fn set_opset(model: &mut pb::ModelProto, version: i64) {
    match model
        .opset_import
        .iter_mut()
        .find(|o| is_default_domain(&o.domain))
    {
        Some(o) => o.version = version,
        None => model.opset_import.push(pb::OperatorSetIdProto {
            domain: String::new(),
            version,
        }),
    }
}
