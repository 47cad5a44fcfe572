//! onnxruntime's `com.microsoft` quantized ops, expanded at import into standard QDQ
//! subgraphs (see [`super::expand`] for the mechanism).
//!
//! Every `QLinear*` op here is defined by onnxruntime as "dequantize the inputs, apply the
//! float op, quantize the result" (docs/ContribOperators.md), so the expansion is
//! `QuantizeLinear(Op(DequantizeLinear(x, x_scale, x_zp)...), y_scale, y_zp)`; onnxruntime's
//! kernels compute the same thing with lookup tables or fixed-point rescaling, so results may
//! differ from ours by one quantization step where rounding falls differently. `QGemm` and
//! `DynamicQuantizeLSTM` dequantize their weights and run the float op; the float op then sees
//! exactly the weights onnxruntime's integer kernels use, but not its dynamic quantization of
//! the activations, so their float outputs agree to quantization noise, not bit for bit.
//!
//! Input orders and defaults follow the onnxruntime 1.31 schemas. Parameters the contrib docs
//! call scalars are passed to `DequantizeLinear`/`QuantizeLinear` as given; a missing optional
//! zero point means 0 of the quantized type.

use super::expand::{attr_float, attr_int, attr_ints, Expander, Synthetic};
use super::node::NodeCx;
use super::pb;
use crate::{Error, Result, Tensor};

/// onnxruntime's contrib-op domain.
pub(super) const DOMAIN: &str = "com.microsoft";

/// The `com.microsoft` ops Mote imports, for error messages and `mote inspect`.
pub(super) const SUPPORTED: &[&str] = &[
    "DynamicQuantizeLSTM",
    "QGemm",
    "QLinearAdd",
    "QLinearAveragePool",
    "QLinearConcat",
    "QLinearGlobalAveragePool",
    "QLinearLeakyRelu",
    "QLinearMul",
    "QLinearSigmoid",
    "QLinearSoftmax",
    "QLinearWhere",
];

/// The standard nodes replacing a `com.microsoft` node, or `None` when the op is not one
/// Mote knows (the caller reports it as unsupported, naming the domain).
pub(super) fn expand(cx: &NodeCx<'_>) -> Option<Result<Vec<Synthetic>>> {
    let mut e = Expander::new(cx.proto);
    let done = match cx.op_type() {
        "QLinearAdd" => binary(cx, &mut e, "Add"),
        "QLinearMul" => binary(cx, &mut e, "Mul"),
        "QLinearSigmoid" => unary(cx, &mut e, "Sigmoid", vec![]),
        "QLinearLeakyRelu" => cx
            .float_or("alpha", 0.01)
            .and_then(|alpha| unary(cx, &mut e, "LeakyRelu", vec![attr_float("alpha", alpha)])),
        "QLinearGlobalAveragePool" => {
            channels_first(cx).and_then(|()| unary(cx, &mut e, "GlobalAveragePool", vec![]))
        }
        "QLinearAveragePool" => channels_first(cx).and_then(|()| {
            let attrs = copy_attrs(cx, &["channels_last"]);
            unary(cx, &mut e, "AveragePool", attrs)
        }),
        "QLinearSoftmax" => softmax(cx, &mut e),
        "QLinearConcat" => concat(cx, &mut e),
        "QLinearWhere" => qwhere(cx, &mut e),
        "QGemm" => qgemm(cx, &mut e),
        "DynamicQuantizeLSTM" => lstm(cx, &mut e),
        _ => return None,
    };
    Some(done.map(|()| e.finish()))
}

/// The error for a `com.microsoft` op Mote does not know.
pub(super) fn unsupported(np: &pb::NodeProto) -> Error {
    Error::unsupported(
        &np.op_type,
        format!(
            "node '{}' is in domain '{DOMAIN}', where Mote supports only {}",
            np.name,
            SUPPORTED.join(", ")
        ),
    )
}

