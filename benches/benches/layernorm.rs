//! Every compiled `layernorm` variant (reference included) on the rows the runtime meets:
//! PP-OCR rec's SVTR blocks (40 tokens of 120), a BERT-base sequence (128 tokens of 768), and
//! odd row lengths (17 and 255) that leave a vector tail in every row. Scale and bias are given,
//! the per-row statistics are not asked for (how ONNX models call it).
//!
//! Throughput is in input elements. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench layernorm`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::layernorm::{LayerNormFn, LayerNormParams};
use mote_kernels::cpu::variants;

/// `(label, row_len, rows)`.
const SHAPES: [(&str, usize, usize); 4] = [
    ("svtr", 120, 40),
    ("bert_base", 768, 128),
    ("odd_17", 17, 1000),
    ("odd_255", 255, 100),
];

/// Values in [-8, 8).
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 62.5 - 8.0)
        .collect()
}

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, LayerNormFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.layer_norm()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn layernorm(c: &mut Criterion) {
    let kernels = runnable();
    for (label, row_len, rows) in SHAPES {
        let n = row_len * rows;
        let x = values(n);
        let (scale, bias) = (values(row_len), values(row_len));
        let mut y = vec![0.0f32; n];
        let p = LayerNormParams {
            row_len,
            epsilon: 1e-5,
        };
        let mut group = c.benchmark_group(format!("layernorm_f32/{label}/{rows}x{row_len}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(n as u64));
        for &(name, f) in &kernels {
            group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| {
                    f(
                        &p,
                        black_box(&x),
                        &scale,
                        Some(&bias),
                        black_box(&mut y),
                        None,
                    )
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, layernorm);
criterion_main!(benches);
