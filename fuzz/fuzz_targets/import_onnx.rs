//! Arbitrary bytes as an ONNX model: loading (and, when it loads, planning and running with
//! small generated inputs) must return errors, never panic or read out of bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = mote::Model::from_bytes(data) else { return };
    let Ok(mut session) = model.session(mote::SessionOptions::default()) else { return };
    let mut inputs = Vec::new();
    for info in model.inputs() {
        let (Some(dtype), Some(shape)) = (info.dtype, info.concrete_shape()) else { return };
        if shape.iter().product::<usize>() > 1 << 16 {
            return;
        }
        let Ok(t) = mote::Tensor::zeros(dtype, &shape) else { return };
        inputs.push(t);
    }
    let refs: Vec<&mote::Tensor> = inputs.iter().collect();
    let _ = session.run_ordered(&refs);
});
