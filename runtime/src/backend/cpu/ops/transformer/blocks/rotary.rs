//! `RotaryEmbedding`: rotates pairs of each head's leading `rotary_dim` features by the angle
//! whose cosine and sine the caches hold for the token's position.

use super::numeric::{with_real_type, write_with, Real};
use super::{same_dtype, Inputs, Outputs};
use crate::ir::ops::transformer::RotaryEmbedding;
use crate::tensor::TensorView;
use crate::{Error, Result};

pub(super) fn eval(r: &RotaryEmbedding, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    let t = same_dtype("RotaryEmbedding", ins, &[1, 2])?;
    let (x, cos, sin, pos) = (ins.get(0)?, ins.get(1)?, ins.get(2)?, ins.opt(3));
    with_real_type!(t, R => run::<R>(r, x, cos, sin, pos, out),
        _ => Err(Error::unsupported("RotaryEmbedding", format!("dtype {t}"))))
}

/// Where head `h` of token `s` in batch `b` starts: `b * batch + h * head + s * seq`.
struct Layout {
    batch: usize,
    heads: usize,
    seq: usize,
    head_size: usize,
    batch_stride: usize,
    head_stride: usize,
    seq_stride: usize,
}

fn layout(r: &RotaryEmbedding, shape: &[usize]) -> Result<Layout> {
    match *shape {
        [b, h, s, d] => Ok(Layout {
            batch: b,
            heads: h,
            seq: s,
            head_size: d,
            batch_stride: h * s * d,
            head_stride: s * d,
            seq_stride: d,
        }),
        [b, s, hidden] => {
            let h = r.num_heads;
            if h == 0 || hidden % h != 0 {
                return Err(Error::shape(format!(
                    "RotaryEmbedding: 3-D input {shape:?} needs num_heads dividing {hidden} (num_heads = {h})"
                )));
            }
            Ok(Layout {
                batch: b,
                heads: h,
                seq: s,
                head_size: hidden / h,
                batch_stride: s * hidden,
                head_stride: hidden / h,
                seq_stride: hidden,
            })
        }
        _ => Err(Error::shape(format!(
            "RotaryEmbedding input must be 3-D or 4-D, got {shape:?}"
        ))),
    }
}

/// For each (batch, position), the row of the cos/sin caches to use.
fn cache_rows(
    l: &Layout,
    cache_shape: &[usize],
    half: usize,
    pos: Option<TensorView<'_>>,
) -> Result<Vec<usize>> {
    let bad = || {
        Error::shape(format!(
            "RotaryEmbedding: cache of shape {cache_shape:?} does not fit the input"
        ))
    };
    match pos {
        Some(pos) => {
            let &[max_pos, last] = cache_shape else {
                return Err(bad());
            };
            if last != half || pos.shape != [l.batch, l.seq] {
                return Err(bad());
            }
            pos.to_i64_vec()?
                .into_iter()
                .map(|p| {
                    usize::try_from(p)
                        .ok()
                        .filter(|&p| p < max_pos)
                        .ok_or_else(|| {
                            Error::shape(format!(
                                "RotaryEmbedding: position id {p} outside the cache of {max_pos}"
                            ))
                        })
                })
                .collect()
        }
        None => {
            if cache_shape != [l.batch, l.seq, half] {
                return Err(bad());
            }
            Ok((0..l.batch * l.seq).collect())
        }
    }
}

fn run<R: Real>(
    r: &RotaryEmbedding,
    x: TensorView<'_>,
    cos: TensorView<'_>,
    sin: TensorView<'_>,
    pos: Option<TensorView<'_>>,
    out: &mut Outputs,
) -> Result<()> {
    let l = layout(r, x.shape)?;
    let rot = if r.rotary_dim == 0 {
        l.head_size
    } else {
        r.rotary_dim
    };
    if rot > l.head_size || rot % 2 != 0 {
        return Err(Error::shape(format!(
            "RotaryEmbedding: rotary_embedding_dim {rot} must be even and at most the head size {}",
            l.head_size
        )));
    }
    let half = rot / 2;
    if cos.shape != sin.shape {
        return Err(Error::shape(format!(
            "RotaryEmbedding: cos {:?} and sin {:?} caches differ",
            cos.shape, sin.shape
        )));
    }
    let rows = cache_rows(&l, cos.shape, half, pos)?;
    let (xs, cs, ss) = (R::read(&x)?, R::read(&cos)?, R::read(&sin)?);
    write_with::<R>(out, 0, x.dtype, x.shape, |y| {
        y.copy_from_slice(&xs);
        for b in 0..l.batch {
            for s in 0..l.seq {
                let row = rows[b * l.seq + s] * half;
                let (c, sn) = (&cs[row..row + half], &ss[row..row + half]);
                for h in 0..l.heads {
                    let base = b * l.batch_stride + h * l.head_stride + s * l.seq_stride;
                    for i in 0..half {
                        let (i1, i2) = if r.interleaved {
                            (base + 2 * i, base + 2 * i + 1)
                        } else {
                            (base + i, base + i + half)
                        };
                        let (x1, x2) = (xs[i1], xs[i2]);
                        y[i1] = c[i] * x1 - sn[i] * x2;
                        y[i2] = sn[i] * x1 + c[i] * x2;
                    }
                }
            }
        }
        Ok(())
    })
}
