//! `LinearAttention` (opset 27): attributes and the shape contract, decided here once so that
//! shape inference and the CPU evaluation agree.
//!
//! Q, K, V (and decay, beta) are packed 3-D `[batch, seq, heads * size]`; the recurrent state
//! is 4-D `[batch, kv_heads, key_size, value_size]`. Each key/value head carries one state
//! that its `q_heads / kv_heads` query heads read.

use crate::{Error, Result};

/// How the recurrent state is updated at each token (`update_rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UpdateRule {
    /// `S += k ⊗ v`.
    Linear,
    /// `S = exp(g) · S + k ⊗ v`.
    Gated,
    /// `S += β · k ⊗ (v - Sᵀk)`.
    Delta,
    /// `S = exp(g) · S + β · k ⊗ (v - exp(g) · Sᵀk)`.
    GatedDelta,
}

impl UpdateRule {
    /// The rule named by the ONNX attribute value.
    pub fn parse(name: &str) -> Option<UpdateRule> {
        Some(match name {
            "linear" => UpdateRule::Linear,
            "gated" => UpdateRule::Gated,
            "delta" => UpdateRule::Delta,
            "gated_delta" => UpdateRule::GatedDelta,
            _ => return None,
        })
    }
    /// The state decays by `exp(decay)` before each update (needs the `decay` input).
    pub fn is_gated(self) -> bool {
        matches!(self, UpdateRule::Gated | UpdateRule::GatedDelta)
    }
    /// The written value is corrected by what the state already holds (needs `beta`).
    pub fn is_delta(self) -> bool {
        matches!(self, UpdateRule::Delta | UpdateRule::GatedDelta)
    }
}

/// `LinearAttention` attributes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearAttention {
    /// Query heads (a positive multiple of `kv_num_heads`).
    pub q_num_heads: usize,
    /// Key/value heads, each with its own state.
    pub kv_num_heads: usize,
    /// Output scale; `None`: 1/√key_size.
    pub scale: Option<f32>,
    /// The recurrence.
    pub rule: UpdateRule,
}

/// What one token's decay gate holds per key/value head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DecayWidth {
    /// One log-decay per head (`[batch, seq, kv_heads]`).
    PerHead,
    /// One log-decay per key dimension (`[batch, seq, kv_heads * key_size]`).
    PerKey,
}

/// The sizes of one `LinearAttention` evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinearAttentionDims {
    /// Batch size.
    pub batch: usize,
    /// Tokens.
    pub seq: usize,
    /// Query heads.
    pub q_heads: usize,
    /// Key/value heads (divides `q_heads`).
    pub kv_heads: usize,
    /// Q and K head size (`d_k`).
    pub key_size: usize,
    /// V head size (`d_v`).
    pub value_size: usize,
    /// Layout of `decay` (gated rules only).
    pub decay: Option<DecayWidth>,
    /// `beta` has one rate per key/value head (else one shared by all heads); delta rules only.
    pub beta_per_head: Option<bool>,
}

impl LinearAttentionDims {
    /// Shape of `output`.
    pub fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.seq, self.q_heads * self.value_size]
    }
    /// Shape of `past_state` and `present_state`.
    pub fn state_shape(&self) -> Vec<usize> {
        vec![self.batch, self.kv_heads, self.key_size, self.value_size]
    }
}

/// The shapes of the inputs of one evaluation (`None`: omitted optional input).
#[derive(Debug, Clone, Copy)]
pub struct LinearAttentionShapes<'a> {
    /// `query`.
    pub query: &'a [usize],
    /// `key`.
    pub key: &'a [usize],
    /// `value`.
    pub value: &'a [usize],
    /// `past_state`.
    pub past_state: Option<&'a [usize]>,
    /// `decay`.
    pub decay: Option<&'a [usize]>,
    /// `beta`.
    pub beta: Option<&'a [usize]>,
}

fn mismatch(what: impl std::fmt::Display) -> Error {
    Error::shape(format!("LinearAttention: {what}"))
}

/// Splits a packed `[batch, seq, heads * size]` shape into the head size.
fn head_size(name: &str, shape: &[usize], heads: usize) -> Result<usize> {
    match *shape {
        [_, _, packed] if heads > 0 && packed % heads == 0 => Ok(packed / heads),
        _ => Err(mismatch(format!(
            "{name} of shape {shape:?} is not [batch, seq, {heads} heads * size]"
        ))),
    }
}

impl LinearAttention {
    /// Checks the rule against which optional inputs are given (`decay`, `beta`).
    pub fn check_inputs(&self, has_decay: bool, has_beta: bool) -> Result<()> {
        let need = |name: &str, needed: bool, given: bool| {
            if needed == given {
                return Ok(());
            }
            let verb = if needed { "requires" } else { "forbids" };
            Err(Error::invalid_model(format!(
                "LinearAttention: update rule {:?} {verb} the {name} input",
                self.rule
            )))
        };
        need("decay", self.rule.is_gated(), has_decay)?;
        need("beta", self.rule.is_delta(), has_beta)
    }

