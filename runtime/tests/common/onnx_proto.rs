//! ONNX protobuf pieces for tests that write their models in memory: typed graph values and
//! initializers from Mote tensors.

use mote::{DType, Tensor};
use tract_onnx::pb;

/// The ONNX tensor type code of `dtype` (the types these tests write).
pub(crate) fn onnx_code(dtype: DType) -> i32 {
    match dtype {
        DType::F32 => 1,
        DType::U8 => 2,
        DType::I8 => 3,
        DType::I32 => 6,
        other => panic!("no code for {other}"),
    }
}

/// A graph input or output `name` of `dtype` and fixed `shape`.
pub(crate) fn value_info(name: &str, dtype: DType, shape: &[usize]) -> pb::ValueInfoProto {
    let dim = shape
        .iter()
        .map(|&d| pb::tensor_shape_proto::Dimension {
            value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d as i64)),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: onnx_code(dtype),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An initializer `name` holding `t` (raw little-endian data).
pub(crate) fn initializer(name: &str, t: &Tensor) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: onnx_code(t.dtype()),
        raw_data: t.bytes().to_vec(),
        ..Default::default()
    }
}
