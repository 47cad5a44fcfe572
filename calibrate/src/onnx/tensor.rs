//! TensorProto values: reading float data and building the tensors the writers add.

use super::pb;
use crate::{Error, Result};
use pb::tensor_proto::DataType;

/// ONNX element type codes used here.
pub const FLOAT: i32 = DataType::Float as i32;
pub const FLOAT16: i32 = DataType::Float16 as i32;
pub const INT8: i32 = DataType::Int8 as i32;
pub const UINT8: i32 = DataType::Uint8 as i32;
pub const INT32: i32 = DataType::Int32 as i32;
pub const INT64: i32 = DataType::Int64 as i32;

/// The number of elements of a tensor with dimensions `dims`, or an error for a negative or
/// overflowing shape.
pub fn element_count(dims: &[i64]) -> Result<usize> {
    dims.iter().try_fold(1usize, |acc, &d| {
        usize::try_from(d)
            .ok()
            .and_then(|d| acc.checked_mul(d))
            .ok_or_else(|| Error::Onnx(format!("invalid tensor dimensions {dims:?}")))
    })
}

/// The values of a float32 tensor (raw little-endian bytes or `float_data`).
pub fn to_f32(t: &pb::TensorProto) -> Result<Vec<f32>> {
    if t.data_type != FLOAT {
        return Err(Error::Onnx(format!(
            "tensor '{}' has element type {}, expected float32",
            t.name, t.data_type
        )));
    }
    let n = element_count(&t.dims)?;
    let values: Vec<f32> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    } else {
        t.float_data.clone()
    };
    counted(t, values, n)
}

/// The values of an int64 tensor (shape-like constants).
pub fn to_i64(t: &pb::TensorProto) -> Result<Vec<i64>> {
    if t.data_type != INT64 {
        return Err(Error::Onnx(format!(
            "tensor '{}' has element type {}, expected int64",
            t.name, t.data_type
        )));
    }
    let values: Vec<i64> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8")))
            .collect()
    } else {
        t.int64_data.clone()
    };
    let n = element_count(&t.dims)?;
    counted(t, values, n)
}

/// `values` if there are exactly `n` of them (what `t`'s dimensions say), else an error.
fn counted<T>(t: &pb::TensorProto, values: Vec<T>, n: usize) -> Result<Vec<T>> {
    if values.len() != n {
        return Err(Error::Onnx(format!(
            "tensor '{}' holds {} values for dimensions {:?}",
            t.name,
            values.len(),
            t.dims
        )));
    }
    Ok(values)
}

fn raw(name: &str, dims: &[i64], data_type: i32, raw_data: Vec<u8>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.to_string(),
        dims: dims.to_vec(),
        data_type,
        raw_data,
        ..Default::default()
    }
}

/// A float32 tensor.
pub fn from_f32(name: &str, dims: &[i64], values: &[f32]) -> pb::TensorProto {
    raw(
        name,
        dims,
        FLOAT,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// A float16 tensor (values rounded to nearest even).
pub fn from_f32_as_f16(name: &str, dims: &[i64], values: &[f32]) -> pb::TensorProto {
    let bytes = values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    raw(name, dims, FLOAT16, bytes)
}

/// An int8 tensor.
pub fn from_i8(name: &str, dims: &[i64], values: &[i8]) -> pb::TensorProto {
    raw(name, dims, INT8, values.iter().map(|&v| v as u8).collect())
}

/// A uint8 tensor.
pub fn from_u8(name: &str, dims: &[i64], values: &[u8]) -> pb::TensorProto {
    raw(name, dims, UINT8, values.to_vec())
}

/// An int32 tensor.
pub fn from_i32(name: &str, dims: &[i64], values: &[i32]) -> pb::TensorProto {
    raw(
        name,
        dims,
        INT32,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

/// An int64 tensor.
pub fn from_i64(name: &str, dims: &[i64], values: &[i64]) -> pb::TensorProto {
    raw(
        name,
        dims,
        INT64,
        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}
