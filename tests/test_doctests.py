"""Run the docstring examples of every pyconv module (numpydoc Examples)."""
import doctest
import importlib
import pkgutil

import pytest

import pyconv

OPTIONAL = {"pyconv.plotting": "matplotlib", "pyconv.image": "PIL", "pyconv.export": "onnx"}


def _modules():
    names = ["pyconv"]
    for info in pkgutil.walk_packages(pyconv.__path__, "pyconv."):
        if "._kernels" in info.name or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    needs = OPTIONAL.get(name)
    if needs:
        pytest.importorskip(needs)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
