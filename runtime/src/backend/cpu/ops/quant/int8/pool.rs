//! `QGlobalAveragePool`: exact `i32` sums per plane, one rounding.

use super::super::super::{Inputs, Outputs};
use super::{bytes_of, kernel_error};
use crate::ir::ops::quant::QGlobalAveragePool;
use crate::{bail, Result};

pub(in crate::backend::cpu::ops::quant) fn qglobal_average_pool(
    q: &QGlobalAveragePool,
    ins: &Inputs<'_>,
    out: &mut Outputs,
) -> Result<()> {
    let x = ins.get(0)?;
    let bytes = bytes_of("QGlobalAveragePool", &x, q.x)?;
    if x.shape.len() < 3 {
        bail!(
            shape,
            "QGlobalAveragePool: input {:?} has no spatial axes",
            x.shape
        );
    }
    let plane: usize = x.shape[2..].iter().product();
    let mut shape = x.shape.to_vec();
    shape[2..].iter_mut().for_each(|d| *d = 1);
    let y = out.alloc_uninit(0, q.y.dtype(), &shape)?;
    if plane == 0 {
        bail!(
            shape,
            "QGlobalAveragePool: empty spatial axes {:?}",
            x.shape
        );
    }
    // The means first, then one vectorized quantization of them all (a scalar rounding per
    // channel costs a library call on baseline x86-64).
    let means: Vec<f32> = bytes
        .chunks_exact(plane)
        .map(|p| {
            // `i8` values are their bits with the sign flipped, minus 128.
            let sum = if q.x.signed {
                byte_sum(p, 0x80) - 128 * plane as i64
            } else {
                byte_sum(p, 0)
            };
            let centered = sum - plane as i64 * q.x.zero_point as i64;
            (centered as f64 * q.x.scale as f64 / plane as f64) as f32
        })
        .collect();
    let kernel = mote_kernels::cpu::table().quantize;
    kernel(&means, q.y.scale, q.y.zero_point, q.y.signed, y.bytes)
        .map_err(|e| kernel_error("QGlobalAveragePool", e))?;
    Ok(())
}

/// `Σ (b ^ flip)` over `bytes`: blocks of 128 summed in `u16` lanes (which the compiler
/// vectorizes eight or more to a register; 128 · 255 fits), the block sums in `i64`.
fn byte_sum(bytes: &[u8], flip: u8) -> i64 {
    bytes
        .chunks(128)
        .map(|c| c.iter().map(|&b| u16::from(b ^ flip)).sum::<u16>() as i64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::byte_sum;

    #[test]
    fn byte_sums_match_wide_sums_past_a_chunk() {
        for len in [0, 1, 17, 255, (1 << 16) + 3, 3 << 16] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 255) as u8).collect();
            let unsigned: i64 = bytes.iter().map(|&b| b as i64).sum();
            let signed: i64 = bytes.iter().map(|&b| b as i8 as i64).sum();
            assert_eq!(byte_sum(&bytes, 0), unsigned, "len {len}");
            assert_eq!(
                byte_sum(&bytes, 0x80) - 128 * len as i64,
                signed,
                "len {len}"
            );
        }
        // All 255: the largest block sum.
        let full = vec![255u8; 1 << 17];
        assert_eq!(byte_sum(&full, 0), 255 << 17);
    }
}
