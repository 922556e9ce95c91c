"""The one place pyconv's version is written.

``pyproject.toml`` reads it (setuptools' dynamic ``version``) and
``pyconv.__version__`` re-exports it, so the package metadata and the import
always agree.
"""
__version__ = "0.1.0"
