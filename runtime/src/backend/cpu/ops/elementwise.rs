//! CPU evaluation of elementwise ops.

use super::{Inputs, Outputs};
use crate::ir::ops::elementwise::{Binary, ElementwiseOp, Unary};
use super::util::broadcast_index;
use crate::tensor::broadcast_shapes;
use crate::{DType, Error, Result};

pub(super) fn eval(op: &ElementwiseOp, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        ElementwiseOp::Unary(Unary::Relu) => {
            let x = ins.get(0)?;
            match x.dtype {
                DType::F32 => {
                    let src = x.as_slice::<f32>()?;
                    let mut y = out.alloc_uninit(0, x.dtype, x.shape)?;
                    for (d, s) in y.as_mut_slice::<f32>()?.iter_mut().zip(src) {
                        *d = s.max(0.0);
                    }
                    Ok(())
                }
                d => Err(Error::unsupported("Relu", format!("dtype {d}"))),
            }
        }
        ElementwiseOp::Binary(Binary::Add) => {
            let (a, b) = (ins.get(0)?, ins.get(1)?);
            if a.dtype != DType::F32 || b.dtype != DType::F32 {
                return Err(Error::unsupported("Add", format!("dtypes {} and {}", a.dtype, b.dtype)));
            }
            let shape = broadcast_shapes(&[a.shape, b.shape])?;
            let (av, bv) = (a.as_slice::<f32>()?, b.as_slice::<f32>()?);
            let (ai, bi) = (broadcast_index(a.shape, &shape), broadcast_index(b.shape, &shape));
            let mut y = out.alloc_uninit(0, DType::F32, &shape)?;
            for (k, d) in y.as_mut_slice::<f32>()?.iter_mut().enumerate() {
                *d = av[ai(k)] + bv[bi(k)];
            }
            Ok(())
        }
    }
}
