//! `mote`: the command-line front end of the Mote runtime.
//!
//! Each subcommand lives in its own module; this file only parses arguments (clap stays out
//! of the `mote` library) and maps errors to exit codes.

mod bench;
mod conformance;
mod convert;
mod demo;
mod inputs;
mod inspect;
mod run;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mote",
    version,
    about = "Mote: an embedded ONNX inference runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model on .npy inputs and print (and optionally save) its outputs.
    Run {
        /// The model (.onnx or .mote).
        model: PathBuf,
        /// An input as NAME=FILE.npy (repeat for each input).
        #[arg(long = "input", value_name = "NAME=FILE")]
        inputs: Vec<String>,
        /// Folder to write each output to, as <output name>.npy.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// Backend (only `cpu` today).
        #[arg(long, default_value = "cpu")]
        backend: String,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Show a model's inputs, outputs, ops, parameters, and what Mote cannot run.
    Inspect {
        /// The model (.onnx or .mote).
        model: PathBuf,
        /// Per op, the precision it will run in; every QuantizeLinear/DequantizeLinear left
        /// unfused and every float op between quantized values, with the reason.
        #[arg(long)]
        quant: bool,
    },
    /// Measure load time and latency (median, p90) and the planned arena size.
    Bench {
        /// The model (.onnx or .mote).
        model: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Timed runs (after warm-up).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Backend (only `cpu` today).
        #[arg(long, default_value = "cpu")]
        backend: String,
        /// Print one JSON object on the last line.
        #[arg(long)]
        json: bool,
        /// An input as NAME=FILE.npy; inputs not given are generated.
        #[arg(long = "input", value_name = "NAME=FILE")]
        inputs: Vec<String>,
        /// The shape of a generated input, as NAME=1x3x224x224.
        #[arg(long = "shape", value_name = "NAME=DIMS")]
        shapes: Vec<String>,
        /// After timing, profile one run: print a per-op table (op, node, shape, ms, %,
        /// GFLOP/s) and write a Chrome trace (Perfetto) of it to TRACE.
        #[arg(long, value_name = "TRACE", num_args = 0..=1, default_missing_value = "mote-trace.json")]
        profile: Option<PathBuf>,
    },
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
    /// Convert a model to `.mote`: the graph after the load-time passes and its weights in
    /// 64-byte-aligned blobs, which every command (and `Model::load`) reads in place.
    Convert {
        /// The model (.onnx).
        model: PathBuf,
        /// The `.mote` file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Classify the digits test split with the model the repo ships; print accuracy and latency.
    Demo,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            model,
            inputs,
            output_dir,
            backend,
            threads,
        } => run::run(&model, &inputs, output_dir.as_deref(), &backend, threads),
        Command::Inspect { model, quant } => inspect::run(&model, quant),
        Command::Bench {
            model,
            threads,
            runs,
            backend,
            json,
            inputs,
            shapes,
            profile,
        } => bench::run(&bench::Options {
            model,
            threads,
            runs,
            backend,
            json,
            inputs,
            shapes,
            profile,
        }),
        Command::ConformanceRun {
            model,
            inputs_dir,
            outputs_dir,
        } => return conformance::run(&model, &inputs_dir, &outputs_dir),
        Command::Convert { model, output } => convert::run(&model, &output),
        Command::Demo => demo::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
