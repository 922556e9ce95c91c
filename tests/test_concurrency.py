"""Threads, processes and determinism.

- ``predict`` and every functional kernel called from 4 Python threads at
  once give exactly the serial results (the kernels release the GIL; scratch
  buffers are per thread).
- A child forked after OpenMP work (multiprocessing "fork") neither hangs
  nor computes wrongly: pyconv falls back to one thread there and says so
  with a RuntimeWarning (test_openmp.py checks a plain conv2d in a fork pool;
  here: the warning, the thread count, backward kernels and a whole fit).
- GridSearchCV with loky workers (n_jobs=2) runs clean.
- Determinism: the same seed gives bit-identical weights after fit, and 1
  and 2 threads give bit-identical conv2d forward/backward, pooling, and a
  short Sequential fit.
"""
import multiprocessing
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import pyconv
from pyconv import functional as F
from pyconv.layers import (AvgPool2D, BatchNormalization, Conv2D, Dense, Flatten, Input,
                           MaxPool2D)
from pyconv.models import Sequential


@pytest.fixture
def restore_threads():
    yield
    pyconv.set_num_threads(None)


def _model(seed=0, dtype="float32"):
    model = Sequential([Input((2, 10, 10), dtype=dtype),
                        Conv2D(6, 3, padding="same", activation="relu", dtype=dtype),
                        MaxPool2D(dtype=dtype),
                        Conv2D(8, 3, groups=2, dtype=dtype),
                        BatchNormalization(dtype=dtype),
                        AvgPool2D(dtype=dtype),
                        Flatten(dtype=dtype), Dense(3, dtype=dtype)], seed=seed)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


@pytest.fixture
def data(rng):
    x = rng.standard_normal((48, 2, 10, 10)).astype(np.float32)
    y = rng.integers(0, 3, size=48)
    return x, y


def _kernel_calls(rng):
    x = rng.standard_normal((8, 6, 17, 15)).astype(np.float32)
    w = rng.standard_normal((12, 6, 3, 3)).astype(np.float32)
    wd = rng.standard_normal((12, 1, 3, 5)).astype(np.float32)
    b = rng.standard_normal(12).astype(np.float32)
    y = F.conv2d(x, w, b, stride=(1, 2), padding=2, dilation=2)
    gp = F.max_pool2d(x, 3, stride=2, ceil_mode=True)
    return {
        "conv": lambda: F.conv2d(x, w, b, stride=(1, 2), padding=2, dilation=2),
        "depthwise": lambda: F.conv2d(x, wd, groups=6, padding="same",
                                      padding_mode="circular"),
        "conv_backward": lambda: F.conv2d_backward(y, x, w, stride=(1, 2), padding=2,
                                                   dilation=2),
        "max_pool": lambda: F.max_pool2d(x, 3, stride=2, ceil_mode=True, return_indices=True),
        "max_pool_backward": lambda: F.max_pool2d_backward(gp, x, 3, stride=2, ceil_mode=True),
        "avg_pool": lambda: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False),
        "avg_pool_backward": lambda: F.avg_pool2d_backward(gp, x, 3, stride=2, ceil_mode=True),
    }


def _flatten(result):
    if isinstance(result, tuple):
        return [r for r in result if r is not None]
    return [result]


def _assert_identical(a, b, label):
    for u, v in zip(_flatten(a), _flatten(b)):
        np.testing.assert_array_equal(u, v, err_msg=label)


# ------------------------------------------------------------- 4 threads
def test_functional_kernels_from_4_threads_match_serial(rng):
    calls = _kernel_calls(rng)
    serial = {name: call() for name, call in calls.items()}
    jobs = [name for name in calls for _ in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda name: (name, calls[name]()), jobs))
    assert len(results) == len(jobs)
    for name, result in results:
        _assert_identical(result, serial[name], name)


