//! `mote demo`: the model the repo ships (an MLP trained on scikit-learn's digits by
//! `scripts/train_demo.py`) classifies the held-out test split; prints accuracy and latency.

use mote::{Error, Model, Result, SessionOptions, Tensor};
use std::path::PathBuf;
use std::time::Instant;

const MODEL: &str = "digits_mlp.onnx";
const TEST_X: &str = "digits_test_x.npy";
const TEST_Y: &str = "digits_test_y.npy";
const TIMED_RUNS: usize = 200;

/// `assets/models` of the repo: next to the working directory when run from the repo root,
/// else where this binary was built from.
fn assets_dir() -> Result<PathBuf> {
    let candidates = [
        PathBuf::from("assets/models"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/models"),
    ];
    candidates
        .into_iter()
        .find(|d| d.join(MODEL).is_file())
        .ok_or_else(|| Error::argument("cannot find assets/models/digits_mlp.onnx: run `mote demo` from the repository root"))
}

pub(crate) fn run() -> Result<()> {
    let dir = assets_dir()?;
    let model = Model::load(dir.join(MODEL))?;
    let x = mote::npy::read(dir.join(TEST_X))?;
    let labels = mote::npy::read(dir.join(TEST_Y))?.view().to_i64_vec()?;
    let (n, features) = match x.shape() {
        [n, f] => (*n, *f),
        s => {
            return Err(Error::shape(format!(
                "{TEST_X} has shape {s:?}, expected [N, 64]"
            )))
        }
    };
    let input = model
        .inputs()
        .first()
        .map(|i| i.name.clone())
        .ok_or_else(|| Error::invalid_model("demo model has no input"))?;
    let mut session = model.session(SessionOptions::default())?;

    // Accuracy over the whole test split in one batch.
    let probabilities = session.run(&[(&input, &x)])?.remove(0).1;
    let p = probabilities.as_slice::<f32>()?;
    let classes = p.len() / n.max(1);
    let correct = (0..n)
        .filter(|&i| {
            let row = &p[i * classes..(i + 1) * classes];
            let best = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            best as i64 == labels[i]
        })
        .count();

    // Latency of one image at a time, the way an embedded caller would use it.
    let xs = x.as_slice::<f32>()?;
    let mut times = Vec::with_capacity(TIMED_RUNS);
    for k in 0..TIMED_RUNS {
        let i = k % n;
        let one = Tensor::from_slice(&[1, features], &xs[i * features..(i + 1) * features])?;
        let t = Instant::now();
        session.run(&[(&input, &one)])?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    let median_us = times[times.len() / 2];
    println!("Mote demo: {MODEL} (MLP 64-64-10 trained on scikit-learn digits), {n} held-out test images");
    println!(
        "accuracy {:.2}% ({correct}/{n})",
        100.0 * correct as f64 / n as f64
    );
    println!("median latency {median_us:.1} us per image (batch 1, {TIMED_RUNS} runs, 1 thread)");
    Ok(())
}
