//! Every compiled `matmul` variant (reference included) on square and conv-like shapes.
//!
//! Throughput is reported as elements/s with one "element" per floating-point operation
//! (`2·m·n·k` per call), so criterion's `Gelem/s` reads as GFLOP/s. Variants this CPU cannot run
//! are reported as skipped. Run: `cargo bench -p mote-benches --bench matmul`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::matmul::{GemmParams, PostOp};
use mote_kernels::cpu::{table, variants};

/// `(label, m, n, k)`. The conv-like shape is ResNet-50's 3×3 conv at 56×56 with 64 channels
/// (`C_out × H·W × C_in·3·3`).
const SHAPES: &[(&str, usize, usize, usize)] = &[
    ("64x64x64", 64, 64, 64),
    ("256x256x256", 256, 256, 256),
    ("conv_64x3136x576", 64, 3136, 576),
];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn matmul(c: &mut Criterion) {
    for &(label, m, n, k) in SHAPES {
        let mut group = c.benchmark_group(format!("matmul_f32/{label}"));
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let p = GemmParams::row_major(m, n, k);
        let (a, b) = (values(m * k), values(k * n));
        let mut out = vec![0.0f32; m * n];
        for v in variants() {
            let Some(kern) = v.sgemm() else { continue };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            group.bench_function(BenchmarkId::from_parameter(v.info.name), |bench| {
                bench.iter(|| (kern.sgemm)(&p, black_box(&a), black_box(&b), black_box(&mut out)))
            });
        }
        // The table's kernel with a fused conv epilogue (bias per output channel, then ReLU).
        let bias = values(m);
        let post = [PostOp::BiasPerRow(&bias), PostOp::Relu];
        let name = format!("{}+bias+relu", table().sgemm_info.name);
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| {
                (table().sgemm_fused)(&p, black_box(&a), black_box(&b), black_box(&mut out), &post)
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
    targets = matmul
}
criterion_main!(benches);
