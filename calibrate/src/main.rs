//! `calibrate`: Mote's offline model tool. Each subcommand lives in `cli/`; this file only
//! parses the command line and dispatches.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "calibrate",
    version,
    about = "Mote's offline model tool: calibration tables and variant reports",
    after_help = "Examples:
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
    /// Run the model on calibration data and write the editable range table.
    Table(cli::table::TableArgs),
    /// Compare model variants with the original: accuracy, size, latency, memory, plots.
    Report(cli::report::ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
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
