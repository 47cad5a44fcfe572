"""Loading the demo model, describing it, and running it: results equal the Rust runtime's
(through its CLI) exactly and onnxruntime's closely, in every input form."""

import importlib.metadata
import re
import threading

import numpy as np
import pytest

import mote
from conftest import MODEL


def test_version_is_the_library_and_package_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", mote.version())
    assert importlib.metadata.version("mote") == mote.version()
    assert mote.ABI_VERSION == 1


def test_model_describes_its_inputs_and_outputs():
    with mote.Model(MODEL) as model:
        (pixels,) = model.inputs
        (probs,) = model.outputs
    assert pixels == mote.TensorInfo("pixels", np.dtype(np.float32), "f32", (None, 64), ("N", None))
    assert probs.name == "probabilities"
    assert probs.dtype == np.float32
    assert probs.shape == (None, 10)


def test_outputs_equal_the_rust_cli_and_match_onnxruntime(images, cli_output, onnxruntime_output):
    with mote.Model(MODEL) as model, model.session() as session:
        out = session.run({"pixels": images})
    assert list(out) == ["probabilities"]
    probs = out["probabilities"]
    assert probs.dtype == np.float32 and probs.shape == (450, 10)
    np.testing.assert_array_equal(probs, cli_output)
    np.testing.assert_allclose(probs, onnxruntime_output, rtol=1e-4, atol=1e-6)


def test_the_demo_model_classifies_its_test_images(images, labels):
    with mote.Model(MODEL) as model, model.session() as session:
        (probs,) = session.run([images])
    accuracy = float(np.mean(probs.argmax(axis=1) == labels))
    assert accuracy > 0.9, accuracy


def test_list_and_dict_inputs_and_threads_agree(images, cli_output):
    model = mote.Model(MODEL)
    for threads in (1, 2, 3):
        with model.session(threads=threads) as session:
            (from_list,) = session.run([images])
            from_dict = session.run({"pixels": images})["probabilities"]
            np.testing.assert_array_equal(from_list, cli_output)
            np.testing.assert_array_equal(from_dict, cli_output)
    model.close()


def test_inputs_that_are_not_contiguous_little_endian_are_copied(images, cli_output):
    with mote.Model(MODEL) as model, model.session() as session:
        fortran = np.asfortranarray(images)
        assert not fortran.flags.c_contiguous
        np.testing.assert_array_equal(session.run([fortran])[0], cli_output)
        big_endian = images.astype(">f4")
        np.testing.assert_array_equal(session.run([big_endian])[0], cli_output)
        strided = np.repeat(images, 2, axis=0)[::2]
        np.testing.assert_array_equal(session.run([strided])[0], cli_output)
        nested = images[:3].tolist()  # any array-like, converted by numpy
        with pytest.raises(mote.DtypeMismatchError):
            session.run([nested])  # float64 from Python floats: no silent conversion
        np.testing.assert_array_equal(
            session.run([np.array(nested, np.float32)])[0], cli_output[:3]
        )


def test_batch_sizes_including_empty(images, cli_output):
    with mote.Model(MODEL) as model, model.session() as session:
        for n in (1, 7, 450):
            np.testing.assert_array_equal(session.run([images[:n]])[0], cli_output[:n])
        (empty,) = session.run([images[:0]])
        assert empty.shape == (0, 10)


def test_load_from_bytes_bytearray_and_memoryview(images, cli_output):
    data = MODEL.read_bytes()
    for source in (data, bytearray(data), memoryview(data), str(MODEL)):
        with mote.Model(source) as model, model.session() as session:
            np.testing.assert_array_equal(session.run([images])[0], cli_output)


def test_one_model_many_threads_one_session_each(images, cli_output):
    model = mote.Model(MODEL)
    results, errors = {}, []

    def work(i):
        try:
            with model.session(threads=1 + i % 2) as session:
                for _ in range(5):
                    results[i] = session.run([images])[0]
        except Exception as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    model.close()
    assert not errors, errors
    assert len(results) == 6
    for r in results.values():
        np.testing.assert_array_equal(r, cli_output)


def test_the_installed_package_loads_its_bundled_library():
    import os
    from pathlib import Path

    if os.environ.get("MOTE_LIB"):
        pytest.skip("MOTE_LIB chooses the library")
    assert Path(mote.library_path).parent == Path(mote.__file__).resolve().parent


