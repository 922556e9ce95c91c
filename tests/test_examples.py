"""Smoke-run every script in examples/ (``pytest -m example``).

Each ``examples/*.py`` runs in a fresh interpreter with a timeout, writing
its files into a temporary directory through ``PYCONV_EXAMPLES_OUT``. An
example whose optional dependency is missing is skipped: declare it in the
script with a line such as ``# requires: dask, dask_ml`` (import names); as
a safety net, an example that dies with ``ModuleNotFoundError`` for one of
the known optional packages is skipped too.
"""
import importlib.util
import os
import pathlib
import re
import signal
import subprocess
import sys

import pytest

from _support import child_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIMEOUT = float(os.environ.get("PYCONV_EXAMPLE_TIMEOUT", "600"))
OPTIONAL_MODULES = {"matplotlib", "PIL", "dask", "distributed", "dask_ml", "torch", "pandas"}
_REQUIRES = re.compile(r"^#\s*requires:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def declared_requirements(path):
    names = []
    for line in _REQUIRES.findall(path.read_text(encoding="utf-8")):
        names += [name.strip() for name in line.split(",") if name.strip()]
    return names


def _run_script(script, cwd, env):
    """Run ``script`` in its own process group; on timeout kill the whole
    group (joblib's worker processes too, which would otherwise outlive the
    test and load the machine) and fail with what it printed."""
    proc = subprocess.Popen([sys.executable, str(script)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=hasattr(os, "killpg"))
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:                                   # no process groups here
            proc.kill()
        stdout, _ = proc.communicate()
        pytest.fail(f"{script.name} did not finish in {TIMEOUT:.0f} s:\n{stdout}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.example
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    for name in declared_requirements(script):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{script.name} needs {name}")
    out_dir = tmp_path / "out"
    env = child_env(PYCONV_EXAMPLES_OUT=out_dir, MPLBACKEND="Agg",
                    OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    result = _run_script(script, tmp_path, env)
    if result.returncode != 0:
        missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", result.stderr)
        if missing and missing.group(1).split(".")[0] in OPTIONAL_MODULES:
            pytest.skip(f"{script.name} needs the optional package {missing.group(1)}")
    assert result.returncode == 0, (
        f"{script.name} exited with {result.returncode}\n--- stdout ---\n{result.stdout}"
        f"\n--- stderr ---\n{result.stderr}")
    assert result.stdout.strip(), f"{script.name} printed nothing"
    # Anything written goes into the output directory, never the working directory.
    stray = [p.name for p in tmp_path.iterdir() if p.name != "out"]
    assert not stray, f"{script.name} wrote outside PYCONV_EXAMPLES_OUT: {stray}"
    for png in out_dir.glob("*.png") if out_dir.exists() else []:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png.name} is not a PNG"
