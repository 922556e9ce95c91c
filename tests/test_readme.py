"""The README works as written.

- Its quick-start commands are what CI runs (``tools/readme_commands.py``
  extracts them; ``.ci/run`` runs its output verbatim from the clone's root).
- Its Python examples run, each in a fresh interpreter in a temporary
  directory.
- ``python -m pyconv demo`` works from the root of the checkout these tests
  came from when that checkout is the package under test (an editable
  install); when the package under test is installed elsewhere, importing
  pyconv from the unbuilt checkout fails with the explanatory ImportError,
  not a bare missing-name error.
"""
import importlib.machinery
import os
import pathlib
import re
import shutil
import sys

import pytest

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


def _is_checkout_built(package_dir):
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return any(p.name.endswith(suffixes) for p in (package_dir / "_kernels").iterdir())


def test_commands_from_the_checkout_root_work_or_explain_themselves():
    if not (ROOT / "pyconv" / "__init__.py").exists():
        pytest.skip("no pyconv source tree next to these tests")
    if pathlib.Path(PACKAGE_PARENT) == ROOT:       # this checkout is the package under test
        result = run_python("from pyconv.__main__ import main; "
                            "raise SystemExit(main(['demo', '--epochs', '1', '--quiet']))",
                            cwd=ROOT, timeout=600)
        assert result.returncode == 0, result.stderr
        assert "test accuracy" in result.stdout
    elif not _is_checkout_built(ROOT / "pyconv"):  # the package is installed elsewhere
        result = run_python("import pyconv", cwd=ROOT)
        assert result.returncode != 0
        assert "source tree that was never built" in result.stderr
        assert "pip install -e ." in result.stderr
    else:
        pytest.skip("a built checkout that is not the package under test")


def test_an_unbuilt_source_tree_raises_a_clear_import_error(tmp_path):
    installed = pathlib.Path(PACKAGE_PARENT) / "pyconv"
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    shutil.copytree(installed, tmp_path / "pyconv",
                    ignore=lambda d, names: [n for n in names if n.endswith(suffixes)
                                             or n == "__pycache__"])
    result = run_python("import pyconv", cwd=tmp_path)
    assert result.returncode != 0
    assert "ImportError: pyconv's compiled kernels are missing" in result.stderr
    assert str(tmp_path / "pyconv") in result.stderr
