"""Process-wide state shared by Python threads, and resource bounds (issue 18,
cases 10 and 11).

- The BLAS thread limit is reference-counted: calls whose lifetimes overlap
  in several Python threads, ending in any order, restore the count they
  found.
- The convolution scratch cache keeps no buffer above its cap after a size
  spike; a workspace above the sane bound is a `ValueError` before anything
  is allocated.
- `set_num_threads` (and the estimators' ``n_threads``) accept at most four
  threads per CPU.
"""
import os
import threading

import numpy as np
import pytest

import pyconv
from pyconv import _conv_plan, _threads
from pyconv import functional as F
from pyconv.callbacks import LambdaCallback
from pyconv.layers import Dense, Input
from pyconv.models import Sequential

threadpoolctl = pytest.importorskip("threadpoolctl")


class _ProcessWideSetting:
    """Stands in for threadpoolctl's BLAS controller: one process-wide thread
    count, as OpenBLAS has, with ``limit`` saving and restoring it."""

    def __init__(self, count):
        self.count = count

    def limit(self, limits):
        setting, saved = self, self.count

        class Limiter:
            def restore_original_limits(self):
                setting.count = saved

        self.count = limits
        return Limiter()


@pytest.fixture
def blas(monkeypatch):
    """BLAS at four threads, behind the process-wide stand-in."""
    setting = _ProcessWideSetting(4)
    monkeypatch.setattr(_threads, "_blas_controller", setting)
    yield setting
    assert setting.count == 4


def _blas_counts():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"]


@pytest.fixture
def real_blas_at_two_threads():
    """The real BLAS libraries held at two threads (so a leaked limit of one shows)."""
    from pyconv import _dispatch

    _dispatch.kernels("conv")                 # loads scipy's BLAS, as the kernels do
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if not _blas_counts() or set(_blas_counts()) != {2}:
            pytest.skip("no BLAS whose thread count can be set to 2")
        yield
    assert _threads._blas_users == 0


