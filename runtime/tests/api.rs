//! The Rust API on the demo model: load once, share across threads, plan before running.

mod common;

use mote::{DType, Model, SessionOptions, Tensor};

fn demo() -> (Model, Tensor, Vec<i64>) {
    let dir = common::repo_root().join("assets/models");
    let model = Model::load(dir.join("digits_mlp.onnx")).expect("demo model loads");
    let x = mote::npy::read(dir.join("digits_test_x.npy")).unwrap();
    let y = mote::npy::read(dir.join("digits_test_y.npy"))
        .unwrap()
        .view()
        .to_i64_vec()
        .unwrap();
    (model, x, y)
}

fn accuracy(probabilities: &Tensor, labels: &[i64]) -> f64 {
    let p = probabilities.as_slice::<f32>().unwrap();
    let correct = labels
        .iter()
        .enumerate()
        .filter(|(i, &label)| {
            let row = &p[i * 10..(i + 1) * 10];
            (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap() as i64 == label
        })
        .count();
    correct as f64 / labels.len() as f64
}

#[test]
fn model_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Model>();
    fn assert_send<T: Send>() {}
    assert_send::<mote::Session>();
}

#[test]
fn demo_model_matches_its_recorded_accuracy() {
    // 97.33% is what scikit-learn and onnxruntime give (assets/models/README.md).
    let (model, x, y) = demo();
    let mut s = model.session(SessionOptions::default()).unwrap();
    let out = s.run(&[("pixels", &x)]).unwrap();
    assert_eq!(out[0].0, "probabilities");
    let acc = accuracy(&out[0].1, &y);
    assert!((acc - 438.0 / 450.0).abs() < 1e-9, "accuracy {acc}");
}

#[test]
fn one_model_many_threads_same_answers() {
    let (model, x, _) = demo();
    let reference = model
        .session(SessionOptions::default())
        .unwrap()
        .run(&[("pixels", &x)])
        .unwrap()
        .remove(0)
        .1;
    std::thread::scope(|scope| {
        for threads in 1..=3 {
            let (model, x, reference) = (&model, &x, &reference);
            scope.spawn(move || {
                let mut s = model
                    .session(SessionOptions {
                        threads,
                        ..Default::default()
                    })
                    .unwrap();
                for _ in 0..3 {
                    let out = s.run(&[("pixels", x)]).unwrap().remove(0).1;
                    assert_eq!(out.bytes(), reference.bytes());
                }
            });
        }
    });
}

#[test]
fn arena_is_planned_before_running_and_reused() {
    let (model, _, _) = demo();
    let mut s = model.session(SessionOptions::default()).unwrap();
    let plan = s.plan_for(&[(DType::F32, vec![450, 64])]).unwrap();
    // Mul -> Gemm -> Relu -> Gemm -> Softmax: the four intermediates (450x64, 450x64,
    // 450x64, 450x10 floats) fit in two reused slots, and the output is not in the arena.
    let bytes = plan.arena_bytes();
    assert!(bytes > 0, "nothing planned");
    assert!(
        bytes <= 2 * 450 * 64 * 4 + 128,
        "arena {bytes} bytes: slots were not reused"
    );
    // A different batch size gets its own plan, sized for it.
    let small = s.plan_for(&[(DType::F32, vec![1, 64])]).unwrap();
    assert!(small.arena_bytes() < bytes);
}

#[test]
fn npy_bytes_read_like_the_file_and_errors_name_the_label() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/models/digits_test_y.npy"
    );
    let from_file = mote::npy::read(path).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let from_bytes = mote::npy::read_bytes(&bytes, "archive.npz/y.npy").unwrap();
    assert_eq!(from_file.shape(), from_bytes.shape());
    assert_eq!(from_file.bytes(), from_bytes.bytes());
    let err = mote::npy::read_bytes(b"not numpy", "archive.npz/y.npy")
        .unwrap_err()
        .to_string();
    assert!(err.contains("archive.npz/y.npy"), "{err}");
}

#[test]
fn memory_limit_refuses_a_plan_above_it_and_keeps_zero_unlimited() {
    let (model, x, labels) = demo();
    let shape = [(DType::F32, vec![450, 64])];
    let needed = model
        .session(SessionOptions::default())
        .unwrap()
        .plan_for(&shape)
        .unwrap()
        .memory_bytes();
    assert!(needed > 0);
    let with_limit = |memory_limit| {
        model
            .session(SessionOptions {
                memory_limit,
                ..Default::default()
            })
            .unwrap()
    };

    // One byte short: refused while planning, with the sizes in the message.
    let mut tight = with_limit(needed - 1);
    let err = tight.run(&[("pixels", &x)]).unwrap_err();
    assert_eq!(err.kind(), &mote::ErrorKind::MemoryLimitExceeded, "{err}");
    assert!(
        err.to_string().contains(&needed.to_string()),
        "message lacks the needed size: {err}"
    );
    assert_eq!(tight.held_plan_bytes(), 0, "a refused plan was kept");
    // The session stays usable for shapes that fit.
    tight.plan_for(&[(DType::F32, vec![1, 64])]).unwrap();

    // Exactly enough, and 0 (unlimited): the run succeeds with the usual answers.
    for memory_limit in [needed, 0] {
        let mut s = with_limit(memory_limit);
        let out = s.run(&[("pixels", &x)]).unwrap();
        assert!(accuracy(&out[0].1, &labels) > 0.9);
        assert_eq!(s.held_plan_bytes(), needed);
    }
}

#[test]
fn memory_limit_evicts_cached_plans_to_fit_a_new_one() {
    let (model, _, _) = demo();
    let big = [(DType::F32, vec![450, 64])];
    let small = [(DType::F32, vec![300, 64])];
    let mut probe = model.session(SessionOptions::default()).unwrap();
    let big_bytes = probe.plan_for(&big).unwrap().memory_bytes();
    let small_bytes = probe.plan_for(&small).unwrap().memory_bytes();
    assert_eq!(probe.held_plan_bytes(), big_bytes + small_bytes);

    // Room for the big plan, not for both: the second plan evicts the first.
    let mut s = model
        .session(SessionOptions {
            memory_limit: big_bytes,
            ..Default::default()
        })
        .unwrap();
    s.plan_for(&big).unwrap();
    s.plan_for(&small).unwrap();
    assert_eq!(s.held_plan_bytes(), small_bytes);
    s.plan_for(&big).unwrap();
    assert_eq!(s.held_plan_bytes(), big_bytes);
}
