//! `cargo run --release -p mote-benches --bin sgemm_peak`: single-thread SGEMM 1024³ against
//! the core's measured FMA peak, and the 2-thread speed-up (threads split `C` by columns).
//! Prints one table; the targets are ≥ 85 % of peak and ≥ 1.8× on 2 threads.

use std::time::Instant;

use mote_kernels::cpu::matmul::{
    gemm, gemm_block, packing_tile, split_columns, AOperand, BOperand, Gemm, PackedA, Strided,
};
use mote_kernels::cpu::{peak, table};

const N: usize = 1024;

fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 + seed) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// Median seconds of `runs` calls of `f`.
fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up: page faults, packing buffers
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn main() {
    let (peak_flops, isa) = peak::fma_peak_flops(1.0);
    let (a, b) = (values(N * N, 1), values(N * N, 2));
    let mut c = vec![0.0f32; N * N];
    // A packed once, as a layer's weights are; B strided, packed per call, as activations are.
    let packed = PackedA::pack(
        packing_tile(),
        N,
        N,
        Strided {
            data: &a,
            row_stride: N as isize,
            col_stride: 1,
        },
    )
    .expect("pack A");
    let g = Gemm {
        m: N,
        n: N,
        k: N,
        a: AOperand::Packed(&packed),
        b: BOperand::Strided(Strided {
            data: &b,
            row_stride: N as isize,
            col_stride: 1,
        }),
        c_row_stride: N as isize,
        alpha: 1.0,
        beta: 0.0,
    };
    let flop = 2.0 * (N * N * N) as f64;
    let one = median_seconds(9, || gemm(&g, &mut c, &[]).expect("gemm"));
    let two = median_seconds(9, || {
        let blocks = split_columns(&mut c, N, N, N as isize, &[N / 2]).expect("split");
        std::thread::scope(|s| {
            for block in blocks {
                let g = &g;
                s.spawn(move || gemm_block(g, block, &[]).expect("gemm block"));
            }
        });
    });
    let gf = |s: f64| flop / s / 1e9;
    println!("kernel            {}", table().sgemm_info.name);
    println!(
        "FMA peak, 1 core  {:.1} GFLOP/s ({isa} FMA loop)",
        peak_flops / 1e9
    );
    println!(
        "SGEMM 1024³ 1T    {:.1} GFLOP/s = {:.1}% of peak (target >= 85%)",
        gf(one),
        100.0 * gf(one) * 1e9 / peak_flops
    );
    println!(
        "SGEMM 1024³ 2T    {:.1} GFLOP/s = {:.2}x of 1T (target >= 1.8x)",
        gf(two),
        one / two
    );
}
