//! The vectorised bodies of the family, written once over [`QVec`] and instantiated by each
//! ISA's `#[target_feature]` wrappers. Each processes full vectors in place and the last
//! partial vector through stack buffers (so no load or store leaves the slices), with the same
//! per-element operations as the reference, hence bit-identical results.
//!
//! Callers validate first: lengths and parameters as [`super::reference`] checks them.

use super::lanes::{QVec, MAX_LANES};
use super::reference::dq;
use super::{centred, mul_multiplier, type_range, QBinaryOp, QParams};

/// The output side of `Q`: zero point and the type's bounds, as vectors.
#[derive(Clone, Copy)]
struct QOut<I> {
    zero_point: I,
    lo: I,
    hi: I,
}

impl<I: Copy> QOut<I> {
    /// # Safety
    ///
    /// `V`'s ISA is available.
    #[inline(always)]
    unsafe fn new<V: QVec<I = I>>(zero_point: i32, signed: bool) -> Self {
        let (lo, hi) = type_range(signed);
        // SAFETY: `V`'s ISA per the caller.
        unsafe {
            QOut {
                zero_point: V::splat_i(zero_point),
                lo: V::splat_i(lo),
                hi: V::splat_i(hi),
            }
        }
    }
}

/// `V::quantize` with `q`'s constants.
///
/// # Safety
///
/// `V`'s ISA is available.
#[inline(always)]
unsafe fn q<V: QVec>(v: V, out: QOut<V::I>) -> V::I {
    // SAFETY: `V`'s ISA per the caller.
    unsafe { v.quantize(out.zero_point, out.lo, out.hi) }
}

/// QuantizeLinear on validated slices of equal length.
///
/// # Safety
///
/// `V`'s ISA is available; `x.len() == y.len()`.
#[inline(always)]
pub(crate) unsafe fn quantize<V: QVec>(
    x: &[f32],
    scale: f32,
    zero_point: i32,
    signed: bool,
    y: &mut [u8],
) {
    #[inline(always)]
    unsafe fn step<V: QVec>(x: *const f32, scale: V, out: QOut<V::I>, y: *mut u8) {
        // SAFETY: per `quantize`'s contract, for `LANES` elements at `x` and `y`.
        unsafe { V::store_bytes(q(V::load(x).div(scale), out), y) }
    }
    // SAFETY: `V`'s ISA per the caller; full vectors lie inside the slices, the tail goes
    // through buffers of `MAX_LANES >= LANES`.
    unsafe {
        let (scale, out) = (V::splat(scale), QOut::new::<V>(zero_point, signed));
        let (n, full) = (x.len(), x.len() / V::LANES * V::LANES);
        let mut i = 0;
        while i < full {
            step::<V>(x.as_ptr().add(i), scale, out, y.as_mut_ptr().add(i));
            i += V::LANES;
        }
        if full < n {
            let (mut xb, mut yb) = ([0f32; MAX_LANES], [0u8; MAX_LANES]);
            xb[..n - full].copy_from_slice(&x[full..]);
            step::<V>(xb.as_ptr(), scale, out, yb.as_mut_ptr());
            y[full..].copy_from_slice(&yb[..n - full]);
        }
    }
}

/// DequantizeLinear on validated slices of equal length.
///
/// # Safety
///
/// `V`'s ISA is available; `x.len() == y.len()`.
#[inline(always)]
pub(crate) unsafe fn dequantize<V: QVec>(
    x: &[u8],
    signed: bool,
    scale: f32,
    zero_point: i32,
    y: &mut [f32],
) {
    #[inline(always)]
    unsafe fn step<V: QVec>(x: *const u8, signed: bool, z: V::I, scale: V, y: *mut f32) {
        // SAFETY: per `dequantize`'s contract, for `LANES` elements at `x` and `y`.
        unsafe {
            V::to_f32(V::sub_i(V::load_bytes(x, signed), z))
                .mul(scale)
                .store(y)
        }
    }
    // SAFETY: as in `quantize`.
    unsafe {
        let (scale, z) = (V::splat(scale), V::splat_i(zero_point));
        let (n, full) = (x.len(), x.len() / V::LANES * V::LANES);
        let mut i = 0;
        while i < full {
            step::<V>(x.as_ptr().add(i), signed, z, scale, y.as_mut_ptr().add(i));
            i += V::LANES;
        }
        if full < n {
            let (mut xb, mut yb) = ([0u8; MAX_LANES], [0f32; MAX_LANES]);
            xb[..n - full].copy_from_slice(&x[full..]);
            step::<V>(xb.as_ptr(), signed, z, scale, yb.as_mut_ptr());
            y[full..].copy_from_slice(&yb[..n - full]);
        }
    }
}

