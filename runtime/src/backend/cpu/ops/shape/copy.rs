//! Moving elements without looking at them. Every dtype is 1, 2, 4 or 8 bytes wide, so the
//! element-granular loops run on `[u8; N]` words (alignment 1, so any byte slice casts, and a
//! fixed-size copy compiles to one load and store); whole runs are copied as bytes.

use crate::{bail, Error, Result};

/// Runs `$body` with `$W` bound to the word type `[u8; width]` of an element width.
macro_rules! with_word {
    ($width:expr, $W:ident => $body:expr) => {
        match $width {
            1 => {
                type $W = [u8; 1];
                $body
            }
            2 => {
                type $W = [u8; 2];
                $body
            }
            4 => {
                type $W = [u8; 4];
                $body
            }
            8 => {
                type $W = [u8; 8];
                $body
            }
            w => Err($crate::Error::internal(format!(
                "no word type for {w}-byte elements"
            ))),
        }
    };
}
pub(super) use with_word;

/// Views bytes as words (never fails for whole elements: words have alignment 1).
pub(super) fn words<W: bytemuck::Pod>(bytes: &[u8]) -> Result<&[W]> {
    bytemuck::try_cast_slice(bytes).map_err(|e| Error::internal(format!("bytes as words: {e}")))
}

/// Mutable [`words`].
pub(super) fn words_mut<W: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [W]> {
    bytemuck::try_cast_slice_mut(bytes).map_err(|e| Error::internal(format!("bytes as words: {e}")))
}

/// A read pattern: the output element at multi-index `i` (row-major over `shape`) is the
/// source element `offset + Σ i[d] * strides[d]`. Transpose, slice, expand, tile and the
/// depth/space shuffles are all such patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Strided {
    pub(super) shape: Vec<usize>,
    pub(super) strides: Vec<isize>,
    pub(super) offset: usize,
}

impl Strided {
    /// The same pattern with size-1 dims dropped and contiguous neighbours merged, so the
    /// innermost loop runs as long as possible.
    pub(super) fn simplified(&self) -> Strided {
        let mut shape: Vec<usize> = Vec::with_capacity(self.shape.len());
        let mut strides: Vec<isize> = Vec::with_capacity(self.shape.len());
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            if d == 1 {
                continue;
            }
            match (shape.last_mut(), strides.last_mut()) {
                (Some(pd), Some(ps)) if *ps == s * d as isize => {
                    *pd *= d;
                    *ps = s;
                }
                _ => {
                    shape.push(d);
                    strides.push(s);
                }
            }
        }
        Strided {
            shape,
            strides,
            offset: self.offset,
        }
    }

    /// Checks that every element read lies inside a source of `len` elements.
    fn check_bounds(&self, len: usize) -> Result<()> {
        if self.shape.contains(&0) {
            return Ok(());
        }
        let (mut lo, mut hi) = (self.offset as i128, self.offset as i128);
        for (&d, &s) in self.shape.iter().zip(&self.strides) {
            let reach = (d as i128 - 1) * s as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        if lo < 0 || hi >= len as i128 {
            bail!(
                internal,
                "strided read [{lo}, {hi}] outside a source of {len} elements"
            );
        }
        Ok(())
    }
}

/// Copies the elements `pattern` reads from `src` into `dst` (row-major), `width` bytes each.
pub(super) fn copy_strided(
    width: usize,
    src: &[u8],
    dst: &mut [u8],
    pattern: &Strided,
) -> Result<()> {
    let pattern = pattern.simplified();
    if dst.is_empty() {
        return Ok(());
    }
    pattern.check_bounds(src.len() / width.max(1))?;
    with_word!(width, W => {
        copy_words::<W>(words(src)?, words_mut(dst)?, &pattern);
        Ok(())
    })
}

fn copy_words<W: Copy>(src: &[W], dst: &mut [W], p: &Strided) {
    let Some((&inner, outer_shape)) = p.shape.split_last() else {
        dst[0] = src[p.offset];
        return;
    };
    let inner_stride = p.strides[p.shape.len() - 1];
    let outer_strides = &p.strides[..outer_shape.len()];
    let mut index = vec![0usize; outer_shape.len()];
    let mut base = p.offset as isize;
    for run in dst.chunks_exact_mut(inner) {
        if inner_stride == 1 {
            let b = base as usize;
            run.copy_from_slice(&src[b..b + inner]);
        } else {
            for (j, d) in run.iter_mut().enumerate() {
                *d = src[(base + j as isize * inner_stride) as usize];
            }
        }
        // Odometer over the outer dims.
        for k in (0..index.len()).rev() {
            index[k] += 1;
            base += outer_strides[k];
            if index[k] < outer_shape[k] {
                break;
            }
            base -= outer_strides[k] * outer_shape[k] as isize;
            index[k] = 0;
        }
    }
}

/// Element strides (in elements, signed) of a row-major shape.
pub(super) fn signed_strides(shape: &[usize]) -> Vec<isize> {
    crate::tensor::strides_of(shape)
        .into_iter()
        .map(|s| s as isize)
        .collect()
}

/// `dst[i] = src[index[i]]` for whole elements of `width` bytes; indices must be in range.
pub(super) fn gather_by_index(
    width: usize,
    src: &[u8],
    dst: &mut [u8],
    index: &[usize],
) -> Result<()> {
    with_word!(width, W => {
        let (src, dst) = (words::<W>(src)?, words_mut::<W>(dst)?);
        for (d, &i) in dst.iter_mut().zip(index) {
            *d = *src.get(i).ok_or_else(|| Error::internal("gather index out of range"))?;
        }
        Ok(())
    })
}

/// `dst[index[i]] = src[i]` for whole elements of `width` bytes, in order (later wins).
#[cfg(feature = "ops-index")]
pub(super) fn scatter_by_index(
    width: usize,
    src: &[u8],
    dst: &mut [u8],
    index: &[usize],
) -> Result<()> {
    with_word!(width, W => {
        let (src, dst) = (words::<W>(src)?, words_mut::<W>(dst)?);
        for (s, &i) in src.iter().zip(index) {
            *dst.get_mut(i).ok_or_else(|| Error::internal("scatter index out of range"))? = *s;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_pattern_copies_columns() {
        // 2x3 -> 3x2
        let src: Vec<u8> = (0..6).collect();
        let mut dst = vec![0u8; 6];
        let p = Strided {
            shape: vec![3, 2],
            strides: vec![1, 3],
            offset: 0,
        };
        copy_strided(1, &src, &mut dst, &p).unwrap();
        assert_eq!(dst, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn reversed_and_broadcast_patterns() {
        let src: Vec<u8> = bytemuck::cast_slice(&[1u16, 2, 3]).to_vec();
        let mut dst = vec![0u8; 12];
        let p = Strided {
            shape: vec![2, 3],
            strides: vec![0, -1],
            offset: 2,
        };
        copy_strided(2, &src, &mut dst, &p).unwrap();
        let out: &[u16] = bytemuck::cast_slice(&dst);
        assert_eq!(out, &[3, 2, 1, 3, 2, 1]);
    }

    #[test]
    fn out_of_bounds_pattern_is_an_error() {
        let src = vec![0u8; 4];
        let mut dst = vec![0u8; 4];
        let p = Strided {
            shape: vec![4],
            strides: vec![2],
            offset: 0,
        };
        assert!(copy_strided(1, &src, &mut dst, &p).is_err());
    }
}
