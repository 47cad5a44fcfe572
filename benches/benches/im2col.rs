//! The convolution lowering of `cpu::conv` — one implementation, no per-ISA variants — on
//! PP-OCR shapes: [`im2col`] for 3×3 convs ("same" padding) of the det neck/head and of the
//! first, stride-2 layer, and [`col2im`] for the det head's 2×2 stride-2 `ConvTranspose`s.
//! Each group also times a plain copy of as many bytes (`memcpy_same_bytes`): the floor a
//! lowering that writes (or reads) the column matrix once cannot beat.
//!
//! The runtime builds the column matrix with [`im2col`] for 1-D and 3-D+ convs only; 2-D convs
//! pack it straight from the image inside the GEMM (`matmul::Im2ColB`, timed with the GEMM by
//! the `direct_conv` bench). These numbers are the cost that packing avoids.
//!
//! Throughput is in bytes of the column matrix (written by `im2col`, read by `col2im`). One
//! call, one thread. Run: `cargo bench -p mote-benches --bench im2col`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mote_kernels::cpu::conv::{col2im, im2col, Im2ColParams};

/// `(label, channels, image h = w, kernel, stride, pad)`: [`im2col`] of a conv's input.
const CONVS: [(&str, usize, usize, usize, usize, usize); 4] = [
    ("det_96ch_3x3_80", 96, 80, 3, 1, 1),
    ("det_96ch_3x3_20", 96, 20, 3, 1, 1),
    ("det_first_3ch_3x3s2_160", 3, 160, 3, 2, 1),
    ("det_first_3ch_3x3s2_640", 3, 640, 3, 2, 1),
];

/// `(label, output channels, output h = w, kernel = stride)`: [`col2im`] into a
/// `ConvTranspose`'s output.
const TRANSPOSED: [(&str, usize, usize, usize); 2] = [
    ("det_head_24ch_2x2s2_320", 24, 320, 2),
    ("det_head_1ch_2x2s2_640", 1, 640, 2),
];

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
}

fn lowering(c: &mut Criterion) {
    for (label, channels, hw, k, stride, pad) in CONVS {
        let (input, kernel, strides) = ([hw, hw], [k, k], [stride, stride]);
        let p = Im2ColParams {
            channels,
            input_spatial: &input,
            kernel: &kernel,
            strides: &strides,
            dilations: &[1, 1],
            pads_begin: &[pad, pad],
            pads_end: &[pad, pad],
        };
        let (rows, cols) = p.col_shape().expect("valid geometry");
        let image = values(p.image_len().expect("valid geometry"));
        let mut col = vec![0.0f32; rows * cols];
        let copy_src = values(col.len());
        let mut group = c.benchmark_group(format!("im2col_f32/{label}"));
        configure(&mut group);
        group.throughput(Throughput::Bytes((col.len() * 4) as u64));
        group.bench_function(BenchmarkId::from_parameter("im2col"), |bench| {
            bench.iter(|| im2col(&p, black_box(&image), black_box(&mut col)))
        });
        group.bench_function(BenchmarkId::from_parameter("memcpy_same_bytes"), |bench| {
            bench.iter(|| black_box(&mut col).copy_from_slice(black_box(&copy_src)))
        });
        group.finish();
    }

    for (label, channels, hw, k) in TRANSPOSED {
        let (image_dims, kernel) = ([hw, hw], [k, k]);
        let p = Im2ColParams {
            channels,
            input_spatial: &image_dims,
            kernel: &kernel,
            strides: &kernel,
            dilations: &[1, 1],
            pads_begin: &[0, 0],
            pads_end: &[0, 0],
        };
        let (rows, cols) = p.col_shape().expect("valid geometry");
        let col = values(rows * cols);
        let mut image = vec![0.0f32; p.image_len().expect("valid geometry")];
        let mut copy_dst = vec![0.0f32; col.len()];
        let mut group = c.benchmark_group(format!("col2im_f32/{label}"));
        configure(&mut group);
        group.throughput(Throughput::Bytes((col.len() * 4) as u64));
        // col2im accumulates: the image grows by the same amounts every iteration, which stays
        // finite (and changes nothing in the work done) over any realistic iteration count.
        group.bench_function(BenchmarkId::from_parameter("col2im"), |bench| {
            bench.iter(|| col2im(&p, black_box(&col), black_box(&mut image)))
        });
        group.bench_function(BenchmarkId::from_parameter("memcpy_same_bytes"), |bench| {
            bench.iter(|| black_box(&mut copy_dst).copy_from_slice(black_box(&col)))
        });
        group.finish();
    }
}

criterion_group!(benches, lowering);
criterion_main!(benches);
