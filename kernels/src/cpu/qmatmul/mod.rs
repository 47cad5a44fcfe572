//! 8-bit matrix product with the activations as rows: `Y[rows, N] = requant(A[rows, K] · W[K, N])`,
//! the layout of ONNX `MatMul` / `Gemm` (and the `i32` product of `MatMulInteger`).
//!
//! [`crate::cpu::qgemm`] packs the weights as its *left* operand (output channels along the
//! tile's rows), the natural fit for NCHW convolutions; a `MatMul`'s activations then have to
//! be transposed in and its result transposed out, which on small products (a classifier's
//! dense layers) cost as much as the arithmetic. Here the weights are packed with **lanes
//! along output features** (16 features × 4 depth steps per 64-byte panel group), and each
//! activation row contributes 4 bytes broadcast to every lane: `A` is read in place (no
//! packing), `Y` is written row by row, and the per-feature scale, bias and zero-point
//! corrections are whole vectors.
//!
//! Math, with `a' = a ^ 0x80` for `i8` activations (`u8` bits, `+ 128`) and `w' = w ^ 0x80`
//! for `u8` weights (`i8` bits, `− 128`), so that every product is `u8 × i8` (`vpdpbusd`):
//! `acc[j][c] = Σ_k (a − za)(w − zw[c]) = Σ a'w' − za'·Σ_k w'[c] − zw'[c]·Σ_k a'[j] + K·za'·zw'[c]`,
//! exact in `i32` (wrapping where the exact value would not fit), then the epilogue of
//! [`crate::cpu::qgemm::QOutput`] with per-feature `bias`/`scale`.
//!
//! Variants: `reference.rs` (**the oracle**: the triple loop over the unpacked values) and
//! AVX-512 VNNI (`x86.rs`). Where no optimised variant runs, [`crate::cpu::KernelTable`]'s
//! `qmatmul` is `None` and the runtime keeps the transposing path through `qgemm` (whose
//! variants cover every instruction set).

pub(crate) mod reference;
#[cfg(test)]
mod tests;
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
mod x86;

use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Output features per panel (the lanes of one AVX-512 register of `i32`).
pub(crate) const LANES: usize = 16;
/// Depth steps per group (the bytes one `vpdpbusd` lane sums).
pub(crate) const GROUP: usize = 4;

/// Constant weights `W[K, N]` packed once: `[N / 16 panels][K / 4 groups][16 lanes][4]` `i8`
/// bits of `w'`, zero past `K` and `N`, with per-feature sums and zero points of `w'`.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedQMatMulWeights {
    n: usize,
    k: usize,
    signed: bool,
    data: Vec<i8>,
    /// `Σ_k w'[k][c]`, `panels·16` long (zero past `n`).
    sums: Vec<i32>,
    /// `zw'[c]`, `panels·16` long (zero past `n`).
    zero_points: Vec<i32>,
}

impl PackedQMatMulWeights {
    /// Packs `Wᵀ` given row-major as `[n, k]` (row `c` = the weights of output feature `c`, at
    /// `wt[c·ld ..]`), `i8` when `signed` else `u8`, with one zero point or one per feature
    /// (inside the type's range).
    pub fn pack(
        n: usize,
        k: usize,
        wt: &[u8],
        ld: usize,
        signed: bool,
        zero_points: &[i32],
    ) -> Result<Self, KernelError> {
        if n > 0 && k > 0 {
            if ld < k {
                return Err(KernelError::invalid(format!(
                    "qmatmul: weight rows overlap: ld {ld} < k {k}"
                )));
            }
            let need = (n - 1)
                .checked_mul(ld)
                .and_then(|x| x.checked_add(k))
                .ok_or_else(|| KernelError::invalid("qmatmul: weight extent overflows usize"))?;
            if wt.len() < need {
                return Err(KernelError::out_of_bounds(format!(
                    "qmatmul: weights {n}×{k} with ld {ld} need {need} bytes, have {}",
                    wt.len()
                )));
            }
        }
        let range = type_range(signed);
        if !(zero_points.len() == 1 || zero_points.len() == n)
            || zero_points.iter().any(|z| !range.contains(z))
        {
            return Err(KernelError::invalid(format!(
                "qmatmul: {} weight zero points for {n} features (one or one each, in range)",
                zero_points.len()
            )));
        }
        let panels = n.div_ceil(LANES);
        let groups = k.div_ceil(GROUP);
        let flip = if signed { 0 } else { 0x80 };
        let mut data = vec![0i8; panels * groups * LANES * GROUP];
        let mut sums = vec![0i32; panels * LANES];
        let mut zps = vec![0i32; panels * LANES];
        for c in 0..n {
            let (p, lane) = (c / LANES, c % LANES);
            let z = zero_points[if zero_points.len() == 1 { 0 } else { c }];
            zps[c] = if signed { z } else { z - 128 };
            for l in 0..k {
                let w = (wt[c * ld + l] ^ flip) as i8;
                data[((p * groups + l / GROUP) * LANES + lane) * GROUP + l % GROUP] = w;
                sums[c] += i32::from(w);
            }
        }
        Ok(PackedQMatMulWeights {
            n,
            k,
            signed,
            data,
            sums,
            zero_points: zps,
        })
    }

