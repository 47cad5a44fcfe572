//! `mote`: the command-line front end of the Mote runtime.

mod conformance;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "mote", version, about = "Mote: an embedded ONNX inference runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// ONNX node-test contract: read input_<i>.pb, write output_<i>.pb (exit 2: model
    /// rejected, 3: run failed).
    ConformanceRun {
        /// The model.
        model: PathBuf,
        /// Folder with input_<i>.pb.
        inputs_dir: PathBuf,
        /// Folder to write output_<i>.pb into.
        outputs_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ConformanceRun { model, inputs_dir, outputs_dir } => {
            conformance::run(&model, &inputs_dir, &outputs_dir)
        }
    }
}
