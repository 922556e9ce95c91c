"""Keras-like layers over NCHW arrays.

Every layer follows the small contract of :class:`~pyconv.layers.Layer`
(``build``, ``forward``, ``backward``, ``compute_output_shape``,
``get_config``); see ``pyconv/layers/base.py``.

Examples
--------
>>> import numpy as np
>>> from pyconv import layers
>>> conv = layers.Conv2D(4, 3, padding="same", activation="relu")
>>> conv(np.zeros((2, 1, 8, 8))).shape
(2, 4, 8, 8)
"""
from .augmentation import RandomCrop, RandomFlip, RandomRotation, RandomTranslation
from .base import Layer, WeightSpec
from .conv_variants import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .convolutional import Conv2D, Convolution2D
from .core import (Activation, Dense, Dropout, Flatten, Input, InputLayer, ReLU, Reshape,
                   Softmax)
from .merging import Add, Average, Concatenate, Maximum, Multiply, Subtract
from .normalization import BatchNormalization, GroupNormalization, LayerNormalization
from .preprocessing import Rescaling, SpatialDropout2D
from .reshaping import Cropping2D, UpSampling2D, ZeroPadding2D
from .pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D, GlobalAvgPool2D,
                      GlobalMaxPool2D, GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)

__all__ = [
    "Layer", "WeightSpec",
    "Input", "InputLayer", "Dense", "Flatten", "Reshape", "Dropout", "Activation", "ReLU",
    "Softmax",
    "Conv2D", "Convolution2D",
    "MaxPool2D", "MaxPooling2D", "AvgPool2D", "AveragePooling2D",
    "GlobalAvgPool2D", "GlobalAveragePooling2D", "GlobalMaxPool2D", "GlobalMaxPooling2D",
    "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose",
    "UpSampling2D", "ZeroPadding2D", "Cropping2D",
    "SpatialDropout2D", "Rescaling",
    "RandomFlip", "RandomCrop", "RandomTranslation", "RandomRotation",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate",
    "get",
]

_BY_NAME = {name: globals()[name] for name in __all__ if name not in ("get", "WeightSpec")}


def get(class_name):
    """The layer class called ``class_name`` (for loading saved models).

    Parameters
    ----------
    class_name : str
        A layer class name or Keras alias, e.g. ``"Conv2D"`` or ``"MaxPooling2D"``.

    Examples
    --------
    >>> get("Conv2D").__name__
    'Conv2D'
    """
    from .._validation import fail

    if class_name not in _BY_NAME:
        fail(ValueError, "class_name", "a pyconv layer class name such as 'Conv2D'",
             repr(class_name))
    return _BY_NAME[class_name]
