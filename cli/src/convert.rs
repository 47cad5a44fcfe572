//! `mote convert`: ONNX in, `.mote` out (the graph after the load-time passes, weights in
//! aligned blobs), checked by loading the written file back.

use mote::{Model, Result};
use std::path::Path;
use std::time::Instant;

pub(crate) fn run(input: &Path, output: &Path) -> Result<()> {
    let start = Instant::now();
    let model = Model::load(input)?;
    let import_ms = start.elapsed().as_secs_f64() * 1e3;
    model.save_mote(output)?;
    let start = Instant::now();
    let reloaded = Model::load(output)?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let size = std::fs::metadata(output)
        .map_err(|e| mote::Error::new(mote::ErrorKind::Io, format!("{}: {e}", output.display())))?
        .len();
    let graph = reloaded.graph();
    let weight_bytes: usize = graph.constants.values().map(|t| t.bytes().len()).sum();
    println!("wrote      {} ({size} bytes)", output.display());
    println!(
        "graph      {} nodes, {} constants ({weight_bytes} bytes) in the main graph",
        graph.node_count_deep(),
        graph.constants.len()
    );
    println!(
        "load       {import_ms:.2} ms from {}, {load_ms:.2} ms from .mote",
        input.display()
    );
    Ok(())
}
