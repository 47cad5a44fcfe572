//! The Rust API: a [`Model`] is loaded once and shared; [`Session`]s run it.

use crate::backend::cpu::ops::check_compiled;
use crate::backend::cpu::prepare::{prepare, Prepared};
use crate::backend::cpu::{CpuProgram, WorkerPool};
use crate::backend::BackendKind;
use crate::ir::{Dim, Graph, ValueInfo};
use crate::plan::Plan;
use crate::profile::Profile;
use crate::{format, import, passes, DType, Error, ErrorKind, Result, Tensor};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// A loaded, validated and optimized model. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Model {
    graph: Arc<Graph>,
}

impl Model {
    /// Loads a model file: `.mote` (recognized by its magic; memory-mapped, constants used in
    /// place, so the file must not be modified while the model is alive) or ONNX.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        if format::file_is_mote(path)? {
            return Self::from_mote_file(path);
        }
        Self::from_imported(import::load_path(path)?)
    }

    /// Loads a model from bytes: `.mote` (recognized by its magic) or ONNX.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        if format::is_mote(bytes) {
            return Self::from_mote_bytes(bytes);
        }
        Self::from_imported(import::load_bytes(bytes)?)
    }

    /// Loads a `.mote` file through a memory mapping; constant tensors borrow the mapped bytes.
    pub fn from_mote_file(path: impl AsRef<Path>) -> Result<Model> {
        Ok(Self::from_portable_graph(format::read_path(path)?))
    }

    /// Loads a `.mote` file from memory (one aligned copy of `bytes`, shared by the constants).
    pub fn from_mote_bytes(bytes: &[u8]) -> Result<Model> {
        Ok(Self::from_portable_graph(format::read_bytes(bytes)?))
    }

    /// The model as a `.mote` file: its graph after the portable passes, so loading it skips
    /// import and the passes.
    pub fn to_mote_bytes(&self) -> Result<Vec<u8>> {
        format::write(&self.graph)
    }

    /// Writes [`Model::to_mote_bytes`] to `path`.
    pub fn save_mote(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_mote_bytes()?;
        std::fs::write(path, bytes).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot write {}: {e}", path.display()),
            )
        })
    }

    /// Wraps a graph that already went through the portable passes and was validated (as the
    /// `.mote` reader returns it).
    fn from_portable_graph(graph: Graph) -> Model {
        Model {
            graph: Arc::new(graph),
        }
    }

    /// Wraps an imported ONNX graph, running the portable passes.
    #[cfg(feature = "onnx")]
    fn from_imported(graph: Graph) -> Result<Model> {
        Self::from_graph(graph)
    }

    /// Without ONNX import the importer answers an error and no graph gets here. Not calling
    /// [`Model::from_graph`] keeps the passes (0.24 MB) out of a library that loads `.mote`
    /// files only, whose graphs went through them already.
    #[cfg(not(feature = "onnx"))]
    fn from_imported(_: Graph) -> Result<Model> {
        Err(Error::internal("an ONNX graph without ONNX import"))
    }

    /// Wraps an IR graph, running the portable passes.
    pub fn from_graph(mut graph: Graph) -> Result<Model> {
        graph.validate()?;
        passes::run_pipeline(&mut graph, &passes::portable())?;
        Ok(Model {
            graph: Arc::new(graph),
        })
    }

    /// The IR graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The model's inputs.
    pub fn inputs(&self) -> Vec<&ValueInfo> {
        self.graph
            .inputs
            .iter()
            .map(|&id| self.graph.value(id))
            .collect()
    }

    /// The model's outputs.
    pub fn outputs(&self) -> Vec<&ValueInfo> {
        self.graph
            .outputs
            .iter()
            .map(|&id| self.graph.value(id))
            .collect()
    }

    /// A session with these options.
    pub fn session(&self, options: SessionOptions) -> Result<Session> {
        Session::new(self.clone(), options)
    }
}

