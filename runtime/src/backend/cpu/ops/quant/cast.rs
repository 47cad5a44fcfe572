//! `Cast` / `CastLike` between every pair of Mote dtypes.
//!
//! Elements go through one of two lossless intermediate forms, a chunk at a time: `f64` for
//! float sources (it holds every f16/bf16/f32/f64/float8/float4 value exactly, so the cast
//! rounds once) and `i128` for integer and bool sources (it holds every i64 and u64). The
//! rules, from the ONNX `Cast` specification and the numpy/ml_dtypes behaviour its reference
//! implementation has where the specification says "undefined":
//!
//! * float -> float: round to nearest even; float8 follow the `saturate` tables; e8m0 follows
//!   `round_mode` (see [`crate::tensor::minifloat`]).
//! * float -> integer: truncate toward zero, then keep the low bits of the target width;
//!   NaN and values beyond the i64 range read as i64::MIN first (what x86 conversions give
//!   numpy), except that u64 takes its whole range.
//! * integer -> integer: keep the low bits (two's complement), sub-byte types included.
//! * anything -> bool: non-zero (NaN included) is true; bool -> numbers: 0 / 1.

use super::super::{Inputs, Outputs};
use crate::ir::ops::quant::CastAttrs;
use crate::tensor::minifloat::{e8m0_decode, e8m0_encode, E8M0Rounding, Minifloat};
use crate::tensor::{Element, TensorView};
use crate::{DType, Error, Result};
use half::{bf16, f16};
use std::ops::Range;

/// Elements converted per step (two stack buffers of this many intermediates).
const CHUNK: usize = 256;

/// `Cast` (target from the attributes) or `CastLike` (target from input 1).
pub(super) fn eval(
    attrs: &CastAttrs,
    like: bool,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    let to = if like { ins.get(1)?.dtype } else { attrs.to };
    let y = out.alloc_uninit(0, to, x.shape)?;
    if x.dtype == to {
        y.bytes.copy_from_slice(x.bytes);
        return Ok(());
    }
    let source = Source::new(&x)?;
    let target = Target {
        dtype: to,
        saturate: attrs.saturate,
        round_mode: attrs.round_mode,
    };
    let (mut floats, mut ints) = ([0f64; CHUNK], [0i128; CHUNK]);
    let size = to.size();
    for (index, dst) in y.bytes.chunks_mut(CHUNK * size).enumerate() {
        let range = index * CHUNK..index * CHUNK + dst.len() / size;
        match source.read(range, &mut floats, &mut ints)? {
            Lane::Float(v) => target.write_floats(v, dst)?,
            Lane::Int(v) => target.write_ints(v, dst)?,
        }
    }
    Ok(())
}

