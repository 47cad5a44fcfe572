//! 2-D max pooling of 8-bit planes (a quantized model's `MaxPool`: a max picks one of its
//! inputs, so it runs on the bytes and keeps their quantization).
//!
//! One portable body, no per-ISA variants: per output row, the kernel rows that reach the image
//! are folded into one row of maxima (element-wise over whole rows, which vectorises at any
//! width), then each output takes the max of its window's columns in that row. `i8` bytes are
//! compared with the sign bit flipped (`^ 0x80` orders them as their values). A window with no
//! tap inside the image gives the type's minimum (what the `f32` pool's `−∞` narrows to).
//! [`max_pool2d_u8_reference`] (**the oracle**) visits every tap of every window.

use super::{validate_lengths, PoolParams};
use crate::KernelError;

/// Max pooling of `p.channels` planes of `x` (`[channels, in_h, in_w]` bytes, `i8` bit
/// patterns when `signed`) into `y` (`[channels, out_h, out_w]`).
pub fn max_pool2d_u8(
    p: &PoolParams,
    signed: bool,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate_lengths(p, x.len(), y.len())?;
    let (in_plane, out_plane) = (p.in_h * p.in_w, p.out_h * p.out_w);
    if in_plane == 0 || out_plane == 0 {
        // No image: every window is empty; no output: nothing to do.
        y.fill(if signed { 0x80 } else { 0 });
        return Ok(());
    }
    let flip = if signed { 0x80 } else { 0 };
    let mut row = vec![0u8; p.in_w];
    // Each output column's window as image columns: a range when taps are adjacent, worked out
    // once rather than per tap per row.
    let columns: Vec<Option<std::ops::Range<usize>>> = (0..p.out_w)
        .map(|ox| {
            let first = (0..p.kernel_w)
                .find_map(|kx| image_index(ox, kx, p.stride_w, p.dilation_w, p.pad_left, p.in_w))?;
            let last = (0..p.kernel_w)
                .rev()
                .find_map(|kx| image_index(ox, kx, p.stride_w, p.dilation_w, p.pad_left, p.in_w))?;
            Some(first..last + 1)
        })
        .collect();
    // 2-wide windows at stride 2 from column 0 (the common downsampling pool): adjacent pairs.
    let pairs = p.kernel_w == 2
        && p.stride_w == 2
        && p.dilation_w == 1
        && p.pad_left == 0
        && 2 * p.out_w <= p.in_w;
    if pairs
        && p.kernel_h == p.stride_h
        && p.dilation_h == 1
        && p.pad_top == 0
        && p.in_h == p.kernel_h * p.out_h
    {
        // Windows tile the planes exactly in height (2×2 stride 2 on even heights): output
        // row `g` of the whole tensor reads input rows `g·kh ..`, across channel boundaries,
        // so one loop covers every channel (no per-plane setup, which dominated small planes).
        let band = p.kernel_h * p.in_w;
        for (rows, out_row) in x.chunks_exact(band).zip(y.chunks_exact_mut(p.out_w)) {
            let (first, rest) = rows.split_at(p.in_w);
            for (m, &v) in row.iter_mut().zip(first) {
                *m = v ^ flip;
            }
            for src in rest.chunks_exact(p.in_w) {
                for (m, &v) in row.iter_mut().zip(src) {
                    *m = (*m).max(v ^ flip);
                }
            }
            for (out, two) in out_row.iter_mut().zip(row.chunks_exact(2)) {
                *out = two[0].max(two[1]) ^ flip;
            }
        }
        return Ok(());
    }
    for (xp, yp) in x.chunks_exact(in_plane).zip(y.chunks_exact_mut(out_plane)) {
        for (oy, out_row) in yp.chunks_exact_mut(p.out_w).enumerate() {
            // 0 is the smallest flipped byte: rows and columns outside the image add nothing.
            row.fill(0);
            let mut reached = false;
            for ky in 0..p.kernel_h {
                let Some(iy) = image_index(oy, ky, p.stride_h, p.dilation_h, p.pad_top, p.in_h)
                else {
                    continue;
                };
                reached = true;
                let src = &xp[iy * p.in_w..(iy + 1) * p.in_w];
                for (m, &v) in row.iter_mut().zip(src) {
                    *m = (*m).max(v ^ flip);
                }
            }
            if !reached {
                out_row.fill(flip);
            } else if pairs {
                for (out, two) in out_row.iter_mut().zip(row.chunks_exact(2)) {
                    *out = two[0].max(two[1]) ^ flip;
                }
            } else {
                for (out, window) in out_row.iter_mut().zip(&columns) {
                    let m = match window {
                        Some(w) if p.dilation_w == 1 => row[w.clone()].iter().copied().max(),
                        Some(w) => row[w.clone()].iter().step_by(p.dilation_w).copied().max(),
                        None => None,
                    };
                    *out = m.unwrap_or(0) ^ flip;
                }
            }
        }
    }
    Ok(())
}

/// The image coordinate tap `k` of output `o` reads, if it is inside the image.
#[inline(always)]
fn image_index(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    pad: usize,
    len: usize,
) -> Option<usize> {
    (o * stride + k * dilation)
        .checked_sub(pad)
        .filter(|&i| i < len)
}

