"""Type aliases used in the annotations of pyconv's public API.

Annotations only: nothing here is checked at run time (the public functions
validate their arguments themselves and raise TypeError/ValueError).
"""
from typing import Any, Callable, Literal, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ActivationLike", "ArrayLike", "FloatArray", "IndexArray", "InitializerLike",
           "IntPair", "Padding", "PaddingMode", "RegularizerLike", "Shape"]

#: A float32 or float64 array (what pyconv computes in).
FloatArray = NDArray[np.floating[Any]]
#: Flat int64 positions (max pooling's indices).
IndexArray = NDArray[np.int64]
#: An int, or an ``(h, w)`` pair of them.
IntPair = Union[int, Tuple[int, int]]
#: Convolution padding: an int, an ``(h, w)`` pair, ``"valid"`` or ``"same"``.
Padding = Union[int, Tuple[int, int], str]
#: How a convolution pads: ``"zeros"``, ``"reflect"``, ``"replicate"``, ``"circular"``.
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
#: An array shape.
Shape = Tuple[int, ...]
#: An activation: a name such as ``"relu"``, a callable, or None (linear).
ActivationLike = Union[str, Callable[..., Any], None]
#: An initializer: a name such as ``"glorot_uniform"`` or an initializer object.
InitializerLike = Union[str, Callable[..., Any]]
#: A weight regularizer: a name such as ``"l2"``, a regularizer object, or None.
RegularizerLike = Union[str, Callable[..., Any], None]
