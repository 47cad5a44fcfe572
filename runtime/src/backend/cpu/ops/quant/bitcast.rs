//! `BitCast`: the same bits read as another type of the same width.
//!
//! Types of 16 bits and more are stored as themselves, so their bytes carry over unchanged
//! (both sides are in the host's byte order, which makes this the little-endian
//! reinterpretation ONNX asks for on little-endian hosts and the same value mapping
//! elsewhere). Types of 8 bits and less are stored one element per byte, not always as their
//! raw code: sub-byte signed integers are sign-extended and bool is 0/1. Those go through
//! their code: the low `width` bits of the byte, then sign extension for a signed target.
//! A non-zero byte read as bool becomes 1 (true), the only bool Mote stores.

use super::super::{Inputs, Outputs};
use crate::ir::ops::quant::{bit_width, check_bitcast};
use crate::{DType, Result};

pub(super) fn eval(to: DType, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    check_bitcast(x.dtype, to)?;
    let y = out.alloc_uninit(0, to, x.shape)?;
    if x.dtype.size() > 1 {
        y.bytes.copy_from_slice(x.bytes);
        return Ok(());
    }
    let width = bit_width(to);
    for (dst, &src) in y.bytes.iter_mut().zip(x.bytes) {
        *dst = from_code(to, code(src, width));
    }
    Ok(())
}

/// The raw `width`-bit code of an element stored in `byte`.
fn code(byte: u8, width: usize) -> u8 {
    if width >= 8 {
        byte
    } else {
        byte & ((1u8 << width) - 1)
    }
}

/// How Mote stores the element of type `to` whose raw code is `code`.
fn from_code(to: DType, code: u8) -> u8 {
    match to {
        DType::Bool => u8::from(code != 0),
        // Sign-extend: move the sign bit to bit 7, then shift back arithmetically.
        DType::I4 => (((code << 4) as i8) >> 4) as u8,
        DType::I2 => (((code << 6) as i8) >> 6) as u8,
        _ => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cast(from: DType, to: DType, byte: u8) -> u8 {
        from_code(to, code(byte, bit_width(from)))
    }

    #[test]
    fn sub_byte_signed_integers_round_trip_through_their_code() {
        // i4 -1 is stored sign-extended (0xFF); its code is 0xF.
        assert_eq!(cast(DType::I4, DType::U4, 0xFF), 0x0F);
        assert_eq!(cast(DType::U4, DType::I4, 0x0F), 0xFF);
        assert_eq!(cast(DType::U4, DType::I4, 0x07), 0x07);
        assert_eq!(cast(DType::I4, DType::F4E2M1, 0xF8), 0x08);
        assert_eq!(cast(DType::U2, DType::I2, 0x02), 0xFE);
        assert_eq!(cast(DType::I2, DType::U2, 0xFF), 0x03);
    }

    #[test]
    fn bytes_keep_their_bits_and_bool_normalises() {
        assert_eq!(cast(DType::I8, DType::U8, 0x80), 0x80);
        assert_eq!(cast(DType::Bool, DType::U8, 1), 1);
        assert_eq!(cast(DType::U8, DType::Bool, 0x80), 1);
        assert_eq!(cast(DType::F8E4M3FN, DType::Bool, 0), 0);
    }

    #[test]
    fn widths_must_match() {
        assert!(check_bitcast(DType::F32, DType::I32).is_ok());
        assert!(check_bitcast(DType::U8, DType::U4).is_err());
        assert!(check_bitcast(DType::I4, DType::F4E2M1).is_ok());
        assert!(check_bitcast(DType::F16, DType::I32).is_err());
    }
}
