//! `calibrate table`: run the model on calibration data and write the editable range table.

use super::{DataArgs, MethodArgs};
use calibrate::{collect_table, Result};
use clap::Args;
use std::path::PathBuf;

/// Computes each activation's range on calibration data and writes the table.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  calibrate table model.onnx --data samples/ -o model.table
  calibrate table model.onnx --data images/ --preprocess 'resize=224x224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225' --method entropy -o model.table
  calibrate table model.onnx --data samples/ --method percentile --percentile 99.99

The table has one line per tensor (name, min, max, method); edit a line, set its method to
'manual', and give it to `calibrate quantize --table`.")]
pub(crate) struct TableArgs {
    /// The original ONNX model.
    pub(crate) model: PathBuf,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    #[command(flatten)]
    pub(crate) method: MethodArgs,
    /// Where to write the table (standard output when absent).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Worker threads of the session running the model.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
}

pub(crate) fn run(args: &TableArgs) -> Result<()> {
    let data = args.data.open(&args.model)?;
    let opts = args.method.stats_options(args.threads, true);
    let calibration = collect_table(&args.model, &data, &opts)?;
    match &args.output {
        Some(path) => {
            calibration.table.write(path)?;
            eprintln!(
                "{} tensors calibrated on {} samples -> {}",
                calibration.table.ranges.len(),
                data.len(),
                path.display()
            );
        }
        None => print!("{}", calibration.table.to_text()),
    }
    Ok(())
}
