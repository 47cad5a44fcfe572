//! `DequantizeLinear → Resize (linear or cubic) → QuantizeLinear` → `QResize`: the resize
//! interpolates the 8-bit values themselves (centred on their zero point, scaled once into
//! the output), where the pattern dequantized the tensor, resized it in float and quantized
//! it back. Nearest resizes only move bytes and fold in [`super::movement`].
//!
//! Only per-tensor quantizations fold ([`super::Site`] requires them): a per-axis scale along
//! a resized axis would give neighbouring taps different units.

use super::Site;
use crate::ir::ops::quant::{QResize, QuantOp};
use crate::ir::ops::shape::{ResizeMode, ShapeOp};
use crate::ir::{Graph, Op};
use crate::Result;

/// Folds the site if its op is a linear or cubic `Resize` of its one 8-bit input.
pub(super) fn fold(graph: &mut Graph, site: &Site) -> Result<bool> {
    let Op::Shape(ShapeOp::Resize(attrs)) = &graph.nodes[site.node].op else {
        return Ok(false);
    };
    if !matches!(attrs.mode, ResizeMode::Linear | ResizeMode::Cubic) {
        return Ok(false);
    }
    let [(x, xq)] = site.variable_sources()[..] else {
        return Ok(false);
    };
    // The one 8-bit input must be the data (position 0), not e.g. the scales.
    if site.sources.first().copied().flatten().map(|s| s.0) != Some(x) {
        return Ok(false);
    }
    let q = QResize {
        resize: (**attrs).clone(),
        x: xq,
        y: site.y,
    };
    let mut inputs = graph.nodes[site.node].inputs.clone();
    inputs[0] = Some(x);
    site.replace(graph, Op::Quant(QuantOp::QResize(Box::new(q))), inputs);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::test_graph::{constant, dequantize, eval, node, quantize, value};
    use super::super::FoldQdq;
    use super::*;
    use crate::ir::ops::quant::DequantizeAttrs;
    use crate::ir::ops::shape::{CoordinateMode, KeepAspectRatio, NearestMode, ResizeAttrs};
    use crate::ir::ValueId;
    use crate::passes::Pass;
    use crate::{DType, Tensor};

    fn attrs(mode: ResizeMode, coordinate_mode: CoordinateMode) -> ResizeAttrs {
        ResizeAttrs {
            mode,
            coordinate_mode,
            nearest_mode: NearestMode::RoundPreferFloor,
            cubic_coeff_a: -0.75,
            exclude_outside: false,
            extrapolation_value: 0.0,
            antialias: false,
            axes: None,
            keep_aspect_ratio: KeepAspectRatio::Stretch,
            roi_input: Some(1),
            scales_input: Some(2),
            sizes_input: None,
            scales_attr: None,
        }
    }

    /// The quantizations of one test: `(x dtype, x scale, x zero point, y scale, y zero
    /// point)`, the output of `x`'s type.
    type Quantization = (DType, f32, i32, f32, i32);

    fn zero(dtype: DType, z: i32) -> Tensor {
        if dtype == DType::I8 {
            Tensor::scalar(z as i8)
        } else {
            Tensor::scalar(z as u8)
        }
    }

    /// `x → DequantizeLinear → Resize(attrs, roi, scales) → QuantizeLinear → y`.
    fn graph(
        a: ResizeAttrs,
        q: Quantization,
        shape: &[usize],
        roi: &[f32],
        scales: &[f32],
    ) -> (Graph, ValueId) {
        let (dtype, sx, zx, sy, zy) = q;
        let mut g = Graph::default();
        let x = value(&mut g, "x", dtype, shape);
        let (s, z) = (
            constant(&mut g, "s", Tensor::scalar(sx)),
            constant(&mut g, "z", zero(dtype, zx)),
        );
        let (s2, z2) = (
            constant(&mut g, "s2", Tensor::scalar(sy)),
            constant(&mut g, "z2", zero(dtype, zy)),
        );
        let roi = constant(
            &mut g,
            "roi",
            Tensor::from_vec(&[roi.len()], roi.to_vec()).unwrap(),
        );
        let scales = constant(
            &mut g,
            "scales",
            Tensor::from_vec(&[scales.len()], scales.to_vec()).unwrap(),
        );
        let v = value(&mut g, "v", DType::F32, shape);
        let r = g.add_value(crate::ir::ValueInfo {
            name: "r".into(),
            dtype: Some(DType::F32),
            shape: None,
            quant: None,
        });
        let y = g.add_value(crate::ir::ValueInfo {
            name: "y".into(),
            dtype: Some(dtype),
            shape: None,
            quant: None,
        });
        dequantize(&mut g, "dq", [x, s, z], v);
        let op = Op::Shape(ShapeOp::Resize(Box::new(a)));
        node(&mut g, "resize", op, &[v, roi, scales], r);
        quantize(&mut g, "q", [r, s2, z2], y);
        g.inputs = vec![x];
        g.outputs = vec![y];
        (g, x)
    }

    /// Deterministic bytes covering the whole range.
    fn input(dtype: DType, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let raw: Vec<u8> = (0..n as u32).map(|i| (i * 97 % 251) as u8).collect();
        Tensor::from_bytes(dtype, shape, &raw).unwrap()
    }

    /// Folds the graph, checks that no float `Resize` is left, and that the folded graph is
    /// within one quantization step of the pattern everywhere; returns the fraction of equal
    /// elements.
    fn check(a: ResizeAttrs, q: Quantization, shape: &[usize], roi: &[f32], scales: &[f32]) -> f64 {
        let what = format!("{a:?} {q:?} {shape:?} {scales:?}");
        let (mut g, x) = graph(a, q, shape, roi, scales);
        let x_value = input(q.0, shape);
        let want = eval(&g, x, &x_value);
        assert!(FoldQdq.run(&mut g).unwrap(), "{what}: folded");
        g.validate().unwrap();
        assert!(
            g.nodes
                .iter()
                .any(|n| matches!(n.op, Op::Quant(QuantOp::QResize(_)))),
            "{what}: a QResize"
        );
        assert!(
            !g.nodes
                .iter()
                .any(|n| matches!(n.op, Op::Shape(ShapeOp::Resize(_)))),
            "{what}: no float Resize left"
        );
        let got = eval(&g, x, &x_value);
        assert_eq!(got.shape(), want.shape(), "{what}");
        assert_eq!(got.dtype(), want.dtype(), "{what}");
        let (g, w) = (
            got.view().to_f64_vec().unwrap(),
            want.view().to_f64_vec().unwrap(),
        );
        let worst = g
            .iter()
            .zip(&w)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        // Tolerance: one quantization step (the pattern rounds its f32 interpolation, the
        // fold its own sum; they may fall either side of a rounding boundary).
        assert!(worst <= 1.0, "{what}: off by {worst} steps");
        g.iter().zip(&w).filter(|(a, b)| a == b).count() as f64 / g.len() as f64
    }

    const SAME_U8: Quantization = (DType::U8, 0.05, 128, 0.05, 128);
    const RESCALED_U8: Quantization = (DType::U8, 0.04, 100, 0.03, 90);
    const SAME_I8: Quantization = (DType::I8, 0.05, 0, 0.05, 0);
    const RESCALED_I8: Quantization = (DType::I8, 0.02, -10, 0.05, 7);

    #[test]
    fn linear_and_cubic_resizes_fold_within_one_step() {
        use CoordinateMode::*;
        let quants = [SAME_U8, RESCALED_U8, SAME_I8, RESCALED_I8];
        let up = [1.0, 1.0, 2.0, 2.0];
        let odd = [1.0, 1.0, 1.7, 0.6];
        for mode in [ResizeMode::Linear, ResizeMode::Cubic] {
            for coordinates in [HalfPixel, PytorchHalfPixel, AlignCorners, Asymmetric] {
                for q in quants {
                    for scales in [up, odd] {
                        let equal = check(attrs(mode, coordinates), q, &[1, 3, 5, 7], &[], &scales);
                        assert!(equal > 0.9, "{mode:?} {coordinates:?}: {equal} equal");
                    }
                }
            }
        }
    }

    #[test]
    fn cubic_exclude_outside_and_antialias_fold() {
        let mut a = attrs(ResizeMode::Cubic, CoordinateMode::HalfPixel);
        a.exclude_outside = true;
        a.cubic_coeff_a = -0.5;
        check(a, RESCALED_U8, &[2, 2, 9, 8], &[], &[1.0, 1.0, 1.5, 2.5]);
        for mode in [ResizeMode::Linear, ResizeMode::Cubic] {
            let mut a = attrs(mode, CoordinateMode::HalfPixel);
            a.antialias = true;
            check(a, SAME_I8, &[1, 2, 17, 17], &[], &[1.0, 1.0, 0.4, 0.6]);
        }
    }

    #[test]
    fn crop_and_resize_extrapolates_the_quantized_value() {
        let mut a = attrs(ResizeMode::Linear, CoordinateMode::TfCropAndResize);
        a.extrapolation_value = 0.3;
        // The region of interest reaches past the input on both sides of both spatial axes.
        let roi = [0.0, 0.0, -0.4, 0.2, 1.0, 1.0, 0.9, 1.3];
        for q in [SAME_U8, RESCALED_I8] {
            check(a.clone(), q, &[1, 2, 6, 5], &roi, &[1.0, 1.0, 2.0, 1.5]);
        }
    }

    #[test]
    fn other_axes_take_the_general_path() {
        // Resizing the channels too (and a rank-3 input's every axis).
        for q in [RESCALED_U8, SAME_I8] {
            let a = attrs(ResizeMode::Linear, CoordinateMode::HalfPixel);
            check(a, q, &[1, 3, 4, 5], &[], &[1.0, 2.0, 1.5, 2.0]);
            let a = attrs(ResizeMode::Cubic, CoordinateMode::AlignCorners);
            check(a, q, &[3, 4, 5], &[], &[1.5, 2.0, 0.8]);
        }
        let mut a = attrs(ResizeMode::Linear, CoordinateMode::TfCropAndResize);
        a.extrapolation_value = -1.0;
        let roi = [-0.5, 0.0, 0.0, 1.2, 1.0, 1.0];
        check(a, RESCALED_I8, &[3, 4, 5], &roi, &[2.0, 1.0, 1.0]);
    }

    #[test]
    fn low_ranks_fold() {
        // Rank 2 (one plane) and rank 1 (one row), by the kernel.
        for mode in [ResizeMode::Linear, ResizeMode::Cubic] {
            check(
                attrs(mode, CoordinateMode::HalfPixel),
                RESCALED_U8,
                &[5, 7],
                &[],
                &[2.0, 1.5],
            );
            check(
                attrs(mode, CoordinateMode::AlignCorners),
                SAME_I8,
                &[9],
                &[],
                &[1.8],
            );
        }
    }

    #[test]
    fn nearest_still_moves_bytes_and_per_axis_stays_float() {
        // Nearest keeps the float op's shape (a byte gather), not a QResize.
        let (mut g, _) = graph(
            attrs(ResizeMode::Nearest, CoordinateMode::Asymmetric),
            SAME_U8,
            &[1, 2, 3, 3],
            &[],
            &[1.0, 1.0, 2.0, 2.0],
        );
        assert!(FoldQdq.run(&mut g).unwrap());
        assert!(g
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Shape(ShapeOp::Resize(_)))));
        assert!(!g
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Quant(QuantOp::QResize(_)))));

        // A per-axis (per-channel) dequantize does not fold.
        let (mut g, _) = graph(
            attrs(ResizeMode::Linear, CoordinateMode::HalfPixel),
            SAME_U8,
            &[1, 2, 3, 3],
            &[],
            &[1.0, 1.0, 2.0, 2.0],
        );
        let per_channel = constant(
            &mut g,
            "sc",
            Tensor::from_vec(&[2], vec![0.1f32, 0.2]).unwrap(),
        );
        let per_channel_zero =
            constant(&mut g, "zc", Tensor::from_vec(&[2], vec![1u8, 2]).unwrap());
        g.nodes[0].op = Op::Quant(QuantOp::DequantizeLinear(DequantizeAttrs {
            axis: 1,
            block_size: 0,
            output_dtype: None,
        }));
        g.nodes[0].inputs[1] = Some(per_channel);
        g.nodes[0].inputs[2] = Some(per_channel_zero);
        FoldQdq.run(&mut g).unwrap();
        assert!(g
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Shape(ShapeOp::Resize(_)))));
        assert!(!g
            .nodes
            .iter()
            .any(|n| matches!(n.op, Op::Quant(QuantOp::QResize(_)))));
        // `mote inspect --quant` says why.
        let lines = crate::passes::quant::report(&g);
        let resize = lines
            .iter()
            .find(|l| l.op == "Resize")
            .expect("a Resize line");
        assert_eq!(resize.precision, crate::passes::quant::Precision::Float);
        let why = resize.reason.as_deref().unwrap_or_default();
        assert!(why.contains("per axis"), "{why}");
    }

    #[test]
    fn the_folded_resize_reports_as_int8() {
        let a = attrs(ResizeMode::Linear, CoordinateMode::HalfPixel);
        let (mut g, _) = graph(a, SAME_U8, &[1, 2, 3, 3], &[], &[1.0, 1.0, 2.0, 2.0]);
        assert!(FoldQdq.run(&mut g).unwrap());
        let lines = crate::passes::quant::report(&g);
        let resize = lines
            .iter()
            .find(|l| l.op == "QResize")
            .expect("a QResize line");
        assert_eq!(resize.precision, crate::passes::quant::Precision::Int8);
        assert_eq!(resize.reason, None);
    }
}
