//! Every compiled matmul variant against the reference (the oracle), and the reference against
//! an `f64` evaluation of the definition.
//!
//! Tolerance: with `scale = |alpha|·Σ_l |a_il·b_lj| + |beta·c_ij| + Σ|bias|`, any `f32` evaluation
//! order (a dot product split into a few depth slices, then alpha, beta, two biases) is within
//! `(k + 8)·ε·scale` of the exact value (ε = `f32::EPSILON`), so a variant may differ from the
//! reference by `2(k + 8)·ε·scale` (≈ 2.4e-7·k relative: tighter than 1e-5·k).
//! Elements of `C` outside the `m×n` view must be bit-for-bit untouched.

use proptest::prelude::*;

use super::TileShape;
use super::{split_columns, AOperand, BOperand, Gemm, GemmParams, PackedA, PackedB, PostOp};
use crate::cpu::activation::Activation;
use crate::cpu::{variants, SgemmKernels, Variant};

/// How an operand is laid out in its slice.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// Row stride `cols + pad`, column stride 1.
    RowMajor { pad: usize },
    /// Transposed: row stride 1, column stride `rows + pad`.
    ColMajor { pad: usize },
    /// Column stride 2, row stride `2·cols + pad`.
    Strided { pad: usize },
}

impl Layout {
    /// `(row_stride, col_stride, slice length)` for a `rows × cols` operand, both non-zero.
    fn strides(self, rows: usize, cols: usize) -> (isize, isize, usize) {
        let (rs, cs) = match self {
            Layout::RowMajor { pad } => (cols + pad, 1),
            Layout::ColMajor { pad } => (1, rows + pad),
            Layout::Strided { pad } => (2 * cols + pad, 2),
        };
        (
            rs as isize,
            cs as isize,
            (rows - 1) * rs + (cols - 1) * cs + 1,
        )
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        (0..3usize).prop_map(|pad| Layout::RowMajor { pad }),
        (0..3usize).prop_map(|pad| Layout::ColMajor { pad }),
        (0..3usize).prop_map(|pad| Layout::Strided { pad }),
    ]
}

/// Which post-ops to fuse, in this order.
#[derive(Clone, Copy, Debug, Default)]
struct Posts {
    bias_row: bool,
    bias_col: bool,
    scale_row: bool,
    affine: bool,
    relu: bool,
    clip: bool,
    /// 0: none, 1: HardSwish (exact in every variant), 2: Sigmoid (approximated).
    activation: u8,
    residual: bool,
}

fn posts() -> impl Strategy<Value = Posts> {
    (any::<[bool; 7]>(), 0..3u8).prop_map(|(f, activation)| Posts {
        bias_row: f[0],
        bias_col: f[1],
        scale_row: f[2],
        affine: f[6],
        relu: f[3],
        clip: f[4],
        activation,
        residual: f[5],
    })
}

/// The slack an approximated activation adds to the error bound (the activation family's
/// stated bound for Sigmoid, doubled).
const ACTIVATION_SLACK: f64 = 1e-5;

#[derive(Clone, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    a: Layout,
    b: Layout,
    c_pad: usize,
    alpha: f32,
    beta: f32,
    posts: Posts,
    packed: (bool, bool),
    /// Compute `C` as three column blocks ([`split_columns`]) instead of one call.
    split: bool,
    seed: u64,
}

