"""`conv_transpose2d` and `interpolate`: PyTorch parity over a grid, finite
differences in float64, and bad input naming the argument."""
import numpy as np
import pytest

import pyconv.functional as F
from _torch_parity import assert_matches_torch, torch_conv_transpose2d, torch_interpolate

# (stride, padding, output_padding, dilation, groups, kernel)
TRANSPOSE_GRID = [
    (1, 0, 0, 1, 1, (3, 3)),
    (2, 0, 0, 1, 1, (3, 3)),
    (2, 1, 1, 1, 1, (3, 3)),
    (2, 1, 1, 1, 2, (2, 3)),
    ((2, 3), (1, 0), (1, 2), 1, 1, (3, 2)),
    (1, 1, 0, 2, 1, (3, 3)),
    (1, 2, 1, 2, 1, (3, 2)),            # output_padding < dilation with stride 1
    (2, 1, 2, 3, 1, (2, 2)),            # output_padding >= stride, < dilation
    (3, 2, 0, (1, 2), 4, (3, 3)),       # depthwise-like
    (1, 0, 0, 1, 4, (1, 1)),
    (2, 0, 1, 1, 1, (1, 1)),
    (1, 3, 0, 1, 1, (3, 3)),            # padding beyond the flipped kernel's reach
]
GRID_IDS = ["-".join(str(v).replace(" ", "") for v in case) for case in TRANSPOSE_GRID]


def _transpose_case(rng, case, dtype, batch=2):
    stride, padding, output_padding, dilation, groups, kernel = case
    c_in, c_out = 4, 8 if groups != 4 else 4
    x = rng.standard_normal((batch, c_in, 5, 6)).astype(dtype)
    weight = rng.standard_normal((c_in, c_out // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(c_out).astype(dtype)
    options = dict(stride=stride, padding=padding, output_padding=output_padding,
                   groups=groups, dilation=dilation)
    return x, weight, bias, options


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", TRANSPOSE_GRID, ids=GRID_IDS)
def test_conv_transpose2d_matches_torch(case, dtype, rng):
    x, weight, bias, options = _transpose_case(rng, case, dtype)
    y = F.conv_transpose2d(x, weight, bias, **options)
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    ty, tgx, tgw, tgb = torch_conv_transpose2d(x, weight, bias, grad_output, **options)
    gx, gw, gb = F.conv_transpose2d_backward(grad_output, x, weight, **options)
    assert y.dtype == gx.dtype == gw.dtype == gb.dtype == dtype
    assert_matches_torch("conv_transpose2d", y, ty)
    assert_matches_torch("conv_transpose2d grad_x", gx, tgx)
    assert_matches_torch("conv_transpose2d grad_weight", gw, tgw)
    assert_matches_torch("conv_transpose2d grad_bias", gb, tgb)


def _numerical_gradient(loss, array, eps=1e-4):
    grad = np.zeros_like(array)
    flat, grad_flat = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        grad_flat[i] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("case", TRANSPOSE_GRID[1:9:2], ids=GRID_IDS[1:9:2])
def test_conv_transpose2d_backward_finite_differences(case, rng, single_thread):
    x, weight, bias, options = _transpose_case(rng, case, np.float64, batch=1)
    projection = rng.standard_normal(F.conv_transpose2d(x, weight, bias, **options).shape)

    def loss():
        return float(np.sum(F.conv_transpose2d(x, weight, bias, **options) * projection))

    gx, gw, gb = F.conv_transpose2d_backward(projection, x, weight, **options)
    for analytic, array in ((gx, x), (gw, weight), (gb, bias)):
        np.testing.assert_allclose(analytic, _numerical_gradient(loss, array), rtol=1e-7,
                                   atol=1e-8)


def test_conv_transpose2d_unbatched_and_without_bias(rng):
    x = rng.standard_normal((3, 4, 4))
    weight = rng.standard_normal((3, 2, 3, 3))
    y = F.conv_transpose2d(x, weight, stride=2)
    assert y.shape == (2, 9, 9)
    np.testing.assert_array_equal(y, F.conv_transpose2d(x[None], weight, stride=2)[0])
    gx, gw, gb = F.conv_transpose2d_backward(np.ones_like(y), x, weight, stride=2,
                                             compute_grad_bias=False)
    assert gx.shape == x.shape and gw.shape == weight.shape and gb is None


def test_conv_transpose2d_is_the_input_gradient_of_conv2d(rng):
    x = rng.standard_normal((2, 3, 9, 8))
    weight = rng.standard_normal((5, 3, 3, 3))
    grad = rng.standard_normal(F.conv2d(x, weight, stride=2, padding=1).shape)
    grad_x, _, _ = F.conv2d_backward(grad, x, weight, stride=2, padding=1)
    y = F.conv_transpose2d(grad, weight, stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(y, grad_x, rtol=1e-12, atol=1e-12)


INTERPOLATE_GRID = [
    dict(scale_factor=2, mode="nearest"),
    dict(scale_factor=(1.5, 3), mode="nearest"),
    dict(scale_factor=0.5, mode="nearest"),
    dict(size=(7, 3), mode="nearest"),
    dict(size=5, mode="nearest"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=(0.6, 2.5), mode="bilinear"),
    dict(size=(7, 3), mode="bilinear"),
    dict(size=(7, 3), mode="bilinear", align_corners=True),
    dict(scale_factor=3, mode="bilinear", align_corners=True),
    dict(size=(1, 9), mode="bilinear", align_corners=True),
    dict(size=(2, 2), mode="bilinear", align_corners=False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", INTERPOLATE_GRID,
                         ids=[str(sorted(o.items())).replace(" ", "") for o in INTERPOLATE_GRID])
def test_interpolate_matches_torch(options, dtype, rng):
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    y = F.interpolate(x, **options)
    grad_output = rng.standard_normal(y.shape).astype(dtype)
    ty, tgx = torch_interpolate(x, grad_output, **options)
    gx = F.interpolate_backward(grad_output, x.shape, **options)
    assert y.dtype == gx.dtype == dtype
    assert_matches_torch("interpolate", y, ty)
    assert_matches_torch("interpolate grad_x", gx, tgx)


@pytest.mark.parametrize("options", INTERPOLATE_GRID[1::3])
def test_interpolate_backward_finite_differences(options, rng):
    x = rng.standard_normal((1, 2, 4, 5))
    projection = rng.standard_normal(F.interpolate(x, **options).shape)

    def loss():
        return float(np.sum(F.interpolate(x, **options) * projection))

    grad = F.interpolate_backward(projection, x.shape, **options)
    np.testing.assert_allclose(grad, _numerical_gradient(loss, x), rtol=1e-7, atol=1e-8)