def _run_overlapping(first, second):
    """Run ``first(hold)`` and ``second(hold)`` in two threads so their BLAS
    limits overlap: both enter, then ``first`` leaves before ``second``."""
    both_inside = threading.Barrier(2, timeout=60)
    first_left = threading.Event()
    errors = []

    def run(body, leave_first):
        def hold():
            both_inside.wait()
            if not leave_first:
                assert first_left.wait(60)
        try:
            body(hold)
        except BaseException as exc:      # reported by the main thread
            errors.append(exc)
            both_inside.abort()
        finally:
            if leave_first:
                first_left.set()

    threads = [threading.Thread(target=run, args=(first, True)),
               threading.Thread(target=run, args=(second, False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


def test_blas_limit_composes_across_overlapping_threads(blas):
    inside = []

    def body(hold):
        with _threads.blas_single_threaded():
            inside.append(blas.count)
            hold()
            inside.append(blas.count)

    for _ in range(3):
        _run_overlapping(body, body)
        assert blas.count == 4
    assert inside == [1] * 12


def test_overlapping_fits_in_two_threads_restore_the_blas_count(blas, rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=16)
    during = []

    def fit(hold):
        model = Sequential([Input((4,)), Dense(2)], seed=0)
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[LambdaCallback(
            on_train_end=lambda logs: (during.append(blas.count), hold()))])

    _run_overlapping(fit, fit)
    assert during == [1, 1] and blas.count == 4


def test_nested_blas_limits_in_one_thread(blas):
    with _threads.blas_single_threaded():
        with _threads.blas_single_threaded():
            assert blas.count == 1
        assert blas.count == 1
    assert blas.count == 4


def test_real_blas_count_is_restored_after_overlapping_fits(real_blas_at_two_threads, rng):
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=16)

    def fit(hold):
        model = Sequential([Input((4,)), Dense(2)], seed=0)
        model.compile("sgd", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[LambdaCallback(on_train_end=lambda logs: hold())])

    with _threads.blas_single_threaded():     # the main thread is a user too
        _run_overlapping(fit, fit)
        assert set(_blas_counts()) == {1}
    assert set(_blas_counts()) == {2}


# ------------------------------------------------------------ scratch memory
def _cached_bytes():
    return sum(buf.nbytes for buf in getattr(_conv_plan._scratch, "buffers", {}).values())


def test_scratch_cache_does_not_keep_a_size_spike():
    x = np.ones((1, 8, 40, 40), np.float32)
    w = np.ones((4, 8, 3, 3), np.float32)
    F.conv2d(x[:, :, :8, :8], w, padding=1)
    small = _cached_bytes()
    y = F.conv2d(x, w, padding=600, dilation=400)     # a ~94 MB padded workspace
    assert y.shape == (1, 4, 440, 440)
    assert _cached_bytes() <= max(small, _conv_plan._SCRATCH_KEEP_BYTES)
    np.testing.assert_array_equal(F.conv2d(x, w, padding=600, dilation=400), y)


@pytest.mark.parametrize("call", [
    lambda x, w: F.conv2d(x, w, dilation=20000, padding=20000),
    lambda x, w: F.conv2d(x, np.ones((4, 1, 3, 3), np.float32), dilation=20000,
                          padding=20000),
])
def test_workspace_above_the_bound_is_refused_before_allocating(call):
    x = np.ones((1, 1, 1, 1), np.float32)
    w = np.ones((1, 1, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"6\.0 GiB of scratch.*`padding`.*`dilation`"):
        call(x, w)


# ---------------------------------------------------------------- thread count
@pytest.fixture
def restore_threads():
    yield
    pyconv.set_num_threads(None)


def test_set_num_threads_is_bounded(restore_threads):
    limit = 4 * (os.cpu_count() or 1)
    assert _threads.max_threads() == limit
    pyconv.set_num_threads(limit)
    bad = max(1024, limit + 1)
    with pytest.raises(ValueError, match=rf"^`n` must be at most {limit} .*; got {bad}\.$"):
        pyconv.set_num_threads(bad)
    with pytest.raises(ValueError, match="`n` must be at most"):
        pyconv.set_num_threads(2**31)


# (an estimator's n_threads beyond the bound: the CNNClassifier-n-threads-10-to-6 row
# of tests/test_bad_input_table.py)


# ------------------------------------------------- resources over many cycles
def _process_figures():
    with open("/proc/self/statm") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return rss, len(os.listdir("/proc/self/fd")), threading.active_count(), len(
        os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc")
def test_cycles_in_two_threads_keep_memory_fds_threads_and_blas_flat(
        real_blas_at_two_threads, rng, tmp_path, record_property):
    """fit / predict / save / load / a refused hostile load, in two Python
    threads at once, over many cycles."""
    import gc

    from pyconv.layers import Conv2D, Flatten, MaxPool2D
    from pyconv.models import load_model

    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=32)
    damaged = tmp_path / "damaged.pyconv"

    def cycles(worker, count):
        for cycle in range(count):
            model = Sequential([Input((1, 8, 8)), Conv2D(4, 3, activation="relu"), MaxPool2D(),
                                Flatten(), Dense(3)], seed=cycle)
            model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
            model.fit(x, y, epochs=1, batch_size=8, verbose=0)
            path = tmp_path / f"w{worker}.pyconv"
            model.save(path)
            restored = load_model(path)
            np.testing.assert_array_equal(restored.predict(x, verbose=0),
                                          model.predict(x, verbose=0))
            with pytest.raises(ValueError):
                load_model(damaged)

    def in_two_threads(count):
        errors = []
        threads = [threading.Thread(target=lambda w=w: _collect(errors, cycles, w, count))
                   for w in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert not errors, errors

    model = Sequential([Input((4,)), Dense(2)], seed=0)
    model.save(damaged)
    damaged.write_bytes(damaged.read_bytes()[:-40])     # truncated: every load refuses it
    in_two_threads(10)                                  # warm-up: caches, pools, imports
    gc.collect()
    before = _process_figures()
    in_two_threads(60)
    gc.collect()
    after = _process_figures()
    figures = (f"RSS {before[0] / 2**20:.1f} -> {after[0] / 2**20:.1f} MiB, "
               f"fds {before[1]} -> {after[1]}, Python threads {before[2]} -> {after[2]}, "
               f"OS threads {before[3]} -> {after[3]}, over 2 x 60 cycles of fit/predict/"
               f"save/load/refused load; BLAS threads after: {_blas_counts()}")
    print("\n[resources]", figures)
    record_property("resources", figures)
    assert after[1] == before[1] and after[2] == before[2] and after[3] == before[3]
    assert after[0] < before[0] * 1.05
    assert set(_blas_counts()) == {2}


def _collect(errors, body, *args):
    try:
        body(*args)
    except BaseException as exc:      # reported by the main thread
        errors.append(exc)
