//! Host tensors: an element type, a shape, and aligned bytes. Views borrow.
//!
//! Ops read inputs through [`TensorView`] and write outputs through [`TensorViewMut`]; both
//! give typed slices via `bytemuck` (checked, never a panic: a wrong type is an `Err`).

mod buffer;
mod dtype;
pub mod minifloat;
mod shape;

pub use buffer::{AlignedBytes, SharedBuffer};
pub use dtype::{DType, Element};
pub use shape::{broadcast_shapes, numel, strides_of, Shape};

use crate::{Error, Result};

/// An owned tensor.
#[derive(Clone, Debug)]
pub struct Tensor {
    dtype: DType,
    shape: Vec<usize>,
    data: AlignedBytes,
}

impl Tensor {
    /// A zero-filled tensor (`false` for bool, +0.0 for floats).
    pub fn zeros(dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let bytes = byte_len(dtype, shape)?;
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            data: AlignedBytes::zeroed(bytes),
        })
    }

    /// A tensor from raw little-endian bytes, unpacked storage (see [`DType`]).
    pub fn from_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Result<Tensor> {
        let expected = byte_len(dtype, shape)?;
        if bytes.len() != expected {
            return Err(Error::shape(format!(
                "{} bytes given for a {dtype} tensor of shape {shape:?} ({expected} bytes)",
                bytes.len()
            )));
        }
        Ok(Tensor {
            dtype,
            shape: shape.to_vec(),
            data: AlignedBytes::from_slice(bytes),
        })
    }

    /// A tensor from typed values.
    pub fn from_vec<T: Element>(shape: &[usize], values: Vec<T>) -> Result<Tensor> {
        Self::from_slice(shape, &values)
    }

    /// A tensor from typed values.
    pub fn from_slice<T: Element>(shape: &[usize], values: &[T]) -> Result<Tensor> {
        Self::from_bytes(T::DTYPE, shape, bytemuck::cast_slice(values))
    }

    /// A bool tensor.
    pub fn from_bools(shape: &[usize], values: &[bool]) -> Result<Tensor> {
        let bytes: Vec<u8> = values.iter().map(|&b| b as u8).collect();
        Self::from_bytes(DType::Bool, shape, &bytes)
    }

    /// A rank-0 tensor.
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Self::from_slice(&[], &[value]).expect("one element fits a scalar")
    }

    /// Wraps existing storage (used by the executor's arena).
    pub(crate) fn from_parts(dtype: DType, shape: Vec<usize>, data: AlignedBytes) -> Tensor {
        debug_assert_eq!(data.len(), numel(&shape) * dtype.size());
        Tensor { dtype, shape, data }
    }

    /// True when the bytes are borrowed in place from a shared buffer, such as a memory-mapped
    /// `.mote` file (no copy was made).
    pub fn is_shared(&self) -> bool {
        self.data.is_shared()
    }

    /// Gives the storage back (used by the executor's arena).
    pub(crate) fn into_storage(self) -> AlignedBytes {
        self.data
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    /// Shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Raw bytes.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_slice()
    }
    /// Typed elements; `Err` on a dtype mismatch.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        self.view().as_slice()
    }
    /// Typed elements, mutably; `Err` on a dtype mismatch.
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        check_dtype::<T>(self.dtype)?;
        Ok(bytemuck::cast_slice_mut(self.data.as_mut_slice()))
    }
    /// A borrowed view.
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            dtype: self.dtype,
            shape: &self.shape,
            bytes: self.data.as_slice(),
        }
    }
    /// A mutable borrowed view.
    pub fn view_mut(&mut self) -> TensorViewMut<'_> {
        TensorViewMut {
            dtype: self.dtype,
            shape: &self.shape,
            bytes: self.data.as_mut_slice(),
        }
    }
    /// Same data, new shape with the same element count.
    pub fn reshaped(mut self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.len() {
            return Err(Error::shape(format!(
                "cannot reshape {:?} to {shape:?}",
                self.shape
            )));
        }
        self.shape = shape.to_vec();
        Ok(self)
    }
}