/// Deterministic values in [-1, 1) (xorshift): shrinking acts on shapes, not on data.
fn fill(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Operands and parameters for a case; `C` holds NaN when `beta == 0`.
struct Problem {
    p: GemmParams,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    bias_row: Vec<f32>,
    bias_col: Vec<f32>,
    scale_row: Vec<f32>,
    residual: Vec<f32>,
    /// Absolute slack for an approximated activation.
    slack: f64,
    /// Pass `A` / `B` pre-packed.
    packed: (bool, bool),
    split: bool,
}

impl Problem {
    fn new(t: &Case) -> Self {
        let (a_rs, a_cs, a_len) = t.a.strides(t.m, t.k);
        let (b_rs, b_cs, b_len) = t.b.strides(t.k, t.n);
        let c_rs = t.n + t.c_pad;
        let c_len = (t.m - 1) * c_rs + t.n + t.c_pad; // Trailing padding is checked too.
        let mut c = fill(t.seed ^ 3, c_len);
        if t.beta == 0.0 {
            c.fill(f32::NAN);
        }
        Problem {
            p: GemmParams {
                m: t.m,
                n: t.n,
                k: t.k,
                a_row_stride: a_rs,
                a_col_stride: a_cs,
                b_row_stride: b_rs,
                b_col_stride: b_cs,
                c_row_stride: c_rs as isize,
                alpha: t.alpha,
                beta: t.beta,
            },
            a: fill(t.seed ^ 1, a_len),
            b: fill(t.seed ^ 2, b_len),
            c,
            bias_row: fill(t.seed ^ 4, t.m),
            bias_col: fill(t.seed ^ 5, t.n),
            scale_row: fill(t.seed ^ 6, t.m),
            residual: fill(t.seed ^ 7, c_len),
            slack: if t.posts.activation == 2 {
                ACTIVATION_SLACK
            } else {
                0.0
            },
            packed: t.packed,
            split: t.split,
        }
    }

    fn posts(&self, f: Posts) -> Vec<PostOp<'_>> {
        let mut v = Vec::new();
        if f.bias_row {
            v.push(PostOp::BiasPerRow(&self.bias_row));
        }
        if f.bias_col {
            v.push(PostOp::BiasPerCol(&self.bias_col));
        }
        if f.scale_row {
            v.push(PostOp::ScalePerRow(&self.scale_row));
        }
        if f.affine {
            v.push(PostOp::Affine {
                scale: -1.25,
                shift: 0.375,
            });
        }
        if f.relu {
            v.push(PostOp::Relu);
        }
        if f.clip {
            v.push(PostOp::Clip {
                min: -0.75,
                max: 0.5,
            });
        }
        match f.activation {
            1 => v.push(PostOp::Activation(Activation::HardSwish)),
            2 => v.push(PostOp::Activation(Activation::Sigmoid)),
            _ => {}
        }
        if f.residual {
            v.push(PostOp::Residual(&self.residual));
        }
        v
    }

    fn run(&self, k: SgemmKernels, post: &[PostOp<'_>]) -> Vec<f32> {
        let mut c = self.c.clone();
        let r = match self.packed {
            (false, false) if !self.split && post.is_empty() => {
                (k.sgemm)(&self.p, &self.a, &self.b, &mut c)
            }
            (false, false) if !self.split => {
                (k.sgemm_fused)(&self.p, &self.a, &self.b, &mut c, post)
            }
            (pack_a, pack_b) => {
                // The reference reads any tile: give it an odd one, with ragged depth slices.
                let tile = k.tile.unwrap_or(TileShape {
                    mr: 3,
                    nr: 5,
                    kc: 7,
                });
                let mut g = Gemm::strided(&self.p, &self.a, &self.b);
                let (pa, pb);
                if pack_a {
                    let AOperand::Strided(a) = g.a else {
                        unreachable!()
                    };
                    pa = PackedA::pack(tile, self.p.m, self.p.k, a).expect("pack A");
                    g.a = AOperand::Packed(&pa);
                }
                if pack_b {
                    let BOperand::Strided(b) = g.b else {
                        unreachable!()
                    };
                    pb = PackedB::pack(tile, self.p.k, self.p.n, b).expect("pack B");
                    g.b = BOperand::Packed(&pb);
                }
                if self.split {
                    // Cut at thirds, rounded down to whole panels (required with a packed B).
                    let n = self.p.n;
                    let cut = |f: usize| (n * f / 3) / tile.nr * tile.nr;
                    let cuts = [cut(1), cut(2)];
                    let blocks = split_columns(&mut c, self.p.m, n, self.p.c_row_stride, &cuts)
                        .expect("split C");
                    blocks
                        .into_iter()
                        .try_for_each(|b| (k.gemm_block)(&g, b, post))
                } else {
                    (k.gemm)(&g, &mut c, post)
                }
            }
        };
        r.expect("valid problem rejected");
        c
    }

    /// `(exact value in f64 after post-ops, error scale)` of element `(i, j)`.
    fn exact(&self, i: usize, j: usize, post: &[PostOp<'_>]) -> (f64, f64) {
        let p = &self.p;
        let (mut sum, mut abs) = (0.0f64, 0.0f64);
        for l in 0..p.k {
            let x = self.a[super::offset(i, l, p.a_row_stride, p.a_col_stride)] as f64;
            let y = self.b[super::offset(l, j, p.b_row_stride, p.b_col_stride)] as f64;
            sum += x * y;
            abs += (x * y).abs();
        }
        let c = self.c[super::offset(i, j, p.c_row_stride, 1)] as f64;
        let (alpha, beta) = (p.alpha as f64, p.beta as f64);
        let mut v = alpha * sum + if p.beta == 0.0 { 0.0 } else { beta * c };
        let mut scale = alpha.abs() * abs + if p.beta == 0.0 { 0.0 } else { (beta * c).abs() };
        for op in post {
            match *op {
                PostOp::BiasPerRow(b) => (v, scale) = (v + b[i] as f64, scale + b[i].abs() as f64),
                PostOp::BiasPerCol(b) => (v, scale) = (v + b[j] as f64, scale + b[j].abs() as f64),
                PostOp::ScalePerRow(s) => (v, scale) = (v * s[i] as f64, scale * s[i].abs() as f64),
                PostOp::Affine { scale: s, shift } => {
                    (v, scale) = (
                        v * s as f64 + shift as f64,
                        scale * s.abs() as f64 + shift.abs() as f64,
                    )
                }
                PostOp::Relu => v = v.max(0.0),
                PostOp::Clip { min, max } => v = v.clamp(min as f64, max as f64),
                PostOp::Activation(Activation::HardSwish) => {
                    // Slope at most 1.5: the propagated error grows by that much at most.
                    (v, scale) = (v * (v / 6.0 + 0.5).clamp(0.0, 1.0), 1.5 * scale);
                }
                PostOp::Activation(Activation::Sigmoid) => v = 1.0 / (1.0 + (-v).exp()),
                PostOp::Residual(r) => {
                    let x = r[super::offset(i, j, p.c_row_stride, 1)] as f64;
                    (v, scale) = (v + x, scale + x.abs());
                }
                other => unreachable!("no exact model for {other:?}"),
            }
        }
        (v, scale)
    }
}

fn tolerance(k: usize, scale: f64, slack: f64) -> f64 {
    (k as f64 + 8.0) * f32::EPSILON as f64 * scale + slack
}

fn sgemm_variants() -> impl Iterator<Item = (&'static Variant, SgemmKernels)> {
    variants().iter().filter_map(|v| Some((v, v.sgemm()?)))
}

fn reference() -> SgemmKernels {
    sgemm_variants()
        .find(|(v, _)| v.info.reference)
        .expect("matmul reference")
        .1
}

/// The property: the reference is within tolerance of exact, every supported variant within
/// twice that of the reference, and nothing outside the view is written.
fn check(t: &Case) -> Result<(), TestCaseError> {
    let prob = Problem::new(t);
    let post = prob.posts(t.posts);
    let want = prob.run(reference(), &post);
    let p = &prob.p;
    for i in 0..p.m {
        for j in 0..p.n {
            let (exact, scale) = prob.exact(i, j, &post);
            let got = want[super::offset(i, j, p.c_row_stride, 1)] as f64;
            prop_assert!(
                (got - exact).abs() <= tolerance(p.k, scale, prob.slack),
                "reference C[{i},{j}] = {got}, exact {exact}"
            );
        }
    }
    for (v, k) in sgemm_variants().filter(|(v, _)| !v.info.reference) {
        if !v.is_supported() {
            eprintln!("skipped {}: this CPU lacks {}", v.info.name, v.info.isa);
            continue;
        }
        let got = prob.run(k, &post);
        for (idx, (&g, &w)) in got.iter().zip(&want).enumerate() {
            let (i, j) = (idx / p.c_row_stride as usize, idx % p.c_row_stride as usize);
            if i < p.m && j < p.n {
                let (_, scale) = prob.exact(i, j, &post);
                prop_assert!(
                    ((g - w) as f64).abs() <= 2.0 * tolerance(p.k, scale, prob.slack),
                    "{}: C[{i},{j}] = {g}, reference {w}, case {t:?}",
                    v.info.name
                );
            } else {
                prop_assert_eq!(
                    g.to_bits(),
                    prob.c[idx].to_bits(),
                    "{} wrote padding",
                    v.info.name
                );
            }
        }
    }
    Ok(())
}

fn scalars() -> impl Strategy<Value = (f32, f32)> {
    let alpha = prop_oneof![Just(1.0f32), Just(-0.5), Just(2.5), Just(0.0), -2.0f32..2.0];
    let beta = prop_oneof![Just(0.0f32), Just(1.0), Just(-1.0), Just(0.5), -2.0f32..2.0];
    (alpha, beta)
}

fn case(dims: impl Strategy<Value = (usize, usize, usize)>) -> impl Strategy<Value = Case> {
    let posts = posts();
    (
        dims,
        layout(),
        layout(),
        0..3usize,
        scalars(),
        posts,
        any::<(bool, bool, bool)>(),
        any::<u64>(),
    )
        .prop_map(
            |((m, n, k), a, b, c_pad, (alpha, beta), posts, (pa, pb, split), seed)| Case {
                m,
                n,
                k,
                a,
                b,
                c_pad,
                alpha,
                beta,
                posts,
                packed: (pa || split, pb),
                split,
                seed,
            },
        )
}

/// One dimension at an edge size (including several cache blocks), the other two small.
fn edge_dims() -> impl Strategy<Value = (usize, usize, usize)> {
    let edge = prop::sample::select(vec![1usize, 7, 17, 255, 257, 513]);
    let small = || 1..=16usize;
    prop_oneof![
        (edge.clone(), small(), small()),
        (small(), prop_oneof![edge.clone(), Just(2049)], small()),
        (small(), small(), edge),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn variants_match_reference(t in case((1..=70usize, 1..=70usize, 1..=70usize))) {
        check(&t)?;
    }

    #[test]
    fn variants_match_reference_at_edge_sizes(t in case(edge_dims())) {
        check(&t)?;
    }
}

fn pinned(m: usize, n: usize, k: usize, alpha: f32, beta: f32, posts: Posts) -> Case {
    let (a, b) = (Layout::ColMajor { pad: 1 }, Layout::Strided { pad: 2 });
    Case {
        m,
        n,
        k,
        a,
        b,
        c_pad: 3,
        alpha,
        beta,
        posts,
        packed: (false, false),
        split: false,
        seed: 0x5eed,
    }
}

/// Several blocks in every loop (`MC`, `NC`, `KC`) with `beta` and every post-op, which only
/// apply on the first / last depth slice respectively.
#[test]
fn every_block_loop_with_beta_and_post_ops() {
    let all = Posts {
        bias_row: true,
        bias_col: true,
        scale_row: true,
        affine: true,
        relu: true,
        clip: true,
        activation: 1,
        residual: true,
    };
    check(&pinned(100, 2060, 520, 0.75, 0.5, all)).unwrap();
    let some = Posts {
        bias_col: true,
        clip: true,
        activation: 2,
        ..Posts::default()
    };
    check(&pinned(97, 33, 300, 1.0, 0.0, some)).unwrap();
    for packed in [(true, false), (false, true), (true, true)] {
        for split in [false, true] {
            check(&Case {
                packed,
                split,
                ..pinned(100, 2060, 520, 0.75, 0.5, all)
            })
            .unwrap();
        }
    }
}

/// `beta == 0` must ignore NaN in `C` on every depth slice, not only the first.
#[test]
fn beta_zero_ignores_nan_across_depth_slices() {
    check(&pinned(5, 18, 600, -1.5, 0.0, Posts::default())).unwrap();
}

mod errors;
mod im2col;
mod run_post;
