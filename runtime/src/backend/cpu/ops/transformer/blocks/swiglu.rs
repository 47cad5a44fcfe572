//! `SwiGLU` (opset 28): `Y = A · sigmoid(alpha · A) · B` for same-shaped `A` (the gate) and
//! `B` (the value), computed in f32 (f64 for f64) and rounded once to the input type.

use super::numeric::{with_real_type, write_with, Real};
use super::{same_dtype, Inputs, Outputs};
use crate::ir::ops::transformer::swiglu_shape;
use crate::tensor::TensorView;
use crate::{Error, Result};

pub(super) fn eval(alpha: f32, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let t = same_dtype("SwiGLU", ins, &[1])?;
    let (a, b) = (ins.get(0)?, ins.get(1)?);
    with_real_type!(t, R => run::<R>(alpha, a, b, out),
        _ => Err(Error::unsupported("SwiGLU", format!("dtype {t}"))))
}

fn run<R: Real>(alpha: f32, a: TensorView<'_>, b: TensorView<'_>, out: &mut Outputs) -> Result<()> {
    let shape = swiglu_shape(a.shape, b.shape)?;
    let (gate, value) = (R::read(&a)?, R::read(&b)?);
    let alpha = R::from_f64(alpha as f64);
    write_with::<R>(out, 0, a.dtype, &shape, |y| {
        for ((y, &g), &v) in y.iter_mut().zip(gate.iter()).zip(value.iter()) {
            let sigmoid = R::ONE / (R::ONE + (R::ZERO - alpha * g).exp());
            *y = g * sigmoid * v;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Tensor};

    fn swiglu(alpha: f32, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let mut out = Outputs::fresh(1);
        eval(
            alpha,
            &Inputs::new(vec![Some(a.view()), Some(b.view())], 1),
            &mut out,
        )?;
        out.into_results()
            .remove(0)
            .ok_or_else(|| Error::internal("no Y"))
    }

    #[test]
    fn gates_the_value_with_swish() {
        let a = Tensor::from_vec(&[3], vec![0.0f32, 2.0, -1000.0]).unwrap();
        let b = Tensor::from_vec(&[3], vec![5.0f32, 3.0, 1.0]).unwrap();
        let y = swiglu(0.5, &a, &b).unwrap();
        let expect = 2.0 / (1.0 + (-1.0f32).exp()) * 3.0;
        assert_eq!(y.as_slice::<f32>().unwrap(), &[0.0, expect, -0.0]);
    }

    #[test]
    fn shapes_and_types_must_match() {
        let a = Tensor::from_vec(&[2], vec![1.0f32, 2.0]).unwrap();
        let b = Tensor::from_vec(&[1], vec![1.0f32]).unwrap();
        assert!(swiglu(1.0, &a, &b).is_err());
        let b64 = Tensor::from_vec(&[2], vec![1.0f64, 2.0]).unwrap();
        assert!(swiglu(1.0, &a, &b64).is_err());
        let ints = Tensor::from_vec(&[2], vec![1i32, 2]).unwrap();
        assert!(swiglu(1.0, &ints, &ints).is_err());
        let y = swiglu(1.0, &b64, &b64).unwrap();
        assert_eq!(y.dtype(), DType::F64);
    }
}
