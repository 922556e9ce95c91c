# Convolution kernels, one .pxi per algorithm, each with its forward,
# input-gradient and weight-gradient entry points side by side:
#   im2col_gemm.pxi  the general algorithm (conv2d_forward, ...)
#   winograd.pxi     F(2x2, 3x3) / F(4x4, 3x3) for 3x3 stride-1 layers
#   direct.pxi       register-blocked stride-1 float32, few output channels
#   depthwise.pxi    one input channel per group
#   phase.pxi        phase split / merge of dilated convolutions
# Helpers shared by them are in _common.pxd, the C functions they call are
# declared once in _externs.pxd. Which algorithm runs is decided in Python
# (pyconv._conv_plan); the ISA builds (conv_avx2.pyx, conv_avx512.pyx)
# include this file.
#
# Every kernel fills caller-allocated arrays with the GIL released. Shapes and
# hyper-parameters were checked in Python; nothing here raises or allocates.
# Padding is "zeros" with explicit top/left offsets; the bottom/right padding
# is implied by the output size, so asymmetric ("same") padding needs nothing
# special. Other padding modes are applied in Python.
#
# Determinism: each output element is written by exactly one thread. Weight
# and bias gradients are summed into one partial buffer per *chunk* of the
# batch -- the chunking depends on the batch size only, never on the thread
# count -- and the partials are reduced in chunk order (`reduce_partials`).
# Results are therefore bit-identical run to run and across thread counts.
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from ._common cimport *
from ._externs cimport *


def has_own_sgemm():
    """True when float32 products use pyconv's packed GEMM (_gemm.h: AVX2+FMA
    or AVX-512 build), False when they go to the library BLAS (baseline)."""
    return bool(PYCONV_HAVE_SGEMM)


def own_gemm_min_k():
    """The inner size from which float32 products run on the own GEMM (when
    `has_own_sgemm`); shorter ones go to BLAS."""
    return _OWN_GEMM_MIN_K


def reduce_partials(const floating[:, ::1] partial,   # IN  [n_chunks, L]
                    floating[::1] out,                # OUT [L]
                    int n_threads):
    """``out[i] = sum_c partial[c, i]``, always in chunk order."""
    cdef Py_ssize_t n_chunks = partial.shape[0], L = partial.shape[1]
    cdef Py_ssize_t block = 1024, n_blocks = (L + block - 1) // block
    cdef Py_ssize_t b, i, c, start, stop
    for b in prange(n_blocks, nogil=True, num_threads=n_threads, schedule="static"):
        start = b * block
        stop = _min(L, start + block)
        for i in range(start, stop):
            out[i] = partial[0, i]
        for c in range(1, n_chunks):
            for i in range(start, stop):
                out[i] += partial[c, i]


include "im2col_gemm.pxi"
include "winograd.pxi"
include "direct.pxi"
include "depthwise.pxi"
include "phase.pxi"
