# AVX-512 build of the GEMM benchmark entry points (setup.py adds -mavx512f/bw/dq/vl
# -mavx2 -mfma).
include "bench.pyx"
