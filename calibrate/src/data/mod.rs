//! Calibration data: a directory with one file per sample, read one file at a time.
//!
//! - `.npy`: a single-input model's input (any file name), shaped like the input, batch 1;
//! - `.npz`: one array per input, keyed by input name;
//! - `.png`, `.jpg`, `.jpeg`: an image for a single-input model, turned into a tensor by a
//!   [`Preprocess`] spec.
//!
//! Files are taken in sorted name order so that every run sees the same sequence; other files
//! (a README, a labels file) are ignored. Nothing is loaded before it is asked for, so memory
//! does not depend on the number of samples.

mod preprocess;

pub use preprocess::{Channels, Layout, Preprocess};

use crate::{Error, Result};
use mote::ir::{Dim, ValueInfo};
use mote::{DType, Model, Tensor};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a model input accepts: its name, and its element type and dims when declared.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpec {
    pub name: String,
    pub dtype: Option<DType>,
    pub dims: Option<Vec<Dim>>,
}

impl From<&ValueInfo> for InputSpec {
    fn from(v: &ValueInfo) -> Self {
        InputSpec {
            name: v.name.clone(),
            dtype: v.dtype,
            dims: v.shape.clone(),
        }
    }
}

impl InputSpec {
    /// The model's inputs, in order.
    pub fn of_model(model: &Model) -> Vec<InputSpec> {
        model.inputs().into_iter().map(InputSpec::from).collect()
    }

    /// Known dims as numbers (`None` for a symbolic one); `None` when the rank is unknown.
    fn known_dims(&self) -> Option<Vec<Option<usize>>> {
        Some(
            self.dims
                .as_ref()?
                .iter()
                .map(|d| match d {
                    Dim::Known(n) => Some(*n),
                    Dim::Symbol(_) => None,
                })
                .collect(),
        )
    }

    /// Checks that `t` fits this input; the error names `file`.
    pub fn check(&self, t: &Tensor, file: &Path) -> Result<()> {
        if let Some(d) = self.dtype {
            if t.dtype() != d {
                return Err(Error::Data(format!(
                    "{}: input '{}' is {d}, the file holds {} (convert it, e.g. \
                     numpy's .astype)",
                    file.display(),
                    self.name,
                    t.dtype()
                )));
            }
        }
        if let Some(dims) = self.known_dims() {
            let fits = dims.len() == t.shape().len()
                && dims
                    .iter()
                    .zip(t.shape())
                    .all(|(d, &n)| d.is_none_or(|d| d == n));
            if !fits {
                return Err(Error::Data(format!(
                    "{}: input '{}' has shape {}, the file holds {:?} (one sample, batch 1)",
                    file.display(),
                    self.name,
                    mote::format_dims(self.dims.as_deref().unwrap_or(&[])),
                    t.shape()
                )));
            }
        }
        Ok(())
    }
}

/// The kind of one sample file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Npy,
    Npz,
    Image,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "npy" => Some(Kind::Npy),
        "npz" => Some(Kind::Npz),
        "png" | "jpg" | "jpeg" => Some(Kind::Image),
        _ => None,
    }
}

/// One sample: a tensor per model input, in the model's input order.
pub type Sample = Vec<(String, Tensor)>;

/// A directory of calibration samples for one model.
#[derive(Clone, Debug)]
pub struct CalibrationData {
    dir: PathBuf,
    files: Vec<PathBuf>,
    inputs: Vec<InputSpec>,
    preprocess: Option<Preprocess>,
}

