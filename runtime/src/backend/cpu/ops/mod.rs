//! CPU evaluation of every op family: inputs as views, outputs into buffers the executor
//! hands out (planned arena slots when shapes were known ahead, fresh buffers otherwise).
//!
//! A selective build compiles only some families (Cargo features `ops-*`, README "Library
//! size"): the core (elementwise, nn, shape, reduce, quant, and the products and softmax of
//! the transformer family) always, the others only with their feature. [`missing_feature`] is
//! the one place that knows which op needs which feature; sessions refuse a graph with such
//! an op when they are created ([`check_compiled`]), so the evaluator's fallback arm is
//! reached only by constant folding, which keeps the node when evaluation fails.

mod elementwise;
#[cfg(feature = "ops-loss")]
mod loss;
mod nn;
pub(crate) mod quant;
mod reduce;
#[cfg(feature = "ops-rnn")]
mod rnn;
mod shape;
#[cfg(feature = "ops-signal")]
mod signal;
mod transformer;
pub(crate) mod util;
#[cfg(feature = "ops-vision")]
mod vision;

use crate::backend::cpu::prepare::Prepared;
use crate::ir::ops::{QuantOp, ReduceOp};
use crate::ir::{Graph, Node, Op};
use crate::tensor::{byte_len, AlignedBytes, Element, TensorView, TensorViewMut};
use crate::{DType, Error, Result, Tensor};

/// An op's inputs (`None` for omitted optional ones) and execution settings.
pub(crate) struct Inputs<'a> {
    views: Vec<Option<TensorView<'a>>>,
    threads: usize,
    prepared: Option<&'a Prepared>,
}

impl<'a> Inputs<'a> {
    pub(crate) fn new(views: Vec<Option<TensorView<'a>>>, threads: usize) -> Self {
        Inputs {
            views,
            threads: threads.max(1),
            prepared: None,
        }
    }
    /// With the node's load-time state (packed weights).
    pub(crate) fn with_prepared(mut self, prepared: Option<&'a Prepared>) -> Self {
        self.prepared = prepared;
        self
    }
    /// The node's load-time state, if it has any.
    pub(crate) fn prepared(&self) -> Option<&'a Prepared> {
        self.prepared
    }
    /// Number of input positions (including omitted optional ones).
    pub(crate) fn len(&self) -> usize {
        self.views.len()
    }
    /// Required input `i`.
    pub(crate) fn get(&self, i: usize) -> Result<TensorView<'a>> {
        self.opt(i)
            .ok_or_else(|| Error::invalid_model(format!("required input {i} is missing")))
    }
    /// Optional input `i`.
    pub(crate) fn opt(&self, i: usize) -> Option<TensorView<'a>> {
        self.views.get(i).copied().flatten()
    }
    /// Worker threads the op may use.
    pub(crate) fn threads(&self) -> usize {
        self.threads
    }
}

/// Where an op writes its results.
pub(crate) struct Outputs {
    results: Vec<Option<Tensor>>,
    recycled: Vec<Option<AlignedBytes>>,
    used: Vec<bool>,
}

impl Outputs {
    /// `used[i]` says whether output `i` is read by anyone; `recycled[i]` is a buffer to
    /// reuse for it (an arena slot).
    pub(crate) fn new(used: Vec<bool>, recycled: Vec<Option<AlignedBytes>>) -> Self {
        let n = used.len();
        Outputs {
            results: vec![None; n],
            recycled,
            used,
        }
    }
    /// For evaluation outside a plan (constant folding, bodies).
    pub(crate) fn fresh(n: usize) -> Self {
        Outputs::new(vec![true; n], vec![None; n])
    }
    /// Number of output positions.
    pub(crate) fn len(&self) -> usize {
        self.used.len()
    }
    /// Whether output `i` is read (an op may skip computing unread optional outputs).
    pub(crate) fn is_used(&self, i: usize) -> bool {
        self.used.get(i).copied().unwrap_or(false)
    }

    fn buffer(
        &mut self,
        i: usize,
        dtype: DType,
        shape: &[usize],
        zero: bool,
    ) -> Result<AlignedBytes> {
        if i >= self.results.len() {
            return Err(Error::internal(format!(
                "op wrote output {i} of {}",
                self.results.len()
            )));
        }
        let len = byte_len(dtype, shape)?;
        Ok(match self.recycled[i].take() {
            Some(mut buf) => {
                buf.resize(len);
                if zero {
                    buf.as_mut_slice().fill(0);
                }
                buf
            }
            None => AlignedBytes::zeroed(len),
        })
    }

    /// Output `i`, zero-filled.
    pub(crate) fn alloc(
        &mut self,
        i: usize,
        dtype: DType,
        shape: &[usize],
    ) -> Result<TensorViewMut<'_>> {
        let buf = self.buffer(i, dtype, shape, true)?;
        let slot = &mut self.results[i];
        *slot = Some(Tensor::from_parts(dtype, shape.to_vec(), buf));
        Ok(slot.as_mut().map(|t| t.view_mut()).expect("just set"))
    }

    /// Output `i` with unspecified contents: the op must write every element.
    pub(crate) fn alloc_uninit(
        &mut self,
        i: usize,
        dtype: DType,
        shape: &[usize],
    ) -> Result<TensorViewMut<'_>> {
        let buf = self.buffer(i, dtype, shape, false)?;
        let slot = &mut self.results[i];
        *slot = Some(Tensor::from_parts(dtype, shape.to_vec(), buf));
        Ok(slot.as_mut().map(|t| t.view_mut()).expect("just set"))
    }

    /// Typed output `i`, zero-filled.
    pub(crate) fn alloc_typed<T: Element>(
        &mut self,
        i: usize,
        shape: &[usize],
    ) -> Result<&mut [T]> {
        let buf = self.buffer(i, T::DTYPE, shape, true)?;
        let slot = &mut self.results[i];
        *slot = Some(Tensor::from_parts(T::DTYPE, shape.to_vec(), buf));
        slot.as_mut().expect("just set").as_mut_slice::<T>()
    }

    /// Hands over an already computed output.
    pub(crate) fn set(&mut self, i: usize, t: Tensor) -> Result<()> {
        let slot = self.results.get_mut(i).ok_or_else(|| {
            Error::internal(format!("op set output {i} of a node with fewer outputs"))
        })?;
        *slot = Some(t);
        Ok(())
    }

    pub(crate) fn into_results(self) -> Vec<Option<Tensor>> {
        self.results
    }
}

