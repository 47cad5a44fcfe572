//! CPU kernels and their dispatch.
//!
//! Every family (matmul, conv, ...) has a scalar reference — the oracle — and zero or more
//! optimised variants, each tagged with the [`Isa`] it needs. [`variants`] lists them all (tests
//! and benches iterate it); [`table`] picks one per family, once, from [`CpuFeatures::detect`] and
//! the `MOTE_CPU_MAX_ISA` cap, and hands out plain function pointers: nothing is looked up on the
//! hot path.

pub mod conv;
mod features;
pub mod matmul;

use std::sync::OnceLock;

pub use features::{CpuFeatures, Isa, MaxIsa, MAX_ISA_ENV};
use matmul::{SgemmFn, SgemmFusedFn};

/// The "op + dtype + arch" key of one compiled kernel variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KernelInfo {
    /// Kernel family, e.g. `"matmul"`.
    pub family: &'static str,
    /// Element type, e.g. `"f32"`.
    pub dtype: &'static str,
    /// Instruction set the variant needs.
    pub isa: Isa,
    /// Unique name, `<family>_<dtype>_<isa>[_<tile>]` or `<family>_<dtype>_reference`.
    pub name: &'static str,
    /// `true` for the scalar reference: the oracle the other variants are tested against.
    pub reference: bool,
}

/// The typed entry points of one variant.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Kernel {
    /// A `matmul` / `f32` variant.
    Sgemm(SgemmKernels),
}

/// Entry points of one `f32` matmul variant.
#[derive(Clone, Copy, Debug)]
pub struct SgemmKernels {
    /// Without post-ops.
    pub sgemm: SgemmFn,
    /// With a fused post-op list.
    pub sgemm_fused: SgemmFusedFn,
}

/// One compiled kernel variant: what it is and how to call it.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// Name, family, dtype, ISA.
    pub info: KernelInfo,
    /// Function pointers.
    pub kernel: Kernel,
}

impl Variant {
    /// Whether the running CPU can execute this variant (tests report the others as skipped).
    pub fn is_supported(&self) -> bool {
        CpuFeatures::detect().supports(self.info.isa)
    }

    /// The matmul entry points, if this is a `matmul` / `f32` variant.
    pub fn sgemm(&self) -> Option<SgemmKernels> {
        match self.kernel {
            Kernel::Sgemm(k) => Some(k),
        }
    }
}

/// The matmul oracle.
const SGEMM_REFERENCE: Variant = Variant {
    info: KernelInfo {
        family: "matmul",
        dtype: "f32",
        isa: Isa::Generic,
        name: "matmul_f32_reference",
        reference: true,
    },
    kernel: Kernel::Sgemm(SGEMM_REFERENCE_KERNELS),
};
const SGEMM_REFERENCE_KERNELS: SgemmKernels = SgemmKernels {
    sgemm: matmul::reference::sgemm,
    sgemm_fused: matmul::reference::sgemm_fused,
};

/// Every variant compiled into this binary, for every family, in increasing order of preference
/// within a family; the references come first.
static VARIANTS: &[Variant] = &[
    SGEMM_REFERENCE,
    Variant {
        info: KernelInfo {
            family: "matmul",
            dtype: "f32",
            isa: Isa::Generic,
            name: "matmul_f32_generic_6x8",
            reference: false,
        },
        kernel: Kernel::Sgemm(SgemmKernels {
            sgemm: matmul::blocked::sgemm,
            sgemm_fused: matmul::blocked::sgemm_fused,
        }),
    },
];

/// Every compiled variant (including ones this CPU cannot run: check [`Variant::is_supported`]).
pub fn variants() -> &'static [Variant] {
    VARIANTS
}

/// The kernel chosen for each family: one typed function-pointer field per family × dtype.
///
/// Build it once ([`table`] for the process-wide one, or [`KernelTable::build`] with explicit
/// features and cap) and copy the pointers out at prepare time.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct KernelTable {
    /// `f32` GEMM without post-ops.
    pub sgemm: SgemmFn,
    /// `f32` GEMM with fused post-ops.
    pub sgemm_fused: SgemmFusedFn,
    /// Which variant `sgemm` and `sgemm_fused` come from.
    pub sgemm_info: KernelInfo,
    /// The features the table was built for.
    pub features: CpuFeatures,
    /// The cap the table was built under.
    pub max_isa: Option<MaxIsa>,
}

impl KernelTable {
    /// Picks, for every family, the most preferred variant that `features` supports and `max_isa`
    /// allows (the reference if `max_isa` is [`MaxIsa::Reference`] or nothing else qualifies).
    pub fn build(features: CpuFeatures, max_isa: Option<MaxIsa>) -> Self {
        let (sgemm_info, k) = select(VARIANTS, "matmul", "f32", &features, max_isa)
            .and_then(|v| Some((v.info, v.sgemm()?)))
            .unwrap_or((SGEMM_REFERENCE.info, SGEMM_REFERENCE_KERNELS));
        Self {
            sgemm: k.sgemm,
            sgemm_fused: k.sgemm_fused,
            sgemm_info,
            features,
            max_isa,
        }
    }
}

/// The process-wide table: detected features, capped by `MOTE_CPU_MAX_ISA` (an unparsable value
/// is ignored; [`MaxIsa::from_env`] reports it). Built on first use.
pub fn table() -> &'static KernelTable {
    static TABLE: OnceLock<KernelTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        KernelTable::build(CpuFeatures::detect(), MaxIsa::from_env().ok().flatten())
    })
}

/// The last (most preferred) variant of `family`/`dtype` that qualifies, else its reference.
fn select<'v>(
    variants: &'v [Variant],
    family: &str,
    dtype: &str,
    features: &CpuFeatures,
    max_isa: Option<MaxIsa>,
) -> Option<&'v Variant> {
    let mut of_family = variants
        .iter()
        .filter(|v| v.info.family == family && v.info.dtype == dtype);
    let qualifies = |v: &&Variant| {
        !v.info.reference
            && features.supports(v.info.isa)
            && max_isa.is_none_or(|cap| cap.allows(v.info.isa))
    };
    of_family
        .clone()
        .rfind(qualifies)
        .or_else(|| of_family.find(|v| v.info.reference))
}

#[cfg(test)]
mod tests;