/// Requantization on validated slices of equal length.
///
/// # Safety
///
/// `V`'s ISA is available; `x.len() == y.len()`.
#[inline(always)]
pub(crate) unsafe fn requantize<V: QVec>(x: &[u8], qx: QParams, qy: QParams, y: &mut [u8]) {
    #[inline(always)]
    unsafe fn step<V: QVec>(x: *const u8, dq: Dq<V>, sy: V, out: QOut<V::I>, y: *mut u8) {
        // SAFETY: per `requantize`'s contract, for `LANES` elements at `x` and `y`.
        unsafe { V::store_bytes(q(dq.load(x).div(sy), out), y) }
    }
    // SAFETY: as in `quantize`.
    unsafe {
        let (dq, sy) = (Dq::<V>::new(qx), V::splat(qy.scale));
        let out = QOut::new::<V>(qy.zero_point, qy.signed);
        let (n, full) = (x.len(), x.len() / V::LANES * V::LANES);
        let mut i = 0;
        while i < full {
            step::<V>(x.as_ptr().add(i), dq, sy, out, y.as_mut_ptr().add(i));
            i += V::LANES;
        }
        if full < n {
            let (mut xb, mut yb) = ([0u8; MAX_LANES], [0u8; MAX_LANES]);
            xb[..n - full].copy_from_slice(&x[full..]);
            step::<V>(xb.as_ptr(), dq, sy, out, yb.as_mut_ptr());
            y[full..].copy_from_slice(&yb[..n - full]);
        }
    }
}

/// One side's DequantizeLinear constants.
#[derive(Clone, Copy)]
struct Dq<V: QVec> {
    signed: bool,
    zero_point: V::I,
    scale: V,
}

impl<V: QVec> Dq<V> {
    /// # Safety
    ///
    /// `V`'s ISA is available.
    #[inline(always)]
    unsafe fn new(q: QParams) -> Self {
        // SAFETY: `V`'s ISA per the caller.
        unsafe {
            Dq {
                signed: q.signed,
                zero_point: V::splat_i(q.zero_point),
                scale: V::splat(q.scale),
            }
        }
    }

    /// `(x − z) as f32 · s` of `LANES` bytes at `p`.
    ///
    /// # Safety
    ///
    /// `V`'s ISA; `p` readable for `LANES` bytes.
    #[inline(always)]
    unsafe fn load(self, p: *const u8) -> V {
        // SAFETY: per this function's contract.
        unsafe {
            V::to_f32(V::sub_i(V::load_bytes(p, self.signed), self.zero_point)).mul(self.scale)
        }
    }
}

/// One operand of a binary op: a slice read a vector at a time, or one element repeated.
#[derive(Clone, Copy)]
enum Operand<V: QVec> {
    Full(*const u8, Dq<V>),
    Repeated(V),
}

impl<V: QVec> Operand<V> {
    /// # Safety
    ///
    /// `V`'s ISA is available; `v` is non-empty.
    #[inline(always)]
    unsafe fn new(v: &[u8], q: QParams) -> Self {
        // SAFETY: `V`'s ISA per the caller. The repeated value is the reference's scalar `dq`:
        // the same two exact-or-correctly-rounded operations as the vector path.
        unsafe {
            if v.len() == 1 {
                Operand::Repeated(V::splat(dq(v[0], q)))
            } else {
                Operand::Full(v.as_ptr(), Dq::new(q))
            }
        }
    }

    /// The dequantized vector at element `i`.
    ///
    /// # Safety
    ///
    /// `V`'s ISA; a `Full` operand is readable for `LANES` bytes from `i`.
    #[inline(always)]
    unsafe fn at(self, i: usize) -> V {
        // SAFETY: per this function's contract.
        unsafe {
            match self {
                Operand::Full(p, dq) => dq.load(p.add(i)),
                Operand::Repeated(v) => v,
            }
        }
    }
}

/// `op` codes for the const-generic inner loop (so the operation is chosen once per call).
const ADD: u8 = 0;
const SUB: u8 = 1;
const MUL: u8 = 2;
const DIV: u8 = 3;
const MAX: u8 = 4;
const MIN: u8 = 5;
/// `Mul` with operands centred (scale 1) and `sy` holding [`super::mul_multiplier`]'s `m`.
const MUL_BY_MULTIPLIER: u8 = 6;

/// A quantized binary op on validated slices (`a`, `b` of `y.len()` elements or one).
///
/// # Safety
///
/// `V`'s ISA is available; the slices passed [`super::check_binary`].
#[inline(always)]
pub(crate) unsafe fn qbinary<V: QVec>(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) {
    // SAFETY: forwarded contract.
    unsafe {
        match op {
            QBinaryOp::Add => binary::<V, ADD>(a, qa, b, qb, qy, y),
            QBinaryOp::Sub => binary::<V, SUB>(a, qa, b, qb, qy, y),
            QBinaryOp::Mul => match mul_multiplier(qa, qb, qy) {
                Some(m) => {
                    let qm = QParams { scale: m, ..qy };
                    binary::<V, MUL_BY_MULTIPLIER>(a, centred(qa), b, centred(qb), qm, y)
                }
                None => binary::<V, MUL>(a, qa, b, qb, qy, y),
            },
            QBinaryOp::Div => binary::<V, DIV>(a, qa, b, qb, qy, y),
            QBinaryOp::Max => binary::<V, MAX>(a, qa, b, qb, qy, y),
            QBinaryOp::Min => binary::<V, MIN>(a, qa, b, qb, qy, y),
        }
    }
}

