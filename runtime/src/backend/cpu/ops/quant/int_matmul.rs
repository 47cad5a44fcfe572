//! Integer matrix products: `MatMulInteger` (i32 result) and `QLinearMatMul` (requantized).
//!
//! Operands are widened to i32 with their zero points subtracted, multiplied exactly (i32
//! accumulation, wrapping rather than panicking on overflow, which needs K > 33,000 for 8-bit
//! inputs), then for `QLinearMatMul` scaled by `a_scale · b_scale / y_scale` (rounded in the
//! scales' type, as numpy does), offset by `y_zero_point`, rounded half to even and saturated.

use super::super::util::broadcast_index;
use super::super::{Inputs, Outputs};
use super::values::{float_values, int_range, int_values, store_ints, Precision};
use crate::ir::ops::quant::matmul_output_shape;
use crate::tensor::{broadcast_shapes, numel, TensorView};
use crate::{bail, DType, Error, Result};

pub(super) fn matmul_integer(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (a, b) = (ins.get(0)?, ins.get(1)?);
    // A 2-D right operand (the transformer case) runs on the 8-bit GEMM kernels.
    if super::int8::matmul_integer(
        a,
        b,
        ins.opt(2),
        ins.opt(3),
        ins.prepared(),
        ins.threads(),
        out,
    )? {
        return Ok(());
    }
    check_8bit("MatMulInteger", &a)?;
    check_8bit("MatMulInteger", &b)?;
    let shape = MatMulShape::new(a.shape, b.shape)?;
    let a_values = minus_zero_point(&a, ins.opt(2), Operand::Left)?;
    let b_values = minus_zero_point(&b, ins.opt(3), Operand::Right)?;
    let y = out.alloc_typed::<i32>(0, &shape.output)?;
    shape.run(&a_values, &b_values, y)
}

pub(super) fn qlinear_matmul(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (a, a_scale, b, b_scale, y_scale) = (
        ins.get(0)?,
        ins.get(1)?,
        ins.get(3)?,
        ins.get(4)?,
        ins.get(6)?,
    );
    check_8bit("QLinearMatMul", &a)?;
    check_8bit("QLinearMatMul", &b)?;
    let y_zero_point = ins.opt(7);
    let to = y_zero_point.map_or(a.dtype, |z| z.dtype);
    let (lo, hi) = int_range(to)
        .ok_or_else(|| Error::unsupported("QLinearMatMul", format!("output type {to}")))?;
    let shape = MatMulShape::new(a.shape, b.shape)?;
    let mut product = vec![0i32; numel(&shape.output)];
    let a_values = minus_zero_point(&a, ins.opt(2), Operand::Left)?;
    let b_values = minus_zero_point(&b, ins.opt(5), Operand::Right)?;
    shape.run(&a_values, &b_values, &mut product)?;

    let a_scales = per_row_or_tensor("a_scale", &a_scale, shape.m)?;
    let b_scales = per_row_or_tensor("b_scale", &b_scale, shape.n)?;
    let y_scale = y_scale.scalar_f32().map(f64::from)?;
    let zero = match y_zero_point {
        Some(z) => int_values(&z)?.first().copied().unwrap_or(0),
        None => 0,
    } as f64;
    let mul = Precision::promote(a_scale.dtype, b_scale.dtype);
    let div = Precision::promote(mul.dtype(), ins.get(6)?.dtype);
    let multiplier = |i: usize, j: usize| {
        let pick = |v: &[f64], i: usize| if v.len() == 1 { v[0] } else { v[i] };
        div.div(mul.mul(pick(&a_scales, i), pick(&b_scales, j)), y_scale)
    };
    let (m, n) = (shape.m, shape.n);
    let quantized = product.iter().enumerate().map(|(idx, &c)| {
        let (i, j) = ((idx / n.max(1)) % m.max(1), idx % n.max(1));
        let v = (f64::from(c) * multiplier(i, j) + zero).round_ties_even();
        if v.is_nan() {
            lo.max(0).min(hi)
        } else {
            v.clamp(lo as f64, hi as f64) as i64
        }
    });
    let mut y = out.alloc_uninit(0, to, &shape.output)?;
    store_ints(&mut y, quantized)
}

fn check_8bit(op: &str, x: &TensorView<'_>) -> Result<()> {
    match x.dtype {
        DType::U8 | DType::I8 => Ok(()),
        d => Err(Error::unsupported(
            op,
            format!("input type {d} (u8 and i8 are supported)"),
        )),
    }
}

/// A scale that is a scalar or a vector of `len` (per row of A / per column of B).
fn per_row_or_tensor(name: &str, scale: &TensorView<'_>, len: usize) -> Result<Vec<f64>> {
    let v = float_values(scale)?;
    if v.len() != 1 && (scale.rank() != 1 || v.len() != len) {
        bail!(
            shape,
            "{name} of shape {:?} is neither a scalar nor a vector of {len}",
            scale.shape
        );
    }
    Ok(v)
}

/// Which matmul operand a zero point belongs to: a vector zero point runs along the rows of
/// the left operand and along the columns of the right one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operand {
    Left,
    Right,
}

