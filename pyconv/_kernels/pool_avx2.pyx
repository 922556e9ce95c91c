# AVX2+FMA build of the pooling kernels (setup.py adds -mavx2 -mfma).
include "pool.pyx"