    /// Output features.
    pub fn features(&self) -> usize {
        self.n
    }

    /// The reduction length.
    pub fn depth(&self) -> usize {
        self.k
    }

    /// The weight `W[l, c]` as given, decoded from the packing (for the oracle).
    pub(crate) fn raw(&self, l: usize, c: usize) -> i32 {
        let groups = self.k.div_ceil(GROUP);
        let (p, lane) = (c / LANES, c % LANES);
        let w = i32::from(self.data[((p * groups + l / GROUP) * LANES + lane) * GROUP + l % GROUP]);
        if self.signed {
            w
        } else {
            w + 128
        }
    }

    /// The zero point of feature `c` as given.
    pub(crate) fn zero_point(&self, c: usize) -> i32 {
        if self.signed {
            self.zero_points[c]
        } else {
            self.zero_points[c] + 128
        }
    }
}

/// One product: `A` (`[rows, k]`, row `j` at `a[j·lda ..]`) times the packed weights.
#[derive(Clone, Copy, Debug)]
pub struct QMatMulCall<'a> {
    /// Rows of `A` and `Y`.
    pub rows: usize,
    /// The activations (raw bytes of `u8` or `i8`).
    pub a: &'a [u8],
    /// Distance between rows of `A`, in elements (`>= k` when `rows > 1`).
    pub lda: usize,
    /// `A` holds `i8` (else `u8`).
    pub a_signed: bool,
    /// `A`'s zero point, inside its type's range.
    pub a_zero_point: i32,
    /// The weights.
    pub w: &'a PackedQMatMulWeights,
}

/// Where and how `acc` is stored: `Y` row-major, row `j` at `y[j·ldy ..]`, `n` features.
#[derive(Debug)]
pub enum QMatMulOutput<'a> {
    /// `y = acc`.
    I32 {
        /// The output.
        y: &'a mut [i32],
        /// Row stride.
        ldy: usize,
    },
    /// `y = acc as f32 · scale[c]` (one `f32` product; `scale` `n` long, finite), as
    /// [`crate::cpu::qgemm::QOutput::F32`] without a bias: the dynamic-quantization product.
    F32 {
        /// The output.
        y: &'a mut [f32],
        /// Row stride.
        ldy: usize,
        /// Per-feature scale.
        scale: &'a [f32],
    },
    /// As [`crate::cpu::qgemm::QOutput::Requant`] with per-feature `bias` (empty = zeros, else
    /// `n` long) and `scale` (`n` long, finite).
    Requant {
        /// The output bytes.
        y: &'a mut [u8],
        /// Row stride.
        ldy: usize,
        /// `i8` output (else `u8`).
        signed: bool,
        /// Per-feature `i32` bias.
        bias: &'a [i32],
        /// Per-feature scale.
        scale: &'a [f32],
        /// Output zero point, inside the output type's range.
        zero_point: i32,
        /// Lowest stored value, inside the output type's range.
        lo: i32,
        /// Highest stored value, `lo <= hi`, inside the output type's range.
        hi: i32,
    },
}