/// The oracle: every tap of every window, compared as values.
pub fn max_pool2d_u8_reference(
    p: &PoolParams,
    signed: bool,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate_lengths(p, x.len(), y.len())?;
    let value = |b: u8| {
        if signed {
            i32::from(b as i8)
        } else {
            i32::from(b)
        }
    };
    let lowest = if signed { -128 } else { 0 };
    for c in 0..p.channels {
        for oy in 0..p.out_h {
            for ox in 0..p.out_w {
                let mut m = lowest;
                for ky in 0..p.kernel_h {
                    for kx in 0..p.kernel_w {
                        let iy =
                            (oy * p.stride_h + ky * p.dilation_h) as isize - p.pad_top as isize;
                        let ix =
                            (ox * p.stride_w + kx * p.dilation_w) as isize - p.pad_left as isize;
                        if (0..p.in_h as isize).contains(&iy) && (0..p.in_w as isize).contains(&ix)
                        {
                            let at = (c * p.in_h + iy as usize) * p.in_w + ix as usize;
                            m = m.max(value(x[at]));
                        }
                    }
                }
                y[(c * p.out_h + oy) * p.out_w + ox] = m as u8;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params() -> impl Strategy<Value = PoolParams> {
        (
            (1usize..4, 1usize..=17, 1usize..=17),
            (1usize..=4, 1usize..=4, 1usize..=3, 1usize..=3),
            (1usize..=2, 1usize..=2, 0usize..=2, 0usize..=2),
        )
            .prop_map(
                |((channels, in_h, in_w), (kh, kw, sh, sw), (dh, dw, pt, pl))| {
                    let (pt, pl) = (pt.min(kh - 1), pl.min(kw - 1));
                    let out = |len: usize, k: usize, s: usize, d: usize, pad: usize| {
                        (len + 2 * pad).saturating_sub((k - 1) * d + 1) / s + 1
                    };
                    PoolParams {
                        channels,
                        in_h,
                        in_w,
                        out_h: out(in_h, kh, sh, dh, pt),
                        out_w: out(in_w, kw, sw, dw, pl),
                        kernel_h: kh,
                        kernel_w: kw,
                        stride_h: sh,
                        stride_w: sw,
                        dilation_h: dh,
                        dilation_w: dw,
                        pad_top: pt,
                        pad_left: pl,
                        pad_bottom: pt,
                        pad_right: pl,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn matches_reference(p in params(), signed in any::<bool>(), seed in any::<u64>()) {
            let x: Vec<u8> = (0..p.channels * p.in_h * p.in_w)
                .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 2654435761) >> 27) as u8)
                .collect();
            let n = p.channels * p.out_h * p.out_w;
            let (mut want, mut got) = (vec![0x55u8; n], vec![0xAAu8; n]);
            max_pool2d_u8_reference(&p, signed, &x, &mut want).unwrap();
            max_pool2d_u8(&p, signed, &x, &mut got).unwrap();
            prop_assert_eq!(got, want);
        }

        /// Windows that tile the planes in height (the whole-tensor path): kernel = stride in
        /// height, 2 wide with stride 2, no padding, heights a multiple of the kernel.
        #[test]
        fn tiled_heights_match_reference(
            channels in 1usize..5,
            (kh, out_h) in (1usize..=3, 1usize..=6),
            in_w in 2usize..=33,
            signed in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let p = PoolParams {
                channels,
                in_h: kh * out_h,
                in_w,
                out_h,
                out_w: in_w / 2,
                kernel_h: kh,
                kernel_w: 2,
                stride_h: kh,
                stride_w: 2,
                dilation_h: 1,
                dilation_w: 1,
                pad_top: 0,
                pad_left: 0,
                pad_bottom: 0,
                pad_right: 0,
            };
            let x: Vec<u8> = (0..channels * p.in_h * in_w)
                .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 2654435761) >> 27) as u8)
                .collect();
            let n = channels * p.out_h * p.out_w;
            let (mut want, mut got) = (vec![0x55u8; n], vec![0xAAu8; n]);
            max_pool2d_u8_reference(&p, signed, &x, &mut want).unwrap();
            max_pool2d_u8(&p, signed, &x, &mut got).unwrap();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn known_values_and_bad_lengths() {
        // 2×2, stride 2 over one 2×4 plane of i8: the larger of each 2×2 block by value.
        let p = PoolParams {
            channels: 1,
            in_h: 2,
            in_w: 4,
            out_h: 1,
            out_w: 2,
            kernel_h: 2,
            kernel_w: 2,
            stride_h: 2,
            stride_w: 2,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 0,
            pad_left: 0,
            pad_bottom: 0,
            pad_right: 0,
        };
        let x = [0x80, 0xFF, 0x01, 0x7F, 0xFE, 0x90, 0x00, 0x81];
        let mut y = [0u8; 2];
        max_pool2d_u8(&p, true, &x, &mut y).unwrap();
        assert_eq!(y, [0xFF, 0x7F]); // max(-128, -1, -2, -112) = -1; max(1, 127, 0, -127) = 127
        max_pool2d_u8(&p, false, &x, &mut y).unwrap();
        assert_eq!(y, [0xFF, 0x81]);
        assert!(max_pool2d_u8(&p, false, &x[..7], &mut y).is_err());
        assert!(max_pool2d_u8(&p, false, &x, &mut [0u8; 3]).is_err());
        let zero_kernel = PoolParams { kernel_w: 0, ..p };
        assert!(max_pool2d_u8(&zero_kernel, false, &x, &mut y).is_err());
    }
}
