//! Unit tests of the C ABI, calling the `extern "C"` functions as C would. (Unit tests: the
//! library is built only as cdylib/staticlib, so integration tests could not link it; the C
//! side is covered by `ffi/tests/`.)

mod abi;
mod errors;
mod loading;
mod panics;
mod run;
mod threads;
mod util;
