"""Failures come back as MoteError subclasses carrying the library's message."""

import numpy as np
import pytest

import mote
from conftest import MODEL


@pytest.fixture()
def session():
    with mote.Model(MODEL) as model, model.session() as session:
        yield session


def test_a_missing_file_is_an_io_error_naming_it(tmp_path):
    missing = tmp_path / "missing.onnx"
    with pytest.raises(mote.MoteIOError) as e:
        mote.Model(missing)
    assert e.value.status == 7 and e.value.status_name == "i/o error"
    assert str(missing) in e.value.message
    assert isinstance(e.value, mote.MoteError)


def test_bytes_that_are_no_model_are_an_invalid_model(tmp_path):
    with pytest.raises(mote.InvalidModelError, match="not an ONNX model"):
        mote.Model(b"this is not a model")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff" * 100)
    with pytest.raises(mote.InvalidModelError):
        mote.Model(junk)
    with pytest.raises(mote.MoteError):
        mote.Model(b"")
    with pytest.raises(TypeError):
        mote.Model(42)


def test_a_wrong_dtype_is_refused_with_the_library_message(session, images):
    with pytest.raises(mote.DtypeMismatchError) as e:
        session.run({"pixels": images.astype(np.float64)})
    assert e.value.status == 6
    assert "'pixels'" in str(e.value) and "f32" in str(e.value) and "f64" in str(e.value)
    with pytest.raises(mote.DtypeMismatchError, match="complex64 has no Mote element type"):
        session.run([images.astype(np.complex64)])


def test_a_wrong_shape_is_refused_with_the_library_message(session, images):
    with pytest.raises(mote.ShapeMismatchError, match=r"\[N, 64\].*\[450, 10\]"):
        session.run([images[:, :10]])
    with pytest.raises(mote.ShapeMismatchError):
        session.run([images.reshape(-1)])


def test_missing_unknown_and_miscounted_inputs(session, images):
    with pytest.raises(mote.InvalidArgumentError, match="missing input 'pixels'"):
        session.run({})
    with pytest.raises(mote.InvalidArgumentError, match="no input 'pixel'"):
        session.run({"pixel": images})
    with pytest.raises(mote.InvalidArgumentError, match="2 inputs given, the model has 1"):
        session.run([images, images])
    with pytest.raises(TypeError, match="not an array"):
        session.run(images)


def test_bad_session_options():
    with mote.Model(MODEL) as model:
        with pytest.raises(mote.InvalidArgumentError, match="threads"):
            model.session(threads=0)
        with pytest.raises(mote.InvalidArgumentError, match="1024"):
            model.session(threads=5000)
        with pytest.raises(mote.InvalidArgumentError):
            model.session(threads=-1)
        with pytest.raises(mote.BackendUnavailableError, match="wgpu"):
            model.session(backend="wgpu")
        with pytest.raises(mote.InvalidArgumentError):
            model.session(backend="tpu")
        for bad in (-1, 2**64, 1.5, True):
            with pytest.raises(mote.InvalidArgumentError, match="memory_limit_bytes"):
                model.session(memory_limit_bytes=bad)


def test_memory_limit_refuses_a_plan_above_it_and_zero_is_unlimited(images):
    import re

    with mote.Model(MODEL) as model:
        with model.session(memory_limit_bytes=1) as tiny:
            with pytest.raises(mote.MemoryLimitError) as e:
                tiny.run([images])
            assert e.value.status == 16 and e.value.status_name == "memory limit exceeded"
            assert isinstance(e.value, mote.OutOfMemoryError)
        needed = int(re.search(r"needs (\d+) bytes", e.value.message).group(1))
        assert needed > images.shape[0] * 10 * 4, "the plan holds at least one intermediate"
        with model.session(memory_limit_bytes=needed - 1) as short:
            with pytest.raises(mote.MemoryLimitError, match=f"{needed - 1} bytes"):
                short.run([images])
            # Fewer rows plan a smaller arena: the same session runs them.
            (probs,) = short.run([images[:10]])
            assert probs.shape == (10, 10)
        expected = None
        for limit in (needed, 0, 2**64 - 1):
            with model.session(memory_limit_bytes=limit) as s:
                (probs,) = s.run([images])
            if expected is None:
                expected = probs
            np.testing.assert_array_equal(probs, expected)


def test_every_status_has_its_class():
    classes = {
        cls.status: cls
        for cls in vars(mote).values()
        if isinstance(cls, type) and issubclass(cls, mote.MoteError) and cls is not mote.MoteError
    }
    assert sorted(classes) == list(range(1, 17))
    for status, cls in classes.items():
        e = cls("m", status)
        assert e.status_name not in ("", "unknown status", "ok")
