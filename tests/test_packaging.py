"""Package metadata: one version, a typed-package marker, a license."""
import importlib.metadata
import importlib.util
import pathlib

import pytest

import pyconv
from pyconv import _version

PACKAGE_DIR = pathlib.Path(pyconv.__file__).parent


def test_version_has_one_source():
    assert pyconv.__version__ == _version.__version__
    assert pyconv.__version__.count(".") >= 2


def test_installed_metadata_agrees_with_the_import():
    """When pyconv runs from an installed wheel, its metadata names the same version."""
    try:
        dist = importlib.metadata.distribution("pyconv")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pyconv is not installed (in-place development build)")
    if pathlib.Path(dist.locate_file("pyconv")).resolve() != PACKAGE_DIR.resolve():
        pytest.skip("the installed pyconv is not the one imported here")
    assert dist.version == pyconv.__version__
    assert any(p.name == "LICENSE" for p in dist.files), "LICENSE missing from the wheel"


def test_package_is_marked_typed():
    assert (PACKAGE_DIR / "py.typed").is_file()


def test_kernel_stubs_match_their_sources():
    """The .pyi stubs of the Cython modules list every ``def`` with its
    parameters; after changing a kernel's signature run tools/make_stubs.py."""
    tool = pathlib.Path(__file__).resolve().parent.parent / "tools" / "make_stubs.py"
    if not tool.is_file() or not any((PACKAGE_DIR / "_kernels").glob("*.pyx")):
        pytest.skip("needs a source checkout (tools/make_stubs.py and the .pyx files)")
    spec = importlib.util.spec_from_file_location("make_stubs", tool)
    make_stubs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_stubs)
    if make_stubs.KERNELS.resolve() != (PACKAGE_DIR / "_kernels").resolve():
        pytest.skip("the imported pyconv is not this checkout's")
    stale = [path.name for path, text in make_stubs.stubs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date, run python tools/make_stubs.py: {stale}"
