"""The checked Python face of pyconv's compiled kernels.

Mirrors ``torch.nn.functional``: arrays are NCHW numpy arrays, results agree
with PyTorch to float32 rounding. Every public function validates its input
completely and raises `TypeError`/`ValueError` naming the argument before any
compiled code runs. The private helpers (leading underscore) skip validation:
the layers and the training loop call them on arrays they produced
themselves, so checks are paid once. The convolution's unchecked helpers,
`_conv2d_forward` and `_conv2d_backward`, come from `_conv_plan`, which
chooses the algorithm.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _dispatch
from ._conv_plan import conv2d_backward as _conv2d_backward
from ._conv_plan import conv2d_forward as _conv2d_forward
from ._shapes import (
    PADDING_MODES,
    check_conv_geometry,
    check_int32,
    check_padding_limit,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    same_padding,
)
from ._threads import effective_n_threads
from ._typing import ArrayLike, FloatArray, IndexArray, IntPair, Padding, PaddingMode
from ._validation import (
    as_float_array,
    check_choice,
    check_int,
    check_pair,
    check_positive_float,
    common_float_dtype,
    fail,
)

__all__ = [
    "conv2d",
    "conv2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "interpolate",
    "interpolate_backward",
]

# --------------------------------------------------------------------------
# Argument checking shared by the conv functions
# --------------------------------------------------------------------------
def _as_batch(x, name):
    """Return ``(x4, unbatched)``: a 3-D CHW input becomes a batch of one."""
    if x.ndim == 3:
        return x[np.newaxis], True
    if x.ndim != 4:
        fail(ValueError, name, "a 4-D array [batch, channels, height, width] "
             "(or 3-D [channels, height, width])", f"shape {x.shape}")
    return x, False


def _conv_padding(padding, kernel, stride, dilation):
    """Normalise ``padding`` to ``((top, bottom), (left, right))``."""
    if isinstance(padding, str):
        check_choice(padding, "padding", ("valid", "same"))
        if padding == "valid":
            return (0, 0), (0, 0)
        if stride != (1, 1):
            fail(ValueError, "padding", "an int or a pair when stride > 1 "
                 "('same' needs stride 1, as in PyTorch)", f"'same' with stride {stride}")
        return same_padding(kernel[0], dilation[0]), same_padding(kernel[1], dilation[1])
    ph, pw = check_pair(padding, "padding", min_value=0)
    return (ph, ph), (pw, pw)


def _check_conv(x, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Validate conv arguments; return arrays and normalised parameters."""
    x = as_float_array(x, "x")
    weight = as_float_array(weight, "weight")
    x, unbatched = _as_batch(x, "x")
    if weight.ndim != 4:
        fail(ValueError, "weight", "a 4-D array [out_channels, in_channels/groups, kh, kw]",
             f"shape {weight.shape}")
    dtype = common_float_dtype(x, weight)
    if bias is not None:
        bias = as_float_array(bias, "bias")
        if bias.shape != (weight.shape[0],):
            fail(ValueError, "bias", f"a 1-D array of shape ({weight.shape[0]},) "
                 "(one value per output channel)", f"shape {bias.shape}")
        dtype = common_float_dtype(x, weight, bias)
        bias = bias.astype(dtype, copy=False)
    x = x.astype(dtype, copy=False)
    weight = weight.astype(dtype, copy=False)

    stride = check_int32(check_pair(stride, "stride"), "stride")
    dilation = check_int32(check_pair(dilation, "dilation"), "dilation")
    groups = check_int(groups, "groups", min_value=1)
    padding_mode = check_choice(padding_mode, "padding_mode", PADDING_MODES)
    if not isinstance(padding, str):
        check_int32(check_pair(padding, "padding", min_value=0), "padding")
    n, c_in, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if min(kh, kw, c_out, c_per_group) < 1:
        fail(ValueError, "weight", "a non-empty array (every dimension >= 1)",
             f"shape {weight.shape}")
    if c_in % groups or c_out % groups:
        fail(ValueError, "groups", f"a divisor of both in_channels ({c_in}) and "
             f"out_channels ({c_out})", groups)
    if c_per_group * groups != c_in:
        fail(ValueError, "weight", f"shape[1] == in_channels / groups = {c_in // groups} "
             f"(x has {c_in} channels on axis 1, groups={groups}; x is NCHW: batch, "
             f"channels, height, width)", f"shape {weight.shape}")
    pads = _conv_padding(padding, (kh, kw), stride, dilation)
    check_padding_limit(padding_mode, (h, w), pads)
    check_conv_geometry((h, w), (kh, kw), stride, pads, dilation, c_per_group,
                        "x", f"shape {x.shape}")
    return x, weight, bias, unbatched, stride, pads, dilation, groups, padding_mode


