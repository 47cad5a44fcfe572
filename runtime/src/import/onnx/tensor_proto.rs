//! ONNX `TensorProto` <-> [`Tensor`]: raw or typed fields, external data, sub-byte packing.

use super::pb;
use crate::tensor::{byte_len, numel};
use crate::{DType, Error, Result, Tensor};
use std::path::Path;

/// Elements per byte in ONNX's packed storage of sub-byte types.
fn packing(dtype: DType) -> usize {
    match dtype {
        DType::U4 | DType::I4 | DType::F4E2M1 => 2,
        DType::U2 | DType::I2 => 4,
        _ => 1,
    }
}

/// The dims as `usize`, refusing negative ones.
fn dims(t: &pb::TensorProto) -> Result<Vec<usize>> {
    t.dims
        .iter()
        .map(|&d| {
            usize::try_from(d)
                .map_err(|_| Error::invalid_model(format!("tensor '{}' has dim {d}", t.name)))
        })
        .collect()
}

/// Decodes a tensor; `model_dir` resolves external data (None: external data is an error).
pub(crate) fn decode(t: &pb::TensorProto, model_dir: Option<&Path>) -> Result<Tensor> {
    let dtype = DType::from_onnx_code(t.data_type).ok_or_else(|| {
        Error::unsupported(
            "tensor",
            format!(
                "tensor '{}' has ONNX data type {} (string/complex are not supported)",
                t.name, t.data_type
            ),
        )
    })?;
    let shape = dims(t)?;
    let n = numel(&shape);
    byte_len(dtype, &shape)?;
    let external = t.data_location == Some(1) || !t.external_data.is_empty();
    let raw: Option<Vec<u8>> = if external {
        Some(read_external(t, model_dir)?)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(t.raw_data.clone())
    } else {
        None
    };
    let per_byte = packing(dtype);
    if let Some(raw) = raw {
        if per_byte > 1 {
            return unpack_subbyte(dtype, &shape, &raw, &t.name);
        }
        return Tensor::from_bytes(dtype, &shape, &raw)
            .map_err(|e| e.context_with(format!("initializer '{}'", t.name)));
    }
    let mismatch = |got: usize| {
        Error::invalid_model(format!(
            "tensor '{}' holds {got} values for shape {shape:?}",
            t.name
        ))
    };
    let bytes: Vec<u8> = match dtype {
        DType::F32 => {
            (t.float_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.float_data.len()))?;
            bytemuck::cast_slice(&t.float_data).to_vec()
        }
        DType::F64 => {
            (t.double_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.double_data.len()))?;
            bytemuck::cast_slice(&t.double_data).to_vec()
        }
        DType::I64 => {
            (t.int64_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.int64_data.len()))?;
            bytemuck::cast_slice(&t.int64_data).to_vec()
        }
        DType::U64 => {
            (t.uint64_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.uint64_data.len()))?;
            bytemuck::cast_slice(&t.uint64_data).to_vec()
        }
        DType::U32 => {
            (t.uint64_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.uint64_data.len()))?;
            t.uint64_data
                .iter()
                .flat_map(|&v| (v as u32).to_le_bytes())
                .collect()
        }
        _ if per_byte > 1 => {
            // Packed bytes, one per int32 element.
            let packed: Vec<u8> = t.int32_data.iter().map(|&v| v as u8).collect();
            return unpack_subbyte(dtype, &shape, &packed, &t.name);
        }
        _ => {
            // Everything else travels in int32_data, one element per entry (bit patterns for
            // the 16- and 8-bit float types).
            (t.int32_data.len() == n)
                .then_some(())
                .ok_or_else(|| mismatch(t.int32_data.len()))?;
            let size = dtype.size();
            t.int32_data
                .iter()
                .flat_map(|&v| v.to_le_bytes().into_iter().take(size))
                .collect()
        }
    };
    Tensor::from_bytes(dtype, &shape, &bytes)
}

/// Expands 2 (4-bit) or 4 (2-bit) packed elements per byte, low bits first, sign-extending
/// signed integer types.
fn unpack_subbyte(dtype: DType, shape: &[usize], packed: &[u8], name: &str) -> Result<Tensor> {
    let n = numel(shape);
    let per_byte = packing(dtype);
    let bits = 8 / per_byte;
    if packed.len() != n.div_ceil(per_byte) {
        return Err(Error::invalid_model(format!(
            "tensor '{name}': {} packed bytes for {n} {dtype} elements",
            packed.len()
        )));
    }
    let mask = (1u8 << bits) - 1;
    let out: Vec<u8> = (0..n)
        .map(|i| {
            let v = (packed[i / per_byte] >> ((i % per_byte) * bits)) & mask;
            if dtype.is_signed_integer() && v >> (bits - 1) == 1 {
                v | !mask
            } else {
                v
            }
        })
        .collect();
    Tensor::from_bytes(dtype, shape, &out)
}

/// Packs sub-byte elements the way ONNX stores them.
fn pack_subbyte(dtype: DType, bytes: &[u8]) -> Vec<u8> {
    let per_byte = packing(dtype);
    let bits = 8 / per_byte;
    let mask = (1u8 << bits) - 1;
    bytes
        .chunks(per_byte)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |acc, (j, &v)| acc | ((v & mask) << (j * bits)))
        })
        .collect()
}

fn read_external(t: &pb::TensorProto, model_dir: Option<&Path>) -> Result<Vec<u8>> {
    let get = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let location = get("location").ok_or_else(|| {
        Error::invalid_model(format!(
            "tensor '{}' has external data without a location",
            t.name
        ))
    })?;
    let dir = model_dir.ok_or_else(|| {
        Error::invalid_model(format!(
            "tensor '{}' has external data but the model was loaded from memory",
            t.name
        ))
    })?;
    let rel = Path::new(location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::invalid_model(format!(
            "external data location {location:?} must stay inside the model directory"
        )));
    }
    let bytes = std::fs::read(dir.join(rel)).map_err(|e| {
        Error::new(
            crate::ErrorKind::Io,
            format!("external data {location:?}: {e}"),
        )
    })?;
    let parse = |key: &str| -> Result<Option<usize>> {
        get(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| Error::invalid_model(format!("bad {key} {v:?}")))
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    let length = match parse("length")? {
        Some(l) => l,
        None => bytes.len().saturating_sub(offset),
    };
    let end = offset
        .checked_add(length)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            Error::invalid_model(format!(
                "external data of '{}' lies outside {location:?}",
                t.name
            ))
        })?;
    Ok(bytes[offset..end].to_vec())
}

/// Encodes a tensor as a `TensorProto` with `raw_data`.
pub(crate) fn encode(t: &Tensor, name: &str) -> pb::TensorProto {
    let raw_data = if packing(t.dtype()) > 1 {
        pack_subbyte(t.dtype(), t.bytes())
    } else {
        t.bytes().to_vec()
    };
    pb::TensorProto {
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: t.dtype().onnx_code(),
        name: name.to_string(),
        raw_data,
        ..Default::default()
    }
}
