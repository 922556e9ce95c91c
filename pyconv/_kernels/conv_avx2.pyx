# AVX2+FMA build of the convolution kernels (setup.py adds -mavx2 -mfma).
include "conv.pyx"