# --------------------------------------------------------------------------
# Public, checked functions
# --------------------------------------------------------------------------
def conv2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
           stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1, groups: int = 1,
           padding_mode: PaddingMode = "zeros") -> FloatArray:
    """2-D convolution (cross-correlation), exactly as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W) or (C_in, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    weight : array_like, shape (C_out, C_in // groups, kh, kw)
        The filter bank.
    bias : array_like, shape (C_out,), optional
        One offset per output channel.
    stride, dilation : int or (int, int), default 1
    padding : int, (int, int), "valid" or "same", default 0
        Zero-padding on each side; ``"same"`` (stride 1 only) keeps the
        size, putting the odd extra pixel after, as PyTorch does.
    groups : int, default 1
        Split channels into groups; ``groups == C_in`` is depthwise.
    padding_mode : {"zeros", "reflect", "replicate", "circular"}

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H + 2*pad - dilation*(kh-1) - 1) // stride + 1``.

    Examples
    --------
    The lecture's blur of a 5x5 image by a 3x3 kernel:

    >>> import numpy as np
    >>> from pyconv.functional import conv2d
    >>> image = np.array([[200, 200, 200, 200, 200],
    ...                   [200,  20,  20,  45, 200],
    ...                   [100,  20,  25,  65, 150],
    ...                   [ 80,  20,  40,  60,  80],
    ...                   [ 80,  30,  50,  80,  80]], dtype=np.float64)
    >>> g = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    >>> y = conv2d(image[None, None], g[None, None])
    >>> y.shape
    (1, 1, 3, 3)
    >>> print(y[0, 0, 0, 0], y[0, 0, 0, 1], y[0, 0, 1, 0])
    92.8125 71.5625 46.875
    """
    x, weight, bias, unbatched, stride, pads, dilation, groups, padding_mode = _check_conv(
        x, weight, bias, stride, padding, dilation, groups, padding_mode)
    y = _conv2d_forward(x, weight, bias, stride, pads, dilation, groups, padding_mode)
    return y[0] if unbatched else y


def conv2d_backward(grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike,
                    stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
                    groups: int = 1, padding_mode: PaddingMode = "zeros", *,
                    compute_grad_bias: bool = True
                    ) -> Tuple[FloatArray, FloatArray, Optional[FloatArray]]:
    """Gradients of `conv2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (N, C_out, H_out, W_out)
        Gradient of the loss with respect to ``conv2d(x, weight, ...)``.
    x, weight, stride, padding, dilation, groups, padding_mode
        As given to `conv2d`.
    compute_grad_bias : bool, default True
        When False, ``grad_bias`` is returned as None.

    Returns
    -------
    grad_x : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray of shape (C_out,) or None

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import conv2d_backward
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> w = np.ones((1, 1, 3, 3))
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gb
    array([4.])
    >>> gw[0, 0]
    array([[10., 14., 18.],
           [26., 30., 34.],
           [42., 46., 50.]])
    """
    x, weight, _, unbatched, stride, pads, dilation, groups, padding_mode = _check_conv(
        x, weight, None, stride, padding, dilation, groups, padding_mode)
    n, _, h, w = x.shape
    (top, bottom), (left, right) = pads
    ho = conv_output_size(h, weight.shape[2], stride[0], top, bottom, dilation[0])
    wo = conv_output_size(w, weight.shape[3], stride[1], left, right, dilation[1])
    expected = (n, weight.shape[0], ho, wo)
    grad_output = _check_grad_output(grad_output, x, unbatched, expected, "conv2d")
    grad_x, grad_weight, grad_bias = _conv2d_backward(
        grad_output, x, weight, stride, pads, dilation, groups, padding_mode,
        need_input_grad=True, need_bias_grad=bool(compute_grad_bias))
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


