//! Packing: the weights once per layer ([`PackedQWeights`]), and the activation rows of one call
//! ([`fill_row`], which the driver interleaves into the micro-kernel's panels).

use super::{type_range, QConvGeometry, QOperandB};
use crate::KernelError;

/// How a variant wants the weights: rows in panels of `mr`, the depth in groups of `kg`, each
/// value encoded as `enc` says. Opaque: get it from [`super::QGemmKernels::layout`] or
/// [`crate::cpu::KernelTable::qgemm_layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QLayout {
    pub(crate) mr: usize,
    pub(crate) kg: usize,
    pub(crate) enc: AEnc,
}

/// The encoding of packed weight values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AEnc {
    /// The raw bytes, row-major `[m, k]` (the reference reads them as they are).
    Raw,
    /// `i8` `A' = A` (signed) or `A − 128` (unsigned, zero point `za − 128`): the `s8` side of
    /// `vpdpbusd`; the driver corrects for the zero points with row and column sums.
    S8,
    /// `i16` `A − za`: the zero point is already subtracted, no correction needed.
    I16,
}

impl QLayout {
    /// The reference's layout: the raw rows.
    pub(crate) const RAW: QLayout = QLayout {
        mr: 1,
        kg: 1,
        enc: AEnc::Raw,
    };
}

/// The weights `A[m, k]` of a quantized GEMM, packed once for one [`QLayout`], with what the
/// variants need per row (zero points, sums of the encoded values).
#[derive(Clone, Debug)]
pub struct PackedQWeights {
    m: usize,
    k: usize,
    layout: QLayout,
    a_signed: bool,
    /// [`AEnc::Raw`]: the rows; [`AEnc::S8`]: `[m/mr][k/kg][mr][kg]` encoded bytes (zero-padded).
    bytes: Vec<i8>,
    /// [`AEnc::I16`]: `[m/mr][k/kg][mr][kg]` of `A − za` (zero-padded).
    words: Vec<i16>,
    /// The zero point of each row.
    zero_points: Vec<i32>,
    /// The zero point of each row in the encoded domain (`S8`; else 0).
    enc_zero_points: Vec<i32>,
    /// `Σ_k A'[r, k]` of each row in the encoded domain (`S8`; else 0).
    row_sums: Vec<i32>,
}

