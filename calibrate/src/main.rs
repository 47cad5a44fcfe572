//! `calibrate`: Mote's offline model tool. Each subcommand lives in `cli/`; this file only
//! parses the command line and dispatches.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "calibrate",
    version,
    about = "Mote's offline model tool: INT8 quantization and FP16 conversion",
    after_help = "Examples:
  calibrate quantize model.onnx --data samples/ -o model.int8.onnx
  calibrate quantize model.onnx --dynamic -o model.dyn.mote
  calibrate fp16 model.onnx -o model.fp16.onnx --keep-io-fp32

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Quantize(args) => cli::quantize::run(args),
        Command::Fp16(args) => cli::fp16::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("calibrate: {e}");
            ExitCode::FAILURE
        }
    }
}
