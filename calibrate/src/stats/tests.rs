use super::*;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

fn opts(method: Method) -> StatsOptions {
    StatsOptions {
        method,
        activations: ActivationType::S8,
        symmetric: true,
        threads: 1,
        progress: false,
    }
}

fn histogram_of(values: &[f32]) -> Histogram {
    let mut h = Histogram::default();
    for chunk in values.chunks(1000) {
        h.add(chunk);
    }
    h
}

/// 200k standard gaussian values and one outlier at 25. (MSE trades the outlier's squared
/// clipping error against the rounding error of every other value: it clips a lone outlier
/// but not a handful of huge ones, which would dominate the sum.)
fn gaussian_with_outliers() -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let mut v: Vec<f32> = (0..200_000).map(|_| normal.sample(&mut rng)).collect();
    v.push(25.0);
    v
}

const ALL: [Method; 4] = [
    Method::MinMax,
    Method::Percentile(99.99),
    Method::Entropy,
    Method::Mse,
];

#[test]
fn minmax_keeps_outliers_and_the_others_clip_them() {
    let h = histogram_of(&gaussian_with_outliers());
    let r = range_of(&h, &opts(Method::MinMax));
    assert_eq!(r.max, 25.0);
    assert!(r.min < -3.0 && r.min > -6.0, "{r:?}");
    for method in [Method::Percentile(99.99), Method::Entropy, Method::Mse] {
        let r = range_of(&h, &opts(method.clone()));
        assert_eq!(r.method, method);
        // A standard gaussian: the clip sits a few sigma out, far below the outliers.
        assert!(r.max > 2.0 && r.max < 12.0, "{method:?}: {r:?}");
        assert!(r.min < -2.0 && r.min > -12.0, "{method:?}: {r:?}");
    }
}

#[test]
fn uniform_data_is_barely_clipped() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let v: Vec<f32> = (0..100_000).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let h = histogram_of(&v);
    for method in ALL {
        let r = range_of(&h, &opts(method.clone()));
        // Uniform data has no tail to cut: any sensible method keeps most of the range.
        assert!(r.max > 0.85 && r.max <= 1.0, "{method:?}: {r:?}");
        assert!(r.min < -0.85 && r.min >= -1.0, "{method:?}: {r:?}");
    }
    let r = range_of(&h, &opts(Method::Percentile(50.0)));
    assert!((r.max - 0.5).abs() < 0.01, "{r:?}");
}

#[test]
fn non_negative_tensors_keep_zero_as_the_minimum() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let v: Vec<f32> = (0..50_000)
        .map(|_| normal.sample(&mut rng).max(0.0))
        .collect();
    let h = histogram_of(&v);
    let mut o = opts(Method::Entropy);
    o.activations = ActivationType::U8;
    o.symmetric = false;
    for method in ALL {
        o.method = method;
        let r = range_of(&h, &o);
        assert_eq!(r.min, 0.0);
        assert!(r.max > 1.0, "{r:?}");
    }
}

#[test]
fn ranges_always_include_zero_and_empty_tensors_are_zero() {
    let h = histogram_of(&[2.0, 3.0, 4.0]);
    let r = range_of(&h, &opts(Method::MinMax));
    assert_eq!((r.min, r.max), (0.0, 4.0));
    let r = range_of(&Histogram::default(), &opts(Method::Entropy));
    assert_eq!((r.min, r.max), (0.0, 0.0));
}

#[test]
fn the_same_values_give_the_same_ranges_in_any_order() {
    let v = gaussian_with_outliers();
    let mut reversed = v.clone();
    reversed.reverse();
    let (a, b) = (histogram_of(&v), histogram_of(&reversed));
    assert_eq!(a, b);
    for method in ALL {
        let o = opts(method);
        assert_eq!(range_of(&a, &o), range_of(&b, &o));
    }
}

#[test]
fn bad_methods_are_refused() {
    assert!(check_method(&Method::Percentile(0.0)).is_err());
    assert!(check_method(&Method::Percentile(100.5)).is_err());
    assert!(check_method(&Method::Manual).is_err());
    assert!(check_method(&Method::Percentile(99.9)).is_ok());
}

