//! Per-op timing of one run: what `mote bench --profile` prints as a table and writes as a
//! Chrome trace (open it in Perfetto or `chrome://tracing`).

use crate::ir::ops::{ElementwiseOp, NnOp, TransformerOp};
use crate::ir::Op;
use crate::tensor::numel;
use std::fmt::Write;

/// One node's execution.
#[derive(Debug, Clone)]
pub struct OpRecord {
    /// The node's name.
    pub node: String,
    /// Its op (ONNX op type, or the fused op's name).
    pub op: String,
    /// The shape of its first output.
    pub output_shape: Vec<usize>,
    /// When it started, in microseconds since the run started.
    pub start_us: f64,
    /// How long it took, in microseconds.
    pub duration_us: f64,
    /// Floating-point operations, for the ops where that is well defined (conv, matmul).
    pub flops: Option<u64>,
}

/// Every node of one run, in execution order.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The records, in execution order.
    pub ops: Vec<OpRecord>,
    /// Wall time of the whole run, in microseconds.
    pub total_us: f64,
}

impl Profile {
    /// A table of every node, slowest first: op, node, output shape, ms, % of the run, GFLOP/s.
    /// Then the time per op type.
    pub fn table(&self) -> String {
        let mut rows: Vec<&OpRecord> = self.ops.iter().collect();
        rows.sort_by(|a, b| b.duration_us.total_cmp(&a.duration_us));
        let total = self.total_us.max(f64::MIN_POSITIVE);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<22} {:<34} {:<22} {:>9} {:>6} {:>8}",
            "op", "node", "output", "ms", "%", "GFLOP/s"
        );
        for r in rows {
            let gflops = r
                .flops
                .map(|f| format!("{:.1}", f as f64 / (r.duration_us.max(1e-3) * 1e3)))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{:<22} {:<34} {:<22} {:>9.3} {:>6.2} {:>8}",
                clip(&r.op, 22),
                clip(&r.node, 34),
                clip(&format!("{:?}", r.output_shape), 22),
                r.duration_us / 1e3,
                100.0 * r.duration_us / total,
                gflops
            );
        }
        let mut by_op: Vec<(String, f64, usize)> = Vec::new();
        for r in &self.ops {
            match by_op.iter_mut().find(|(op, _, _)| *op == r.op) {
                Some(e) => {
                    e.1 += r.duration_us;
                    e.2 += 1;
                }
                None => by_op.push((r.op.clone(), r.duration_us, 1)),
            }
        }
        by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
        let _ = writeln!(
            s,
            "\n{:<22} {:>6} {:>9} {:>6}",
            "op type", "nodes", "ms", "%"
        );
        for (op, us, count) in by_op {
            let _ = writeln!(
                s,
                "{:<22} {:>6} {:>9.3} {:>6.2}",
                op,
                count,
                us / 1e3,
                100.0 * us / total
            );
        }
        let accounted: f64 = self.ops.iter().map(|r| r.duration_us).sum();
        let _ = writeln!(
            s,
            "total {:.3} ms ({:.3} ms in ops, {} nodes)",
            self.total_us / 1e3,
            accounted / 1e3,
            self.ops.len()
        );
        s
    }

    /// The run as Chrome trace events (JSON), one complete event per node.
    pub fn chrome_trace(&self) -> String {
        let mut s = String::from("{\"traceEvents\":[\n");
        for (i, r) in self.ops.iter().enumerate() {
            let _ = write!(
                s,
                "{{\"name\":{},\"cat\":{},\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":{:.3},\"dur\":{:.3},\
                 \"args\":{{\"node\":{},\"output_shape\":{}{}}}}}{}\n",
                json_string(&r.op),
                json_string(&r.op),
                r.start_us,
                r.duration_us,
                json_string(&r.node),
                json_string(&format!("{:?}", r.output_shape)),
                r.flops.map(|f| format!(",\"flops\":{f}")).unwrap_or_default(),
                if i + 1 < self.ops.len() { "," } else { "" }
            );
        }
        s.push_str("],\"displayTimeUnit\":\"ms\"}\n");
        s
    }
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let tail: String = s
            .chars()
            .rev()
            .take(width - 1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("…{tail}")
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The op's name, with a fused epilogue spelled out (`Conv+HardSwish+Add`).
pub(crate) fn op_label(op: &Op) -> String {
    match op {
        Op::Nn(NnOp::FusedConv(f)) => {
            let mut s = String::from("Conv");
            for step in &f.steps {
                s.push('+');
                s.push_str(step.name());
            }
            s
        }
        Op::Elementwise(ElementwiseOp::Chain(steps)) => {
            let names: Vec<&str> = steps.iter().map(|s| s.name()).collect();
            names.join("+")
        }
        Op::Transformer(TransformerOp::FusedMatMul(f)) => {
            // "FusedMatMul" includes the bias add, when the node has one.
            let mut s = String::from("FusedMatMul");
            for step in &f.steps {
                s.push('+');
                s.push_str(step.name());
            }
            s
        }
        other => other.name().to_string(),
    }
}

/// Multiply-adds × 2 of the ops whose cost is dominated by them, from the shapes that ran.
pub(crate) fn estimate_flops(
    op: &Op,
    inputs: &[Option<&[usize]>],
    output: &[usize],
) -> Option<u64> {
    let out = numel(output) as u64;
    let shape = |i: usize| inputs.get(i).copied().flatten();
    match op {
        Op::Nn(NnOp::Conv(_)) | Op::Nn(NnOp::FusedConv(_)) => {
            // W: [C_out, C_in / group, *kernel]: each output sums C_in/group · Π kernel products.
            let w = shape(1)?;
            Some(2 * out * numel(&w[1..]) as u64)
        }
        Op::Transformer(
            TransformerOp::MatMul | TransformerOp::Gemm(_) | TransformerOp::FusedMatMul(_),
        ) => {
            let a = shape(0)?;
            let k = match op {
                Op::Transformer(TransformerOp::Gemm(g)) if g.trans_a => *a.first()?,
                Op::Transformer(TransformerOp::Gemm(_)) => *a.last()?,
                _ if a.len() == 1 => a[0],
                _ => *a.last()?,
            };
            Some(2 * out * k as u64)
        }
        _ => None,
    }
}