    /// Checks the input shapes against each other and returns the sizes.
    pub fn dims(&self, s: &LinearAttentionShapes<'_>) -> Result<LinearAttentionDims> {
        self.check_inputs(s.decay.is_some(), s.beta.is_some())?;
        let (hq, hkv) = (self.q_num_heads, self.kv_num_heads);
        if hq == 0 || hkv == 0 || hq % hkv != 0 {
            return Err(Error::invalid_model(format!(
                "LinearAttention: q_num_heads {hq} is not a positive multiple of kv_num_heads {hkv}"
            )));
        }
        let key_size = head_size("query", s.query, hq)?;
        let value_size = head_size("value", s.value, hkv)?;
        let (batch, seq) = (s.query[0], s.query[1]);
        let packed = |d: usize| [batch, seq, d];
        if s.key != packed(hkv * key_size) || s.value[..2] != [batch, seq] {
            return Err(mismatch(format!(
                "query {:?}, key {:?} and value {:?} do not fit together",
                s.query, s.key, s.value
            )));
        }
        let dims = LinearAttentionDims {
            batch,
            seq,
            q_heads: hq,
            kv_heads: hkv,
            key_size,
            value_size,
            decay: None,
            beta_per_head: None,
        };
        if let Some(past) = s.past_state {
            if past != dims.state_shape() {
                return Err(mismatch(format!(
                    "past_state {past:?} is not {:?}",
                    dims.state_shape()
                )));
            }
        }
        let decay = s
            .decay
            .map(|d| match d {
                _ if d == packed(hkv) => Ok(DecayWidth::PerHead),
                _ if d == packed(hkv * key_size) => Ok(DecayWidth::PerKey),
                _ => Err(mismatch(format!(
                    "decay {d:?} is neither {:?} nor {:?}",
                    packed(hkv),
                    packed(hkv * key_size)
                ))),
            })
            .transpose()?;
        let beta_per_head = s
            .beta
            .map(|b| match b {
                _ if b == packed(hkv) => Ok(true),
                _ if b == packed(1) => Ok(false),
                _ => Err(mismatch(format!(
                    "beta {b:?} is neither {:?} nor {:?}",
                    packed(hkv),
                    packed(1)
                ))),
            })
            .transpose()?;
        Ok(LinearAttentionDims {
            decay,
            beta_per_head,
            ..dims
        })
    }

    /// The output scale for heads of `key_size`.
    pub fn scale_for(&self, key_size: usize) -> f32 {
        match self.scale {
            Some(s) if s != 0.0 => s,
            _ => 1.0 / (key_size as f32).sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(rule: UpdateRule) -> LinearAttention {
        LinearAttention {
            q_num_heads: 4,
            kv_num_heads: 2,
            scale: None,
            rule,
        }
    }

    fn shapes<'a>(
        q: &'a [usize],
        k: &'a [usize],
        v: &'a [usize],
        decay: Option<&'a [usize]>,
        beta: Option<&'a [usize]>,
    ) -> LinearAttentionShapes<'a> {
        LinearAttentionShapes {
            query: q,
            key: k,
            value: v,
            past_state: None,
            decay,
            beta,
        }
    }

    #[test]
    fn sizes_follow_the_packed_heads() {
        let d = attrs(UpdateRule::GatedDelta)
            .dims(&shapes(
                &[2, 3, 32],
                &[2, 3, 16],
                &[2, 3, 12],
                Some(&[2, 3, 2]),
                Some(&[2, 3, 1]),
            ))
            .unwrap();
        assert_eq!((d.key_size, d.value_size), (8, 6));
        assert_eq!(d.decay, Some(DecayWidth::PerHead));
        assert_eq!(d.beta_per_head, Some(false));
        assert_eq!(d.output_shape(), [2, 3, 24]);
        assert_eq!(d.state_shape(), [2, 2, 8, 6]);
    }

    #[test]
    fn mismatches_are_errors() {
        let a = attrs(UpdateRule::Linear);
        assert!(a
            .dims(&shapes(&[2, 3, 32], &[2, 3, 12], &[2, 3, 12], None, None))
            .is_err());
        assert!(a
            .dims(&shapes(&[2, 3, 30], &[2, 3, 16], &[2, 3, 12], None, None))
            .is_err());
        // The linear rule has no decay; the gated one needs it.
        let decay: &[usize] = &[2, 3, 2];
        assert!(a
            .dims(&shapes(
                &[2, 3, 32],
                &[2, 3, 16],
                &[2, 3, 12],
                Some(decay),
                None
            ))
            .is_err());
        assert!(attrs(UpdateRule::Gated)
            .dims(&shapes(&[2, 3, 32], &[2, 3, 16], &[2, 3, 12], None, None))
            .is_err());
        let bad_heads = LinearAttention {
            q_num_heads: 3,
            ..a
        };
        assert!(bad_heads
            .dims(&shapes(&[2, 3, 24], &[2, 3, 16], &[2, 3, 12], None, None))
            .is_err());
    }
}
