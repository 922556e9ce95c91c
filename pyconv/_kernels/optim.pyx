# Optimizer updates: one pass over a variable and its slots instead of one
# numpy call per operation (a dozen for Adam, each a pass over the array
# and a few microseconds of call overhead -- most of an update on the small
# layers of an estimator's CNN).
#
# Each kernel does exactly the operations of the numpy code in
# pyconv.optimizers, in the same order and the same precision, so results
# are bit-identical to it. This module is built for the baseline ISA only:
# no FMA instructions exist there, so the compiler cannot fuse a multiply
# and an add into one rounding. Shapes, dtypes and contiguity were checked
# in Python; nothing here raises or allocates.

from cython cimport floating
from libc.math cimport sqrt, sqrtf


def adam_update(floating[::1] var,             # IN/OUT the variable
                const floating[::1] grad,      # IN     its gradient
                floating[::1] m,               # IN/OUT first moment
                floating[::1] v,               # IN/OUT second moment
                floating one_minus_beta_1, floating one_minus_beta_2, floating epsilon,
                double step):
    """``m += (g - m) * (1 - beta_1)``; ``v += (g * g - v) * (1 - beta_2)``;
    ``var -= m / (sqrt(v) + epsilon) * step``, the last product in double
    (numpy's, whose ``step`` is a float64 scalar) and rounded once."""
    cdef Py_ssize_t i, n = var.shape[0]
    cdef floating g, s
    with nogil:
        for i in range(n):
            g = grad[i]
            s = (g - m[i]) * one_minus_beta_1
            m[i] = m[i] + s
            s = (g * g - v[i]) * one_minus_beta_2
            v[i] = v[i] + s
            if floating is float:
                s = sqrtf(v[i]) + epsilon
            else:
                s = sqrt(v[i]) + epsilon
            s = m[i] / s
            var[i] = var[i] - <floating> (s * step)
