//! Every entry point reports NULL arguments as MOTE_STATUS_NULL_POINTER and clears its handle
//! out-params; the last error is per thread.

use super::util::*;
use crate::*;
use std::ptr::{null, null_mut};

#[track_caller]
fn is_null_error(status: MoteStatus, name: &str) {
    assert_eq!(status, MoteStatus::NullPointer, "{}", last_error());
    assert!(
        last_error().contains(&format!("'{name}'")),
        "{name}: {}",
        last_error()
    );
}

#[test]
fn null_arguments_are_reported_by_every_function() {
    let model = load_demo();
    let session = new_session(model, &default_options());
    let tensor = f32_tensor(&[1, 64], &pixels(1, 0));
    let dangling = 1usize as *mut MoteModel;
    let (mut m, mut s, mut t) = (
        dangling,
        dangling.cast::<MoteSession>(),
        dangling.cast::<MoteTensor>(),
    );
    let (mut n, mut i32v) = (0usize, 0i32);
    let mut info = MoteTensorInfo {
        struct_size: size_of::<MoteTensorInfo>(),
        ..super::loading::blank_info()
    };
    let bytes = [0u8; 4];
    // SAFETY: every pointer is NULL, live, or valid for writes; NULL is the point.
    unsafe {
        is_null_error(mote_model_load_file(null(), &mut m), "path");
        assert!(m.is_null(), "out cleared");
        is_null_error(mote_model_load_file(c"x".as_ptr(), null_mut()), "out");
        is_null_error(mote_model_load_memory(null(), 4, &mut m), "data");
        is_null_error(
            mote_model_load_memory(bytes.as_ptr().cast(), 4, null_mut()),
            "out",
        );
        is_null_error(mote_model_input_count(null(), &mut n), "model");
        is_null_error(mote_model_output_count(model, null_mut()), "count");
        is_null_error(mote_model_input_index(model, null(), &mut n), "name");
        is_null_error(
            mote_model_output_index(null(), c"x".as_ptr(), &mut n),
            "model",
        );
        is_null_error(
            mote_model_input_index(model, c"pixels".as_ptr(), null_mut()),
            "index",
        );
        is_null_error(mote_model_input_info(null(), 0, &mut info), "model");
        is_null_error(mote_model_output_info(model, 0, null_mut()), "info");
        is_null_error(
            mote_session_options_init(null_mut(), 64, MOTE_ABI_VERSION),
            "options",
        );
        is_null_error(mote_session_new(null(), null(), &mut s), "model");
        assert!(s.is_null(), "out cleared");
        is_null_error(mote_session_new(model, null(), null_mut()), "out");
        let mut outs = [null_mut(); 1];
        is_null_error(
            mote_session_run(null(), &tensor.cast_const(), 1, outs.as_mut_ptr(), 1),
            "session",
        );
        is_null_error(
            mote_session_run(session, null(), 1, outs.as_mut_ptr(), 1),
            "inputs",
        );
        is_null_error(
            mote_session_run(session, &null(), 1, outs.as_mut_ptr(), 1),
            "inputs[0]",
        );
        is_null_error(
            mote_session_run(session, &tensor.cast_const(), 1, null_mut(), 1),
            "outputs",
        );
        is_null_error(
            mote_session_run_into(null(), &tensor.cast_const(), 1, null_mut(), 1),
            "session",
        );
        is_null_error(
            mote_session_run_into(session, &tensor.cast_const(), 1, null_mut(), 1),
            "outputs",
        );
        is_null_error(mote_tensor_new(1, null(), 2, null(), 0, &mut t), "shape");
        assert!(t.is_null(), "out cleared");
        is_null_error(mote_tensor_new(1, null(), 0, null(), 0, null_mut()), "out");
        is_null_error(mote_tensor_dtype(null(), &mut i32v), "tensor");
        is_null_error(mote_tensor_dtype(tensor, null_mut()), "dtype");
        let mut dims = null();
        is_null_error(mote_tensor_shape(null(), &mut dims, &mut n), "tensor");
        is_null_error(mote_tensor_shape(tensor, null_mut(), &mut n), "dims");
        is_null_error(mote_tensor_shape(tensor, &mut dims, null_mut()), "rank");
        let (mut data, mut data_mut) = (null(), null_mut());
        is_null_error(mote_tensor_data(null(), &mut data, &mut n), "tensor");
        is_null_error(mote_tensor_data(tensor, null_mut(), &mut n), "data");
        is_null_error(mote_tensor_data(tensor, &mut data, null_mut()), "byte_len");
        is_null_error(
            mote_tensor_data_mut(null_mut(), &mut data_mut, &mut n),
            "tensor",
        );
        is_null_error(mote_tensor_data_mut(tensor, null_mut(), &mut n), "data");
        is_null_error(
            mote_tensor_data_mut(tensor, &mut data_mut, null_mut()),
            "byte_len",
        );
        // The frees accept NULL.
        mote_model_free(null_mut());
        mote_session_free(null_mut());
        mote_tensor_free(null_mut());
        mote_tensor_free(tensor);
        mote_session_free(session);
        mote_model_free(model);
    }
}

#[test]
fn the_last_error_belongs_to_the_calling_thread() {
    let mut n = 0usize;
    // SAFETY: NULL model is allowed by the contract.
    let status = unsafe { mote_model_input_count(null(), &mut n) };
    assert_eq!(status, MoteStatus::NullPointer);
    let mine = last_error();
    std::thread::spawn(|| {
        assert_eq!(last_error(), "", "a new thread starts with no error");
        // SAFETY: NULL path is allowed by the contract.
        let _ = unsafe { mote_model_load_file(null(), &mut null_mut()) };
        assert!(last_error().contains("'path'"));
    })
    .join()
    .unwrap();
    assert_eq!(
        last_error(),
        mine,
        "another thread's failure does not overwrite it"
    );
}
