"""No leaks: resident memory stays flat over many fits and kernel calls, and
a model is freed when the user lets go of it.

Figures (RSS before/after, tracemalloc net growth and peak, the largest
allocation sites) are printed (visible with ``-s``) and attached to the test
report with ``record_property``.
"""
import gc
import os
import tracemalloc
import weakref

import numpy as np
import pytest

from pyconv import functional as F
from pyconv.layers import (BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input,
                           MaxPool2D)
from pyconv.models import Sequential

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                                reason="reads resident memory from /proc")

GROWTH_LIMIT = 0.05     # 5 % of resident memory after warm-up


def rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _settled_rss():
    gc.collect()
    return rss_bytes()


def _model():
    model = Sequential([Input((1, 8, 8)), Conv2D(4, 3, activation="relu"), MaxPool2D(),
                        BatchNormalization(), Flatten(), Dropout(0.1), Dense(3)], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    return model


@pytest.fixture
def data(rng):
    x = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=64)
    return x, y


def _report(record_property, name, **figures):
    text = ", ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\n[memory] {name}: {text}")
    for key, value in figures.items():
        record_property(f"{name}.{key}", value)


def _top_sites(before, after, limit=3):
    stats = after.compare_to(before, "lineno")
    return "; ".join(f"{s.traceback[0].filename.rsplit('/', 1)[-1]}:{s.traceback[0].lineno} "
                     f"{s.size_diff / 1024:+.1f} KiB" for s in stats[:limit])


def test_200_fit_predict_cycles_keep_resident_memory_flat(data, record_property):
    x, y = data
    model = _model()
    for _ in range(20):                                    # warm-up: caches, scratch buffers
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        model.predict(x, verbose=0)
    start = _settled_rss()
    for _ in range(200):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, validation_split=0.25)
        proba = model.predict(x, verbose=0)
    end = _settled_rss()
    growth = (end - start) / start
    _report(record_property, "fit_predict_200", rss_start_mib=round(start / 2**20, 1),
            rss_end_mib=round(end / 2**20, 1), growth_percent=round(100 * growth, 2))
    assert proba.shape == (64, 3) and np.isfinite(proba).all()
    assert growth < GROWTH_LIMIT

    # The same cycles under tracemalloc (fewer: tracing is slow): the net
    # Python-level allocation must not grow with the number of cycles.
    tracemalloc.start(5)
    try:
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        gc.collect()
        first = tracemalloc.take_snapshot()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(30):
            model.fit(x, y, batch_size=16, epochs=1, verbose=0)
            model.predict(x, verbose=0)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        second = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    _report(record_property, "fit_predict_tracemalloc_30",
            net_growth_kib=round((current - base) / 1024, 1),
            peak_kib=round(peak / 1024, 1), top_sites=_top_sites(first, second))
    assert current - base < 256 * 1024       # measured ~24 KiB, flat in the cycle count


def test_10000_kernel_calls_keep_resident_memory_flat(rng, record_property):
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    wd = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = F.conv2d(x, w, b, padding=1)
    py = F.max_pool2d(x, 2)
    calls = [
        lambda: F.conv2d(x, w, b, padding=1),
        lambda: F.conv2d(x, wd, groups=3, stride=2, padding_mode="reflect", padding=1),
        lambda: F.conv2d_backward(y, x, w, padding=1),
        lambda: F.max_pool2d(x, 2, return_indices=True),
        lambda: F.max_pool2d_backward(py, x, 2),
        lambda: F.avg_pool2d(x, 3, stride=1, padding=1, ceil_mode=True),
        lambda: F.avg_pool2d_backward(py, x, 2),
        lambda: F.max_pool2d(x, 3, stride=2, dilation=2, padding=1),
    ]
    for call in calls * 50:
        call()
    start = _settled_rss()
    for i in range(10_000):
        calls[i % len(calls)]()
    end = _settled_rss()
    growth = (end - start) / start
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        for i in range(800):
            calls[i % len(calls)]()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _report(record_property, "kernel_calls_10000", rss_start_mib=round(start / 2**20, 1),
            rss_end_mib=round(end / 2**20, 1), growth_percent=round(100 * growth, 2),
            tracemalloc_net_kib_per_800_calls=round((current - base) / 1024, 1),
            tracemalloc_peak_kib=round(peak / 1024, 1))
    assert growth < GROWTH_LIMIT
    assert current - base < 256 * 1024       # flat: threadpoolctl caches, not per call


def _fit_and_drop(data, keep_history):
    x, y = data
    model = _model()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    refs = [weakref.ref(model)] + [weakref.ref(layer) for layer in model.layers]
    return refs, (history if keep_history else None)


def test_model_is_freed_by_refcount_when_deleted(data):
    """Everything fit creates is freed by reference counting alone: History
    refers back to its model weakly, so ``model.history`` makes no cycle."""
    gc.collect()
    gc.disable()
    try:
        refs, _ = _fit_and_drop(data, keep_history=False)
        assert all(ref() is None for ref in refs)
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_scratch_buffers_are_reused_not_accumulated(rng):
    """The functional module caches one scratch buffer per (key, dtype) and
    thread: calls of varying sizes reuse it instead of accumulating more."""
    from pyconv._conv_plan import _scratch

    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    images = [rng.standard_normal((2, 3, s, s)).astype(np.float32) for s in (8, 16, 32)]

    def sweep():
        for x in images * 3:
            F.conv2d(x, w, padding=1)
            F.conv2d_backward(np.ones((2, 4, x.shape[2], x.shape[3]), np.float32), x, w,
                              padding=1)
        return {key: buf.size for key, buf in getattr(_scratch, "buffers", {}).items()}

    first = sweep()
    second = sweep()
    assert first and second == first           # same keys, no growth on repetition
