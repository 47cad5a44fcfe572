//! Every compiled `activation` variant (reference included) on a few activations, plus the
//! `softmax` and `layernorm` row kernels, at an L1-sized and an L2/L3-sized length.
//!
//! Throughput is in elements, so criterion's `Gelem/s` reads as billions of activations per
//! second. Each activation iteration is a copy of the input then the in-place activation — how
//! the runtime calls it (output = copy of input, then `activate`), and needed anyway: activating
//! the same buffer repeatedly drifts into infinities and subnormals. Variants this CPU cannot run
//! are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench activation`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::activation::Activation;
use mote_kernels::cpu::layernorm::LayerNormParams;
use mote_kernels::cpu::softmax::SoftmaxParams;
use mote_kernels::cpu::{variants, Variant};

const LENGTHS: [usize; 2] = [1000, 100_000];

const ACTIVATIONS: [(&str, Activation); 6] = [
    ("relu", Activation::Relu),
    ("hardswish", Activation::HardSwish),
    ("sigmoid", Activation::Sigmoid),
    ("tanh", Activation::Tanh),
    ("exp", Activation::Exp),
    ("gelu", Activation::Gelu),
];

/// Values in [-8, 8): both sides of every kink and the saturating ranges.
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 62.5 - 8.0)
        .collect()
}

/// The supported variants of a family, reporting the others as skipped.
fn runnable<T>(pick: impl Fn(&Variant) -> Option<T>) -> Vec<(&'static str, T)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = pick(v)?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

fn activation(c: &mut Criterion) {
    let kernels = runnable(Variant::activate);
    for (label, act) in ACTIVATIONS {
        for len in LENGTHS {
            let mut group = c.benchmark_group(format!("activation_f32/{label}/{len}"));
            configure(&mut group);
            group.throughput(Throughput::Elements(len as u64));
            let input = values(len);
            let mut x = input.clone();
            for &(name, f) in &kernels {
                group.bench_function(BenchmarkId::from_parameter(name), |b| {
                    b.iter(|| {
                        x.copy_from_slice(&input);
                        f(act, black_box(&mut x))
                    })
                });
            }
            group.finish();
        }
    }
}

/// Rows of 1000 (a wide attention or classifier row), 100 of them.
fn rows(c: &mut Criterion) {
    let (row_len, n) = (1000, 100_000);
    let x = values(n);
    let mut y = vec![0.0f32; n];

    let mut group = c.benchmark_group(format!("softmax_f32/rows_of_{row_len}"));
    configure(&mut group);
    group.throughput(Throughput::Elements(n as u64));
    let p = SoftmaxParams {
        row_len,
        log: false,
    };
    for (name, f) in runnable(Variant::softmax) {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| f(&p, black_box(&x), black_box(&mut y)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("layernorm_f32/rows_of_{row_len}"));
    configure(&mut group);
    group.throughput(Throughput::Elements(n as u64));
    let p = LayerNormParams {
        row_len,
        epsilon: 1e-5,
    };
    let (scale, bias) = (values(row_len), values(row_len));
    for (name, f) in runnable(Variant::layer_norm) {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
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

criterion_group!(benches, activation, rows);
criterion_main!(benches);
