//! `im2col` (+ the reference GEMM) against a direct N-d convolution, `col2im` (after `Wᵀ·x`)
//! against a direct transposed convolution, and the adjoint identity between the two.

use proptest::prelude::*;

use super::{col2im, im2col, Im2ColParams};
use crate::cpu::matmul::{reference, GemmParams};
use crate::KernelErrorKind;

/// One convolution: `channels` in, `out_channels` out, per-axis geometry (owned).
#[derive(Clone, Debug)]
struct Geo {
    channels: usize,
    out_channels: usize,
    input: Vec<usize>,
    kernel: Vec<usize>,
    strides: Vec<usize>,
    dilations: Vec<usize>,
    pads_begin: Vec<usize>,
    pads_end: Vec<usize>,
}

impl Geo {
    fn params(&self) -> Im2ColParams<'_> {
        Im2ColParams {
            channels: self.channels,
            input_spatial: &self.input,
            kernel: &self.kernel,
            strides: &self.strides,
            dilations: &self.dilations,
            pads_begin: &self.pads_begin,
            pads_end: &self.pads_end,
        }
    }
}

fn geo() -> impl Strategy<Value = Geo> {
    (1..=3usize, 1..=3usize, 1..=3usize).prop_flat_map(|(rank, channels, out_channels)| {
        let axis = (
            1..=7usize,
            1..=3usize,
            1..=3usize,
            1..=2usize,
            0..=2usize,
            0..=2usize,
        );
        prop::collection::vec(axis, rank)
            .prop_filter("window must fit in the padded input", |axes| {
                axes.iter()
                    .all(|&(i, k, _, d, pb, pe)| i + pb + pe > d * (k - 1))
            })
            .prop_map(move |axes| Geo {
                channels,
                out_channels,
                input: axes.iter().map(|a| a.0).collect(),
                kernel: axes.iter().map(|a| a.1).collect(),
                strides: axes.iter().map(|a| a.2).collect(),
                dilations: axes.iter().map(|a| a.3).collect(),
                pads_begin: axes.iter().map(|a| a.4).collect(),
                pads_end: axes.iter().map(|a| a.5).collect(),
            })
    })
}

fn values(n: usize, salt: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7 + salt * 13) % 23) as f32 / 11.0 - 1.0)
        .collect()
}

/// Row-major multi-indices of `dims`.
fn indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in dims {
        out = out
            .into_iter()
            .flat_map(|p| (0..d).map(move |i| [p.clone(), vec![i]].concat()))
            .collect();
    }
    out
}

/// The image coordinate output position `o` and tap `t` read, if inside the image.
fn source(g: &Geo, o: &[usize], t: &[usize]) -> Option<usize> {
    let mut flat = 0;
    for d in 0..g.input.len() {
        let x = (o[d] * g.strides[d] + t[d] * g.dilations[d]) as isize - g.pads_begin[d] as isize;
        if x < 0 || x as usize >= g.input[d] {
            return None;
        }
        flat = flat * g.input[d] + x as usize;
    }
    Some(flat)
}

/// `y = W·im2col(x)` through the reference GEMM, `W` as `[out_channels, channels·Π kernel]`.
fn conv_via_im2col(g: &Geo, x: &[f32], w: &[f32]) -> Vec<f32> {
    let (rows, cols) = g.params().col_shape().unwrap();
    let mut col = vec![f32::NAN; rows * cols];
    im2col(&g.params(), x, &mut col).unwrap();
    let mut y = vec![0.0; g.out_channels * cols];
    reference::sgemm(
        &GemmParams::row_major(g.out_channels, cols, rows),
        w,
        &col,
        &mut y,
    )
    .unwrap();
    y
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn im2col_matches_direct_convolution(g in geo()) {
        let p = g.params();
        let out = p.output_spatial().unwrap();
        let (plane, taps) = (g.input.iter().product::<usize>(), g.kernel.iter().product::<usize>());
        let x = values(g.channels * plane, 1);
        let w = values(g.out_channels * g.channels * taps, 2);
        let got = conv_via_im2col(&g, &x, &w);
        let (positions, tap_list) = (indices(&out), indices(&g.kernel));
        for oc in 0..g.out_channels {
            for (pi, o) in positions.iter().enumerate() {
                let mut want = 0.0f64;
                for c in 0..g.channels {
                    for (ti, t) in tap_list.iter().enumerate() {
                        if let Some(s) = source(&g, o, t) {
                            want += w[(oc * g.channels + c) * taps + ti] as f64 * x[c * plane + s] as f64;
                        }
                    }
                }
                let got = got[oc * positions.len() + pi] as f64;
                prop_assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "y[{oc},{o:?}] = {got}, want {want}");
            }
        }
    }

    /// ConvTranspose: `image += col2im(Wᵀ·x)` equals the direct scatter
    /// `y[c, s(o, t)] += Σ_ic W[ic, c, t]·x[ic, o]`.
    #[test]
    fn col2im_matches_direct_transposed_convolution(g in geo()) {
        let p = g.params();
        let (rows, cols) = p.col_shape().unwrap();
        let (plane, taps) = (g.input.iter().product::<usize>(), g.kernel.iter().product::<usize>());
        let x = values(g.out_channels * cols, 3); // The ConvTranspose input.
        let w = values(g.out_channels * rows, 4); // [out_channels, channels·taps]
        let mut col = vec![0.0; rows * cols];
        let wt = GemmParams { a_row_stride: 1, a_col_stride: rows as isize, ..GemmParams::row_major(rows, cols, g.out_channels) };
        reference::sgemm(&wt, &w, &x, &mut col).unwrap();
        let start = values(g.channels * plane, 5);
        let mut got = start.clone();
        col2im(&p, &col, &mut got).unwrap();
        let mut want: Vec<f64> = start.iter().map(|&v| v as f64).collect();
        for (pi, o) in indices(&p.output_spatial().unwrap()).iter().enumerate() {
            for (ti, t) in indices(&g.kernel).iter().enumerate() {
                if let Some(s) = source(&g, o, t) {
                    for c in 0..g.channels {
                        for ic in 0..g.out_channels {
                            want[c * plane + s] += w[ic * rows + c * taps + ti] as f64 * x[ic * cols + pi] as f64;
                        }
                    }
                }
            }
        }
        for (i, (&got, &want)) in got.iter().zip(&want).enumerate() {
            prop_assert!((got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()), "image[{i}] = {got}, want {want}");
        }
    }

    /// `<im2col(x), y> == <x, col2im(y)>`.
    #[test]
    fn col2im_is_the_adjoint_of_im2col(g in geo()) {
        let p = g.params();
        let (rows, cols) = p.col_shape().unwrap();
        let x = values(p.image_len().unwrap(), 6);
        let y = values(rows * cols, 7);
        let mut col = vec![0.0; rows * cols];
        im2col(&p, &x, &mut col).unwrap();
        let mut back = vec![0.0; x.len()];
        col2im(&p, &y, &mut back).unwrap();
        let lhs: f64 = col.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(&a, &b)| a as f64 * b as f64).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }
}

