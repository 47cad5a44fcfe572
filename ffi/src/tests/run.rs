//! Runs through the C ABI give the Rust API's answers; bad inputs and buffers are errors.

use super::util::*;
use crate::*;

fn buffer(data: &mut [f32], shape: &mut [i64]) -> MoteOutputBuffer {
    MoteOutputBuffer {
        struct_size: size_of::<MoteOutputBuffer>(),
        data: data.as_mut_ptr().cast(),
        capacity: std::mem::size_of_val(data),
        shape: shape.as_mut_ptr(),
        shape_capacity: shape.len(),
        size: 0,
        rank: 0,
        dtype: -1,
    }
}

#[test]
fn both_run_styles_match_the_rust_api() {
    let model = load_demo();
    let mut options = default_options();
    options.threads = 2;
    let session = new_session(model, &options);
    // The session keeps what it needs: freeing the model first is allowed.
    // SAFETY: from mote_model_load_file, freed once.
    unsafe { mote_model_free(model) };
    for rows in [1usize, 5, 33] {
        let px = pixels(rows, rows);
        let expected = reference(&px);
        let input = f32_tensor(&[rows as i64, 64], &px);
        let (got, shape) = run_one(session, input);
        assert_eq!(shape, [rows as i64, 10]);
        assert_eq!(got, expected);

        let mut data = vec![0f32; rows * 10];
        let mut dims = [0i64; 4];
        let mut out = [buffer(&mut data, &mut dims)];
        let inputs = [input.cast_const()];
        // SAFETY: live session and tensor; one output buffer with the sizes it claims.
        ok(unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) });
        assert_eq!(
            (out[0].size, out[0].rank, out[0].dtype),
            (rows * 40, 2, MoteDtype::F32 as i32)
        );
        assert_eq!(dims[..2], [rows as i64, 10]);
        assert_eq!(data, expected);
        // SAFETY: from mote_tensor_new, freed once.
        unsafe { mote_tensor_free(input) };
    }
    // SAFETY: from mote_session_new, freed once.
    unsafe { mote_session_free(session) };
}

#[test]
fn too_small_buffers_report_the_needed_size_and_copy_nothing() {
    let model = load_demo();
    let session = new_session(model, &default_options());
    let input = f32_tensor(&[3, 64], &pixels(3, 1));
    let inputs = [input.cast_const()];
    let mut data = vec![-1f32; 29]; // 30 needed
    let mut dims = [0i64; 2];
    let mut out = [buffer(&mut data, &mut dims)];
    // SAFETY: live session and tensor; the buffer is valid for the sizes it claims.
    let status = unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) };
    assert_eq!(status, MoteStatus::BufferTooSmall);
    assert_eq!(
        (out[0].size, out[0].rank),
        (120, 2),
        "the needed size is reported"
    );
    assert_eq!(dims, [3, 10], "the shape fits, so it is reported too");
    assert!(last_error().contains("needs 120 bytes"), "{}", last_error());
    assert!(data.iter().all(|&v| v == -1.0), "no data copied");

    let mut data = vec![0f32; 30];
    let mut dims = [0i64; 1];
    let mut out = [buffer(&mut data, &mut dims)];
    // SAFETY: as above.
    let status = unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) };
    assert_eq!(
        status,
        MoteStatus::BufferTooSmall,
        "room for 1 of 2 shape values"
    );
    assert_eq!(out[0].rank, 2);

    // A NULL shape is allowed: the caller knows it (or reads `rank` only).
    let mut out = [buffer(&mut data, &mut [])];
    out[0].shape = std::ptr::null_mut();
    // SAFETY: as above.
    ok(unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) });
    // A NULL data pointer with a capacity is a NULL-pointer error; entries must agree on size.
    let mut out = [buffer(&mut data, &mut [])];
    out[0].data = std::ptr::null_mut();
    // SAFETY: as above (the NULL is the point).
    let status = unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) };
    assert_eq!(status, MoteStatus::NullPointer);
    let mut out = [buffer(&mut data, &mut [])];
    out[0].struct_size = 8;
    // SAFETY: as above (the size is the point).
    let status = unsafe { mote_session_run_into(session, inputs.as_ptr(), 1, out.as_mut_ptr(), 1) };
    assert_eq!(status, MoteStatus::AbiMismatch);
    // SAFETY: handles from this test, each freed once.
    unsafe {
        mote_tensor_free(input);
        mote_session_free(session);
        mote_model_free(model);
    }
}