/// A post-ReLU tensor: `zeros` of the values exactly 0, the rest |N(0, 2)|.
fn mostly_zero(zeros: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let normal = Normal::new(0.0f32, 2.0).unwrap();
    (0..500_000)
        .map(|_| {
            if rng.gen::<f32>() < zeros {
                0.0
            } else {
                normal.sample(&mut rng).abs()
            }
        })
        .collect()
}

#[test]
fn entropy_does_not_clip_mostly_zero_tensors_to_their_spike() {
    // Was 2.0 (1 sigma of the non-zero values) for 90% zeros: the zero spike, spread over
    // its group, dominated the divergence; and smoothing probabilities (not counts) made
    // every candidate with a sparse tail score infinite.
    for zeros in [0.0f32, 0.5, 0.9] {
        let h = histogram_of(&mostly_zero(zeros));
        for (activations, symmetric) in [(ActivationType::U8, false), (ActivationType::S8, true)] {
            let mut o = opts(Method::Entropy);
            o.activations = activations;
            o.symmetric = symmetric;
            let r = range_of(&h, &o);
            // About 8.5 sigma-units of max: a clip past 3 sigma (6.0) keeps the bulk.
            assert!(
                r.max > 6.0 && r.max <= h.max(),
                "{zeros} {activations:?}: {r:?}"
            );
        }
    }
}

#[test]
fn entropy_does_not_clip_sparse_histograms() {
    // An SE gate (hardsigmoid_6 of PP-OCR cls on 8 samples): 832 values over [0.17, 0.69]
    // in over a thousand bins. It was cut to 0.17, below every value: at that threshold p
    // and q are both one spike in the last bin, a divergence of 0.
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let v: Vec<f32> = (0..832).map(|_| rng.gen_range(0.17f32..0.69)).collect();
    let h = histogram_of(&v);
    let mut o = opts(Method::Entropy);
    o.activations = ActivationType::U8;
    o.symmetric = false;
    let r = range_of(&h, &o);
    assert!(r.max > 0.6, "{r:?}");
}

/// A HardSwish output: `zeros` of the values exactly 0 (inputs below -3), `negative` of them
/// HardSwish of inputs uniform in (-3, 0) (dense towards the minimum, -0.375), the rest
/// HardSwish of |N(0, sigma)|: a positive tail.
fn hardswish_like(zeros: f32, negative: f32, sigma: f32) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let normal = Normal::new(0.0f32, sigma).unwrap();
    (0..200_000)
        .map(|_| {
            let u = rng.gen::<f32>();
            let x = if u < zeros {
                return 0.0;
            } else if u < zeros + negative {
                -rng.gen_range(0.0f32..3.0)
            } else {
                normal.sample(&mut rng).abs()
            };
            x * (x + 3.0) / 6.0
        })
        .collect()
}

#[test]
fn asymmetric_entropy_does_not_clip_the_long_side_to_the_short_one() {
    // Folded into one |x| histogram (TensorRT's search, still used for symmetric grids),
    // the dense negative side makes the positive tail look like outliers: the range was cut
    // to [-0.375, 0.375] here, as on dozens of PP-OCRv4 rec tensors (cosine 0.46 against
    // FP32). Searching each side with the steps the asymmetric grid gives it keeps the tail.
    for (zeros, negative, sigma, folded_at_most, new_at_least) in
        [(0.6, 0.39, 0.5, 0.4, 1.0), (0.5, 0.49, 2.0, 2.0, 6.0)]
    {
        let h = histogram_of(&hardswish_like(zeros, negative, sigma));
        let folded = methods::entropy(&h, 128);
        assert!(
            folded <= folded_at_most,
            "{zeros}: folded threshold {folded}"
        );
        for activations in [ActivationType::S8, ActivationType::U8] {
            let mut o = opts(Method::Entropy);
            o.activations = activations;
            o.symmetric = false;
            let r = range_of(&h, &o);
            assert!(
                r.max >= new_at_least && r.max <= h.max(),
                "{zeros} {activations:?}: {r:?} (max {})",
                h.max()
            );
            assert!(r.min <= -0.37 && r.min >= h.min(), "{activations:?}: {r:?}");
            assert_eq!(r, range_of(&h, &o), "deterministic");
        }
    }
}
