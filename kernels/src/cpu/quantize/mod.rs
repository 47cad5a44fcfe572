//! Element-wise conversions between `f32` and 8-bit quantized tensors, and quantized
//! element-wise ops evaluated through float exactly as ONNX QDQ semantics define them.
//!
//! Every formula is a fixed sequence of `f32` operations, so every variant is bit-identical to
//! the reference. "Quantize" `Q(f)` below is `saturate(round_half_even(f) + zero_point)` to the
//! output type (`u8` 0..=255, or `i8` −128..=127 stored as its bit pattern) where the rounding is
//! Rust's `f32::round_ties_even` followed by the saturating `as i32` (so NaN gives 0, then
//! `+ zero_point`; ±inf and huge values saturate). The vector variants clamp to ±65536 before
//! their float-to-int conversion, which changes no result (zero points are within −128..=255).
//!
//! * [`QuantizeFn`]: `y = Q(x / scale)` — ONNX QuantizeLinear (an `f32` division).
//! * [`DequantizeFn`]: `y = (x − zero_point) as f32 · scale` — ONNX DequantizeLinear.
//! * [`QBinaryFn`]: `y = Q(op(DQ(a), DQ(b)) / scale_y)`, `DQ(v) = (v − z) as f32 · s` per side.
//! * [`RequantizeFn`]: `y = Q(((x − zx) as f32 · sx) / sy)` — DequantizeLinear then
//!   QuantizeLinear, for data movement that changes the scale.
//! * [`Lut8Fn`]: `y[i] = table[x[i]]` — any unary op on 8-bit values, from a table the caller
//!   builds.
//!
//! Scales must be finite and positive (`Err` otherwise); zero points within their type's range.
//!
//! Variants: `reference.rs` (**the oracle**), one vectorised body (`body.rs`, generic over
//! [`lanes::QVec`]) for AVX-512 BW, AVX2 and NEON; the table lookup has the reference, an
//! AVX-512 VBMI variant (`vpermi2b` over the 256-byte table) and NEON `tbl`. Where the lookup
//! is fast (VBMI, NEON), requantize and binary ops with one repeated operand — functions of
//! one byte — run on long slices as a table built by the variant's own body, then a lookup
//! (see [`TABLE_FROM`]).

pub(crate) mod body;
pub(crate) mod lanes;
pub(crate) mod reference;

#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

#[cfg(test)]
mod tests;

use crate::cpu::{select, table, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// The quantization of one 8-bit tensor: `real = (q − zero_point) · scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// Finite, positive.
    pub scale: f32,
    /// Within the type's range (`u8`: 0..=255, `i8`: −128..=127).
    pub zero_point: i32,
    /// `i8` (else `u8`).
    pub signed: bool,
}

/// The operation of a [`QBinaryFn`], applied to the dequantized operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QBinaryOp {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b` (IEEE: a zero divisor gives ±inf or NaN, then quantized as above).
    Div,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
}

/// `y = Q(x / scale)` to `u8` or (`signed`) `i8` bit patterns; `x.len() == y.len()`.
pub type QuantizeFn = fn(
    x: &[f32],
    scale: f32,
    zero_point: i32,
    signed: bool,
    y: &mut [u8],
) -> Result<(), KernelError>;

/// `y = (x − zero_point) as f32 · scale`, `x` raw bytes (`i8` if `signed`); equal lengths.
pub type DequantizeFn = fn(
    x: &[u8],
    signed: bool,
    scale: f32,
    zero_point: i32,
    y: &mut [f32],
) -> Result<(), KernelError>;

