"""Shared fixtures of the pyconv test suite (importable helpers: _support.py)."""
import signal
import sys
import zlib

import numpy as np
import pytest


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


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler for the test, the inherited one put back
    afterwards: a suite started in the background (``cmd &``) inherits
    SIGINT ignored, and a Ctrl-C test would then test nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


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
