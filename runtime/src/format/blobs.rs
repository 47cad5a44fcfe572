//! Where constant tensors go while a graph is serialized, and where they come from while it is
//! deserialized.
//!
//! The graph's metadata is produced by serde derives, which carry no context; constants must
//! instead be written to the blob section and referred to by offset. The writer and the reader
//! therefore install a per-thread [`BlobSink`] or [`BlobSource`] for the duration of one
//! (de)serialization call, and `Graph`'s serde impls (`graph_serde.rs`) reach it through
//! [`place`] and [`resolve`]. Outside those calls a graph cannot be (de)serialized: the impls
//! return an error instead of dropping data.

use super::header::{align_up, ALIGN};
use crate::tensor::{byte_len, AlignedBytes, SharedBuffer};
use crate::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A constant in the metadata: its type, shape and bytes' place in the blob section.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ConstRef {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<u64>,
    /// Relative to the blob section; a multiple of 64.
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Collects the constants of a graph being written, each placed once (a tensor shared by two
/// graphs, or two values, is stored once).
#[derive(Default)]
pub(crate) struct BlobSink {
    pub(crate) tensors: Vec<(u64, Arc<Tensor>)>,
    placed: HashMap<*const Tensor, u64>,
    end: u64,
}

impl BlobSink {
    /// Total blob section length.
    pub(crate) fn len(&self) -> u64 {
        self.end
    }
}

/// The blob section of a file being read, and the subgraph nesting depth so far.
pub(crate) struct BlobSource {
    backing: SharedBuffer,
    start: usize,
    len: usize,
    depth: usize,
}

/// Deepest nesting of control-flow bodies a file may have (a guard against stack exhaustion on
/// crafted files; real models nest a few levels).
pub(crate) const MAX_DEPTH: usize = 32;

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
    static SINK: RefCell<Option<BlobSink>> = const { RefCell::new(None) };
    static SOURCE: RefCell<Option<BlobSource>> = const { RefCell::new(None) };
}

/// Clears a thread-local slot when dropped, so a panic or an early return cannot leave a
/// stale sink or source behind for the next call on this thread.
struct Clear(fn());
impl Drop for Clear {
    fn drop(&mut self) {
        (self.0)()
    }
}

/// Runs `f` with a fresh sink installed; returns its result and the sink.
pub(crate) fn with_sink<R>(f: impl FnOnce() -> R) -> (R, BlobSink) {
    SINK.with(|s| *s.borrow_mut() = Some(BlobSink::default()));
    let _clear = Clear(|| SINK.with(|s| *s.borrow_mut() = None));
    let r = f();
    let sink = SINK.with(|s| s.borrow_mut().take()).unwrap_or_default();
    (r, sink)
}

/// Runs `f` with the blob section `backing[start..start + len]` (checked by the caller)
/// installed.
pub(crate) fn with_source<R>(
    backing: SharedBuffer,
    start: usize,
    len: usize,
    f: impl FnOnce() -> R,
) -> R {
    SOURCE.with(|s| {
        *s.borrow_mut() = Some(BlobSource {
            backing,
            start,
            len,
            depth: 0,
        })
    });
    let _clear = Clear(|| SOURCE.with(|s| *s.borrow_mut() = None));
    f()
}

/// Places `t` in the current sink; `None` outside [`with_sink`].
pub(crate) fn place(t: &Arc<Tensor>) -> Option<ConstRef> {
    let offset = SINK.with(|s| {
        let mut guard = s.borrow_mut();
        let sink = guard.as_mut()?;
        let key = Arc::as_ptr(t);
        if let Some(&offset) = sink.placed.get(&key) {
            return Some(offset);
        }
        let offset = align_up(sink.end as usize) as u64;
        sink.end = offset + t.bytes().len() as u64;
        sink.placed.insert(key, offset);
        sink.tensors.push((offset, t.clone()));
        Some(offset)
    })?;
    Some(ConstRef {
        dtype: t.dtype(),
        shape: t.shape().iter().map(|&d| d as u64).collect(),
        offset,
        len: t.bytes().len() as u64,
    })
}

/// The tensor a [`ConstRef`] stands for, its bytes used in place when the source buffer allows
/// (see [`AlignedBytes::shared`]). Every field is checked against the blob section first.
pub(crate) fn resolve(c: &ConstRef) -> Result<Tensor, String> {
    let shape: Vec<usize> = c
        .shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("dimension {d} overflows")))
        .collect::<Result<_, _>>()?;
    let expected = byte_len(c.dtype, &shape).map_err(|e| e.to_string())?;
    if c.len != expected as u64 {
        return Err(format!(
            "constant {}{:?} has {} bytes, its type and shape need {expected}",
            c.dtype, shape, c.len
        ));
    }
    if c.offset % ALIGN as u64 != 0 {
        return Err(format!(
            "constant at blob offset {} is not aligned",
            c.offset
        ));
    }
    SOURCE.with(|s| {
        let guard = s.borrow();
        let src = guard
            .as_ref()
            .ok_or("constants can only be read by the .mote reader")?;
        let end = c
            .offset
            .checked_add(c.len)
            .filter(|&e| e <= src.len as u64)
            .ok_or_else(|| {
                format!(
                    "constant bytes {}..+{} lie outside the {}-byte blob section",
                    c.offset, c.len, src.len
                )
            })?;
        let range = src.start + c.offset as usize..src.start + end as usize;
        let data = AlignedBytes::shared(src.backing.clone(), range)
            .ok_or("constant bytes outside the file")?;
        Ok(Tensor::from_parts(c.dtype, shape, data))
    })
}

/// Enters one level of graph nesting; `Err` past [`MAX_DEPTH`] or outside the reader.
pub(crate) fn enter_graph() -> Result<(), String> {
    SOURCE.with(|s| {
        let mut guard = s.borrow_mut();
        let src = guard
            .as_mut()
            .ok_or("graphs can only be read by the .mote reader")?;
        src.depth += 1;
        if src.depth > MAX_DEPTH {
            return Err(format!(
                "control-flow bodies nested deeper than {MAX_DEPTH}"
            ));
        }
        Ok(())
    })
}

/// Leaves one level of graph nesting.
pub(crate) fn leave_graph() {
    SOURCE.with(|s| {
        if let Some(src) = s.borrow_mut().as_mut() {
            src.depth = src.depth.saturating_sub(1);
        }
    })
}

/// A deserialization error carrying `msg`. Postcard drops custom messages (its error is a
/// plain enum), so the first one of a read is also kept here for the reader to report.
pub(crate) fn de_error<E: serde::de::Error>(msg: impl std::fmt::Display) -> E {
    let msg = msg.to_string();
    LAST_ERROR.with(|e| {
        e.borrow_mut().get_or_insert_with(|| msg.clone());
    });
    E::custom(msg)
}

/// Takes the message kept by [`de_error`], if any (and clears it for the next read).
pub(crate) fn take_error() -> Option<String> {
    LAST_ERROR.with(|e| e.borrow_mut().take())
}
