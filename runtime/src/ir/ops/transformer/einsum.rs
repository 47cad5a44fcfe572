//! Einsum equations: parsed once at import ([`Einsum::parse`]), resolved against concrete
//! operand shapes ([`Einsum::resolve`]) by both shape inference and the CPU evaluation, so the
//! two cannot disagree on the output shape.

use crate::{Error, Result};

/// One subscript of an operand or of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Subscript {
    /// A letter (`a`-`z`, `A`-`Z`), stored as its index in [`LETTERS`] order.
    Label(u8),
    /// `...`: the broadcast dimensions.
    Ellipsis,
}

/// Number of distinct letters; ellipsis dimensions get label ids from here on.
pub const LETTERS: usize = 52;

/// A parsed einsum equation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Einsum {
    /// Subscripts of each operand.
    pub inputs: Vec<Vec<Subscript>>,
    /// Subscripts of the output; `None` in implicit mode (no `->`).
    pub output: Option<Vec<Subscript>>,
}

/// An equation resolved for concrete operand shapes. Labels are ids: letters are
/// `0..LETTERS` (upper case first, as in ASCII order), ellipsis dimension `i` is `LETTERS + i`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    /// The label of each axis of each operand (repeats mean a diagonal).
    pub inputs: Vec<Vec<usize>>,
    /// The label of each output axis (no repeats).
    pub output: Vec<usize>,
    /// The extent of every label id (size-1 operand dimensions broadcast).
    pub sizes: Vec<usize>,
}

impl Resolved {
    /// The output shape.
    pub fn output_shape(&self) -> Vec<usize> {
        self.output.iter().map(|&l| self.sizes[l]).collect()
    }
}

fn letter_id(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        _ => None,
    }
}

fn parse_term(term: &str) -> Result<Vec<Subscript>> {
    let bytes = term.as_bytes();
    let mut subs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'.' {
            if bytes.get(i..i + 3) != Some(b"...") {
                return Err(Error::invalid_model(format!(
                    "einsum term '{term}': stray '.'"
                )));
            }
            if subs.contains(&Subscript::Ellipsis) {
                return Err(Error::invalid_model(format!(
                    "einsum term '{term}': two ellipses"
                )));
            }
            subs.push(Subscript::Ellipsis);
            i += 3;
        } else if c == b' ' {
            i += 1;
        } else {
            let id = letter_id(c).ok_or_else(|| {
                Error::invalid_model(format!(
                    "einsum term '{term}': invalid character '{}'",
                    c as char
                ))
            })?;
            subs.push(Subscript::Label(id));
            i += 1;
        }
    }
    Ok(subs)
}

impl Einsum {
    /// Parses `"ij,jk->ik"`-style equations (spaces allowed, `...` for broadcast dims).
    pub fn parse(equation: &str) -> Result<Einsum> {
        let (lhs, rhs) = match equation.split_once("->") {
            Some((l, r)) => (l, Some(r)),
            None => (equation, None),
        };
        let inputs = lhs.split(',').map(parse_term).collect::<Result<Vec<_>>>()?;
        let output = rhs.map(parse_term).transpose()?;
        if let Some(out) = &output {
            for (i, s) in out.iter().enumerate() {
                if let Subscript::Label(l) = s {
                    if out[..i].contains(s) {
                        return Err(Error::invalid_model(format!(
                            "einsum '{equation}': output label {} repeated",
                            label_char(*l)
                        )));
                    }
                    if !inputs.iter().flatten().any(|x| x == s) {
                        return Err(Error::invalid_model(format!(
                            "einsum '{equation}': output label {} is in no input",
                            label_char(*l)
                        )));
                    }
                }
            }
        }
        Ok(Einsum { inputs, output })
    }

