//! If, Loop and Scan: run body graphs (unplanned: bodies allocate per value).

use super::exec::run_unplanned;
use crate::ir::ops::infer_util::axis;
use crate::ir::ops::ControlOp;
use crate::ir::{Dim, Graph};
use crate::tensor::{numel, TensorView};
use crate::{DType, Error, Result, Tensor};

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
            formal_inputs,
            batched,
            ..
        } => {
            let scan = Scan::of(op)?;
            let (formal, captures) = views.split_at(*formal_inputs);
            let captures = present(captures)?;
            if *batched {
                run_batched_scan(&scan, formal, &captures, threads)?
            } else {
                run_scan(&scan, &present(formal)?, &captures, threads)?
            }
        }
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
            result.push(empty_stack(body, 1 + n_carried + k, 0)?);
        } else {
            result.push(stack(parts, 0, false)?);
        }
    }
    Ok(result)
}

/// The attributes of a `Scan`, borrowed from its op.
struct Scan<'a> {
    body: &'a Graph,
    num_scan_inputs: usize,
    input_axes: &'a [i64],
    input_directions: &'a [i64],
    output_axes: &'a [i64],
    output_directions: &'a [i64],
}

impl<'a> Scan<'a> {
    fn of(op: &'a ControlOp) -> Result<Scan<'a>> {
        let ControlOp::Scan {
            body,
            num_scan_inputs,
            scan_input_axes,
            scan_input_directions,
            scan_output_axes,
            scan_output_directions,
            ..
        } = op
        else {
            return Err(Error::internal("Scan::of on a non-Scan op"));
        };
        Ok(Scan {
            body,
            num_scan_inputs: *num_scan_inputs,
            input_axes: scan_input_axes,
            input_directions: scan_input_directions,
            output_axes: scan_output_axes,
            output_directions: scan_output_directions,
        })
    }

    /// How many of `n_inputs` formal inputs (sequence_lens excluded) are states.
    fn state_count(&self, n_inputs: usize) -> Result<usize> {
        n_inputs
            .checked_sub(self.num_scan_inputs)
            .ok_or_else(|| Error::invalid_model("Scan has fewer inputs than num_scan_inputs"))
    }

    /// Whether scan input `k` is read from its end.
    fn input_reversed(&self, k: usize) -> bool {
        self.input_directions.get(k).copied().unwrap_or(0) == 1
    }

    /// Runs the body `trips` times on slices of `scan_inputs` along `axes` (the first `trips`
    /// ones, in each input's direction). Returns the final states and, per scan output, the
    /// element each iteration produced.
    fn iterate(
        &self,
        mut states: Vec<Tensor>,
        scan_inputs: &[TensorView<'_>],
        axes: &[usize],
        trips: usize,
        captures: &[TensorView<'_>],
        threads: usize,
    ) -> Result<(Vec<Tensor>, Vec<Vec<Tensor>>)> {
        let n_states = states.len();
        let n_scan_outputs = self
            .body
            .outputs
            .len()
            .checked_sub(n_states)
            .ok_or_else(|| Error::invalid_model("Scan body returns fewer values than states"))?;
        let mut scans: Vec<Vec<Tensor>> = vec![Vec::with_capacity(trips); n_scan_outputs];
        for t in 0..trips {
            let slices: Vec<Tensor> = scan_inputs
                .iter()
                .zip(axes)
                .enumerate()
                .map(|(k, (v, &axis))| {
                    let index = if self.input_reversed(k) {
                        trips - 1 - t
                    } else {
                        t
                    };
                    slice_axis(v, axis, index)
                })
                .collect::<Result<_>>()?;
            let mut inputs: Vec<TensorView<'_>> = states.iter().map(Tensor::view).collect();
            inputs.extend(slices.iter().map(Tensor::view));
            let mut outs = run_unplanned(self.body, &inputs, captures, threads)?.into_iter();
            states = outs.by_ref().take(n_states).collect();
            for (acc, element) in scans.iter_mut().zip(outs) {
                acc.push(element);
            }
        }
        Ok((states, scans))
    }
}

/// Scan (opset 9+): states, then scan inputs each sliced along its own axis.
fn run_scan(
    scan: &Scan<'_>,
    formal: &[TensorView<'_>],
    captures: &[TensorView<'_>],
    threads: usize,
) -> Result<Vec<Tensor>> {
    let n_states = scan.state_count(formal.len())?;
    let (initial, scan_inputs) = formal.split_at(n_states);
    let mut axes = Vec::with_capacity(scan_inputs.len());
    let mut trips = None;
    for (k, v) in scan_inputs.iter().enumerate() {
        let axis = axis(scan.input_axes.get(k).copied().unwrap_or(0), v.rank())?;
        let len = v.shape.get(axis).copied().unwrap_or(0);
        if trips.is_some_and(|t| t != len) {
            return Err(Error::shape("Scan inputs disagree on the sequence length"));
        }
        trips = Some(len);
        axes.push(axis);
    }
    let states = initial.iter().map(TensorView::to_tensor).collect();
    let (mut result, scans) = scan.iterate(
        states,
        scan_inputs,
        &axes,
        trips.unwrap_or(0),
        captures,
        threads,
    )?;
    for (k, parts) in scans.iter().enumerate() {
        let element_rank = match parts.first() {
            Some(p) => p.shape().len(),
            None => declared(scan.body, n_states + k)?.1.len(),
        };
        let axis = axis(
            scan.output_axes.get(k).copied().unwrap_or(0),
            element_rank + 1,
        )?;
        result.push(if parts.is_empty() {
            empty_stack(scan.body, n_states + k, axis)?
        } else {
            let reverse = scan.output_directions.get(k).copied().unwrap_or(0) == 1;
            stack(parts, axis, reverse)?
        });
    }
    Ok(result)
}

/// Scan (opset 8): `sequence_lens` (optional), states and scan inputs, all with a leading
/// batch axis. Each batch entry is scanned on its own along axis 1, for its sequence length;
/// scan outputs are zero-padded to the longest length.
fn run_batched_scan(
    scan: &Scan<'_>,
    formal: &[Option<TensorView<'_>>],
    captures: &[TensorView<'_>],
    threads: usize,
) -> Result<Vec<Tensor>> {
    let (sequence_lens, rest) = formal
        .split_first()
        .ok_or_else(|| Error::invalid_model("Scan-8 has no sequence_lens slot"))?;
    let rest = present(rest)?;
    let n_states = scan.state_count(rest.len())?;
    let (initial, scan_inputs) = rest.split_at(n_states);
    let first = scan_inputs
        .first()
        .ok_or_else(|| Error::invalid_model("Scan-8 needs at least one scan input"))?;
    let (batch, max_len) = match first.shape {
        [batch, len, ..] => (*batch, *len),
        _ => {
            return Err(Error::shape(
                "Scan-8 scan inputs need [batch, sequence, ...]",
            ))
        }
    };
    if scan_inputs
        .iter()
        .any(|v| v.shape.len() < 2 || v.shape[..2] != [batch, max_len])
    {
        return Err(Error::shape(
            "Scan-8 scan inputs disagree on batch size or sequence length",
        ));
    }
    if initial.iter().any(|v| v.shape.first() != Some(&batch)) {
        return Err(Error::shape("Scan-8 states need a leading batch axis"));
    }
    let lens = sequence_lengths(*sequence_lens, batch, max_len)?;
    let axes = vec![0; scan_inputs.len()];
    let n_scan_outputs = scan
        .body
        .outputs
        .len()
        .checked_sub(n_states)
        .ok_or_else(|| Error::invalid_model("Scan body returns fewer values than states"))?;
    let mut states_per_batch: Vec<Vec<Tensor>> = vec![Vec::with_capacity(batch); n_states];
    let mut scans_per_batch: Vec<Vec<Vec<Tensor>>> =
        vec![Vec::with_capacity(batch); n_scan_outputs];
    for (b, &len) in lens.iter().enumerate() {
        let states = initial
            .iter()
            .map(|v| slice_axis(v, 0, b))
            .collect::<Result<_>>()?;
        let slices: Vec<Tensor> = scan_inputs
            .iter()
            .map(|v| slice_axis(v, 0, b))
            .collect::<Result<_>>()?;
        let views: Vec<TensorView<'_>> = slices.iter().map(Tensor::view).collect();
        let (states, scans) = scan.iterate(states, &views, &axes, len, captures, threads)?;
        for (acc, s) in states_per_batch.iter_mut().zip(states) {
            acc.push(s);
        }
        for (acc, s) in scans_per_batch.iter_mut().zip(scans) {
            acc.push(s);
        }
    }
    let mut result = Vec::with_capacity(n_states + n_scan_outputs);
    for (k, per_batch) in states_per_batch.iter().enumerate() {
        result.push(if batch == 0 {
            initial[k].to_tensor()
        } else {
            stack(per_batch, 0, false)?
        });
    }
    for (k, per_batch) in scans_per_batch.iter().enumerate() {
        // The element type and shape: from any iteration that ran, else as declared.
        let (dtype, element) = match per_batch.iter().flatten().next() {
            Some(t) => (t.dtype(), t.shape().to_vec()),
            None => declared(scan.body, n_states + k)?,
        };
        let padded = per_batch
            .iter()
            .map(|parts| stack_padded(parts, dtype, &element, max_len))
            .collect::<Result<Vec<_>>>()?;
        result.push(if batch == 0 {
            let mut shape = vec![0, max_len];
            shape.extend(&element);
            Tensor::zeros(dtype, &shape)?
        } else {
            stack(&padded, 0, false)?
        });
    }
    Ok(result)
}

/// The sequence length of each batch entry: `max_len` when `sequence_lens` is omitted.
fn sequence_lengths(
    sequence_lens: Option<TensorView<'_>>,
    batch: usize,
    max_len: usize,
) -> Result<Vec<usize>> {
    let Some(lens) = sequence_lens else {
        return Ok(vec![max_len; batch]);
    };
    let lens = lens.to_i64_vec()?;
    if lens.len() != batch {
        return Err(Error::shape(format!(
            "Scan sequence_lens has {} entries for a batch of {batch}",
            lens.len()
        )));
    }
    lens.into_iter()
        .map(|l| {
            usize::try_from(l)
                .ok()
                .filter(|&l| l <= max_len)
                .ok_or_else(|| {
                    Error::argument(format!("Scan sequence length {l} is outside 0..={max_len}"))
                })
        })
        .collect()
}

/// The declared dtype and shape of body output `index`, for outputs no iteration produced:
/// symbolic dims read as 0 (the stack is empty anyway), an undeclared shape as a scalar.
fn declared(body: &Graph, index: usize) -> Result<(DType, Vec<usize>)> {
    let id = *body
        .outputs
        .get(index)
        .ok_or_else(|| Error::internal("body output index out of range"))?;
    let info = body.value(id);
    let dtype = info.dtype.ok_or_else(|| {
        Error::unsupported(
            "Loop/Scan",
            format!(
                "zero iterations, and body output '{}' has no declared type",
                info.name
            ),
        )
    })?;
    let shape = info
        .shape
        .iter()
        .flatten()
        .map(|d| match d {
            Dim::Known(n) => *n,
            Dim::Symbol(_) => 0,
        })
        .collect();
    Ok((dtype, shape))
}

/// A zero-length stack (along `axis`) of body output `index`, from its declaration.
fn empty_stack(body: &Graph, index: usize, axis: usize) -> Result<Tensor> {
    let (dtype, mut shape) = declared(body, index)?;
    if axis > shape.len() {
        return Err(Error::shape(format!(
            "scan output axis {axis} out of range"
        )));
    }
    shape.insert(axis, 0);
    Tensor::zeros(dtype, &shape)
}

/// `parts` stacked along a new axis 0 and zero-padded to `len` entries of `element` shape.
fn stack_padded(parts: &[Tensor], dtype: DType, element: &[usize], len: usize) -> Result<Tensor> {
    let mut shape = vec![len];
    shape.extend(element);
    if parts.is_empty() {
        return Tensor::zeros(dtype, &shape);
    }
    let stacked = stack(parts, 0, false)?;
    if stacked.dtype() != dtype || stacked.shape()[1..] != *element {
        return Err(Error::shape(
            "body outputs change shape across batch entries",
        ));
    }
    let mut bytes = stacked.bytes().to_vec();
    bytes.resize(numel(&shape) * dtype.size(), 0);
    Tensor::from_bytes(dtype, &shape, &bytes)
}

/// The slice `index` along `axis`, with that axis removed.
pub(super) fn slice_axis(v: &TensorView<'_>, axis: usize, index: usize) -> Result<Tensor> {
    let len = v.shape.get(axis).copied().unwrap_or(0);
    if index >= len {
        return Err(Error::internal(format!(
            "slice {index} of an axis of length {len}"
        )));
    }
    let outer: usize = v.shape[..axis].iter().product();
    let inner = numel(&v.shape[axis + 1..]) * v.dtype.size();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<i32> {
        t.as_slice::<i32>().unwrap().to_vec()
    }

    #[test]
    fn slices_stack_back_along_any_axis() {
        let x = Tensor::from_vec(&[2, 3], (0..6).collect::<Vec<i32>>()).unwrap();
        let columns: Vec<Tensor> = (0..3)
            .map(|i| slice_axis(&x.view(), 1, i).unwrap())
            .collect();
        assert_eq!(values(&columns[1]), vec![1, 4]);
        assert_eq!(values(&stack(&columns, 1, false).unwrap()), values(&x));
        let reversed = stack(&columns, 1, true).unwrap();
        assert_eq!(reversed.shape(), &[2, 3]);
        assert_eq!(values(&reversed), vec![2, 1, 0, 5, 4, 3]);
    }

    #[test]
    fn out_of_range_slices_and_axes_are_errors() {
        let x = Tensor::from_vec(&[2], vec![1i32, 2]).unwrap();
        assert!(slice_axis(&x.view(), 0, 2).is_err());
        assert!(stack(std::slice::from_ref(&x), 2, false).is_err());
        assert!(stack(&[], 0, false).is_err());
    }

    #[test]
    fn sequence_lengths_default_to_the_longest_and_are_checked() {
        assert_eq!(sequence_lengths(None, 2, 3).unwrap(), vec![3, 3]);
        let lens = Tensor::from_vec(&[2], vec![1i64, 3]).unwrap();
        assert_eq!(
            sequence_lengths(Some(lens.view()), 2, 3).unwrap(),
            vec![1, 3]
        );
        let too_long = Tensor::from_vec(&[2], vec![1i64, 4]).unwrap();
        assert!(sequence_lengths(Some(too_long.view()), 2, 3).is_err());
        let negative = Tensor::from_vec(&[1], vec![-1i64]).unwrap();
        assert!(sequence_lengths(Some(negative.view()), 1, 3).is_err());
        assert!(sequence_lengths(Some(lens.view()), 3, 3).is_err());
    }

    #[test]
    fn short_sequences_are_zero_padded() {
        let parts = [Tensor::from_vec(&[2], vec![1i32, 2]).unwrap()];
        let padded = stack_padded(&parts, DType::I32, &[2], 3).unwrap();
        assert_eq!(padded.shape(), &[3, 2]);
        assert_eq!(values(&padded), vec![1, 2, 0, 0, 0, 0]);
        assert_eq!(
            stack_padded(&[], DType::I32, &[2], 2).unwrap().shape(),
            &[2, 2]
        );
        assert!(stack_padded(&parts, DType::I32, &[3], 3).is_err());
    }
}
