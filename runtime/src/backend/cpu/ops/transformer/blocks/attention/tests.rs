//! Attention evaluation checks: head grouping, 3-D layouts, masking, bad shapes and
//! thread-count independence.

use super::*;
use crate::tensor::numel;
use crate::Tensor;

fn attrs() -> Attention {
    Attention {
        is_causal: false,
        q_num_heads: None,
        kv_num_heads: None,
        scale: None,
        softcap: 0.0,
        qk_output: QkOutput::Scores,
        softmax_precision: None,
        left_window: -1,
        right_window: -1,
    }
}

fn ramp(shape: &[usize], seed: f32) -> Tensor {
    let v: Vec<f32> = (0..numel(shape))
        .map(|i| (i as f32 * 0.37 + seed).sin())
        .collect();
    Tensor::from_vec(shape, v).unwrap()
}

fn attend(a: &Attention, inputs: &[Option<&Tensor>]) -> Result<Vec<f32>> {
    let views = inputs.iter().map(|t| t.map(Tensor::view)).collect();
    let mut out = Outputs::fresh(1);
    eval(a, &Inputs::new(views, 1), &mut out)?;
    let y = out
        .into_results()
        .remove(0)
        .ok_or_else(|| Error::internal("no Y"))?;
    Ok(y.as_slice::<f32>()?.to_vec())
}

#[test]
fn grouped_query_heads_match_repeated_kv_heads() {
    let q = ramp(&[1, 4, 3, 4], 0.1);
    let (k, v) = (ramp(&[1, 2, 5, 4], 0.2), ramp(&[1, 2, 5, 4], 0.3));
    // Repeat each KV head twice: [h0, h0, h1, h1].
    let repeat = |t: &Tensor| {
        let s = t.as_slice::<f32>().unwrap();
        let mut r = Vec::new();
        for h in 0..2 {
            r.extend_from_slice(&s[h * 20..(h + 1) * 20]);
            r.extend_from_slice(&s[h * 20..(h + 1) * 20]);
        }
        Tensor::from_vec(&[1, 4, 5, 4], r).unwrap()
    };
    let grouped = attend(&attrs(), &[Some(&q), Some(&k), Some(&v)]).unwrap();
    let full = attend(&attrs(), &[Some(&q), Some(&repeat(&k)), Some(&repeat(&v))]).unwrap();
    assert_eq!(grouped, full);
}

#[test]
fn three_d_inputs_match_four_d() {
    // [1, 2 heads, 3, 2] <-> [1, 3, 2 * 2].
    let to_3d = |t: &Tensor| {
        let s = t.as_slice::<f32>().unwrap();
        let mut r = vec![0.0; s.len()];
        for h in 0..2 {
            for i in 0..3 {
                for d in 0..2 {
                    r[i * 4 + h * 2 + d] = s[h * 6 + i * 2 + d];
                }
            }
        }
        Tensor::from_vec(&[1, 3, 4], r).unwrap()
    };
    let (q, k, v) = (
        ramp(&[1, 2, 3, 2], 0.4),
        ramp(&[1, 2, 3, 2], 0.5),
        ramp(&[1, 2, 3, 2], 0.6),
    );
    let y4 = Tensor::from_vec(
        &[1, 2, 3, 2],
        attend(&attrs(), &[Some(&q), Some(&k), Some(&v)]).unwrap(),
    )
    .unwrap();
    let a3 = Attention {
        q_num_heads: Some(2),
        kv_num_heads: Some(2),
        ..attrs()
    };
    let y3 = attend(&a3, &[Some(&to_3d(&q)), Some(&to_3d(&k)), Some(&to_3d(&v))]).unwrap();
    assert_eq!(y3, to_3d(&y4).as_slice::<f32>().unwrap());
}

#[test]
fn fully_masked_rows_are_zero() {
    let (q, k, v) = (
        ramp(&[1, 1, 2, 4], 0.1),
        ramp(&[1, 1, 3, 4], 0.2),
        ramp(&[1, 1, 3, 4], 0.3),
    );
    let mask = Tensor::from_bools(&[2, 3], &[false, false, false, true, false, true]).unwrap();
    let y = attend(&attrs(), &[Some(&q), Some(&k), Some(&v), Some(&mask)]).unwrap();
    assert_eq!(&y[..4], &[0.0; 4]);
    assert!(y[4..].iter().all(|v| v.is_finite() && *v != 0.0));
}

#[test]
fn empty_and_mismatched_inputs_do_not_panic() {
    let a3 = Attention {
        q_num_heads: Some(2),
        kv_num_heads: Some(2),
        ..attrs()
    };
    let (q, k, v) = (
        ramp(&[1, 0, 8], 0.0),
        ramp(&[1, 3, 8], 0.0),
        ramp(&[1, 3, 8], 0.0),
    );
    assert_eq!(
        attend(&a3, &[Some(&q), Some(&k), Some(&v)]).unwrap(),
        Vec::<f32>::new()
    );
    let k_bad = ramp(&[1, 3, 6], 0.0);
    assert!(attend(&a3, &[Some(&q), Some(&k_bad), Some(&v)]).is_err());
    let mask = ramp(&[5, 5], 0.0);
    let q4 = ramp(&[1, 1, 2, 4], 0.0);
    let kv4 = ramp(&[1, 1, 3, 4], 0.0);
    assert!(attend(&attrs(), &[Some(&q4), Some(&kv4), Some(&kv4), Some(&mask)]).is_err());
    let gqa_bad = ramp(&[1, 3, 2, 4], 0.0);
    let kv2 = ramp(&[1, 2, 3, 4], 0.0);
    assert!(attend(&attrs(), &[Some(&gqa_bad), Some(&kv2), Some(&kv2)]).is_err());
}

#[test]
fn threads_give_bit_identical_results() {
    use crate::backend::cpu::eval_node;
    use crate::ir::ops::TransformerOp;
    use crate::ir::Op;
    // 3-D GQA inputs, causal, probabilities as the fourth output: 320 query rows.
    let op = Op::Transformer(TransformerOp::Attention(Attention {
        is_causal: true,
        q_num_heads: Some(4),
        kv_num_heads: Some(2),
        qk_output: QkOutput::Probabilities,
        ..attrs()
    }));
    let (q, k, v) = (
        ramp(&[2, 40, 64], 0.1),
        ramp(&[2, 50, 32], 0.2),
        ramp(&[2, 50, 32], 0.3),
    );
    let run = |threads| {
        eval_node(&op, &[Some(&q), Some(&k), Some(&v)], 4, threads)
            .unwrap()
            .into_iter()
            .map(|t| t.unwrap().as_slice::<f32>().unwrap().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(3));
}
