//! Every compiled `qgemm` variant against the reference, bit for bit, on random shapes,
//! signedness, zero points, operands (matrix and im2col), outputs and column ranges; the
//! validation errors are in `errors.rs`.

use proptest::prelude::*;

use super::{
    reference, split_output, PackedQWeights, QConvGeometry, QGemm, QGemmKernels, QLayout,
    QOperandB, QOutput,
};
use crate::cpu::{supported_variants, Variant};

mod errors;

fn supported() -> Vec<(&'static str, QGemmKernels)> {
    supported_variants(Variant::qgemm)
}

/// Which output a case writes.
#[derive(Clone, Copy, Debug)]
enum OutKind {
    I32,
    Requant {
        signed: bool,
        zero_point: i32,
        lo: i32,
        hi: i32,
    },
    F32,
}

/// One random call.
#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    a: Vec<u8>,
    lda: usize,
    a_signed: bool,
    a_zp: Vec<i32>,
    b: Vec<u8>,
    /// `Some` for an im2col operand, else a matrix with row stride `ldb`.
    geometry: Option<QConvGeometry>,
    ldb: usize,
    pad: u8,
    b_signed: bool,
    b_zp: i32,
    out: OutKind,
    bias: Vec<i32>,
    scale: Vec<f32>,
    ldc: usize,
    cols: std::ops::Range<usize>,
}

impl Case {
    fn operand(&self) -> QOperandB<'_> {
        match self.geometry {
            Some(geometry) => QOperandB::Image {
                data: &self.b,
                geometry,
                pad: self.pad,
            },
            None => QOperandB::Matrix {
                data: &self.b,
                ld: self.ldb,
            },
        }
    }

    /// Runs `k` on the case; the output's bytes (all of `C`, starting from a fixed junk pattern).
    fn run(&self, k: &QGemmKernels, threads: bool) -> Vec<u8> {
        let a = PackedQWeights::pack(
            k.layout,
            self.m,
            self.k,
            &self.a,
            self.lda,
            self.a_signed,
            &self.a_zp,
        )
        .unwrap();
        let g = QGemm {
            m: self.m,
            n: self.n,
            k: self.k,
            a: &a,
            b: self.operand(),
            b_signed: self.b_signed,
            b_zero_point: self.b_zp,
        };
        let len = (self.m - 1) * self.ldc + self.n;
        let (mut c32, mut c8, mut cf) = (
            vec![0x5a5a_5a5a_i32; len],
            vec![0x5a_u8; len],
            vec![-7.5f32; len],
        );
        let out = match self.out {
            OutKind::I32 => QOutput::I32 {
                c: &mut c32,
                ldc: self.ldc,
            },
            OutKind::Requant {
                signed,
                zero_point,
                lo,
                hi,
            } => QOutput::Requant {
                c: &mut c8,
                ldc: self.ldc,
                signed,
                bias: &self.bias,
                scale: &self.scale,
                zero_point,
                lo,
                hi,
            },
            OutKind::F32 => QOutput::F32 {
                c: &mut cf,
                ldc: self.ldc,
                bias: &self.bias,
                scale: &self.scale,
            },
        };
        if threads {
            // Three column blocks of the case's range, run on separate threads.
            let (s, e) = (self.cols.start, self.cols.end);
            let cuts = [s, s + (e - s) / 3, s + 2 * (e - s) / 3, e];
            let blocks = split_output(out, self.m, self.n, &cuts).unwrap();
            std::thread::scope(|sc| {
                for (i, b) in blocks.into_iter().enumerate() {
                    if i == 0 || i == 4 {
                        continue; // Outside the case's range.
                    }
                    let g = &g;
                    sc.spawn(move || (k.qgemm_block)(g, b).unwrap());
                }
            });
        } else {
            (k.qgemm)(&g, out, self.cols.clone()).unwrap();
        }
        match self.out {
            OutKind::I32 => c32.iter().flat_map(|x| x.to_le_bytes()).collect(),
            OutKind::Requant { .. } => c8,
            OutKind::F32 => cf.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect(),
        }
    }
}

