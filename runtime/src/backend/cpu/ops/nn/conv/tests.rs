//! The conv paths (GEMM, pointwise, depthwise, direct) against a naive convolution, for every
//! way its weights can be held, with 1 and several threads.

use super::*;
use crate::backend::cpu::prepare::{pack_conv_weights, pack_direct_conv_weights};
use crate::ir::ops::nn::{Padding, Window};

fn attrs(strides: &[usize], pads: &[usize], dilations: &[usize], group: usize) -> Conv {
    let (begin, end) = pads.split_at(pads.len() / 2);
    Conv {
        window: Window {
            kernel_shape: vec![],
            strides: strides.to_vec(),
            dilations: dilations.to_vec(),
            padding: Padding::Explicit {
                begin: begin.to_vec(),
                end: end.to_vec(),
            },
        },
        group,
    }
}

/// Direct N-d reference: every output element as its own sum (2-D only here).
fn naive_2d(
    a: &Conv,
    x: &[f32],
    xs: &[usize],
    w: &[f32],
    ws: &[usize],
    b: Option<&[f32]>,
) -> Vec<f32> {
    let l = ConvLayout::new(a, xs, ws, b.map(|_| &ws[..1])).unwrap();
    let g = &l.geometry;
    let (oh, ow) = (g.output[0], g.output[1]);
    let (ih, iw) = (xs[2], xs[3]);
    let mut y = vec![0f32; xs[0] * ws[0] * oh * ow];
    for n in 0..xs[0] {
        for m in 0..ws[0] {
            let grp = m / l.out_channels;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[m]);
                    for c in 0..l.in_channels {
                        let ic = grp * l.in_channels + c;
                        for ky in 0..ws[2] {
                            for kx in 0..ws[3] {
                                let iy = (oy * g.strides[0] + ky * g.dilations[0]) as isize
                                    - g.pads_begin[0] as isize;
                                let ix = (ox * g.strides[1] + kx * g.dilations[1]) as isize
                                    - g.pads_begin[1] as isize;
                                if iy < 0 || ix < 0 || iy >= ih as isize || ix >= iw as isize {
                                    continue;
                                }
                                let xv =
                                    x[((n * xs[1] + ic) * ih + iy as usize) * iw + ix as usize];
                                acc += xv * w[((m * l.in_channels + c) * ws[2] + ky) * ws[3] + kx];
                            }
                        }
                    }
                    y[((n * ws[0] + m) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    y
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 16) % 17) as f32 / 8.0 - 1.0
        })
        .collect()
}

/// Every way to run the weights `w` of `conv`: as given, packed for the GEMM, and packed
/// for the direct kernel where this CPU has one and the conv qualifies (packed by
/// `prepare`, as at load).
fn weight_forms(
    conv: &Conv,
    layout: &ConvLayout,
    w: &[f32],
    ws: &[usize],
) -> Vec<(&'static str, Weights<'static>)> {
    let w: &'static [f32] = Vec::leak(w.to_vec());
    let raw = Weights {
        w,
        packed: None,
        direct: None,
    };
    let mut forms = vec![("raw", raw)];
    if let Some(packed) = pack_conv_weights(conv, ws, w).unwrap() {
        let packed = Some(&*Vec::leak(packed));
        forms.push(("packed", Weights { packed, ..raw }));
    }
    if let (Some((_, kernel)), Some(_), false) = (
        mote_kernels::cpu::table().direct_conv,
        layout.direct_params(),
        layout.is_depthwise_2d(),
    ) {
        let direct = pack_direct_conv_weights(kernel, conv, ws, w)
            .unwrap()
            .unwrap();
        let direct = Some((kernel, &*Vec::leak(direct)));
        forms.push(("direct", Weights { direct, ..raw }));
    }
    forms
}

fn check(a: &Conv, xs: &[usize], ws: &[usize]) {
    let (x, w, b) = (values(numel(xs), 1), values(numel(ws), 2), values(ws[0], 3));
    let layout = ConvLayout::new(a, xs, ws, Some(&ws[..1])).unwrap();
    let expected = naive_2d(a, &x, xs, &w, ws, Some(&b));
    for (form, weights) in weight_forms(a, &layout, &w, ws) {
        for threads in [1, 3] {
            let mut y = vec![f32::NAN; numel(&layout.output_shape())];
            layout
                .run(&x, weights, Some(&b), &Epilogue::none(), &mut y, threads)
                .unwrap();
            for (i, (got, want)) in y.iter().zip(&expected).enumerate() {
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{i}: {got} vs {want} ({form} weights, threads {threads})"
                );
            }
        }
    }
}

#[test]
fn direct_path_matches_naive() {
    // Stride 1: the direct kernel where the CPU has one. Batch 2, groups, asymmetric pads,
    // output channels past one register block, rows split across threads mid-row.
    check(
        &attrs(&[1, 1], &[1, 0, 2, 1], &[], 1),
        &[2, 3, 9, 37],
        &[13, 3, 3, 2],
    );
    check(
        &attrs(&[], &[2, 2, 2, 2], &[], 2),
        &[1, 4, 40, 40],
        &[26, 2, 5, 5],
    );
}

#[test]
fn im2col_path_matches_naive() {
    check(
        &attrs(&[2, 1], &[1, 0, 2, 1], &[1, 2], 1),
        &[2, 3, 7, 6],
        &[4, 3, 3, 2],
    );
}

#[test]
fn grouped_and_pointwise_paths_match_naive() {
    check(&attrs(&[], &[], &[], 2), &[1, 4, 5, 5], &[6, 2, 1, 1]);
    check(
        &attrs(&[1, 1], &[1, 1, 1, 1], &[], 2),
        &[2, 4, 5, 3],
        &[2, 2, 3, 3],
    );
}

#[test]
fn depthwise_path_matches_naive() {
    check(
        &attrs(&[2, 2], &[1, 1, 1, 1], &[], 3),
        &[2, 3, 7, 8],
        &[6, 1, 3, 3],
    );
    check(
        &attrs(&[1, 3], &[0, 2, 1, 0], &[2, 1], 4),
        &[1, 4, 6, 9],
        &[4, 1, 2, 3],
    );
}

#[test]
fn thread_count_does_not_change_results() {
    // Big enough to be split over threads: a GEMM conv and a depthwise one.
    for (group, xs, ws) in [
        (1, [1, 5, 40, 40], [7, 5, 3, 3]),
        (6, [1, 6, 40, 40], [6, 1, 3, 3]),
    ] {
        let a = attrs(&[1, 1], &[1, 1, 1, 1], &[], group);
        let (x, w) = (values(numel(&xs), 5), values(numel(&ws), 6));
        let layout = ConvLayout::new(&a, &xs, &ws, None).unwrap();
        for (form, weights) in weight_forms(&a, &layout, &w, &ws) {
            let run = |threads| {
                let mut y = vec![0f32; numel(&layout.output_shape())];
                layout
                    .run(&x, weights, None, &Epilogue::none(), &mut y, threads)
                    .unwrap();
                y
            };
            assert_eq!(run(1), run(4), "group {group}, {form} weights");
        }
    }
}

#[test]
fn mismatched_channels_are_an_error() {
    assert!(ConvLayout::new(&attrs(&[], &[], &[], 1), &[1, 3, 5, 5], &[2, 2, 3, 3], None).is_err());
    assert!(ConvLayout::new(&attrs(&[], &[], &[], 2), &[1, 4, 5, 5], &[3, 2, 3, 3], None).is_err());
}
