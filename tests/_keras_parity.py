"""Keras 3 parity: the one place the tests call Keras (torch backend, channels first).

`keras_module()` skips the test where Keras (or its torch backend) is not
installed; Keras is only a test dependency.
"""
import os

import numpy as np
import pytest


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