# --------------------------------------------------------------------------
# Pooling: private helpers, no validation
# --------------------------------------------------------------------------
def _pool_output_shape(input_shape, kernel, stride, padding, dilation, ceil_mode):
    """``(N, C, H_out, W_out)`` of a pooling of ``input_shape`` (N, C, H, W)."""
    n, c, h, w = input_shape
    h_out = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    w_out = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    return (n, c, h_out, w_out)


def _pool_work(big, small):
    """Work estimate of a pooling call: the elements it reads and writes,
    weighted like a few floating-point operations each."""
    return 8 * (big.size + small.size)


def _max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode, out=None):
    """Max pooling of a float NCHW array; returns ``(y, indices)``.

    ``indices`` (int64, shape of ``y``) holds the flat position ``h * W + w``
    of each maximum within its (n, c) plane, as PyTorch's ``return_indices``.
    ``out`` may be a preallocated ``(y, indices)`` pair to fill.
    """
    x = np.ascontiguousarray(x)
    shape = _pool_output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)
    if out is None:
        y = np.empty(shape, dtype=x.dtype)
        indices = np.empty(shape, dtype=np.int64)
    else:
        y, indices = out
    _dispatch.kernels("pool").max_pool2d_forward(
        x, y, indices, kernel[0], kernel[1], stride[0], stride[1],
        padding[0], padding[1], dilation[0], dilation[1], effective_n_threads(_pool_work(x, y)))
    return y, indices


def _max_pool2d_backward(grad_output, indices, input_shape, out=None):
    """Gradient of max pooling: ``grad_output`` added at ``indices`` into a
    zero array of ``input_shape`` (N, C, H, W), in ``grad_output``'s dtype
    (written into ``out`` when given)."""
    grad_output = np.ascontiguousarray(grad_output)
    indices = np.ascontiguousarray(indices, dtype=np.int64)
    # The kernel zeroes grad_x itself.
    grad_x = np.empty(tuple(input_shape), dtype=grad_output.dtype) if out is None else out
    _dispatch.kernels("pool").max_pool2d_backward(
        grad_output, indices, grad_x, effective_n_threads(_pool_work(grad_x, grad_output)))
    return grad_x


def _avg_pool2d_forward(x, kernel, stride, padding, ceil_mode, count_include_pad,
                        divisor_override):
    """Average pooling of a float NCHW array (``divisor_override`` None or int)."""
    x = np.ascontiguousarray(x)
    shape = _pool_output_shape(x.shape, kernel, stride, padding, (1, 1), ceil_mode)
    y = np.empty(shape, dtype=x.dtype)
    _dispatch.kernels("pool").avg_pool2d_forward(
        x, y, kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1],
        bool(count_include_pad), divisor_override or 0, effective_n_threads(_pool_work(x, y)))
    return y


def _avg_pool2d_backward(grad_output, input_shape, kernel, stride, padding, ceil_mode,
                         count_include_pad, divisor_override):
    """Gradient of average pooling for an input of ``input_shape`` (N, C, H, W).

    ``ceil_mode`` is implied by the shape of ``grad_output``; it is taken for
    symmetry with `_avg_pool2d_forward`.
    """
    del ceil_mode  # the output size is read from grad_output's shape
    grad_output = np.ascontiguousarray(grad_output)
    # The kernel zeroes grad_x itself.
    grad_x = np.empty(tuple(input_shape), dtype=grad_output.dtype)
    _dispatch.kernels("pool").avg_pool2d_backward(
        grad_output, grad_x, kernel[0], kernel[1], stride[0], stride[1],
        padding[0], padding[1], bool(count_include_pad), divisor_override or 0,
        effective_n_threads(_pool_work(grad_x, grad_output)))
    return grad_x


