//! `mote inspect`: what a model is made of, and what Mote can and cannot run of it.

use mote::{Model, Result};
use std::path::Path;

pub(crate) fn run(path: &Path, quant: bool) -> Result<()> {
    let bytes = std::fs::read(path)
        .map_err(|e| mote::Error::new(mote::ErrorKind::Io, format!("{}: {e}", path.display())))?;
    if mote::format::is_mote(&bytes) {
        let model = Model::from_mote_bytes(&bytes)?;
        println!("model      {} (.mote)", path.display());
        print_model(&model, quant);
        print_ir_ops(&model);
        return Ok(());
    }
    let survey = mote::onnx::survey(&bytes)?;
    println!("model      {}", path.display());
    println!("opset      {}", survey.opset);
    match Model::load(path) {
        Ok(model) => print_model(&model, quant),
        Err(e) => println!("load       FAILS: {e}"),
    }
    let total_nodes: usize = survey.op_histogram.values().sum();
    println!(
        "ops        {total_nodes} nodes in the file, {} op types:",
        survey.op_histogram.len()
    );
    let mut ops: Vec<_> = survey.op_histogram.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (op, n) in ops {
        let mark = if survey.unsupported.contains_key(op) {
            "  (unsupported)"
        } else {
            ""
        };
        println!("  {n:>6}  {op}{mark}");
    }
    let (count, bytes): (usize, usize) = survey
        .parameters
        .values()
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("parameters {count} ({bytes} bytes)");
    for (dtype, (n, b)) in &survey.parameters {
        println!("  {dtype:>10}  {n} values, {b} bytes");
    }
    if survey.unsupported.is_empty() {
        println!("unsupported none");
    } else {
        println!("unsupported {} op type(s):", survey.unsupported.len());
        for reason in survey.unsupported.values() {
            println!("  {reason}");
        }
    }
    Ok(())
}

/// Inputs, outputs and node count of a loaded model (and `--quant`'s report).
fn print_model(model: &Model, quant: bool) {
    for info in model.inputs() {
        println!(
            "input      {}: {} {}",
            info.name,
            dtype_name(info.dtype),
            shape_text(info)
        );
    }
    for info in model.outputs() {
        println!(
            "output     {}: {} {}",
            info.name,
            dtype_name(info.dtype),
            shape_text(info)
        );
    }
    println!(
        "nodes      {} after load-time passes",
        model.graph().node_count_deep()
    );
    if quant {
        print_quant(&model);
    }
}

/// Op histogram of a `.mote` model's graph (its ops are Mote's, after the load-time passes).
fn print_ir_ops(model: &Model) {
    fn count(g: &mote::ir::Graph, ops: &mut std::collections::BTreeMap<&'static str, usize>) {
        for n in &g.nodes {
            *ops.entry(n.op.name()).or_default() += 1;
            for body in n.op.subgraphs() {
                count(body, ops);
            }
        }
    }
    let mut ops = std::collections::BTreeMap::new();
    count(model.graph(), &mut ops);
    let mut ops: Vec<_> = ops.into_iter().collect();
    ops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("ops        {} op types:", ops.len());
    for (op, n) in ops {
        println!("  {n:>6}  {op}");
    }
    let constants = &model.graph().constants;
    let bytes: usize = constants.values().map(|t| t.bytes().len()).sum();
    println!(
        "parameters {} constants ({bytes} bytes) in the main graph",
        constants.len()
    );
}

fn dtype_name(d: Option<mote::DType>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "?".into())
}

fn shape_text(info: &mote::ir::ValueInfo) -> String {
    info.shape
        .as_deref()
        .map(mote::format_dims)
        .unwrap_or_else(|| "[rank unknown]".into())
}

/// `--quant`: the precision of every node after the load-time passes, and the reasons for
/// every conversion and float fallback left next to quantized values.
fn print_quant(model: &Model) {
    use mote::passes::Precision;
    use std::collections::BTreeMap;
    let lines = mote::passes::quant_report(model.graph());
    let mut by_precision: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for l in &lines {
        let p = match l.precision {
            Precision::Int8 => "int8",
            Precision::Conversion => "q/dq",
            Precision::Float => "float",
            Precision::Other => "other",
        };
        *by_precision.entry(p).or_default().entry(l.op).or_default() += 1;
    }
    println!("precision  per op, after QDQ folding and fusion:");
    for (p, ops) in &by_precision {
        let total: usize = ops.values().sum();
        let list: Vec<String> = ops.iter().map(|(op, n)| format!("{op} {n}")).collect();
        println!("  {p:>6}  {total:>5} nodes: {}", list.join(", "));
    }
    let explained: Vec<_> = lines.iter().filter(|l| l.reason.is_some()).collect();
    if explained.is_empty() {
        println!("fallbacks  none: every quantized value stays 8-bit");
        return;
    }
    println!(
        "fallbacks  {} unfused conversions and float ops next to quantized values:",
        explained.len()
    );
    for l in explained {
        let kind = match l.precision {
            Precision::Conversion => "q/dq ",
            _ => "float",
        };
        println!(
            "  {kind} {} '{}': {}",
            l.op,
            l.node,
            l.reason.as_deref().unwrap_or("")
        );
    }
}
