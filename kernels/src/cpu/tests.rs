//! Dispatch: the table picks the right variant for features and caps; variants are well formed.

use super::*;

fn all_features() -> CpuFeatures {
    CpuFeatures {
        avx2: true,
        fma: true,
        f16c: true,
        avx512f: true,
        avx512bw: true,
        avx512vl: true,
        avx512vnni: true,
        avx512fp16: true,
        avx512vbmi: true,
        avxvnni: true,
        neon: true,
        dotprod: true,
    }
}

#[test]
fn every_family_has_exactly_one_reference_and_unique_names() {
    let mut names: Vec<_> = variants().iter().map(|v| v.info.name).collect();
    for v in variants() {
        let refs = variants()
            .iter()
            .filter(|w| w.info.family == v.info.family && w.info.dtype == v.info.dtype)
            .filter(|w| w.info.reference)
            .count();
        assert_eq!(refs, 1, "{}/{}", v.info.family, v.info.dtype);
        assert!(v
            .info
            .name
            .starts_with(&format!("{}_{}_", v.info.family, v.info.dtype)));
        if v.info.reference {
            assert_eq!(v.info.isa, Isa::Generic, "references run everywhere");
        }
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), variants().len());
}

/// The matmul variant the table should pick for features `f` under `cap`.
fn expected_sgemm(f: &CpuFeatures, cap: Option<MaxIsa>) -> &'static str {
    let allowed = |isa| f.supports(isa) && cap.is_none_or(|c| c.allows(isa));
    if cfg!(all(target_arch = "x86_64", feature = "avx512")) && allowed(Isa::Avx512) {
        "matmul_f32_avx512_8x32"
    } else if cfg!(target_arch = "x86_64") && allowed(Isa::Avx2) {
        "matmul_f32_avx2_6x16"
    } else if cfg!(target_arch = "aarch64") && allowed(Isa::Neon) {
        "matmul_f32_neon_8x8"
    } else {
        "matmul_f32_generic_6x8"
    }
}

#[test]
fn table_picks_the_highest_allowed_tier_unless_capped_to_reference() {
    for f in [
        CpuFeatures::default(),
        all_features(),
        CpuFeatures::detect(),
    ] {
        for cap in [
            None,
            Some(MaxIsa::Scalar),
            Some(MaxIsa::Avx2),
            Some(MaxIsa::Avx512),
        ] {
            let t = KernelTable::build(f, cap);
            assert_eq!(t.sgemm_info.name, expected_sgemm(&f, cap), "{f:?} {cap:?}");
            assert_eq!(t.sgemm_tile.is_some(), !t.sgemm_info.reference);
        }
        let t = KernelTable::build(f, Some(MaxIsa::Reference));
        assert!(t.sgemm_info.reference);
    }
    // The process-wide table is one of the compiled variants.
    assert!(variants().iter().any(|v| v.info == table().sgemm_info));
}

/// Feature `avx512` decides whether the AVX-512 variants are compiled in at all: without it
/// (the embedded library) the table cannot pick one on any CPU.
#[test]
fn avx512_variants_are_compiled_only_with_the_feature() {
    let avx512: Vec<&str> = variants()
        .iter()
        .filter(|v| v.info.isa.level() == 2)
        .map(|v| v.info.name)
        .collect();
    if cfg!(all(target_arch = "x86_64", feature = "avx512")) {
        assert!(avx512.contains(&"qgemm_i8_avx512vnni_8x32"), "{avx512:?}");
    } else {
        assert!(avx512.is_empty(), "{avx512:?}");
        let t = KernelTable::build(all_features(), None);
        assert!(t.qgemm_info.isa.level() < 2, "{:?}", t.qgemm_info);
    }
}

/// `select` with made-up variants of higher tiers: the cap and the features both bind.
#[test]
fn select_respects_features_and_cap() {
    let mk = |isa, name, reference| Variant {
        info: KernelInfo {
            family: "matmul",
            dtype: "f32",
            isa,
            name,
            reference,
        },
        kernel: SGEMM_REFERENCE.kernel,
    };
    let vs = [
        mk(Isa::Generic, "ref", true),
        mk(Isa::Generic, "generic", false),
        mk(Isa::Avx2, "avx2", false),
        mk(Isa::Avx512, "avx512", false),
        mk(Isa::Neon, "neon", false),
    ];
    let pick = |f: &CpuFeatures, cap| select(&vs, "matmul", "f32", f, cap).unwrap().info.name;
    let avx2_only = CpuFeatures {
        avx2: true,
        fma: true,
        ..CpuFeatures::default()
    };
    let neon = CpuFeatures {
        neon: true,
        ..CpuFeatures::default()
    };
    assert_eq!(pick(&CpuFeatures::default(), None), "generic");
    assert_eq!(pick(&avx2_only, None), "avx2");
    assert_eq!(pick(&neon, None), "neon");
    let x86 = CpuFeatures {
        neon: false,
        ..all_features()
    };
    assert_eq!(pick(&x86, None), "avx512");
    assert_eq!(pick(&x86, Some(MaxIsa::Avx512)), "avx512");
    assert_eq!(pick(&x86, Some(MaxIsa::Avx2)), "avx2");
    assert_eq!(pick(&x86, Some(MaxIsa::Scalar)), "generic");
    assert_eq!(pick(&x86, Some(MaxIsa::Reference)), "ref");
    assert!(select(&vs, "conv", "f32", &x86, None).is_none());
    // AVX2 without FMA is not the AVX2 tier.
    let no_fma = CpuFeatures {
        fma: false,
        ..avx2_only
    };
    assert_eq!(pick(&no_fma, None), "generic");
}

#[test]
fn max_isa_parses_the_documented_values() {
    assert_eq!(MaxIsa::parse("scalar"), Some(MaxIsa::Scalar));
    assert_eq!(MaxIsa::parse(" Generic "), Some(MaxIsa::Scalar));
    assert_eq!(MaxIsa::parse("AVX2"), Some(MaxIsa::Avx2));
    assert_eq!(MaxIsa::parse("avx512"), Some(MaxIsa::Avx512));
    assert_eq!(MaxIsa::parse("reference"), Some(MaxIsa::Reference));
    assert_eq!(MaxIsa::parse("sse9"), None);
}

#[test]
fn detection_is_consistent() {
    let f = CpuFeatures::detect();
    assert!(f.supports(Isa::Generic));
    if f.supports(Isa::Avx512) {
        assert!(f.supports(Isa::Avx2));
    }
    eprintln!("detected: {f:?}; table uses {}", table().sgemm_info.name);
}
