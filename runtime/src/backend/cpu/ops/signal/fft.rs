//! Fast Fourier transforms of any length, in f64: iterative radix-2 for powers of two,
//! Bluestein's chirp-z algorithm (a power-of-two circular convolution) for the other lengths.
//! Transforms are unnormalised; the caller scales inverse ones by `1/n`.

use std::f64::consts::PI;
use std::ops::{Add, Mul, Sub};

/// A complex number.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Complex {
    pub(super) re: f64,
    pub(super) im: f64,
}

impl Complex {
    pub(super) const ZERO: Complex = Complex { re: 0.0, im: 0.0 };

    pub(super) fn new(re: f64, im: f64) -> Complex {
        Complex { re, im }
    }

    /// `e^(iθ)`.
    fn from_angle(theta: f64) -> Complex {
        let (sin, cos) = theta.sin_cos();
        Complex::new(cos, sin)
    }

    pub(super) fn conj(self) -> Complex {
        Complex::new(self.re, -self.im)
    }

    pub(super) fn scale(self, s: f64) -> Complex {
        Complex::new(self.re * s, self.im * s)
    }
}

impl Add for Complex {
    type Output = Complex;
    fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }
}

impl Sub for Complex {
    type Output = Complex;
    fn sub(self, o: Complex) -> Complex {
        Complex::new(self.re - o.re, self.im - o.im)
    }
}

impl Mul for Complex {
    type Output = Complex;
    fn mul(self, o: Complex) -> Complex {
        Complex::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}

/// The sign of the exponent: forward `e^(-2πi jk/n)`, inverse `e^(+2πi jk/n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    Forward,
    Inverse,
}

impl Direction {
    fn sign(self) -> f64 {
        match self {
            Direction::Forward => -1.0,
            Direction::Inverse => 1.0,
        }
    }
}

/// A planned transform of one length and direction, reusable over many lines.
pub(super) struct Fft {
    len: usize,
    algorithm: Algorithm,
}

enum Algorithm {
    /// Power-of-two length (including 1).
    Radix2(Radix2),
    /// Any other length.
    Bluestein(Bluestein),
}

impl Fft {
    pub(super) fn new(len: usize, direction: Direction) -> Fft {
        let algorithm = if len.is_power_of_two() || len == 0 {
            Algorithm::Radix2(Radix2::new(len, direction))
        } else {
            Algorithm::Bluestein(Bluestein::new(len, direction))
        };
        Fft { len, algorithm }
    }

    /// Transforms `data` (exactly the planned length) in place; `scratch` is reused between
    /// calls to avoid allocating per line.
    pub(super) fn apply(&self, data: &mut [Complex], scratch: &mut Vec<Complex>) {
        debug_assert_eq!(data.len(), self.len);
        match &self.algorithm {
            Algorithm::Radix2(r) => r.apply(data),
            Algorithm::Bluestein(b) => b.apply(data, scratch),
        }
    }
}

/// Iterative decimation-in-time radix-2 FFT.
struct Radix2 {
    /// `e^(±2πi k/n)` for `k < n/2`.
    twiddles: Vec<Complex>,
}

impl Radix2 {
    fn new(len: usize, direction: Direction) -> Radix2 {
        let step = direction.sign() * 2.0 * PI / len.max(1) as f64;
        Radix2 {
            twiddles: (0..len / 2)
                .map(|k| Complex::from_angle(step * k as f64))
                .collect(),
        }
    }

    fn apply(&self, data: &mut [Complex]) {
        let n = data.len();
        if n <= 1 {
            return;
        }
        bit_reverse_permute(data);
        let mut size = 2;
        while size <= n {
            let half = size / 2;
            let stride = n / size;
            for block in data.chunks_exact_mut(size) {
                let (lo, hi) = block.split_at_mut(half);
                for (j, (a, b)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                    let t = *b * self.twiddles[j * stride];
                    *b = *a - t;
                    *a = *a + t;
                }
            }
            size *= 2;
        }
    }
}

/// Reorders a power-of-two-long slice by bit-reversed index.
fn bit_reverse_permute(data: &mut [Complex]) {
    let n = data.len();
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            data.swap(i, j);
        }
    }
}

/// Bluestein's algorithm: with `jk = (j² + k² - (k-j)²) / 2`, the DFT becomes a chirp
/// multiplication, a convolution with the conjugate chirp (done by power-of-two FFTs), and
/// another chirp multiplication.
struct Bluestein {
    /// `e^(±πi j²/n)` for `j < n`.
    chirp: Vec<Complex>,
    /// The forward FFT of the conjugate chirp laid out circularly, pre-scaled by `1/m` (the
    /// normalisation of the inverse convolution FFT).
    kernel: Vec<Complex>,
    /// The forward power-of-two transform of length `m >= 2n - 1`.
    inner: Radix2,
}

impl Bluestein {
    fn new(len: usize, direction: Direction) -> Bluestein {
        let m = (2 * len - 1).next_power_of_two();
        let two_n = 2 * len as u128;
        // Reduce j² modulo 2n before scaling so large indices keep their precision.
        let chirp: Vec<Complex> = (0..len)
            .map(|j| {
                let j2 = (j as u128 * j as u128) % two_n;
                Complex::from_angle(direction.sign() * PI * j2 as f64 / len as f64)
            })
            .collect();
        let inner = Radix2::new(m, Direction::Forward);
        let mut kernel = vec![Complex::ZERO; m];
        kernel[0] = chirp[0].conj();
        for j in 1..len {
            kernel[j] = chirp[j].conj();
            kernel[m - j] = chirp[j].conj();
        }
        inner.apply(&mut kernel);
        let scale = 1.0 / m as f64;
        for k in &mut kernel {
            *k = k.scale(scale);
        }
        Bluestein {
            chirp,
            kernel,
            inner,
        }
    }

    fn apply(&self, data: &mut [Complex], scratch: &mut Vec<Complex>) {
        let m = self.kernel.len();
        scratch.clear();
        scratch.extend(data.iter().zip(&self.chirp).map(|(&x, &c)| x * c));
        scratch.resize(m, Complex::ZERO);
        self.inner.apply(scratch);
        // Inverse FFT of the product via conj(FFT(conj(·))); the 1/m is in the kernel.
        for (s, &k) in scratch.iter_mut().zip(&self.kernel) {
            *s = (*s * k).conj();
        }
        self.inner.apply(scratch);
        for ((d, s), &c) in data.iter_mut().zip(scratch.iter()).zip(&self.chirp) {
            *d = s.conj() * c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The O(n²) definition.
    fn naive(x: &[Complex], direction: Direction) -> Vec<Complex> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter().enumerate().fold(Complex::ZERO, |acc, (j, &v)| {
                    let angle = direction.sign() * 2.0 * PI * ((j * k) % n) as f64 / n as f64;
                    acc + v * Complex::from_angle(angle)
                })
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_for_all_small_lengths() {
        let mut scratch = Vec::new();
        for n in 1..=40 {
            for direction in [Direction::Forward, Direction::Inverse] {
                let x: Vec<Complex> = (0..n)
                    .map(|i| Complex::new((i as f64 * 0.7).sin() + 0.3, (i as f64 * 1.3).cos()))
                    .collect();
                let expected = naive(&x, direction);
                let mut got = x.clone();
                Fft::new(n, direction).apply(&mut got, &mut scratch);
                for (g, e) in got.iter().zip(&expected) {
                    assert!(
                        (g.re - e.re).abs() < 1e-9 && (g.im - e.im).abs() < 1e-9,
                        "n={n} {direction:?}: {g:?} vs {e:?}"
                    );
                }
            }
        }
    }
}
