"""Global settings, as ``keras.config``: the default image data format.

pyconv computes on NCHW arrays (``channels_first``). Image layers also take
``data_format="channels_last"`` (NHWC, Keras's and TensorFlow's default):
their shapes and the arrays a model takes and returns are then NHWC, and a
model converts them once at its boundary, so the kernels still see NCHW.
A layer built without ``data_format`` takes `image_data_format()` at
construction.

>>> import pyconv
>>> pyconv.config.image_data_format()
'channels_first'
>>> pyconv.config.set_image_data_format("channels_last")
>>> pyconv.layers.Conv2D(8, 3).data_format
'channels_last'
>>> pyconv.config.set_image_data_format("channels_first")
"""
from ._validation import fail

__all__ = ["image_data_format", "set_image_data_format", "standardize_data_format"]

DATA_FORMATS = ("channels_first", "channels_last")
_settings = {"image_data_format": "channels_first"}


def image_data_format():
    """The default ``data_format`` of image layers: ``"channels_first"`` unless set."""
    return _settings["image_data_format"]


def set_image_data_format(data_format):
    """Set the default ``data_format`` of image layers created from now on.

    Parameters
    ----------
    data_format : {"channels_first", "channels_last"}
    """
    _settings["image_data_format"] = _check(data_format)


def standardize_data_format(data_format):
    """``data_format`` checked, or the global default when None."""
    return image_data_format() if data_format is None else _check(data_format)


def _check(data_format):
    if not isinstance(data_format, str):
        fail(TypeError, "data_format", "'channels_first' or 'channels_last'", repr(data_format))
    value = data_format.lower()
    if value not in DATA_FORMATS:
        fail(ValueError, "data_format", "'channels_first' or 'channels_last'", repr(data_format))
    return value
