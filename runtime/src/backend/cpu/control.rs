//! If, Loop and Scan: run body graphs (unplanned: bodies allocate per value).

use super::exec::run_unplanned;
use crate::ir::ops::ControlOp;
use crate::ir::Graph;
use crate::tensor::{numel, TensorView};
use crate::{Error, Result, Tensor};

/// Runs a control-flow op; `views` are the node's inputs (formal ones, then captures).
pub(super) fn run(
    op: &ControlOp,
    views: &[Option<TensorView<'_>>],
    n_outputs: usize,
    threads: usize,
) -> Result<Vec<Option<Tensor>>> {
    let outs = match op {
        ControlOp::If {
            then_branch,
            else_branch,
        } => {
            let cond = views
                .first()
                .copied()
                .flatten()
                .ok_or_else(|| Error::argument("If needs a condition"))?;
            let captures = present(&views[1..])?;
            let branch = if cond.scalar_i64()? != 0 {
                then_branch
            } else {
                else_branch
            };
            run_unplanned(branch, &[], &captures, threads)?
        }
        ControlOp::Loop {
            body,
            formal_inputs,
        } => run_loop(
            body,
            &views[..*formal_inputs],
            &present(&views[*formal_inputs..])?,
            threads,
        )?,
        ControlOp::Scan {
            body,
            formal_inputs,
            ..
        } => run_scan(
            op,
            body,
            &present(&views[..*formal_inputs])?,
            &present(&views[*formal_inputs..])?,
            threads,
        )?,
    };
    if outs.len() != n_outputs {
        return Err(Error::invalid_model(format!(
            "{} body returned {} values for {n_outputs} outputs",
            op.name(),
            outs.len()
        )));
    }
    Ok(outs.into_iter().map(Some).collect())
}

fn present<'a>(views: &[Option<TensorView<'a>>]) -> Result<Vec<TensorView<'a>>> {
    views
        .iter()
        .map(|v| v.ok_or_else(|| Error::argument("a required control-flow input is missing")))
        .collect()
}

