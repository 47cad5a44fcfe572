//! `Add`, `Sub`, `Mul`, `Div` of two 8-bit inputs → `QBinary`.

use super::{remove_nodes, Readers, Site};
use crate::backend::cpu::ops::quant::kernel_op;
use crate::ir::ops::elementwise::{Binary, ElementwiseOp};
use crate::ir::ops::quant::{Lut, QBinary, QuantOp};
use crate::ir::{Graph, Op, ValueId};
use crate::Result;
use std::sync::Arc;

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

/// A `QBinary` whose two operands are both functions of one 8-bit value `x` (`x` itself, or a
/// `Lut` of `x` read by nothing else) is itself a function of `x`: one table. `x · hardsigmoid(x)`
/// (HardSwish as exporters spell it) and `x · sigmoid(x)` (SiLU) become a `Lut`, which then
/// merges into the conv before it. The table applies the `QBinary` kernel's exact formula.
pub(super) fn fuse_unary(graph: &mut Graph) -> Result<bool> {
    let mut changed = false;
    loop {
        let readers = Readers::of(graph);
        let Some((index, x, tables, q, dead)) = find_unary(graph, &readers) else {
            return Ok(changed);
        };
        let operand = |t: &Option<Arc<[u8; 256]>>| -> [u8; 256] {
            std::array::from_fn(|v| t.as_ref().map_or(v as u8, |t| t[v]))
        };
        let mut table = [0u8; 256];
        let op = kernel_op(q.op)?;
        // The kernel the unfused node would run, so the table is its exact formula.
        (mote_kernels::cpu::table().qbinary)(
            op,
            &operand(&tables.0),
            q.a.into(),
            &operand(&tables.1),
            q.b.into(),
            q.y.into(),
            &mut table,
        )
        .map_err(|e| crate::Error::internal(format!("QBinary table: {e}")))?;
        let node = &mut graph.nodes[index];
        node.op = Op::Quant(QuantOp::Lut(Lut {
            output: q.y.dtype(),
            table: Arc::new(table),
        }));
        node.inputs = vec![Some(x)];
        remove_nodes(graph, &dead);
        changed = true;
    }
}

/// Operand tables of a `QBinary` made of one value: `None` where the operand is `x` itself.
type OperandTables = (Option<Arc<[u8; 256]>>, Option<Arc<[u8; 256]>>);

/// `(QBinary node, x, operand tables, its parameters, Lut nodes that become dead)`.
fn find_unary(
    graph: &Graph,
    readers: &Readers,
) -> Option<(usize, ValueId, OperandTables, QBinary, Vec<usize>)> {
    graph.nodes.iter().enumerate().find_map(|(index, node)| {
        let Op::Quant(QuantOp::QBinary(q)) = &node.op else {
            return None;
        };
        let (a, b) = (
            node.inputs.first().copied().flatten()?,
            node.inputs.get(1).copied().flatten()?,
        );
        // An operand's source through at most one Lut read only here.
        let through = |v: ValueId| -> (ValueId, Option<(Arc<[u8; 256]>, usize)>) {
            let Some(p) = readers.producer(v) else {
                return (v, None);
            };
            match &graph.nodes[p].op {
                Op::Quant(QuantOp::Lut(l)) if readers.sole_reader(v) == Some(index) => {
                    match graph.nodes[p].inputs.first().copied().flatten() {
                        Some(x) => (x, Some((l.table.clone(), p))),
                        None => (v, None),
                    }
                }
                _ => (v, None),
            }
        };
        let ((xa, la), (xb, lb)) = (through(a), through(b));
        // Both from one x; at least one through a table (else it is x op x, left as it is).
        let x = if xa == xb {
            xa
        } else if la.is_some() && lb.is_none() && xa == b {
            b
        } else if lb.is_some() && la.is_none() && xb == a {
            a
        } else {
            return None;
        };
        let (ta, tb) = (
            la.as_ref().filter(|_| xa == x).map(|l| l.0.clone()),
            lb.as_ref().filter(|_| xb == x).map(|l| l.0.clone()),
        );
        if ta.is_none() && tb.is_none() {
            return None;
        }
        let dead = [la, lb].into_iter().flatten().map(|l| l.1).collect();
        Some((index, x, (ta, tb), *q, dead))
    })
}
