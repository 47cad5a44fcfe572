//! Running the original model so that every float activation a QDQ quantizer would quantize
//! is seen, by its ONNX name.
//!
//! Mote's load-time passes fuse activations into convolutions and products, so the fused
//! intermediates never exist as tensors. The fusion passes leave a value alone when it is a
//! graph output, so the model is imported, every graph input and node output of the ONNX
//! graph is added to the graph's outputs, and only then are the passes run: each run returns
//! all activations, which are observed and dropped before the next sample (memory does not
//! grow with the number of samples). Values the importer made up (`#mote` names) and values
//! that fold to constants are not activations and are skipped.

use crate::data::Sample;
use crate::{Error, Result};
use mote::ir::ValueId;
use mote::{DType, Model, Session, SessionOptions, Tensor};
use std::collections::HashSet;
use std::path::Path;

/// A model loaded with its activations exposed as extra outputs.
pub struct ObservedModel {
    model: Model,
    /// The original model's outputs (the first outputs of `model`).
    original_outputs: usize,
    /// Names of `model`'s outputs, in order.
    output_names: Vec<String>,
}

/// Whether a value of this declared type may hold float activations (unknown types are kept;
/// the run tells).
fn maybe_float(dtype: Option<DType>) -> bool {
    matches!(dtype, None | Some(DType::F32))
}

impl ObservedModel {
    /// Imports the ONNX model at `path` with every float graph input and node output exposed.
    pub fn load(path: &Path) -> Result<ObservedModel> {
        if mote::format::file_is_mote(path)? {
            return Err(Error::Usage(format!(
                "{}: calibration needs the ONNX model (a .mote file has lost the ONNX tensor names)",
                path.display()
            )));
        }
        Self::from_graph(mote::import::load_path(path)?)
    }

    /// Imports an ONNX model held in memory (e.g. one `calibrate` edited before calibrating:
    /// BatchNorm folded, layers equalized) with every float activation exposed.
    pub fn from_onnx(model: &crate::onnx::pb::ModelProto) -> Result<ObservedModel> {
        Self::from_graph(mote::import::load_bytes(&crate::onnx::encode(model))?)
    }

    fn from_graph(mut graph: mote::ir::Graph) -> Result<ObservedModel> {
        let original_outputs = graph.outputs.len();
        let mut exposed: HashSet<ValueId> = graph.outputs.iter().copied().collect();
        let mut extra = Vec::new();
        let candidates = graph.inputs.iter().copied().chain(
            graph
                .nodes
                .iter()
                .flat_map(|n| n.outputs.iter().flatten().copied()),
        );
        for id in candidates.collect::<Vec<_>>() {
            let info = graph.value(id);
            if info.name.contains("#mote") || !maybe_float(info.dtype) {
                continue;
            }
            if graph.constants.contains_key(&id) || !exposed.insert(id) {
                continue;
            }
            extra.push(id);
        }
        graph.outputs.extend(extra);
        let model = Model::from_graph(graph)?;
        let output_names = model.outputs().iter().map(|v| v.name.clone()).collect();
        Ok(ObservedModel {
            model,
            original_outputs,
            output_names,
        })
    }

    /// The model with the extra outputs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// How many of the outputs are the original model's.
    pub fn original_outputs(&self) -> usize {
        self.original_outputs
    }

    /// A runner with one session (`threads` workers).
    pub fn runner(&self, threads: usize) -> Result<Runner<'_>> {
        let session = self.model.session(SessionOptions {
            threads,
            ..Default::default()
        })?;
        Ok(Runner {
            observed: self,
            session,
            constant_outputs: None,
        })
    }
}

/// Runs an [`ObservedModel`] sample by sample.
pub struct Runner<'a> {
    observed: &'a ObservedModel,
    session: Session,
    /// Outputs that are constants for the current input signature (folded at planning).
    constant_outputs: Option<(Vec<(DType, Vec<usize>)>, Vec<bool>)>,
}

impl Runner<'_> {
    /// Runs one sample and calls `observe(name, values)` for every f32 activation that is not
    /// a constant, in output order; returns the original model's outputs.
    pub fn run(
        &mut self,
        sample: &Sample,
        mut observe: impl FnMut(&str, &[f32]),
    ) -> Result<Vec<Tensor>> {
        self.run_tensors(sample, |name, t| {
            if let Ok(values) = t.as_slice::<f32>() {
                observe(name, values);
            }
        })
    }

    /// [`Runner::run`], handing each activation over as a tensor (with its shape).
    pub fn run_tensors(
        &mut self,
        sample: &Sample,
        mut observe: impl FnMut(&str, &Tensor),
    ) -> Result<Vec<Tensor>> {
        let inputs: Vec<(&str, &Tensor)> = sample.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let signature: Vec<(DType, Vec<usize>)> = {
            let model = self.session.model().clone();
            let mut sig = Vec::new();
            for v in model.inputs() {
                let t = sample
                    .iter()
                    .find(|(n, _)| *n == v.name)
                    .map(|(_, t)| t)
                    .ok_or_else(|| Error::Data(format!("input '{}' is missing", v.name)))?;
                sig.push((t.dtype(), t.shape().to_vec()));
            }
            sig
        };
        if self.constant_outputs.as_ref().map(|(s, _)| s) != Some(&signature) {
            let plan = self.session.plan_for(&signature)?;
            let graph = self.observed.model.graph();
            let constant = graph
                .outputs
                .iter()
                .map(|id| graph.constants.contains_key(id) || plan.folded_values.contains_key(id))
                .collect();
            self.constant_outputs = Some((signature, constant));
        }
        let constant = &self.constant_outputs.as_ref().expect("set above").1;
        let outputs = self.session.run(&inputs)?;
        let mut original = Vec::with_capacity(self.observed.original_outputs);
        for (k, (name, t)) in outputs.into_iter().enumerate() {
            debug_assert_eq!(name, self.observed.output_names[k]);
            if t.dtype() == DType::F32 && !constant[k] {
                observe(&name, &t);
            }
            if k < self.observed.original_outputs {
                original.push(t);
            }
        }
        Ok(original)
    }
}
