//! Every compiled `quantize`-family variant (reference included): QuantizeLinear,
//! DequantizeLinear, quantized Add (two full operands) and Mul (by one repeated element),
//! requantize and the 256-entry table lookup, next to the table's `f32` binary Add on the same
//! element count.
//!
//! Throughput is in elements per second. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench quantize`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::binary::BinaryOp;
use mote_kernels::cpu::quantize::{QBinaryOp, QParams};
use mote_kernels::cpu::{table, variants};

/// Elements: an L2-resident tensor and a 160×160×96 activation.
const SIZES: &[usize] = &[64 * 1024, 96 * 160 * 160];

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7919) % 251) as u8).collect()
}

fn quantize(c: &mut Criterion) {
    let (qa, qb, qy) = (
        QParams {
            scale: 0.02,
            zero_point: 128,
            signed: false,
        },
        QParams {
            scale: 0.03,
            zero_point: -5,
            signed: true,
        },
        QParams {
            scale: 0.04,
            zero_point: 120,
            signed: false,
        },
    );
    for &n in SIZES {
        let mut group = c.benchmark_group(format!("quantize/{n}"));
        group.throughput(Throughput::Elements(n as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let (a, b) = (bytes(n), bytes(n + 1)[1..].to_vec());
        let xf: Vec<f32> = a.iter().map(|&v| v as f32 * 0.013 - 1.5).collect();
        let table256: [u8; 256] = std::array::from_fn(|i| (255 - i) as u8);
        let (mut y, mut yf) = (vec![0u8; n], vec![0f32; n]);
        for v in variants() {
            let Some(k) = v.quantize() else { continue };
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                continue;
            }
            let name = |op: &str| BenchmarkId::new(op, v.info.name);
            group.bench_function(name("quantize"), |bench| {
                bench.iter(|| (k.quantize)(black_box(&xf), 0.013, 7, false, &mut y))
            });
            group.bench_function(name("dequantize"), |bench| {
                bench.iter(|| (k.dequantize)(black_box(&a), false, 0.013, 7, &mut yf))
            });
            group.bench_function(name("qadd"), |bench| {
                bench.iter(|| (k.qbinary)(QBinaryOp::Add, black_box(&a), qa, &b, qb, qy, &mut y))
            });
            group.bench_function(name("qmul_scalar"), |bench| {
                bench.iter(|| {
                    (k.qbinary)(QBinaryOp::Mul, black_box(&a), qa, &b[..1], qb, qy, &mut y)
                })
            });
            group.bench_function(name("requantize"), |bench| {
                bench.iter(|| (k.requantize)(black_box(&a), qa, qy, &mut y))
            });
            group.bench_function(name("lut8"), |bench| {
                bench.iter(|| (k.lut8)(black_box(&a), &table256, &mut y))
            });
        }
        // The f32 op a QDQ Add replaces, on the same element count.
        let xf2: Vec<f32> = xf.iter().map(|v| v * 0.5).collect();
        let name = BenchmarkId::new("f32_add", "table");
        group.bench_function(name, |bench| {
            bench.iter(|| (table().binary)(BinaryOp::Add, black_box(&xf), &xf2, &mut yf))
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
    targets = quantize
}
criterion_main!(benches);
