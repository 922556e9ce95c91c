"""Compiled kernels. Private: use `pyconv.functional`."""
