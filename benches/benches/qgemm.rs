//! Every optimised `qgemm` variant (the reference is far too slow at these sizes) against the
//! table's `f32` GEMM on the same shapes: a square `u8 × s8` requantised GEMM and a 3×3 conv
//! read as an implicit im2col.
//!
//! Throughput is reported as elements/s with one "element" per operation (`2·m·n·k` per call),
//! so criterion's `Gelem/s` reads as GOPS (GFLOP/s for the `f32` line).
//! Run: `cargo bench -p mote-benches --bench qgemm`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::conv::{im2col, Im2ColParams};
use mote_kernels::cpu::matmul::{AOperand, BOperand, Gemm, GemmParams, Im2ColB, Strided};
use mote_kernels::cpu::qgemm::{PackedQWeights, QConvGeometry, QGemm, QOperandB, QOutput};
use mote_kernels::cpu::{table, variants};

fn bytes(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919 + seed) % 251) as u8).collect()
}

fn floats(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// `(label, m, k, geometry)`: `None` is a dense `m × m × k` matrix product.
fn shapes() -> Vec<(&'static str, usize, usize, Option<QConvGeometry>)> {
    let conv = QConvGeometry {
        channels: 64,
        in_h: 160,
        in_w: 160,
        kernel_h: 3,
        kernel_w: 3,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 1,
        pad_left: 1,
        out_h: 160,
        out_w: 160,
    };
    vec![
        ("1024x1024x1024", 1024, 1024, None),
        ("conv3x3_64x25600x576", 64, 576, Some(conv)),
    ]
}

fn qgemm(c: &mut Criterion) {
    for (label, m, k, geometry) in shapes() {
        let n = geometry.map_or(m, |q| q.out_h * q.out_w);
        let mut group = c.benchmark_group(format!("qgemm/{label}"));
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(3));
        let a = bytes(m * k, 1);
        let b = bytes(geometry.map_or(k * n, |q| q.channels * q.in_h * q.in_w), 2);
        let scale = vec![0.0007f32; m];
        let bias: Vec<i32> = (0..m as i32).map(|i| i * 13 - 100).collect();
        let mut out = vec![0u8; m * n];
        for v in variants() {
            let Some(kern) = v.qgemm() else { continue };
            if v.info.reference {
                continue;
            }
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            let packed = PackedQWeights::pack(kern.layout, m, k, &a, k, true, &[0]).unwrap();
            let operand = match geometry {
                Some(geometry) => QOperandB::Image {
                    data: &b,
                    geometry,
                    pad: 128,
                },
                None => QOperandB::Matrix { data: &b, ld: n },
            };
            let g = QGemm {
                m,
                n,
                k,
                a: &packed,
                b: operand,
                b_signed: false,
                b_zero_point: 128,
            };
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| {
                    let out = QOutput::Requant {
                        c: black_box(&mut out),
                        ldc: n,
                        signed: false,
                        bias: &bias,
                        scale: &scale,
                        zero_point: 3,
                        lo: 0,
                        hi: 255,
                    };
                    (kern.qgemm)(black_box(&g), out, 0..n).unwrap()
                })
            });
        }
        // The f32 baseline: the table's GEMM on the same shape (the conv through an explicit
        // im2col, as the f32 runtime path without direct packing would do it: only the GEMM
        // is timed).
        let fa = floats(m * k);
        let fb = match geometry {
            None => floats(k * n),
            Some(q) => {
                let image = floats(q.channels * q.in_h * q.in_w);
                let p = Im2ColParams {
                    channels: q.channels,
                    input_spatial: &[q.in_h, q.in_w],
                    kernel: &[3, 3],
                    strides: &[1, 1],
                    dilations: &[1, 1],
                    pads_begin: &[1, 1],
                    pads_end: &[1, 1],
                };
                let mut cols = vec![0.0f32; k * n];
                im2col(&p, &image, &mut cols).unwrap();
                cols
            }
        };
        let p = GemmParams::row_major(m, n, k);
        let mut fout = vec![0.0f32; m * n];
        let name = format!("f32_{}", table().sgemm_info.name);
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| (table().sgemm)(&p, black_box(&fa), black_box(&fb), black_box(&mut fout)))
        });
        // The f32 conv as the runtime runs it: `B` packed straight from the image.
        if let Some(q) = geometry {
            let image = floats(q.channels * q.in_h * q.in_w);
            let ip = Im2ColParams {
                channels: q.channels,
                input_spatial: &[q.in_h, q.in_w],
                kernel: &[3, 3],
                strides: &[1, 1],
                dilations: &[1, 1],
                pads_begin: &[1, 1],
                pads_end: &[1, 1],
            };
            let b = Im2ColB::new(&ip, &image).unwrap();
            let g = Gemm {
                m,
                n,
                k,
                a: AOperand::Strided(Strided {
                    data: &fa,
                    row_stride: k as isize,
                    col_stride: 1,
                }),
                b: BOperand::Im2Col(b),
                c_row_stride: n as isize,
                alpha: 1.0,
                beta: 0.0,
            };
            let name = format!("f32_{}_im2col_packed", table().sgemm_info.name);
            group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| (table().gemm)(black_box(&g), black_box(&mut fout), &[]))
            });
        }
        // And the f32 AVX2 GEMM, the fair baseline of the 256-bit int8 variants.
        let avx2 = variants()
            .iter()
            .find(|v| v.info.name == "matmul_f32_avx2_6x16" && v.is_supported());
        if let Some(v) = avx2.filter(|v| v.info != table().sgemm_info) {
            let sgemm = v.sgemm().map(|k| k.sgemm);
            if let Some(sgemm) = sgemm {
                let name = format!("f32_{}", v.info.name);
                group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                    bench.iter(|| sgemm(&p, black_box(&fa), black_box(&fb), black_box(&mut fout)))
                });
            }
        }
        group.finish();
    }
}

