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

import pyconv

__all__ = ["PACKAGE_PARENT", "child_env", "run_python", "start_python"]

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


def _command(code, args, unbuffered):
    flags = ["-u"] if unbuffered else []
    return [sys.executable, *flags, "-c", textwrap.dedent(code), *map(str, args)]


def run_python(code, *args, env=None, cwd=None, timeout=120, unbuffered=False, **kwargs):
    """Run ``python -c code args...`` in a child and return its
    ``subprocess.CompletedProcess`` (text mode, output captured).

    ``env`` is a dict of overrides for :func:`child_env`; ``cwd`` defaults to
    a fresh temporary directory that is removed afterwards. Never raises for
    a non-zero exit: the caller asserts on ``returncode`` and shows stderr.
    """
    own_dir = cwd is None
    cwd = tempfile.mkdtemp(prefix="pyconv-child-") if own_dir else cwd
    try:
        return subprocess.run(_command(code, args, unbuffered), env=child_env(**(env or {})),
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
