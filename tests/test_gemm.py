"""pyconv's own packed SGEMMs (_kernels/_gemm.h: the AVX2 6x16 and the
AVX-512 12x32 micro-kernel) against numpy in float64, each build this CPU
runs (the others skip): every transpose combination, edge sizes around both
micro-tiles, the 8-wide packing transposes and the k blocking (k > 256 or
384 splits), with op(A) packed block by block or whole beforehand (as for
conv weights)."""
import itertools

import numpy as np
import pytest

from pyconv import _dispatch

SHAPES = [(1, 1, 1), (6, 16, 8), (7, 17, 9), (5, 15, 7), (13, 33, 130), (64, 100, 385),
          (145, 40, 20), (12, 2049, 3), (3, 5, 800), (12, 32, 8), (11, 31, 9),
          (25, 65, 257), (24, 48, 16)]


@pytest.fixture(params=["avx2", "avx512"])
def kernels(request):
    """The GEMM entry points of one SIMD build, skipped where it cannot run."""
    if request.param not in _dispatch.usable_levels():
        pytest.skip(f"the {request.param} build cannot run here: "
                    f"{_dispatch.why_unusable(request.param)}")
    return _dispatch.kernels("bench", request.param)


@pytest.mark.parametrize("prepack_a", [False, True], ids=["packed-per-block", "prepacked"])
@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("m,n,k", SHAPES, ids=[f"{m}x{n}x{k}" for m, n, k in SHAPES])
def test_own_sgemm_matches_numpy(kernels, m, n, k, trans_a, trans_b, prepack_a, rng):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    want = op_a.astype(np.float64) @ op_b.astype(np.float64)
    tol = 2e-6 * np.sqrt(k) * max(1.0, np.abs(want).max())

    c = np.full((m, n), np.nan, dtype=np.float32)     # beta = 0 never reads C
    assert kernels.own_sgemm(a, b, c, trans_a, trans_b, 0.0, prepack_a) == 0
    np.testing.assert_allclose(c, want, rtol=0, atol=tol)

    c = c0.copy()                                      # beta = 1 accumulates
    assert kernels.own_sgemm(a, b, c, trans_a, trans_b, 1.0, prepack_a) == 0
    np.testing.assert_allclose(c, want + c0, rtol=0, atol=tol + 1e-6)


def test_own_sgemm_is_deterministic(kernels, rng):
    a = rng.standard_normal((70, 500)).astype(np.float32)
    b = rng.standard_normal((500, 90)).astype(np.float32)
    first, second = (np.empty((70, 90), np.float32) for _ in range(2))
    kernels.own_sgemm(a, b, first, False, False)
    kernels.own_sgemm(a, b, second, False, False)
    np.testing.assert_array_equal(first, second)
