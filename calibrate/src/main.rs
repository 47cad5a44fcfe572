//! `calibrate`: Mote's offline model tool (post-training quantization with calibration data,
//! FP16 conversion, pruning, and one accuracy/size/latency/memory report).
//!
//! Not implemented yet: every invocation says so clearly and exits with status 2, so scripts
//! cannot mistake it for a tool that did something.

use std::process::ExitCode;

/// Exit status for "this feature is not implemented yet".
const NOT_YET: u8 = 2;

fn main() -> ExitCode {
    eprintln!(
        "calibrate: not yet implemented. Post-training quantization, FP16 conversion, pruning and \
         the calibration report are planned (see README, \"What does not work yet\"). Nothing was done."
    );
    ExitCode::from(NOT_YET)
}
