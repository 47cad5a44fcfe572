//! `FusedMatMul`: `MatMul(A, B') + bias`, then activations and scalar affine maps, all in the
//! GEMM kernel's store while each tile is in L1 (the bias as a per-column post-op). `B'` is
//! the weights packed at load; when a session has none (a backend that prepared nothing),
//! the run packs them itself, so the result is the same either way.

use super::packed::{gemm_packed_rhs, packed_rhs, Lhs};
use super::{Inputs, Outputs};
use crate::backend::cpu::ops::nn::epilogue::ElementwiseStep;
use crate::backend::cpu::prepare::pack_rhs;
use crate::ir::ops::nn::EpilogueStep;
use crate::ir::ops::transformer::{matmul_shape, FusedMatMul};
use crate::tensor::numel;
use crate::{DType, Error, Result};
use mote_kernels::cpu::matmul::PostOp;

pub(super) fn eval(f: &FusedMatMul, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let (a, b, bias) = (ins.get(0)?, ins.get(1)?, ins.opt(2));
    for (name, dtype) in [
        ("A", Some(a.dtype)),
        ("B", Some(b.dtype)),
        ("bias", bias.map(|b| b.dtype)),
    ] {
        if dtype.is_some_and(|t| t != DType::F32) {
            return Err(Error::unsupported(
                "FusedMatMul",
                format!(
                    "{name} of dtype {}: the pass fuses f32 only",
                    dtype.unwrap_or(DType::F32)
                ),
            ));
        }
    }
    let [k, n] = f.rhs_shape(b.shape)?;
    let out_shape = matmul_shape(a.shape, &[k, n])?;
    let bias = match bias {
        Some(bias) if bias.shape != [n] => {
            return Err(Error::shape(format!(
                "FusedMatMul: bias {:?} is not [{n}]",
                bias.shape
            )))
        }
        Some(bias) => Some(bias.as_slice::<f32>()?),
        None => None,
    };
    let post = post_ops(bias, &f.steps)?;
    let a_data = a.as_slice::<f32>()?;
    let y = out.alloc_typed::<f32>(0, &out_shape)?;
    if y.is_empty() {
        return Ok(());
    }
    let lhs = Lhs {
        data: a_data,
        m: if k == 0 {
            numel(&out_shape) / n
        } else {
            numel(a.shape) / k
        },
        row_stride: k,
        col_stride: 1,
    };
    if let Some(packed) = packed_rhs(ins, k, n) {
        return gemm_packed_rhs(lhs, packed, (1.0, 0.0), &post, y, ins.threads());
    }
    let packed = pack_rhs(b.shape, b.as_slice::<f32>()?, f.trans_b)?
        .ok_or_else(|| Error::internal("FusedMatMul: B is not 2-D"))?;
    gemm_packed_rhs(lhs, &packed, (1.0, 0.0), &post, y, ins.threads())
}

/// The bias and the steps as kernel post-ops, in order.
fn post_ops<'a>(bias: Option<&'a [f32]>, steps: &[EpilogueStep]) -> Result<Vec<PostOp<'a>>> {
    let bias = bias.map(PostOp::BiasPerCol).into_iter().map(Ok);
    let steps = steps
        .iter()
        .map(|&s| ElementwiseStep::of(s, "FusedMatMul").map(ElementwiseStep::post_op));
    bias.chain(steps).collect()
}

#[cfg(test)]
mod tests {
    use crate::backend::cpu::ops::{eval, Inputs, Outputs};
    use crate::backend::cpu::prepare::{pack_matmul_weights, Prepared};
    use crate::ir::ops::nn::{EpilogueStep, FusedActivation};
    use crate::ir::ops::transformer::{FusedMatMul, TransformerOp};
    use crate::ir::Op;
    use crate::{ErrorKind, Result, Tensor};

    fn ramp(shape: &[usize], seed: f32) -> Tensor {
        let n = shape.iter().product::<usize>();
        let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + seed).sin()).collect();
        Tensor::from_vec(shape, v).unwrap()
    }

    fn run(
        op: &FusedMatMul,
        inputs: &[Option<&Tensor>],
        prepared: Option<&Prepared>,
    ) -> Result<Tensor> {
        let op = Op::Transformer(TransformerOp::FusedMatMul(op.clone()));
        let views = inputs.iter().map(|t| t.map(|t| t.view())).collect();
        let ins = Inputs::new(views, 2).with_prepared(prepared);
        let mut out = Outputs::fresh(1);
        eval(&op, &ins, &mut out)?;
        Ok(out.into_results().remove(0).unwrap())
    }

    #[test]
    fn weights_packed_at_load_or_per_run_give_the_same_bits() {
        let (k, n) = (29, 41);
        for trans_b in [false, true] {
            let op = FusedMatMul {
                trans_b,
                steps: vec![
                    EpilogueStep::Activation(FusedActivation::HardSwish),
                    EpilogueStep::Affine {
                        scale: 0.5,
                        shift: 0.25,
                    },
                ],
            };
            let a = ramp(&[3, 11, k], 0.1);
            let b = ramp(&if trans_b { [n, k] } else { [k, n] }, 0.2);
            let bias = ramp(&[n], 0.3);
            let packed = pack_matmul_weights(b.shape(), b.as_slice::<f32>().unwrap(), trans_b)
                .unwrap()
                .unwrap();
            let inputs = [Some(&a), Some(&b), Some(&bias)];
            let at_load = run(&op, &inputs, Some(&packed)).unwrap();
            let per_run = run(&op, &inputs, None).unwrap();
            assert_eq!(at_load.shape(), &[3, 11, n]);
            assert_eq!(
                at_load.as_slice::<f32>().unwrap(),
                per_run.as_slice::<f32>().unwrap()
            );
        }
    }

    #[test]
    fn empty_depth_gives_the_bias() {
        let op = FusedMatMul {
            trans_b: false,
            steps: vec![EpilogueStep::Activation(FusedActivation::Relu)],
        };
        let (a, b) = (ramp(&[2, 0], 0.1), ramp(&[0, 4], 0.2));
        let bias = Tensor::from_vec(&[4], vec![1.0f32, -2.0, 3.0, -4.0]).unwrap();
        let y = run(&op, &[Some(&a), Some(&b), Some(&bias)], None).unwrap();
        assert_eq!(
            y.as_slice::<f32>().unwrap(),
            [1.0, 0.0, 3.0, 0.0, 1.0, 0.0, 3.0, 0.0]
        );
    }

    #[test]
    fn bad_operands_are_errors() {
        let op = FusedMatMul {
            trans_b: false,
            steps: vec![],
        };
        let (a, b) = (ramp(&[2, 3], 0.1), ramp(&[3, 4], 0.2));
        let wrong_bias = ramp(&[1, 4], 0.3);
        let e = run(&op, &[Some(&a), Some(&b), Some(&wrong_bias)], None).unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::ShapeMismatch);
        let b3 = ramp(&[1, 3, 4], 0.2);
        assert!(run(&op, &[Some(&a), Some(&b3), None], None).is_err());
        let wrong_k = ramp(&[5, 4], 0.2);
        assert!(run(&op, &[Some(&a), Some(&wrong_k), None], None).is_err());
        let ints = Tensor::from_vec(&[3, 4], vec![1i64; 12]).unwrap();
        assert!(run(&op, &[Some(&a), Some(&ints), None], None).is_err());
    }
}
