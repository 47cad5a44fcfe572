//! Shared helpers: the demo model, inputs, and the Rust API's answer to compare with.

use crate::*;
use std::ffi::{CStr, CString};

pub(super) const DEMO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../assets/models/digits_mlp.onnx"
);

pub(super) fn last_error() -> String {
    // SAFETY: mote_last_error never returns NULL and the string lives until the next failure.
    unsafe { CStr::from_ptr(mote_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts `status` is OK, showing the last error otherwise.
#[track_caller]
pub(super) fn ok(status: MoteStatus) {
    assert_eq!(status, MoteStatus::Ok, "{}", last_error());
}

pub(super) fn load_demo() -> *mut MoteModel {
    let path = CString::new(DEMO).unwrap();
    let mut model = std::ptr::null_mut();
    // SAFETY: valid string and out-pointer.
    ok(unsafe { mote_model_load_file(path.as_ptr(), &mut model) });
    model
}

/// Deterministic pixel rows in the demo model's 0..16 range; `seed` varies them.
pub(super) fn pixels(rows: usize, seed: usize) -> Vec<f32> {
    (0..rows * 64)
        .map(|i| ((i * 7 + seed * 13 + i / 64) % 17) as f32)
        .collect()
}

pub(super) fn f32_tensor(shape: &[i64], values: &[f32]) -> *mut MoteTensor {
    let mut t = std::ptr::null_mut();
    // SAFETY: the shape and data slices are valid for the lengths given.
    ok(unsafe {
        mote_tensor_new(
            MoteDtype::F32 as i32,
            shape.as_ptr(),
            shape.len(),
            values.as_ptr().cast(),
            std::mem::size_of_val(values),
            &mut t,
        )
    });
    t
}

/// The Rust API's probabilities for these pixels (the reference the C ABI must match).
pub(super) fn reference(pixels: &[f32]) -> Vec<f32> {
    let model = mote::Model::load(DEMO).unwrap();
    let mut session = model.session(mote::SessionOptions::default()).unwrap();
    let x = mote::Tensor::from_slice(&[pixels.len() / 64, 64], pixels).unwrap();
    let out = session.run(&[("pixels", &x)]).unwrap();
    out[0].1.as_slice::<f32>().unwrap().to_vec()
}

/// The f32 values of a library-owned tensor.
pub(super) fn values(t: *const MoteTensor) -> Vec<f32> {
    let (mut data, mut len) = (std::ptr::null(), 0usize);
    // SAFETY: live tensor, valid out-pointers.
    ok(unsafe { mote_tensor_data(t, &mut data, &mut len) });
    // SAFETY: the tensor owns `len` bytes of f32 values at `data` (64-byte aligned storage).
    unsafe { std::slice::from_raw_parts(data.cast::<f32>(), len / 4) }.to_vec()
}

/// Default options as a C caller gets them from `MOTE_SESSION_OPTIONS_INIT`.
pub(super) fn default_options() -> MoteSessionOptions {
    let mut o = std::mem::MaybeUninit::<MoteSessionOptions>::uninit();
    // SAFETY: the pointer is valid for writes of the struct's size.
    ok(unsafe {
        mote_session_options_init(
            o.as_mut_ptr(),
            size_of::<MoteSessionOptions>(),
            MOTE_ABI_VERSION,
        )
    });
    // SAFETY: initialised by the successful call above.
    unsafe { o.assume_init() }
}

pub(super) fn new_session(
    model: *const MoteModel,
    options: &MoteSessionOptions,
) -> *mut MoteSession {
    let mut s = std::ptr::null_mut();
    // SAFETY: live model, initialised options, valid out-pointer.
    ok(unsafe { mote_session_new(model, options, &mut s) });
    s
}

/// Runs one input through `session`, returning the single output's values and shape.
pub(super) fn run_one(
    session: *const MoteSession,
    input: *const MoteTensor,
) -> (Vec<f32>, Vec<i64>) {
    let mut out = [std::ptr::null_mut()];
    // SAFETY: live session and tensor; room for one output handle.
    ok(unsafe { mote_session_run(session, &input, 1, out.as_mut_ptr(), 1) });
    let (mut dims, mut rank) = (std::ptr::null(), 0usize);
    // SAFETY: live output tensor, valid out-pointers.
    ok(unsafe { mote_tensor_shape(out[0], &mut dims, &mut rank) });
    // SAFETY: the tensor lends `rank` dims.
    let shape = unsafe { std::slice::from_raw_parts(dims, rank) }.to_vec();
    let v = values(out[0]);
    // SAFETY: a handle from mote_session_run, freed once.
    unsafe { mote_tensor_free(out[0]) };
    (v, shape)
}

/// A raw pointer that tests move to other threads; the ABI documents which handles allow it.
pub(super) struct Shared<T>(pub(super) *mut T);

// By hand: the derive would require `T: Copy`.
impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    pub(super) fn get(self) -> *mut T {
        self.0
    }
}
// SAFETY: only used for handles whose cross-thread use the header documents as allowed
// (models shared, sessions one call at a time).
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}
