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

# The one registry of layer classes, by class name (Keras aliases included):
# how a saved model's config becomes layers again.
_BY_NAME = {name: obj for name, obj in globals().items()
            if name in __all__ and isinstance(obj, type) and issubclass(obj, Layer)
            and obj is not Layer}


def get(class_name, custom_objects=None):
    """The layer class called ``class_name``: from ``custom_objects`` or pyconv's.

    This is how loading turns the class names of a saved config back into
    classes; only pyconv's layers and those given in ``custom_objects`` are
    accepted.

    Parameters
    ----------
    class_name : str
        A layer class name or Keras alias, e.g. ``"Conv2D"`` or ``"MaxPooling2D"``.
    custom_objects : dict, optional
        ``{class name: Layer subclass}`` for layers defined outside pyconv;
        they take precedence over pyconv's own.

    Raises
    ------
    ValueError
        For a name that is not a known layer class.

    Examples
    --------
    >>> get("Conv2D").__name__
    'Conv2D'
    >>> class Identity(Layer):
    ...     def forward(self, x, training=False):
    ...         return x
    >>> get("Identity", custom_objects={"Identity": Identity}) is Identity
    True
    >>> get("Identity")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown layer class 'Identity'...
    """
    if custom_objects and class_name in custom_objects:
        cls = custom_objects[class_name]
    else:
        cls = _BY_NAME.get(class_name) if isinstance(class_name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise ValueError(f"Unknown layer class {class_name!r}; known pyconv layers: "
                         f"{', '.join(sorted(_BY_NAME))}. Pass custom_objects="
                         f"{{{class_name!r}: cls}} for a layer of your own.")
    return cls
