use super::*;
use crate::cpu::supported_variants;
use crate::KernelErrorKind;
use proptest::prelude::*;

fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn variants_under_test() -> Vec<(&'static str, ByteSumsFn)> {
    supported_variants(Variant::byte_sums)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_variant_matches_the_oracle(
        rows in 0usize..5,
        row_len in prop_oneof![
            proptest::sample::select(vec![0usize, 1, 7, 17, 31, 32, 33, 63, 64, 65, 255, 256, 1000]),
            0usize..300,
        ],
        signed: bool,
        seed: u64,
    ) {
        let x = bytes(seed, rows * row_len);
        let mut want = vec![0i64; rows];
        byte_sums_reference(&x, row_len, signed, &mut want).unwrap();
        for (name, f) in variants_under_test() {
            let mut got = vec![i64::MIN; rows];
            f(&x, row_len, signed, &mut got).unwrap();
            prop_assert_eq!(&got, &want, "{} rows {} of {} signed {}", name, rows, row_len, signed);
        }
    }
}

#[test]
fn extreme_rows_and_bad_lengths() {
    // All 255 (u8) and all -128 (i8) over a length past one 64-byte step and a tail.
    let len = 64 * 1000 + 13;
    let (ones, lows) = (vec![255u8; len], vec![0x80u8; len]);
    let mut fns = variants_under_test();
    fns.push(("reference", byte_sums_reference));
    for (name, f) in fns {
        let mut s = [0i64; 1];
        f(&ones, len, false, &mut s).unwrap();
        assert_eq!(s[0], 255 * len as i64, "{name}");
        f(&lows, len, true, &mut s).unwrap();
        assert_eq!(s[0], -128 * len as i64, "{name}");
        let mut two = [0i64; 2];
        assert_eq!(
            f(&ones[..9], 4, false, &mut two).unwrap_err().kind(),
            KernelErrorKind::OutOfBounds,
            "{name}"
        );
        assert_eq!(
            f(&[], 0, false, &mut two).map(|()| two),
            Ok([0, 0]),
            "{name}: empty rows"
        );
    }
}
