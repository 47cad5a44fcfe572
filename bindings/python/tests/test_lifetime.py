"""Handles are freed exactly once, by close(), a with block, or garbage collection; a
closed handle is refused instead of used; a session outlives its model."""

import gc
import os

import numpy as np
import pytest

import mote
from conftest import MODEL


def test_close_is_idempotent_and_a_closed_handle_is_refused(images):
    model = mote.Model(MODEL)
    session = model.session()
    session.close()
    session.close()
    assert session.closed
    with pytest.raises(ValueError, match="session is closed"):
        session.run([images])
    model.close()
    model.close()
    with pytest.raises(ValueError, match="model is closed"):
        model.session()
    assert model.inputs[0].name == "pixels"  # the description was copied out


def test_a_session_outlives_its_model(images, cli_output):
    model = mote.Model(MODEL)
    session = model.session()
    model.close()
    del model
    gc.collect()
    np.testing.assert_array_equal(session.run([images])[0], cli_output)
    session.close()


def test_with_blocks_close_and_garbage_collection_frees():
    with mote.Model(MODEL) as model, model.session() as session:
        pass
    assert model.closed and session.closed
    model = mote.Model(MODEL)
    session = model.session()
    handles = (model._handle, session._handle)
    del model, session
    gc.collect()
    assert all(h.closed for h in handles)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_repeated_runs_and_loads_do_not_leak(images):
    # 12 MB in and 2 MB out per run: 60 leaked runs would be ~800 MB.
    big = np.ascontiguousarray(np.tile(images, (100, 1)))
    model = mote.Model(MODEL)
    session = model.session()
    for _ in range(5):  # warm up: the session's plan and arena for this shape
        session.run([big])
    before = _rss_bytes()
    for i in range(60):
        session.run([big])
        m = mote.Model(MODEL)  # freed by garbage collection
        m.session()
    gc.collect()
    grown = _rss_bytes() - before
    assert grown < 100 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB"


def test_a_handle_in_use_is_not_freed():
    model = mote.Model(MODEL)
    session = model.session()
    with session._handle.use():  # as run() holds it during the C call
        with pytest.raises(RuntimeError, match="a call is using it"):
            session.close()
    session.close()
    assert session.closed
    model.close()
