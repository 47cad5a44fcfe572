//! Loading from a path and from memory, and what the model says about its inputs and outputs.

use super::util::*;
use crate::*;
use std::ffi::{CStr, CString};

#[test]
fn missing_and_malformed_files_are_errors() {
    let dir = std::env::temp_dir().join(format!("mote-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.onnx");
    std::fs::write(&garbage, b"\xff\xff\xff not a model").unwrap();
    for (path, expected) in [
        (dir.join("missing.onnx"), MoteStatus::Io),
        (garbage, MoteStatus::InvalidModel),
    ] {
        let c = CString::new(path.to_str().unwrap()).unwrap();
        let mut model = std::ptr::null_mut();
        // SAFETY: valid string and out-pointer.
        let status = unsafe { mote_model_load_file(c.as_ptr(), &mut model) };
        assert_eq!(status, expected, "{}", last_error());
        assert!(model.is_null());
        assert!(!last_error().is_empty());
    }
    let bytes = b"\x08\x07 truncated";
    let mut model = std::ptr::null_mut();
    // SAFETY: valid buffer and out-pointer.
    let status = unsafe { mote_model_load_memory(bytes.as_ptr().cast(), bytes.len(), &mut model) };
    assert_eq!(status, MoteStatus::InvalidModel, "{}", last_error());
    assert!(model.is_null());
    // SAFETY: a non-null pointer with length 0 reads nothing.
    let status = unsafe { mote_model_load_memory(bytes.as_ptr().cast(), 0, &mut model) };
    assert_eq!(status, MoteStatus::InvalidModel);
    assert!(last_error().contains("empty"), "{}", last_error());
}

#[test]
fn memory_and_file_loads_describe_the_same_model() {
    let bytes = std::fs::read(DEMO).unwrap();
    let mut from_memory = std::ptr::null_mut();
    // SAFETY: valid buffer and out-pointer.
    ok(unsafe { mote_model_load_memory(bytes.as_ptr().cast(), bytes.len(), &mut from_memory) });
    drop(bytes); // the model must not borrow the caller's buffer
    let from_file = load_demo();
    for model in [from_memory, from_file] {
        let (mut n_in, mut n_out) = (0usize, 0usize);
        // SAFETY: live model, valid out-pointers.
        ok(unsafe { mote_model_input_count(model, &mut n_in) });
        // SAFETY: as above.
        ok(unsafe { mote_model_output_count(model, &mut n_out) });
        assert_eq!((n_in, n_out), (1, 1));
        let input = describe(model, false);
        assert_eq!(
            input,
            (
                "pixels".into(),
                MoteDtype::F32 as i32,
                vec![-1, 64],
                vec![Some("N".into()), None]
            )
        );
        let output = describe(model, true);
        assert_eq!(
            output,
            (
                "probabilities".into(),
                MoteDtype::F32 as i32,
                vec![-1, 10],
                vec![Some("N".into()), None]
            )
        );
        let mut index = 99usize;
        // SAFETY: live model, static C string, valid out-pointer.
        ok(unsafe { mote_model_output_index(model, c"probabilities".as_ptr(), &mut index) });
        assert_eq!(index, 0);
        // SAFETY: as above.
        let status = unsafe { mote_model_input_index(model, c"pixel".as_ptr(), &mut index) };
        assert_eq!(status, MoteStatus::InvalidArgument);
        assert!(
            last_error().contains("its inputs: pixels"),
            "{}",
            last_error()
        );
        let mut info = MoteTensorInfo {
            struct_size: size_of::<MoteTensorInfo>(),
            ..blank_info()
        };
        // SAFETY: live model, valid sized struct.
        let status = unsafe { mote_model_input_info(model, 1, &mut info) };
        assert_eq!(status, MoteStatus::InvalidArgument);
        assert!(last_error().contains("out of range"), "{}", last_error());
        // SAFETY: from mote_model_load_*, freed once.
        unsafe { mote_model_free(model) };
    }
}

#[test]
fn a_too_small_info_struct_is_an_abi_mismatch() {
    let model = load_demo();
    let mut info = MoteTensorInfo {
        struct_size: 8,
        ..blank_info()
    };
    // SAFETY: live model; the struct is larger than it claims.
    let status = unsafe { mote_model_input_info(model, 0, &mut info) };
    assert_eq!(status, MoteStatus::AbiMismatch);
    assert!(info.name.is_null(), "nothing is written on failure");
    // SAFETY: from mote_model_load_file, freed once.
    unsafe { mote_model_free(model) };
}

pub(super) fn blank_info() -> MoteTensorInfo {
    MoteTensorInfo {
        struct_size: 0,
        name: std::ptr::null(),
        dtype: -1,
        rank: -2,
        shape: std::ptr::null(),
        dim_names: std::ptr::null(),
    }
}

type Described = (String, i32, Vec<i64>, Vec<Option<String>>);

fn describe(model: *const MoteModel, output: bool) -> Described {
    let mut info = MoteTensorInfo {
        struct_size: size_of::<MoteTensorInfo>(),
        ..blank_info()
    };
    // SAFETY: live model, valid sized struct.
    ok(unsafe {
        if output {
            mote_model_output_info(model, 0, &mut info)
        } else {
            mote_model_input_info(model, 0, &mut info)
        }
    });
    let rank = usize::try_from(info.rank).unwrap();
    // SAFETY: the model lends a NUL-terminated name and `rank` shape values and dim names.
    unsafe {
        let names = std::slice::from_raw_parts(info.dim_names, rank)
            .iter()
            .map(|&p| (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned()))
            .collect();
        (
            CStr::from_ptr(info.name).to_string_lossy().into_owned(),
            info.dtype,
            std::slice::from_raw_parts(info.shape, rank).to_vec(),
            names,
        )
    }
}
