//! Every compiled `pool` variant (reference included): global average pooling as in the
//! squeeze-and-excitation blocks of PP-LCNet, and the windowed pools of PP-OCR.
//!
//! Throughput is in input elements per second. Variants this CPU cannot run are reported as
//! skipped. Run: `cargo bench -p mote-benches --bench pool`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::pool::{GlobalPoolOp, PoolOp, PoolParams};
use mote_kernels::cpu::variants;

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn quick(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

/// `(label, channels, plane)`: SE blocks' inputs.
const GLOBAL: &[(&str, usize, usize)] =
    &[("gap_240x40x40", 240, 1600), ("gap_480x20x20", 480, 400)];

fn global(c: &mut Criterion) {
    for &(label, channels, plane) in GLOBAL {
        let mut group = c.benchmark_group(format!("pool_f32/{label}"));
        group.throughput(Throughput::Elements((channels * plane) as u64));
        quick(&mut group);
        let x = values(channels * plane);
        let mut y = vec![0.0f32; channels];
        for v in variants() {
            let Some(k) = v.pool() else { continue };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| (k.global_pool)(GlobalPoolOp::Average, plane, black_box(&x), &mut y))
            });
        }
        group.finish();
    }
}

/// `(label, op, channels, h·w, kernel, stride, pad)`.
const WINDOWED: &[(&str, PoolOp, usize, usize, usize, usize, usize)] = &[
    ("maxpool_3x3s2_64x160x160", PoolOp::Max, 64, 160, 3, 2, 1),
    (
        "avgpool_2x2s2_256x24x80",
        PoolOp::Average {
            count_include_pad: false,
        },
        256,
        24,
        2,
        2,
        0,
    ),
];

fn windowed(c: &mut Criterion) {
    for &(label, op, channels, hw, k, s, pad) in WINDOWED {
        // The rec model's pools are on wide strips: height `hw`, width ~3.3× (as 24×80).
        let (in_h, in_w) = if label.starts_with("avg") {
            (hw, hw * 10 / 3)
        } else {
            (hw, hw)
        };
        let out = |len: usize| (len + 2 * pad - k) / s + 1;
        let p = PoolParams {
            channels,
            in_h,
            in_w,
            out_h: out(in_h),
            out_w: out(in_w),
            kernel_h: k,
            kernel_w: k,
            stride_h: s,
            stride_w: s,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
            pad_bottom: pad,
            pad_right: pad,
        };
        let mut group = c.benchmark_group(format!("pool_f32/{label}"));
        group.throughput(Throughput::Elements((channels * in_h * in_w) as u64));
        quick(&mut group);
        let x = values(channels * in_h * in_w);
        let mut y = vec![0.0f32; channels * p.out_h * p.out_w];
        for v in variants() {
            let Some(k) = v.pool() else { continue };
            if !v.is_supported() {
                continue; // Reported by `global`.
            }
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| (k.pool2d)(&p, op, black_box(&x), &mut y))
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
    targets = global, windowed
}
criterion_main!(benches);
