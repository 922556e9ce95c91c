"""The geometry rules of `pyconv._shapes`, and one face for them.

`functional.conv2d` and the `Conv2D` layer must accept exactly the same
convolutions (the padding-mode limits once drifted apart between them), and
the pooling layers the same poolings as `functional.max_pool2d` /
`avg_pool2d`: a grid, then properties over kernel, strides, padding,
dilation, padding mode and input size.
"""
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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


# ---------------------------------------------------------------------------
# Properties: the two faces accept exactly the same geometry (issue 13)
# ---------------------------------------------------------------------------

_PROPERTY = settings(max_examples=400, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def _int_or_pair(low, high):
    values = st.integers(low, high)
    return st.one_of(values, st.tuples(values, values))


def _pair(value):
    return value if isinstance(value, tuple) else (value, value)


def _outcome(call):
    """The output shape without the batch axis, or ``"ValueError"``. Any
    other exception propagates and fails the property."""
    try:
        return tuple(call())
    except ValueError:
        return "ValueError"


@_PROPERTY
@given(h=st.integers(1, 9), w=st.integers(1, 9), kernel=_int_or_pair(1, 4),
       stride=_int_or_pair(1, 3), dilation=_int_or_pair(1, 3),
       padding=st.one_of(_int_or_pair(0, 6), st.sampled_from(["same", "valid"])),
       mode=st.sampled_from(PADDING_MODES), channels=st.integers(1, 4), groups=st.integers(1, 2))
def test_property_conv2d_faces_accept_the_same_arguments(h, w, kernel, stride, dilation,
                                                         padding, mode, channels, groups):
    """`functional.conv2d` raises iff `Conv2D.compute_output_shape` raises
    iff calling the layer raises, with equal output shapes otherwise (groups
    and channel counts included).

    ``"same"`` only with stride 1: with a larger stride the layer follows
    Keras (output ``ceil(size / stride)``) and the functional face, like
    PyTorch, refuses it by design."""
    assume(not (padding == "same" and _pair(stride) != (1, 1)))
    kh, kw = _pair(kernel)
    filters = 2 * groups
    x = np.zeros((1, channels, h, w), dtype=np.float32)
    # the weight the layer would build (when the channels do not split into
    # the groups there is none: any weight is then refused)
    weight = np.zeros((filters, max(channels // groups, 1), kh, kw), dtype=np.float32)

    def layer():
        return L.Conv2D(filters, kernel, strides=stride, padding=padding,
                        dilation_rate=dilation, groups=groups, padding_mode=mode)

    functional = _outcome(lambda: F.conv2d(x, weight, stride=stride, padding=padding,
                                           dilation=dilation, groups=groups,
                                           padding_mode=mode).shape[1:])
    computed = _outcome(lambda: layer().compute_output_shape((channels, h, w)))
    called = _outcome(lambda: layer()(x).shape[1:])
    assert functional == computed == called, (functional, computed, called)


@_PROPERTY
@given(h=st.integers(1, 9), w=st.integers(1, 9), pool=_int_or_pair(1, 4),
       strides=st.one_of(st.none(), _int_or_pair(1, 4)), padding=st.sampled_from(["valid", "same"]),
       kind=st.sampled_from(["max", "avg"]))
def test_property_pool2d_faces_accept_the_same_arguments(h, w, pool, strides, padding, kind):
    """A pooling layer's ``compute_output_shape`` raises iff calling it
    raises, with equal shapes otherwise; with ``"valid"`` exactly when the
    functional pooling (padding 0) raises, with its output shape; with
    ``"same"`` never, with Keras's ``ceil(size / strides)``."""
    layer_cls = {"max": L.MaxPool2D, "avg": L.AvgPool2D}[kind]
    function = {"max": F.max_pool2d, "avg": F.avg_pool2d}[kind]
    x = np.zeros((1, 2, h, w), dtype=np.float32)

    def layer():
        return layer_cls(pool, strides=strides, padding=padding)

    computed = _outcome(lambda: layer().compute_output_shape((2, h, w)))
    called = _outcome(lambda: layer()(x).shape[1:])
    assert computed == called, (computed, called)
    if padding == "valid":
        functional = _outcome(lambda: function(x, pool, stride=strides).shape[1:])
        assert functional == computed, (functional, computed)
    else:
        sh, sw = _pair(pool if strides is None else strides)
        assert computed == (2, -(-h // sh), -(-w // sw)), computed


@_PROPERTY
@given(h=st.integers(1, 9), w=st.integers(1, 9), kernel=_int_or_pair(1, 4),
       stride=st.one_of(st.none(), _int_or_pair(1, 4)), padding=_int_or_pair(0, 3),
       ceil_mode=st.booleans())
def test_property_max_and_avg_pool2d_accept_the_same_geometry(h, w, kernel, stride, padding,
                                                              ceil_mode):
    """The two functional poolings share one geometry rule (padding at most
    half the window, an output of at least 1x1, PyTorch's ``ceil_mode``)."""
    x = np.zeros((1, 2, h, w), dtype=np.float32)
    kwargs = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode}
    assert (_outcome(lambda: F.max_pool2d(x, kernel, **kwargs).shape)
            == _outcome(lambda: F.avg_pool2d(x, kernel, **kwargs).shape))
