//! `calibrate`: Mote's offline model tool. Each subcommand lives in `cli/`; this file only
//! parses the command line and dispatches.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "calibrate",
    version,
    about = "Mote's offline model tool: INT8 quantization, FP16 conversion, calibration tables \
             and variant reports",
    after_help = "Examples:
  calibrate quantize model.onnx --data samples/ -o model.int8.onnx
  calibrate quantize model.onnx --dynamic -o model.dyn.mote
  calibrate fp16 model.onnx -o model.fp16.onnx --keep-io-fp32
  calibrate table model.onnx --data samples/ --method entropy -o model.table
  calibrate report model.onnx model.qdq.onnx --data samples/ --labels labels.npy

Run `calibrate <COMMAND> --help` for each command's options."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// INT8 post-training quantization: static QDQ from calibration data or a table, or
    /// dynamic.
    Quantize(cli::quantize::QuantizeArgs),
    /// FP16 conversion keeping numerically sensitive ops in FP32.
    Fp16(cli::fp16::Fp16Args),
    /// Run the model on calibration data and write the editable range table.
    Table(cli::table::TableArgs),
    /// Compare model variants with the original: accuracy, size, latency, memory, plots.
    Report(cli::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Quantize(args) => cli::quantize::run(args),
        Command::Fp16(args) => cli::fp16::run(args),
        Command::Table(args) => cli::table::run(args),
        Command::Report(args) => cli::report::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("calibrate: {e}");
            ExitCode::FAILURE
        }
    }
}
