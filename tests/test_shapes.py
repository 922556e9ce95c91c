"""The geometry rules of `pyconv._shapes`, and one face for them.

`functional.conv2d` and the `Conv2D` layer must accept exactly the same
convolutions (the padding-mode limits once drifted apart between them).
"""
import itertools

import numpy as np
import pytest

from pyconv import functional as F
from pyconv import layers as L
from pyconv._shapes import INT32_MAX, PADDING_MODES, max_padding


def _functional_shape(size, kernel, stride, padding, dilation, mode):
    x = np.zeros((1, 2, size, size + 1), dtype=np.float32)
    w = np.zeros((2, 2, kernel, kernel), dtype=np.float32)
    try:
        return F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation,
                        padding_mode=mode).shape[1:]
    except ValueError:
        return None


def _layer_shape(size, kernel, stride, padding, dilation, mode):
    try:
        layer = L.Conv2D(2, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                         padding_mode=mode)
        return layer.compute_output_shape((2, size, size + 1))
    except ValueError:
        return None


# "same" only with stride 1: there the layer's (Keras's) split is PyTorch's,
# and with a larger stride the functional face rejects "same" by design.
_GRID = [case for case in itertools.product(
    [1, 2, 3, 5], [1, 2, 3], [1, 2], [0, 1, 2, 3, 4, "valid", "same"], [1, 2], PADDING_MODES)
    if not (case[3] == "same" and case[2] != 1)]


def test_layer_and_functional_accept_the_same_convolutions():
    disagree = [case for case in _GRID if _layer_shape(*case) != _functional_shape(*case)]
    assert not disagree, f"{len(disagree)} of {len(_GRID)} disagree, e.g. {disagree[:3]}"
    # The grid holds both accepted and rejected convolutions.
    assert {_layer_shape(*case) is None for case in _GRID} == {True, False}


@pytest.mark.parametrize("name, value", [("stride", INT32_MAX + 1), ("dilation", INT32_MAX + 1),
                                         ("padding", INT32_MAX + 1)])
def test_layer_and_functional_share_the_int32_bound(name, value):
    x = np.zeros((1, 1, 3, 3), dtype=np.float32)
    w = np.zeros((1, 1, 1, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=name):
        F.conv2d(x, w, **{name: value})
    layer_name = {"stride": "strides", "dilation": "dilation_rate"}.get(name, name)
    with pytest.raises(ValueError, match=layer_name):
        L.Conv2D(1, 1, **{layer_name: value})


def test_padding_limits_are_pytorchs():
    assert max_padding("reflect", 3) == 2
    assert max_padding("circular", 3) == 3
    assert max_padding("replicate", 3) is None
    assert max_padding("zeros", 3) is None
    # Replicate padding wider than the input, as PyTorch allows.
    x = np.ones((1, 1, 3, 3), dtype=np.float32)
    w = np.ones((1, 1, 3, 3), dtype=np.float32)
    assert F.conv2d(x, w, padding=3, padding_mode="replicate").shape == (1, 1, 7, 7)
    assert L.Conv2D(1, 3, padding=3, padding_mode="replicate").compute_output_shape(
        (1, 3, 3)) == (1, 7, 7)
