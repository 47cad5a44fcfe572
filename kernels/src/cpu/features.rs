//! What the CPU can run: feature detection, instruction-set tiers and the `MOTE_CPU_MAX_ISA` cap.

use std::fmt;

use crate::KernelError;

/// The name of the environment variable that caps the tier [`super::table`] may pick.
pub const MAX_ISA_ENV: &str = "MOTE_CPU_MAX_ISA";

/// CPU features relevant to Mote's kernels, detected at run time. Fields of the other
/// architecture are always `false`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CpuFeatures {
    /// x86_64 AVX2.
    pub avx2: bool,
    /// x86_64 FMA3.
    pub fma: bool,
    /// x86_64 F16C (f16 <-> f32 conversion).
    pub f16c: bool,
    /// x86_64 AVX-512 Foundation.
    pub avx512f: bool,
    /// x86_64 AVX-512 byte/word instructions.
    pub avx512bw: bool,
    /// x86_64 AVX-512 on 128/256-bit vectors.
    pub avx512vl: bool,
    /// x86_64 AVX-512 VNNI (int8 dot products).
    pub avx512vnni: bool,
    /// x86_64 AVX-512 FP16 arithmetic.
    pub avx512fp16: bool,
    /// x86_64 AVX-512 VBMI (byte permutes: `vpermi2b`).
    pub avx512vbmi: bool,
    /// x86_64 AVX-VNNI (the VEX-encoded, 256-bit int8 dot products of CPUs without AVX-512).
    pub avxvnni: bool,
    /// aarch64 Advanced SIMD.
    pub neon: bool,
    /// aarch64 `SDOT`/`UDOT` (Armv8.2 dot product; optional before Armv8.4).
    pub dotprod: bool,
}

impl CpuFeatures {
    /// Detects the running CPU's features, probed once per process: the kernels that check
    /// their ISA on every call (the quantize family, the direct conv) would otherwise pay ten
    /// cached-but-checked probes each time, about 1 % of a small 8-bit model's run.
    pub fn detect() -> Self {
        static DETECTED: std::sync::OnceLock<CpuFeatures> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(Self::probe)
    }

    fn probe() -> Self {
        #[allow(unused_mut)] // Nothing to set on other architectures.
        let mut f = Self::default();
        #[cfg(target_arch = "x86_64")]
        {
            f.avx2 = std::arch::is_x86_feature_detected!("avx2");
            f.fma = std::arch::is_x86_feature_detected!("fma");
            f.f16c = std::arch::is_x86_feature_detected!("f16c");
            f.avx512f = std::arch::is_x86_feature_detected!("avx512f");
            f.avx512bw = std::arch::is_x86_feature_detected!("avx512bw");
            f.avx512vl = std::arch::is_x86_feature_detected!("avx512vl");
            f.avx512vnni = std::arch::is_x86_feature_detected!("avx512vnni");
            f.avx512fp16 = std::arch::is_x86_feature_detected!("avx512fp16");
            f.avx512vbmi = std::arch::is_x86_feature_detected!("avx512vbmi");
            f.avxvnni = std::arch::is_x86_feature_detected!("avxvnni");
        }
        #[cfg(target_arch = "aarch64")]
        {
            f.neon = std::arch::is_aarch64_feature_detected!("neon");
            f.dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
        }
        f
    }

    /// Whether a kernel compiled for `isa` may run on this CPU.
    pub fn supports(&self, isa: Isa) -> bool {
        let avx512 = self.avx2 && self.fma && self.avx512f && self.avx512bw && self.avx512vl;
        match isa {
            Isa::Generic => true,
            Isa::Avx2 => self.avx2 && self.fma,
            Isa::AvxVnni => self.avx2 && self.fma && self.avxvnni,
            Isa::Avx512 => avx512,
            Isa::Avx512Vnni => avx512 && self.avx512vnni,
            Isa::Avx512Fp16 => avx512 && self.avx512fp16,
            Isa::Avx512Vbmi => avx512 && self.avx512vbmi,
            Isa::Neon => self.neon,
            Isa::NeonDotprod => self.neon && self.dotprod,
        }
    }
}

