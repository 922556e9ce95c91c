"""Package metadata: one version, a typed-package marker, a license."""
import importlib.metadata
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
