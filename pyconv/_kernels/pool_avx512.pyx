# AVX-512 build of the pooling kernels (setup.py adds -mavx512f/bw/dq/vl
# -mavx2 -mfma).
include "pool.pyx"
