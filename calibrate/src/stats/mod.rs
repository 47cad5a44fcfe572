//! From observed activations to a [`CalibrationTable`]: one streaming [`Histogram`] per
//! tensor, then a range per tensor by the chosen [`Method`].

mod histogram;
mod methods;

pub use histogram::{Histogram, BINS};
pub use methods::Grid;

use crate::collect::ObservedModel;
use crate::data::CalibrationData;
use crate::table::{CalibrationTable, Method, TensorRange};
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The integer type activations will be quantized to (informational: asymmetric u8 and s8
/// grids both have 256 steps, which the entropy and MSE searches assume).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationType {
    U8,
    S8,
}

/// How ranges are chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsOptions {
    /// MinMax, Percentile(p), Entropy or Mse (Manual is refused).
    pub method: Method,
    pub activations: ActivationType,
    /// Symmetric ranges (`[-t, t]` onto `[-127, 127]`) rather than asymmetric with a zero point.
    pub symmetric: bool,
    /// Worker threads of the session that runs the model.
    pub threads: usize,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for StatsOptions {
    /// MinMax, u8 asymmetric activations, one thread, a progress bar.
    fn default() -> Self {
        StatsOptions {
            method: Method::MinMax,
            activations: ActivationType::U8,
            symmetric: false,
            threads: 1,
            progress: true,
        }
    }
}

/// What calibration produced: the table, and each tensor's histogram (for plots).
#[derive(Clone, Debug, Default)]
pub struct Calibration {
    pub table: CalibrationTable,
    pub histograms: BTreeMap<String, Histogram>,
}

/// Checks that `method` is one calibration can compute.
pub fn check_method(method: &Method) -> Result<()> {
    match method {
        Method::Percentile(p) if !(*p > 0.0 && *p <= 100.0) => Err(Error::Usage(format!(
            "percentile must be in (0, 100], got {p}"
        ))),
        Method::Manual => Err(Error::Usage(
            "'manual' ranges come from a table file, not from calibration".into(),
        )),
        _ => Ok(()),
    }
}

/// The range `method` picks from `h`. Ranges always include 0; a tensor that held no finite
/// value gets `[0, 0]`.
pub fn range_of(h: &Histogram, opts: &StatsOptions) -> TensorRange {
    let method = opts.method.clone();
    if h.total() == 0 {
        return TensorRange {
            min: 0.0,
            max: 0.0,
            method,
        };
    }
    let (min, max) = (h.min(), h.max());
    let grid = if opts.symmetric {
        Grid::Symmetric
    } else {
        Grid::Asymmetric
    };
    // Entropy on an asymmetric grid searches each side on its own with the steps that
    // side gets (see `methods::entropy_asymmetric`); on a symmetric grid, TensorRT's |x|
    // search with the 128 levels of each side.
    let threshold = match &opts.method {
        Method::MinMax | Method::Manual => None,
        Method::Percentile(p) => Some(methods::percentile(h, *p)),
        Method::Entropy if !opts.symmetric => {
            let (lo, hi) = methods::entropy_asymmetric(h);
            return TensorRange {
                min: lo.max(min).min(0.0),
                max: hi.min(max).max(0.0),
                method,
            };
        }
        Method::Entropy => Some(methods::entropy(h, 128)),
        Method::Mse => Some(methods::mse(h, grid)),
    };
    let (lo, hi) = match threshold {
        None => (min, max),
        Some(t) => (min.max(-t), max.min(t)),
    };
    TensorRange {
        min: lo.min(0.0),
        max: hi.max(0.0),
        method,
    }
}

/// Runs `model` (ONNX) on every sample of `data` and returns the table and histograms.
/// Memory is one histogram per activation plus one sample's activations, whatever the number
/// of samples; the result depends only on the model, the data and the options.
pub fn collect_table(
    model: &Path,
    data: &CalibrationData,
    opts: &StatsOptions,
) -> Result<Calibration> {
    let observed = ObservedModel::load(model)?;
    collect_table_observing(&observed, data, opts, |_, _| Ok(()))
}

/// [`collect_table`] on an already loaded model, also handing every activation to `extra`
/// (e.g. bias correction's statistics) in the same single pass over the data.
pub fn collect_table_observing(
    observed: &ObservedModel,
    data: &CalibrationData,
    opts: &StatsOptions,
    mut extra: impl FnMut(&str, &mote::Tensor) -> Result<()>,
) -> Result<Calibration> {
    check_method(&opts.method)?;
    let mut runner = observed.runner(opts.threads)?;
    let mut histograms: BTreeMap<String, Histogram> = BTreeMap::new();
    let bar = crate::progress::bar(data.len() as u64, "calibrating", opts.progress);
    for (i, sample) in data.samples().enumerate() {
        let sample = sample?;
        let mut failed = None;
        runner
            .run_tensors(&sample, |name, t| {
                let Ok(values) = t.as_slice::<f32>() else {
                    return;
                };
                if failed.is_none() {
                    failed = extra(name, t).err();
                }
                if let Some(h) = histograms.get_mut(name) {
                    h.add(values);
                } else {
                    let mut h = Histogram::default();
                    h.add(values);
                    histograms.insert(name.to_string(), h);
                }
            })
            .map_err(|e| match e {
                Error::Runtime(e) => Error::Data(format!(
                    "{}: the model refused this sample: {e}",
                    data.files()[i].display()
                )),
                e => e,
            })?;
        if let Some(e) = failed {
            return Err(e);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let ranges = histograms
        .iter()
        .map(|(name, h)| (name.clone(), range_of(h, opts)))
        .collect();
    Ok(Calibration {
        table: CalibrationTable { ranges },
        histograms,
    })
}

#[cfg(test)]
mod tests;
