"""Unchecked helpers behind `functional.conv_transpose2d` and `functional.interpolate`.

The transposed convolution is the convolution's input gradient, so it runs
on the convolution's fast kernels:

* forward: the input gradient of a convolution whose weight is the
  transposed convolution's weight (``[C_in, C_out // groups, kh, kw]`` is
  exactly a convolution weight from ``C_out`` to ``C_in`` channels), by
  `_conv_plan.conv2d_backward_input` (the algorithm `_conv_plan.select`
  picks for that gradient); at stride 1, the forward convolution with the
  flipped weights (`select`'s forward rules, direct kernels included);
* input gradient: that convolution's forward pass;
* weight gradient: that convolution's weight gradient, with the output
  gradient in the role of the input and ``x`` in the role of the output
  gradient.

Resampling (``nearest``, ``bilinear``) is separable: along each axis the
output is a sparse linear map of the input, written as a small dense matrix
``A`` (``out x in``), so ``y = A_h @ x @ A_w.T`` and its gradient is
``A_h.T @ g @ A_w`` -- two BLAS products per call.
"""
import math

import numpy as np

from . import _dispatch
from . import _conv_plan
from ._shapes import conv_output_size, conv_transpose_output_size
from ._threads import effective_n_threads

__all__ = []


# --------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------
def _covering_rows(x, out_hw, kernel, stride, padding, dilation):
    """``x`` zero-extended to the size a convolution of the transposed output
    produces: the output gradient that convolution's weight gradient needs.
    Larger than ``x`` only when ``output_padding >= stride`` (PyTorch allows
    it when ``output_padding < dilation``); the extra rows are zeros."""
    h, w = (conv_output_size(size, k, s, p, p, d)
            for size, k, s, p, d in zip(out_hw, kernel, stride, padding, dilation))
    if (h, w) == x.shape[2:]:
        return x
    wide = np.zeros(x.shape[:2] + (h, w), dtype=x.dtype)
    wide[:, :, :x.shape[2], :x.shape[3]] = x
    return wide


def _conv_transpose2d_forward(x, weight, bias, stride, padding, output_padding, groups,
                              dilation):
    """Unchecked ``conv_transpose2d`` on C-contiguous arrays of one dtype.

    ``stride``, ``padding``, ``output_padding`` and ``dilation`` are pairs.
    """
    n, _, h, w = x.shape
    _, c_out_g, kh, kw = weight.shape
    out_hw = tuple(conv_transpose_output_size(size, k, s, p, op, d) for size, k, s, p, op, d
                   in zip((h, w), (kh, kw), stride, padding, output_padding, dilation))
    out = np.empty((n, c_out_g * groups) + out_hw, dtype=x.dtype)
    if n == 0:
        return out
    (ph, pw), (dh, dw) = padding, dilation
    flip_top, flip_left = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    if tuple(stride) == (1, 1) and min(flip_top, flip_left) >= 0:
        # stride 1: a plain convolution with the rotated, channel-swapped
        # weights (every fast path of conv2d applies)
        pads = ((flip_top, flip_top + output_padding[0]),
                (flip_left, flip_left + output_padding[1]))
        return _conv_plan.conv2d_forward(x, _conv_plan._flipped_weight(weight, groups), bias,
                                           (1, 1), pads, dilation, groups, "zeros", out=out)
    # otherwise the input gradient of the convolution this one transposes,
    # by the algorithm conv2d's input gradient would take
    pads = ((ph, ph), (pw, pw))
    _conv_plan.conv2d_backward_input(_covering_rows(x, out_hw, (kh, kw), stride, padding,
                                                    dilation),
                                     weight, out.shape, stride, pads, dilation, groups, out=out)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def _conv_transpose2d_backward(grad_output, x, weight, stride, padding, groups, dilation,
                               need_input_grad=True, need_bias_grad=True):
    """Unchecked gradients of `_conv_transpose2d_forward`: ``(grad_x, grad_weight, grad_bias)``."""
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    grad_x = None
    if need_input_grad:
        grad_x = _conv_plan.conv2d_forward(grad_output, weight, None, stride, pads, dilation,
                                             groups, "zeros")
        if grad_x.shape != x.shape:
            grad_x = np.ascontiguousarray(grad_x[:, :, :x.shape[2], :x.shape[3]])
    wide = _covering_rows(x, grad_output.shape[2:], weight.shape[2:], stride, padding, dilation)
    _, grad_weight, _ = _conv_plan.conv2d_backward(wide, grad_output, weight, stride, pads,
                                                     dilation, groups, "zeros",
                                                     need_input_grad=False,
                                                     need_bias_grad=False)
    grad_bias = None
    if need_bias_grad:
        grad_bias = grad_output.sum(axis=(0, 2, 3), dtype=np.float64).astype(x.dtype)
    return grad_x, grad_weight, grad_bias


