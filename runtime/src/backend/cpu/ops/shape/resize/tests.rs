//! The fast paths against the general path (their reference) on random shapes, scales and
//! modes: nearest must match bit for bit, linear within a few f32 ulps.

use super::{resize_axis_by_axis, separable};
use crate::backend::cpu::ops::Outputs;
use crate::ir::ops::shape::{
    CoordinateMode, KeepAspectRatio, NearestMode, ResizeAttrs, ResizeMode,
};
use crate::tensor::Element;
use crate::Tensor;
use proptest::prelude::*;

fn attrs(
    mode: ResizeMode,
    coordinate_mode: CoordinateMode,
    nearest_mode: NearestMode,
) -> ResizeAttrs {
    ResizeAttrs {
        mode,
        coordinate_mode,
        nearest_mode,
        cubic_coeff_a: -0.75,
        exclude_outside: false,
        extrapolation_value: 0.0,
        antialias: false,
        axes: None,
        keep_aspect_ratio: KeepAspectRatio::Stretch,
        roi_input: Some(1),
        scales_input: Some(2),
        sizes_input: Some(3),
        scales_attr: None,
    }
}

/// How the output size is asked for.
#[derive(Debug, Clone)]
enum Target {
    Scales(Vec<f32>),
    Sizes(Vec<i64>),
}

/// `(fast, general)` results; `fast` is `None` when no fast path applied.
fn both_paths(
    x: &Tensor,
    attrs: &ResizeAttrs,
    target: &Target,
    threads: usize,
) -> (Option<Tensor>, Tensor) {
    let (scales, sizes) = match target {
        Target::Scales(s) => (Some(s.as_slice()), None),
        Target::Sizes(s) => (None, Some(s.as_slice())),
    };
    let plan = attrs.plan(x.shape(), None, scales, sizes).unwrap();
    let mut fast = Outputs::fresh(1);
    let took = separable::resize(x.view(), &plan, attrs, threads, &mut fast).unwrap();
    let mut general = Outputs::fresh(1);
    resize_axis_by_axis(x.view(), &plan, attrs, &mut general).unwrap();
    let first = |o: Outputs| o.into_results().remove(0).unwrap();
    (took.then(|| first(fast)), first(general))
}

fn values<T: Element + Copy>(t: &Tensor) -> Vec<T> {
    t.as_slice::<T>().unwrap().to_vec()
}

/// A random f32 input of `shape`.
fn input(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut state = seed | 1;
    let data = (0..n)
        .map(|_| {
            // xorshift: a cheap, reproducible spread of values in (-100, 100)
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 20_001) as f32 / 100.0 - 100.0
        })
        .collect();
    Tensor::from_vec(shape, data).unwrap()
}

const COORDINATE_MODES: [CoordinateMode; 5] = [
    CoordinateMode::HalfPixel,
    CoordinateMode::PytorchHalfPixel,
    CoordinateMode::AlignCorners,
    CoordinateMode::Asymmetric,
    CoordinateMode::HalfPixelSymmetric,
];

const NEAREST_MODES: [NearestMode; 4] = [
    NearestMode::RoundPreferFloor,
    NearestMode::RoundPreferCeil,
    NearestMode::Floor,
    NearestMode::Ceil,
];

