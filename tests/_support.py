"""Helpers that tests import (fixtures live in conftest.py; Keras parity
helpers in _keras_parity.py). No test imports from conftest.py or from
another test module.

Child processes
---------------
Tests that need a fresh interpreter (a crash must not take pytest down, a
signal, an environment variable read at import) start it through
:func:`run_python` or :func:`start_python`. The child

- runs in a fresh temporary directory, never the repository root, so a
  source tree without compiled kernels cannot shadow the package under test;
- imports pyconv from exactly where this test process imported it (the
  installed wheel, an editable install or an in-place build), because that
  directory is put first on its ``PYTHONPATH``.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

import pyconv

__all__ = ["PACKAGE_PARENT", "child_env", "run_python", "start_python", "TOLERANCES",
           "assert_close", "max_relative_error", "check_layer"]

# The directory holding the ``pyconv`` package this test run imported.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))


def child_env(**overrides):
    """The environment for a child Python: ours, with pyconv's parent first on
    ``PYTHONPATH`` and ``overrides`` applied (a value of ``None`` removes the
    variable)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def _command(code, args, unbuffered, flags=()):
    flags = [*flags, "-u"] if unbuffered else list(flags)
    return [sys.executable, *flags, "-c", textwrap.dedent(code), *map(str, args)]


def run_python(code, *args, env=None, cwd=None, timeout=120, unbuffered=False, flags=(),
               **kwargs):
    """Run ``python [flags] -c code args...`` in a child and return its
    ``subprocess.CompletedProcess`` (text mode, output captured).

    ``env`` is a dict of overrides for :func:`child_env`; ``cwd`` defaults to
    a fresh temporary directory that is removed afterwards. Never raises for
    a non-zero exit: the caller asserts on ``returncode`` and shows stderr.
    """
    own_dir = cwd is None
    cwd = tempfile.mkdtemp(prefix="pyconv-child-") if own_dir else cwd
    try:
        return subprocess.run(_command(code, args, unbuffered, flags),
                              env=child_env(**(env or {})),
                              cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              **kwargs)
    finally:
        if own_dir:
            shutil.rmtree(cwd, ignore_errors=True)


def start_python(code, *args, env=None, cwd, unbuffered=True, **kwargs):
    """Start ``python -c code args...`` in a child and return the ``Popen``
    (text mode, stdout and stderr piped). ``cwd`` is required (use pytest's
    ``tmp_path``): the caller owns the process and its directory."""
    return subprocess.Popen(_command(code, args, unbuffered), env=child_env(**(env or {})),
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


# --------------------------------------------------------------------------
# Comparing results
# --------------------------------------------------------------------------
# Tolerances for comparing a kernel with a reference computed in float64:
# (rtol, atol relative to the largest magnitude of the expected array).
TOLERANCES = {
    np.dtype(np.float64): (1e-10, 1e-12),
    np.dtype(np.float32): (1e-4, 1e-5),
}


def assert_close(actual, expected, dtype=None, err_msg=""):
    """Assert ``actual`` matches ``expected`` to the tolerance of ``dtype``.

    ``dtype`` defaults to ``actual.dtype`` (which must also be its dtype):
    float64 is held to rtol 1e-10, float32 to rtol 1e-4; the absolute
    tolerance is scaled by the largest magnitude of ``expected`` so that
    entries near zero after cancellation do not fail spuriously.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(actual.dtype if dtype is None else dtype)
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}. {err_msg}"
    assert actual.shape == expected.shape, (
        f"shape {actual.shape}, expected {expected.shape}. {err_msg}")
    rtol, atol = TOLERANCES[dtype]
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale,
                               equal_nan=True, err_msg=err_msg)


def max_relative_error(actual, expected):
    """Largest ``|actual - expected|`` relative to ``max(1, max|expected|)``."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.size == 0:
        return 0.0
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(actual - expected).max() / scale)


# --------------------------------------------------------------------------
# The layer contract (test_layers.py, test_layers_more.py, test_augmentation.py)
# --------------------------------------------------------------------------
def _n_checked(size, rng, limit=24):
    """Flat indices to check: all of them when few, else a random sample."""
    if size <= limit:
        return np.arange(size)
    return rng.choice(size, size=limit, replace=False)


def _objective(layer, x, projection, training):
    return float(np.sum(layer.forward(x, training=training) * projection)
                 + layer.regularization_loss())


def check_layer(layer, input_shape, rng, training=False, batch=3, eps=1e-6, rtol=1e-5,
                atol=1e-7):
    """The contract every layer satisfies (``layer`` must use dtype float64)."""
    assert layer.dtype == np.float64
    layer.build(input_shape, rng=np.random.default_rng(1))
    assert layer.built and layer.input_shape == tuple(input_shape)
    x = rng.standard_normal((batch,) + tuple(input_shape))

    # 1. shapes
    y = layer.forward(x.copy(), training=training)
    expected = layer.compute_output_shape(tuple(input_shape))
    assert y.shape == (batch,) + expected
    assert layer.output_shape == expected
    assert y.dtype == np.float64

    # 2. count_params from shapes equals the allocated weights
    assert layer.count_params() == sum(w.size for w in layer.weights)
    assert layer.count_params(input_shape) == layer.count_params()
    trainable, non_trainable = layer.param_counts()
    assert trainable == sum(w.size for w in layer.trainable_weights)
    assert non_trainable == sum(w.size for w in layer.non_trainable_weights)
    assert layer.flops(input_shape) >= 0

    # 3. config round trip
    config = layer.get_config()
    json.dumps(config)
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build(input_shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone.forward(x.copy(), training=training),
                               layer.forward(x.copy(), training=training), rtol=1e-12, atol=0)

    # 4. finite differences of backward on a random projection of the output
    projection = rng.standard_normal(y.shape)
    layer.forward(x, training=training)
    grad_x = layer.backward(projection.copy())
    grads = [g.copy() for g in layer.grads]
    assert grad_x.shape == x.shape
    assert len(grads) == len(layer.trainable_weights)
    for w, g in zip(layer.trainable_weights, grads):
        assert g.shape == w.shape
    targets = [("x", x, grad_x)] + [
        (f"weight {i}", w, g) for i, (w, g) in enumerate(zip(layer.trainable_weights, grads))]
    for label, array, analytic in targets:
        flat, flat_grad = array.reshape(-1), analytic.reshape(-1)
        for index in _n_checked(flat.size, rng):
            saved = flat[index]
            flat[index] = saved + eps
            plus = _objective(layer, x, projection, training)
            flat[index] = saved - eps
            minus = _objective(layer, x, projection, training)
            flat[index] = saved
            numeric = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(flat_grad[index], numeric, rtol=rtol, atol=atol,
                                       err_msg=f"{type(layer).__name__} d/d{label}[{index}]")
    # the input is never modified in place
    x_before = x.copy()
    layer.forward(x, training=training)
    layer.backward(projection)
    np.testing.assert_array_equal(x, x_before)