impl PackedQWeights {
    /// Packs `A` (row `r` is `a[r·lda .. r·lda + k]`, `i8` bits when `a_signed`, else `u8`) with
    /// zero points `a_zero_points` (one per tensor or one per row, inside the type's range)
    /// for the kernel `layout`.
    pub fn pack(
        layout: QLayout,
        m: usize,
        k: usize,
        a: &[u8],
        lda: usize,
        a_signed: bool,
        a_zero_points: &[i32],
    ) -> Result<Self, KernelError> {
        if m > 1 && lda < k {
            return Err(KernelError::invalid(format!(
                "qgemm pack: rows overlap: lda {lda} < k {k}"
            )));
        }
        if m > 0 && k > 0 {
            let need = (m - 1)
                .checked_mul(lda)
                .and_then(|x| x.checked_add(k))
                .ok_or_else(|| KernelError::invalid("qgemm pack: A extent overflows usize"))?;
            if a.len() < need {
                return Err(KernelError::out_of_bounds(format!(
                    "qgemm pack: A is {m}×{k} with lda {lda}: needs {need} bytes, has {}",
                    a.len()
                )));
            }
        }
        if a_zero_points.len() != 1 && a_zero_points.len() != m {
            return Err(KernelError::invalid(format!(
                "qgemm pack: {} zero points for {m} rows (need 1 or {m})",
                a_zero_points.len()
            )));
        }
        let range = type_range(a_signed);
        if let Some(z) = a_zero_points.iter().find(|z| !range.contains(z)) {
            return Err(KernelError::invalid(format!(
                "qgemm pack: zero point {z} is outside the {} range",
                if a_signed { "i8" } else { "u8" }
            )));
        }
        let zero_points: Vec<i32> = (0..m)
            .map(|r| a_zero_points[if a_zero_points.len() == 1 { 0 } else { r }])
            .collect();
        let value = |r: usize, l: usize| -> i32 {
            let raw = a[r * lda + l];
            if a_signed {
                i32::from(raw as i8)
            } else {
                i32::from(raw)
            }
        };
        let overflow = || KernelError::invalid("qgemm pack: packed size overflows usize");
        let (mr, kg) = (layout.mr, layout.kg);
        let panels = m.div_ceil(mr);
        let groups = k.div_ceil(kg);
        let packed_len = panels
            .checked_mul(mr)
            .and_then(|x| x.checked_mul(groups))
            .and_then(|x| x.checked_mul(kg))
            .ok_or_else(overflow)?;
        // Index of `(r, l)` in the panel layout.
        let at = |r: usize, l: usize| ((r / mr * groups + l / kg) * mr + r % mr) * kg + l % kg;
        let mut p = PackedQWeights {
            m,
            k,
            layout,
            a_signed,
            bytes: Vec::new(),
            words: Vec::new(),
            enc_zero_points: vec![0; m],
            row_sums: vec![0; m],
            zero_points,
        };
        match layout.enc {
            AEnc::Raw => {
                p.bytes = (0..m)
                    .flat_map(|r| a[r * lda..r * lda + k].iter().map(|&x| x as i8))
                    .collect();
            }
            AEnc::S8 => {
                // `u8` values move to `i8` by −128 (so does their zero point): the sums of
                // products and the corrections below are unchanged.
                let shift = if a_signed { 0 } else { 128 };
                p.bytes = vec![0; packed_len];
                for r in 0..m {
                    let mut sum = 0i32;
                    for l in 0..k {
                        let v = value(r, l) - shift;
                        p.bytes[at(r, l)] = v as i8;
                        sum += v;
                    }
                    p.row_sums[r] = sum;
                    p.enc_zero_points[r] = p.zero_points[r] - shift;
                }
            }
            AEnc::I16 => {
                p.words = vec![0; packed_len];
                for r in 0..m {
                    for l in 0..k {
                        // |A − za| ≤ 255: fits.
                        p.words[at(r, l)] = (value(r, l) - p.zero_points[r]) as i16;
                    }
                }
            }
        }
        Ok(p)
    }

    /// Rows (`m`).
    pub fn rows(&self) -> usize {
        self.m
    }

    /// Depth (`k`).
    pub fn depth(&self) -> usize {
        self.k
    }

    /// The layout the weights were packed for.
    pub fn layout(&self) -> QLayout {
        self.layout
    }

    /// The value of `A[r, l]` ([`QLayout::RAW`] only, for the reference).
    pub(crate) fn raw(&self, r: usize, l: usize) -> i32 {
        let b = self.bytes[r * self.k + l];
        if self.a_signed {
            i32::from(b)
        } else {
            i32::from(b as u8)
        }
    }

    /// The encoded `i8` panels ([`AEnc::S8`]).
    pub(crate) fn bytes(&self) -> &[i8] {
        &self.bytes
    }

    /// The encoded `i16` panels ([`AEnc::I16`]).
    pub(crate) fn words(&self) -> &[i16] {
        &self.words
    }

    /// Zero point of each row.
    pub(crate) fn zero_points(&self) -> &[i32] {
        &self.zero_points
    }

    /// Encoded-domain zero point of each row.
    pub(crate) fn enc_zero_points(&self) -> &[i32] {
        &self.enc_zero_points
    }

    /// Encoded-domain sum of each row.
    pub(crate) fn row_sums(&self) -> &[i32] {
        &self.row_sums
    }
}

