# Benchmark and test entry points of the own GEMM (_gemm.h): not used by the
# convolutions, so kept out of the conv module. The ISA builds
# (bench_avx2.pyx, bench_avx512.pyx) include this file.
import numpy as np

from cython.parallel cimport prange
from libc.string cimport memset

from ._externs cimport (
    PYCONV_HAVE_SGEMM,
    pyconv_fma_probe,
    pyconv_pack_a_whole,
    pyconv_packed_a_size,
    pyconv_sgemm,
    pyconv_sgemm_packed_a,
)
from ._openmp cimport pyconv_wtime


def own_sgemm(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c,
              bint trans_a, bint trans_b, float beta=0, bint prepack_a=False):
    """``c = op(a) @ op(b) + beta * c`` through the packed GEMM of this
    build (-1 returned, nothing done, where there is none): for the GEMM
    benchmark and tests. ``prepack_a`` packs op(a) whole first, as the
    convolutions do with their weights. Shapes are the caller's to check."""
    cdef Py_ssize_t m = c.shape[0], n = c.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    cdef float[::1] packed = np.empty(
        <Py_ssize_t> pyconv_packed_a_size(m, k) if prepack_a else 1, dtype=np.float32)
    cdef int rc
    if not PYCONV_HAVE_SGEMM:
        return -1
    with nogil:
        if prepack_a:
            pyconv_pack_a_whole(trans_a, &a[0, 0], a.shape[1], m, k, &packed[0])
            rc = pyconv_sgemm_packed_a(trans_a, trans_b, m, n, k, 1, NULL, a.shape[1],
                                       &packed[0], &b[0, 0], b.shape[1], beta, &c[0, 0],
                                       c.shape[1], NULL, 0)
        else:
            rc = pyconv_sgemm(trans_a, trans_b, m, n, k, 1, &a[0, 0], a.shape[1], &b[0, 0],
                              b.shape[1], beta, &c[0, 0], c.shape[1], NULL, 0)
    return rc


def fma_peak_gflops(int n_threads, long iters=1000000, int repeats=40):
    """Measured FP32 FMA peak in GFLOP/s of ``n_threads`` cores with this
    build's probe (256-bit FMAs in the AVX2 build, 512-bit in the AVX-512
    one); 0.0 in the baseline build. For the benchmark's "% of peak" column.

    The threads run at once; each times ``repeats`` short runs of its own
    and keeps its best rate, and the peak is the sum of the threads' bests:
    on a shared machine each thread gets its core to itself now and then,
    seldom both at the same instant."""
    cdef double best[64]
    cdef float sinks[64]
    cdef double t0, rate, total = 0.0
    cdef int t, r
    if not PYCONV_HAVE_SGEMM or n_threads < 1 or n_threads > 64:
        return 0.0
    memset(sinks, 0, sizeof(sinks))
    memset(best, 0, sizeof(best))
    for t in prange(n_threads, nogil=True, num_threads=n_threads, schedule="static"):
        for r in range(repeats):
            t0 = pyconv_wtime()
            rate = pyconv_fma_probe(iters, &sinks[t])
            rate = rate / max(pyconv_wtime() - t0, 1e-9)
            if rate > best[t]:
                best[t] = rate
    for t in range(n_threads):
        total += best[t]
    return total * 1e-9
