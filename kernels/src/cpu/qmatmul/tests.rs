use super::*;
use crate::cpu::supported_variants;
use proptest::prelude::*;

/// Bytes from a seed (a fixed LCG: the cases replay from the seed alone).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Case {
    rows: usize,
    n: usize,
    k: usize,
    lda_pad: usize,
    ldy_pad: usize,
    a_signed: bool,
    w_signed: bool,
    a_zero_point: i32,
    /// `None`: one zero point for all (0 when `w_zero_scalar`), else one per feature.
    w_zero_points: Vec<i32>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    let dim = || prop_oneof![1usize..=20, Just(7), Just(17), Just(33), Just(64)];
    (
        (dim(), dim(), prop_oneof![1usize..=40, Just(64), Just(255)]),
        (0usize..3, 0usize..3),
        (any::<bool>(), any::<bool>(), 0i32..256),
        (0usize..3, any::<u64>()),
    )
        .prop_map(
            |((rows, n, k), (lda_pad, ldy_pad), (a_signed, w_signed, za), (zmode, seed))| {
                let shift = |z: i32, signed: bool| if signed { z - 128 } else { z };
                let w_zero_points = match zmode {
                    0 => vec![0.max(shift(0, w_signed))],
                    1 => vec![shift((seed % 256) as i32, w_signed)],
                    _ => bytes(seed ^ 7, n)
                        .into_iter()
                        .map(|b| shift(i32::from(b), w_signed))
                        .collect(),
                };
                Case {
                    rows,
                    n,
                    k,
                    lda_pad,
                    ldy_pad,
                    a_signed,
                    w_signed,
                    a_zero_point: shift(za, a_signed),
                    w_zero_points,
                    seed,
                }
            },
        )
}

fn packed(c: &Case) -> PackedQMatMulWeights {
    let wt = bytes(c.seed ^ 1, c.n * c.k);
    PackedQMatMulWeights::pack(c.n, c.k, &wt, c.k, c.w_signed, &c.w_zero_points).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every variant equals the oracle bit for bit, requantized and `i32`.
    #[test]
    fn variants_match_the_reference(c in case()) {
        let w = packed(&c);
        let lda = c.k + c.lda_pad;
        let a = bytes(c.seed ^ 2, c.rows * lda);
        let call = QMatMulCall {
            rows: c.rows,
            a: &a,
            lda,
            a_signed: c.a_signed,
            a_zero_point: c.a_zero_point,
            w: &w,
        };
        let ldy = c.n + c.ldy_pad;
        let bias: Vec<i32> = bytes(c.seed ^ 3, c.n).iter().map(|&b| (i32::from(b) - 128) * 97).collect();
        let scale: Vec<f32> = bytes(c.seed ^ 4, c.n).iter().map(|&b| (1 + b as u32) as f32 * 1e-5).collect();
        let (zero_point, lo, hi) = if c.a_signed { (-5, -128, 100) } else { (17, 3, 255) };
        let requant = |y: &mut Vec<u8>, f: QMatMulFn| {
            f(&call, QMatMulOutput::Requant {
                y, ldy, signed: c.a_signed, bias: &bias, scale: &scale, zero_point, lo, hi,
            })
        };
        let (mut want8, mut want32) = (vec![0xAAu8; c.rows * ldy], vec![7i32; c.rows * ldy]);
        requant(&mut want8, reference::qmatmul).unwrap();
        reference::qmatmul(&call, QMatMulOutput::I32 { y: &mut want32, ldy }).unwrap();
        let mut want_f = vec![-1.5f32; c.rows * ldy];
        reference::qmatmul(&call, QMatMulOutput::F32 { y: &mut want_f, ldy, scale: &scale }).unwrap();
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for (name, f) in supported_variants(Variant::qmatmul) {
            let (mut got8, mut got32) = (vec![0xAAu8; c.rows * ldy], vec![7i32; c.rows * ldy]);
            requant(&mut got8, f).unwrap();
            f(&call, QMatMulOutput::I32 { y: &mut got32, ldy }).unwrap();
            prop_assert_eq!(&got8, &want8, "{}: requantized", name);
            prop_assert_eq!(&got32, &want32, "{}: i32", name);
            let mut got_f = vec![-1.5f32; c.rows * ldy];
            f(&call, QMatMulOutput::F32 { y: &mut got_f, ldy, scale: &scale }).unwrap();
            prop_assert_eq!(bits(&got_f), bits(&want_f), "{}: f32", name);
        }
    }
}

