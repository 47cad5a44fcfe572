//! The documented thread-safety: one model shared by many threads, one session per thread;
//! a session used by two threads at once answers SESSION_BUSY instead of racing.

use super::util::*;
use crate::*;

#[test]
fn one_model_many_sessions_in_parallel_threads() {
    let model = Shared(load_demo());
    let workers: Vec<_> = (0..4usize)
        .map(|w| {
            std::thread::spawn(move || {
                let model = model.get();
                let mut options = default_options();
                options.threads = 1 + (w % 2) as u32;
                // Sessions are created concurrently from the shared model too.
                let session = new_session(model, &options);
                for i in 0..12 {
                    let rows = 1 + (w + i) % 7;
                    let px = pixels(rows, w * 100 + i);
                    let input = f32_tensor(&[rows as i64, 64], &px);
                    let (got, _) = run_one(session, input);
                    assert_eq!(got, reference(&px), "worker {w}, run {i}");
                    // SAFETY: from mote_tensor_new, freed once.
                    unsafe { mote_tensor_free(input) };
                }
                // SAFETY: from mote_session_new, freed once.
                unsafe { mote_session_free(session) };
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // SAFETY: every thread is done with it; freed once.
    unsafe { mote_model_free(model.get()) };
}

#[test]
fn a_session_in_use_answers_busy() {
    let model = load_demo();
    let session = new_session(model, &default_options());
    let input = f32_tensor(&[1, 64], &pixels(1, 0));
    {
        // Hold the session as a run on another thread would.
        // SAFETY: live session; only its lock is touched.
        let _running = unsafe { &*session }.inner.lock().unwrap();
        let mut out = [std::ptr::null_mut()];
        // SAFETY: live handles; room for one output.
        let status =
            unsafe { mote_session_run(session, &input.cast_const(), 1, out.as_mut_ptr(), 1) };
        assert_eq!(status, MoteStatus::SessionBusy);
        assert!(out[0].is_null());
        assert!(
            last_error().contains("one call at a time"),
            "{}",
            last_error()
        );
    }
    // Two threads hammering one session: every call either runs correctly or is BUSY.
    let expected = reference(&pixels(1, 0));
    let (shared, shared_input) = (Shared(session), Shared(input));
    let hammer: Vec<_> = (0..2)
        .map(|_| {
            let expected = expected.clone();
            std::thread::spawn(move || {
                let (session, input) = (shared.get(), shared_input.get());
                for _ in 0..200 {
                    let mut out = [std::ptr::null_mut()];
                    // SAFETY: live handles; room for one output.
                    match unsafe {
                        mote_session_run(session, &input.cast_const(), 1, out.as_mut_ptr(), 1)
                    } {
                        MoteStatus::Ok => {
                            assert_eq!(values(out[0]), expected);
                            // SAFETY: from mote_session_run, freed once.
                            unsafe { mote_tensor_free(out[0]) };
                        }
                        MoteStatus::SessionBusy => assert!(out[0].is_null()),
                        other => panic!("{other:?}: {}", last_error()),
                    }
                }
            })
        })
        .collect();
    for h in hammer {
        h.join().unwrap();
    }
    // SAFETY: handles from this test, each freed once, no thread uses them any more.
    unsafe {
        mote_tensor_free(input);
        mote_session_free(session);
        mote_model_free(model);
    }
}
