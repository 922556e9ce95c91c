"""Helpers that tests import (fixtures live in conftest.py).

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
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

import pyconv

__all__ = ["PACKAGE_PARENT", "child_env", "run_python", "start_python", "TOLERANCES",
           "assert_close", "max_relative_error"]

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
