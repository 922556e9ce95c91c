"""Stub of the compiled ``pyconv._kernels.conv_avx2``: the functions of ``conv`` (generated
by tools/make_stubs.py)."""
from .conv import *  # noqa: F403 (a stub re-exports them)