/// Computes the whole `Y` of a call.
pub type QMatMulFn = fn(&QMatMulCall<'_>, QMatMulOutput<'_>) -> Result<(), KernelError>;

/// The range of an 8-bit type.
fn type_range(signed: bool) -> std::ops::RangeInclusive<i32> {
    if signed {
        -128..=127
    } else {
        0..=255
    }
}

/// Checks a call and its output against each other (every variant runs this first).
pub(crate) fn validate(g: &QMatMulCall<'_>, out: &QMatMulOutput<'_>) -> Result<(), KernelError> {
    let (n, k) = (g.w.n, g.w.k);
    if !type_range(g.a_signed).contains(&g.a_zero_point) {
        return Err(KernelError::invalid(format!(
            "qmatmul: activation zero point {} is outside its type",
            g.a_zero_point
        )));
    }
    let extent = |rows: usize, ld: usize, width: usize, what: &str| {
        if rows > 1 && ld < width {
            return Err(KernelError::invalid(format!(
                "qmatmul: {what} rows overlap: ld {ld} < {width}"
            )));
        }
        if rows == 0 || width == 0 {
            return Ok(0);
        }
        (rows - 1)
            .checked_mul(ld)
            .and_then(|x| x.checked_add(width))
            .ok_or_else(|| KernelError::invalid(format!("qmatmul: {what} extent overflows usize")))
    };
    let need = extent(g.rows, g.lda, k, "A")?;
    if g.a.len() < need {
        return Err(KernelError::out_of_bounds(format!(
            "qmatmul: A needs {need} bytes, has {}",
            g.a.len()
        )));
    }
    let finite = |scale: &[f32]| {
        if scale.len() != n || scale.iter().any(|s| !s.is_finite()) {
            return Err(KernelError::invalid(format!(
                "qmatmul: {} scales for {n} features, each finite",
                scale.len()
            )));
        }
        Ok(())
    };
    let (len, ldy) = match out {
        QMatMulOutput::I32 { y, ldy } => (y.len(), *ldy),
        QMatMulOutput::F32 { y, ldy, scale } => {
            finite(scale)?;
            (y.len(), *ldy)
        }
        QMatMulOutput::Requant {
            y,
            ldy,
            signed,
            bias,
            scale,
            zero_point,
            lo,
            hi,
        } => {
            if !(bias.is_empty() || bias.len() == n) {
                return Err(KernelError::invalid(format!(
                    "qmatmul: {} biases for {n} features",
                    bias.len()
                )));
            }
            finite(scale)?;
            let range = type_range(*signed);
            if !range.contains(zero_point) || !range.contains(lo) || !range.contains(hi) || lo > hi
            {
                return Err(KernelError::invalid(format!(
                    "qmatmul: zero point {zero_point} or clamp [{lo}, {hi}] outside the output type"
                )));
            }
            (y.len(), *ldy)
        }
    };
    let need = extent(g.rows, ldy, n, "Y")?;
    if len < need {
        return Err(KernelError::out_of_bounds(format!(
            "qmatmul: Y needs {need} elements, has {len}"
        )));
    }
    Ok(())
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "qmatmul_i8_reference",
    true,
    reference::qmatmul,
);
/// AVX-512 VNNI: `vpdpbusd`, 8 rows × 32 features per tile.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512VNNI: Variant = variant(
    Isa::Avx512Vnni,
    "qmatmul_i8_avx512vnni_8x32",
    false,
    x86::qmatmul_vnni,
);

const fn variant(isa: Isa, name: &'static str, reference: bool, f: QMatMulFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "qmatmul",
            dtype: "i8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::QMatMul(f),
    }
}

/// The [`crate::cpu::KernelTable`] choice for this family: an optimised variant, or `None`
/// (the transposing path through `qgemm` is then faster than the oracle).
pub(crate) fn choose(
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> Option<(KernelInfo, QMatMulFn)> {
    select(variants(), "qmatmul", "i8", features, max_isa)
        .filter(|v| !v.info.reference)
        .and_then(|v| Some((v.info, v.qmatmul()?)))
}
