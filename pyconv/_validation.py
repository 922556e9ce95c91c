"""The few checking helpers shared by every public entry point.

All messages have one shape: "`name` must be <expected>; got <received>."
`TypeError` is raised for kinds (dtype, Python type), `ValueError` for values
and shapes. Nothing here is called from kernels.
"""
import math
import numbers
import operator
import warnings
from typing import NoReturn

import numpy as np

__all__ = [
    "fail",
    "as_float_array",
    "is_array_like",
    "check_ndim",
    "check_int",
    "check_pair",
    "check_choice",
    "check_positive_float",
    "common_float_dtype",
]


def fail(exc_type: "type[Exception]", name: str, expected: str, got: object) -> NoReturn:
    """Raise ``exc_type`` with the one message shape used across pyconv."""
    raise exc_type(f"`{name}` must be {expected}; got {got}.")


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text


def as_float_array(x, name, dtype=None):
    """Return ``x`` as a C-contiguous float32 or float64 array.

    float32 and float64 input keep their dtype; other real dtypes (bool,
    integers, float16) become float32. Complex, object, string and other
    non-numeric input raises `TypeError`. The caller's array is never
    written to: a copy is made whenever conversion or reordering is needed.
    If ``dtype`` is given the result has that dtype; finite values too large
    for it (float64 ``1e300`` as float32) raise `ValueError` instead of
    silently becoming infinite.
    """
    if not is_array_like(x):
        # np.asarray would walk a Sequence-like object item by item (without
        # end, for some) or wrap a generator as an object array.
        fail(TypeError, name, "a real-valued numeric array (a numpy array, a nested list, "
             "or an object with __array__)", f"a {type(x).__name__} object")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        fail(TypeError, name, "a real-valued numeric array", f"{_describe(x)} ({exc})")
    kind = arr.dtype.kind
    if kind not in "biuf":
        what = {"c": "complex", "O": "object", "U": "string", "S": "bytes"}.get(kind, str(arr.dtype))
        fail(TypeError, name, "a real-valued numeric array", f"dtype {arr.dtype} ({what})")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float32
    dtype = np.dtype(dtype)
    if kind != "f" or arr.dtype.itemsize <= dtype.itemsize:
        return np.ascontiguousarray(arr, dtype=dtype)
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=dtype)
    overflowed = np.isinf(out)
    if overflowed.any() and not np.isinf(arr[overflowed]).all():
        largest = float(np.max(np.abs(arr[overflowed & np.isfinite(arr)])))
        fail(ValueError, name, f"values within {dtype}'s range (magnitude at most "
             f"{float(np.finfo(dtype).max):.4g})", f"a value of magnitude {largest:.4g}")
    return out


def is_array_like(x):
    """Whether numpy can turn ``x`` into an array without iterating an
    arbitrary Python object: arrays, numbers, lists, tuples and ranges, and
    anything exposing the array protocols or the buffer protocol (memmaps,
    pandas, dask, torch tensors). Strings and bytes are not."""
    if isinstance(x, (np.ndarray, np.generic, numbers.Number, list, tuple, range)):
        return True
    if isinstance(x, (str, bytes, bytearray)):
        return False
    if any(hasattr(x, attr) for attr in ("__array__", "__array_interface__", "__array_struct__")):
        return True
    try:
        memoryview(x)
    except TypeError:
        return False
    return True


