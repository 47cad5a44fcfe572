//! The subcommands, one module each; `main.rs` only parses and dispatches.

pub(crate) mod fp16;
pub(crate) mod quantize;
