# AVX2+FMA build of the GEMM benchmark entry points (setup.py adds -mavx2 -mfma).
include "bench.pyx"
