//! # mote-kernels: Mote's compute kernels
//!
//! **Design decision:** this crate is *compute only*. It knows nothing of graphs, model files,
//! tensors or a run-time `DType` enum: every kernel takes plain slices (`&[f32]`, `&mut [f32]`),
//! element strides and a small parameter struct, validates that every index it will touch is in
//! bounds, and returns [`KernelError`] otherwise — it never panics on bad arguments and never
//! reads out of bounds. The runtime (`mote`) decides *what* to compute; this crate decides *how*,
//! for the CPU it runs on. Conversely the runtime never sees an instruction set: no `std::arch`
//! outside this crate.
//!
//! Data flow: `runtime` lowers a plan step → asks [`cpu::table`] once for function pointers →
//! calls them with slices of its arena.
//!
//! ## Families, variants, tiers
//!
//! * A **family** is one kind of computation with one contract, e.g. `matmul`
//!   ([`cpu::matmul`]: `C = alpha·A·B + beta·C` + fused [`cpu::matmul::PostOp`]s) or `conv`
//!   ([`cpu::conv`]: `im2col` / `col2im` around matmul).
//! * Each family has a **scalar reference** (marked `reference: true` in its
//!   [`cpu::KernelInfo`]): a plain loop written to be obviously right. It is the oracle every
//!   other variant is tested against, and the last-resort fallback.
//! * Optimised **variants** are tagged with the [`cpu::Isa`] they need. Today: the portable
//!   cache-blocked `matmul_f32_generic_6x8` (autovectorised for the target baseline). Next:
//!   AVX2 / AVX-512 / NEON micro-kernels, written as one `#[inline(always)]` body behind
//!   `#[target_feature]` wrappers.
//! * [`cpu::variants`] lists every compiled variant; [`cpu::table`] picks, once per process, the
//!   most preferred variant per family that [`cpu::CpuFeatures::detect`] supports and the
//!   `MOTE_CPU_MAX_ISA` cap (`reference|scalar|avx2|avx512`) allows, and exposes it as a typed
//!   function-pointer field of [`cpu::KernelTable`]. No lookups or locks on the hot path.
//!
//! ## Adding a kernel
//!
//! 1. New family: a module under `src/cpu/<family>/` with the parameter struct, the `fn` type
//!    alias, a shared `validate`, `reference.rs` (the oracle) and `tests.rs` (a proptest that
//!    iterates [`cpu::variants`] and compares each supported variant with the reference; report
//!    unsupported ones as skipped). Then a [`cpu::Kernel`] case, a [`cpu::KernelTable`] field
//!    filled in `KernelTable::build`, and a reference entry in `VARIANTS`.
//! 2. New variant of a family: a file beside the others implementing the family's `fn` type
//!    (call the family's `validate` first), an entry in `VARIANTS` after the variants it should
//!    beat, named `<family>_<dtype>_<isa>[_<tile>]`. The family's proptest picks it up; add a
//!    bench case in `benches/` if it is not covered by iterating `variants()`.
//! 3. `unsafe` only where a `#[target_feature]` call or intrinsic needs it, each block with a
//!    `// SAFETY:` comment; pin every proptest failure as a named regression test.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod cpu;
mod error;

pub use error::{KernelError, KernelErrorKind};