/// Why `np` (a `com.microsoft` node) cannot be imported, or `None` when it can: its expansion
/// and the lowering of every node of it (for `mote inspect`, which must not stop at errors).
pub(super) fn check(np: &pb::NodeProto, opset: i64) -> Option<String> {
    let cx = NodeCx { proto: np, opset };
    let nodes = match expand(&cx) {
        None => return Some(unsupported(np).to_string()),
        Some(Err(e)) => return Some(e.to_string()),
        Some(Ok(nodes)) => nodes,
    };
    nodes
        .iter()
        .filter(|s| s.proto.op_type != "Constant")
        .find_map(|s| {
            let cx = NodeCx {
                proto: &s.proto,
                opset: s.opset,
            };
            super::lower::lower(&cx).err()
        })
        .map(|e| e.to_string())
}

/// A required input.
fn required<'a>(cx: &NodeCx<'_>, e: &Expander<'a>, i: usize, what: &str) -> Result<&'a str> {
    e.input(i)
        .ok_or_else(|| cx.invalid(format!("input {i} ({what}) is required")))
}

/// The single output name.
fn output<'a>(cx: &NodeCx<'a>) -> Result<&'a str> {
    match cx.proto.output.as_slice() {
        [y] if !y.is_empty() => Ok(y),
        _ => Err(cx.invalid("exactly one output is expected")),
    }
}

/// The node's attributes except `skip` (for ops whose attributes are the float op's).
fn copy_attrs(cx: &NodeCx<'_>, skip: &[&str]) -> Vec<pb::AttributeProto> {
    cx.proto
        .attribute
        .iter()
        .filter(|a| !skip.contains(&a.name.as_str()))
        .cloned()
        .collect()
}

/// Rejects `channels_last = 1` (NHWC): the float ops are NCHW, and transposing needs the
/// rank, which is not known at import.
fn channels_first(cx: &NodeCx<'_>) -> Result<()> {
    match cx.int_or("channels_last", 0)? {
        0 => Ok(()),
        _ => Err(cx.unsupported("channels_last = 1 (NHWC layout) is not supported")),
    }
}

/// `(A, A_scale, A_zp?, B, B_scale, B_zp?, C_scale, C_zp?)`: `C = Q(op(DQ(A), DQ(B)))`.
fn binary(cx: &NodeCx<'_>, e: &mut Expander<'_>, op: &str) -> Result<()> {
    let a = required(cx, e, 0, "A")?;
    let a_scale = required(cx, e, 1, "A_scale")?;
    let b = required(cx, e, 3, "B")?;
    let b_scale = required(cx, e, 4, "B_scale")?;
    let c_scale = required(cx, e, 6, "C_scale")?;
    let y = output(cx)?;
    let da = e.dequantize(a, a_scale, e.input(2));
    let db = e.dequantize(b, b_scale, e.input(5));
    let r = e.node(op, &[&da, &db], vec![]);
    e.quantize_to(&r, c_scale, e.input(7), a, y);
    Ok(())
}

/// `(X, X_scale, X_zp?, Y_scale, Y_zp?)`: `Y = Q(op(DQ(X)))`.
fn unary(
    cx: &NodeCx<'_>,
    e: &mut Expander<'_>,
    op: &str,
    attrs: Vec<pb::AttributeProto>,
) -> Result<()> {
    let x = required(cx, e, 0, "X")?;
    let x_scale = required(cx, e, 1, "X_scale")?;
    let y_scale = required(cx, e, 3, "Y_scale")?;
    let y = output(cx)?;
    let dx = e.dequantize(x, x_scale, e.input(2));
    let r = e.node(op, &[&dx], attrs);
    e.quantize_to(&r, y_scale, e.input(4), x, y);
    Ok(())
}

