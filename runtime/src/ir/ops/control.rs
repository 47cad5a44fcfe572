//! Control flow: ops that own subgraphs.
//!
//! A subgraph reads values of the enclosing graph through its [`Graph::captures`]; the owning
//! node lists those outer values as its trailing inputs, after the op's own `formal` inputs,
//! so liveness and planning in the outer graph see every use.

use crate::ir::Graph;

/// Control-flow operations.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum ControlOp {
    /// `If(cond)`: runs one branch; formal inputs: 1 (`cond`).
    If {
        /// Taken when cond is true.
        then_branch: Box<Graph>,
        /// Taken when cond is false.
        else_branch: Box<Graph>,
    },
    /// `Loop(M, cond, v_initial...)`: formal inputs: 2 + number of loop-carried values.
    Loop {
        /// Inputs: iteration number, condition, carried values; outputs: condition, carried
        /// values, scan outputs.
        body: Box<Graph>,
        /// Number of the node's inputs that are the op's own (the rest are captures).
        formal_inputs: usize,
    },
    /// `Scan(initial states..., scan inputs...)`; opset 8: `Scan(sequence_lens, initial
    /// states..., scan inputs...)`, see `batched`.
    Scan {
        /// Inputs: states then scan slices; outputs: states then scan output slices.
        body: Box<Graph>,
        /// Number of the node's inputs that are the op's own (the rest are captures).
        formal_inputs: usize,
        /// Count of scan inputs (the last ones of the formal inputs).
        num_scan_inputs: usize,
        /// Per scan input: axis (default 0).
        scan_input_axes: Vec<i64>,
        /// Per scan input: 1 to iterate backwards.
        scan_input_directions: Vec<i64>,
        /// Per scan output: axis (default 0).
        scan_output_axes: Vec<i64>,
        /// Per scan output: 1 to prepend instead of append.
        scan_output_directions: Vec<i64>,
        /// The opset 8 form: formal input 0 is the optional `sequence_lens`, every state and
        /// scan input has a leading batch axis (scan inputs scan along axis 1), the body
        /// runs once per batch entry, and the axis attributes are unused.
        batched: bool,
    },
}

impl ControlOp {
    /// Short name (the ONNX op type).
    pub fn name(&self) -> &'static str {
        match self {
            ControlOp::If { .. } => "If",
            ControlOp::Loop { .. } => "Loop",
            ControlOp::Scan { .. } => "Scan",
        }
    }

    /// The bodies.
    pub fn subgraphs(&self) -> Vec<&Graph> {
        match self {
            ControlOp::If {
                then_branch,
                else_branch,
            } => vec![then_branch, else_branch],
            ControlOp::Loop { body, .. } | ControlOp::Scan { body, .. } => vec![body],
        }
    }
}
