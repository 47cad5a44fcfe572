//! Calls every variant must refuse: weights packed for another layout, and operands, outputs
//! or parameters that do not fit the call.

use super::*;

#[test]
fn layout_mismatch_is_rejected() {
    let c = simple(4, 4, 4);
    let a = PackedQWeights::pack(QLayout::RAW, 4, 4, &c.a, 4, true, &[0]).unwrap();
    let mut out = vec![0i32; 16];
    for (name, k) in supported() {
        let g = QGemm {
            m: 4,
            n: 4,
            k: 4,
            a: &a,
            b: c.operand(),
            b_signed: false,
            b_zero_point: 0,
        };
        let r = (k.qgemm)(
            &g,
            QOutput::I32 {
                c: &mut out,
                ldc: 4,
            },
            0..4,
        );
        assert!(
            r.is_err(),
            "{name} accepted weights packed for the reference"
        );
        // And the reference rejects theirs.
        let a2 = PackedQWeights::pack(k.layout, 4, 4, &c.a, 4, true, &[0]).unwrap();
        let g = QGemm { a: &a2, ..g };
        let r = reference::qgemm(
            &g,
            QOutput::I32 {
                c: &mut out,
                ldc: 4,
            },
            0..4,
        );
        assert!(
            r.is_err(),
            "the reference accepted weights packed for {name}"
        );
    }
}