/// How a session runs.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Backend (only CPU today).
    pub backend: BackendKind,
    /// Worker threads for kernels that split work (1 = the calling thread only).
    pub threads: usize,
    /// The most bytes the session may hold for its cached plans, 0 = unlimited (the default).
    ///
    /// Counted per plan ([`Plan::memory_bytes`]): the static arena of intermediate values and
    /// the constants folded for that plan's input shapes. A plan that alone exceeds the limit
    /// is refused with [`ErrorKind::MemoryLimitExceeded`] before its arena is allocated; a
    /// plan that fits alone but not beside the cached ones evicts them (they are rebuilt
    /// when their shapes come back).
    ///
    /// Not counted: the model's weights (shared by every session of the model), the weights
    /// packed at session creation, the output tensors a run returns, values whose shape
    /// depends on input data (sized at run time), kernels' temporary buffers, and the worker
    /// threads' stacks.
    pub memory_limit: usize,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            backend: BackendKind::Cpu,
            threads: 1,
            memory_limit: 0,
        }
    }
}

type Signature = Vec<(DType, Vec<usize>)>;

/// Runs a model. Plans are built per distinct set of input shapes and cached, each with its
/// arena allocated once.
pub struct Session {
    model: Model,
    options: SessionOptions,
    programs: HashMap<Signature, (Arc<Plan>, CpuProgram)>,
    /// The session's worker threads, started once.
    pool: WorkerPool,
    /// Per-node load-time state (packed weights), built once and shared by every plan.
    prepared: Arc<Vec<Option<Arc<Prepared>>>>,
    /// Sum of [`Plan::memory_bytes`] over `programs`: what the memory limit bounds.
    held_bytes: usize,
}

impl Session {
    /// A session over `model`.
    pub fn new(model: Model, options: SessionOptions) -> Result<Session> {
        if options.threads == 0 {
            return Err(Error::argument("threads must be at least 1"));
        }
        // A selective build (features `ops-*`) refuses here, not at the first run.
        check_compiled(&model.graph)?;
        let pool = WorkerPool::new(options.threads)?;
        let prepared = Arc::new(prepare(&model.graph)?);
        Ok(Session {
            model,
            options,
            programs: HashMap::new(),
            pool,
            prepared,
            held_bytes: 0,
        })
    }