/// Sizes or scales for the last two axes of a rank-4 input (the others unchanged).
fn target() -> impl Strategy<Value = Target> {
    let scale = prop::sample::select(vec![0.25f32, 0.5, 0.6, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 8.0]);
    prop_oneof![
        (scale.clone(), scale).prop_map(|(h, w)| Target::Scales(vec![1.0, 1.0, h, w])),
        (1i64..40, 1i64..40).prop_map(|(h, w)| Target::Sizes(vec![1, 2, h, w])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn nearest_matches_the_general_path_exactly(
        planes in 1usize..4,
        h in prop::sample::select(vec![1usize, 2, 3, 7, 16, 17]),
        w in prop::sample::select(vec![1usize, 2, 5, 7, 15, 16, 17, 33]),
        coordinate in prop::sample::select(COORDINATE_MODES.to_vec()),
        rounding in prop::sample::select(NEAREST_MODES.to_vec()),
        target in target(),
        threads in 1usize..4,
        seed: u64,
    ) {
        let shape = [1, planes, h, w];
        let target = match target {
            Target::Sizes(s) => Target::Sizes(vec![1, planes as i64, s[2], s[3]]),
            scales => scales,
        };
        let x = input(&shape, seed);
        let attrs = attrs(ResizeMode::Nearest, coordinate, rounding);
        let (fast, general) = both_paths(&x, &attrs, &target, threads);
        if general.shape().iter().product::<usize>() > 0 {
            let fast = fast.expect("a nearest resize of the last two axes takes the fast path");
            prop_assert_eq!(fast.shape(), general.shape());
            prop_assert_eq!(values::<f32>(&fast), values::<f32>(&general));
        }
    }

    #[test]
    fn linear_matches_the_general_path_within_a_few_ulps(
        planes in 1usize..4,
        h in prop::sample::select(vec![1usize, 2, 3, 7, 16, 17]),
        w in prop::sample::select(vec![1usize, 2, 5, 7, 15, 16, 17, 33]),
        coordinate in prop::sample::select(COORDINATE_MODES.to_vec()),
        target in target(),
        threads in 1usize..4,
        seed: u64,
    ) {
        let shape = [1, planes, h, w];
        let target = match target {
            Target::Sizes(s) => Target::Sizes(vec![1, planes as i64, s[2], s[3]]),
            scales => scales,
        };
        let x = input(&shape, seed);
        let attrs = attrs(ResizeMode::Linear, coordinate, NearestMode::RoundPreferFloor);
        let (fast, general) = both_paths(&x, &attrs, &target, threads);
        if general.shape().iter().product::<usize>() > 0 {
            let fast = fast.expect("a linear resize of the last two axes takes the fast path");
            prop_assert_eq!(fast.shape(), general.shape());
            // Inputs are below 100 in magnitude; two f32 blends round a few times.
            let tolerance = 8.0 * f32::EPSILON * 100.0;
            for (a, b) in values::<f32>(&fast).iter().zip(values::<f32>(&general)) {
                prop_assert!((a - b).abs() <= tolerance, "{} vs {}", a, b);
            }
        }
    }
}

#[test]
fn integer_upscales_repeat_every_element_and_row() {
    let x = Tensor::from_vec(&[1, 1, 2, 2], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let attrs = attrs(
        ResizeMode::Nearest,
        CoordinateMode::Asymmetric,
        NearestMode::Floor,
    );
    let (fast, _) = both_paths(&x, &attrs, &Target::Scales(vec![1.0, 1.0, 2.0, 3.0]), 1);
    let fast = fast.unwrap();
    assert_eq!(fast.shape(), [1, 1, 4, 6]);
    #[rustfmt::skip]
    assert_eq!(values::<f32>(&fast), [
        1.0, 1.0, 1.0, 2.0, 2.0, 2.0,
        1.0, 1.0, 1.0, 2.0, 2.0, 2.0,
        3.0, 3.0, 3.0, 4.0, 4.0, 4.0,
        3.0, 3.0, 3.0, 4.0, 4.0, 4.0,
    ]);
}

#[test]
fn nearest_copies_any_dtype_exactly() {
    let big = i64::MAX - 3; // not representable in f64: the general path would round it
    let x = Tensor::from_vec(&[2, 1, 3], vec![big, -1, 7, 0, 1, 2]).unwrap();
    let attrs = attrs(
        ResizeMode::Nearest,
        CoordinateMode::HalfPixel,
        NearestMode::RoundPreferFloor,
    );
    let (fast, _) = both_paths(&x, &attrs, &Target::Scales(vec![1.0, 2.0, 2.0]), 1);
    let fast = fast.unwrap();
    assert_eq!(fast.shape(), [2, 2, 6]);
    assert_eq!(&values::<i64>(&fast)[..6], [big, big, -1, -1, 7, 7]);
}

#[test]
fn large_resizes_give_the_same_result_on_any_thread_count() {
    let x = input(&[1, 8, 40, 40], 7);
    for mode in [ResizeMode::Nearest, ResizeMode::Linear] {
        let attrs = attrs(
            mode,
            CoordinateMode::HalfPixel,
            NearestMode::RoundPreferFloor,
        );
        let target = Target::Scales(vec![1.0, 1.0, 4.0, 4.0]);
        let one = both_paths(&x, &attrs, &target, 1).0.unwrap();
        let four = both_paths(&x, &attrs, &target, 4).0.unwrap();
        assert_eq!(values::<f32>(&one), values::<f32>(&four));
    }
}

#[test]
fn other_resizes_take_the_general_path() {
    let x = input(&[2, 3, 4, 5], 3);
    let nearest = attrs(
        ResizeMode::Nearest,
        CoordinateMode::HalfPixel,
        NearestMode::Floor,
    );
    // A resampled channel axis.
    let (fast, _) = both_paths(&x, &nearest, &Target::Scales(vec![1.0, 2.0, 2.0, 2.0]), 1);
    assert!(fast.is_none());
    // Cubic has four taps.
    let cubic = attrs(
        ResizeMode::Cubic,
        CoordinateMode::HalfPixel,
        NearestMode::Floor,
    );
    let (fast, _) = both_paths(&x, &cubic, &Target::Scales(vec![1.0, 1.0, 2.0, 2.0]), 1);
    assert!(fast.is_none());
    // Linear in f64 stays in f64.
    let x64 = Tensor::from_vec(&[1, 1, 2, 2], vec![1.0f64, 2.0, 3.0, 4.0]).unwrap();
    let linear = attrs(
        ResizeMode::Linear,
        CoordinateMode::HalfPixel,
        NearestMode::Floor,
    );
    let (fast, _) = both_paths(&x64, &linear, &Target::Scales(vec![1.0, 1.0, 2.0, 2.0]), 1);
    assert!(fast.is_none());
}