/// `y = Q(op(DQ(a), DQ(b)) / qy.scale)` element-wise, except `Mul` (see [`mul_multiplier`]).
/// `a` and `b` each have `y.len()` elements or exactly one (repeated); broadcasting of other
/// shapes is the caller's (call per contiguous run).
pub type QBinaryFn = fn(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError>;

/// [`QBinaryFn`] with `b` repeated per run: run `r` (elements `r·run .. (r + 1)·run`) of `y` is
/// `Q(op(DQ(a), DQ(b[r])))` on the same run of `a`. `a` and `y` have equal lengths, a whole
/// number of runs, and `b` one element per run: a squeeze-excite `x · s[c]` over small planes
/// in one call, where one call per run cost more than its arithmetic. Bit-identical to
/// [`QBinaryFn`] on each run.
pub type QBinaryRunsFn = fn(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
    run: usize,
) -> Result<(), KernelError>;

/// `y = Q(((x − zx) as f32 · sx) / sy)`; equal lengths.
pub type RequantizeFn =
    fn(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) -> Result<(), KernelError>;

/// `y[i] = table[x[i]]` (raw bytes); equal lengths.
pub type Lut8Fn = fn(x: &[u8], table: &[u8; 256], y: &mut [u8]) -> Result<(), KernelError>;

/// Entry points of one variant of the family.
#[derive(Clone, Copy, Debug)]
pub struct QuantizeKernels {
    /// QuantizeLinear.
    pub quantize: QuantizeFn,
    /// DequantizeLinear.
    pub dequantize: DequantizeFn,
    /// Quantized binary op.
    pub qbinary: QBinaryFn,
    /// Quantized binary op with one operand repeated per run.
    pub qbinary_runs: QBinaryRunsFn,
    /// Change of quantization.
    pub requantize: RequantizeFn,
    /// 256-entry table lookup.
    pub lut8: Lut8Fn,
}

/// QuantizeLinear with the best kernel of this CPU ([`table`]).
pub fn quantize(
    x: &[f32],
    scale: f32,
    zero_point: i32,
    signed: bool,
    y: &mut [u8],
) -> Result<(), KernelError> {
    (table().quantize)(x, scale, zero_point, signed, y)
}

/// DequantizeLinear with the best kernel of this CPU ([`table`]).
pub fn dequantize(
    x: &[u8],
    signed: bool,
    scale: f32,
    zero_point: i32,
    y: &mut [f32],
) -> Result<(), KernelError> {
    (table().dequantize)(x, signed, scale, zero_point, y)
}

/// The value range of an 8-bit type.
pub(crate) fn type_range(signed: bool) -> (i32, i32) {
    if signed {
        (-128, 127)
    } else {
        (0, 255)
    }
}

/// A raw byte as the integer it encodes.
#[inline(always)]
pub(crate) fn widen(b: u8, signed: bool) -> i32 {
    if signed {
        b as i8 as i32
    } else {
        b as i32
    }
}

/// `Q(f)`: round half to even, saturating to `i32` (NaN → 0), `+ zero_point`, saturated to the
/// type. The definition every variant reproduces.
#[inline(always)]
pub(crate) fn saturate(f: f32, zero_point: i32, signed: bool) -> u8 {
    let (lo, hi) = type_range(signed);
    (f.round_ties_even() as i32)
        .saturating_add(zero_point)
        .clamp(lo, hi) as u8
}

/// The multiplier of a quantized `Mul`: `y = Q(((a − za)·(b − zb)) as f32 · m)` with
/// `m = (sa · sb) / sy` in `f32`, as onnxruntime's `QLinearMul` computes it: the product of the
/// two centred integers is exact in `f32` (at most 2^16 in magnitude), so there is one rounding
/// before the final one and no division per element (a division per vector was the cost of a
/// squeeze-excite product). `None` when `m` is not a normal `f32` (extreme scales): then `Mul`
/// follows the generic formula `Q((DQ(a) · DQ(b)) / sy)`.
pub(crate) fn mul_multiplier(qa: QParams, qb: QParams, qy: QParams) -> Option<f32> {
    let m = qa.scale * qb.scale / qy.scale;
    m.is_normal().then_some(m)
}

/// `q` with scale 1: dequantizing with it gives the centred integer `x − zero_point` exactly.
pub(crate) fn centred(q: QParams) -> QParams {
    QParams { scale: 1.0, ..q }
}

/// `Err` unless `scale` is finite and positive and `zero_point` is in the type's range.
pub(crate) fn check_params(what: &str, q: QParams) -> Result<(), KernelError> {
    if !(q.scale.is_finite() && q.scale > 0.0) {
        return Err(KernelError::invalid(format!(
            "{what}: scale {} is not finite and positive",
            q.scale
        )));
    }
    let (lo, hi) = type_range(q.signed);
    if !(lo..=hi).contains(&q.zero_point) {
        return Err(KernelError::invalid(format!(
            "{what}: zero point {} outside {lo}..={hi}",
            q.zero_point
        )));
    }
    Ok(())
}

/// `Err` unless `got == want`.
pub(crate) fn check_len(what: &str, got: usize, want: usize) -> Result<(), KernelError> {
    if got == want {
        Ok(())
    } else {
        Err(KernelError::out_of_bounds(format!(
            "{what}: {got} elements where {want} are needed"
        )))
    }
}

/// Checks a [`QBinaryFn`] call: each input has `y.len()` elements or one.
pub(crate) fn check_binary(
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &[u8],
) -> Result<(), KernelError> {
    check_params("qbinary a", qa)?;
    check_params("qbinary b", qb)?;
    check_params("qbinary y", qy)?;
    for (what, v) in [("qbinary a", a), ("qbinary b", b)] {
        if v.len() != y.len() && v.len() != 1 {
            return Err(KernelError::out_of_bounds(format!(
                "{what}: {} elements for an output of {} (need that many or 1)",
                v.len(),
                y.len()
            )));
        }
    }
    Ok(())
}

/// Checks a [`QBinaryRunsFn`] call: parameters, `a` and `y` whole runs of equal length, `b` one
/// element per run.
#[allow(clippy::too_many_arguments)] // The QBinaryRunsFn arguments.
pub(crate) fn check_binary_runs(
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &[u8],
    run: usize,
) -> Result<(), KernelError> {
    check_params("qbinary_runs a", qa)?;
    check_params("qbinary_runs b", qb)?;
    check_params("qbinary_runs y", qy)?;
    check_len("qbinary_runs a", a.len(), y.len())?;
    if run == 0 || y.len() % run != 0 || b.len() != y.len() / run {
        return Err(KernelError::out_of_bounds(format!(
            "qbinary_runs: {} outputs in runs of {run} with {} repeated values",
            y.len(),
            b.len()
        )));
    }
    Ok(())
}

/// Every byte value in order: the inputs that tabulate a function of one byte.
#[cfg(any(target_arch = "aarch64", feature = "avx512"))]
const ALL_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

/// From this many elements on, a variant with a fast table lookup evaluates a function of one
/// byte (requantize; a binary op with one repeated operand) by tabulating it on all 256 bytes
/// with its own vector body, then looking the table up. The table holds exactly what the body
/// would compute per element, so results stay bit-identical.
#[cfg(any(target_arch = "aarch64", feature = "avx512"))]
pub(crate) const TABLE_FROM: usize = 1024;

/// [`RequantizeFn`] through a table built with `requantize` and read with `lut8` (for
/// `x.len() >= TABLE_FROM`; plain `requantize` below).
#[cfg(any(target_arch = "aarch64", feature = "avx512"))]
pub(crate) fn requantize_by_table(
    requantize: RequantizeFn,
    lut8: Lut8Fn,
    x: &[u8],
    qx: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    if x.len() < TABLE_FROM {
        return requantize(x, qx, qy, y);
    }
    check_len("requantize y", y.len(), x.len())?;
    let mut table = [0u8; 256];
    requantize(&ALL_BYTES, qx, qy, &mut table)?;
    lut8(x, &table, y)
}

/// [`QBinaryFn`] through a table when exactly one operand is repeated (for
/// `y.len() >= TABLE_FROM`; plain `qbinary` otherwise).
#[allow(clippy::too_many_arguments)] // The QBinaryFn arguments plus the two kernels.
#[cfg(any(target_arch = "aarch64", feature = "avx512"))]
pub(crate) fn qbinary_by_table(
    qbinary: QBinaryFn,
    lut8: Lut8Fn,
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) -> Result<(), KernelError> {
    check_binary(a, qa, b, qb, qy, y)?;
    let mut table = [0u8; 256];
    match (a.len() == 1, b.len() == 1) {
        _ if y.len() < TABLE_FROM => qbinary(op, a, qa, b, qb, qy, y),
        (false, true) => {
            qbinary(op, &ALL_BYTES, qa, b, qb, qy, &mut table)?;
            lut8(a, &table, y)
        }
        (true, false) => {
            qbinary(op, a, qa, &ALL_BYTES, qb, qy, &mut table)?;
            lut8(b, &table, y)
        }
        _ => qbinary(op, a, qa, b, qb, qy, y),
    }
}

/// One entry of [`crate::cpu::variants`] for this family.
const fn variant(isa: Isa, name: &'static str, reference: bool, k: QuantizeKernels) -> Variant {
    Variant {
        info: KernelInfo {
            family: "quantize",
            dtype: "u8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::Quantize(k),
    }
}

/// The oracle's entry points.
pub(crate) const REFERENCE_KERNELS: QuantizeKernels = QuantizeKernels {
    quantize: reference::quantize,
    dequantize: reference::dequantize,
    qbinary: reference::qbinary,
    qbinary_runs: reference::qbinary_runs,
    requantize: reference::requantize,
    lut8: reference::lut8,
};

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "quantize_u8_reference",
    true,
    REFERENCE_KERNELS,
);
/// The AVX2 body's registry entry (the table lookup is the reference's).
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "quantize_u8_avx2", false, x86::AVX2);
/// The AVX-512 BW body's registry entry (the table lookup is the reference's).
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(Isa::Avx512, "quantize_u8_avx512", false, x86::AVX512);
/// The AVX-512 BW body with the VBMI table lookup.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512_VBMI: Variant = variant(
    Isa::Avx512Vbmi,
    "quantize_u8_avx512vbmi",
    false,
    x86::AVX512_VBMI,
);
/// The NEON body's registry entry (the table lookup is NEON `tbl`).
#[cfg(target_arch = "aarch64")]
pub(crate) const NEON: Variant = variant(Isa::Neon, "quantize_u8_neon", false, neon::KERNELS);

/// The [`crate::cpu::KernelTable`] choice for this family.
pub(crate) fn choose(
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> (KernelInfo, QuantizeKernels) {
    select(variants(), "quantize", "u8", features, max_isa)
        .and_then(|v| Some((v.info, v.quantize()?)))
        .unwrap_or((REFERENCE.info, REFERENCE_KERNELS))
}
