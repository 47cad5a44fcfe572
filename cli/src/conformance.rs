//! `mote conformance-run`: the command contract of the ONNX node-test runner.

use mote::{ErrorKind, Model, SessionOptions};
use std::path::Path;
use std::process::ExitCode;

const LOAD_ERROR: u8 = 2;
const RUN_ERROR: u8 = 3;

/// Loads `model`, runs it on `inputs_dir/input_<i>.pb`, writes `outputs_dir/output_<i>.pb`.
pub(crate) fn run(model: &Path, inputs_dir: &Path, outputs_dir: &Path) -> ExitCode {
    let model = match Model::load(model) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(LOAD_ERROR);
        }
    };
    match run_loaded(&model, inputs_dir, outputs_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            // An op or dtype Mote does not implement is a rejection of the model, even when
            // it only shows once shapes are known.
            let code = if matches!(e.kind(), ErrorKind::UnsupportedOp { .. }) {
                LOAD_ERROR
            } else {
                RUN_ERROR
            };
            ExitCode::from(code)
        }
    }
}

fn run_loaded(model: &Model, inputs_dir: &Path, outputs_dir: &Path) -> mote::Result<()> {
    let mut inputs = Vec::new();
    for i in 0..model.inputs().len() {
        inputs.push(mote::onnx::read_tensor_file(
            &inputs_dir.join(format!("input_{i}.pb")),
        )?);
    }
    let mut session = model.session(SessionOptions::default())?;
    let refs: Vec<&mote::Tensor> = inputs.iter().collect();
    let outputs = session.run_ordered(&refs)?;
    for (i, (t, info)) in outputs.iter().zip(model.outputs()).enumerate() {
        let bytes = mote::onnx::tensor_to_proto_bytes(t, &info.name);
        std::fs::write(outputs_dir.join(format!("output_{i}.pb")), bytes)?;
    }
    Ok(())
}