impl CalibrationData {
    /// Lists the sample files of `dir` for a model with these inputs. Fails when the directory
    /// cannot be read, holds no sample file, or holds a kind of file the model cannot take
    /// (`.npy` or images for a model with several inputs, images without `preprocess`).
    pub fn open(
        dir: &Path,
        inputs: &[InputSpec],
        preprocess: Option<&Preprocess>,
    ) -> Result<CalibrationData> {
        if inputs.is_empty() {
            return Err(Error::Data("the model has no inputs".into()));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden || !path.is_file() {
                continue;
            }
            if let Some(kind) = kind_of(&path) {
                check_kind(kind, &path, inputs, preprocess)?;
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(Error::Data(format!(
                "{}: no sample files (.npy, .npz, .png, .jpg)",
                dir.display()
            )));
        }
        files.sort();
        Ok(CalibrationData {
            dir: dir.to_path_buf(),
            files,
            inputs: inputs.to_vec(),
            preprocess: preprocess.cloned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Never true: [`CalibrationData::open`] refuses an empty directory.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The sample files in the order they are read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The inputs the samples are checked against.
    pub fn inputs(&self) -> &[InputSpec] {
        &self.inputs
    }

    /// Reads sample `index`.
    pub fn sample(&self, index: usize) -> Result<Sample> {
        let path = self.files.get(index).ok_or_else(|| {
            Error::Data(format!("sample {index} of {} requested", self.files.len()))
        })?;
        let sample = match kind_of(path) {
            Some(Kind::Npy) => vec![(self.inputs[0].name.clone(), read_npy(path)?)],
            Some(Kind::Npz) => read_npz(path, &self.inputs)?,
            Some(Kind::Image) => vec![(self.inputs[0].name.clone(), self.read_image(path)?)],
            None => return Err(Error::Data(format!("{}: not a sample", path.display()))),
        };
        for ((_, t), spec) in sample.iter().zip(&self.inputs) {
            spec.check(t, path)?;
        }
        Ok(sample)
    }

    /// The samples, one file at a time, in sorted file-name order.
    pub fn samples(&self) -> impl Iterator<Item = Result<Sample>> + '_ {
        (0..self.files.len()).map(|i| self.sample(i))
    }

    fn read_image(&self, path: &Path) -> Result<Tensor> {
        let p = self
            .preprocess
            .as_ref()
            .ok_or_else(|| Error::Data("images need a preprocessing spec".into()))?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let image = image::load_from_memory(&bytes)
            .map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
        let spec = &self.inputs[0];
        let size = p
            .resize
            .or_else(|| p.size_from_dims(&spec.known_dims()?))
            .unwrap_or((image.height() as usize, image.width() as usize));
        p.apply(&image, size)
    }
}

/// Refuses, up front, a file kind the model cannot take.
fn check_kind(
    kind: Kind,
    path: &Path,
    inputs: &[InputSpec],
    preprocess: Option<&Preprocess>,
) -> Result<()> {
    let names = || {
        inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kind {
        Kind::Npy | Kind::Image if inputs.len() > 1 => Err(Error::Data(format!(
            "{}: the model has {} inputs ({}); give each sample as an .npz keyed by input name",
            path.display(),
            inputs.len(),
            names()
        ))),
        Kind::Image if preprocess.is_none() => Err(Error::Data(format!(
            "{}: images need a preprocessing spec (--preprocess, e.g. \
             'resize=224x224,mean=0.485/0.456/0.406,std=0.229/0.224/0.225')",
            path.display()
        ))),
        _ => Ok(()),
    }
}

fn read_npy(path: &Path) -> Result<Tensor> {
    mote::npy::read(path).map_err(|e| Error::Data(e.to_string()))
}

/// Reads one array per input from an `.npz` (a zip of `NAME.npy` members).
fn read_npz(path: &Path, inputs: &[InputSpec]) -> Result<Sample> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::Data(format!("{}: not a readable .npz: {e}", path.display())))?;
    let mut sample = Vec::with_capacity(inputs.len());
    for spec in inputs {
        let member = format!("{}.npy", spec.name);
        let present: Vec<String> = archive
            .file_names()
            .map(|n| n.trim_end_matches(".npy").to_string())
            .collect();
        let mut entry = archive.by_name(&member).map_err(|_| {
            Error::Data(format!(
                "{}: no array named '{}' (the model's input); the file has: {}",
                path.display(),
                spec.name,
                present.join(", ")
            ))
        })?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Data(format!("{}: {member}: {e}", path.display())))?;
        let label = path.join(&member);
        let t = mote::npy::read_bytes(&bytes, &label).map_err(|e| Error::Data(e.to_string()))?;
        sample.push((spec.name.clone(), t));
    }
    Ok(sample)
}

#[cfg(test)]
mod tests;
