//! Backends turn a [`Plan`](crate::plan::Plan) into something that runs. Only the CPU backend
//! exists today; `wgpu` and `cuda` plug in here later.

pub(crate) mod cpu;

use crate::{Error, ErrorKind, Result};

/// Which backend a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BackendKind {
    /// The CPU backend (always available).
    #[default]
    Cpu,
}

impl std::str::FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(BackendKind::Cpu),
            "wgpu" | "cuda" => Err(Error::new(
                ErrorKind::BackendUnavailable,
                format!("backend '{s}' is not implemented yet; only 'cpu' is available"),
            )),
            _ => Err(Error::argument(format!(
                "unknown backend '{s}' (known: cpu)"
            ))),
        }
    }
}
