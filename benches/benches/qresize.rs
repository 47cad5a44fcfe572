//! Every compiled `qresize` variant (reference included) on 2× upscales of 32 planes of
//! 128 × 128 bytes (a feature-pyramid upsample of a quantized detector), linear (2 taps per
//! axis) and cubic (4 taps), half-pixel coordinates, input and output quantizations differing.
//!
//! Throughput is in output bytes. Variants this CPU cannot run are reported as skipped.
//! Run: `cargo bench -p mote-benches --bench qresize`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::qresize::{QResizeFn, QResizeParams, Taps};
use mote_kernels::cpu::variants;

const PLANES: usize = 32;
const IN: usize = 128;
const OUT: usize = 256;

/// Half-pixel taps of a 2× upscale of `IN` positions: `n` = 2 (linear) or 4 (cubic,
/// coefficient -0.75), indices clamped to the input.
fn taps(n: usize) -> (Vec<usize>, Vec<f32>) {
    let (mut index, mut weight) = (Vec::new(), Vec::new());
    for y in 0..OUT {
        let x = (y as f64 + 0.5) / 2.0 - 0.5;
        let (base, t) = (x.floor(), x - x.floor());
        let ws: Vec<f64> = if n == 2 {
            vec![1.0 - t, t]
        } else {
            let a = -0.75;
            let k = |d: f64| {
                let d = d.abs();
                if d <= 1.0 {
                    (a + 2.0) * d * d * d - (a + 3.0) * d * d + 1.0
                } else {
                    a * d * d * d - 5.0 * a * d * d + 8.0 * a * d - 4.0 * a
                }
            };
            vec![k(t + 1.0), k(t), k(1.0 - t), k(2.0 - t)]
        };
        let first = base as i64 - (n as i64 / 2 - 1);
        for (j, w) in ws.into_iter().enumerate() {
            index.push((first + j as i64).clamp(0, IN as i64 - 1) as usize);
            weight.push(w as f32);
        }
    }
    (index, weight)
}

/// The supported variants, reporting the others as skipped.
fn runnable() -> Vec<(&'static str, QResizeFn)> {
    variants()
        .iter()
        .filter_map(|v| {
            let f = v.qresize()?;
            if !v.is_supported() {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                return None;
            }
            Some((v.info.name, f))
        })
        .collect()
}

fn qresize(c: &mut Criterion) {
    let kernels = runnable();
    let p = QResizeParams {
        planes: PLANES,
        in_h: IN,
        in_w: IN,
        out_h: OUT,
        out_w: OUT,
        x_signed: false,
        x_zero_point: 128,
        multiplier: 0.05 / 0.04,
        y_signed: false,
        y_zero_point: 120,
        fill: 0,
    };
    let x: Vec<u8> = (0..PLANES * IN * IN)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    let mut y = vec![0u8; PLANES * OUT * OUT];
    let outside = vec![false; OUT];
    for (label, n) in [("linear", 2), ("cubic", 4)] {
        let (index, weight) = taps(n);
        let t = Taps {
            n,
            index: &index,
            weight: &weight,
            outside: &outside,
        };
        let mut group = c.benchmark_group(format!("qresize_u8/{label}_2x/{PLANES}x{IN}x{IN}"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(y.len() as u64));
        for &(name, f) in &kernels {
            group.bench_function(BenchmarkId::from_parameter(name), |bench| {
                bench.iter(|| f(black_box(&p), &t, &t, black_box(&x), black_box(&mut y)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, qresize);
criterion_main!(benches);
