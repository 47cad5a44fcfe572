//! Every compiled `qdepthwise` variant (reference included) against the table's `f32`
//! `depthwise` on the same PP-OCR-like layers.
//!
//! Throughput is in output elements per second. Variants this CPU cannot run are reported as
//! skipped. Run: `cargo bench -p mote-benches --bench qdepthwise`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::depthwise::DepthwiseParams;
use mote_kernels::cpu::qdepthwise::{PackedQDepthwiseWeights, QDepthwise, QDepthwiseOut};
use mote_kernels::cpu::{table, variants};

/// `(label, channels, h, w, kernel, stride)` with "same" padding.
const LAYERS: &[(&str, usize, usize, usize, usize, usize)] = &[
    ("3x3s1_96x160x160", 96, 160, 160, 3, 1),
    ("3x3s2_96x160x160", 96, 160, 160, 3, 2),
    ("5x5s2_240x40x40", 240, 40, 40, 5, 2),
    ("5x5s1_480x20x20", 480, 20, 20, 5, 1),
    // The text-line classifier's late layers: many channels, planes two or three rows high.
    ("5x5s1_200x2x96", 200, 2, 96, 5, 1),
    ("3x3s1_88x3x96", 88, 3, 96, 3, 1),
];

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919) % 251) as u8).collect()
}

fn qdepthwise(c: &mut Criterion) {
    for &(label, channels, h, w, k, s) in LAYERS {
        let p = DepthwiseParams {
            channels,
            in_h: h,
            in_w: w,
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: k / 2,
            pad_left: k / 2,
            pad_bottom: k / 2,
            pad_right: k / 2,
        };
        let (oh, ow) = p.output_size().expect("valid layer");
        let mut group = c.benchmark_group(format!("qdepthwise/{label}"));
        group.throughput(Throughput::Elements((channels * oh * ow) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let x = bytes(channels * h * w);
        let w =
            PackedQDepthwiseWeights::pack(&bytes(channels * k * k), true, &[0], channels, [k, k])
                .expect("valid weights");
        let bias: Vec<i32> = (0..channels as i32).map(|c| c * 31 - 500).collect();
        let scale = vec![0.0005f32; channels];
        let q = QDepthwise {
            params: p,
            x: &x,
            x_signed: false,
            x_zero_point: 128,
            w: w.as_slice(),
            w_pairs: w.pairs(),
            bias: &bias,
            scale: &scale,
        };
        let mut y = vec![0u8; channels * oh * ow];
        let mut yf = vec![0f32; channels * oh * ow];
        for v in variants() {
            let Some(f) = v.qdepthwise() else { continue };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| {
                    let out = QDepthwiseOut::U8 {
                        y: &mut y,
                        signed: false,
                        zero_point: 3,
                        lo: 0,
                        hi: 255,
                    };
                    f(black_box(&q), out)
                })
            });
            if !v.info.reference {
                let name = format!("{}_f32out", v.info.name);
                group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                    bench.iter(|| f(black_box(&q), QDepthwiseOut::F32 { y: &mut yf }))
                });
            }
        }
        // The f32 kernel this replaces, on the same layer.
        let (xf, wf): (Vec<f32>, Vec<f32>) = (
            x.iter().map(|&v| v as f32 / 255.0).collect(),
            w.as_slice().iter().map(|&v| v as f32 / 128.0).collect(),
        );
        let bf: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
        let name = format!("f32_{}", table().depthwise_info.name);
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| (table().depthwise)(&p, black_box(&xf), &wf, Some(&bf), None, &mut yf))
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
    targets = qdepthwise
}
criterion_main!(benches);
