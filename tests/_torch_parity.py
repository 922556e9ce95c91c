"""PyTorch parity: the one place the tests call torch.

Every function here starts with ``pytest.importorskip("torch")``, so a test
that uses it is skipped (not failed) where torch is not installed, and the
test modules importing this file still import without torch. torch is only a
test dependency: the package itself never imports it.

Each ``torch_*`` function runs the operation forward and backward through
autograd in the dtype of its inputs and returns numpy arrays.
"""
import warnings

import numpy as np
import pytest

from _support import TOLERANCES, max_relative_error

# (name, dtype) -> largest relative error seen; conftest prints the worst ones
# at the end of the session.
WORST_ERRORS = {}


def _torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # small problems; keep the shared cores calm
    return torch


def torch_conv2d(x, weight, bias, grad_output, stride=1, padding=0, dilation=1, groups=1,
                 padding_mode="zeros"):
    """``(y, grad_x, grad_weight, grad_bias)`` from ``torch.nn.Conv2d``.

    ``grad_output`` may be None to skip the backward pass. ``bias`` may be
    None (then ``grad_bias`` is None).
    """
    torch = _torch()
    c_out, c_in_g, kh, kw = weight.shape
    conv = torch.nn.Conv2d(
        c_in_g * groups, c_out, (kh, kw), stride=stride, padding=padding, dilation=dilation,
        groups=groups, bias=bias is not None, padding_mode=padding_mode,
        dtype=torch.float64 if weight.dtype == np.float64 else torch.float32)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(bias)))
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    with warnings.catch_warnings():
        # torch notes that padding="same" with even kernels makes a padded copy
        warnings.filterwarnings("ignore", message=".*padding='same'.*", category=UserWarning)
        yt = conv(xt)
    if grad_output is None:
        return yt.detach().numpy(), None, None, None
    yt.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
    grad_bias = conv.bias.grad.numpy() if bias is not None else None
    return yt.detach().numpy(), xt.grad.numpy(), conv.weight.grad.numpy(), grad_bias


def torch_max_pool2d(x, grad_output, kernel_size, stride=None, padding=0, dilation=1,
                     ceil_mode=False):
    """``(y, indices, grad_x)`` from ``torch.nn.functional.max_pool2d``."""
    torch = _torch()
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    yt, it = torch.nn.functional.max_pool2d(xt, kernel_size, stride, padding, dilation,
                                            ceil_mode, return_indices=True)
    grad_x = None
    if grad_output is not None:
        yt.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
        grad_x = xt.grad.numpy()
    return yt.detach().numpy(), it.numpy(), grad_x


def torch_avg_pool2d(x, grad_output, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
    """``(y, grad_x)`` from ``torch.nn.functional.avg_pool2d``."""
    torch = _torch()
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    yt = torch.nn.functional.avg_pool2d(xt, kernel_size, stride, padding, ceil_mode,
                                        count_include_pad, divisor_override)
    grad_x = None
    if grad_output is not None:
        yt.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
        grad_x = xt.grad.numpy()
    return yt.detach().numpy(), grad_x


def assert_matches_torch(name, actual, expected):
    """Print the largest relative error against torch and assert it is
    within rtol 1e-4 (float32) or 1e-10 (float64) of the largest value."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} vs torch {expected.shape}"
    err = max_relative_error(actual, expected)
    print(f"{name}: max relative error vs torch {err:.3g} ({actual.dtype})")
    key = (name, str(actual.dtype))
    WORST_ERRORS[key] = max(err, WORST_ERRORS.get(key, 0.0))
    rtol = TOLERANCES[np.dtype(actual.dtype)][0]
    assert err <= rtol, f"{name}: max relative error vs torch {err:.3g} > {rtol:g}"


def torch_conv_transpose2d(x, weight, bias, grad_output, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1):
    """``(y, grad_x, grad_weight, grad_bias)`` from ``torch.nn.functional.conv_transpose2d``."""
    torch = _torch()
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    wt = torch.from_numpy(np.ascontiguousarray(weight)).requires_grad_(True)
    bt = None if bias is None else torch.from_numpy(np.ascontiguousarray(bias)).requires_grad_(True)
    yt = torch.nn.functional.conv_transpose2d(xt, wt, bt, stride, padding, output_padding,
                                              groups, dilation)
    yt.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
    grad_bias = None if bt is None else bt.grad.numpy()
    return yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), grad_bias


def torch_interpolate(x, grad_output, **options):
    """``(y, grad_x)`` from ``torch.nn.functional.interpolate``."""
    torch = _torch()
    xt = torch.from_numpy(np.ascontiguousarray(x)).requires_grad_(True)
    yt = torch.nn.functional.interpolate(xt, **options)
    grad_x = None
    if grad_output is not None:
        yt.backward(torch.from_numpy(np.ascontiguousarray(grad_output)))
        grad_x = xt.grad.numpy()
    return yt.detach().numpy(), grad_x
