//! A tolerant walk over an ONNX model for `mote inspect`: every op and whether Mote can lower
//! it, without stopping at the first problem.

use super::node::NodeCx;
use super::{contrib, is_default_domain, lower, pb, tensor_proto};
use crate::{Error, Result};
use prost::Message;
use std::collections::BTreeMap;

/// What a model contains, and what Mote cannot run of it.
#[derive(Debug, Default)]
pub struct Survey {
    /// The `ai.onnx` opset.
    pub opset: i64,
    /// ONNX op type (`domain.op` outside the default domain) -> node count (control-flow
    /// bodies included).
    pub op_histogram: BTreeMap<String, usize>,
    /// One message per distinct unsupported op type (with the first node's reason).
    pub unsupported: BTreeMap<String, String>,
    /// Element type name -> (parameter count, bytes) over initializers and Constant nodes.
    pub parameters: BTreeMap<String, (usize, usize)>,
}

/// Surveys an ONNX model.
pub fn survey(bytes: &[u8]) -> Result<Survey> {
    let model = pb::ModelProto::decode(bytes).map_err(|e| {
        Error::invalid_model(format!("not an ONNX model (protobuf decode failed: {e})"))
    })?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| is_default_domain(&o.domain))
        .map(|o| o.version)
        .max()
        .unwrap_or(1);
    let mut s = Survey {
        opset,
        ..Default::default()
    };
    if let Some(g) = &model.graph {
        walk(g, &mut s);
    }
    Ok(s)
}

fn count_tensor(t: &pb::TensorProto, s: &mut Survey) {
    let name = crate::DType::from_onnx_code(t.data_type)
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("onnx type {}", t.data_type));
    let n: usize = t.dims.iter().map(|&d| d.max(0) as usize).product();
    // External or typed-field data: count what the tensor decodes to when it can.
    let bytes = tensor_proto::decode(t, None)
        .map(|t| t.bytes().len())
        .unwrap_or(t.raw_data.len());
    let e = s.parameters.entry(name).or_default();
    e.0 += n;
    e.1 += bytes;
}

fn walk(g: &pb::GraphProto, s: &mut Survey) {
    for t in &g.initializer {
        count_tensor(t, s);
    }
    for np in &g.node {
        // Ops of other domains are listed as `domain.op` so that, e.g., the standard
        // QLinearConv and com.microsoft's are told apart.
        let key = if is_default_domain(&np.domain) {
            np.op_type.clone()
        } else {
            format!("{}.{}", np.domain, np.op_type)
        };
        *s.op_histogram.entry(key.clone()).or_default() += 1;
        for a in &np.attribute {
            if let Some(sub) = &a.g {
                walk(sub, s);
            }
            for sub in &a.graphs {
                walk(sub, s);
            }
            if np.op_type == "Constant" {
                if let Some(t) = &a.t {
                    count_tensor(t, s);
                }
            }
        }
        if s.unsupported.contains_key(&key) {
            continue;
        }
        let reason = if np.domain == contrib::DOMAIN {
            contrib::check(np, s.opset)
        } else if !is_default_domain(&np.domain) {
            Some(format!("domain '{}' is not supported", np.domain))
        } else if matches!(np.op_type.as_str(), "Constant" | "If" | "Loop" | "Scan") {
            None
        } else {
            lower::lower(&NodeCx {
                proto: np,
                opset: s.opset,
            })
            .err()
            .map(|e| e.to_string())
        };
        if let Some(reason) = reason {
            s.unsupported.insert(key, reason);
        }
    }
}
