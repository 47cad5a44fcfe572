//! Every compiled `softmax` variant (reference included) on the rows the runtime meets: PP-OCR
//! rec's classifier output (40 time steps × 6625 characters, as softmax and as log-softmax),
//! attention scores (128 rows of 128) and one ImageNet classifier row of 1000.
//!
//! Throughput is in input elements. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench softmax`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::softmax::{SoftmaxFn, SoftmaxParams};
use mote_kernels::cpu::variants;

/// `(label, row_len, rows, log)`.
const SHAPES: [(&str, usize, usize, bool); 4] = [
    ("rec_classifier", 6625, 40, false),
    ("rec_classifier_log", 6625, 40, true),
    ("attention", 128, 128, false),
    ("imagenet", 1000, 1, false),
];

/// Values in [-8, 8): logits of a realistic spread.
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 62.5 - 8.0)
        .collect()
}

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, SoftmaxFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.softmax()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn softmax(c: &mut Criterion) {
    let kernels = runnable();
    for (label, row_len, rows, log) in SHAPES {
        let n = row_len * rows;
        let x = values(n);
        let mut y = vec![0.0f32; n];
        let p = SoftmaxParams { row_len, log };
        let mut group = c.benchmark_group(format!("softmax_f32/{label}/{rows}x{row_len}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(n as u64));
        for &(name, f) in &kernels {
            group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| f(&p, black_box(&x), black_box(&mut y)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, softmax);
criterion_main!(benches);
