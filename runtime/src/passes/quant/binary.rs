//! `Add`, `Sub`, `Mul`, `Div` of two 8-bit inputs → `QBinary`.

use super::Site;
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::quant::{QBinary, QuantOp};
use crate::ir::{Graph, Op};
use crate::Result;

/// Folds the site if it is one of the four arithmetic ops on two dequantized inputs.
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let Op::Elementwise(ElementwiseOp::Binary(op)) = graph.nodes[site.node].op else {
        return Ok(false);
    };
    if !matches!(op, Binary::Add | Binary::Sub | Binary::Mul | Binary::Div) {
        return Ok(false);
    }
    let [Some((a, aq)), Some((b, bq))] = site.sources[..] else {
        return Ok(false);
    };
    let q = QBinary {
        op,
        a: aq,
        b: bq,
        y: site.y,
    };
    site.replace(
        graph,
        Op::Quant(QuantOp::QBinary(q)),
        vec![Some(a), Some(b)],
    );
    Ok(true)
}