/// `(condition, X, x_scale, x_zp, Y, y_scale, y_zp, z_scale, z_zp)`:
/// `Z = Q(Where(condition, DQ(X), DQ(Y)))`.
fn qwhere(cx: &NodeCx<'_>, e: &mut Expander<'_>) -> Result<()> {
    let cond = required(cx, e, 0, "condition")?;
    let x = required(cx, e, 1, "X")?;
    let x_scale = required(cx, e, 2, "x_scale")?;
    let y = required(cx, e, 4, "Y")?;
    let y_scale = required(cx, e, 5, "y_scale")?;
    let z_scale = required(cx, e, 7, "z_scale")?;
    let z = output(cx)?;
    let dx = e.dequantize(x, x_scale, e.input(3));
    let dy = e.dequantize(y, y_scale, e.input(6));
    let r = e.node("Where", &[cond, &dx, &dy], vec![]);
    e.quantize_to(&r, z_scale, e.input(8), x, z);
    Ok(())
}

/// `QLinearSoftmax`: the `opset` attribute says which Softmax it quantizes (before 13, the
/// input is coerced to 2-D at `axis`), so the float Softmax is lowered at that opset.
fn softmax(cx: &NodeCx<'_>, e: &mut Expander<'_>) -> Result<()> {
    let opset = cx
        .int("opset")?
        .ok_or_else(|| cx.invalid("attribute 'opset' is required"))?;
    if !(1..=super::MAX_OPSET).contains(&opset) {
        return Err(cx.invalid(format!("opset {opset} is not an ai.onnx opset")));
    }
    let axis = cx.int_or("axis", -1)?;
    let x = required(cx, e, 0, "X")?;
    let x_scale = required(cx, e, 1, "X_scale")?;
    let y_scale = required(cx, e, 3, "y_scale")?;
    let y = output(cx)?;
    let dx = e.dequantize(x, x_scale, e.input(2));
    let r = format!("{y}#mote_softmax");
    e.node_at(
        opset,
        "Softmax",
        &[&dx],
        &[&r],
        vec![attr_int("axis", axis)],
    );
    e.quantize_to(&r, y_scale, e.input(4), x, y);
    Ok(())
}

