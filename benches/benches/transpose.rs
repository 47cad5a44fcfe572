//! Every compiled `transpose` variant (reference included) on contiguous matrices: an L1-sized
//! 97×33 (odd on both sides: every variant's edge path), 256×256 (L2), 1024×1024 (4 MiB, past
//! L2: memory-bound) and a long thin 40×6625 (a `[1, 40, 6625]` sequence head's `[0, 2, 1]`).
//!
//! Throughput is in elements moved. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench transpose`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::transpose::{TransposeFn, TransposeParams};
use mote_kernels::cpu::variants;

const SHAPES: [(usize, usize); 4] = [(97, 33), (256, 256), (1024, 1024), (40, 6625)];

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, TransposeFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.transpose()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn transpose(c: &mut Criterion) {
    let kernels = runnable();
    for (rows, cols) in SHAPES {
        let p = TransposeParams::contiguous(1, rows, cols);
        let x: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let mut y = vec![0.0f32; rows * cols];
        let mut group = c.benchmark_group(format!("transpose_f32/{rows}x{cols}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements((rows * cols) as u64));
        for &(name, f) in &kernels {
            group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| f(black_box(&p), black_box(&x), black_box(&mut y)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, transpose);
criterion_main!(benches);