    /// Bytes held for the cached plans (their arenas and folded constants): what
    /// [`SessionOptions::memory_limit`] bounds.
    pub fn held_plan_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Plans for inputs of these types and shapes (aligned with the model's inputs) and
    /// returns the plan; the planned arena size is `plan.arena_bytes()`.
    pub fn plan_for(&mut self, inputs: &[(DType, Vec<usize>)]) -> Result<Arc<Plan>> {
        let signature: Signature = inputs.to_vec();
        self.check_signature(&signature)?;
        if let Some((plan, _)) = self.programs.get(&signature) {
            return Ok(plan.clone());
        }
        let plan = Arc::new(Plan::build(&self.model.graph, &signature)?);
        let bytes = plan.memory_bytes();
        self.make_room(bytes)?;
        // The arena is allocated here, after the limit was checked.
        let program = CpuProgram::new(plan.clone(), self.options.threads, self.prepared.clone());
        self.programs.insert(signature, (plan.clone(), program));
        self.held_bytes += bytes;
        Ok(plan)
    }

    /// Checks a new plan of `bytes` against the memory limit, evicting the cached plans when
    /// it fits alone but not beside them.
    fn make_room(&mut self, bytes: usize) -> Result<()> {
        let limit = self.options.memory_limit;
        if limit == 0 {
            return Ok(());
        }
        if bytes > limit {
            return Err(Error::new(
                ErrorKind::MemoryLimitExceeded,
                format!(
                    "the plan for these input shapes needs {bytes} bytes (arena and folded \
                     constants), above the session's memory limit of {limit} bytes"
                ),
            ));
        }
        if self.held_bytes.saturating_add(bytes) > limit {
            // Cached plans are only a cache: drop them rather than refuse a plan that fits.
            self.programs.clear();
            self.held_bytes = 0;
        }
        Ok(())
    }

    /// Runs with named inputs; returns outputs in model order with their names.
    pub fn run(&mut self, inputs: &[(&str, &Tensor)]) -> Result<Vec<(String, Tensor)>> {
        let graph = self.model.graph.clone();
        let mut ordered: Vec<Option<&Tensor>> = vec![None; graph.inputs.len()];
        for (name, t) in inputs {
            let pos = graph
                .inputs
                .iter()
                .position(|&id| graph.value(id).name == *name)
                .ok_or_else(|| Error::argument(format!("the model has no input named '{name}'")))?;
            if ordered[pos].replace(t).is_some() {
                return Err(Error::argument(format!("input '{name}' given twice")));
            }
        }
        let tensors: Vec<&Tensor> = ordered
            .iter()
            .zip(&graph.inputs)
            .map(|(t, &id)| {
                t.ok_or_else(|| {
                    Error::argument(format!("input '{}' is missing", graph.value(id).name))
                })
            })
            .collect::<Result<_>>()?;
        let outputs = self.run_ordered(&tensors)?;
        Ok(graph
            .outputs
            .iter()
            .map(|&id| graph.value(id).name.clone())
            .zip(outputs)
            .collect())
    }

    /// Runs with inputs in model order.
    pub fn run_ordered(&mut self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        self.run_ordered_inner(inputs, None)
    }

    /// [`Session::run_ordered`], timing every node: the outputs and the per-op profile.
    pub fn run_profiled(&mut self, inputs: &[&Tensor]) -> Result<(Vec<Tensor>, Profile)> {
        let mut profile = Profile::default();
        let outputs = self.run_ordered_inner(inputs, Some(&mut profile))?;
        Ok((outputs, profile))
    }

    fn run_ordered_inner(
        &mut self,
        inputs: &[&Tensor],
        profile: Option<&mut Profile>,
    ) -> Result<Vec<Tensor>> {
        let signature: Signature = inputs
            .iter()
            .map(|t| (t.dtype(), t.shape().to_vec()))
            .collect();
        self.plan_for(&signature)?;
        let graph = self.model.graph.clone();
        let (_, program) = self
            .programs
            .get_mut(&signature)
            .ok_or_else(|| Error::internal("plan vanished"))?;
        let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
        self.pool
            .run(|| program.run_profiled(&graph, &views, profile))
    }

    fn check_signature(&self, signature: &Signature) -> Result<()> {
        let graph = &self.model.graph;
        if signature.len() != graph.inputs.len() {
            return Err(Error::argument(format!(
                "{} inputs given, the model has {}",
                signature.len(),
                graph.inputs.len()
            )));
        }
        let mut symbols: HashMap<&str, usize> = HashMap::new();
        for ((dtype, shape), &id) in signature.iter().zip(&graph.inputs) {
            let info = graph.value(id);
            if let Some(d) = info.dtype {
                if d != *dtype {
                    return Err(Error::dtype(format!(
                        "input '{}' must be {d}, got {dtype}",
                        info.name
                    )));
                }
            }
            let Some(dims) = &info.shape else { continue };
            if dims.len() != shape.len() {
                return Err(Error::shape(format!(
                    "input '{}' must have rank {}, got shape {shape:?}",
                    info.name,
                    dims.len()
                )));
            }
            for (d, &n) in dims.iter().zip(shape) {
                match d {
                    Dim::Known(k) if *k != n => {
                        return Err(Error::shape(format!(
                            "input '{}' must have shape {}, got {shape:?}",
                            info.name,
                            format_dims(dims)
                        )))
                    }
                    Dim::Symbol(s) if s != "?" => {
                        // One symbol, one size, across all inputs.
                        if let Some(prev) = symbols.insert(s, n) {
                            if prev != n {
                                return Err(Error::shape(format!(
                                    "dimension '{s}' is {prev} in one input and {n} in '{}'",
                                    info.name
                                )));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// `[1, N, 3]`-style rendering of declared dims.
pub fn format_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| match d {
            Dim::Known(n) => n.to_string(),
            Dim::Symbol(s) => s.clone(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
