//! `mote run`: one inference on .npy inputs.

use crate::inputs::{complete_inputs, file_safe, read_npy_inputs, summary};
use mote::{BackendKind, Model, Result, SessionOptions};
use std::collections::HashMap;
use std::path::Path;

pub(crate) fn run(
    model: &Path,
    inputs: &[String],
    output_dir: Option<&Path>,
    backend: &str,
    threads: usize,
) -> Result<()> {
    let backend: BackendKind = backend.parse()?;
    let model = Model::load(model)?;
    let given = read_npy_inputs(inputs)?;
    // Every input must be given: `run` computes real answers, never on invented data.
    for info in model.inputs() {
        if !given.contains_key(&info.name) {
            return Err(mote::Error::argument(format!(
                "input '{}' is missing: pass --input {}=FILE.npy",
                info.name, info.name
            )));
        }
    }
    let inputs = complete_inputs(&model, given, &HashMap::new())?;
    let mut session = model.session(SessionOptions {
        backend,
        threads,
        ..SessionOptions::default()
    })?;
    let refs: Vec<(&str, &mote::Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let outputs = session.run(&refs)?;
    if let Some(dir) = output_dir {
        std::fs::create_dir_all(dir)?;
    }
    for (name, t) in &outputs {
        println!("{name}: {}", summary(t));
        if let Some(dir) = output_dir {
            let path = dir.join(format!("{}.npy", file_safe(name)));
            mote::npy::write(&path, t)?;
            println!("  -> {}", path.display());
        }
    }
    Ok(())
}