# --------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------
def resize_output_size(size, scale_factor):
    """PyTorch's output size for an input extent and a scale factor."""
    return int(math.floor(size * scale_factor))


def _source_scale(in_size, out_size, scale_factor, align_corners):
    """PyTorch's ratio from output to input coordinates along one axis."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None:
        return 1.0 / scale_factor
    return in_size / out_size


def _axis_matrix(in_size, out_size, scale_factor, mode, align_corners, dtype):
    """The ``(out_size, in_size)`` matrix of one axis's resampling."""
    scale = _source_scale(in_size, out_size, scale_factor, align_corners)
    dst = np.arange(out_size, dtype=np.float64)
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    if mode == "nearest":
        src = np.minimum(np.floor(dst * scale).astype(np.intp), in_size - 1)
        matrix[rows, src] = 1
        return matrix
    src = dst * scale if align_corners else np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.intp), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix


def _resample_matrices(in_hw, out_hw, scale_factor, mode, align_corners, dtype):
    scales = (None, None) if scale_factor is None else scale_factor
    return tuple(_axis_matrix(i, o, s, mode, align_corners, dtype)
                 for i, o, s in zip(in_hw, out_hw, scales))


def _interpolate_forward(x, out_hw, scale_factor, mode, align_corners):
    """Unchecked ``interpolate`` of a C-contiguous NCHW array."""
    rows, cols = _resample_matrices(x.shape[2:], out_hw, scale_factor, mode, align_corners,
                                    x.dtype)
    return np.ascontiguousarray(np.matmul(np.matmul(rows, x), cols.T))


def _interpolate_backward(grad_output, input_shape, scale_factor, mode, align_corners):
    """Unchecked gradient of `_interpolate_forward` with respect to its input."""
    rows, cols = _resample_matrices(input_shape[2:], grad_output.shape[2:], scale_factor, mode,
                                    align_corners, grad_output.dtype)
    return np.ascontiguousarray(np.matmul(np.matmul(rows.T, grad_output), cols))


# --------------------------------------------------------------------------
# Affine resampling (RandomTranslation, RandomRotation)
# --------------------------------------------------------------------------
_FILL_MODES = {"reflect": 0, "wrap": 1, "constant": 2, "nearest": 3}   # resample.pxi's enum


def _affine_resample_forward(x, matrices, interpolation, fill_mode, fill_value):
    """Each image ``x[b]`` resampled through its affine map ``matrices[b]``."""
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    _dispatch.kernels("pool").affine_resample_forward(
        x, np.ascontiguousarray(matrices, dtype=np.float64), out, interpolation == "bilinear",
        _FILL_MODES[fill_mode], float(fill_value), effective_n_threads(8 * x.size))
    return out


def _affine_resample_backward(grad_output, matrices, interpolation, fill_mode):
    """The input gradient of `_affine_resample_forward`."""
    grad = np.ascontiguousarray(grad_output)
    grad_x = np.empty_like(grad)
    _dispatch.kernels("pool").affine_resample_backward(
        grad, np.ascontiguousarray(matrices, dtype=np.float64), grad_x,
        interpolation == "bilinear", _FILL_MODES[fill_mode], effective_n_threads(8 * grad.size))
    return grad_x