def test_predict_from_4_threads_matches_serial(data):
    x, y = data
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    chunks = [x[i::4] for i in range(4)]
    serial = [model.predict(chunk, verbose=0) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            threaded = list(pool.map(lambda c: model.predict(c, verbose=0), chunks))
            for got, want in zip(threaded, serial):
                np.testing.assert_array_equal(got, want)


# ------------------------------------------------------------------ fork
def _child_work(queue, x, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = pyconv.get_num_threads()
        w = np.ones((4, 2, 3, 3), np.float32)
        out = F.conv2d(x[:4], w, padding=1)
        grads = F.conv2d_backward(np.ones_like(out), x[:4], w, padding=1)
        model = _model()
        history = model.fit(x, y, epochs=1, verbose=0, shuffle=False)
        queue.put((threads, [str(c.message) for c in caught
                             if issubclass(c.category, RuntimeWarning)],
                   out, grads[1], model.get_weights()[0], history.history["loss"]))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_after_openmp_work_falls_back_to_one_thread(data, restore_threads):
    x, y = data
    pyconv.set_num_threads(2)
    w = np.ones((4, 2, 3, 3), np.float32)
    expected_out = F.conv2d(x[:4], w, padding=1)                 # parent OpenMP team
    expected_gw = F.conv2d_backward(np.ones_like(expected_out), x[:4], w, padding=1)[1]
    reference = _model()
    ref_history = reference.fit(x, y, epochs=1, verbose=0, shuffle=False)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_work, args=(queue, x, y))
    child.start()
    result = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    threads, messages, out, gw, weights, loss = result
    assert threads == 1
    assert any("forked after OpenMP work" in m for m in messages), messages
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(gw, expected_gw)
    # Thread count never changes the bits (fixed work partition):
    np.testing.assert_array_equal(weights, reference.get_weights()[0])
    assert loss == ref_history.history["loss"]


# -------------------------------------------------------- GridSearchCV
def test_grid_search_with_loky_workers_over_filter_bank_pipeline():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    del sklearn
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pipe = make_pipeline(pyconv.FilterBankTransformer(), LogisticRegression(max_iter=300))
    search = GridSearchCV(pipe, {"filterbanktransformer__pooling": [None, "max"]}, cv=3,
                          n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)    # no fork fallback in loky
        search.fit(X, y)
    assert search.best_score_ > 0.8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_grid_search_with_loky_workers_over_cnn_classifier():
    pytest.importorskip("sklearn")
    if not hasattr(pyconv, "CNNClassifier"):
        pytest.skip("estimators not present")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    X, y = X[:240] / 16.0, y[:240]
    search = GridSearchCV(pyconv.CNNClassifier(max_iter=2, random_state=0),
                          {"learning_rate": [1e-3, 3e-3]}, cv=2, n_jobs=2)
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert set(search.predict(X[:10])) <= set(range(10))


# ----------------------------------------------------------- determinism
def test_same_seed_gives_bit_identical_weights_after_fit(data, restore_threads):
    x, y = data
    pyconv.set_num_threads(2)
    runs = []
    for _ in range(2):
        model = _model(seed=7)
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.25)
        runs.append((model.get_weights(), history.history))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_are_bit_identical_for_kernels(rng, dtype, restore_threads):
    calls = _kernel_calls(rng)
    results = {}
    for n in (1, 2):
        pyconv.set_num_threads(n)
        results[n] = {name: call() for name, call in calls.items()}
    for name in calls:
        _assert_identical(results[1][name], results[2][name], f"{name} 1 vs 2 threads")
    # A batch large enough for the weight gradient to be split in chunks.
    x = rng.standard_normal((40, 4, 9, 9)).astype(dtype)
    w = rng.standard_normal((6, 4, 3, 3)).astype(dtype)
    grads = {}
    for n in (1, 2):
        pyconv.set_num_threads(n)
        grads[n] = F.conv2d_backward(np.ones((40, 6, 7, 7), dtype), x, w)
    _assert_identical(grads[1], grads[2], "conv2d_backward batch 40")


def test_one_and_two_threads_give_bit_identical_fit(data, restore_threads):
    x, y = data
    weights = {}
    for n in (1, 2):
        pyconv.set_num_threads(n)
        model = _model(seed=3)
        model.fit(x, y, epochs=2, batch_size=16, verbose=0)
        weights[n] = model.get_weights()
    for a, b in zip(weights[1], weights[2]):
        np.testing.assert_array_equal(a, b)
