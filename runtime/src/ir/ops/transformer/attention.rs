//! `Attention` (opsets 23-25): attributes and the shape contract, decided here once so that
//! shape inference and the CPU evaluation agree.
//!
//! Q is `[batch, q_heads, q_seq, head]` (4-D) or `[batch, q_seq, q_heads * head]` (3-D, with
//! the head counts given as attributes); K and V likewise with `kv_heads`. The past cache is
//! always 4-D and is concatenated before the new keys/values along the sequence axis.

use crate::{DType, Error, Result};

/// What the optional fourth output (`qk_matmul_output`) holds, following the ONNX reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum QkOutput {
    /// Modes 0 and 1: the scaled Q·Kᵀ scores (after softcap when one is set).
    Scores,
    /// Mode 2: the scores plus the attention bias (mask, causal, window, padding).
    WithBias,
    /// Mode 3: the softmax probabilities (fully masked rows are zero).
    Probabilities,
}

/// `Attention` attributes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attention {
    /// Mask keys after the query position (bottom-right aligned with the cache).
    pub is_causal: bool,
    /// Query heads, required for 3-D inputs.
    pub q_num_heads: Option<usize>,
    /// Key/value heads, required for 3-D inputs.
    pub kv_num_heads: Option<usize>,
    /// Scale of Q·Kᵀ; `None`: 1/√head_size.
    pub scale: Option<f32>,
    /// `softcap · tanh(scores / softcap)` when positive.
    pub softcap: f32,
    /// Content of the optional `qk_matmul_output`.
    pub qk_output: QkOutput,
    /// Precision of the softmax; `None`: the input type.
    pub softmax_precision: Option<DType>,
    /// Keys more than this many positions before the query are masked (-1: unbounded).
    pub left_window: i64,
    /// Keys more than this many positions after the query are masked (-1: unbounded).
    pub right_window: i64,
}

/// The sizes of one `Attention` evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttentionDims {
    /// Q/K/V are 3-D (`[batch, seq, heads * head]`) rather than 4-D.
    pub rank3: bool,
    /// Batch size.
    pub batch: usize,
    /// Query heads.
    pub q_heads: usize,
    /// Key/value heads (divides `q_heads`: grouped-query attention repeats each).
    pub kv_heads: usize,
    /// Query sequence length.
    pub q_seq: usize,
    /// New key/value sequence length.
    pub kv_seq: usize,
    /// Cached sequence length (0 without a past cache).
    pub past_seq: usize,
    /// Q and K head size.
    pub head_size: usize,
    /// V head size.
    pub v_head_size: usize,
}

impl AttentionDims {
    /// Keys attended in total: the past cache plus the new keys.
    pub fn total_seq(&self) -> usize {
        self.past_seq + self.kv_seq
    }
    /// Shape of `Y`.
    pub fn output_shape(&self) -> Vec<usize> {
        if self.rank3 {
            vec![self.batch, self.q_seq, self.q_heads * self.v_head_size]
        } else {
            vec![self.batch, self.q_heads, self.q_seq, self.v_head_size]
        }
    }
    /// Shape of `present_key`.
    pub fn present_key_shape(&self) -> Vec<usize> {
        vec![self.batch, self.kv_heads, self.total_seq(), self.head_size]
    }
    /// Shape of `present_value`.
    pub fn present_value_shape(&self) -> Vec<usize> {
        vec![
            self.batch,
            self.kv_heads,
            self.total_seq(),
            self.v_head_size,
        ]
    }
    /// Shape of `qk_matmul_output`.
    pub fn qk_shape(&self) -> Vec<usize> {
        vec![self.batch, self.q_heads, self.q_seq, self.total_seq()]
    }
}

/// Splits a 3-D `[batch, seq, heads * head]` hidden size into the head size.
fn head_size_3d(hidden: usize, heads: Option<usize>, which: &str) -> Result<(usize, usize)> {
    let heads = heads.ok_or_else(|| {
        Error::invalid_model(format!(
            "Attention with 3-D inputs needs the {which}_num_heads attribute"
        ))
    })?;
    if heads == 0 || hidden % heads != 0 {
        return Err(Error::shape(format!(
            "Attention: hidden size {hidden} is not a multiple of {which}_num_heads {heads}"
        )));
    }
    Ok((heads, hidden / heads))
}

impl Attention {
    /// Checks the input shapes against each other and returns the sizes.
    pub fn dims(
        &self,
        q: &[usize],
        k: &[usize],
        v: &[usize],
        past_key: Option<&[usize]>,
        past_value: Option<&[usize]>,
    ) -> Result<AttentionDims> {
        let rank = q.len();
        if (rank != 3 && rank != 4) || k.len() != rank || v.len() != rank {
            return Err(Error::shape(format!(
                "Attention needs Q, K, V of the same rank 3 or 4, got {q:?}, {k:?}, {v:?}"
            )));
        }
        let dims = if rank == 3 {
            let (q_heads, head_size) = head_size_3d(q[2], self.q_num_heads, "q")?;
            let (kv_heads, k_head) = head_size_3d(k[2], self.kv_num_heads, "kv")?;
            let (_, v_head_size) = head_size_3d(v[2], self.kv_num_heads, "kv")?;
            if k_head != head_size {
                return Err(Error::shape(format!(
                    "Attention: Q head size {head_size}, K head size {k_head}"
                )));
            }
            AttentionDims {
                rank3: true,
                batch: q[0],
                q_heads,
                kv_heads,
                q_seq: q[1],
                kv_seq: k[1],
                past_seq: 0,
                head_size,
                v_head_size,
            }
        } else {
            if k[1] != v[1] || k[3] != q[3] {
                return Err(Error::shape(format!(
                    "Attention: mismatched Q {q:?}, K {k:?}, V {v:?}"
                )));
            }
            AttentionDims {
                rank3: false,
                batch: q[0],
                q_heads: q[1],
                kv_heads: k[1],
                q_seq: q[2],
                kv_seq: k[2],
                past_seq: 0,
                head_size: q[3],
                v_head_size: v[3],
            }
        };
        let seq_axis = if rank == 3 { 1 } else { 2 };
        if k[0] != dims.batch || v[0] != dims.batch || v[seq_axis] != dims.kv_seq {
            return Err(Error::shape(format!(
                "Attention: mismatched Q {q:?}, K {k:?}, V {v:?}"
            )));
        }
        if dims.kv_heads == 0 || dims.q_heads % dims.kv_heads != 0 {
            return Err(Error::shape(format!(
                "Attention: {} query heads cannot share {} key/value heads",
                dims.q_heads, dims.kv_heads
            )));
        }
        let past_seq = match (past_key, past_value) {
            (None, None) => 0,
            (Some(pk), Some(pv)) => {
                let expect_k = [
                    dims.batch,
                    dims.kv_heads,
                    pk.get(2).copied().unwrap_or(0),
                    dims.head_size,
                ];
                let expect_v = [dims.batch, dims.kv_heads, expect_k[2], dims.v_head_size];
                if pk != expect_k || pv != expect_v {
                    return Err(Error::shape(format!(
                        "Attention: past_key {pk:?} / past_value {pv:?} do not fit K {k:?} / V {v:?}"
                    )));
                }
                expect_k[2]
            }
            _ => {
                return Err(Error::invalid_model(
                    "Attention: past_key and past_value go together",
                ))
            }
        };
        Ok(AttentionDims { past_seq, ..dims })
    }
}
