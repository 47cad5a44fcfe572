//! Every compiled `reduce` variant (reference included) on `Sum` and `Max`, in both loop
//! shapes: contiguous rows (`ReduceMean` over the last axis of PP-OCR rec's `[40, 120]`
//! tokens, and long rows) and rows folded together (over the channels of a `[96, 40 · 40]`
//! feature map).
//!
//! Throughput is in input elements. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench reduce`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::reduce::{ReduceFn, ReduceOp, ReduceParams};
use mote_kernels::cpu::variants;

/// `(label, layout)`.
const SHAPES: [(&str, ReduceParams); 3] = [
    (
        "rows_40x120",
        ReduceParams {
            outer: 40,
            len: 120,
            inner: 1,
        },
    ),
    (
        "rows_4x65536",
        ReduceParams {
            outer: 4,
            len: 65536,
            inner: 1,
        },
    ),
    (
        "columns_96x1600",
        ReduceParams {
            outer: 1,
            len: 96,
            inner: 1600,
        },
    ),
];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 62.5 - 8.0)
        .collect()
}

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, ReduceFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.reduce()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn reduce(c: &mut Criterion) {
    let kernels = runnable();
    for (label, op) in [("sum", ReduceOp::Sum), ("max", ReduceOp::Max)] {
        for (shape, p) in SHAPES {
            let x = values(p.outer * p.len * p.inner);
            let mut y = vec![0.0f32; p.outer * p.inner];
            let mut group = c.benchmark_group(format!("reduce_f32/{label}/{shape}"));
            group
                .sample_size(20)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(1))
                .throughput(Throughput::Elements(x.len() as u64));
            for &(name, f) in &kernels {
                group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                    bench.iter(|| f(op, black_box(&p), black_box(&x), black_box(&mut y)))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, reduce);
criterion_main!(benches);
