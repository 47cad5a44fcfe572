//! The oracle: a triple loop over the unpacked math, reading `B` straight from the definition
//! of [`QOperandB`] (not through the packing code the variants use).

use std::ops::Range;

use super::output::{block, QColumnBlock};
use super::{check_call, QGemm, QGemmKernels, QLayout, QOperandB, QOutput};
use crate::KernelError;

/// The reference's entry points.
pub(crate) const KERNELS: QGemmKernels = QGemmKernels {
    qgemm,
    qgemm_block,
    layout: QLayout::RAW,
};

/// [`super::QGemmFn`].
pub(crate) fn qgemm(
    g: &QGemm<'_>,
    out: QOutput<'_>,
    cols: Range<usize>,
) -> Result<(), KernelError> {
    qgemm_block(g, block(out, g.m, g.n, cols)?)
}

/// [`super::QGemmBlockFn`].
pub(crate) fn qgemm_block(g: &QGemm<'_>, mut c: QColumnBlock<'_>) -> Result<(), KernelError> {
    check_call(g, &c, QLayout::RAW)?;
    let zb = g.b_zero_point;
    let b_value = |l: usize, j: usize| {
        let raw = b_at(&g.b, l, j);
        if g.b_signed {
            i32::from(raw as i8)
        } else {
            i32::from(raw)
        }
    };
    let mut row = Vec::with_capacity(c.columns().len());
    for r in 0..g.m {
        let za = g.a.zero_points()[r];
        row.clear();
        for j in c.columns() {
            let mut acc = 0i32;
            for l in 0..g.k {
                let prod = (g.a.raw(r, l) - za) * (b_value(l, j) - zb);
                acc = acc.wrapping_add(prod);
            }
            row.push(acc);
        }
        c.store(r, c.columns().start, &row);
    }
    Ok(())
}

/// `B[l, j]` (raw bits) by definition.
fn b_at(b: &QOperandB<'_>, l: usize, j: usize) -> u8 {
    match *b {
        QOperandB::Matrix { data, ld } => data[l * ld + j],
        QOperandB::Image {
            data,
            geometry: q,
            pad,
        } => {
            let c = l / (q.kernel_h * q.kernel_w);
            let ky = l / q.kernel_w % q.kernel_h;
            let kx = l % q.kernel_w;
            let (oy, ox) = (j / q.out_w, j % q.out_w);
            let iy = (oy * q.stride_h + ky * q.dilation_h) as isize - q.pad_top as isize;
            let ix = (ox * q.stride_w + kx * q.dilation_w) as isize - q.pad_left as isize;
            if iy < 0 || ix < 0 || iy as usize >= q.in_h || ix as usize >= q.in_w {
                pad
            } else {
                data[(c * q.in_h + iy as usize) * q.in_w + ix as usize]
            }
        }
    }
}