# --------------------------------------------------------------------------
# Pooling: argument checking
# --------------------------------------------------------------------------
def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        fail(TypeError, name, "a bool", repr(value))
    return bool(value)


def _check_pool(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the arguments shared by the pooling functions.

    Returns ``(x4, unbatched, kernel, stride, padding, dilation, ceil_mode)``
    with ``x4`` a C-contiguous float NCHW array and int pairs.
    """
    x = as_float_array(x, "x")
    x4, unbatched = _as_batch(x, "x")
    if min(x4.shape[1:]) < 1:
        fail(ValueError, "x", "an array with non-zero channels, height and width",
             f"shape {x.shape}")
    kernel = check_pair(kernel_size, "kernel_size")
    stride = kernel if stride is None else check_pair(stride, "stride")
    padding = check_pair(padding, "padding", min_value=0)
    dilation = check_pair(dilation, "dilation")
    for name, pair in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        check_int32(pair, name)
    ceil_mode = _check_bool(ceil_mode, "ceil_mode")

    # PyTorch's rule: padding at most half the (effective) kernel size.
    if op == "max_pool2d":
        extent = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
        what = (f"at most half the effective kernel size ((kernel_size - 1) * dilation + 1)"
                f" // 2 = {(extent[0] // 2, extent[1] // 2)}")
        options = f"kernel_size={kernel} and dilation={dilation}"
    else:
        extent = kernel
        what = f"at most half the kernel size, kernel_size // 2 = {(extent[0] // 2, extent[1] // 2)}"
        options = f"kernel_size={kernel}"
    if padding[0] > extent[0] // 2 or padding[1] > extent[1] // 2:
        fail(ValueError, "padding", what, f"{padding} with {options}")

    out_shape = _pool_output_shape(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    if out_shape[2] < 1 or out_shape[3] < 1:
        dilation_text = f", dilation={dilation}" if op == "max_pool2d" else ""
        fail(ValueError, "x",
             f"large enough for at least one {op} output position with "
             f"kernel_size={kernel}, stride={stride}, padding={padding}{dilation_text}, "
             f"ceil_mode={ceil_mode} (output size would be {out_shape[2:]})",
             f"shape {x.shape}")
    return x4, unbatched, kernel, stride, padding, dilation, ceil_mode


def _check_avg_options(count_include_pad, divisor_override):
    count_include_pad = _check_bool(count_include_pad, "count_include_pad")
    if divisor_override is not None:
        divisor_override = check_int(divisor_override, "divisor_override", min_value=1)
        check_int32(divisor_override, "divisor_override")
    return count_include_pad, divisor_override


def _check_grad_output(grad_output, x4, unbatched, expected, op):
    """``grad_output`` as a C-contiguous NCHW array of ``x4``'s dtype with
    the shape ``expected`` of the forward output."""
    grad_output = as_float_array(grad_output, "grad_output", dtype=x4.dtype)
    if unbatched and grad_output.ndim == 3:
        grad_output = grad_output[np.newaxis]
    if grad_output.shape != expected:
        shown = expected[1:] if unbatched else expected
        fail(ValueError, "grad_output", f"the shape of {op}'s output {shown}",
             f"shape {grad_output.shape}")
    return grad_output


# --------------------------------------------------------------------------
# Pooling: public, checked functions
# --------------------------------------------------------------------------
def max_pool2d(x: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False
               ) -> Union[FloatArray, Tuple[FloatArray, IndexArray]]:
    """2-D max pooling, exactly as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit -inf padding on each side, at most half the effective
        window ``(kernel_size - 1) * dilation + 1``.
    dilation : int or (int, int), default 1
        Spacing between the elements of a window.
    ceil_mode : bool, default False
        Round the output size up instead of down; a window starting in the
        right or bottom padding is dropped (PyTorch's rule).
    return_indices : bool, default False
        Also return the position of each maximum.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``H_out = (H + 2*padding - dilation*(kernel_size-1) - 1) // stride + 1``
        (rounded up with ``ceil_mode``).
    indices : ndarray of int64, shape of ``y``
        Only with ``return_indices``: the flat index ``h * W + w`` of each
        maximum within its (n, c) plane. Among equal maxima the first in
        row-major window order wins; a NaN in a window is the maximum.

    Examples
    --------
    The lecture's 2x2 max pooling:

    >>> import numpy as np
    >>> from pyconv.functional import max_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d(x, 2)
    array([[[[9.]]]])
    >>> y, indices = max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2,
    ...                         return_indices=True)
    >>> y[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    >>> indices[0, 0]
    array([[ 5,  7],
           [13, 15]])
    """
    x4, unbatched, kernel, stride, padding, dilation, ceil_mode = _check_pool(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    return_indices = _check_bool(return_indices, "return_indices")
    y, indices = _max_pool2d_forward(x4, kernel, stride, padding, dilation, ceil_mode)
    if unbatched:
        y, indices = y[0], indices[0]
    return (y, indices) if return_indices else y


def max_pool2d_backward(grad_output: ArrayLike, x: ArrayLike, kernel_size: IntPair,
                        stride: Optional[IntPair] = None, padding: IntPair = 0,
                        dilation: IntPair = 1, ceil_mode: bool = False) -> FloatArray:
    """Gradient of `max_pool2d` with respect to its input.

    Each output gradient goes to the position of its window's maximum
    (recomputed from ``x``); positions that are the maximum of several
    windows receive the sum.

    Parameters
    ----------
    grad_output : array_like, shape of ``max_pool2d(x, ...)``
        Gradient of the loss with respect to the pooled output.
    x, kernel_size, stride, padding, dilation, ceil_mode
        As given to `max_pool2d`.

    Returns
    -------
    grad_x : ndarray, shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import max_pool2d_backward
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> max_pool2d_backward(np.array([[[[5.0]]]]), x, 2)
    array([[[[0., 0.],
             [0., 5.]]]])
    """
    x4, unbatched, kernel, stride, padding, dilation, ceil_mode = _check_pool(
        "max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    expected = _pool_output_shape(x4.shape, kernel, stride, padding, dilation, ceil_mode)
    grad_output = _check_grad_output(grad_output, x4, unbatched, expected, "max_pool2d")
    _, indices = _max_pool2d_forward(x4, kernel, stride, padding, dilation, ceil_mode)
    grad_x = _max_pool2d_backward(grad_output, indices, x4.shape)
    return grad_x[0] if unbatched else grad_x


def avg_pool2d(x: ArrayLike, kernel_size: IntPair, stride: Optional[IntPair] = None,
               padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None) -> FloatArray:
    """2-D average pooling, exactly as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
        Input images. float32 and float64 keep their dtype; other real
        dtypes (uint8, ints, float16) are computed in float32.
    kernel_size : int or (int, int)
        Window height and width.
    stride : int or (int, int), optional
        Step between windows; defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Implicit zero padding on each side, at most ``kernel_size // 2``.
    ceil_mode : bool, default False
        Round the output size up instead of down; a window starting in the
        right or bottom padding is dropped (PyTorch's rule).
    count_include_pad : bool, default True
        Divide by the window size including padding (but not the part of a
        ``ceil_mode`` window beyond the padding); if False, by the number
        of input elements in the window.
    divisor_override : int, optional
        Divide every window sum by this positive int instead.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import avg_pool2d
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> avg_pool2d(x, 2)
    array([[[[4.]]]])
    >>> avg_pool2d(x, 2, divisor_override=2)
    array([[[[8.]]]])
    """
    x4, unbatched, kernel, stride, padding, _, ceil_mode = _check_pool(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad, divisor_override = _check_avg_options(count_include_pad,
                                                             divisor_override)
    y = _avg_pool2d_forward(x4, kernel, stride, padding, ceil_mode, count_include_pad,
                            divisor_override)
    return y[0] if unbatched else y


def avg_pool2d_backward(grad_output: ArrayLike, x: ArrayLike, kernel_size: IntPair,
                        stride: Optional[IntPair] = None, padding: IntPair = 0,
                        ceil_mode: bool = False, count_include_pad: bool = True,
                        divisor_override: Optional[int] = None) -> FloatArray:
    """Gradient of `avg_pool2d` with respect to its input.

    Each output gradient, divided by its window's divisor, is added to every
    input element of the window.

    Parameters
    ----------
    grad_output : array_like, shape of ``avg_pool2d(x, ...)``
        Gradient of the loss with respect to the pooled output.
    x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        As given to `avg_pool2d` (only the shape and dtype of ``x`` matter).

    Returns
    -------
    grad_x : ndarray, shape of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import avg_pool2d_backward
    >>> x = np.array([[[[1.0, 4.0], [2.0, 9.0]]]])
    >>> avg_pool2d_backward(np.array([[[[8.0]]]]), x, 2)
    array([[[[2., 2.],
             [2., 2.]]]])
    """
    x4, unbatched, kernel, stride, padding, _, ceil_mode = _check_pool(
        "avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    count_include_pad, divisor_override = _check_avg_options(count_include_pad,
                                                             divisor_override)
    expected = _pool_output_shape(x4.shape, kernel, stride, padding, (1, 1), ceil_mode)
    grad_output = _check_grad_output(grad_output, x4, unbatched, expected, "avg_pool2d")
    grad_x = _avg_pool2d_backward(grad_output, x4.shape, kernel, stride, padding, ceil_mode,
                                  count_include_pad, divisor_override)
    return grad_x[0] if unbatched else grad_x


# --------------------------------------------------------------------------
# Transposed convolution and resampling: public, checked functions
# (the unchecked helpers are in `pyconv._resample`)
# --------------------------------------------------------------------------
def _check_conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate `conv_transpose2d`'s arguments; return arrays and int pairs."""
    x = as_float_array(x, "x")
    weight = as_float_array(weight, "weight")
    x, unbatched = _as_batch(x, "x")
    if weight.ndim != 4:
        fail(ValueError, "weight", "a 4-D array [in_channels, out_channels/groups, kh, kw]",
             f"shape {weight.shape}")
    arrays = [x, weight]
    if bias is not None:
        bias = as_float_array(bias, "bias")
        arrays.append(bias)
    dtype = common_float_dtype(*arrays)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    stride = check_int32(check_pair(stride, "stride"), "stride")
    dilation = check_int32(check_pair(dilation, "dilation"), "dilation")
    padding = check_int32(check_pair(padding, "padding", min_value=0), "padding")
    output_padding = check_pair(output_padding, "output_padding", min_value=0)
    groups = check_int(groups, "groups", min_value=1)
    c_in, c_out_g, kh, kw = weight.shape
    if min(weight.shape) < 1:
        fail(ValueError, "weight", "a non-empty array (every dimension >= 1)",
             f"shape {weight.shape}")
    if x.shape[1] != c_in:
        fail(ValueError, "weight", f"shape[0] == in_channels of x ({x.shape[1]})",
             f"shape {weight.shape}")
    if c_in % groups:
        fail(ValueError, "groups", f"a divisor of in_channels ({c_in})", groups)
    if bias is not None:
        if bias.shape != (c_out_g * groups,):
            fail(ValueError, "bias", f"a 1-D array of shape ({c_out_g * groups},) "
                 "(one value per output channel)", f"shape {bias.shape}")
        bias = bias.astype(dtype, copy=False)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            fail(ValueError, "output_padding", f"smaller than stride {stride} or dilation "
                 f"{dilation} along each axis", output_padding)
    out_hw = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d
                   in zip(x.shape[2:], (kh, kw), stride, padding, output_padding, dilation))
    if min(out_hw) < 1:
        fail(ValueError, "x", f"large enough for a positive output size (would be {out_hw} "
             f"with kernel {kh}x{kw}, stride {stride}, padding {padding}, dilation "
             f"{dilation})", f"shape {x.shape}")
    return x, weight, bias, unbatched, stride, padding, output_padding, groups, dilation


def conv_transpose2d(x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> FloatArray:
    """2-D transposed convolution, exactly as ``torch.nn.functional.conv_transpose2d``.

    The gradient of `conv2d` with respect to its input, as a layer: each
    input pixel scatters a weighted copy of the kernel into the output.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W) or (C_in, H, W)
    weight : array_like, shape (C_in, C_out // groups, kh, kw)
        Note the order: input channels first (PyTorch's layout).
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or (int, int), default 1, 0, 1
        As in PyTorch, ``padding`` is that of the convolution this operation
        transposes: it trims ``padding`` rows/columns from each side.
    output_padding : int or (int, int), default 0
        Extra rows/columns added to one side of the output; smaller than
        ``stride`` or ``dilation``.
    groups : int, default 1

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H - 1)*stride - 2*padding + dilation*(kh - 1) + output_padding + 1``.

    Examples
    --------
    A stride-2 transposed convolution doubles the size:

    >>> import numpy as np
    >>> from pyconv.functional import conv_transpose2d
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> conv_transpose2d(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    """
    x, weight, bias, unbatched, stride, padding, output_padding, groups, dilation = \
        _check_conv_transpose(x, weight, bias, stride, padding, output_padding, groups,
                              dilation)
    y = _resample._conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding,
                                            groups, dilation)
    return y[0] if unbatched else y


def conv_transpose2d_backward(grad_output: ArrayLike, x: ArrayLike, weight: ArrayLike,
                              stride: IntPair = 1, padding: IntPair = 0,
                              output_padding: IntPair = 0, groups: int = 1,
                              dilation: IntPair = 1, *, compute_grad_bias: bool = True
                              ) -> Tuple[FloatArray, FloatArray, Optional[FloatArray]]:
    """Gradients of `conv_transpose2d` with respect to its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (N, C_out, H_out, W_out)
        Gradient of the loss with respect to ``conv_transpose2d(x, weight, ...)``.
    x, weight, stride, padding, output_padding, groups, dilation
        As given to `conv_transpose2d`.
    compute_grad_bias : bool, default True
        When False, ``grad_bias`` is returned as None.

    Returns
    -------
    grad_x : ndarray, shape of ``x``
    grad_weight : ndarray, shape of ``weight``
    grad_bias : ndarray of shape (C_out,), or None when ``compute_grad_bias`` is False

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import conv_transpose2d_backward
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> gx, gw, gb = conv_transpose2d_backward(np.ones((1, 1, 4, 4)), x,
    ...                                        np.ones((1, 1, 2, 2)), stride=2)
    >>> gx[0, 0], gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([[10., 10.],
           [10., 10.]]), array([16.]))
    """
    x, weight, _, unbatched, stride, padding, output_padding, groups, dilation = \
        _check_conv_transpose(x, weight, None, stride, padding, output_padding, groups,
                              dilation)
    out_hw = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d
                   in zip(x.shape[2:], weight.shape[2:], stride, padding, output_padding,
                          dilation))
    expected = (x.shape[0], weight.shape[1] * groups) + out_hw
    grad_output = _check_grad_output(grad_output, x, unbatched, expected, "conv_transpose2d")
    grad_x, grad_weight, grad_bias = _resample._conv_transpose2d_backward(
        grad_output, x, weight, stride, padding, groups, dilation,
        need_bias_grad=bool(compute_grad_bias))
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


INTERPOLATE_MODES = ("nearest", "bilinear")


def _check_interpolate(input_hw, size, scale_factor, mode, align_corners):
    """Validate `interpolate`'s options; return ``(out_hw, scales, mode, align_corners)``.

    ``scales`` is None when ``size`` was given, else a pair of floats.
    """
    mode = check_choice(mode, "mode", INTERPOLATE_MODES)
    if align_corners is not None:
        align_corners = _check_bool(align_corners, "align_corners")
        if mode == "nearest":
            fail(ValueError, "align_corners", "None with mode='nearest' (it only applies "
                 "to 'bilinear', as in PyTorch)", align_corners)
    align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        fail(ValueError, "size, scale_factor", "exactly one of them given",
             (size, scale_factor))
    if size is not None:
        out_hw = check_int32(check_pair(size, "size"), "size")
        return out_hw, None, mode, align_corners
    pair = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(pair) != 2:
        fail(ValueError, "scale_factor", "a positive number or a pair of them", scale_factor)
    scales = tuple(check_positive_float(s, "scale_factor") for s in pair)
    out_hw = tuple(_resample.resize_output_size(n, s) for n, s in zip(input_hw, scales))
    if min(out_hw) < 1:
        fail(ValueError, "scale_factor", f"large enough for an output of at least 1x1 from "
             f"{tuple(input_hw)} (would be {out_hw})", scale_factor)
    return out_hw, scales, mode, align_corners


def interpolate(x: ArrayLike, size: Optional[IntPair] = None,
                scale_factor: Union[float, Sequence[float], None] = None, mode: str = "nearest",
                align_corners: Optional[bool] = None) -> FloatArray:
    """Resize images, exactly as ``torch.nn.functional.interpolate`` (2-D modes).

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    size : int or (int, int), optional
        Output height and width. Give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or (float, float), optional
        Output size ``floor(H * scale)``; PyTorch's rule for where output
        pixels sample the input (``1 / scale_factor``, not ``H / H_out``).
    mode : {"nearest", "bilinear"}, default "nearest"
    align_corners : bool, optional
        ``"bilinear"`` only: map the corner pixels' centres onto each other
        (default False, as PyTorch).

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.functional import interpolate
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> interpolate(x, scale_factor=2)[0, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    >>> interpolate(x, size=3, mode="bilinear", align_corners=True)[0, 0]
    array([[1. , 1.5, 2. ],
           [2. , 2.5, 3. ],
           [3. , 3.5, 4. ]])
    """
    x = as_float_array(x, "x")
    x4, unbatched = _as_batch(x, "x")
    if min(x4.shape[1:]) < 1:
        fail(ValueError, "x", "an array with non-zero channels, height and width",
             f"shape {x.shape}")
    out_hw, scales, mode, align_corners = _check_interpolate(x4.shape[2:], size, scale_factor,
                                                             mode, align_corners)
    y = _resample._interpolate_forward(x4, out_hw, scales, mode, align_corners)
    return y[0] if unbatched else y


def interpolate_backward(grad_output: ArrayLike, input_shape: Sequence[int],
                         size: Optional[IntPair] = None,
                         scale_factor: Union[float, Sequence[float], None] = None,
                         mode: str = "nearest", align_corners: Optional[bool] = None
                         ) -> FloatArray:
    """Gradient of `interpolate` with respect to its input.

    Parameters
    ----------
    grad_output : array_like, shape of `interpolate`'s output
    input_shape : tuple of int
        Shape of `interpolate`'s input, ``(N, C, H, W)`` or ``(C, H, W)``.
    size, scale_factor, mode, align_corners
        As given to `interpolate`.

    Returns
    -------
    grad_x : ndarray of shape ``input_shape``

    Examples
    --------
    Nearest upsampling by 2 sums each 2x2 block of the gradient:

    >>> import numpy as np
    >>> from pyconv.functional import interpolate_backward
    >>> interpolate_backward(np.ones((1, 1, 4, 4)), (1, 1, 2, 2), scale_factor=2)[0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) not in (3, 4) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
            for v in input_shape):
        fail(ValueError, "input_shape", "a tuple of 4 (N, C, H, W) or 3 (C, H, W) positive "
             "ints", repr(input_shape))
    input_shape = tuple(int(v) for v in input_shape)
    unbatched = len(input_shape) == 3
    shape4 = (1,) + input_shape if unbatched else input_shape
    out_hw, scales, mode, align_corners = _check_interpolate(shape4[2:], size, scale_factor,
                                                             mode, align_corners)
    grad_output = as_float_array(grad_output, "grad_output")
    probe = np.empty((0,), dtype=grad_output.dtype)
    grad_output = _check_grad_output(grad_output, probe, unbatched, shape4[:2] + out_hw,
                                     "interpolate")
    grad_x = _resample._interpolate_backward(grad_output, shape4, scales, mode, align_corners)
    return grad_x[0] if unbatched else grad_x


from . import _resample  # noqa: E402  (its helpers use this module's private ones)
