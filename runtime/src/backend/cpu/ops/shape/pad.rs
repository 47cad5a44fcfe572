//! Pad and CenterCropPad. Both are described per axis by a source map: output index ->
//! input index, or `None` for the fill value; the copy then walks output rows.

use super::copy::{with_word, words, words_mut};
use super::numeric::scalar_bytes;
use super::{ints, opt_ints};
use crate::backend::cpu::ops::{Inputs, Outputs};
use crate::ir::ops::shape::{rules, PadAttrs, PadMode};
use crate::tensor::{byte_len, strides_of, TensorView};
use crate::{bail, Result};

/// Source index of each output position of one axis of size `dim` padded by `(begin, end)`.
fn axis_map(dim: usize, (begin, end): (i64, i64), mode: PadMode) -> Result<Vec<Option<usize>>> {
    let out_len = (dim as i64 + begin + end).max(0);
    let d = dim as i64;
    if d == 0 && out_len > 0 && mode != PadMode::Constant {
        bail!(shape, "cannot pad an empty dim in {mode:?} mode");
    }
    Ok((0..out_len)
        .map(|o| {
            let i = o - begin;
            if (0..d).contains(&i) {
                return Some(i as usize);
            }
            match mode {
                PadMode::Constant => None,
                PadMode::Edge => Some(i.clamp(0, d - 1) as usize),
                PadMode::Wrap => Some(i.rem_euclid(d) as usize),
                PadMode::Reflect if d == 1 => Some(0),
                PadMode::Reflect => {
                    let period = 2 * (d - 1);
                    let m = i.rem_euclid(period);
                    Some(if m < d { m } else { period - m } as usize)
                }
            }
        })
        .collect())
}

/// Output 0 of `shape`: element at output multi-index `o` is `x[maps[0][o0], ...]`, or
/// `fill` where any map gives `None`.
fn fill_from_maps(
    out: &mut Outputs,
    x: &TensorView<'_>,
    shape: &[usize],
    maps: &[Vec<Option<usize>>],
    fill: &[u8],
) -> Result<()> {
    let y = out.alloc_uninit(0, x.dtype, shape)?;
    if y.bytes.is_empty() {
        return Ok(());
    }
    let strides = strides_of(x.shape);
    with_word!(x.dtype.size(), W => {
        let fill: W = bytemuck::pod_read_unaligned(fill);
        let (src, dst) = (words::<W>(x.bytes)?, words_mut::<W>(y.bytes)?);
        let Some((last_map, outer_maps)) = maps.split_last() else {
            dst[0] = src[0];
            return Ok(());
        };
        let mut coord = vec![0usize; outer_maps.len()];
        for row in dst.chunks_exact_mut(last_map.len()) {
            // Source offset of the row, or None when an outer axis is in the padding.
            let base = coord
                .iter()
                .zip(outer_maps)
                .zip(&strides)
                .try_fold(0usize, |acc, ((&c, map), &s)| map[c].map(|i| acc + i * s));
            match base {
                None => row.fill(fill),
                Some(base) => {
                    for (d, m) in row.iter_mut().zip(last_map) {
                        *d = m.map_or(fill, |i| src[base + i]);
                    }
                }
            }
            for k in (0..coord.len()).rev() {
                coord[k] += 1;
                if coord[k] < outer_maps[k].len() {
                    break;
                }
                coord[k] = 0;
            }
        }
        Ok(())
    })
}

pub(super) fn pad(ins: &Inputs<'_>, out: &mut Outputs, attrs: &PadAttrs) -> Result<()> {
    let x = ins.get(0)?;
    let amounts = match &attrs.pads {
        Some(p) => rules::pad_amounts(x.rank(), p, None)?,
        None => rules::pad_amounts(x.rank(), &ints(ins, 1)?, opt_ints(ins, 3)?.as_deref())?,
    };
    let shape = rules::pad_shape(x.shape, &amounts)?;
    byte_len(x.dtype, &shape)?; // refuse absurd pads before building the maps
    let fill = match ins.opt(2).filter(|v| !v.is_empty()) {
        Some(v) if v.dtype != x.dtype => {
            bail!(dtype, "Pad constant is {}, data is {}", v.dtype, x.dtype)
        }
        Some(v) => v.bytes[..x.dtype.size()].to_vec(),
        None => scalar_bytes(x.dtype, attrs.value as f64)?,
    };
    let maps = x
        .shape
        .iter()
        .zip(&amounts)
        .map(|(&d, &a)| axis_map(d, a, attrs.mode))
        .collect::<Result<Vec<_>>>()?;
    fill_from_maps(out, &x, &shape, &maps, &fill)
}

pub(super) fn center_crop_pad(
    ins: &Inputs<'_>,
    out: &mut Outputs,
    axes: Option<&[i64]>,
) -> Result<()> {
    let x = ins.get(0)?;
    let shape = rules::center_crop_pad_shape(x.shape, &ints(ins, 1)?, axes)?;
    byte_len(x.dtype, &shape)?;
    // Cropping starts (d - s) / 2 in; padding puts (s - d) / 2 zeros first.
    let maps = x
        .shape
        .iter()
        .zip(&shape)
        .map(|(&d, &s)| {
            let begin = if s >= d {
                ((s - d) / 2) as i64
            } else {
                -(((d - s) / 2) as i64)
            };
            axis_map(d, (begin, s as i64 - d as i64 - begin), PadMode::Constant)
        })
        .collect::<Result<Vec<_>>>()?;
    fill_from_maps(out, &x, &shape, &maps, &vec![0u8; x.dtype.size()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_and_wrap_maps() {
        let m = axis_map(3, (2, 2), PadMode::Reflect).unwrap();
        assert_eq!(m, [2, 1, 0, 1, 2, 1, 0].map(Some).to_vec());
        let m = axis_map(3, (2, 1), PadMode::Wrap).unwrap();
        assert_eq!(m, [1, 2, 0, 1, 2, 0].map(Some).to_vec());
        let m = axis_map(3, (-1, 1), PadMode::Constant).unwrap();
        assert_eq!(m, vec![Some(1), Some(2), None]);
    }
}
