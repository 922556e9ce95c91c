"""The README works as written.

- Its quick-start commands are what CI runs (``tools/readme_commands.py``
  extracts them; ``.ci/run`` runs its output verbatim from the clone's root).
- Its Python examples run, each in a fresh interpreter in a temporary
  directory.
- ``import pyconv`` works from the root of the checkout these tests came
  from: a built checkout is the package (and ``python -m pyconv demo``
  runs there); an unbuilt one hands over to the built pyconv installed
  elsewhere, and with none installed says what to do.
"""
import importlib.machinery
import os
import pathlib
import re
import shutil
import sys

import pytest

import pyconv
from _support import PACKAGE_PARENT, run_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
pytestmark = pytest.mark.skipif(not README.exists(), reason="tests run outside a checkout")


def _load_extractor():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import readme_commands
    finally:
        sys.path.pop(0)
    return readme_commands


def _python_blocks():
    if not README.exists():
        return []
    return re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"),
                      re.MULTILINE | re.DOTALL)


def test_quick_start_is_install_demo_tests_and_ci_runs_it():
    commands = _load_extractor().quick_start_commands(README.read_text(encoding="utf-8"))
    assert commands[0].startswith("pip install")
    assert "python -m pyconv demo" in commands
    assert commands[-1] == "pytest tests"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "tools/readme_commands.py" in ci and "quickstart.sh" in ci


def test_readme_cites_no_path_outside_the_repository():
    text = README.read_text(encoding="utf-8")
    assert "../" not in text, "the README must not point outside the repository"


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_example_runs(index, tmp_path):
    code = _python_blocks()[index]
    result = run_python(code, cwd=tmp_path, timeout=900,
                        env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
    assert result.returncode == 0, f"README example {index} failed:\n{code}\n{result.stderr}"


_SHOW = "import pyconv; pyconv.show_config(); print('IMPORTED', pyconv.__file__)"


def _imported_from(result):
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("IMPORTED")][-1]
    return pathlib.Path(line.split(" ", 1)[1]).parent.parent


def test_commands_from_the_checkout_root_work():
    if not (ROOT / "pyconv" / "__init__.py").exists():
        pytest.skip("no pyconv source tree next to these tests")
    result = run_python(_SHOW, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "openmp:" in result.stdout
    # A built checkout is the package; an unbuilt one hands over to the
    # package under test, installed elsewhere.
    expected = ROOT if pyconv._is_built(ROOT / "pyconv") else pathlib.Path(PACKAGE_PARENT)
    assert _imported_from(result) == expected
    if pathlib.Path(PACKAGE_PARENT) == ROOT:       # this checkout is the package under test
        result = run_python("from pyconv.__main__ import main; "
                            "raise SystemExit(main(['demo', '--epochs', '1', '--quiet']))",
                            cwd=ROOT, timeout=600)
        assert result.returncode == 0, result.stderr
        assert "test accuracy" in result.stdout


def _unbuilt_copy(tmp_path):
    installed = pathlib.Path(PACKAGE_PARENT) / "pyconv"
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    shutil.copytree(installed, tmp_path / "pyconv",
                    ignore=lambda d, names: [n for n in names if n.endswith(suffixes)
                                             or n in ("__pycache__", "pyconv.libs")])
    assert not pyconv._is_built(tmp_path / "pyconv")


def test_an_unbuilt_source_tree_hands_over_to_the_built_package(tmp_path):
    _unbuilt_copy(tmp_path)
    result = run_python(_SHOW, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _imported_from(result) == pathlib.Path(PACKAGE_PARENT)
    result = run_python("import runpy; runpy.run_module('pyconv', run_name='__main__')",
                        "info", cwd=tmp_path)
    assert result.returncode == 0 and "simd:" in result.stdout, result.stderr


def test_an_unbuilt_source_tree_alone_raises_a_clear_import_error(tmp_path):
    _unbuilt_copy(tmp_path)
    # -S -E: no site-packages, no PYTHONPATH, so no built pyconv to hand over to.
    result = run_python("import sys; sys.path.insert(0, ''); import pyconv", cwd=tmp_path,
                        flags=("-S", "-E"))
    assert result.returncode != 0
    assert "ImportError: pyconv's compiled kernels are missing" in result.stderr
    assert "no built pyconv is installed" in result.stderr
    assert str(tmp_path / "pyconv") in result.stderr
