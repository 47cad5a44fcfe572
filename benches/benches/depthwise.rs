//! Every compiled `depthwise` variant (reference included) on PP-OCR-like layers.
//!
//! Throughput is in output elements per second. Variants this CPU cannot run are reported as
//! skipped. Run: `cargo bench -p mote-benches --bench depthwise`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::activation::Activation;
use mote_kernels::cpu::depthwise::DepthwiseParams;
use mote_kernels::cpu::{table, variants};

/// `(label, channels, h·w, kernel, stride)` with "same" padding: MobileNetV3 / PP-LCNet
/// blocks at the sizes PP-OCR det runs them.
const LAYERS: &[(&str, usize, usize, usize, usize)] = &[
    ("3x3s1_96x160x160", 96, 160, 3, 1),
    ("3x3s2_96x160x160", 96, 160, 3, 2),
    ("5x5s2_240x40x40", 240, 40, 5, 2),
    ("5x5s1_480x20x20", 480, 20, 5, 1),
];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn depthwise(c: &mut Criterion) {
    for &(label, channels, hw, k, s) in LAYERS {
        let p = DepthwiseParams {
            channels,
            in_h: hw,
            in_w: hw,
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
        let mut group = c.benchmark_group(format!("depthwise_f32/{label}"));
        group.throughput(Throughput::Elements((channels * oh * ow) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let (x, w, b) = (
            values(channels * hw * hw),
            values(channels * k * k),
            values(channels),
        );
        let mut y = vec![0.0f32; channels * oh * ow];
        for v in variants() {
            let Some(f) = v.depthwise() else { continue };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| f(&p, black_box(&x), black_box(&w), Some(&b), None, &mut y))
            });
        }
        // The table's kernel with the fused activation PP-OCR uses.
        let name = format!("{}+hardswish", table().depthwise_info.name);
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| {
                let act = Some(Activation::HardSwish);
                (table().depthwise)(&p, black_box(&x), black_box(&w), Some(&b), act, &mut y)
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
    targets = depthwise
}
criterion_main!(benches);