def all_finite(arr, chunk_elements=1 << 20):
    """Whether every value of ``arr`` is finite, checked a block of rows at a
    time, so a memory-mapped dataset is never copied whole."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return True
    rows = max(1, chunk_elements // max(1, arr[0].size)) if arr.ndim else 1
    flat = arr.reshape(1) if arr.ndim == 0 else arr
    return all(np.isfinite(flat[i:i + rows]).all() for i in range(0, len(flat), rows))


def warn_if_not_finite(arr, name, stacklevel=3):
    """Warn (a `RuntimeWarning` naming ``name``) when ``arr`` holds NaN or inf:
    training on them silently poisons every weight."""
    if not all_finite(arr):
        warnings.warn(f"`{name}` contains NaN or infinite values: the loss and every "
                      "weight will become NaN. Clean or impute the data first.",
                      RuntimeWarning, stacklevel=stacklevel)


_CHANNELS_LAST_WARNED: "set[object]" = set()


def looks_channels_last(shape):
    """Whether an image shape ``(C, H, W)`` (or ``(N, C, H, W)``) is probably
    ``(H, W, C)``: a last axis of 1, 3 or 4 (grey, RGB, RGBA), a first axis
    that is not such a channel count, and a middle axis longer than the last.

    The one rule behind the image tools' error and the models' warning.
    """
    if len(shape) < 3:
        return False
    c, h, w = shape[-3:]
    return w in (1, 3, 4) and c not in (1, 3, 4) and h > w


def warn_if_channels_last(shape, name, stacklevel=3):
    """Warn, once per shape, when ``shape`` looks channels-last: pyconv would
    silently treat ``(32, 32, 3)`` as 32 channels of 32x3 images."""
    shape = tuple(int(v) for v in shape)
    if not looks_channels_last(shape) or shape in _CHANNELS_LAST_WARNED:
        return
    _CHANNELS_LAST_WARNED.add(shape)
    c, h, w = shape
    warnings.warn(
        f"`{name}` has per-sample shape {shape}, which looks channels-last (height, width, "
        f"channels). pyconv is channels-first (NCHW: batch, channels, height, width), so this "
        f"is read as {c} channels of {h}x{w} images. If the images are {c}x{h} with {w} "
        f"channel(s), use the shape {(w, c, h)} and transpose the data with "
        f"x.transpose(0, 3, 1, 2), or give the image layers data_format=\"channels_last\" "
        f"(pyconv.config.set_image_data_format).", UserWarning, stacklevel=stacklevel)


def common_float_dtype(*arrays):
    """float64 if any array is float64, else float32."""
    return np.float64 if any(a.dtype == np.float64 for a in arrays) else np.float32


def check_ndim(arr, name, ndim, layout):
    if arr.ndim != ndim:
        fail(ValueError, name, f"a {ndim}-D array {layout}", f"shape {arr.shape}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(value, name, min_value=None, max_value=None):
    """Return ``value`` as a Python int, checking its bounds."""
    if not _is_int(value):
        fail(TypeError, name, "an int", _describe(value))
    value = operator.index(value)
    if min_value is not None and value < min_value:
        bound = "a positive int" if min_value == 1 else f"an int >= {min_value}"
        fail(ValueError, name, bound, value)
    if max_value is not None and value > max_value:
        fail(ValueError, name, f"an int <= {max_value}", value)
    return value


def check_weight(value, name):
    """Return a class or sample weight as a float: a finite, non-negative real."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        fail(TypeError, name, "real numbers", repr(value))
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        fail(ValueError, name, "finite and non-negative", value)
    return value


def check_pair(value, name, min_value=1):
    """Return an ``(h, w)`` tuple of ints from an int or a pair of ints."""
    bound = "a positive int" if min_value == 1 else f"an int >= {min_value}"
    expected = f"{bound} or a pair of them"
    if _is_int(value):
        pair = (operator.index(value),) * 2
    elif isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2 and all(
        _is_int(v) for v in value
    ):
        pair = tuple(operator.index(v) for v in value)
    else:
        exc = ValueError if isinstance(value, (tuple, list, np.ndarray)) else TypeError
        fail(exc, name, expected, _describe(value))
    if min(pair) < min_value:
        fail(ValueError, name, expected, _describe(value))
    return pair


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        exc = ValueError if isinstance(value, str) else TypeError
        fail(exc, name, f"one of {options}", _describe(value))
    return value


def check_positive_float(value, name, allow_zero=False):
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        fail(TypeError, name, "a real number", _describe(value))
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        fail(ValueError, name, "a non-negative number" if allow_zero else "a positive number", value)
    return value
