"""Keras 3 parity: the one place the tests call Keras (torch backend, channels first).

`keras_module()` skips the test where Keras (or its torch backend) is not
installed; Keras is only a test dependency.
"""
import os

import numpy as np
import pytest

from pyconv import layers as _layers


def keras_module():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras parity runs on Keras's torch backend")
    keras.config.set_image_data_format("channels_first")
    return keras


def keras_output(layer, x, weights=None, training=False):
    """Output of the Keras ``layer`` on numpy ``x`` after setting ``weights``."""
    keras = keras_module()
    layer.build((None,) + tuple(x.shape[1:]))
    if weights is not None:
        layer.set_weights([np.asarray(w) for w in weights])
    return keras.ops.convert_to_numpy(layer(x, training=training))


def to_keras_layout(layer):
    """``layer.get_weights()`` in Keras's layout (kernels HWIO, depthwise HW C M)."""
    weights = layer.get_weights()
    if isinstance(layer, _layers.Conv2DTranspose):
        weights[0] = weights[0].transpose(2, 3, 1, 0)
    elif isinstance(layer, (_layers.DepthwiseConv2D, _layers.SeparableConv2D)):
        c_in = layer.input_shape[0]
        kh, kw = weights[0].shape[2:]
        weights[0] = weights[0].reshape(c_in, -1, kh, kw).transpose(2, 3, 0, 1)
        if isinstance(layer, _layers.SeparableConv2D):
            weights[1] = weights[1].transpose(2, 3, 1, 0)
    elif isinstance(layer, _layers.Conv2D):
        weights[0] = weights[0].transpose(2, 3, 1, 0)
    return weights
