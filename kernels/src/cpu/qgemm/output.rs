//! Where and how accumulators are stored: [`QColumnBlock`], a column range of a validated
//! [`QOutput`] with its epilogue. Every variant stores through [`QColumnBlock::store`], so the
//! epilogue's arithmetic is one piece of code (inlined into each variant's `#[target_feature]`
//! body, where it vectorises; IEEE `f32` operations give the same bits at any width).

use std::marker::PhantomData;
use std::ops::Range;

use super::{type_range, QOutput};
use crate::KernelError;

/// The destination pointer, by element type.
#[derive(Clone, Copy, Debug)]
enum Dst {
    I32(*mut i32),
    U8(*mut u8),
    F32(*mut f32),
}

/// What happens to an accumulator on its way out.
#[derive(Clone, Copy, Debug)]
enum Epilogue<'a> {
    I32,
    Requant {
        bias: &'a [i32],
        scale: &'a [f32],
        zero_point: i32,
        lo: i32,
        hi: i32,
    },
    F32 {
        bias: &'a [i32],
        scale: &'a [f32],
    },
}

/// Columns `cols` of every row of a validated [`QOutput`] `C` (`rows × n`, row stride `ldc`),
/// writable by one thread; from [`split_output`].
///
/// It holds a raw pointer because column blocks of one `C` interleave in memory: no two of them
/// may be `&mut` slices at once, but each writes only inside its own columns, which never
/// overlap another block's (the same design as [`crate::cpu::matmul::ColumnBlock`]).
#[derive(Debug)]
pub struct QColumnBlock<'a> {
    dst: Dst,
    /// Length of the whole `C` slice (every store is checked against it).
    len: usize,
    ldc: usize,
    rows: usize,
    cols: Range<usize>,
    epilogue: Epilogue<'a>,
    _c: PhantomData<&'a mut [u8]>,
}

// SAFETY: a block only writes its own columns of a slice it borrows mutably for `'a` (the bias
// and scale it reads are shared slices), so moving it to another thread is like moving a `&mut`
// to a disjoint part of the slice.
unsafe impl Send for QColumnBlock<'_> {}

/// Checks `out` as an `m × n` output and returns its pointer, length, row stride and epilogue.
fn check<'a>(
    out: QOutput<'a>,
    m: usize,
    n: usize,
) -> Result<(Dst, usize, usize, Epilogue<'a>), KernelError> {
    let check_c = |len: usize, ldc: usize| -> Result<(), KernelError> {
        if m > 1 && ldc < n {
            return Err(KernelError::invalid(format!(
                "qgemm: rows of C overlap: ldc {ldc} < n {n}"
            )));
        }
        if m > 0 && n > 0 {
            let need = (m - 1)
                .checked_mul(ldc)
                .and_then(|x| x.checked_add(n))
                .ok_or_else(|| KernelError::invalid("qgemm: C extent overflows usize"))?;
            if len < need {
                return Err(KernelError::out_of_bounds(format!(
                    "qgemm: C is {m}×{n} with ldc {ldc}: needs {need} elements, has {len}"
                )));
            }
        }
        Ok(())
    };
    let check_rows = |bias: &[i32], scale: &[f32]| -> Result<(), KernelError> {
        if !bias.is_empty() && bias.len() != m {
            return Err(KernelError::invalid(format!(
                "qgemm: {} biases for {m} rows",
                bias.len()
            )));
        }
        if scale.len() != m {
            return Err(KernelError::invalid(format!(
                "qgemm: {} scales for {m} rows",
                scale.len()
            )));
        }
        // A finite scale keeps every product a number (NaN-free), which the rounding relies on.
        if let Some(s) = scale.iter().find(|s| !s.is_finite()) {
            return Err(KernelError::invalid(format!(
                "qgemm: scale {s} is not finite"
            )));
        }
        Ok(())
    };
    Ok(match out {
        QOutput::I32 { c, ldc } => {
            check_c(c.len(), ldc)?;
            (Dst::I32(c.as_mut_ptr()), c.len(), ldc, Epilogue::I32)
        }
        QOutput::F32 {
            c,
            ldc,
            bias,
            scale,
        } => {
            check_c(c.len(), ldc)?;
            check_rows(bias, scale)?;
            (
                Dst::F32(c.as_mut_ptr()),
                c.len(),
                ldc,
                Epilogue::F32 { bias, scale },
            )
        }
        QOutput::Requant {
            c,
            ldc,
            signed,
            bias,
            scale,
            zero_point,
            lo,
            hi,
        } => {
            check_c(c.len(), ldc)?;
            check_rows(bias, scale)?;
            let range = type_range(signed);
            if !range.contains(&zero_point)
                || !range.contains(&lo)
                || !range.contains(&hi)
                || lo > hi
            {
                return Err(KernelError::invalid(format!(
                    "qgemm: zero point {zero_point} and clamp [{lo}, {hi}] must lie in {range:?} \
                     with lo <= hi"
                )));
            }
            let epilogue = Epilogue::Requant {
                bias,
                scale,
                zero_point,
                lo,
                hi,
            };
            (Dst::U8(c.as_mut_ptr()), c.len(), ldc, epilogue)
        }
    })
}