/// `x - zero_point` as i32. The zero point is a scalar, a vector per row (left) / column
/// (right), or a tensor broadcastable to `x` (e.g. `[D1, D2, M, 1]`).
fn minus_zero_point(
    x: &TensorView<'_>,
    zp: Option<TensorView<'_>>,
    side: Operand,
) -> Result<Vec<i32>> {
    let xs = int_values(x)?;
    let Some(z) = zp else {
        return Ok(xs.into_iter().map(|v| v as i32).collect());
    };
    if z.dtype != x.dtype {
        bail!(
            dtype,
            "zero point of type {} for a {} operand",
            z.dtype,
            x.dtype
        );
    }
    let zs = int_values(&z)?;
    if let [zero] = zs[..] {
        return Ok(xs.into_iter().map(|v| (v - zero) as i32).collect());
    }
    let rank = x.rank();
    let z_shape = match side {
        Operand::Left if z.rank() == 1 && rank >= 2 && z.shape[0] == x.shape[rank - 2] => {
            vec![z.shape[0], 1]
        }
        _ => z.shape.to_vec(),
    };
    if broadcast_shapes(&[x.shape, &z_shape])? != x.shape {
        bail!(
            shape,
            "zero point of shape {:?} does not fit an operand of shape {:?}",
            z.shape,
            x.shape
        );
    }
    let index = broadcast_index(&z_shape, x.shape);
    Ok(xs
        .into_iter()
        .enumerate()
        .map(|(k, v)| (v - zs[index(k)]) as i32)
        .collect())
}

/// numpy `matmul` geometry: 1-D operands promoted to a row / a column, batch dims broadcast.
pub(super) struct MatMulShape {
    a_batch: Vec<usize>,
    b_batch: Vec<usize>,
    batch: Vec<usize>,
    pub(super) m: usize,
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) output: Vec<usize>,
}

impl MatMulShape {
    pub(super) fn new(a: &[usize], b: &[usize]) -> Result<MatMulShape> {
        let output = matmul_output_shape(a, b)?;
        let a2 = if a.len() == 1 {
            vec![1, a[0]]
        } else {
            a.to_vec()
        };
        let b2 = if b.len() == 1 {
            vec![b[0], 1]
        } else {
            b.to_vec()
        };
        let (ra, rb) = (a2.len(), b2.len());
        let (a_batch, b_batch) = (a2[..ra - 2].to_vec(), b2[..rb - 2].to_vec());
        let batch = broadcast_shapes(&[&a_batch, &b_batch])?;
        Ok(MatMulShape {
            m: a2[ra - 2],
            k: a2[ra - 1],
            n: b2[rb - 1],
            a_batch,
            b_batch,
            batch,
            output,
        })
    }

    /// `y = a · b` for every batch, overwriting `y`.
    pub(super) fn run(&self, a: &[i32], b: &[i32], y: &mut [i32]) -> Result<()> {
        let (m, k, n) = (self.m, self.k, self.n);
        let (a_len, b_len, y_len) = (m * k, k * n, m * n);
        if a.len() != numel(&self.a_batch) * a_len
            || b.len() != numel(&self.b_batch) * b_len
            || y.len() != numel(&self.batch) * y_len
        {
            return Err(Error::internal("integer matmul operand sizes"));
        }
        let a_index = broadcast_index(&self.a_batch, &self.batch);
        let b_index = broadcast_index(&self.b_batch, &self.batch);
        for (i, y_mat) in y.chunks_exact_mut(y_len.max(1)).enumerate() {
            let (ao, bo) = (a_index(i) * a_len, b_index(i) * b_len);
            gemm_i32(k, n, &a[ao..ao + a_len], &b[bo..bo + b_len], y_mat);
        }
        Ok(())
    }
}

/// `c = a · b` for row-major `a` `[m, k]`, `b` `[k, n]`, `c` `[m, n]` (m implied by the
/// lengths), with wrapping i32 arithmetic.
pub(super) fn gemm_i32(k: usize, n: usize, a: &[i32], b: &[i32], c: &mut [i32]) {
    c.fill(0);
    if k == 0 || n == 0 {
        return;
    }
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        for (&av, b_row) in a_row.iter().zip(b.chunks_exact(n)) {
            if av != 0 {
                for (cv, &bv) in c_row.iter_mut().zip(b_row) {
                    *cv = cv.wrapping_add(av.wrapping_mul(bv));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive() {
        let (m, k, n) = (3, 4, 5);
        let a: Vec<i32> = (0..m * k).map(|v| v as i32 - 5).collect();
        let b: Vec<i32> = (0..k * n).map(|v| 7 - v as i32).collect();
        let mut c = vec![0; m * n];
        gemm_i32(k, n, &a, &b, &mut c);
        for i in 0..m {
            for j in 0..n {
                let want: i32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert_eq!(c[i * n + j], want);
            }
        }
    }

    #[test]
    fn vector_zero_points_run_along_rows_of_a_and_columns_of_b() {
        let shape = [2, 2];
        let x = TensorView {
            dtype: DType::U8,
            shape: &shape,
            bytes: &[10, 20, 30, 40],
        };
        let z = TensorView {
            dtype: DType::U8,
            shape: &[2],
            bytes: &[1, 2],
        };
        assert_eq!(
            minus_zero_point(&x, Some(z), Operand::Left).unwrap(),
            vec![9, 19, 28, 38]
        );
        assert_eq!(
            minus_zero_point(&x, Some(z), Operand::Right).unwrap(),
            vec![9, 18, 29, 38]
        );
        let wrong = TensorView {
            dtype: DType::I8,
            shape: &[],
            bytes: &[1],
        };
        assert!(minus_zero_point(&x, Some(wrong), Operand::Left).is_err());
    }

    #[test]
    fn batched_shapes_broadcast() {
        let s = MatMulShape::new(&[2, 1, 3, 4], &[5, 4, 6]).unwrap();
        assert_eq!(s.output, vec![2, 5, 3, 6]);
        let s = MatMulShape::new(&[4], &[4, 6]).unwrap();
        assert_eq!((s.m, s.k, s.n, s.output.clone()), (1, 4, 6, vec![6]));
    }
}
