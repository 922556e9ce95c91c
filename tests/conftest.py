"""Shared fixtures and comparison helpers for the pyconv test suite."""
import sys
import zlib

import numpy as np
import pytest

# Tolerances for comparing a kernel with a reference computed in float64:
# (rtol, atol relative to the largest magnitude of the expected array).
TOLERANCES = {
    np.dtype(np.float64): (1e-10, 1e-12),
    np.dtype(np.float32): (1e-4, 1e-5),
}


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's id: reproducible, different
    for every test and parametrisation, and never the global seed."""
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


@pytest.fixture
def single_thread():
    """Run the test with one kernel thread (finite differences make
    thousands of tiny calls: they check the maths, not the threading)."""
    import pyconv

    pyconv.set_num_threads(1)
    yield
    pyconv.set_num_threads(None)


def assert_close(actual, expected, dtype=None, err_msg=""):
    """Assert ``actual`` matches ``expected`` to the tolerance of ``dtype``.

    ``dtype`` defaults to ``actual.dtype`` (which must also be its dtype):
    float64 is held to rtol 1e-10, float32 to rtol 1e-4; the absolute
    tolerance is scaled by the largest magnitude of ``expected`` so that
    entries near zero after cancellation do not fail spuriously.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    dtype = np.dtype(actual.dtype if dtype is None else dtype)
    assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}. {err_msg}"
    assert actual.shape == expected.shape, (
        f"shape {actual.shape}, expected {expected.shape}. {err_msg}")
    rtol, atol = TOLERANCES[dtype]
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max())) if finite.any() else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale,
                               equal_nan=True, err_msg=err_msg)


def max_relative_error(actual, expected):
    """Largest ``|actual - expected|`` relative to ``max(1, max|expected|)``."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if expected.size == 0:
        return 0.0
    scale = max(1.0, float(np.abs(expected).max()))
    return float(np.abs(actual - expected).max() / scale)


def pytest_terminal_summary(terminalreporter):
    """Report the largest relative error against PyTorch, per dtype."""
    parity = sys.modules.get("_torch_parity")
    if parity is None or not parity.WORST_ERRORS:
        return
    terminalreporter.section("PyTorch parity: largest relative error")
    for dtype in sorted({dtype for _, dtype in parity.WORST_ERRORS}):
        errors = [(err, name) for (name, dt), err in parity.WORST_ERRORS.items() if dt == dtype]
        err, name = max(errors)
        terminalreporter.write_line(f"{dtype}: {err:.3g} over {len(errors)} comparisons "
                                    f"(worst: {name})")
