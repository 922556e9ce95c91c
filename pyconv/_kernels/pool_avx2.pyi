"""Stub of the compiled ``pyconv._kernels.pool_avx2``: the functions of ``pool`` (generated
by tools/make_stubs.py)."""
from .pool import *  # noqa: F403 (a stub re-exports them)
