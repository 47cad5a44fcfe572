//! 2-D transposes of byte matrices (`u8`/`i8` tensors of the 8-bit ops): `y[j·rows + i] =
//! x[i·cols + j]`, both contiguous.
//!
//! 8×8 blocks are transposed as eight `u64` rows in three rounds of masked swaps (SWAR), about
//! 30 integer operations per 64 bytes, where the byte-by-byte loop (the oracle,
//! [`transpose_u8_reference`]) spent most of a small 8-bit model's run on its index
//! arithmetic. On x86-64 the inside goes in 16×16 blocks of SSE2 unpacks (`sse2.rs`, about a
//! third of the SWAR's instructions per byte); the SWAR blocks take what is left of whole
//! 8×8 blocks, and the last edges go byte by byte.

#[cfg(target_arch = "x86_64")]
mod sse2;

use crate::KernelError;

/// `y = xᵀ` for a contiguous `rows × cols` byte matrix `x` into a contiguous `cols × rows`
/// `y`; `Err` if a slice is not exactly that long.
pub fn transpose_u8(rows: usize, cols: usize, x: &[u8], y: &mut [u8]) -> Result<(), KernelError> {
    validate(rows, cols, x, y)?;
    #[cfg(target_arch = "x86_64")]
    let (rows16, cols16) = {
        let (rows16, cols16) = (rows / 16 * 16, cols / 16 * 16);
        for i in (0..rows16).step_by(16) {
            for j in (0..cols16).step_by(16) {
                sse2::block16(x, cols, i, j, y, rows);
            }
        }
        (rows16, cols16)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (rows16, cols16) = (0, 0);
    // What the big blocks left: the right strip beside them, then every row below them.
    swar_region(x, rows, cols, 0..rows16, cols16..cols, y);
    swar_region(x, rows, cols, rows16..rows, 0..cols, y);
    Ok(())
}

/// `y[j][i] = x[i][j]` for `i` in `rows_r`, `j` in `cols_r`: 8×8 SWAR blocks, then the edges
/// byte by byte.
fn swar_region(
    x: &[u8],
    rows: usize,
    cols: usize,
    rows_r: std::ops::Range<usize>,
    cols_r: std::ops::Range<usize>,
    y: &mut [u8],
) {
    let block_rows = rows_r.start + rows_r.len() / 8 * 8;
    let block_cols = cols_r.start + cols_r.len() / 8 * 8;
    for i in (rows_r.start..block_rows).step_by(8) {
        for j in (cols_r.start..block_cols).step_by(8) {
            block(x, cols, i, j, y, rows);
        }
    }
    edge(
        x,
        rows,
        cols,
        rows_r.start..block_rows,
        block_cols..cols_r.end,
        y,
    );
    edge(x, rows, cols, block_rows..rows_r.end, cols_r, y);
}

/// The oracle: two plain loops.
pub fn transpose_u8_reference(
    rows: usize,
    cols: usize,
    x: &[u8],
    y: &mut [u8],
) -> Result<(), KernelError> {
    validate(rows, cols, x, y)?;
    edge(x, rows, cols, 0..rows, 0..cols, y);
    Ok(())
}

fn validate(rows: usize, cols: usize, x: &[u8], y: &[u8]) -> Result<(), KernelError> {
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| KernelError::invalid("transpose_u8: rows × cols overflows usize"))?;
    if x.len() != len || y.len() != len {
        return Err(KernelError::out_of_bounds(format!(
            "transpose_u8: {rows}×{cols} needs {len} bytes each side, x has {}, y has {}",
            x.len(),
            y.len()
        )));
    }
    Ok(())
}

/// `y[j][i] = x[i][j]` for `i` in `rows_r`, `j` in `cols_r`.
fn edge(
    x: &[u8],
    rows: usize,
    cols: usize,
    rows_r: std::ops::Range<usize>,
    cols_r: std::ops::Range<usize>,
    y: &mut [u8],
) {
    for i in rows_r {
        for j in cols_r.clone() {
            y[j * rows + i] = x[i * cols + j];
        }
    }
}

