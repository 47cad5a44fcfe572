//! No panic crosses the boundary: a panic forced inside every guarded entry point comes back
//! as MOTE_STATUS_PANIC with a message, and the `_free` functions swallow it. (The functions
//! outside the guard, `mote_version`, `mote_abi_version`, `mote_status_str`,
//! `mote_dtype_size`, `mote_dtype_name` and `mote_last_error`, only read static data or a
//! thread-local and cannot panic.)

use super::util::*;
use crate::boundary::test_hooks::panic_next_call;
use crate::*;
use std::ptr::{null, null_mut};

fn info() -> MoteTensorInfo {
    MoteTensorInfo {
        struct_size: size_of::<MoteTensorInfo>(),
        ..super::loading::blank_info()
    }
}

#[test]
fn a_panic_inside_any_entry_point_becomes_a_status() {
    let model = load_demo();
    let session = new_session(model, &default_options());
    let tensor = f32_tensor(&[1, 64], &pixels(1, 0));
    let bytes = std::fs::read(DEMO).unwrap();
    // Made before the forced panics: making it calls the library too.
    let options = std::cell::RefCell::new(default_options());
    let input = [tensor.cast_const()];
    // Each call would succeed without the forced panic; each has its own out-variables.
    // SAFETY: (every closure) every pointer is live or valid for writes.
    let calls: Vec<(&str, Box<dyn Fn() -> MoteStatus>)> = unsafe {
        vec![
            (
                "load_file",
                Box::new(|| mote_model_load_file(c"x".as_ptr(), &mut null_mut())),
            ),
            (
                "load_memory",
                Box::new(|| {
                    mote_model_load_memory(bytes.as_ptr().cast(), bytes.len(), &mut null_mut())
                }),
            ),
            (
                "input_count",
                Box::new(|| mote_model_input_count(model, &mut 0)),
            ),
            (
                "output_count",
                Box::new(|| mote_model_output_count(model, &mut 0)),
            ),
            (
                "input_index",
                Box::new(|| mote_model_input_index(model, c"pixels".as_ptr(), &mut 0)),
            ),
            (
                "output_index",
                Box::new(|| mote_model_output_index(model, c"probabilities".as_ptr(), &mut 0)),
            ),
            (
                "input_info",
                Box::new(|| mote_model_input_info(model, 0, &mut info())),
            ),
            (
                "output_info",
                Box::new(|| mote_model_output_info(model, 0, &mut info())),
            ),
            (
                "options_init",
                Box::new(|| {
                    mote_session_options_init(
                        &mut *options.borrow_mut(),
                        size_of::<MoteSessionOptions>(),
                        MOTE_ABI_VERSION,
                    )
                }),
            ),
            (
                "session_new",
                Box::new(|| mote_session_new(model, null(), &mut null_mut())),
            ),
            (
                "run",
                Box::new(|| {
                    mote_session_run(session, input.as_ptr(), 1, [null_mut()].as_mut_ptr(), 1)
                }),
            ),
            (
                "run_into",
                Box::new(|| mote_session_run_into(session, input.as_ptr(), 1, null_mut(), 1)),
            ),
            (
                "tensor_new",
                Box::new(|| mote_tensor_new(1, null(), 0, null(), 0, &mut null_mut())),
            ),
            (
                "tensor_dtype",
                Box::new(|| mote_tensor_dtype(tensor, &mut 0)),
            ),
            (
                "tensor_shape",
                Box::new(|| mote_tensor_shape(tensor, &mut null(), &mut 0)),
            ),
            (
                "tensor_data",
                Box::new(|| mote_tensor_data(tensor, &mut null(), &mut 0)),
            ),
            (
                "tensor_data_mut",
                Box::new(|| mote_tensor_data_mut(tensor, &mut null_mut(), &mut 0)),
            ),
        ]
    };
    for (name, call) in calls {
        panic_next_call();
        assert_eq!(call(), MoteStatus::Panic, "{name}");
        assert!(
            last_error().contains("internal panic") && last_error().contains("forced by a test"),
            "{name}: {}",
            last_error()
        );
    }
    // The frees: the panic is swallowed (the handles leak, which is what a bug costs).
    panic_next_call();
    // SAFETY: live handles; the forced panic means none is actually freed.
    unsafe { mote_tensor_free(tensor) };
    panic_next_call();
    // SAFETY: as above.
    unsafe { mote_session_free(session) };
    panic_next_call();
    // SAFETY: as above.
    unsafe { mote_model_free(model) };
    // And the library still works on this thread afterwards.
    let model = load_demo();
    // SAFETY: from mote_model_load_file, freed once.
    unsafe { mote_model_free(model) };
}