/// The convolutions of PP-OCRv4 det that run as `qgemm` (`label, m = C_out, geometry`), as the
/// runtime calls them: 1×1 stride-1 convs as a `[C_in, H·W]` matrix, the others as an implicit
/// im2col; symmetric `i8` weights, `u8` activations. Throughput counts one element per MAC, so
/// `Gelem/s` reads as GMAC/s.
fn det_shapes() -> Vec<(&'static str, usize, QConvGeometry)> {
    let conv = |channels, size, kernel, stride, out| QConvGeometry {
        channels,
        in_h: size,
        in_w: size,
        kernel_h: kernel,
        kernel_w: kernel,
        stride_h: stride,
        stride_w: stride,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: kernel / 2,
        pad_left: kernel / 2,
        out_h: out,
        out_w: out,
    };
    vec![
        ("1x1_16to32_320", 32, conv(16, 320, 1, 1, 320)),
        ("3x3s2_3to16_640", 16, conv(3, 640, 3, 2, 320)),
        ("3x3_96to24_160", 24, conv(96, 160, 3, 1, 160)),
        ("1x1_12to96_160", 96, conv(12, 160, 1, 1, 160)),
        ("1x1_48to48_160", 48, conv(48, 160, 1, 1, 160)),
    ]
}

fn det(c: &mut Criterion) {
    for (label, m, q) in det_shapes() {
        let k = q.channels * q.kernel_h * q.kernel_w;
        let n = q.out_h * q.out_w;
        let mut group = c.benchmark_group(format!("det_shapes/{label}"));
        group.throughput(Throughput::Elements((m * n * k) as u64));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_secs(2));
        let a = bytes(m * k, 1);
        let b = bytes(q.channels * q.in_h * q.in_w, 2);
        let scale = vec![0.0007f32; m];
        let bias: Vec<i32> = (0..m as i32).map(|i| i * 13 - 100).collect();
        let mut out = vec![0u8; m * n];
        for v in variants() {
            let Some(kern) = v.qgemm() else { continue };
            if v.info.reference || !v.is_supported() {
                continue;
            }
            let packed = PackedQWeights::pack(kern.layout, m, k, &a, k, true, &[0]).unwrap();
            let operand = if q.kernel_h == 1 && q.kernel_w == 1 && q.stride_h == 1 {
                QOperandB::Matrix { data: &b, ld: n }
            } else {
                QOperandB::Image {
                    data: &b,
                    geometry: q,
                    pad: 128,
                }
            };
            let g = QGemm {
                m,
                n,
                k,
                a: &packed,
                b: operand,
                b_signed: false,
                b_zero_point: 128,
            };
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| {
                    let out = QOutput::Requant {
                        c: black_box(&mut out),
                        ldc: n,
                        signed: false,
                        bias: &bias,
                        scale: &scale,
                        zero_point: 3,
                        lo: 0,
                        hi: 255,
                    };
                    (kern.qgemm)(black_box(&g), out, 0..n).unwrap()
                })
            });
        }
        group.finish();
    }
}

/// Reports go to `target/tmp/criterion`, not to a `target/` inside this package.
fn config() -> Criterion {
    Criterion::default().output_directory(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("criterion"))
}

criterion_group! {
    name = benches;
    config = config();
    targets = qgemm, det
}
criterion_main!(benches);