/// [`qbinary`] on each run of `run` elements of `a`/`y` with `b[r]` for run `r`.
///
/// # Safety
///
/// `V`'s ISA is available; the slices passed [`super::check_binary_runs`].
#[inline(always)]
#[allow(clippy::too_many_arguments)] // The QBinaryRunsFn arguments.
pub(crate) unsafe fn qbinary_runs<V: QVec>(
    op: QBinaryOp,
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
    run: usize,
) {
    for ((a, b), y) in a.chunks_exact(run).zip(b).zip(y.chunks_exact_mut(run)) {
        // SAFETY: forwarded contract; each run is a valid `qbinary` call (`a` and `y` of one
        // length, `b` one element).
        unsafe { qbinary::<V>(op, a, qa, std::slice::from_ref(b), qb, qy, y) };
    }
}

/// [`qbinary`] for one operation.
///
/// # Safety
///
/// As for [`qbinary`].
#[inline(always)]
unsafe fn binary<V: QVec, const OP: u8>(
    a: &[u8],
    qa: QParams,
    b: &[u8],
    qb: QParams,
    qy: QParams,
    y: &mut [u8],
) {
    #[inline(always)]
    unsafe fn step<V: QVec, const OP: u8>(
        a: Operand<V>,
        b: Operand<V>,
        i: usize,
        sy: V,
        out: QOut<V::I>,
        bounds: (V, V),
        y: *mut u8,
    ) {
        // SAFETY: per `binary`'s contract: full operands readable for `LANES` from `i`, `y`
        // writable for `LANES`.
        unsafe {
            let (fa, fb) = (a.at(i), b.at(i));
            let f = match OP {
                ADD => fa.add(fb),
                SUB => fa.sub(fb),
                MUL | MUL_BY_MULTIPLIER => fa.mul(fb),
                DIV => fa.div(fb),
                MAX => fa.max(fb),
                _ => fa.min(fb),
            };
            let (lo, hi) = bounds;
            let q = match OP {
                // Never NaN: a product of two integers below 2^8 in magnitude times a normal
                // multiplier (at worst ±inf, which the clamp handles).
                MUL_BY_MULTIPLIER => f.mul(sy).quantize_finite(lo, hi, out.zero_point),
                // `0 / 0` and `inf / inf` are NaN: the full quantization.
                DIV => q(f.div(sy), out),
                // Sums, differences, products, maxima and minima of finite dequantized values
                // over a finite positive scale: never NaN (at worst ±inf).
                _ => f.div(sy).quantize_finite(lo, hi, out.zero_point),
            };
            V::store_bytes(q, y);
        }
    }
    let n = y.len();
    if n == 0 {
        return;
    }
    // SAFETY: `V`'s ISA per the caller; full vectors lie inside the slices (each full operand
    // has `n` elements), the tail reads and writes stack buffers.
    unsafe {
        let (oa, ob) = (Operand::<V>::new(a, qa), Operand::<V>::new(b, qb));
        let (sy, out) = (V::splat(qy.scale), QOut::new::<V>(qy.zero_point, qy.signed));
        let (lo, hi) = type_range(qy.signed);
        let bounds = (
            V::splat((lo - qy.zero_point) as f32),
            V::splat((hi - qy.zero_point) as f32),
        );
        let full = n / V::LANES * V::LANES;
        let mut i = 0;
        while i < full {
            step::<V, OP>(oa, ob, i, sy, out, bounds, y.as_mut_ptr().add(i));
            i += V::LANES;
        }
        if full < n {
            let (mut ab, mut bb, mut yb) = ([0u8; MAX_LANES], [0u8; MAX_LANES], [0u8; MAX_LANES]);
            let tail = |v: &[u8], op: Operand<V>, buf: &mut [u8; MAX_LANES]| match op {
                Operand::Full(_, dq) => {
                    buf[..n - full].copy_from_slice(&v[full..]);
                    Operand::Full(buf.as_ptr(), dq)
                }
                repeated => repeated,
            };
            let (ta, tb) = (tail(a, oa, &mut ab), tail(b, ob, &mut bb));
            step::<V, OP>(ta, tb, 0, sy, out, bounds, yb.as_mut_ptr());
            y[full..].copy_from_slice(&yb[..n - full]);
        }
    }
}
