//! numpy `.npy` files <-> [`Tensor`], through the `npyz` crate.

use crate::{DType, Error, ErrorKind, Result, Tensor};
use npyz::{TypeChar, WriterBuilder};
use std::path::Path;

fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, format!("{}: {e}", path.display()))
}

/// Reads a C-order `.npy` file of a numeric or bool dtype.
pub fn read(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    read_bytes(&bytes, path)
}

/// Reads `.npy` contents from memory (a member of an `.npz` archive, say); `path` names them
/// in error messages.
pub fn read_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let file = npyz::NpyFile::new(bytes).map_err(|e| io_error(path, e))?;
    if file.order() != npyz::Order::C {
        return Err(Error::argument(format!(
            "{}: Fortran-order arrays are not supported",
            path.display()
        )));
    }
    let shape: Vec<usize> = file.shape().iter().map(|&d| d as usize).collect();
    let npyz::DType::Plain(ts) = file.dtype() else {
        return Err(Error::dtype(format!(
            "{}: structured arrays are not supported",
            path.display()
        )));
    };
    let err = |e: std::io::Error| io_error(path, e);
    match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => Tensor::from_vec(&shape, file.into_vec::<f32>().map_err(err)?),
        (TypeChar::Float, 8) => Tensor::from_vec(&shape, file.into_vec::<f64>().map_err(err)?),
        (TypeChar::Float, 2) => {
            Tensor::from_vec(&shape, file.into_vec::<half::f16>().map_err(err)?)
        }
        (TypeChar::Int, 1) => Tensor::from_vec(&shape, file.into_vec::<i8>().map_err(err)?),
        (TypeChar::Int, 2) => Tensor::from_vec(&shape, file.into_vec::<i16>().map_err(err)?),
        (TypeChar::Int, 4) => Tensor::from_vec(&shape, file.into_vec::<i32>().map_err(err)?),
        (TypeChar::Int, 8) => Tensor::from_vec(&shape, file.into_vec::<i64>().map_err(err)?),
        (TypeChar::Uint, 1) => Tensor::from_vec(&shape, file.into_vec::<u8>().map_err(err)?),
        (TypeChar::Uint, 2) => Tensor::from_vec(&shape, file.into_vec::<u16>().map_err(err)?),
        (TypeChar::Uint, 4) => Tensor::from_vec(&shape, file.into_vec::<u32>().map_err(err)?),
        (TypeChar::Uint, 8) => Tensor::from_vec(&shape, file.into_vec::<u64>().map_err(err)?),
        (TypeChar::Bool, 1) => Tensor::from_bools(&shape, &file.into_vec::<bool>().map_err(err)?),
        _ => Err(Error::dtype(format!(
            "{}: unsupported numpy dtype {ts}",
            path.display()
        ))),
    }
}

/// Writes a tensor as `.npy` (numpy has no bf16, float8 or 4-bit types: those are refused).
pub fn write(path: impl AsRef<Path>, t: &Tensor) -> Result<()> {
    let path = path.as_ref();
    let file = std::fs::File::create(path).map_err(|e| io_error(path, e))?;
    let mut w = std::io::BufWriter::new(file);
    let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
    macro_rules! put {
        ($T:ty, $values:expr) => {{
            let mut writer = npyz::WriteOptions::<$T>::new()
                .default_dtype()
                .shape(&shape)
                .writer(&mut w)
                .begin_nd()
                .map_err(|e| io_error(path, e))?;
            writer.extend($values).map_err(|e| io_error(path, e))?;
            writer.finish().map_err(|e| io_error(path, e))?;
        }};
    }
    match t.dtype() {
        DType::F32 => put!(f32, t.as_slice::<f32>()?.iter().copied()),
        DType::F64 => put!(f64, t.as_slice::<f64>()?.iter().copied()),
        DType::F16 => put!(half::f16, t.as_slice::<half::f16>()?.iter().copied()),
        DType::I8 => put!(i8, t.as_slice::<i8>()?.iter().copied()),
        DType::I16 => put!(i16, t.as_slice::<i16>()?.iter().copied()),
        DType::I32 => put!(i32, t.as_slice::<i32>()?.iter().copied()),
        DType::I64 => put!(i64, t.as_slice::<i64>()?.iter().copied()),
        DType::U8 => put!(u8, t.as_slice::<u8>()?.iter().copied()),
        DType::U16 => put!(u16, t.as_slice::<u16>()?.iter().copied()),
        DType::U32 => put!(u32, t.as_slice::<u32>()?.iter().copied()),
        DType::U64 => put!(u64, t.as_slice::<u64>()?.iter().copied()),
        DType::Bool => put!(bool, t.bytes().iter().map(|&b| b != 0)),
        d => {
            return Err(Error::dtype(format!(
                "numpy has no {d} type; cannot write {}",
                path.display()
            )))
        }
    }
    Ok(())
}