/// Cuts the `m × n` output `out` into column blocks at `cuts` (increasing column indices inside
/// `0..=n`): `k` cuts give `k + 1` blocks, for [`super::qgemm_block`] calls on separate threads.
pub fn split_output<'a>(
    out: QOutput<'a>,
    m: usize,
    n: usize,
    cuts: &[usize],
) -> Result<Vec<QColumnBlock<'a>>, KernelError> {
    let (dst, len, ldc, epilogue) = check(out, m, n)?;
    let mut bounds = Vec::with_capacity(cuts.len() + 2);
    bounds.push(0);
    bounds.extend_from_slice(cuts);
    bounds.push(n);
    if bounds.windows(2).any(|w| w[0] > w[1]) {
        return Err(KernelError::invalid(format!(
            "qgemm: column cuts {cuts:?} are not increasing inside 0..={n}"
        )));
    }
    Ok(bounds
        .windows(2)
        .map(|w| QColumnBlock {
            dst,
            len,
            ldc,
            rows: m,
            cols: w[0]..w[1],
            epilogue,
            _c: PhantomData,
        })
        .collect())
}

/// `out` as one block of columns `cols` (inside `0..n`) of an `m × n` output.
pub(crate) fn block<'a>(
    out: QOutput<'a>,
    m: usize,
    n: usize,
    cols: Range<usize>,
) -> Result<QColumnBlock<'a>, KernelError> {
    if cols.start > cols.end || cols.end > n {
        return Err(KernelError::invalid(format!(
            "qgemm: columns {cols:?} are not a range inside 0..{n}"
        )));
    }
    let (dst, len, ldc, epilogue) = check(out, m, n)?;
    Ok(QColumnBlock {
        dst,
        len,
        ldc,
        rows: m,
        cols,
        epilogue,
        _c: PhantomData,
    })
}

/// The requantisation of one accumulator (see [`QOutput::Requant`]). `scale` is finite, so `v`
/// is never NaN; clamping it to ±65536 first cannot change the result (`|zero_point| <= 255`
/// and `[lo, hi] ⊂ [-128, 255]`, so anything beyond ends at `lo` or `hi` either way) and keeps
/// the conversion in range.
#[inline(always)]
pub(crate) fn requant(acc: i32, bias: i32, scale: f32, zero_point: i32, lo: i32, hi: i32) -> u8 {
    let v = (acc.wrapping_add(bias) as f32) * scale;
    let v = v.clamp(-65536.0, 65536.0).round_ties_even();
    // SAFETY: `v` is an integer in [-65536, 65536] (not NaN: a finite `scale` times a finite
    // value is never NaN), so it fits `i32`. (`as i32` would be the same value, but its
    // saturating semantics keep LLVM from vectorising the conversion.)
    let q = unsafe { v.to_int_unchecked::<i32>() };
    // `as u8` keeps the low byte: the `i8` bits for a signed output.
    (q + zero_point).clamp(lo, hi) as u8
}

/// `c[i] = f(value(i))` in fixed chunks of 16 (then one by one): a fixed-length body
/// vectorises at any width, where a loop over a runtime length may be vectorised with an
/// unroll wider than the tile's row and then run only its scalar remainder.
#[inline(always)]
fn chunked<T>(c: &mut [T], value: &impl Fn(usize) -> i32, f: impl Fn(i32) -> T) {
    const W: usize = 16;
    let mut chunks = c.chunks_exact_mut(W);
    let mut i = 0;
    for d in &mut chunks {
        let mut v = [0i32; W];
        for (t, x) in v.iter_mut().enumerate() {
            *x = value(i + t);
        }
        for (d, &x) in d.iter_mut().zip(&v) {
            *d = f(x);
        }
        i += W;
    }
    for (t, d) in chunks.into_remainder().iter_mut().enumerate() {
        *d = f(value(i + t));
    }
}

/// One row segment of a requantising store, for kernels that requantise from registers: the
/// destination of `w` bytes and the row's constants of [`requant`] (`bias` already holds the
/// zero-point correction). Kernels must give the exact result of [`requant`] per element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequantRow {
    pub(crate) dst: *mut u8,
    pub(crate) bias: i32,
    pub(crate) scale: f32,
}

/// The per-call constants of [`requant`]: `zero_point`, `lo`, `hi`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequantParams {
    pub(crate) zero_point: i32,
    pub(crate) lo: i32,
    pub(crate) hi: i32,
}

