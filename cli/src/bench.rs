//! `mote bench`: load time, warm-up, then median/p90 latency and the planned arena size.

use crate::inputs::{complete_inputs, parse_shapes, read_npy_inputs};
use mote::{BackendKind, Error, Model, Result, SessionOptions};
use std::path::PathBuf;
use std::time::Instant;

pub(crate) struct Options {
    pub(crate) model: PathBuf,
    pub(crate) threads: usize,
    pub(crate) runs: usize,
    pub(crate) backend: String,
    pub(crate) json: bool,
    pub(crate) inputs: Vec<String>,
    pub(crate) shapes: Vec<String>,
    /// Print a per-op table of one more run and write its Chrome trace here.
    pub(crate) profile: Option<PathBuf>,
}

/// Warm-up runs before timing: caches, page faults and the plan's first use.
const WARMUP_RUNS: usize = 3;

pub(crate) fn run(o: &Options) -> Result<()> {
    if o.runs == 0 {
        return Err(Error::argument("--runs must be at least 1"));
    }
    let backend: BackendKind = o.backend.parse()?;
    let rss_before = resident_kib();
    let start = Instant::now();
    let model = Model::load(&o.model)?;
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let rss_after = resident_kib();
    let inputs = complete_inputs(
        &model,
        read_npy_inputs(&o.inputs)?,
        &parse_shapes(&o.shapes)?,
    )?;
    let start = Instant::now();
    let mut session = model.session(SessionOptions {
        backend,
        threads: o.threads,
        ..SessionOptions::default()
    })?;
    // Session creation prepares every node once (weights packed for the kernels): with the
    // load, the time before a first run can start.
    let session_ms = start.elapsed().as_secs_f64() * 1e3;
    let signature: Vec<_> = inputs
        .iter()
        .map(|(_, t)| (t.dtype(), t.shape().to_vec()))
        .collect();
    let arena_bytes = session.plan_for(&signature)?.arena_bytes();
    let refs: Vec<&mote::Tensor> = inputs.iter().map(|(_, t)| t).collect();
    for _ in 0..WARMUP_RUNS {
        session.run_ordered(&refs)?;
    }
    let mut times = Vec::with_capacity(o.runs);
    for _ in 0..o.runs {
        let t = Instant::now();
        session.run_ordered(&refs)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = percentile(&times, 0.5);
    let p90 = percentile(&times, 0.9);
    println!("model      {}", o.model.display());
    for (name, t) in &inputs {
        println!("input      {name}: {} {:?}", t.dtype(), t.shape());
    }
    println!("threads    {}", o.threads);
    println!("load       {load_ms:.2} ms (+ {session_ms:.2} ms session creation)");
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        // A mapped `.mote` file's weights show up as file-backed pages (the page cache's own,
        // shared), not as an anonymous copy.
        println!(
            "memory     load added {} KiB anonymous, {} KiB file-backed resident",
            after.0 as i64 - before.0 as i64,
            after.1 as i64 - before.1 as i64
        );
    }
    println!(
        "arena      {arena_bytes} bytes ({:.2} MiB)",
        arena_bytes as f64 / (1 << 20) as f64
    );
    println!(
        "latency    median {median:.3} ms, p90 {p90:.3} ms, min {:.3} ms over {} runs",
        times[0], o.runs
    );
    if let Some(trace) = &o.profile {
        let (_, profile) = session.run_profiled(&refs)?;
        print!("\n{}", profile.table());
        std::fs::write(trace, profile.chrome_trace())
            .map_err(|e| Error::argument(format!("cannot write {}: {e}", trace.display())))?;
        println!(
            "trace      {} (open in https://ui.perfetto.dev)",
            trace.display()
        );
    }
    if o.json {
        let json = serde_json::json!({
            "model": o.model.display().to_string(),
            "backend": o.backend,
            "threads": o.threads,
            "runs": o.runs,
            "median_ms": median,
            "p90_ms": p90,
            "min_ms": times[0],
            "load_ms": load_ms,
            "session_ms": session_ms,
            "arena_bytes": arena_bytes,
        });
        println!("{json}");
    }
    Ok(())
}

/// (anonymous, file-backed) resident memory of this process in KiB, where the OS reports it
/// (Linux `/proc/self/status`).
fn resident_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    };
    Some((field("RssAnon:")?, field("RssFile:")?))
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