/// `(Y_scale, Y_zp, then (X, X_scale, X_zp) per input)`: `Y = Q(Concat(DQ(X)...))`.
fn concat(cx: &NodeCx<'_>, e: &mut Expander<'_>) -> Result<()> {
    let axis = cx
        .int("axis")?
        .ok_or_else(|| cx.invalid("attribute 'axis' is required"))?;
    let y_scale = required(cx, e, 0, "Y_scale")?;
    let y_zp = required(cx, e, 1, "Y_zero_point")?;
    let n = cx.input_count();
    if n < 5 || (n - 2) % 3 != 0 {
        return Err(cx.invalid(format!(
            "{n} inputs: expected Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples"
        )));
    }
    let mut parts = Vec::with_capacity((n - 2) / 3);
    for k in 0..(n - 2) / 3 {
        let i = 2 + 3 * k;
        let x = required(cx, e, i, "X")?;
        let s = required(cx, e, i + 1, "X_scale")?;
        let z = required(cx, e, i + 2, "X_zero_point")?;
        parts.push(e.dequantize(x, s, Some(z)));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let r = e.node("Concat", &refs, vec![attr_int("axis", axis)]);
    e.quantize_to(&r, y_scale, Some(y_zp), y_zp, output(cx)?);
    Ok(())
}

/// `QGemm(A, a_scale, a_zp, B, b_scale, b_zp?, C?, y_scale?, y_zp?)`:
/// `Y = alpha * DQ(A) @ DQ(B) + C * (alpha * a_scale * b_scale)`, quantized when `y_scale` is
/// given and float otherwise. `b_scale`/`b_zp` may be per column of B (axis 1, or 0 when B is
/// transposed); C is int32 with zero point 0 and scale `alpha * a_scale * b_scale`.
fn qgemm(cx: &NodeCx<'_>, e: &mut Expander<'_>) -> Result<()> {
    let alpha = cx.float_or("alpha", 1.0)?;
    let trans_a = cx.int_or("transA", 0)?;
    let trans_b = cx.int_or("transB", 0)?;
    let a = required(cx, e, 0, "A")?;
    let a_scale = required(cx, e, 1, "a_scale")?;
    let a_zp = required(cx, e, 2, "a_zero_point")?;
    let b = required(cx, e, 3, "B")?;
    let b_scale = required(cx, e, 4, "b_scale")?;
    let y = output(cx)?;
    let da = e.dequantize(a, a_scale, Some(a_zp));
    let column_axis = if trans_b != 0 { 0 } else { 1 };
    let db = e.dequantize_axis(b, b_scale, e.input(5), column_axis);
    let mut inputs = vec![da, db];
    if let Some(c) = e.input(6) {
        let cf = e.node("Cast", &[c], vec![attr_int("to", 1)]);
        let scale = e.node("Mul", &[a_scale, b_scale], vec![]);
        inputs.push(e.node("Mul", &[&cf, &scale], vec![]));
    }
    let attrs = vec![
        attr_float("alpha", alpha),
        // C already carries its scale; Gemm's beta multiplies it by the alpha it includes.
        attr_float("beta", alpha),
        attr_int("transA", trans_a),
        attr_int("transB", trans_b),
    ];
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    match e.input(7) {
        Some(y_scale) => {
            let r = e.node("Gemm", &refs, attrs);
            e.quantize_to(&r, y_scale, e.input(8), a, y);
        }
        None => e.node_at(super::expand::EXPANSION_OPSET, "Gemm", &refs, &[y], attrs),
    }
    Ok(())
}

/// `DynamicQuantizeLSTM`: the standard LSTM with dequantized weights. Its W is
/// `[dirs, input, 4*hidden]` and R `[dirs, hidden, 4*hidden]`, the transposes of ONNX LSTM's;
/// scales and zero points are `[dirs]` (per direction) or `[dirs, 4*hidden]` (per direction
/// and gate row). Both are reshaped to `[dirs, 1, k]` so that one broadcast covers the two
/// layouts, which `DequantizeLinear` (one axis only) cannot.
fn lstm(cx: &NodeCx<'_>, e: &mut Expander<'_>) -> Result<()> {
    let x = required(cx, e, 0, "X")?;
    let w = required(cx, e, 1, "W")?;
    let r = required(cx, e, 2, "R")?;
    let params = |i: usize, what: &str| required(cx, e, i, what);
    let (w_scale, w_zp) = (params(8, "W_scale")?, params(9, "W_zero_point")?);
    let (r_scale, r_zp) = (params(10, "R_scale")?, params(11, "R_zero_point")?);
    let shape = e.constant(&Tensor::from_vec(&[3], vec![0i64, 1, -1])?);
    let mut weight = |q: &str, scale: &str, zp: &str| -> String {
        let scale = e.node("Reshape", &[scale, &shape], vec![]);
        let zp = e.node("Reshape", &[zp, &shape], vec![]);
        let qf = e.node("Cast", &[q], vec![attr_int("to", 1)]);
        let zf = e.node("Cast", &[&zp], vec![attr_int("to", 1)]);
        let centered = e.node("Sub", &[&qf, &zf], vec![]);
        let f = e.node("Mul", &[&centered, &scale], vec![]);
        e.node("Transpose", &[&f], vec![attr_ints("perm", &[0, 2, 1])])
    };
    let wf = weight(w, w_scale, w_zp);
    let rf = weight(r, r_scale, r_zp);
    let mut inputs: Vec<&str> = vec![x, &wf, &rf];
    for i in 3..8 {
        inputs.push(e.input(i).unwrap_or(""));
    }
    while inputs.last() == Some(&"") {
        inputs.pop();
    }
    let outputs: Vec<&str> = cx.proto.output.iter().map(String::as_str).collect();
    // The float LSTM takes the same attributes (activations, clip, direction...).
    let attrs = copy_attrs(cx, &[]);
    e.node_at(
        super::expand::EXPANSION_OPSET,
        "LSTM",
        &inputs,
        &outputs,
        attrs,
    );
    Ok(())
}