fn run_loop(
    body: &Graph,
    formal: &[Option<TensorView<'_>>],
    captures: &[TensorView<'_>],
    threads: usize,
) -> Result<Vec<Tensor>> {
    let max_trips = formal
        .first()
        .copied()
        .flatten()
        .map(|m| m.scalar_i64())
        .transpose()?;
    let mut cond = formal
        .get(1)
        .copied()
        .flatten()
        .map(|c| c.scalar_i64().map(|v| v != 0))
        .transpose()?
        .unwrap_or(true);
    let mut carried: Vec<Tensor> = formal
        .iter()
        .skip(2)
        .map(|v| {
            v.map(|v| v.to_tensor())
                .ok_or_else(|| Error::argument("Loop carried value missing"))
        })
        .collect::<Result<_>>()?;
    let n_carried = carried.len();
    let mut scans: Vec<Vec<Tensor>> = Vec::new();
    let mut trip = 0i64;
    while cond && max_trips.is_none_or(|m| trip < m) {
        let iter_num = Tensor::scalar(trip);
        let cond_in = Tensor::from_bools(&[], &[cond])?;
        let mut inputs = vec![iter_num.view(), cond_in.view()];
        inputs.extend(carried.iter().map(|t| t.view()));
        let mut outs = run_unplanned(body, &inputs, captures, threads)?.into_iter();
        cond = outs
            .next()
            .ok_or_else(|| Error::invalid_model("Loop body returns no condition"))?
            .view()
            .scalar_i64()?
            != 0;
        carried = outs.by_ref().take(n_carried).collect();
        let scan_outs: Vec<Tensor> = outs.collect();
        if scans.is_empty() {
            scans = vec![Vec::new(); scan_outs.len()];
        }
        for (acc, t) in scans.iter_mut().zip(scan_outs) {
            acc.push(t);
        }
        trip += 1;
    }
    let mut result = carried;
    let n_scan = body.outputs.len().saturating_sub(1 + n_carried);
    for k in 0..n_scan {
        let parts = scans.get(k).map(|v| v.as_slice()).unwrap_or(&[]);
        if parts.is_empty() {
            // No iteration ran: an empty stack of the body output's declared type.
            let info = body.value(body.outputs[1 + n_carried + k]);
            let dtype = info.dtype.ok_or_else(|| {
                Error::unsupported("Loop", "zero-trip loop with an untyped scan output")
            })?;
            let mut shape = vec![0];
            shape.extend(info.concrete_shape().unwrap_or_default());
            result.push(Tensor::zeros(dtype, &shape)?);
        } else {
            result.push(stack(parts, 0, false)?);
        }
    }
    Ok(result)
}

fn run_scan(
    op: &ControlOp,
    body: &Graph,
    formal: &[TensorView<'_>],
    captures: &[TensorView<'_>],
    threads: usize,
) -> Result<Vec<Tensor>> {
    let ControlOp::Scan {
        num_scan_inputs,
        scan_input_axes,
        scan_input_directions,
        scan_output_axes,
        scan_output_directions,
        ..
    } = op
    else {
        return Err(Error::internal("run_scan on a non-Scan op"));
    };
    let n_states = formal
        .len()
        .checked_sub(*num_scan_inputs)
        .ok_or_else(|| Error::invalid_model("Scan has fewer inputs than num_scan_inputs"))?;
    let mut states: Vec<Tensor> = formal[..n_states].iter().map(|v| v.to_tensor()).collect();
    let scan_inputs = &formal[n_states..];
    let axis_of = |axes: &[i64], k: usize, rank: usize| -> Result<usize> {
        crate::ir::ops::infer_util::axis(axes.get(k).copied().unwrap_or(0), rank)
    };
    let mut in_axes = Vec::new();
    let mut trips = None;
    for (k, v) in scan_inputs.iter().enumerate() {
        let axis = axis_of(scan_input_axes, k, v.rank())?;
        let len = v.shape[axis];
        if trips.is_some_and(|t| t != len) {
            return Err(Error::shape("Scan inputs disagree on the sequence length"));
        }
        trips = Some(len);
        in_axes.push(axis);
    }
    let trips = trips.unwrap_or(0);
    let mut scans: Vec<Vec<Tensor>> = Vec::new();
    for t in 0..trips {
        let slices: Vec<Tensor> = scan_inputs
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let reverse = scan_input_directions.get(k).copied().unwrap_or(0) == 1;
                slice_axis(v, in_axes[k], if reverse { trips - 1 - t } else { t })
            })
            .collect::<Result<_>>()?;
        let mut inputs: Vec<TensorView<'_>> = states.iter().map(|s| s.view()).collect();
        inputs.extend(slices.iter().map(|s| s.view()));
        let mut outs = run_unplanned(body, &inputs, captures, threads)?.into_iter();
        states = outs.by_ref().take(n_states).collect();
        let rest: Vec<Tensor> = outs.collect();
        if scans.is_empty() {
            scans = vec![Vec::new(); rest.len()];
        }
        for (acc, t) in scans.iter_mut().zip(rest) {
            acc.push(t);
        }
    }
    let mut result = states;
    for (k, parts) in scans.iter().enumerate() {
        let rank = parts.first().map(|p| p.shape().len() + 1).unwrap_or(1);
        let axis = axis_of(scan_output_axes, k, rank)?;
        let reverse = scan_output_directions.get(k).copied().unwrap_or(0) == 1;
        result.push(stack(parts, axis, reverse)?);
    }
    Ok(result)
}

/// The slice `index` along `axis`, with that axis removed.
pub(super) fn slice_axis(v: &TensorView<'_>, axis: usize, index: usize) -> Result<Tensor> {
    let outer: usize = v.shape[..axis].iter().product();
    let inner = numel(&v.shape[axis + 1..]) * v.dtype.size();
    let len = v.shape[axis];
    let mut bytes = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        let start = (o * len + index) * inner;
        bytes.extend_from_slice(&v.bytes[start..start + inner]);
    }
    let mut shape = v.shape.to_vec();
    shape.remove(axis);
    Tensor::from_bytes(v.dtype, &shape, &bytes)
}

/// Stacks equal-shaped tensors along a new `axis` (in reverse order when `reverse`).
pub(super) fn stack(parts: &[Tensor], axis: usize, reverse: bool) -> Result<Tensor> {
    let first = parts
        .first()
        .ok_or_else(|| Error::internal("stack of nothing"))?;
    if parts
        .iter()
        .any(|p| p.shape() != first.shape() || p.dtype() != first.dtype())
    {
        return Err(Error::shape("body outputs change shape across iterations"));
    }
    let shape = first.shape();
    if axis > shape.len() {
        return Err(Error::shape(format!(
            "scan output axis {axis} out of range"
        )));
    }
    let outer: usize = shape[..axis].iter().product();
    let inner = numel(&shape[axis..]) * first.dtype().size();
    let mut bytes = Vec::with_capacity(outer * inner * parts.len());
    for o in 0..outer {
        for k in 0..parts.len() {
            let p = if reverse {
                &parts[parts.len() - 1 - k]
            } else {
                &parts[k]
            };
            bytes.extend_from_slice(&p.bytes()[o * inner..(o + 1) * inner]);
        }
    }
    let mut out_shape = shape.to_vec();
    out_shape.insert(axis, parts.len());
    Tensor::from_bytes(first.dtype(), &out_shape, &bytes)
}
