//! Small helpers shared by the op families. Shared file: add functions, do not change the
//! behaviour of existing ones.

use crate::tensor::strides_of;

/// Maps a flat index in `out_shape` to the flat index in an operand of `shape` broadcast to
/// it (numpy rules: `shape` is right-aligned, size-1 dims repeat).
pub(crate) fn broadcast_index(shape: &[usize], out_shape: &[usize]) -> impl Fn(usize) -> usize {
    let offset = out_shape.len() - shape.len();
    let in_strides = strides_of(shape);
    let out_strides = strides_of(out_shape);
    let dims: Vec<(usize, usize, usize)> = (0..shape.len())
        .map(|i| {
            (
                out_strides[offset + i],
                out_shape[offset + i],
                if shape[i] == 1 { 0 } else { in_strides[i] },
            )
        })
        .collect();
    move |k| dims.iter().map(|&(os, od, is)| (k / os) % od * is).sum()
}
