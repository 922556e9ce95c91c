"""The GEMM ceiling: pyconv's own packed SGEMMs (_kernels/_gemm.h, the
AVX2+FMA 6x16 and the AVX-512 12x32 micro-kernel, each build this CPU runs)
beside numpy's BLAS (OpenBLAS), one thread each, on the products the
convolutions of ``python -m pyconv bench`` run, interleaved, medians. Prints
GFLOP/s and % of the widest FMA peak, measured by the same probe the conv
benchmark uses. This is the roofline for the im2col + GEMM
layers (pw1x1, strided): a convolution built on a GEMM cannot beat it.

    python benchmarks/bench_gemm.py
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

try:
    import pyconv  # noqa: F401
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from threadpoolctl import threadpool_limits  # noqa: E402

from pyconv import _dispatch  # noqa: E402
from pyconv._bench import peak_gflops  # noqa: E402

# (name, m, n, k, trans_a, trans_b): one image's product in each layer.
PRODUCTS = [
    ("pw1x1 fwd   W @ X", 256, 784, 128, False, False),
    ("pw1x1 dX    W^T @ dY", 128, 784, 256, True, False),
    ("pw1x1 dW    dY @ X^T", 256, 128, 784, False, True),
    ("strided fwd W @ col", 128, 256, 576, False, False),
    ("strided dX  W^T @ dY", 576, 256, 128, True, False),
    ("strided dW  dY @ col^T", 128, 576, 256, False, True),
    ("square 1024", 1024, 1024, 1024, False, False),
]


def _median_s(fn, min_calls=15, min_seconds=0.5):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    argparse.ArgumentParser(prog="python benchmarks/bench_gemm.py", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args(argv)
    levels = [level for level in _dispatch.usable_levels()
              if _dispatch.kernels("conv", level).has_own_sgemm()]
    if not levels:
        print("this CPU runs no build with an own SGEMM (no AVX2+FMA): nothing to compare")
        return
    peak, source = peak_gflops(1)
    rng = np.random.default_rng(0)
    print(f"1 thread, peak {peak:.1f} GFLOP/s ({source}); GFLOP/s (% of peak), "
          "medians, interleaved")
    columns = [f"pyconv {level}" for level in levels] + ["numpy"]
    print(f"{'product':<24} {'m x n x k':>16}" + "".join(f" {c:>16}" for c in columns))
    with threadpool_limits(1, user_api="blas"):
        for name, m, n, k, ta, tb in PRODUCTS:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            c = np.empty((m, n), np.float32)
            op_a, op_b = (a.T if ta else a), (b.T if tb else b)
            calls = [lambda sgemm=_dispatch.kernels("bench", level).own_sgemm:
                     sgemm(a, b, c, ta, tb) for level in levels]
            calls.append(lambda: np.matmul(op_a, op_b, out=c))
            times = [[] for _ in calls]
            for _ in range(3):   # interleave them, three rounds
                for fn, ts in zip(calls, times):
                    ts.append(_median_s(fn))
            flops = 2.0 * m * n * k
            cells = "".join(f" {g:9.1f} ({100 * g / peak:3.0f}%)"
                            for g in (flops / statistics.median(ts) * 1e-9 for ts in times))
            print(f"{name:<24} {f'{m}x{n}x{k}':>16}{cells}")


if __name__ == "__main__":
    main()