#[test]
fn bad_inputs_are_errors_and_leave_outputs_null() {
    let model = load_demo();
    let session = new_session(model, &default_options());
    let wrong_width = f32_tensor(&[2, 63], &pixels(2, 0)[..126]);
    let mut ints = std::ptr::null_mut();
    let int_data = vec![0i64; 128];
    // SAFETY: shape and data valid for the lengths given.
    ok(unsafe {
        mote_tensor_new(
            MoteDtype::I64 as i32,
            [2i64, 64].as_ptr(),
            2,
            int_data.as_ptr().cast(),
            1024,
            &mut ints,
        )
    });
    let good = f32_tensor(&[2, 64], &pixels(2, 0));
    let (wrong_width, ints, good) = (
        wrong_width.cast_const(),
        ints.cast_const(),
        good.cast_const(),
    );
    let cases: [(&[*const MoteTensor], usize, MoteStatus); 5] = [
        (&[wrong_width], 1, MoteStatus::ShapeMismatch),
        (&[ints], 1, MoteStatus::DtypeMismatch),
        (&[], 1, MoteStatus::InvalidArgument),
        (&[good, good], 1, MoteStatus::InvalidArgument),
        (&[good], 2, MoteStatus::InvalidArgument),
    ];
    for (inputs, n_outputs, expected) in cases {
        let mut outs = [1usize as *mut MoteTensor; 2];
        // SAFETY: live session and tensors; `outs` has room for `n_outputs` handles.
        let status = unsafe {
            mote_session_run(
                session,
                inputs.as_ptr(),
                inputs.len(),
                outs.as_mut_ptr(),
                n_outputs,
            )
        };
        assert_eq!(status, expected, "{}", last_error());
        assert!(
            outs[..n_outputs].iter().all(|p| p.is_null()),
            "outputs are NULL on failure"
        );
    }
    // SAFETY: handles from this test, each freed once.
    unsafe {
        mote_tensor_free(wrong_width.cast_mut());
        mote_tensor_free(ints.cast_mut());
        mote_tensor_free(good.cast_mut());
        mote_session_free(session);
        mote_model_free(model);
    }
}

#[test]
fn tensor_creation_checks_its_arguments() {
    let new = |dtype: i32, shape: &[i64], data: Option<&[u8]>| {
        let mut t = std::ptr::null_mut();
        let (ptr, len) = data.map_or((std::ptr::null(), 0), |d| (d.as_ptr(), d.len()));
        // SAFETY: shape and data valid for the lengths given.
        let status =
            unsafe { mote_tensor_new(dtype, shape.as_ptr(), shape.len(), ptr.cast(), len, &mut t) };
        // SAFETY: NULL or a new tensor, freed once.
        unsafe { mote_tensor_free(t) };
        assert_eq!(status == MoteStatus::Ok, !t.is_null());
        status
    };
    let f32c = MoteDtype::F32 as i32;
    assert_eq!(new(f32c, &[2, 3], None), MoteStatus::Ok, "zero-filled");
    assert_eq!(new(f32c, &[], Some(&[0; 4])), MoteStatus::Ok, "a scalar");
    assert_eq!(
        new(f32c, &[2, 3], Some(&[0; 23])),
        MoteStatus::ShapeMismatch
    );
    assert!(last_error().contains("24 bytes"), "{}", last_error());
    assert_eq!(new(f32c, &[2, -1], None), MoteStatus::InvalidArgument);
    assert_eq!(
        new(8, &[1], None),
        MoteStatus::InvalidArgument,
        "8 = ONNX string"
    );
    assert_eq!(
        new(f32c, &[1 << 45], None),
        MoteStatus::OutOfMemory,
        "128 TiB"
    );
    assert_eq!(
        new(f32c, &[1 << 40, 1 << 40], None),
        MoteStatus::OutOfMemory,
        "overflows"
    );
    let mut t = std::ptr::null_mut();
    // SAFETY: NULL data with a length is the point; `out` is valid.
    let status = unsafe { mote_tensor_new(f32c, [1i64].as_ptr(), 1, std::ptr::null(), 4, &mut t) };
    assert_eq!(status, MoteStatus::NullPointer);

    // Filling in place through the mutable pointer.
    let t = f32_tensor(&[2], &[0.0, 0.0]);
    let (mut data, mut len) = (std::ptr::null_mut(), 0usize);
    // SAFETY: live tensor used only here; valid out-pointers.
    ok(unsafe { mote_tensor_data_mut(t, &mut data, &mut len) });
    assert_eq!(len, 8);
    // SAFETY: the tensor lends 8 writable, aligned bytes.
    unsafe { data.cast::<f32>().add(1).write(2.5) };
    assert_eq!(values(t), [0.0, 2.5]);
    let mut dtype = 0;
    // SAFETY: live tensor, valid out-pointer.
    ok(unsafe { mote_tensor_dtype(t, &mut dtype) });
    assert_eq!(dtype, f32c);
    // SAFETY: from mote_tensor_new, freed once.
    unsafe { mote_tensor_free(t) };
}