#[test]
fn output_size_follows_the_onnx_formula() {
    // 2-D, 224×224, 7×7 kernel, stride 2, pad 3: ResNet's stem gives 112×112.
    let p = Im2ColParams {
        channels: 3,
        input_spatial: &[224, 224],
        kernel: &[7, 7],
        strides: &[2, 2],
        dilations: &[1, 1],
        pads_begin: &[3, 3],
        pads_end: &[3, 3],
    };
    assert_eq!(p.output_spatial().unwrap(), [112, 112]);
    assert_eq!(p.col_shape().unwrap(), (3 * 49, 112 * 112));
    // 1-D, dilation 2: window 5 over 10 + 1 → (11 − 5)/3 + 1 = 3.
    let p = Im2ColParams {
        input_spatial: &[10],
        kernel: &[3],
        strides: &[3],
        dilations: &[2],
        pads_begin: &[1],
        pads_end: &[0],
        channels: 1,
    };
    assert_eq!(p.output_spatial().unwrap(), [3]);
}

#[test]
fn bad_geometry_and_lengths_are_rejected() {
    let ok = Im2ColParams {
        channels: 2,
        input_spatial: &[4, 4],
        kernel: &[3, 3],
        strides: &[1, 1],
        dilations: &[1, 1],
        pads_begin: &[0, 0],
        pads_end: &[0, 0],
    };
    let (rows, cols) = ok.col_shape().unwrap();
    let (x, mut col) = (vec![0.0; 32], vec![0.0; rows * cols]);
    let kind =
        |p: &Im2ColParams<'_>, x: &[f32], col: &mut [f32]| im2col(p, x, col).unwrap_err().kind();
    assert_eq!(kind(&ok, &x[..31], &mut col), KernelErrorKind::OutOfBounds);
    assert_eq!(kind(&ok, &x, &mut col[1..]), KernelErrorKind::OutOfBounds);
    assert!(col2im(&ok, &col[1..], &mut [0.0; 32]).is_err());
    let invalid = KernelErrorKind::InvalidParams;
    assert_eq!(
        kind(
            &Im2ColParams {
                strides: &[1, 0],
                ..ok
            },
            &x,
            &mut col
        ),
        invalid
    );
    assert_eq!(
        kind(
            &Im2ColParams {
                kernel: &[3, 0],
                ..ok
            },
            &x,
            &mut col
        ),
        invalid
    );
    assert_eq!(
        kind(
            &Im2ColParams {
                dilations: &[3, 1],
                ..ok
            },
            &x,
            &mut col
        ),
        invalid
    );
    assert_eq!(
        kind(
            &Im2ColParams {
                pads_end: &[0],
                ..ok
            },
            &x,
            &mut col
        ),
        invalid
    );
    assert_eq!(
        kind(
            &Im2ColParams {
                pads_begin: &[usize::MAX, 0],
                ..ok
            },
            &x,
            &mut col
        ),
        invalid
    );
    assert_eq!(
        kind(
            &Im2ColParams {
                input_spatial: &[],
                ..ok
            },
            &x,
            &mut col
        ),
        KernelErrorKind::Unsupported
    );
    let nine = [1usize; 9];
    let p9 = Im2ColParams {
        channels: 1,
        input_spatial: &nine,
        kernel: &nine,
        strides: &nine,
        dilations: &nine,
        pads_begin: &nine,
        pads_end: &nine,
    };
    assert_eq!(
        p9.col_shape().unwrap_err().kind(),
        KernelErrorKind::Unsupported
    );
}

/// Padding is zero even where `col` held garbage, and every element is written.
#[test]
fn im2col_overwrites_every_element() {
    let p = Im2ColParams {
        channels: 1,
        input_spatial: &[2, 3],
        kernel: &[2, 2],
        strides: &[2, 1],
        dilations: &[1, 2],
        pads_begin: &[1, 2],
        pads_end: &[1, 0],
    };
    let (rows, cols) = p.col_shape().unwrap();
    let mut col = vec![f32::NAN; rows * cols];
    im2col(&p, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut col).unwrap();
    assert!(col.iter().all(|v| v.is_finite()), "{col:?}");
}
