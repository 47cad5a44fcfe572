//! Element types. Sub-byte and 8-bit float types are stored one element per byte (unpacked):
//! packing is a file-format concern, handled at import and export.

use std::fmt;

/// The element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// `bool`, one byte, 0 or 1.
    Bool,
    /// `u8`.
    U8,
    /// `i8`.
    I8,
    /// `u16`.
    U16,
    /// `i16`.
    I16,
    /// `u32`.
    U32,
    /// `i32`.
    I32,
    /// `u64`.
    U64,
    /// `i64`.
    I64,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single.
    F32,
    /// IEEE double.
    F64,
    /// float8 e4m3fn (raw bits in a byte).
    F8E4M3FN,
    /// float8 e4m3fnuz (raw bits in a byte).
    F8E4M3FNUZ,
    /// float8 e5m2 (raw bits in a byte).
    F8E5M2,
    /// float8 e5m2fnuz (raw bits in a byte).
    F8E5M2FNUZ,
    /// float8 e8m0 (exponent-only scale type; raw bits in a byte).
    F8E8M0,
    /// float4 e2m1 (raw bits in the low nibble of a byte).
    F4E2M1,
    /// 4-bit unsigned integer, one per byte.
    U4,
    /// 4-bit signed integer, one per byte (sign-extended).
    I4,
    /// 2-bit unsigned integer, one per byte.
    U2,
    /// 2-bit signed integer, one per byte (sign-extended).
    I2,
}

impl DType {
    /// Bytes per element in Mote's (unpacked) storage.
    pub fn size(self) -> usize {
        use DType::*;
        match self {
            Bool | U8 | I8 | F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ | F8E8M0 | F4E2M1 | U4
            | I4 | U2 | I2 => 1,
            U16 | I16 | F16 | BF16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
        }
    }

    /// Float types with native arithmetic support (f16/bf16 are computed through f32).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// 8-bit and 4-bit float formats, only converted (Cast, Quantize/DequantizeLinear).
    pub fn is_minifloat(self) -> bool {
        use DType::*;
        matches!(
            self,
            F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ | F8E8M0 | F4E2M1
        )
    }

    /// Integer types (including sub-byte ones), not bool.
    pub fn is_integer(self) -> bool {
        use DType::*;
        matches!(
            self,
            U8 | I8 | U16 | I16 | U32 | I32 | U64 | I64 | U4 | I4 | U2 | I2
        )
    }

    /// Signed integer types.
    pub fn is_signed_integer(self) -> bool {
        use DType::*;
        matches!(self, I8 | I16 | I32 | I64 | I4 | I2)
    }

    /// The ONNX `TensorProto.DataType` code.
    pub fn onnx_code(self) -> i32 {
        use DType::*;
        match self {
            F32 => 1,
            U8 => 2,
            I8 => 3,
            U16 => 4,
            I16 => 5,
            I32 => 6,
            I64 => 7,
            Bool => 9,
            F16 => 10,
            F64 => 11,
            U32 => 12,
            U64 => 13,
            BF16 => 16,
            F8E4M3FN => 17,
            F8E4M3FNUZ => 18,
            F8E5M2 => 19,
            F8E5M2FNUZ => 20,
            U4 => 21,
            I4 => 22,
            F4E2M1 => 23,
            F8E8M0 => 24,
            U2 => 25,
            I2 => 26,
        }
    }

    /// Inverse of [`DType::onnx_code`]; `None` for codes Mote has no type for (string, complex).
    pub fn from_onnx_code(code: i32) -> Option<DType> {
        use DType::*;
        Some(match code {
            1 => F32,
            2 => U8,
            3 => I8,
            4 => U16,
            5 => I16,
            6 => I32,
            7 => I64,
            9 => Bool,
            10 => F16,
            11 => F64,
            12 => U32,
            13 => U64,
            16 => BF16,
            17 => F8E4M3FN,
            18 => F8E4M3FNUZ,
            19 => F8E5M2,
            20 => F8E5M2FNUZ,
            21 => U4,
            22 => I4,
            23 => F4E2M1,
            24 => F8E8M0,
            25 => U2,
            26 => I2,
            _ => return None,
        })
    }

    /// Short lowercase name (`f32`, `i64`, `f8e4m3fn`...).
    pub fn name(self) -> &'static str {
        use DType::*;
        match self {
            Bool => "bool",
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            U64 => "u64",
            I64 => "i64",
            F16 => "f16",
            BF16 => "bf16",
            F32 => "f32",
            F64 => "f64",
            F8E4M3FN => "f8e4m3fn",
            F8E4M3FNUZ => "f8e4m3fnuz",
            F8E5M2 => "f8e5m2",
            F8E5M2FNUZ => "f8e5m2fnuz",
            F8E8M0 => "f8e8m0",
            F4E2M1 => "f4e2m1",
            U4 => "u4",
            I4 => "i4",
            U2 => "u2",
            I2 => "i2",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type that is the storage of one [`DType`] (bool and the raw-bit types have none:
/// they are read as `u8`/`i8` through [`super::TensorView::bytes`]).
pub trait Element:
    bytemuck::Pod + Copy + Default + Send + Sync + fmt::Debug + PartialOrd + 'static
{
    /// The dtype this Rust type stores.
    const DTYPE: DType;
}

macro_rules! element {
    ($t:ty, $d:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$d;
        }
    };
}
element!(u8, U8);
element!(i8, I8);
element!(u16, U16);
element!(i16, I16);
element!(u32, U32);
element!(i32, I32);
element!(u64, U64);
element!(i64, I64);
element!(half::f16, F16);
element!(half::bf16, BF16);
element!(f32, F32);
element!(f64, F64);