const SIZES: [usize; 14] = [1, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 64, 40, 255];

fn size(max_index: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => (0..max_index).prop_map(|i| SIZES[i]),
        1 => 1usize..70,
    ]
}

/// Bytes biased towards the extremes of both types.
fn bytes(len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        1 => prop::sample::select(vec![0u8, 255, 0x80, 0x7f, 1, 0x81]),
        3 => any::<u8>(),
    ];
    prop::collection::vec(byte, len)
}

fn zero_point(signed: bool) -> impl Strategy<Value = i32> {
    let (lo, hi) = if signed { (-128, 127) } else { (0, 255) };
    prop_oneof![
        1 => prop::sample::select(vec![0, lo, hi]),
        2 => lo..=hi,
    ]
}

fn geometry() -> impl Strategy<Value = (QConvGeometry, usize)> {
    (
        (1usize..4, 1usize..6, 1usize..6, 1usize..4, 1usize..4),
        (
            1usize..3,
            1usize..3,
            0usize..3,
            0usize..3,
            0usize..3,
            0usize..3,
        ),
        (1usize..14, 1usize..14),
    )
        .prop_map(
            |((ch, kh, kw, sh, sw), (dh, dw, pt, pl, pb, pr), (ih, iw))| {
                // Grow the image until the dilated window fits inside the padded input.
                let in_h = ih.max((dh * (kh - 1) + 1).saturating_sub(pt + pb));
                let in_w = iw.max((dw * (kw - 1) + 1).saturating_sub(pl + pr));
                let out_h = (in_h + pt + pb - dh * (kh - 1) - 1) / sh + 1;
                let out_w = (in_w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
                let q = QConvGeometry {
                    channels: ch,
                    in_h,
                    in_w,
                    kernel_h: kh,
                    kernel_w: kw,
                    stride_h: sh,
                    stride_w: sw,
                    dilation_h: dh,
                    dilation_w: dw,
                    pad_top: pt,
                    pad_left: pl,
                    out_h,
                    out_w,
                };
                (q, ch * in_h * in_w)
            },
        )
}

fn out_kind() -> impl Strategy<Value = OutKind> {
    prop_oneof![
        Just(OutKind::I32),
        Just(OutKind::F32),
        (any::<bool>(), any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(signed, z, x, y)| {
            let shift = if signed { -128 } else { 0 };
            let (z, x, y) = (
                i32::from(z) + shift,
                i32::from(x) + shift,
                i32::from(y) + shift,
            );
            OutKind::Requant {
                signed,
                zero_point: z,
                lo: x.min(y),
                hi: x.max(y),
            }
        }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let shape = prop_oneof![
        3 => (size(14), size(14), size(14)).prop_map(|(m, n, k)| (m, n, k, None)),
        2 => (size(12), geometry()).prop_map(|(m, (q, _))| {
            (m, q.out_h * q.out_w, q.channels * q.kernel_h * q.kernel_w, Some(q))
        }),
    ];
    (
        shape,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        0usize..3,
        0usize..3,
    )
        .prop_flat_map(
            |((m, n, k, geometry), a_signed, b_signed, per_row, xa, xb, xc)| {
                let b_len = match geometry {
                    Some(q) => q.channels * q.in_h * q.in_w,
                    None => (k - 1) * (n + xb) + n,
                };
                (
                    bytes((m - 1) * (k + xa) + k),
                    prop::collection::vec(zero_point(a_signed), if per_row { m } else { 1 }),
                    bytes(b_len),
                    zero_point(b_signed),
                    any::<u8>(),
                    out_kind(),
                    prop_oneof![Just(vec![]), prop::collection::vec(-100_000i32..100_000, m)],
                    prop::collection::vec(
                        prop_oneof![1e-6f32..1e-2, Just(1.0f32), -1e-3f32..1e-3],
                        m,
                    ),
                    (0..=n, 0..=n),
                )
                    .prop_map(
                        move |(a, a_zp, b, b_zp, pad, out, bias, scale, (c0, c1))| Case {
                            m,
                            n,
                            k,
                            a,
                            lda: k + xa,
                            a_signed,
                            a_zp,
                            b,
                            geometry,
                            ldb: n + xb,
                            pad,
                            b_signed,
                            b_zp,
                            out,
                            bias,
                            scale,
                            ldc: n + xc,
                            cols: c0.min(c1)..c0.max(c1),
                        },
                    )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn variants_match_reference_bit_for_bit(c in case(), threads in any::<bool>()) {
        let want = c.run(&reference::KERNELS, false);
        for (name, k) in supported() {
            let got = c.run(&k, threads);
            prop_assert!(got == want, "{name} differs from the reference on {c:?}");
        }
    }
}

/// A case with a full-range product and a requantised output, for the direct tests below.
fn simple(m: usize, n: usize, k: usize) -> Case {
    Case {
        m,
        n,
        k,
        a: (0..m * k).map(|i| (i * 37 % 256) as u8).collect(),
        lda: k,
        a_signed: true,
        a_zp: vec![-3],
        b: (0..k * n).map(|i| (i * 91 % 256) as u8).collect(),
        geometry: None,
        ldb: n,
        pad: 0,
        b_signed: false,
        b_zp: 128,
        out: OutKind::I32,
        bias: vec![],
        scale: vec![0.01; m],
        ldc: n,
        cols: 0..n,
    }
}

#[test]
fn extreme_values_and_large_depth_match() {
    // All-extreme operands at the largest depth the tests use: the corrections in the VNNI
    // path (row and column sums) are at their largest.
    for (av, bv, a_signed, b_signed, za, zb) in [
        (0x80u8, 0xffu8, true, false, 127, 0),
        (0xff, 0x80, false, true, 0, 127),
        (0x7f, 0x7f, true, true, -128, -128),
        (0, 0xff, false, false, 255, 0),
    ] {
        let mut c = simple(17, 65, 255);
        c.a.fill(av);
        c.b.fill(bv);
        c.a_signed = a_signed;
        c.b_signed = b_signed;
        c.a_zp = vec![za];
        c.b_zp = zb;
        let want = c.run(&reference::KERNELS, false);
        for (name, k) in supported() {
            assert_eq!(c.run(&k, false), want, "{name}");
        }
    }
}

#[test]
fn symmetric_weights_requantised_from_registers_match() {
    // Weight zero point 0 and a requantised output: the VNNI kernel stores full tiles straight
    // from its registers (the rest through the shared epilogue). Scales from tiny to large
    // reach both clamps and the ±65536 clamp; scale 0.5 makes ties; the bias is per row.
    for (m, n, k, signed, scale) in [
        (24, 100, 12, false, 0.01f32),
        (16, 70, 27, true, 0.5),
        (9, 64, 48, false, 1.0),
        (32, 33, 3, true, 3e-4),
        (8, 96, 255, false, 40.0),
    ] {
        let mut c = simple(m, n, k);
        c.a_zp = vec![0];
        c.out = if signed {
            OutKind::Requant {
                signed,
                zero_point: -5,
                lo: -128,
                hi: 127,
            }
        } else {
            OutKind::Requant {
                signed,
                zero_point: 7,
                lo: 0,
                hi: 255,
            }
        };
        c.scale = (0..m).map(|r| scale * (r % 5 + 1) as f32).collect();
        c.bias = (0..m as i32).map(|r| r * 1000 - 7000).collect();
        let want = c.run(&reference::KERNELS, false);
        for (name, kern) in supported() {
            for threads in [false, true] {
                assert_eq!(c.run(&kern, threads), want, "{name} on {m}×{n}×{k}");
            }
        }
    }
}

#[test]
fn wide_strided_images_match() {
    // Rows wider than the proptest's images: the im2col copies at stride 1, 2 (by chunks of
    // 16 outputs) and 3, with padding on either side, odd widths and a block that starts
    // inside an output row.
    for (stride, kernel, in_w, pad) in [(2, 3, 75, 1), (2, 3, 100, 0), (1, 3, 70, 1), (3, 5, 97, 2)]
    {
        let (in_h, channels) = (7, 2);
        let out_w = (in_w + 2 * pad - kernel) / stride + 1;
        let out_h = (in_h + 2 * pad - kernel) / stride + 1;
        let q = QConvGeometry {
            channels,
            in_h,
            in_w,
            kernel_h: kernel,
            kernel_w: kernel,
            stride_h: stride,
            stride_w: stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
            out_h,
            out_w,
        };
        let (m, n, k) = (16, out_h * out_w, channels * kernel * kernel);
        let mut c = simple(m, n, k);
        c.a_zp = vec![0];
        c.b = (0..channels * in_h * in_w)
            .map(|i| (i * 53 % 256) as u8)
            .collect();
        c.geometry = Some(q);
        c.pad = 77;
        c.out = OutKind::Requant {
            signed: false,
            zero_point: 3,
            lo: 0,
            hi: 255,
        };
        for cols in [0..n, 5..n - 3] {
            let mut c = c.clone();
            c.cols = cols;
            let want = c.run(&reference::KERNELS, false);
            for (name, kern) in supported() {
                assert_eq!(c.run(&kern, false), want, "{name} on {q:?}");
            }
        }
    }
}

#[test]
fn k_zero_stores_the_epilogue_of_zero() {
    let mut all: Vec<(&str, QGemmKernels)> = vec![("reference", reference::KERNELS)];
    all.extend(supported());
    for (name, k) in all {
        let a = PackedQWeights::pack(k.layout, 2, 0, &[], 0, false, &[3]).unwrap();
        let g = QGemm {
            m: 2,
            n: 3,
            k: 0,
            a: &a,
            b: QOperandB::Matrix { data: &[], ld: 3 },
            b_signed: false,
            b_zero_point: 0,
        };
        let mut c = vec![1u8; 6];
        let out = QOutput::Requant {
            c: &mut c,
            ldc: 3,
            signed: false,
            bias: &[10, 20],
            scale: &[0.5, 0.25],
            zero_point: 3,
            lo: 0,
            hi: 255,
        };
        (k.qgemm)(&g, out, 0..3).unwrap();
        assert_eq!(c, [8, 8, 8, 8, 8, 8], "{name}");
    }
}

#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
#[test]
fn the_table_prefers_vnni_then_avx_vnni_then_avx2() {
    use crate::cpu::{CpuFeatures, MaxIsa};
    let avx2 = CpuFeatures {
        avx2: true,
        fma: true,
        ..CpuFeatures::default()
    };
    let avxvnni = CpuFeatures {
        avxvnni: true,
        ..avx2
    };
    let avx512vnni = CpuFeatures {
        avx512f: true,
        avx512bw: true,
        avx512vl: true,
        avx512vnni: true,
        ..avxvnni
    };
    let pick = |f: &CpuFeatures, cap| super::choose(f, cap).0.name;
    assert_eq!(pick(&CpuFeatures::default(), None), "qgemm_i8_reference");
    assert_eq!(pick(&avx2, None), "qgemm_i8_avx2_6x16");
    assert_eq!(pick(&avxvnni, None), "qgemm_i8_avxvnni_6x16");
    assert_eq!(pick(&avx512vnni, None), "qgemm_i8_avx512vnni_8x32");
    assert_eq!(
        pick(&avx512vnni, Some(MaxIsa::Avx2)),
        "qgemm_i8_avxvnni_6x16"
    );
    assert_eq!(
        pick(&avx512vnni, Some(MaxIsa::Scalar)),
        "qgemm_i8_reference"
    );
    // The table's layout is its kernel's.
    let (_, k) = super::choose(&avx512vnni, None);
    assert_eq!(k.layout, super::x86::VNNI.layout);
}