/// The 8×8 block at `(i, j)` of `x` (row length `ldx`) into `(j, i)` of `y` (row length
/// `ldy`).
#[inline(always)]
fn block(x: &[u8], ldx: usize, i: usize, j: usize, y: &mut [u8], ldy: usize) {
    let mut r = [0u64; 8];
    for (k, row) in r.iter_mut().enumerate() {
        let at = (i + k) * ldx + j;
        *row = u64::from_le_bytes(x[at..at + 8].try_into().expect("8 bytes"));
    }
    // Byte `c` of `r[k]` is element `(k, c)`. Swap the off-diagonal 4×4 blocks, then the
    // off-diagonal 2×2 blocks of each 4×4 block, then the off-diagonal elements of each 2×2
    // block: afterwards byte `c` of `r[k]` is element `(c, k)`. Spelled out: as a loop, the
    // rows stayed on the stack.
    swap(&mut r, 0, 4, 32, 0x0000_0000_FFFF_FFFF);
    swap(&mut r, 1, 5, 32, 0x0000_0000_FFFF_FFFF);
    swap(&mut r, 2, 6, 32, 0x0000_0000_FFFF_FFFF);
    swap(&mut r, 3, 7, 32, 0x0000_0000_FFFF_FFFF);
    swap(&mut r, 0, 2, 16, 0x0000_FFFF_0000_FFFF);
    swap(&mut r, 1, 3, 16, 0x0000_FFFF_0000_FFFF);
    swap(&mut r, 4, 6, 16, 0x0000_FFFF_0000_FFFF);
    swap(&mut r, 5, 7, 16, 0x0000_FFFF_0000_FFFF);
    swap(&mut r, 0, 1, 8, 0x00FF_00FF_00FF_00FF);
    swap(&mut r, 2, 3, 8, 0x00FF_00FF_00FF_00FF);
    swap(&mut r, 4, 5, 8, 0x00FF_00FF_00FF_00FF);
    swap(&mut r, 6, 7, 8, 0x00FF_00FF_00FF_00FF);
    for (k, row) in r.iter().enumerate() {
        let at = (j + k) * ldy + i;
        y[at..at + 8].copy_from_slice(&row.to_le_bytes());
    }
}

/// Swaps the bits of `r[a]` at `mask << shift` with those of `r[b]` at `mask`.
#[inline(always)]
fn swap(r: &mut [u64; 8], a: usize, b: usize, shift: u32, mask: u64) {
    let t = ((r[a] >> shift) ^ r[b]) & mask;
    r[a] ^= t << shift;
    r[b] ^= t;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn matches_reference(
            rows in prop_oneof![1usize..=40, Just(64), Just(255)],
            cols in prop_oneof![1usize..=40, Just(17), Just(64), Just(255)],
            seed in any::<u64>(),
        ) {
            let x: Vec<u8> = (0..rows * cols)
                .map(|i| (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64 * 2654435761) >> 24) as u8)
                .collect();
            let (mut want, mut got) = (vec![0u8; x.len()], vec![0u8; x.len()]);
            transpose_u8_reference(rows, cols, &x, &mut want).unwrap();
            transpose_u8(rows, cols, &x, &mut got).unwrap();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn known_values_and_bad_lengths() {
        let x: Vec<u8> = (0..24).collect(); // 3 × 8
        let mut y = vec![0u8; 24];
        transpose_u8(3, 8, &x, &mut y).unwrap();
        assert_eq!(&y[..6], &[0, 8, 16, 1, 9, 17]);
        let x: Vec<u8> = (0..=255).cycle().take(16 * 8).collect(); // 16 × 8: two blocks
        let mut y = vec![0u8; 128];
        transpose_u8(16, 8, &x, &mut y).unwrap();
        assert_eq!(y[1], 8);
        assert_eq!(y[16 + 9], 9 * 8 + 1);
        assert!(transpose_u8(3, 8, &x[..23], &mut y[..24]).is_err());
        assert!(transpose_u8(usize::MAX, 2, &[], &mut []).is_err());
    }
}