impl QColumnBlock<'_> {
    /// The constants of a [`QOutput::Requant`] block (`None` for the other outputs).
    pub(crate) fn requant_params(&self) -> Option<RequantParams> {
        match (self.dst, self.epilogue) {
            (
                Dst::U8(_),
                Epilogue::Requant {
                    zero_point, lo, hi, ..
                },
            ) => Some(RequantParams { zero_point, lo, hi }),
            _ => None,
        }
    }

    /// Row `r`, columns `j .. j + w` of a [`QOutput::Requant`] block, with `add` joined to the
    /// bias; `None` for another output or a segment outside the block. The pointer is valid
    /// for `w` bytes that only this block writes, while `self` is borrowed mutably.
    #[inline(always)]
    pub(crate) fn requant_row(
        &mut self,
        r: usize,
        j: usize,
        w: usize,
        add: i32,
    ) -> Option<RequantRow> {
        let inside = r < self.rows && j >= self.cols.start && j + w <= self.cols.end;
        let start = r * self.ldc + j;
        if !inside || start + w > self.len {
            return None;
        }
        match (self.dst, self.epilogue) {
            (Dst::U8(p), Epilogue::Requant { bias, scale, .. }) => Some(RequantRow {
                // SAFETY: `start + w <= len`, inside the slice this block borrows.
                dst: unsafe { p.add(start) },
                bias: bias.get(r).copied().unwrap_or(0).wrapping_add(add),
                scale: scale[r],
            }),
            _ => None,
        }
    }

    /// The columns this block owns.
    pub fn columns(&self) -> Range<usize> {
        self.cols.clone()
    }

    /// Rows of `C`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Stores accumulators `acc` of row `r` at columns `j .. j + acc.len()` through the
    /// epilogue. Does nothing if the segment is not inside the block (callers stay inside).
    #[inline(always)]
    pub(crate) fn store(&mut self, r: usize, j: usize, acc: &[i32]) {
        self.store_corrected(r, j, acc, 0, None)
    }

    /// [`Self::store`] of `acc[i] + add − z·sums[i]` (wrapping; `col = Some((z, sums))`,
    /// `sums` at least as long as `acc`), the zero-point corrections of the dot-product
    /// kernels, applied in the same pass as the epilogue: a separate pass over the tile costs
    /// a store and a reload per vector (and a store-forwarding stall where the two passes
    /// vectorise at different widths).
    #[inline(always)]
    pub(crate) fn store_corrected(
        &mut self,
        r: usize,
        j: usize,
        acc: &[i32],
        add: i32,
        col: Option<(i32, &[i32])>,
    ) {
        match col {
            // Wrapping addition is associative: `add` joins the bias (or stands alone).
            None => self.emit(r, j, acc.len(), add, |i| acc[i]),
            Some((z, sums)) => {
                let sums = &sums[..acc.len()];
                self.emit(r, j, acc.len(), add, |i| {
                    acc[i].wrapping_sub(z.wrapping_mul(sums[i]))
                })
            }
        }
    }

    /// Stores `value(i) + add` (wrapping) at column `j + i` of row `r` for `i < w` through the
    /// epilogue; nothing if the segment is not inside the block.
    #[inline(always)]
    fn emit(&mut self, r: usize, j: usize, w: usize, add: i32, value: impl Fn(usize) -> i32) {
        let inside = r < self.rows && j >= self.cols.start && j + w <= self.cols.end;
        let start = r * self.ldc + j;
        if !inside || start + w > self.len {
            debug_assert!(false, "qgemm store outside the block");
            return;
        }
        // SAFETY (all three): `start + w <= len` of the slice this block borrows mutably, and
        // the columns are this block's own, which no other block of the same `C` covers;
        // `&mut self` prevents two live segments from one block.
        match (self.dst, self.epilogue) {
            (Dst::I32(p), _) => {
                let c = unsafe { std::slice::from_raw_parts_mut(p.add(start), w) };
                chunked(c, &value, |x| x.wrapping_add(add));
            }
            (
                Dst::U8(p),
                Epilogue::Requant {
                    bias,
                    scale,
                    zero_point,
                    lo,
                    hi,
                },
            ) => {
                let c = unsafe { std::slice::from_raw_parts_mut(p.add(start), w) };
                let b = bias.get(r).copied().unwrap_or(0).wrapping_add(add);
                let s = scale[r];
                chunked(c, &value, |x| requant(x, b, s, zero_point, lo, hi));
            }
            (Dst::F32(p), Epilogue::F32 { bias, scale }) => {
                let c = unsafe { std::slice::from_raw_parts_mut(p.add(start), w) };
                let b = bias.get(r).copied().unwrap_or(0).wrapping_add(add);
                let s = scale[r];
                chunked(c, &value, |x| (x.wrapping_add(b) as f32) * s);
            }
            // `check` pairs each pointer with its epilogue.
            _ => debug_assert!(false, "qgemm: mismatched output"),
        }
    }
}