def test_concurrent_calls_on_one_session_succeed_or_are_refused_as_busy(images, cli_output):
    # A session runs one call at a time: a colliding call raises SessionBusyError instead of
    # racing. Whether calls collide depends on timing; every outcome must be one of the two.
    big = np.ascontiguousarray(np.tile(images, (20, 1)))
    expected = np.tile(cli_output, (20, 1))
    outcomes, errors = [], []
    with mote.Model(MODEL) as model, model.session() as session:

        def work():
            for _ in range(10):
                try:
                    (probs,) = session.run([big])
                    np.testing.assert_array_equal(probs, expected)
                    outcomes.append("ok")
                except mote.SessionBusyError as e:
                    assert "another thread" in str(e) or "busy" in str(e), str(e)
                    outcomes.append("busy")
                except Exception as e:  # reported below
                    errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    assert len(outcomes) == 30 and "ok" in outcomes, outcomes


def test_run_into_writes_the_run_results_into_the_callers_arrays(images, cli_output):
    with mote.Model(MODEL) as model, model.session(threads=2) as session:
        out = np.full((450, 10), np.nan, np.float32)
        assert session.run_into({"pixels": images}, {"probabilities": out}) is None
        np.testing.assert_array_equal(out, cli_output)
        # The same array again, and a list form: the values are overwritten, not mixed.
        small = np.full((7, 10), -1.0, np.float32)
        session.run_into([images[:7]], [small])
        np.testing.assert_array_equal(small, session.run([images[:7]])[0])
        # A view into a larger, C-contiguous block is a valid target.
        block = np.zeros((20, 10), np.float32)
        session.run_into([images[:5]], [block[3:8]])
        np.testing.assert_array_equal(block[3:8], small[:5])
        assert not block[:3].any() and not block[8:].any()


def test_run_into_refuses_arrays_that_cannot_receive_the_output(images):
    with mote.Model(MODEL) as model, model.session() as session:
        ok = np.zeros((450, 10), np.float32)
        # Wrong shape for these inputs: the declared [N, 10] cannot rule it out, the run does.
        wrong_rows = np.zeros((449, 10), np.float32)
        with pytest.raises(mote.ShapeMismatchError, match=r"\(450, 10\).*\(449, 10\)") as e:
            session.run_into([images], [wrong_rows])
        assert "no output was written" in e.value.message
        assert not wrong_rows.any()
        # Same byte count, other shape: refused, named in the array's terms.
        with pytest.raises(mote.ShapeMismatchError, match=r"\(900, 5\)"):
            session.run_into([images], [np.zeros((900, 5), np.float32)])
        # Declared width 10: refused before running.
        with pytest.raises(mote.ShapeMismatchError, match=r"\('\?', 10\)"):
            session.run_into([images], [np.zeros((450, 11), np.float32)])
        with pytest.raises(mote.ShapeMismatchError):
            session.run_into([images], [np.zeros(4500, np.float32)])
        with pytest.raises(mote.DtypeMismatchError, match="float64"):
            session.run_into([images], [np.zeros((450, 10), np.float64)])
        with pytest.raises(mote.DtypeMismatchError, match="big-endian"):
            session.run_into([images], [np.zeros((450, 10), ">f4")])
        with pytest.raises(mote.InvalidArgumentError, match="C-contiguous"):
            session.run_into([images], [np.zeros((10, 450), np.float32).T])
        read_only = np.zeros((450, 10), np.float32)
        read_only.flags.writeable = False
        with pytest.raises(mote.InvalidArgumentError, match="read-only"):
            session.run_into([images], [read_only])
        with pytest.raises(TypeError, match="numpy arrays"):
            session.run_into([images], [[0.0] * 4500])
        with pytest.raises(mote.InvalidArgumentError, match="2 output arrays"):
            session.run_into([images], [ok, ok])
        with pytest.raises(mote.InvalidArgumentError, match="no output 'probs'"):
            session.run_into([images], {"probs": ok})
        with pytest.raises(mote.InvalidArgumentError, match="missing output"):
            session.run_into([images], {})
        # Input errors are the same as run's, and nothing is written.
        with pytest.raises(mote.ShapeMismatchError):
            session.run_into([images[:, :10]], [ok])
        assert not ok.any()
        session.run_into([images], [ok])
        assert ok.any()