/// A borrowed, read-only tensor.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: &'a [usize],
    /// Raw bytes (unpacked storage).
    pub bytes: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Typed elements; `Err` on a dtype mismatch.
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T]> {
        check_dtype::<T>(self.dtype)?;
        // Storage is 64-byte aligned (AlignedBytes) so the cast cannot fail on alignment;
        // map a failure to an error anyway rather than panicking.
        bytemuck::try_cast_slice(self.bytes)
            .map_err(|e| Error::internal(format!("tensor bytes not viewable as {}: {e}", T::DTYPE)))
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(self.shape)
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Rank.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// An owned copy.
    pub fn to_tensor(&self) -> Tensor {
        Tensor {
            dtype: self.dtype,
            shape: self.shape.to_vec(),
            data: AlignedBytes::from_slice(self.bytes),
        }
    }
    /// Reads an integer tensor (any integer dtype) as `i64`s: for shapes, axes, indices.
    pub fn to_i64_vec(&self) -> Result<Vec<i64>> {
        Ok(match self.dtype {
            DType::I64 => self.as_slice::<i64>()?.to_vec(),
            DType::I32 => self.as_slice::<i32>()?.iter().map(|&v| v as i64).collect(),
            DType::I16 => self.as_slice::<i16>()?.iter().map(|&v| v as i64).collect(),
            DType::I8 => self.as_slice::<i8>()?.iter().map(|&v| v as i64).collect(),
            DType::U8 | DType::Bool => self.bytes.iter().map(|&v| v as i64).collect(),
            DType::U16 => self.as_slice::<u16>()?.iter().map(|&v| v as i64).collect(),
            DType::U32 => self.as_slice::<u32>()?.iter().map(|&v| v as i64).collect(),
            DType::U64 => self.as_slice::<u64>()?.iter().map(|&v| v as i64).collect(),
            d => return Err(Error::dtype(format!("expected an integer tensor, got {d}"))),
        })
    }
    /// Reads a numeric tensor (f16/bf16/f32/f64 or any integer) as `f32`s.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        Ok(match self.dtype {
            DType::F32 => self.as_slice::<f32>()?.to_vec(),
            DType::F64 => self.as_slice::<f64>()?.iter().map(|&v| v as f32).collect(),
            DType::F16 => self
                .as_slice::<half::f16>()?
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            DType::BF16 => self
                .as_slice::<half::bf16>()?
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            _ => self.to_i64_vec()?.into_iter().map(|v| v as f32).collect(),
        })
    }
    /// Reads a numeric tensor as `f64`s.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        Ok(match self.dtype {
            DType::F64 => self.as_slice::<f64>()?.to_vec(),
            DType::U64 => self.as_slice::<u64>()?.iter().map(|&v| v as f64).collect(),
            d if d.is_float() => self.to_f32_vec()?.into_iter().map(|v| v as f64).collect(),
            _ => self.to_i64_vec()?.into_iter().map(|v| v as f64).collect(),
        })
    }
    /// The single element of a one-element integer tensor (any rank).
    pub fn scalar_i64(&self) -> Result<i64> {
        let v = self.to_i64_vec()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(Error::shape(format!(
                "expected one element, got shape {:?}",
                self.shape
            ))),
        }
    }
    /// The single element of a one-element numeric tensor as f32.
    pub fn scalar_f32(&self) -> Result<f32> {
        let v = self.to_f32_vec()?;
        match v.as_slice() {
            [x] => Ok(*x),
            _ => Err(Error::shape(format!(
                "expected one element, got shape {:?}",
                self.shape
            ))),
        }
    }
}

/// A borrowed, writable tensor (an op's output buffer).
#[derive(Debug)]
pub struct TensorViewMut<'a> {
    /// Element type.
    pub dtype: DType,
    /// Shape.
    pub shape: &'a [usize],
    /// Raw bytes (unpacked storage).
    pub bytes: &'a mut [u8],
}

impl TensorViewMut<'_> {
    /// Typed elements; `Err` on a dtype mismatch.
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T]> {
        check_dtype::<T>(self.dtype)?;
        bytemuck::try_cast_slice_mut(self.bytes)
            .map_err(|e| Error::internal(format!("tensor bytes not viewable as {}: {e}", T::DTYPE)))
    }
}

fn check_dtype<T: Element>(actual: DType) -> Result<()> {
    if T::DTYPE == actual {
        Ok(())
    } else {
        Err(Error::dtype(format!(
            "tensor is {actual}, read as {}",
            T::DTYPE
        )))
    }
}

/// Bytes needed for `shape` of `dtype`, refusing sizes that overflow.
pub fn byte_len(dtype: DType, shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::new(
                crate::ErrorKind::OutOfMemory,
                format!("tensor {dtype}{shape:?} is too large"),
            )
        })
}

/// Runs `$body` with `$T` bound to the Rust storage type of `$dtype`, for the numeric types
/// that have one (all but bool and the raw-bit minifloat/sub-byte types, which fall to `$else`).
/// Without the feature `dtypes-extra`, f64, bf16, i16, u16, u32 and u64 fall to `$else` too.
/// For this crate only (its `#[cfg]`s are read in the crate that expands the macro): exported
/// so that every module reaches it by `crate::with_numeric_type!`, hidden from the docs.
#[macro_export]
#[doc(hidden)]
macro_rules! with_numeric_type {
    ($dtype:expr, $T:ident => $body:expr, _ => $else:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::F16 => {
                type $T = half::f16;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::BF16 => {
                type $T = half::bf16;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            #[cfg(feature = "dtypes-extra")]
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            #[allow(unreachable_patterns)]
            _ => $else,
        }
    };
}
