//! `Det`: the determinant of each `[M, M]` matrix of a `[*, M, M]` tensor, by LU
//! factorisation with partial pivoting, computed in f64 for every float type and rounded once.

use super::numeric::store;
use super::{Inputs, Outputs};
use crate::ir::ops::transformer::det_shape;
use crate::tensor::numel;
use crate::{Error, Result};

pub(super) fn eval(ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let x = ins.get(0)?;
    if !x.dtype.is_float() {
        return Err(Error::unsupported("Det", format!("dtype {}", x.dtype)));
    }
    let shape = det_shape(x.shape)?;
    let m = x.shape[x.rank() - 1];
    let dets: Vec<f64> = if m == 0 {
        // The empty product: every 0×0 matrix has determinant 1.
        vec![1.0; numel(&shape)]
    } else {
        let mut values = x.to_f64_vec()?;
        values
            .chunks_exact_mut(m * m)
            .map(|a| det_in_place(a, m))
            .collect()
    };
    store(out, 0, x.dtype, &shape, &dets)
}

/// The determinant of the row-major `m×m` matrix `a` (overwritten by its LU factors).
fn det_in_place(a: &mut [f64], m: usize) -> f64 {
    let mut det = 1.0;
    for col in 0..m {
        // The largest magnitude at or below the diagonal keeps the elimination stable.
        let pivot = (col..m)
            .max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))
            .unwrap_or(col);
        let p = a[pivot * m + col];
        if p == 0.0 {
            return 0.0;
        }
        if p.is_nan() {
            return f64::NAN;
        }
        if pivot != col {
            for j in 0..m {
                a.swap(pivot * m + j, col * m + j);
            }
            det = -det;
        }
        det *= p;
        for i in col + 1..m {
            let factor = a[i * m + col] / p;
            if factor != 0.0 {
                for j in col + 1..m {
                    a[i * m + j] -= factor * a[col * m + j];
                }
            }
        }
    }
    det
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(rows: &[&[f64]]) -> f64 {
        let m = rows.len();
        let mut a: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        det_in_place(&mut a, m)
    }

    #[test]
    fn small_determinants() {
        assert_eq!(det(&[&[0.0, 1.0], &[2.0, 3.0]]), -2.0);
        assert_eq!(det(&[&[1.0, 3.0], &[3.0, 1.0]]), -8.0);
        assert_eq!(det(&[&[1.0, 2.0], &[2.0, 4.0]]), 0.0);
        let d = det(&[&[2.0, -1.0, 0.0], &[-1.0, 2.0, -1.0], &[0.0, -1.0, 2.0]]);
        assert!((d - 4.0).abs() < 1e-12);
        // A permutation matrix needs two swaps: determinant +1.
        assert_eq!(
            det(&[&[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0], &[1.0, 0.0, 0.0]]),
            1.0
        );
        assert_eq!(det(&[&[7.0]]), 7.0);
    }

    #[test]
    fn batches_and_bad_shapes() {
        use crate::Tensor;
        let run = |t: &Tensor| {
            let mut out = Outputs::fresh(1);
            eval(&Inputs::new(vec![Some(t.view())], 1), &mut out)?;
            out.into_results()
                .remove(0)
                .ok_or_else(|| Error::internal("no Y"))
        };
        let x =
            Tensor::from_vec(&[2, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 2.0, 1.0]).unwrap();
        let y = run(&x).unwrap();
        assert_eq!(y.shape(), &[2]);
        assert_eq!(y.as_slice::<f32>().unwrap(), &[-2.0, -3.0]);
        let empty = Tensor::from_vec(&[3, 0, 0], Vec::<f64>::new()).unwrap();
        assert_eq!(run(&empty).unwrap().as_slice::<f64>().unwrap(), &[1.0; 3]);
        let not_square = Tensor::from_vec(&[2, 3], vec![0.0f32; 6]).unwrap();
        assert!(run(&not_square).is_err());
        let vector = Tensor::from_vec(&[4], vec![0.0f32; 4]).unwrap();
        assert!(run(&vector).is_err());
    }
}
