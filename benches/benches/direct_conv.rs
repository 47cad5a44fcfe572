//! The direct conv variants against the im2col GEMM the runtime would otherwise run, on the
//! stride-1 convs of PP-OCR and a few classic CNN layers ("same" padding).
//!
//! Throughput is in multiply-adds (`out_channels · in_channels · taps · positions`), so the
//! two ways read as GFLOP/s ÷ 2. Run: `cargo bench -p mote-benches --bench direct_conv`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::conv::Im2ColParams;
use mote_kernels::cpu::direct_conv::{DirectConvParams, PackedConvWeights};
use mote_kernels::cpu::matmul::{
    packing_tile, split_columns, AOperand, BOperand, Gemm, Im2ColB, PackedA, PostOp, Strided,
};
use mote_kernels::cpu::{table, variants};

/// `(label, in_channels, out_channels, input h = w, kernel, stride)`.
const LAYERS: &[(&str, usize, usize, usize, usize, usize)] = &[
    ("det_96to24_3x3_160", 96, 24, 160, 3, 1),
    ("det_96to24_3x3_80", 96, 24, 80, 3, 1),
    ("det_96to24_3x3_20", 96, 24, 20, 3, 1),
    ("det_first_3to16_3x3s2_640", 3, 16, 640, 3, 2),
    ("c64to64_3x3_56", 64, 64, 56, 3, 1),
    ("c128to128_3x3_28", 128, 128, 28, 3, 1),
    ("c128to256_3x3s2_28", 128, 256, 28, 3, 2),
    ("c256to256_3x3_14", 256, 256, 14, 3, 1),
];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn direct_conv(c: &mut Criterion) {
    for &(label, ic, oc, hw, k, stride) in LAYERS {
        let p = DirectConvParams {
            in_channels: ic,
            in_h: hw,
            in_w: hw,
            kernel_h: k,
            kernel_w: k,
            stride_h: stride,
            stride_w: stride,
            pad_top: k / 2,
            pad_left: k / 2,
            pad_bottom: k / 2,
            pad_right: k / 2,
        };
        let (oh, ow) = p.output_size().expect("valid layer");
        let n = oh * ow;
        let mut group = c.benchmark_group(format!("direct_conv_f32/{label}"));
        group.throughput(Throughput::Elements((oc * ic * k * k * n) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let (x, w, b) = (values(ic * hw * hw), values(oc * ic * k * k), values(oc));
        let post = [PostOp::BiasPerRow(&b)];
        let mut y = vec![0.0f32; oc * n];
        for v in variants() {
            let Some(kernel) = v.direct_conv() else {
                continue;
            };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            if v.info.reference && hw > 40 {
                continue; // Minutes per layer, and only an oracle.
            }
            let packed = PackedConvWeights::pack(kernel.block, oc, ic, k, k, &w).unwrap();
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| {
                    let c = split_columns(&mut y, oc, n, n as isize, &[]).unwrap();
                    let c = c.into_iter().next().unwrap();
                    (kernel.run)(&p, black_box(&x), &packed, c, &post).unwrap()
                })
            });
        }
        // What the runtime does without a direct kernel: im2col packed straight from the
        // image into the table's GEMM, weights packed once.
        let a = Strided {
            data: &w,
            row_stride: (ic * k * k) as isize,
            col_stride: 1,
        };
        let packed = PackedA::pack(packing_tile(), oc, ic * k * k, a).unwrap();
        let geometry = Im2ColParams {
            channels: ic,
            input_spatial: &[hw, hw],
            kernel: &[k, k],
            strides: &[stride, stride],
            dilations: &[1, 1],
            pads_begin: &[k / 2, k / 2],
            pads_end: &[k / 2, k / 2],
        };
        let name = format!("im2col_{}", table().sgemm_info.name);
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| {
                let g = Gemm {
                    m: oc,
                    n,
                    k: ic * k * k,
                    a: AOperand::Packed(&packed),
                    b: BOperand::Im2Col(Im2ColB::new(&geometry, black_box(&x)).unwrap()),
                    c_row_stride: n as isize,
                    alpha: 1.0,
                    beta: 0.0,
                };
                (table().gemm)(&g, &mut y, &post).unwrap()
            })
        });
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
    targets = direct_conv
}
criterion_main!(benches);
