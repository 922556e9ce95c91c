"""The build kept its OpenMP parallelism, and pyconv's thread controls work
(set/get_num_threads, threadpoolctl, show_config, fork safety)."""
import multiprocessing
import os

import numpy as np
import pytest

import pyconv
from _support import run_python
from pyconv import functional as F
from pyconv._kernels import _openmp_helpers

ALLOW_NO_OPENMP = os.environ.get("PYCONV_ALLOW_NO_OPENMP", "0") == "1"


@pytest.fixture
def restore_threads():
    yield
    pyconv.set_num_threads(None)


def test_built_with_openmp():
    """A silent serial build is a bug (scikit-image's meson build once lost its
    prange parallelism unnoticed). Set PYCONV_ALLOW_NO_OPENMP=1 to accept one."""
    if ALLOW_NO_OPENMP and not _openmp_helpers.openmp_enabled():
        pytest.skip("serial build allowed by PYCONV_ALLOW_NO_OPENMP=1")
    assert _openmp_helpers.openmp_enabled()
    assert _openmp_helpers.openmp_version() >= 200805   # OpenMP 3.0 or newer


def test_two_threads_really_run(restore_threads):
    if not _openmp_helpers.openmp_enabled():
        pytest.skip("serial build")
    pyconv.set_num_threads(2)
    assert _openmp_helpers.threads_used(2) == 2
    assert _openmp_helpers.threads_used(1) == 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_get_num_threads_round_trip(n, restore_threads):
    pyconv.set_num_threads(n)
    assert pyconv.get_num_threads() == n or (
        not _openmp_helpers.openmp_enabled() and pyconv.get_num_threads() == 1)


def test_set_num_threads_none_restores_default(restore_threads):
    pyconv.set_num_threads(1)
    pyconv.set_num_threads(None)
    assert pyconv.get_num_threads() >= 1
    if _openmp_helpers.openmp_enabled() and "OMP_NUM_THREADS" not in os.environ:
        assert pyconv.get_num_threads() == os.cpu_count()


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      ("2", TypeError)])
def test_set_num_threads_rejects_bad_values(bad, exc, restore_threads):
    with pytest.raises(exc, match=r"^`n` must be .+; got .+\.$"):
        pyconv.set_num_threads(bad)


def test_threadpoolctl_limits_pyconv(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _openmp_helpers.openmp_enabled():
        pytest.skip("serial build")
    pyconv.set_num_threads(None)
    before = pyconv.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert pyconv.get_num_threads() == 1
        x = np.ones((2, 3, 8, 8), dtype=np.float32)
        assert F.conv2d(x, np.ones((2, 3, 3, 3), np.float32))[0, 0, 0, 0] == 27
    assert pyconv.get_num_threads() == before
    # pyconv's OpenMP runtime is one threadpoolctl sees
    apis = {info["user_api"] for info in threadpoolctl.threadpool_info()}
    assert "openmp" in apis


def test_show_config(capsys):
    pyconv.show_config()
    out = capsys.readouterr().out
    assert f"pyconv {pyconv.__version__}" in out
    assert "openmp" in out.lower()
    from pyconv import _dispatch
    simd_line = [line for line in out.splitlines() if line.strip().startswith("simd:")]
    assert simd_line and f"simd:      {_dispatch.simd_level()} (" in simd_line[0]
    assert _dispatch.simd_reason() in simd_line[0]
    gemm_line = [line for line in out.splitlines() if line.strip().startswith("gemm:")]
    own = _dispatch.kernels("conv").has_own_sgemm()
    names = {"avx2": "AVX2+FMA sgemm", "avx512": "AVX-512 sgemm"}
    assert gemm_line and (names.get(_dispatch.simd_level(), "?") in gemm_line[0]) == own
    threads_line = [line for line in out.splitlines() if "threads" in line.lower()]
    assert threads_line and str(pyconv.get_num_threads()) in threads_line[0]


def _conv_in_child(x, weight):
    return F.conv2d(x, weight, padding=1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_after_parallel_conv_does_not_hang(rng, restore_threads):
    """GNU OpenMP's pool does not survive fork: a child forked after parallel
    work must still run conv2d (pyconv uses one thread there) and agree."""
    x = rng.standard_normal((4, 8, 16, 16)).astype(np.float32)
    weight = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    pyconv.set_num_threads(2)
    expected = F.conv2d(x, weight, padding=1)          # starts the OpenMP team
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_conv_in_child, (x, weight))
        got = result.get(timeout=60)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("user_setting, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_openmp_runtime_waits_passively_unless_the_user_chose(user_setting, expected):
    """pyconv loads GNU OpenMP with passive waiting (spinning threads stall
    every barrier on a busy host) but respects an explicit OMP_WAIT_POLICY,
    and leaves the environment as it found it."""
    if not _openmp_helpers.openmp_enabled():
        pytest.skip("serial build")
    env = {"OMP_WAIT_POLICY": user_setting, "GOMP_SPINCOUNT": None, "OMP_DISPLAY_ENV": "true"}
    code = ("import os, pyconv; "
            "print('left in environ:', os.environ.get('OMP_WAIT_POLICY'))")
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    if "OMP_WAIT_POLICY = " not in result.stderr:
        pytest.skip("this OpenMP runtime does not display its settings")
    assert f"OMP_WAIT_POLICY = '{expected}'" in result.stderr
    assert f"left in environ: {user_setting}" in result.stdout
