//! Sums of rows of bytes: `sums[r] = Σ_i x[r·row_len + i]`, each byte read as `u8` or (`signed`)
//! `i8`, exactly in `i64`. A quantized GlobalAveragePool is one call over its planes (the mean
//! and its rounding are the caller's, once per plane).
//!
//! Variants: `reference` (**the oracle**), AVX2 and AVX-512 BW (`x86.rs`: `vpsadbw` sums 8
//! bytes into a 64-bit lane per instruction; `i8` bytes are summed as `b ^ 0x80 = b + 128`
//! and corrected once per row). Every variant is exact, so all agree with the oracle bit for
//! bit.

#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::cpu::{select, variants, CpuFeatures, Isa, Kernel, KernelInfo, MaxIsa, Variant};
use crate::KernelError;

/// Row sums of `x` (`sums.len()` rows of `row_len` bytes) into `sums`.
pub type ByteSumsFn =
    fn(x: &[u8], row_len: usize, signed: bool, sums: &mut [i64]) -> Result<(), KernelError>;

/// [`ByteSumsFn`] with the best kernel of this CPU ([`crate::cpu::table`]).
pub fn byte_sums(
    x: &[u8],
    row_len: usize,
    signed: bool,
    sums: &mut [i64],
) -> Result<(), KernelError> {
    (crate::cpu::table().byte_sums)(x, row_len, signed, sums)
}

/// `Err` unless `x` holds exactly `sums.len()` rows of `row_len` bytes.
pub(crate) fn validate(x: &[u8], row_len: usize, sums: &[i64]) -> Result<(), KernelError> {
    match sums.len().checked_mul(row_len) {
        Some(n) if n == x.len() => Ok(()),
        _ => Err(KernelError::out_of_bounds(format!(
            "byte_sums: {} bytes are not {} rows of {row_len}",
            x.len(),
            sums.len()
        ))),
    }
}

/// The oracle: one byte at a time.
pub(crate) fn byte_sums_reference(
    x: &[u8],
    row_len: usize,
    signed: bool,
    sums: &mut [i64],
) -> Result<(), KernelError> {
    validate(x, row_len, sums)?;
    for (r, sum) in sums.iter_mut().enumerate() {
        let row = &x[r * row_len..(r + 1) * row_len];
        *sum = row
            .iter()
            .map(|&b| if signed { b as i8 as i64 } else { b as i64 })
            .sum();
    }
    Ok(())
}

const fn variant(isa: Isa, name: &'static str, reference: bool, f: ByteSumsFn) -> Variant {
    Variant {
        info: KernelInfo {
            family: "bytesum",
            dtype: "u8",
            isa,
            name,
            reference,
        },
        kernel: Kernel::ByteSums(f),
    }
}

/// The oracle's registry entry.
pub(crate) const REFERENCE: Variant = variant(
    Isa::Generic,
    "bytesum_u8_reference",
    true,
    byte_sums_reference,
);
/// The AVX2 entry.
#[cfg(target_arch = "x86_64")]
pub(crate) const AVX2: Variant = variant(Isa::Avx2, "bytesum_u8_avx2", false, x86::byte_sums_avx2);
/// The AVX-512 BW entry.
#[cfg(all(target_arch = "x86_64", feature = "avx512"))]
pub(crate) const AVX512: Variant = variant(
    Isa::Avx512,
    "bytesum_u8_avx512",
    false,
    x86::byte_sums_avx512,
);

/// The [`crate::cpu::KernelTable`] choice for this family (the oracle where nothing faster runs:
/// its loop vectorizes on any target).
pub(crate) fn choose(features: &CpuFeatures, max_isa: Option<MaxIsa>) -> ByteSumsFn {
    select(variants(), "bytesum", "u8", features, max_isa)
        .and_then(Variant::byte_sums)
        .unwrap_or(byte_sums_reference)
}