/// A chunk of source elements in their lossless intermediate form.
enum Lane<'b> {
    Float(&'b [f64]),
    Int(&'b [i128]),
}

/// The input tensor, typed once.
enum Source<'a> {
    F16(&'a [f16]),
    BF16(&'a [bf16]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    /// float8 / float4 / e8m0 codes with their decoded values.
    Coded(&'a [u8], Box<[f32; 256]>),
    /// Bytes holding signed values: i8 and sign-extended i4 / i2.
    SignedBytes(&'a [u8]),
    /// Bytes holding unsigned values: u8, u4, u2, bool.
    UnsignedBytes(&'a [u8]),
    I16(&'a [i16]),
    U16(&'a [u16]),
    I32(&'a [i32]),
    U32(&'a [u32]),
    I64(&'a [i64]),
    U64(&'a [u64]),
}

impl<'a> Source<'a> {
    fn new(x: &TensorView<'a>) -> Result<Source<'a>> {
        use DType::*;
        Ok(match x.dtype {
            F16 => Source::F16(x.as_slice()?),
            BF16 => Source::BF16(x.as_slice()?),
            F32 => Source::F32(x.as_slice()?),
            F64 => Source::F64(x.as_slice()?),
            F8E8M0 => {
                let mut table = Box::new([0f32; 256]);
                for (bits, v) in (0..=255u8).zip(table.iter_mut()) {
                    *v = e8m0_decode(bits);
                }
                Source::Coded(x.bytes, table)
            }
            d @ (F8E4M3FN | F8E4M3FNUZ | F8E5M2 | F8E5M2FNUZ | F4E2M1) => {
                let format = Minifloat::of(d).ok_or_else(|| Error::internal("minifloat dtype"))?;
                Source::Coded(x.bytes, Box::new(format.decode_table()))
            }
            I8 | I4 | I2 => Source::SignedBytes(x.bytes),
            U8 | U4 | U2 | Bool => Source::UnsignedBytes(x.bytes),
            I16 => Source::I16(x.as_slice()?),
            U16 => Source::U16(x.as_slice()?),
            I32 => Source::I32(x.as_slice()?),
            U32 => Source::U32(x.as_slice()?),
            I64 => Source::I64(x.as_slice()?),
            U64 => Source::U64(x.as_slice()?),
        })
    }

    /// Elements `range` in their intermediate form, in one of the two buffers.
    fn read<'b>(
        &self,
        range: Range<usize>,
        floats: &'b mut [f64; CHUNK],
        ints: &'b mut [i128; CHUNK],
    ) -> Result<Lane<'b>> {
        let n = range.len();
        let (f, i) = (&mut floats[..n], &mut ints[..n]);
        Ok(match self {
            Source::F16(s) => Lane::Float(fill(f, within(s, &range)?, |v| v.to_f64())),
            Source::BF16(s) => Lane::Float(fill(f, within(s, &range)?, |v| v.to_f64())),
            Source::F32(s) => Lane::Float(fill(f, within(s, &range)?, f64::from)),
            Source::F64(s) => Lane::Float(fill(f, within(s, &range)?, |v| v)),
            Source::Coded(s, table) => Lane::Float(fill(f, within(s, &range)?, |b| {
                f64::from(table[usize::from(b)])
            })),
            Source::SignedBytes(s) => {
                Lane::Int(fill(i, within(s, &range)?, |b| i128::from(b as i8)))
            }
            Source::UnsignedBytes(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::I16(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::U16(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::I32(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::U32(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::I64(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
            Source::U64(s) => Lane::Int(fill(i, within(s, &range)?, i128::from)),
        })
    }
}

fn within<'s, T>(s: &'s [T], range: &Range<usize>) -> Result<&'s [T]> {
    s.get(range.clone())
        .ok_or_else(|| Error::internal("cast read past the input"))
}

/// Converts `src` into `dst` element by element and returns the filled part of `dst`.
fn fill<'b, S: Copy, D>(dst: &'b mut [D], src: &[S], convert: impl Fn(S) -> D) -> &'b [D] {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = convert(s);
    }
    dst
}

/// The output type and the attributes that shape float8 / e8m0 results.
struct Target {
    dtype: DType,
    saturate: bool,
    round_mode: E8M0Rounding,
}

impl Target {
    fn write_floats(&self, v: &[f64], dst: &mut [u8]) -> Result<()> {
        use DType::*;
        // `f16::from_f64_const` converts directly; `from_f64` may go through f32 (two roundings).
        match self.dtype {
            F32 => store(dst, v, |x| x as f32),
            F64 => store(dst, v, |x| x),
            F16 => store(dst, v, f16::from_f64_const),
            BF16 => store(dst, v, bf16::from_f64),
            Bool => store_bytes(dst, v, |x| u8::from(x != 0.0)),
            F8E8M0 => store_bytes(dst, v, |x| {
                e8m0_encode(x as f32, self.saturate, self.round_mode)
            }),
            d => match Minifloat::of(d) {
                Some(format) => store_bytes(dst, v, |x| format.encode(x, self.saturate)),
                None => self.write_ints_from(v.iter().map(|&x| float_to_int(x, d)), dst),
            },
        }
    }

    fn write_ints(&self, v: &[i128], dst: &mut [u8]) -> Result<()> {
        use DType::*;
        match self.dtype {
            F32 => store(dst, v, |x| x as f32),
            F64 => store(dst, v, |x| x as f64),
            F16 => store(dst, v, |x| f16::from_f64_const(x as f64)),
            BF16 => store(dst, v, |x| bf16::from_f64(x as f64)),
            F8E8M0 => store_bytes(dst, v, |x| {
                e8m0_encode(x as f32, self.saturate, self.round_mode)
            }),
            d => match Minifloat::of(d) {
                Some(format) => store_bytes(dst, v, |x| format.encode(x as f64, self.saturate)),
                None => self.write_ints_from(v.iter().copied(), dst),
            },
        }
    }

    /// Integer and bool targets: the low bits of each value (bool: non-zero).
    fn write_ints_from(&self, v: impl Iterator<Item = i128>, dst: &mut [u8]) -> Result<()> {
        use DType::*;
        let wrap = |bits: u32| move |x: i128| ((x as i8) << (8 - bits) >> (8 - bits)) as u8;
        match self.dtype {
            Bool => store_bytes_iter(dst, v, |x| u8::from(x != 0)),
            U8 => store_bytes_iter(dst, v, |x| x as u8),
            I8 => store_bytes_iter(dst, v, |x| x as i8 as u8),
            U4 => store_bytes_iter(dst, v, |x| x as u8 & 0x0F),
            U2 => store_bytes_iter(dst, v, |x| x as u8 & 0x03),
            I4 => store_bytes_iter(dst, v, wrap(4)),
            I2 => store_bytes_iter(dst, v, wrap(2)),
            I16 => store_iter(dst, v, |x| x as i16)?,
            U16 => store_iter(dst, v, |x| x as u16)?,
            I32 => store_iter(dst, v, |x| x as i32)?,
            U32 => store_iter(dst, v, |x| x as u32)?,
            I64 => store_iter(dst, v, |x| x as i64)?,
            U64 => store_iter(dst, v, |x| x as u64)?,
            d => return Err(Error::internal(format!("cast: {d} is not an integer type"))),
        }
        Ok(())
    }
}

/// Truncation toward zero as numpy does it on x86: NaN and values outside i64 give i64::MIN,
/// except that a u64 target takes values up to 2^64.
fn float_to_int(x: f64, target: DType) -> i128 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let t = x.trunc();
    if target == DType::U64 && (TWO_POW_63..2.0 * TWO_POW_63).contains(&t) {
        t as u64 as i128
    } else if (-TWO_POW_63..TWO_POW_63).contains(&t) {
        t as i64 as i128
    } else {
        i128::from(i64::MIN)
    }
}

fn typed_mut<T: Element>(dst: &mut [u8]) -> Result<&mut [T]> {
    bytemuck::try_cast_slice_mut(dst)
        .map_err(|e| Error::internal(format!("cast output buffer: {e}")))
}

fn store<S: Copy, T: Element>(dst: &mut [u8], v: &[S], convert: impl Fn(S) -> T) -> Result<()> {
    fill(typed_mut::<T>(dst)?, v, convert);
    Ok(())
}

fn store_bytes<S: Copy>(dst: &mut [u8], v: &[S], convert: impl Fn(S) -> u8) -> Result<()> {
    fill(dst, v, convert);
    Ok(())
}

fn store_iter<T: Element>(
    dst: &mut [u8],
    v: impl Iterator<Item = i128>,
    convert: impl Fn(i128) -> T,
) -> Result<()> {
    for (d, x) in typed_mut::<T>(dst)?.iter_mut().zip(v) {
        *d = convert(x);
    }
    Ok(())
}

fn store_bytes_iter(dst: &mut [u8], v: impl Iterator<Item = i128>, convert: impl Fn(i128) -> u8) {
    for (d, x) in dst.iter_mut().zip(v) {
        *d = convert(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_int_truncates_and_wraps_like_numpy() {
        assert_eq!(float_to_int(-8.5, DType::I4), -8);
        assert_eq!(float_to_int(f64::NAN, DType::I8), i128::from(i64::MIN));
        assert_eq!(float_to_int(1e19, DType::U64), 10_000_000_000_000_000_000);
        assert_eq!(float_to_int(1e19, DType::I64), i128::from(i64::MIN));
    }
}
