//! CPU kernels and their dispatch.
//!
//! Every family (matmul, conv, ...) has a scalar reference — the oracle — and zero or more
//! optimised variants, each tagged with the [`Isa`] it needs. [`variants`] lists them all (tests
//! and benches iterate it); [`table`] picks one per family, once, from [`CpuFeatures::detect`] and
//! the `MOTE_CPU_MAX_ISA` cap, and hands out plain function pointers: nothing is looked up on the
//! hot path.

pub mod activation;
pub mod binary;
pub mod bytesum;
pub mod conv;
pub mod depthwise;
pub mod direct_conv;
mod features;
pub mod layernorm;
pub mod matmul;
pub mod peak;
pub mod pool;
// Quantized (8-bit) element-wise and depthwise families.
pub mod qdepthwise;
pub mod qgemm;
pub mod qmatmul;
pub mod qresize;
pub mod quantize;
pub mod reduce;
pub mod softmax;
pub mod transpose;

use std::sync::OnceLock;

pub use features::{CpuFeatures, Isa, MaxIsa, MAX_ISA_ENV};
use matmul::{GemmBlockFn, GemmFn, SgemmFn, SgemmFusedFn, TileShape};
pub use pool::PoolKernels;

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
    /// An `activation` / `f32` variant.
    Activate(activation::ActivateFn),
    /// A `softmax` / `f32` variant.
    Softmax(softmax::SoftmaxFn),
    /// A `layernorm` / `f32` variant.
    LayerNorm(layernorm::LayerNormFn),
    /// A `depthwise` / `f32` variant.
    Depthwise(depthwise::DepthwiseFn),
    /// A `pool` / `f32` variant.
    Pool(PoolKernels),
    /// A `binary` / `f32` variant.
    Binary(binary::BinaryFn),
    /// A `direct_conv` / `f32` variant.
    DirectConv(direct_conv::DirectConvKernel),
    /// A `reduce` / `f32` variant.
    Reduce(reduce::ReduceFn),
    /// A `transpose` / `f32` variant.
    Transpose(transpose::TransposeFn),
    // Quantized (8-bit) element-wise and depthwise families.
    /// A `qdepthwise` / `u8` variant.
    QDepthwise(qdepthwise::QDepthwiseFn),
    /// A `qgemm` / `i8` variant.
    QGemm(qgemm::QGemmKernels),
    /// A `quantize` / `u8` variant.
    Quantize(quantize::QuantizeKernels),
    /// A `qmatmul` / `i8` variant.
    QMatMul(qmatmul::QMatMulFn),
    /// A `qsoftmax` / `u8` variant.
    QSoftmax(softmax::quantized::QSoftmaxFn),
    /// A `bytesum` / `u8` variant.
    ByteSums(bytesum::ByteSumsFn),
    /// A `qresize` / `u8` variant.
    QResize(qresize::QResizeFn),
}