    /// Binds labels to the dimensions of operands of the given shapes.
    pub fn resolve(&self, shapes: &[&[usize]]) -> Result<Resolved> {
        if shapes.len() != self.inputs.len() {
            return Err(Error::invalid_model(format!(
                "einsum equation has {} terms for {} inputs",
                self.inputs.len(),
                shapes.len()
            )));
        }
        // Ellipsis rank: the largest over operands; shorter ones broadcast (right-aligned).
        let mut ellipsis_rank = 0;
        for (term, shape) in self.inputs.iter().zip(shapes) {
            let letters = term.iter().filter(|s| **s != Subscript::Ellipsis).count();
            let has_ellipsis = term.contains(&Subscript::Ellipsis);
            if shape.len() < letters || (!has_ellipsis && shape.len() != letters) {
                return Err(Error::shape(format!(
                    "einsum operand of shape {shape:?} does not match its {} subscripts",
                    term.len()
                )));
            }
            if has_ellipsis {
                ellipsis_rank = ellipsis_rank.max(shape.len() - letters);
            }
        }
        let mut sizes = vec![1usize; LETTERS + ellipsis_rank];
        let mut seen = vec![false; sizes.len()];
        let mut inputs = Vec::with_capacity(shapes.len());
        for (term, shape) in self.inputs.iter().zip(shapes) {
            let letters = term.iter().filter(|s| **s != Subscript::Ellipsis).count();
            let own_rank = shape.len() - letters;
            let mut labels = Vec::with_capacity(shape.len());
            for s in term {
                match *s {
                    Subscript::Label(l) => labels.push(l as usize),
                    Subscript::Ellipsis => labels
                        .extend((ellipsis_rank - own_rank..ellipsis_rank).map(|i| LETTERS + i)),
                }
            }
            for (&label, &dim) in labels.iter().zip(shape.iter()) {
                let size = &mut sizes[label];
                if !seen[label] || *size == 1 {
                    *size = dim;
                } else if dim != 1 && dim != *size {
                    return Err(Error::shape(format!(
                        "einsum label {} has extents {} and {dim}",
                        describe(label),
                        *size
                    )));
                }
                seen[label] = true;
            }
            inputs.push(labels);
        }
        let output = match &self.output {
            Some(term) => term
                .iter()
                .flat_map(|s| match *s {
                    Subscript::Label(l) => vec![l as usize],
                    Subscript::Ellipsis => (LETTERS..LETTERS + ellipsis_rank).collect(),
                })
                .collect(),
            None => {
                // Implicit mode: ellipsis dims first, then labels seen exactly once, sorted.
                let mut count = [0usize; LETTERS];
                for &l in inputs.iter().flatten().filter(|&&l| l < LETTERS) {
                    count[l] += 1;
                }
                let mut out: Vec<usize> = (LETTERS..LETTERS + ellipsis_rank).collect();
                out.extend((0..LETTERS).filter(|&l| count[l] == 1));
                out
            }
        };
        if self.output.is_some() && !self.inputs.iter().any(|t| t.contains(&Subscript::Ellipsis)) {
            if let Some(&l) = output.iter().find(|&&l| l >= LETTERS) {
                return Err(Error::invalid_model(format!(
                    "einsum output has an ellipsis ({}) that no input has",
                    describe(l)
                )));
            }
        }
        Ok(Resolved {
            inputs,
            output,
            sizes,
        })
    }
}

fn label_char(l: u8) -> char {
    if l < 26 {
        (b'A' + l) as char
    } else {
        (b'a' + l - 26) as char
    }
}

fn describe(label: usize) -> String {
    if label < LETTERS {
        label_char(label as u8).to_string()
    } else {
        format!("...[{}]", label - LETTERS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_matmul() {
        let e = Einsum::parse("bij, bjk -> bik").unwrap();
        let r = e.resolve(&[&[5, 2, 3], &[5, 3, 4]]).unwrap();
        assert_eq!(r.output_shape(), vec![5, 2, 4]);
    }

    #[test]
    fn implicit_output_is_sorted_singletons() {
        let e = Einsum::parse("ji,jk").unwrap();
        let r = e.resolve(&[&[2, 3], &[2, 4]]).unwrap();
        assert_eq!(r.output_shape(), vec![3, 4]);
        let e = Einsum::parse("i,i").unwrap();
        assert_eq!(
            e.resolve(&[&[5], &[5]]).unwrap().output_shape(),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn ellipsis_broadcasts_and_leads_implicit_output() {
        let e = Einsum::parse("...ii->...i").unwrap();
        assert_eq!(e.resolve(&[&[3, 5, 5]]).unwrap().output_shape(), vec![3, 5]);
        let e = Einsum::parse("...ij,...jk").unwrap();
        let r = e.resolve(&[&[2, 1, 3, 4], &[7, 4, 5]]).unwrap();
        assert_eq!(r.output_shape(), vec![2, 7, 3, 5]);
    }

    #[test]
    fn bad_equations_are_errors() {
        assert!(Einsum::parse("ij->ii").is_err());
        assert!(Einsum::parse("ij->k").is_err());
        assert!(Einsum::parse("i.j").is_err());
        let e = Einsum::parse("ij,jk").unwrap();
        assert!(e.resolve(&[&[2, 3], &[4, 5]]).is_err());
        assert!(e.resolve(&[&[2, 3]]).is_err());
    }
}