#[test]
fn bad_arguments_are_errors() {
    let c = simple(5, 6, 7);
    let mut all: Vec<(&str, QGemmKernels)> = vec![("reference", reference::KERNELS)];
    all.extend(supported());
    for (name, k) in all {
        let pack = |a: &[u8], lda, zp: &[i32], signed| {
            PackedQWeights::pack(k.layout, 5, 7, a, lda, signed, zp)
        };
        assert!(pack(&c.a[..34], 7, &[0], true).is_err(), "{name}: short A");
        assert!(pack(&c.a, 6, &[0], true).is_err(), "{name}: lda < k");
        assert!(
            pack(&c.a, 7, &[0, 0], true).is_err(),
            "{name}: 2 zero points for 5 rows"
        );
        assert!(
            pack(&c.a, 7, &[128], true).is_err(),
            "{name}: i8 zero point 128"
        );
        assert!(
            pack(&c.a, 7, &[-1], false).is_err(),
            "{name}: u8 zero point -1"
        );
        let a = pack(&c.a, 7, &[0], true).unwrap();
        let g = QGemm {
            m: 5,
            n: 6,
            k: 7,
            a: &a,
            b: c.operand(),
            b_signed: false,
            b_zero_point: 0,
        };
        let mut out = vec![0i32; 30];
        let mut out8 = vec![0u8; 30];
        let scale = vec![1.0f32; 5];
        let run = |g: &QGemm<'_>, out: QOutput<'_>, cols| (k.qgemm)(g, out, cols);
        let ok = run(
            &g,
            QOutput::I32 {
                c: &mut out,
                ldc: 6,
            },
            0..6,
        );
        assert!(ok.is_ok(), "{name}: {ok:?}");
        assert!(
            run(
                &g,
                QOutput::I32 {
                    c: &mut out,
                    ldc: 6
                },
                2..7
            )
            .is_err(),
            "{name}: cols"
        );
        assert!(
            run(
                &g,
                QOutput::I32 {
                    c: &mut out,
                    ldc: 7
                },
                0..6
            )
            .is_err(),
            "{name}: short C"
        );
        assert!(
            run(
                &g,
                QOutput::I32 {
                    c: &mut out,
                    ldc: 5
                },
                0..6
            )
            .is_err(),
            "{name}: ldc < n"
        );
        assert!(run(
            &QGemm { k: 6, ..g },
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        assert!(run(
            &QGemm {
                b_zero_point: 256,
                ..g
            },
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        let short_b = QOperandB::Matrix {
            data: &c.b[..41],
            ld: 6,
        };
        assert!(run(
            &QGemm { b: short_b, ..g },
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        let requant = |out8: &mut Vec<u8>, scale: &[f32], bias: &[i32], zp, lo, hi| {
            let out = QOutput::Requant {
                c: out8,
                ldc: 6,
                signed: false,
                bias,
                scale,
                zero_point: zp,
                lo,
                hi,
            };
            (k.qgemm)(&g, out, 0..6)
        };
        assert!(requant(&mut out8, &scale, &[], 0, 0, 255).is_ok(), "{name}");
        assert!(
            requant(&mut out8, &scale[..4], &[], 0, 0, 255).is_err(),
            "{name}: scales"
        );
        assert!(
            requant(&mut out8, &scale, &[1; 4], 0, 0, 255).is_err(),
            "{name}: biases"
        );
        assert!(
            requant(&mut out8, &scale, &[], -1, 0, 255).is_err(),
            "{name}: zero point"
        );
        assert!(
            requant(&mut out8, &scale, &[], 0, 10, 9).is_err(),
            "{name}: lo > hi"
        );
        assert!(
            requant(&mut out8, &scale, &[], 0, 0, 256).is_err(),
            "{name}: hi"
        );
        let nan = [1.0, 1.0, f32::NAN, 1.0, 1.0];
        assert!(
            requant(&mut out8, &nan, &[], 0, 0, 255).is_err(),
            "{name}: NaN scale"
        );
        // A geometry whose matrix is not k × n, an image of the wrong size, a zero stride.
        let q = QConvGeometry {
            channels: 1,
            in_h: 3,
            in_w: 2,
            kernel_h: 7,
            kernel_w: 1,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 3,
            pad_left: 0,
            out_h: 3,
            out_w: 2,
        };
        let image = vec![0u8; 6];
        let img = |q, data| QOperandB::Image {
            data,
            geometry: q,
            pad: 0,
        };
        let gi = |b| QGemm { b, ..g };
        assert!(run(
            &gi(img(q, &image)),
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_ok());
        assert!(run(
            &gi(img(q, &image[..5])),
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        let q2 = QConvGeometry { out_w: 3, ..q };
        assert!(run(
            &gi(img(q2, &image)),
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        let q3 = QConvGeometry { stride_w: 0, ..q };
        assert!(run(
            &gi(img(q3, &image)),
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        let q5 = QConvGeometry {
            pad_left: usize::MAX,
            ..q
        };
        let i32_out = |out: &mut Vec<i32>| {
            let q = q5;
            (k.qgemm)(&gi(img(q, &image)), QOutput::I32 { c: out, ldc: 6 }, 0..6)
        };
        assert!(i32_out(&mut out).is_err(), "{name}: pad_left overflows");
        let q4 = QConvGeometry {
            out_h: usize::MAX / 2,
            out_w: 1,
            ..q
        };
        assert!(run(
            &gi(img(q4, &image)),
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            0..6
        )
        .is_err());
        // Column cuts out of order, a block of another shape.
        assert!(split_output(
            QOutput::I32 {
                c: &mut out,
                ldc: 6
            },
            5,
            6,
            &[4, 2]
        )
        .is_err());
        let blocks = split_output(
            QOutput::I32 {
                c: &mut out,
                ldc: 6,
            },
            5,
            6,
            &[3],
        )
        .unwrap();
        for b in blocks {
            assert!(
                (k.qgemm_block)(&QGemm { m: 4, ..g }, b).is_err(),
                "{name}: block rows"
            );
        }
        let blocks = split_output(
            QOutput::I32 {
                c: &mut out,
                ldc: 7,
            },
            4,
            7,
            &[3],
        )
        .unwrap();
        let g4 = QGemm { m: 4, ..g };
        for b in blocks {
            assert!(
                (k.qgemm_block)(&g4, b).is_err(),
                "{name}: block columns past n"
            );
        }
    }
}
