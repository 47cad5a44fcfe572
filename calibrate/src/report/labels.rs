//! Class labels for top-1 accuracy: one integer per sample, in the data files' sorted order,
//! as an `.npy` array (any integer type, or whole floats) or a text file (one per line, `#`
//! comments).

use crate::{Error, Result};
use std::path::Path;

/// Reads `expected` labels from `path`.
pub fn read(path: &Path, expected: usize) -> Result<Vec<i64>> {
    let is_npy = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let labels = if is_npy {
        let t = mote::npy::read(path).map_err(|e| Error::Data(e.to_string()))?;
        if t.dtype().is_float() {
            let v = t.view().to_f64_vec()?;
            v.iter()
                .map(|&x| {
                    (x.fract() == 0.0 && x.is_finite())
                        .then_some(x as i64)
                        .ok_or_else(|| {
                            Error::Data(format!(
                                "{}: label {x} is not a class index",
                                path.display()
                            ))
                        })
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            t.view().to_i64_vec()?
        }
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            v.push(line.parse::<i64>().map_err(|_| {
                Error::Data(format!(
                    "{}: line {}: '{line}' is not a class index",
                    path.display(),
                    i + 1
                ))
            })?);
        }
        v
    };
    if labels.len() != expected {
        return Err(Error::Data(format!(
            "{}: {} labels for {expected} samples (one label per sample file, in sorted \
             file-name order)",
            path.display(),
            labels.len()
        )));
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_text_and_npy_labels_and_checks_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("labels.txt");
        std::fs::write(&txt, "# classes\n3\n1\n\n4\n").unwrap();
        assert_eq!(read(&txt, 3).unwrap(), vec![3, 1, 4]);
        let err = read(&txt, 2).unwrap_err().to_string();
        assert!(err.contains("3 labels for 2 samples"), "{err}");

        let npy = dir.path().join("labels.npy");
        let t = mote::Tensor::from_vec(&[2], vec![7i64, 2]).unwrap();
        mote::npy::write(&npy, &t).unwrap();
        assert_eq!(read(&npy, 2).unwrap(), vec![7, 2]);

        std::fs::write(&txt, "1\nx\n").unwrap();
        let err = read(&txt, 2).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
