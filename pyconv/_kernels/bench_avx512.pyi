"""Stub of the compiled ``pyconv._kernels.bench_avx512``: the functions of ``bench`` (generated
by tools/make_stubs.py)."""
from .bench import *  # noqa: F403 (a stub re-exports them)
