//! Every compiled `binary` variant (reference included) on `Add` and `Div`, with both operands
//! contiguous and with the right one repeated (a scalar or per-channel operand), at an
//! L1-sized length and at the size of a `[64, 24, 160]` feature map (L2).
//!
//! Throughput is in output elements. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench binary`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::binary::{BinaryFn, BinaryOp};
use mote_kernels::cpu::variants;

const LENGTHS: [usize; 2] = [4096, 64 * 24 * 160];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 62.5 - 8.0)
        .collect()
}

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, BinaryFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.binary()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn binary(c: &mut Criterion) {
    let kernels = runnable();
    for (label, op) in [("add", BinaryOp::Add), ("div", BinaryOp::Div)] {
        for len in LENGTHS {
            let (a, b) = (values(len), values(len));
            let b: Vec<f32> = b.iter().map(|v| v + 10.0).collect(); // no division by zero
            let mut out = vec![0.0f32; len];
            for (layout, right) in [("same_shape", &b[..]), ("repeated", &b[..1])] {
                let mut group = c.benchmark_group(format!("binary_f32/{label}/{layout}/{len}"));
                group
                    .sample_size(20)
                    .warm_up_time(Duration::from_millis(300))
                    .measurement_time(Duration::from_secs(1))
                    .throughput(Throughput::Elements(len as u64));
                for &(name, f) in &kernels {
                    group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                        bench.iter(|| f(op, black_box(&a), black_box(right), black_box(&mut out)))
                    });
                }
                group.finish();
            }
        }
    }
}

criterion_group!(benches, binary);
criterion_main!(benches);