/// The oracle on a product small enough to check by hand, and the padding between rows left
/// untouched.
#[test]
fn reference_known_values() {
    // W = [[1, 2], [3, 4], [5, 6]] (K = 3, N = 2), given as Wᵀ rows.
    let wt = [1u8, 3, 5, 2, 4, 6];
    let w = PackedQMatMulWeights::pack(2, 3, &wt, 3, true, &[0]).unwrap();
    let a = [1u8, 0, 2]; // one row, u8, zero point 0
    let call = QMatMulCall {
        rows: 1,
        a: &a,
        lda: 3,
        a_signed: false,
        a_zero_point: 0,
        w: &w,
    };
    let mut y = [0i32; 3];
    reference::qmatmul(&call, QMatMulOutput::I32 { y: &mut y, ldy: 3 }).unwrap();
    assert_eq!(y, [11, 14, 0]);
    for (name, f) in supported_variants(Variant::qmatmul) {
        let mut y = [-1i32; 3];
        f(&call, QMatMulOutput::I32 { y: &mut y, ldy: 3 }).unwrap();
        assert_eq!(y, [11, 14, -1], "{name}");
    }
}

#[test]
fn bad_arguments_are_errors() {
    let wt = [0u8; 6];
    assert!(PackedQMatMulWeights::pack(2, 3, &wt[..5], 3, true, &[0]).is_err());
    assert!(PackedQMatMulWeights::pack(2, 3, &wt, 2, true, &[0]).is_err());
    assert!(PackedQMatMulWeights::pack(2, 3, &wt, 3, true, &[0, 0, 0]).is_err());
    assert!(PackedQMatMulWeights::pack(2, 3, &wt, 3, false, &[-1]).is_err());
    let w = PackedQMatMulWeights::pack(2, 3, &wt, 3, true, &[0]).unwrap();
    let a = [0u8; 6];
    let call = |rows, a_zero_point| QMatMulCall {
        rows,
        a: &a,
        lda: 3,
        a_signed: false,
        a_zero_point,
        w: &w,
    };
    let mut fns: Vec<QMatMulFn> = vec![reference::qmatmul];
    fns.extend(
        supported_variants(Variant::qmatmul)
            .into_iter()
            .map(|(_, f)| f),
    );
    for f in fns {
        let mut y = [0i32; 4];
        // A too short, Y too short, a zero point out of range, bad requant parameters.
        assert!(f(&call(3, 0), QMatMulOutput::I32 { y: &mut y, ldy: 2 }).is_err());
        assert!(f(
            &call(2, 0),
            QMatMulOutput::I32 {
                y: &mut y[..3],
                ldy: 2
            }
        )
        .is_err());
        assert!(f(&call(2, 256), QMatMulOutput::I32 { y: &mut y, ldy: 2 }).is_err());
        let mut y8 = [0u8; 4];
        fn requant<'a>(y: &'a mut [u8], scale: &'a [f32], lo: i32) -> QMatMulOutput<'a> {
            QMatMulOutput::Requant {
                y,
                ldy: 2,
                signed: false,
                bias: &[],
                scale,
                zero_point: 0,
                lo,
                hi: 255,
            }
        }
        assert!(f(&call(2, 0), requant(&mut y8, &[1.0], 0)).is_err());
        assert!(f(&call(2, 0), requant(&mut y8, &[1.0, f32::NAN], 0)).is_err());
        assert!(f(&call(2, 0), requant(&mut y8, &[1.0, 1.0], -1)).is_err());
        assert!(f(&call(2, 0), requant(&mut y8, &[1.0, 1.0], 0)).is_ok());
        let mut yf = [0f32; 4];
        let scale = [1.0, f32::INFINITY];
        let out = QMatMulOutput::F32 {
            y: &mut yf,
            ldy: 2,
            scale: &scale,
        };
        assert!(f(&call(2, 0), out).is_err());
    }
}

#[test]
fn the_table_offers_the_optimised_variant_only() {
    if let Some((info, _)) = crate::cpu::table().qmatmul {
        assert!(!info.reference, "{}", info.name);
    }
}
