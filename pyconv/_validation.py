"""The few checking helpers shared by every public entry point.

All messages have one shape: "`name` must be <expected>; got <received>."
`TypeError` is raised for kinds (dtype, Python type), `ValueError` for values
and shapes. Nothing here is called from kernels.
"""
import numbers
import operator

import numpy as np

__all__ = [
    "fail",
    "as_float_array",
    "check_ndim",
    "check_int",
    "check_pair",
    "check_choice",
    "check_positive_float",
    "common_float_dtype",
]


def fail(exc_type, name, expected, got):
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
    If ``dtype`` is given the result has that dtype.
    """
    if isinstance(x, (str, bytes)):
        fail(TypeError, name, "a real-valued numeric array", f"a {type(x).__name__}")
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
    return np.ascontiguousarray(arr, dtype=dtype)


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