/// Entry points of one `f32` matmul variant.
#[derive(Clone, Copy, Debug)]
pub struct SgemmKernels {
    /// Without post-ops.
    pub sgemm: SgemmFn,
    /// With a fused post-op list.
    pub sgemm_fused: SgemmFusedFn,
    /// Strided or packed operands, fused post-ops.
    pub gemm: GemmFn,
    /// `gemm` on one column block of `C`.
    pub gemm_block: GemmBlockFn,
    /// The tile packed operands must be packed for (`None` for the reference, which reads any).
    pub tile: Option<TileShape>,
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
            _ => None,
        }
    }

    /// The in-place activation, if this is an `activation` / `f32` variant.
    pub fn activate(&self) -> Option<activation::ActivateFn> {
        match self.kernel {
            Kernel::Activate(f) => Some(f),
            _ => None,
        }
    }

    /// The 8-bit row-major product, if this is a `qmatmul` / `i8` variant.
    pub fn qmatmul(&self) -> Option<qmatmul::QMatMulFn> {
        match self.kernel {
            Kernel::QMatMul(f) => Some(f),
            _ => None,
        }
    }

    /// The 8-bit row softmax, if this is a `qsoftmax` / `u8` variant.
    pub fn qsoftmax(&self) -> Option<softmax::quantized::QSoftmaxFn> {
        match self.kernel {
            Kernel::QSoftmax(f) => Some(f),
            _ => None,
        }
    }

    /// The byte row sums, if this is a `bytesum` / `u8` variant.
    pub fn byte_sums(&self) -> Option<bytesum::ByteSumsFn> {
        match self.kernel {
            Kernel::ByteSums(f) => Some(f),
            _ => None,
        }
    }

    /// The 8-bit resize, if this is a `qresize` / `u8` variant.
    pub fn qresize(&self) -> Option<qresize::QResizeFn> {
        match self.kernel {
            Kernel::QResize(f) => Some(f),
            _ => None,
        }
    }

    /// The row softmax, if this is a `softmax` / `f32` variant.
    pub fn softmax(&self) -> Option<softmax::SoftmaxFn> {
        match self.kernel {
            Kernel::Softmax(f) => Some(f),
            _ => None,
        }
    }

    /// The row layer norm, if this is a `layernorm` / `f32` variant.
    pub fn layer_norm(&self) -> Option<layernorm::LayerNormFn> {
        match self.kernel {
            Kernel::LayerNorm(f) => Some(f),
            _ => None,
        }
    }

    /// The depthwise convolution, if this is a `depthwise` / `f32` variant.
    pub fn depthwise(&self) -> Option<depthwise::DepthwiseFn> {
        match self.kernel {
            Kernel::Depthwise(f) => Some(f),
            _ => None,
        }
    }

    /// The pooling entry points, if this is a `pool` / `f32` variant.
    pub fn pool(&self) -> Option<PoolKernels> {
        match self.kernel {
            Kernel::Pool(k) => Some(k),
            _ => None,
        }
    }

    /// The direct convolution, if this is a `direct_conv` / `f32` variant.
    pub fn direct_conv(&self) -> Option<direct_conv::DirectConvKernel> {
        match self.kernel {
            Kernel::DirectConv(k) => Some(k),
            _ => None,
        }
    }

    /// The element-wise arithmetic, if this is a `binary` / `f32` variant.
    pub fn binary(&self) -> Option<binary::BinaryFn> {
        match self.kernel {
            Kernel::Binary(f) => Some(f),
            _ => None,
        }
    }

    /// The reduction, if this is a `reduce` / `f32` variant.
    pub fn reduce(&self) -> Option<reduce::ReduceFn> {
        match self.kernel {
            Kernel::Reduce(f) => Some(f),
            _ => None,
        }
    }

    /// The quantized GEMM entry points, if this is a `qgemm` / `i8` variant.
    pub fn qgemm(&self) -> Option<qgemm::QGemmKernels> {
        match self.kernel {
            Kernel::QGemm(k) => Some(k),
            _ => None,
        }
    }

    /// The batched 2-D transpose, if this is a `transpose` / `f32` variant.
    pub fn transpose(&self) -> Option<transpose::TransposeFn> {
        match self.kernel {
            Kernel::Transpose(f) => Some(f),
            _ => None,
        }
    }

    // Quantized (8-bit) element-wise and depthwise families.

    /// The quantized depthwise convolution, if this is a `qdepthwise` / `u8` variant.
    pub fn qdepthwise(&self) -> Option<qdepthwise::QDepthwiseFn> {
        match self.kernel {
            Kernel::QDepthwise(f) => Some(f),
            _ => None,
        }
    }

    /// The quantize / dequantize / quantized element-wise entry points, if this is a
    /// `quantize` / `u8` variant.
    pub fn quantize(&self) -> Option<quantize::QuantizeKernels> {
        match self.kernel {
            Kernel::Quantize(k) => Some(k),
            _ => None,
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
    gemm: matmul::reference::gemm,
    gemm_block: matmul::reference::gemm_block,
    tile: None,
};

/// The entry points of the optimised matmul variant built on micro-kernel `K`.
const fn sgemm_variant<K: matmul::MicroKernel>(isa: Isa, name: &'static str) -> Variant {
    Variant {
        info: KernelInfo {
            family: "matmul",
            dtype: "f32",
            isa,
            name,
            reference: false,
        },
        kernel: Kernel::Sgemm(SgemmKernels {
            sgemm: matmul::driver::sgemm::<K>,
            sgemm_fused: matmul::driver::sgemm_fused::<K>,
            gemm: matmul::driver::gemm::<K>,
            gemm_block: matmul::driver::gemm_block::<K>,
            tile: Some(K::TILE),
        }),
    }
}

/// Every variant compiled into this binary, for every family, in increasing order of preference
/// within a family; the references come first.
static VARIANTS: &[Variant] = &[
    SGEMM_REFERENCE,
    sgemm_variant::<matmul::generic::Generic6x8>(Isa::Generic, "matmul_f32_generic_6x8"),
    #[cfg(target_arch = "x86_64")]
    sgemm_variant::<matmul::avx2::Avx2x6x16>(Isa::Avx2, "matmul_f32_avx2_6x16"),
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    sgemm_variant::<matmul::avx512::Avx512x8x32>(Isa::Avx512, "matmul_f32_avx512_8x32"),
    #[cfg(target_arch = "aarch64")]
    sgemm_variant::<matmul::neon::Neon8x8>(Isa::Neon, "matmul_f32_neon_8x8"),
    activation::variants::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    activation::variants::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    activation::variants::AVX512,
    #[cfg(target_arch = "aarch64")]
    activation::variants::NEON,
    softmax::variants::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    softmax::variants::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    softmax::variants::AVX512,
    #[cfg(target_arch = "aarch64")]
    softmax::variants::NEON,
    layernorm::variants::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    layernorm::variants::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    layernorm::variants::AVX512,
    #[cfg(target_arch = "aarch64")]
    layernorm::variants::NEON,
    depthwise::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    depthwise::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    depthwise::AVX512,
    #[cfg(target_arch = "aarch64")]
    depthwise::NEON,
    pool::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    pool::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    pool::AVX512,
    #[cfg(target_arch = "aarch64")]
    pool::NEON,
    binary::variants::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    binary::variants::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    binary::variants::AVX512,
    #[cfg(target_arch = "aarch64")]
    binary::variants::NEON,
    direct_conv::REFERENCE,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    direct_conv::AVX512,
    reduce::variants::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    reduce::variants::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    reduce::variants::AVX512,
    #[cfg(target_arch = "aarch64")]
    reduce::variants::NEON,
    transpose::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    transpose::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    transpose::AVX512,
    #[cfg(target_arch = "aarch64")]
    transpose::NEON,
    // Quantized (8-bit) element-wise and depthwise families.
    qdepthwise::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    qdepthwise::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    qdepthwise::AVX512,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    qdepthwise::AVX512_VNNI,
    #[cfg(target_arch = "aarch64")]
    qdepthwise::NEON,
    qgemm::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    qgemm::AVX2,
    #[cfg(target_arch = "x86_64")]
    qgemm::AVXVNNI,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    qgemm::AVX512VNNI,
    #[cfg(target_arch = "aarch64")]
    qgemm::NEON,
    qmatmul::REFERENCE,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    qmatmul::AVX512VNNI,
    bytesum::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    bytesum::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    bytesum::AVX512,
    qresize::REFERENCE,
    qresize::PORTABLE,
    #[cfg(target_arch = "x86_64")]
    qresize::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    qresize::AVX512,
    softmax::quantized::REFERENCE,
    softmax::quantized::PORTABLE,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    softmax::quantized::AVX512,
    quantize::REFERENCE,
    #[cfg(target_arch = "x86_64")]
    quantize::AVX2,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    quantize::AVX512,
    #[cfg(all(target_arch = "x86_64", feature = "avx512"))]
    quantize::AVX512_VBMI,
    #[cfg(target_arch = "aarch64")]
    quantize::NEON,
    #[cfg(target_arch = "aarch64")]
    qgemm::NEON_DOT,
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
    /// Strided or packed operands with fused post-ops.
    pub gemm: GemmFn,
    /// `gemm` on one column block of `C` (threads split `C` by columns).
    pub gemm_block: GemmBlockFn,
    /// The tile to pack `gemm`'s operands for ([`matmul::PackedA::pack`]); `None` when `gemm`
    /// is the reference (pack for any tile, e.g. [`matmul::DEFAULT_TILE`]).
    pub sgemm_tile: Option<TileShape>,
    /// Which variant `sgemm`, `sgemm_fused` and `gemm` come from.
    pub sgemm_info: KernelInfo,
    /// In-place element-wise activation of a slice.
    pub activate: activation::ActivateFn,
    /// Softmax / log-softmax over contiguous rows.
    pub softmax: softmax::SoftmaxFn,
    /// Layer normalization over contiguous rows.
    pub layer_norm: layernorm::LayerNormFn,
    /// `f32` 2-D depthwise convolution with fused bias and activation.
    pub depthwise: depthwise::DepthwiseFn,
    /// Which variant `depthwise` comes from.
    pub depthwise_info: KernelInfo,
    /// `f32` 2-D max / average pooling.
    pub pool2d: pool::Pool2dFn,
    /// `f32` global max / average pooling.
    pub global_pool: pool::GlobalPoolFn,
    /// Which variant `pool2d` and `global_pool` come from.
    pub pool_info: KernelInfo,
    /// `f32` element-wise `+ - · /` with either operand repeated.
    pub binary: binary::BinaryFn,
    /// `f32` direct 2-D convolution at stride 1, and which variant it is; `None` where no
    /// optimised variant runs (the im2col GEMM is then the faster way).
    pub direct_conv: Option<(KernelInfo, direct_conv::DirectConvKernel)>,
    /// `f32` sums, maxima and minima along one axis.
    pub reduce: reduce::ReduceFn,
    /// `f32` batched 2-D transpose with strided rows (any 4-byte element: it only moves bits).
    pub transpose: transpose::TransposeFn,
    /// Which variant `transpose` comes from.
    pub transpose_info: KernelInfo,
    // Quantized (8-bit) element-wise and depthwise families.
    /// 8-bit depthwise convolution with an 8-bit or `f32` output.
    pub qdepthwise: qdepthwise::QDepthwiseFn,
    /// Which variant `qdepthwise` comes from.
    pub qdepthwise_info: KernelInfo,
    /// 8-bit GEMM with a requantising epilogue, on columns of the whole `C`.
    pub qgemm: qgemm::QGemmFn,
    /// `qgemm` on one column block of `C` (threads split `C` by columns).
    pub qgemm_block: qgemm::QGemmBlockFn,
    /// The layout to pack `qgemm`'s weights in ([`qgemm::PackedQWeights::pack`]).
    pub qgemm_layout: qgemm::QLayout,
    /// Which variant `qgemm` comes from.
    pub qgemm_info: KernelInfo,
    /// `f32` → 8-bit QuantizeLinear.
    pub quantize: quantize::QuantizeFn,
    /// 8-bit → `f32` DequantizeLinear.
    pub dequantize: quantize::DequantizeFn,
    /// Quantized element-wise binary op (through float, QDQ semantics).
    pub qbinary: quantize::QBinaryFn,
    /// [`KernelTable::qbinary`] with one operand repeated per run.
    pub qbinary_runs: quantize::QBinaryRunsFn,
    /// 8-bit → 8-bit change of quantization.
    pub requantize: quantize::RequantizeFn,
    /// 256-entry byte table lookup.
    pub lut8: quantize::Lut8Fn,
    /// 8-bit product of row-major activations and packed constant weights
    /// ([`qmatmul::PackedQMatMulWeights`]), and which variant it is; `None` where no optimised
    /// variant runs (the transposing path through `qgemm` is then the faster way).
    pub qmatmul: Option<(KernelInfo, qmatmul::QMatMulFn)>,
    /// 8-bit softmax over contiguous rows.
    pub qsoftmax: softmax::quantized::QSoftmaxFn,
    /// Exact sums of rows of bytes.
    pub byte_sums: bytesum::ByteSumsFn,
    /// 8-bit linear / cubic resize of planes.
    pub qresize: qresize::QResizeFn,
    /// Which variant `quantize` ... `lut8` come from.
    pub quantize_info: KernelInfo,
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
        let (depthwise_info, depthwise) = depthwise::choose(&features, max_isa);
        let (pool_info, pool) = pool::choose(&features, max_isa);
        let (transpose_info, transpose) = transpose::choose(&features, max_isa);
        // Quantized (8-bit) element-wise and depthwise families.
        let (qdepthwise_info, qdepthwise) = qdepthwise::choose(&features, max_isa);
        let (qgemm_info, q) = qgemm::choose(&features, max_isa);
        let (quantize_info, qk) = quantize::choose(&features, max_isa);
        Self {
            sgemm: k.sgemm,
            sgemm_fused: k.sgemm_fused,
            gemm: k.gemm,
            gemm_block: k.gemm_block,
            sgemm_tile: k.tile,
            sgemm_info,
            activate: activation::variants::choose(&features, max_isa),
            softmax: softmax::variants::choose(&features, max_isa),
            layer_norm: layernorm::variants::choose(&features, max_isa),
            depthwise,
            depthwise_info,
            pool2d: pool.pool2d,
            global_pool: pool.global_pool,
            pool_info,
            binary: binary::variants::choose(&features, max_isa),
            direct_conv: direct_conv::choose(&features, max_isa),
            reduce: reduce::variants::choose(&features, max_isa),
            transpose,
            transpose_info,
            // Quantized (8-bit) element-wise and depthwise families.
            qdepthwise,
            qdepthwise_info,
            qgemm: q.qgemm,
            qgemm_block: q.qgemm_block,
            qgemm_layout: q.layout,
            qgemm_info,
            qmatmul: qmatmul::choose(&features, max_isa),
            qsoftmax: softmax::quantized::choose(&features, max_isa),
            byte_sums: bytesum::choose(&features, max_isa),
            qresize: qresize::choose(&features, max_isa),
            quantize: qk.quantize,
            dequantize: qk.dequantize,
            qbinary: qk.qbinary,
            qbinary_runs: qk.qbinary_runs,
            requantize: qk.requantize,
            lut8: qk.lut8,
            quantize_info,
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

/// The non-reference variants that `pick` recognises and this CPU runs, by name, for tests to
/// compare with the reference. The others are reported as skipped (`scripts/test_neon.sh`
/// fails on that line).
#[cfg(test)]
pub(crate) fn supported_variants<F>(pick: fn(&Variant) -> Option<F>) -> Vec<(&'static str, F)> {
    variants()
        .iter()
        .filter(|v| !v.info.reference)
        .filter_map(|v| {
            let f = pick(v)?;
            if v.is_supported() {
                Some((v.info.name, f))
            } else {
                eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
                None
            }
        })
        .collect()
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