/// Raw bytes of row `l` of `B`, columns `j0 .. j0 + out.len()`. The operand was validated
/// against the call: `l < k`, the columns `< n`.
#[inline(always)]
pub(crate) fn fill_row(b: &QOperandB<'_>, l: usize, j0: usize, out: &mut [u8]) {
    match *b {
        QOperandB::Matrix { data, ld } => {
            out.copy_from_slice(&data[l * ld + j0..l * ld + j0 + out.len()])
        }
        QOperandB::Image {
            data,
            geometry,
            pad,
        } => fill_image_row(data, &geometry, pad, l, j0, out),
    }
}

/// [`fill_row`] of the im2col matrix: output row by output row, a contiguous copy of the
/// valid part between two runs of padding (a strided copy at strides above 1).
#[inline(always)]
fn fill_image_row(data: &[u8], q: &QConvGeometry, pad: u8, l: usize, j0: usize, out: &mut [u8]) {
    let taps = q.kernel_h * q.kernel_w;
    let (c, t) = (l / taps, l % taps);
    let (ky, kx) = (t / q.kernel_w, t % q.kernel_w);
    let plane = &data[c * q.in_h * q.in_w..(c + 1) * q.in_h * q.in_w];
    let (dy, dx) = (ky * q.dilation_h, kx * q.dilation_w);
    let (pt, pl, in_w) = (q.pad_top, q.pad_left, q.in_w);
    let sw = q.stride_w;
    // The output columns that read inside the image (the same in every output row): where
    // 0 <= ox·s + dx − pl < in_w, from ⌈(pl − dx) / s⌉ to ⌈(in_w + pl − dx) / s⌉.
    let valid = pl.saturating_sub(dx).div_ceil(sw)..(in_w + pl).saturating_sub(dx).div_ceil(sw);
    let mut done = 0;
    // The first segment may start inside an output row; the next ones start rows (no division
    // per segment).
    let (mut next_oy, mut next_ox) = (j0 / q.out_w, j0 % q.out_w);
    while done < out.len() {
        let (oy, ox0) = (next_oy, next_ox);
        (next_oy, next_ox) = (oy + 1, 0);
        let ox1 = q.out_w.min(ox0 + out.len() - done);
        let seg = &mut out[done..done + ox1 - ox0];
        done += ox1 - ox0;
        let iy = oy * q.stride_h + dy;
        if iy < pt || iy - pt >= q.in_h {
            seg.fill(pad);
            continue;
        }
        let row = &plane[(iy - pt) * in_w..(iy - pt + 1) * in_w];
        let lo = valid.start.clamp(ox0, ox1);
        let hi = valid.end.clamp(lo, ox1);
        // Most runs of padding are empty (or one tap at an edge): skip the `memset` call.
        if lo > ox0 {
            seg[..lo - ox0].fill(pad);
        }
        if hi > lo {
            let first = lo * sw + dx - pl;
            let dst = &mut seg[lo - ox0..hi - ox0];
            match sw {
                1 => dst.copy_from_slice(&row[first..first + dst.len()]),
                // The common stride-2 downsampling conv: 32 input bytes to 16 output bytes on
                // fixed-size arrays (one vector shuffle), then byte by byte.
                2 => {
                    let src = &row[first..];
                    let mut done = 0;
                    for (d, p) in dst.chunks_exact_mut(16).zip(src.chunks_exact(32)) {
                        let p: &[u8; 32] = p.try_into().expect("chunks of 32");
                        let mut v = [0u8; 16];
                        for (t, x) in v.iter_mut().enumerate() {
                            *x = p[2 * t];
                        }
                        d.copy_from_slice(&v);
                        done += 16;
                    }
                    for (d, &x) in dst[done..]
                        .iter_mut()
                        .zip(src[2 * done..].iter().step_by(2))
                    {
                        *d = x;
                    }
                }
                _ => {
                    for (d, &x) in dst.iter_mut().zip(row[first..].iter().step_by(sw)) {
                        *d = x;
                    }
                }
            }
        }
        if ox1 > hi {
            seg[hi - ox0..].fill(pad);
        }
    }
}
