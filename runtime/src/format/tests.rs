//! Format tests that need IR internals: nesting depth, shared constants, metadata round trip.

use super::{read_bytes, write};
use crate::ir::ops::ControlOp;
use crate::ir::{Graph, Node, Op, ValueInfo};
use crate::{ErrorKind, Tensor};
use std::sync::Arc;

/// A graph whose `If` nests `depth` levels of bodies.
fn nested(depth: usize) -> Graph {
    let mut g = Graph::default();
    let c = g.add_value(ValueInfo::named("c"));
    g.inputs.push(c);
    if depth > 0 {
        g.nodes.push(Node {
            name: format!("if{depth}"),
            op: Op::Control(ControlOp::If {
                then_branch: Box::new(nested(depth - 1)),
                else_branch: Box::new(Graph::default()),
            }),
            inputs: vec![Some(c)],
            outputs: vec![],
        });
    }
    g
}

/// Runs `f` on a thread with a small stack (half the default of test threads), so the depth
/// limit is shown to leave a margin.
fn on_small_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn nesting_up_to_the_limit_reads_back_and_deeper_is_refused() {
    let ok = write(&nested(super::blobs::MAX_DEPTH - 1)).unwrap();
    let g = on_small_stack(move || read_bytes(&ok).map(|g| g.node_count_deep()));
    assert_eq!(g.unwrap(), super::blobs::MAX_DEPTH - 1);

    let e = write(&nested(super::blobs::MAX_DEPTH)).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    // A file written by something else that nests deeper is refused by the reader.
    let deep = super::writer::write_unchecked(&nested(super::blobs::MAX_DEPTH)).unwrap();
    let e = on_small_stack(move || read_bytes(&deep).map(|_| ()).unwrap_err());
    assert_eq!(*e.kind(), ErrorKind::CorruptFile);
    assert!(e.to_string().contains("nested deeper"), "{e}");
}

#[test]
fn a_tensor_shared_by_two_values_is_stored_once() {
    let mut g = Graph::default();
    let t = Arc::new(Tensor::from_vec(&[256], vec![1.5f32; 256]).unwrap());
    for name in ["a", "b"] {
        let id = g.add_value(ValueInfo::named(name));
        g.constants.insert(id, t.clone());
        g.outputs.push(id);
    }
    let bytes = write(&g).unwrap();
    assert!(bytes.len() < 2048, "stored twice? {} bytes", bytes.len());
    let back = read_bytes(&bytes).unwrap();
    assert_eq!(back.constants.len(), 2);
    for c in back.constants.values() {
        assert!(c.is_shared());
        assert_eq!(c.as_slice::<f32>().unwrap(), &[1.5f32; 256][..]);
        assert_eq!(c.bytes().as_ptr() as usize % 64, 0);
    }
}

#[test]
fn writing_outside_the_writer_is_an_error_not_silent_data_loss() {
    let mut g = Graph::default();
    let id = g.add_value(ValueInfo::named("w"));
    g.constants.insert(id, Arc::new(Tensor::scalar(1.0f32)));
    assert!(postcard::to_allocvec(&g).is_err());
}
