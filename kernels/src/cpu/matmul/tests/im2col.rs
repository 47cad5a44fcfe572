//! `B` packed straight from an image ([`Im2ColB`]) gives what the materialised column matrix
//! gives, for every variant, whole or split into column blocks.

use proptest::prelude::*;

use super::super::{split_columns, AOperand, BOperand, Gemm, GemmParams, Im2ColB, Strided};
use super::{fill, sgemm_variants};
use crate::cpu::conv::{im2col, Im2ColParams};
use crate::cpu::matmul::reference;

#[derive(Clone, Debug)]
struct Geo {
    channels: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pads: [usize; 4],
    m: usize,
    seed: u64,
}

fn geo() -> impl Strategy<Value = Geo> {
    let edge = prop_oneof![1..=20usize, Just(33usize), Just(40)];
    (
        1..=5usize,
        (edge.clone(), edge),
        (1..=4usize, 1..=4usize),
        (1..=3usize, 1..=3usize),
        (1..=2usize, 1..=2usize),
        [0..=2usize, 0..=2, 0..=2, 0..=2],
        prop_oneof![1..=20usize, Just(33usize)],
        any::<u64>(),
    )
        .prop_map(
            |(channels, (h, w), (kh, kw), (sh, sw), (dh, dw), pads, m, seed)| Geo {
                channels,
                input: [h, w],
                kernel: [kh, kw],
                stride: [sh, sw],
                dilation: [dh, dw],
                pads,
                m,
                seed,
            },
        )
}

fn check(t: &Geo) -> Result<(), TestCaseError> {
    let p = Im2ColParams {
        channels: t.channels,
        input_spatial: &t.input,
        kernel: &t.kernel,
        strides: &t.stride,
        dilations: &t.dilation,
        pads_begin: &t.pads[..2],
        pads_end: &t.pads[2..],
    };
    let Ok((k, n)) = p.col_shape() else {
        return Ok(()); // The kernel does not fit the padded input: nothing to compare.
    };
    let image = fill(t.seed, t.channels * t.input[0] * t.input[1]);
    let mut col = vec![0.0; k * n];
    im2col(&p, &image, &mut col).expect("im2col");
    let a = fill(t.seed ^ 9, t.m * k);
    let mut want = vec![0.0; t.m * n];
    reference::sgemm(&GemmParams::row_major(t.m, n, k), &a, &col, &mut want).expect("reference");
    let g = Gemm {
        m: t.m,
        n,
        k,
        a: AOperand::Strided(Strided {
            data: &a,
            row_stride: k as isize,
            col_stride: 1,
        }),
        b: BOperand::Im2Col(Im2ColB::new(&p, &image).expect("im2col operand")),
        c_row_stride: n as isize,
        alpha: 1.0,
        beta: 0.0,
    };
    for (v, kern) in sgemm_variants() {
        if !v.is_supported() {
            continue;
        }
        for split in [false, true] {
            let mut got = vec![f32::NAN; t.m * n];
            if split {
                let blocks = split_columns(&mut got, t.m, n, n as isize, &[n / 3]).expect("split");
                for b in blocks {
                    (kern.gemm_block)(&g, b, &[]).expect("gemm block");
                }
            } else {
                (kern.gemm)(&g, &mut got, &[]).expect("gemm");
            }
            for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                // Same products, summed in a different order: a few ulps of Σ|a·b| ≤ k.
                prop_assert!(
                    (x - y).abs() <= 4.0 * k as f32 * f32::EPSILON * (1.0 + y.abs()),
                    "{} split {split}: C[{i}] = {x}, reference {y}, {t:?}",
                    v.info.name
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn im2col_operand_matches_the_materialised_matrix(t in geo()) {
        check(&t)?;
    }
}

#[test]
fn three_d_geometry_is_refused() {
    let p = Im2ColParams {
        channels: 1,
        input_spatial: &[2, 2, 2],
        kernel: &[1, 1, 1],
        strides: &[1, 1, 1],
        dilations: &[1, 1, 1],
        pads_begin: &[0, 0, 0],
        pads_end: &[0, 0, 0],
    };
    assert!(Im2ColB::new(&p, &[0.0; 8]).is_err());
}
