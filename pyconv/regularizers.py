"""Weight regularizers: a penalty added to the loss and its gradient.

As in Keras, ``L1(l1)`` adds ``l1 * sum(|w|)`` and ``L2(l2)`` adds
``l2 * sum(w ** 2)`` (no factor 1/2); ``L1L2`` adds both. Layers add
``regularizer.gradient(w)`` to the weight's gradient in ``backward``.

Examples
--------
>>> import numpy as np
>>> from pyconv import regularizers
>>> reg = regularizers.get("l2")
>>> reg(np.array([1.0, -2.0]))
0.05
>>> reg.gradient(np.array([1.0, -2.0]))
array([ 0.02, -0.04])
"""
import numpy as np

from ._config_object import ConfigObject
from ._validation import check_positive_float, fail

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize"]


class Regularizer(ConfigObject):
    """Base class: ``regularizer(w) -> float`` and ``regularizer.gradient(w) -> array``.

    Subclasses implement ``__call__`` (the penalty added to the loss) and
    ``gradient`` (its derivative, added to the weight's gradient in
    ``backward``), and ``get_config`` when they take arguments. The base
    class itself adds nothing.

    Examples
    --------
    A penalty on the squared sum of each Dense unit's incoming weights:

    >>> import numpy as np
    >>> from pyconv.regularizers import Regularizer
    >>> class UnitSum(Regularizer):
    ...     def __init__(self, factor=0.1):
    ...         self.factor = factor
    ...     def __call__(self, weight):
    ...         return self.factor * float(np.square(weight.sum(axis=0)).sum())
    ...     def gradient(self, weight):
    ...         return 2 * self.factor * np.broadcast_to(weight.sum(axis=0), weight.shape)
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    >>> reg = UnitSum(0.5)
    >>> w = np.array([[1.0, -1.0], [2.0, 0.5]])
    >>> reg(w), reg.gradient(w)
    (4.625, array([[ 3. , -0.5],
           [ 3. , -0.5]]))

    A layer adds the penalty to its `regularization_loss`:

    >>> from pyconv.layers import Dense
    >>> layer = Dense(2, kernel_regularizer=reg, kernel_initializer="ones", input_shape=(3,))
    >>> layer.build((3,))
    >>> layer.regularization_loss()  # 0.5 * (3 ** 2 + 3 ** 2)
    9.0
    """

    def __call__(self, weight):
        return 0.0

    def gradient(self, weight):
        return np.zeros_like(weight)

    def get_config(self):
        return {}


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w ** 2)``.

    Parameters
    ----------
    l1 : float, default=0.0
        Factor of the L1 penalty (>= 0).
    l2 : float, default=0.0
        Factor of the L2 penalty (>= 0).

    Examples
    --------
    >>> reg = L1L2(l1=0.1, l2=0.1)
    >>> round(reg(np.array([2.0, -1.0])), 6)  # 0.1 * 3 + 0.1 * 5
    0.8
    >>> reg.gradient(np.array([2.0, -1.0]))  # 0.1 * sign(w) + 0.2 * w
    array([ 0.5, -0.3])
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = check_positive_float(l1, "l1", allow_zero=True)
        self.l2 = check_positive_float(l2, "l2", allow_zero=True)

    def __call__(self, weight):
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.abs(weight).sum(dtype=np.float64))
        if self.l2:
            penalty += self.l2 * float(np.square(weight, dtype=np.float64).sum())
        return penalty

    def gradient(self, weight):
        t = weight.dtype.type
        grad = np.zeros_like(weight)
        if self.l1:
            grad += t(self.l1) * np.sign(weight)
        if self.l2:
            grad += t(2 * self.l2) * weight
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (Keras default ``l1=0.01``).

    Parameters
    ----------
    l1 : float, default=0.01
        Factor of the penalty (>= 0).

    Examples
    --------
    >>> L1(0.5)(np.array([1.0, -3.0]))
    2.0
    """

    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w ** 2)`` (Keras default ``l2=0.01``).

    Parameters
    ----------
    l2 : float, default=0.01
        Factor of the penalty (>= 0); the gradient is ``2 * l2 * w``.

    Examples
    --------
    >>> L2(0.5)(np.array([2.0]))
    2.0
    """

    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2

_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier, name="regularizer"):
    """Return a `Regularizer` (or None).

    Parameters
    ----------
    identifier : None, str, dict or Regularizer
        ``"l1"``, ``"l2"``, ``"l1_l2"`` (Keras defaults 0.01), a
        ``{"class_name": ..., "config": ...}`` dict from `serialize`, or an
        object with ``__call__(w)`` and ``gradient(w)``.
    name : str, default "regularizer"
        The argument name used in error messages.

    Examples
    --------
    >>> get("l1")
    L1(l1=0.01)
    >>> get(None) is None
    True
    """
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            fail(ValueError, name, "one of 'l1', 'l2', 'l1_l2' or a Regularizer",
                 repr(identifier))
        if cls is L1L2:
            return L1L2(l1=0.01, l2=0.01)
        return cls()
    if isinstance(identifier, dict):
        cls = _CLASSES.get(identifier.get("class_name"))
        if cls is None:
            fail(ValueError, name, "a dict with 'class_name' 'L1', 'L2' or 'L1L2'",
                 repr(identifier))
        return cls(**identifier.get("config", {}))
    if callable(identifier) and callable(getattr(identifier, "gradient", None)):
        return identifier
    fail(TypeError, name, "a regularizer name ('l1', 'l2', 'l1_l2'), dict or Regularizer "
         "(an object with __call__ and gradient)", repr(identifier))


def serialize(regularizer):
    """A JSON-ready description `get` turns back into the regularizer.

    Parameters
    ----------
    regularizer : Regularizer or None
        The regularizer to describe; other objects are returned unchanged.

    Returns
    -------
    dict or None
        ``{"class_name": ..., "config": ...}``.

    Examples
    --------
    >>> serialize(L2(0.001))
    {'class_name': 'L2', 'config': {'l2': 0.001}}
    """
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return regularizer
