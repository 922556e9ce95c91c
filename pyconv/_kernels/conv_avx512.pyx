# AVX-512 build of the convolution kernels (setup.py adds -mavx512f/bw/dq/vl
# -mavx2 -mfma).
include "conv.pyx"