/// What the runtime plans for the demo model at `rows` rows: the size a memory limit is
/// compared with.
fn planned_bytes(rows: usize) -> u64 {
    let model = mote::Model::load(DEMO).unwrap();
    let mut session = model.session(mote::SessionOptions::default()).unwrap();
    let plan = session
        .plan_for(&[(mote::DType::F32, vec![rows, 64])])
        .unwrap();
    plan.memory_bytes() as u64
}

#[test]
fn memory_limit_refuses_plans_above_it_and_zero_is_unlimited() {
    let rows = 40;
    let needed = planned_bytes(rows);
    let px = pixels(rows, 3);
    let expected = reference(&px);
    let model = load_demo();
    let input = f32_tensor(&[rows as i64, 64], &px);
    for (limit, fits) in [
        (needed - 1, false),
        (needed, true),
        (needed * 4, true),
        (0, true),
    ] {
        let mut options = default_options();
        options.memory_limit_bytes = limit;
        let session = new_session(model, &options);
        let mut out = [std::ptr::null_mut()];
        // SAFETY: live session and tensor; room for one output handle.
        let status =
            unsafe { mote_session_run(session, &input.cast_const(), 1, out.as_mut_ptr(), 1) };
        if fits {
            assert_eq!(status, MoteStatus::Ok, "limit {limit}: {}", last_error());
            assert_eq!(values(out[0]), expected);
        } else {
            assert_eq!(status, MoteStatus::MemoryLimitExceeded, "limit {limit}");
            assert!(out[0].is_null());
            let message = last_error();
            assert!(
                message.contains(&needed.to_string()) && message.contains(&limit.to_string()),
                "the message names both sizes: {message}"
            );
            // A smaller input still fits in the same session.
            let small = f32_tensor(&[1, 64], &pixels(1, 0));
            let (got, _) = run_one(session, small);
            assert_eq!(got, reference(&pixels(1, 0)));
            // SAFETY: from mote_tensor_new, freed once.
            unsafe { mote_tensor_free(small) };
        }
        // SAFETY: NULL or from mote_session_run; from mote_session_new; each freed once.
        unsafe {
            mote_tensor_free(out[0]);
            mote_session_free(session);
        }
    }
    // SAFETY: from mote_model_load_file / mote_tensor_new, freed once.
    unsafe {
        mote_tensor_free(input);
        mote_model_free(model);
    }
    // SAFETY: a static string.
    let name = unsafe { std::ffi::CStr::from_ptr(mote_status_str(16)) };
    assert_eq!(name.to_str().unwrap(), "memory limit exceeded");
}
