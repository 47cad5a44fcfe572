//! Element types across the boundary.
//!
//! The numbers are ONNX's `TensorProto.DataType` codes, so they are stable, documented
//! elsewhere, and the runtime already maps them both ways. Functions take and structs carry
//! the code as `int32_t`, not as the enum: a C caller can put any number there, and an
//! out-of-range value in a Rust enum would be undefined behaviour.

use crate::boundary::Failure;
use crate::status::MoteStatus;
use mote::DType;
use std::ffi::c_char;

/// Element types (values of `int32_t dtype` fields and arguments). Sub-byte and 8-bit float
/// types are stored one element per byte, like every other Mote tensor.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoteDtype {
    /// Not declared by the model (tensor info only).
    Unknown = 0,
    /// IEEE single.
    F32 = 1,
    /// `uint8_t`.
    U8 = 2,
    /// `int8_t`.
    I8 = 3,
    /// `uint16_t`.
    U16 = 4,
    /// `int16_t`.
    I16 = 5,
    /// `int32_t`.
    I32 = 6,
    /// `int64_t`.
    I64 = 7,
    /// One byte, 0 or 1.
    Bool = 9,
    /// IEEE half (raw bits in a `uint16_t`).
    F16 = 10,
    /// IEEE double.
    F64 = 11,
    /// `uint32_t`.
    U32 = 12,
    /// `uint64_t`.
    U64 = 13,
    /// bfloat16 (raw bits in a `uint16_t`).
    Bf16 = 16,
    /// float8 e4m3fn (raw bits in a byte).
    F8e4m3fn = 17,
    /// float8 e4m3fnuz (raw bits in a byte).
    F8e4m3fnuz = 18,
    /// float8 e5m2 (raw bits in a byte).
    F8e5m2 = 19,
    /// float8 e5m2fnuz (raw bits in a byte).
    F8e5m2fnuz = 20,
    /// 4-bit unsigned integer, one per byte.
    U4 = 21,
    /// 4-bit signed integer, one per byte (sign-extended).
    I4 = 22,
    /// float4 e2m1 (raw bits in the low nibble of a byte).
    F4e2m1 = 23,
    /// float8 e8m0 (raw bits in a byte).
    F8e8m0 = 24,
    /// 2-bit unsigned integer, one per byte.
    U2 = 25,
    /// 2-bit signed integer, one per byte (sign-extended).
    I2 = 26,
}

/// The code of a runtime type (`MOTE_DTYPE_UNKNOWN` for none).
pub(crate) fn code_of(dtype: Option<DType>) -> i32 {
    dtype.map_or(MoteDtype::Unknown as i32, DType::onnx_code)
}

/// The runtime type of a caller's code, or an invalid-argument failure.
pub(crate) fn from_code(code: i32) -> Result<DType, Failure> {
    DType::from_onnx_code(code).ok_or_else(|| {
        (
            MoteStatus::InvalidArgument,
            format!("{code} is not a MoteDtype value Mote can hold"),
        )
    })
}

/// Bytes per element of `dtype` (a `MoteDtype` value); 0 for an unknown value.
#[no_mangle]
pub extern "C" fn mote_dtype_size(dtype: i32) -> usize {
    DType::from_onnx_code(dtype).map_or(0, DType::size)
}

/// A static lowercase name of `dtype` ("f32", "i64"...; "unknown" for other values). Never
/// NULL.
#[no_mangle]
pub extern "C" fn mote_dtype_name(dtype: i32) -> *const c_char {
    let name: &'static [u8] = match DType::from_onnx_code(dtype) {
        Some(d) => match d {
            DType::Bool => b"bool\0",
            DType::U8 => b"u8\0",
            DType::I8 => b"i8\0",
            DType::U16 => b"u16\0",
            DType::I16 => b"i16\0",
            DType::U32 => b"u32\0",
            DType::I32 => b"i32\0",
            DType::U64 => b"u64\0",
            DType::I64 => b"i64\0",
            DType::F16 => b"f16\0",
            DType::BF16 => b"bf16\0",
            DType::F32 => b"f32\0",
            DType::F64 => b"f64\0",
            DType::F8E4M3FN => b"f8e4m3fn\0",
            DType::F8E4M3FNUZ => b"f8e4m3fnuz\0",
            DType::F8E5M2 => b"f8e5m2\0",
            DType::F8E5M2FNUZ => b"f8e5m2fnuz\0",
            DType::F8E8M0 => b"f8e8m0\0",
            DType::F4E2M1 => b"f4e2m1\0",
            DType::U4 => b"u4\0",
            DType::I4 => b"i4\0",
            DType::U2 => b"u2\0",
            DType::I2 => b"i2\0",
        },
        None => b"unknown\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// Every `MoteDtype` value, for the exhaustiveness check below.
    const ALL: [MoteDtype; 24] = [
        MoteDtype::Unknown,
        MoteDtype::F32,
        MoteDtype::U8,
        MoteDtype::I8,
        MoteDtype::U16,
        MoteDtype::I16,
        MoteDtype::I32,
        MoteDtype::I64,
        MoteDtype::Bool,
        MoteDtype::F16,
        MoteDtype::F64,
        MoteDtype::U32,
        MoteDtype::U64,
        MoteDtype::Bf16,
        MoteDtype::F8e4m3fn,
        MoteDtype::F8e4m3fnuz,
        MoteDtype::F8e5m2,
        MoteDtype::F8e5m2fnuz,
        MoteDtype::U4,
        MoteDtype::I4,
        MoteDtype::F4e2m1,
        MoteDtype::F8e8m0,
        MoteDtype::U2,
        MoteDtype::I2,
    ];

    #[test]
    fn the_enum_names_exactly_the_runtime_types() {
        for code in -2..64 {
            let in_enum = ALL.iter().any(|&d| d as i32 == code && code != 0);
            let runtime = DType::from_onnx_code(code);
            assert_eq!(in_enum, runtime.is_some(), "code {code}");
            if let Some(d) = runtime {
                assert_eq!(mote_dtype_size(code), d.size());
                // SAFETY: mote_dtype_name returns a static NUL-terminated string.
                let name = unsafe { CStr::from_ptr(mote_dtype_name(code)) };
                assert_eq!(name.to_str().unwrap(), d.name());
            } else {
                assert_eq!(mote_dtype_size(code), 0);
            }
        }
    }
}
