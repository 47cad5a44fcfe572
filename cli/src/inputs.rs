//! Turning command-line input specs into tensors: `NAME=FILE.npy`, `NAME=1x3x224x224`, and
//! generated data for everything not given.

use mote::ir::Dim;
use mote::{DType, Error, Model, Result, Tensor};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

/// Splits `NAME=VALUE` (the name may itself contain `=`: split at the last one).
pub(crate) fn split_spec(spec: &str) -> Result<(&str, &str)> {
    spec.rsplit_once('=')
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| Error::argument(format!("expected NAME=VALUE, got '{spec}'")))
}

/// Reads `NAME=FILE.npy` specs.
pub(crate) fn read_npy_inputs(specs: &[String]) -> Result<HashMap<String, Tensor>> {
    let mut map = HashMap::new();
    for spec in specs {
        let (name, file) = split_spec(spec)?;
        let t = mote::npy::read(file)?;
        if map.insert(name.to_string(), t).is_some() {
            return Err(Error::argument(format!("input '{name}' given twice")));
        }
    }
    Ok(map)
}

/// Parses `NAME=1x3x224x224` specs.
pub(crate) fn parse_shapes(specs: &[String]) -> Result<HashMap<String, Vec<usize>>> {
    let mut map = HashMap::new();
    for spec in specs {
        let (name, dims) = split_spec(spec)?;
        let shape = if dims == "scalar" {
            Vec::new()
        } else {
            dims.split('x')
                .map(|d| {
                    d.trim()
                        .parse::<usize>()
                        .map_err(|_| Error::argument(format!("bad dimension '{d}' in '{spec}'")))
                })
                .collect::<Result<Vec<_>>>()?
        };
        map.insert(name.to_string(), shape);
    }
    Ok(map)
}

/// Every model input, in model order: from `given`, else generated with the shape from
/// `shapes` (which must agree with the model's static dims) or the model's declared shape.
/// Generated floats are standard normal (seed 0), integers 1, bools true, so index, mask and
/// length inputs stay valid.
pub(crate) fn complete_inputs(
    model: &Model,
    mut given: HashMap<String, Tensor>,
    shapes: &HashMap<String, Vec<usize>>,
) -> Result<Vec<(String, Tensor)>> {
    for name in given.keys().chain(shapes.keys()) {
        if !model.inputs().iter().any(|i| &i.name == name) {
            let known: Vec<&str> = model.inputs().iter().map(|i| i.name.as_str()).collect();
            return Err(Error::argument(format!(
                "the model has no input '{name}' (inputs: {known:?})"
            )));
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut out = Vec::new();
    for info in model.inputs() {
        if let Some(t) = given.remove(&info.name) {
            out.push((info.name.clone(), t));
            continue;
        }
        let dtype = info.dtype.ok_or_else(|| {
            Error::argument(format!(
                "input '{}' has no declared type; pass it with --input",
                info.name
            ))
        })?;
        let declared = info.shape.clone().unwrap_or_default();
        let shape = match shapes.get(&info.name) {
            Some(s) => {
                check_against_declared(&info.name, s, info.shape.as_deref())?;
                s.clone()
            }
            None => declared
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => Ok(*n),
                    Dim::Symbol(s) => Err(Error::argument(format!(
                        "input '{}' has a symbolic dimension '{s}' ({}): give its shape with --shape {}=...",
                        info.name,
                        mote::format_dims(&declared),
                        info.name
                    ))),
                })
                .collect::<Result<Vec<_>>>()?,
        };
        out.push((info.name.clone(), generate(dtype, &shape, &mut rng)?));
    }
    Ok(out)
}

fn check_against_declared(name: &str, shape: &[usize], declared: Option<&[Dim]>) -> Result<()> {
    let Some(declared) = declared else {
        return Ok(());
    };
    let agrees = declared.len() == shape.len()
        && declared
            .iter()
            .zip(shape)
            .all(|(d, &n)| !matches!(d, Dim::Known(k) if *k != n));
    if agrees {
        Ok(())
    } else {
        Err(Error::shape(format!(
            "--shape for '{name}' is {shape:?} but the model declares {}",
            mote::format_dims(declared)
        )))
    }
}

fn generate(dtype: DType, shape: &[usize], rng: &mut rand::rngs::StdRng) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut normal = || -> f32 { StandardNormal.sample(rng) };
    match dtype {
        DType::F32 => Tensor::from_vec(shape, (0..n).map(|_| normal()).collect()),
        DType::F64 => Tensor::from_vec(shape, (0..n).map(|_| normal() as f64).collect()),
        DType::F16 => Tensor::from_vec(
            shape,
            (0..n).map(|_| half::f16::from_f32(normal())).collect(),
        ),
        DType::BF16 => Tensor::from_vec(
            shape,
            (0..n).map(|_| half::bf16::from_f32(normal())).collect(),
        ),
        DType::Bool => Tensor::from_bools(shape, &vec![true; n]),
        DType::I64 => Tensor::from_vec(shape, vec![1i64; n]),
        DType::I32 => Tensor::from_vec(shape, vec![1i32; n]),
        DType::I16 => Tensor::from_vec(shape, vec![1i16; n]),
        DType::I8 => Tensor::from_vec(shape, vec![1i8; n]),
        DType::U64 => Tensor::from_vec(shape, vec![1u64; n]),
        DType::U32 => Tensor::from_vec(shape, vec![1u32; n]),
        DType::U16 => Tensor::from_vec(shape, vec![1u16; n]),
        DType::U8 => Tensor::from_vec(shape, vec![1u8; n]),
        d => Err(Error::dtype(format!(
            "cannot generate {d} inputs; pass them with --input"
        ))),
    }
}

/// One line about a tensor: dtype, shape, and min/mean/max for numeric ones.
pub(crate) fn summary(t: &Tensor) -> String {
    let head = format!("{} {:?}", t.dtype(), t.shape());
    let Ok(values) = t.view().to_f64_vec() else {
        return head;
    };
    if values.is_empty() {
        return format!("{head} (empty)");
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let first: Vec<String> = values.iter().take(5).map(|v| format!("{v:.4}")).collect();
    format!(
        "{head} min {min:.4} mean {mean:.4} max {max:.4} first [{}]",
        first.join(", ")
    )
}

/// `name` with every character outside `[A-Za-z0-9._-]` replaced by `_` (file-name safe).
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
