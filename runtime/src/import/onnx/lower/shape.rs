//! Lowering of this family's ONNX ops (see `super`).

use super::NodeCx;
use crate::ir::Op;
use crate::Result;

/// `None` when the op type is not of this family.
pub(super) fn lower(cx: &NodeCx<'_>) -> Option<Result<Op>> {
    let _ = cx;
    None
}
