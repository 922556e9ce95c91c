"""The lecture's worked numbers (seed/000_8e17e220b0305fd9.txt), as exact
assertions: every one must be reproducible with pyconv."""
import numpy as np
import pytest

from pyconv import _reference as ref
from pyconv import functional as F
from pyconv._shapes import conv_output_size

IMAGE = np.array([[200, 200, 200, 200, 200],
                  [200, 20, 20, 45, 200],
                  [100, 20, 25, 65, 150],
                  [80, 20, 40, 60, 80],
                  [80, 30, 50, 80, 80]])
BLUR = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gaussian_blur_of_the_5x5_image(dtype):
    y = F.conv2d(IMAGE[None, None].astype(dtype), BLUR[None, None].astype(dtype))
    assert y.shape == (1, 1, 3, 3)
    assert y.dtype == dtype
    # every value is a multiple of 1/16 of small integers: exact in float32 too
    assert y[0, 0, 0, 0] == 92.8125
    assert y[0, 0, 0, 1] == 71.5625
    assert y[0, 0, 1, 0] == 46.875


def test_gaussian_blur_from_uint8_image():
    y = F.conv2d(IMAGE[None, None].astype(np.uint8), BLUR[None, None])
    assert y[0, 0, 0, 0] == 92.8125
    assert y[0, 0, 0, 1] == 71.5625
    assert y[0, 0, 1, 0] == 46.875


def test_lecture_pseudocode_loop_matches():
    """The lecture's 'sweeping a filter' pseudocode, written out, agrees with
    conv2d and the loops reference on the whole 3x3 output."""
    k = 3
    delt = (k - 1) // 2
    expected = np.zeros((3, 3))
    for y in range(delt, 5 - delt):
        for x in range(delt, 5 - delt):
            region = IMAGE[y - delt:y + delt + 1, x - delt:x + delt + 1]
            expected[y - delt, x - delt] = np.sum(region * BLUR)
    np.testing.assert_array_equal(F.conv2d(IMAGE[None, None].astype(float), BLUR[None, None])[0, 0],
                                  expected)
    np.testing.assert_array_equal(ref.conv2d_loops(IMAGE[None, None], BLUR[None, None])[0, 0],
                                  expected)


RED = np.array([[0, 0, 0], [0, 1, 128], [0, 4, 100]])
GREEN = np.array([[0, 0, 0], [0, 0, 10], [0, 10, 255]])
FILTER_RED = np.array([[1, 2], [0, 0.5]])
FILTER_GREEN = np.array([[1, 1], [1, 1.5]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_channel_example(dtype):
    x = np.stack([RED, GREEN])[None].astype(dtype)                  # [1, 2, 3, 3]
    weight = np.stack([FILTER_RED, FILTER_GREEN])[None].astype(dtype)  # [1, 2, 2, 2]
    y = F.conv2d(x, weight)
    np.testing.assert_array_equal(y[0, 0], [[0.5, 79], [19, 709.5]])
    np.testing.assert_array_equal(ref.conv2d_loops(x, weight)[0, 0], [[0.5, 79], [19, 709.5]])


def test_two_channel_example_output_positions():
    x = np.stack([RED, GREEN])[None].astype(np.float64)
    weight = np.stack([FILTER_RED, FILTER_GREEN])[None]
    y = F.conv2d(x, weight)
    assert y[0, 0, 0, 0] == 0.5
    assert y[0, 0, 0, 1] == 79
    assert y[0, 0, 1, 0] == 19
    assert y[0, 0, 1, 1] == 709.5


def test_max_pooling_of_the_2x2_window():
    x = np.array([[[[1, 4], [2, 9]]]], dtype=np.float64)
    y, indices = F.max_pool2d(x, 2, stride=2, padding=0, return_indices=True)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == 9
    assert indices[0, 0, 0, 0] == 3
    assert F.avg_pool2d(x, 2)[0, 0, 0, 0] == 4.0


@pytest.mark.parametrize("size, kernel, padding, stride, dilation, expected", [
    (224, 3, 1, 2, 1, 112),
    (224, 3, 1, 1, 1, 224),    # (k-1)/2 padding keeps the size (the lecture's padding slide)
    (224, 7, 3, 2, 1, 112),
    (5, 3, 0, 1, 1, 3),        # the 5x5 blur example
    (3, 2, 0, 1, 1, 2),        # the two-channel example
    (224, 3, 0, 1, 1, 222),
    (32, 3, 2, 1, 2, 32),
    (7, 3, 0, 2, 1, 3),
])
def test_output_size_formula(size, kernel, padding, stride, dilation, expected):
    """H_out = floor((H + 2*pad - dilation*(k-1) - 1) / stride) + 1."""
    assert conv_output_size(size, kernel, stride, padding, padding, dilation) == expected
    x = np.zeros((1, 1, size, size), dtype=np.float32)
    weight = np.zeros((1, 1, kernel, kernel), dtype=np.float32)
    y = F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    assert y.shape == (1, 1, expected, expected)


def test_lecture_conv_layer_shapes():
    """Input [1, 3, 224, 224] with a [4, 3, 3, 3] filter bank, stride 1,
    padding 0 gives [1, 4, 222, 222]."""
    x = np.zeros((1, 3, 224, 224), dtype=np.float32)
    assert F.conv2d(x, np.zeros((4, 3, 3, 3), np.float32)).shape == (1, 4, 222, 222)
