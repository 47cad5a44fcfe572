//! Small helpers shared by the op families. Shared file: add functions, do not change the
//! behaviour of existing ones.

use crate::tensor::strides_of;

/// Maps a flat index in `out_shape` to the flat index in an operand of `shape` broadcast to
/// it (numpy rules: `shape` is right-aligned, size-1 dims repeat).
pub(crate) fn broadcast_index(shape: &[usize], out_shape: &[usize]) -> impl Fn(usize) -> usize {
    let offset = out_shape.len() - shape.len();
    let in_strides = strides_of(shape);
    let out_strides = strides_of(out_shape);
    let dims: Vec<(usize, usize, usize)> = (0..shape.len())
        .map(|i| {
            (
                out_strides[offset + i],
                out_shape[offset + i],
                if shape[i] == 1 { 0 } else { in_strides[i] },
            )
        })
        .collect();
    move |k| dims.iter().map(|&(os, od, is)| (k / os) % od * is).sum()
}

/// Writes `values` (one per element) into `dst` with numpy's `astype` conversion from f64:
/// floats round to nearest, integers truncate toward zero (saturating), bool is `v != 0`.
/// Errors on a length mismatch or a dtype without arithmetic (minifloats, sub-byte ints).
// The signal and loss ops alone use it: unused in a build without them.
#[cfg_attr(
    not(any(feature = "ops-signal", feature = "ops-loss")),
    allow(dead_code)
)]
pub(crate) fn store_f64(
    dst: &mut crate::tensor::TensorViewMut<'_>,
    values: &[f64],
) -> crate::Result<()> {
    use crate::DType;
    fn fill<T: crate::tensor::Element>(
        dst: &mut crate::tensor::TensorViewMut<'_>,
        values: &[f64],
        convert: impl Fn(f64) -> T,
    ) -> crate::Result<()> {
        let out = dst.as_mut_slice::<T>()?;
        if out.len() != values.len() {
            return Err(crate::Error::internal(format!(
                "{} values written to a tensor of {} elements",
                values.len(),
                out.len()
            )));
        }
        for (o, &v) in out.iter_mut().zip(values) {
            *o = convert(v);
        }
        Ok(())
    }
    match dst.dtype {
        DType::F32 => fill(dst, values, |v| v as f32),
        DType::F64 => fill(dst, values, |v| v),
        DType::F16 => fill(dst, values, half::f16::from_f64),
        DType::BF16 => fill(dst, values, half::bf16::from_f64),
        DType::I8 => fill(dst, values, |v| v as i8),
        DType::U8 => fill(dst, values, |v| v as u8),
        DType::I16 => fill(dst, values, |v| v as i16),
        DType::U16 => fill(dst, values, |v| v as u16),
        DType::I32 => fill(dst, values, |v| v as i32),
        DType::U32 => fill(dst, values, |v| v as u32),
        DType::I64 => fill(dst, values, |v| v as i64),
        DType::U64 => fill(dst, values, |v| v as u64),
        DType::Bool => {
            if dst.bytes.len() != values.len() {
                return Err(crate::Error::internal("bool output length mismatch"));
            }
            for (o, &v) in dst.bytes.iter_mut().zip(values) {
                *o = u8::from(v != 0.0);
            }
            Ok(())
        }
        d => Err(crate::Error::dtype(format!("cannot store numbers as {d}"))),
    }
}