/// The instruction set a kernel variant is compiled for, in tiers: a table picks the highest tier
/// the CPU [`supports`](CpuFeatures::supports) and the cap allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable Rust compiled for the target's baseline (SSE2 on x86_64, NEON on aarch64 through
    /// autovectorisation only). Runs everywhere; the reference kernels are `Generic` too.
    Generic,
    /// x86_64 AVX2 + FMA.
    Avx2,
    /// [`Isa::Avx2`] + AVX-VNNI (256-bit int8 dot products without AVX-512).
    AvxVnni,
    /// x86_64 AVX-512 F + BW + VL.
    Avx512,
    /// [`Isa::Avx512`] + VNNI.
    Avx512Vnni,
    /// [`Isa::Avx512`] + FP16.
    Avx512Fp16,
    /// [`Isa::Avx512`] + VBMI (byte permutes).
    Avx512Vbmi,
    /// aarch64 NEON intrinsics.
    Neon,
    /// [`Isa::Neon`] + the dot-product extension (`SDOT`).
    NeonDotprod,
}

impl Isa {
    /// The lower-case name used in kernel names (`<family>_<dtype>_<isa>[_<tile>]`).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avxvnni",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Avx512Fp16 => "avx512fp16",
            Isa::Avx512Vbmi => "avx512vbmi",
            Isa::Neon => "neon",
            Isa::NeonDotprod => "neondot",
        }
    }

    /// 0 = generic, 1 = 256-bit x86 / NEON, 2 = AVX-512 family. Used for preference and caps.
    pub(crate) fn level(self) -> u8 {
        match self {
            Isa::Generic => 0,
            Isa::Avx2 | Isa::AvxVnni | Isa::Neon | Isa::NeonDotprod => 1,
            Isa::Avx512 | Isa::Avx512Vnni | Isa::Avx512Fp16 | Isa::Avx512Vbmi => 2,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cap on the tier the kernel table may use, so lower tiers can be tested and benchmarked on a
/// machine that has higher ones. Set through [`MAX_ISA_ENV`] or passed to
/// [`KernelTable::build`](super::KernelTable::build).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MaxIsa {
    /// Only the scalar reference kernels (the oracles); for debugging, very slow.
    Reference,
    /// `scalar` (or `generic`): portable kernels only, no run-time-selected SIMD.
    Scalar,
    /// Up to AVX2 + FMA (on aarch64: up to NEON).
    Avx2,
    /// Up to the AVX-512 family (the same as no cap today).
    Avx512,
}

impl MaxIsa {
    /// Parses `reference`, `scalar` (alias `generic`), `avx2` or `avx512`, ignoring ASCII case and
    /// surrounding whitespace.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reference" => Some(MaxIsa::Reference),
            "scalar" | "generic" => Some(MaxIsa::Scalar),
            "avx2" => Some(MaxIsa::Avx2),
            "avx512" => Some(MaxIsa::Avx512),
            _ => None,
        }
    }

    /// Reads [`MAX_ISA_ENV`]: `Ok(None)` when unset or empty, `Err` for a value [`parse`]
    /// rejects. ([`super::table`] ignores an invalid value; call this to report it.)
    ///
    /// [`parse`]: MaxIsa::parse
    pub fn from_env() -> Result<Option<Self>, KernelError> {
        match std::env::var(MAX_ISA_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(v)) => Err(KernelError::invalid(format!(
                "{MAX_ISA_ENV}={v:?} is not UTF-8"
            ))),
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => Self::parse(&v).map(Some).ok_or_else(|| {
                KernelError::invalid(format!(
                    "{MAX_ISA_ENV}={v:?}: expected reference, scalar, avx2 or avx512"
                ))
            }),
        }
    }

    /// Whether an optimised (non-reference) kernel for `isa` is allowed under this cap.
    pub fn allows(self, isa: Isa) -> bool {
        match self {
            MaxIsa::Reference => false,
            MaxIsa::Scalar => isa.level() == 0,
            MaxIsa::Avx2 => isa.level() <= 1,
            MaxIsa::Avx512 => isa.level() <= 2,
        }
    }
}