/// Evaluates one (non-control-flow) op.
pub(crate) fn eval(op: &Op, ins: &Inputs<'_>, out: &mut Outputs) -> Result<()> {
    match op {
        Op::Elementwise(o) => elementwise::eval(o, ins, out),
        Op::Nn(o) => nn::eval(o, ins, out),
        Op::Transformer(o) => transformer::eval(o, ins, out),
        Op::Shape(o) => shape::eval(o, ins, out),
        Op::Reduce(o) => reduce::eval(o, ins, out),
        Op::Quant(o) => quant::eval(o, ins, out),
        #[cfg(feature = "ops-rnn")]
        Op::Rnn(o) => rnn::eval(o, ins, out),
        #[cfg(feature = "ops-vision")]
        Op::Vision(o) => vision::eval(o, ins, out),
        #[cfg(feature = "ops-signal")]
        Op::Signal(o) => signal::eval(o, ins, out),
        #[cfg(feature = "ops-loss")]
        Op::Loss(o) => loss::eval(o, ins, out),
        Op::Control(_) => Err(Error::internal("control flow reached the op evaluator")),
        // The families this build leaves out (unreachable when every one is compiled in).
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(
            op.name(),
            missing_feature(op).unwrap_or("all-ops"),
        )),
    }
}

/// The Cargo feature of the `mote` crate that compiles `op`'s evaluation in, when this build
/// lacks it; `None` when the op can run.
pub(crate) fn missing_feature(op: &Op) -> Option<&'static str> {
    match op {
        Op::Transformer(t) if !transformer::is_core(t) => {
            (!cfg!(feature = "ops-transformer")).then_some("ops-transformer")
        }
        Op::Rnn(_) => (!cfg!(feature = "ops-rnn")).then_some("ops-rnn"),
        Op::Vision(_) => (!cfg!(feature = "ops-vision")).then_some("ops-vision"),
        Op::Signal(_) => (!cfg!(feature = "ops-signal")).then_some("ops-signal"),
        Op::Loss(_) => (!cfg!(feature = "ops-loss")).then_some("ops-loss"),
        Op::Shape(s) if !shape::is_core(s) => (!cfg!(feature = "ops-index")).then_some("ops-index"),
        Op::Reduce(ReduceOp::Cumulative(_)) => {
            (!cfg!(feature = "ops-index")).then_some("ops-index")
        }
        Op::Elementwise(_)
        | Op::Nn(_)
        | Op::Transformer(_)
        | Op::Shape(_)
        | Op::Reduce(_)
        | Op::Quant(_)
        | Op::Control(_) => None,
    }
}

/// The error for an op whose evaluation is not compiled into this build.
pub(crate) fn not_compiled(op: &str, feature: &str) -> Error {
    Error::unsupported(
        op,
        format!(
            "not compiled into this build of Mote: enable the Cargo feature \"{feature}\" \
             (or \"all-ops\") of the mote crate (mote-ffi forwards both)"
        ),
    )
}

/// The element types whose arithmetic only the Cargo feature `dtypes-extra` compiles in.
/// ONNX allows them and real models seldom compute in them, while each one costs a copy of
/// every generic op loop (about 0.5 MB of the embedded library for the six together).
pub(crate) const EXTRA_DTYPES: [DType; 6] = [
    DType::F64,
    DType::BF16,
    DType::I16,
    DType::U16,
    DType::U32,
    DType::U64,
];

/// The first value of `node` (inputs, then outputs) whose element type this build does not
/// compute in; `None` when it can run. `Cast`/`CastLike` convert between every pair of types
/// in every build, so a model may take or return such a type at its boundary.
fn missing_dtype(graph: &Graph, node: &Node) -> Option<DType> {
    if cfg!(feature = "dtypes-extra")
        || matches!(node.op, Op::Quant(QuantOp::Cast(_) | QuantOp::CastLike(_)))
    {
        return None;
    }
    node.inputs
        .iter()
        .chain(&node.outputs)
        .flatten()
        .filter_map(|&id| graph.value(id).dtype)
        .find(|dtype| EXTRA_DTYPES.contains(dtype))
}

/// Refuses a graph (control-flow bodies included) with an op this build cannot evaluate,
/// naming the first such node and the feature it needs: an op family, or the element types.
pub(crate) fn check_compiled(graph: &Graph) -> Result<()> {
    for node in &graph.nodes {
        if let Some(feature) = missing_feature(&node.op) {
            return Err(
                not_compiled(node.op.name(), feature).context_with(format!("node '{}'", node.name))
            );
        }
        if let Some(dtype) = missing_dtype(graph, node) {
            return Err(Error::unsupported(
                node.op.name(),
                format!(
                    "element type {dtype} is not compiled into this build of Mote: enable the \
                     Cargo feature \"dtypes-extra\" of the mote crate (mote-ffi forwards it)"
                ),
            )
            .context_with(format!("node '{}'", node.name)));
        }
        for body in node.op.subgraphs() {
            check_compiled(body)?;
        }
    }
    Ok(())
}
