"""Activation functions, each a forward function beside its derivative.

The public functions (`relu`, `sigmoid`, `softmax`, ...) take and return
numpy arrays, like ``keras.activations``. Layers use the
:class:`ActivationFunction` objects returned by :func:`get`, which pair the
forward computation with the gradient used by ``backward``.

Inside a layer, ``"softmax"`` normalises over axis 1: the features of a 2-D
input, the channels of an NCHW input (the counterpart of Keras's last,
channels-last axis). The `softmax` function itself defaults to ``axis=-1``
as in Keras.

Examples
--------
>>> import numpy as np
>>> from pyconv import activations
>>> activations.relu(np.array([-1.0, 2.0]))
array([0., 2.])
>>> act = activations.get("sigmoid")
>>> y = act(np.array([0.0]))
>>> act.backward(np.array([1.0]), None, y)
array([0.25])
"""
import math

import numpy as np

from ._validation import fail

__all__ = [
    "ActivationFunction",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "linear",
    "elu",
    "leaky_relu",
    "gelu",
    "swish",
    "silu",
    "get",
    "serialize",
]


def _special():
    """scipy.special, imported on first use (it costs ~0.2 s at import)."""
    from scipy import special

    return special


class ActivationFunction:
    """A forward function with its derivative, as layers use it.

    Subclass it to give a layer a custom activation: implement `forward`
    and `backward` and set `needs_input` to False when the gradient can be
    computed from the output alone (the layer then computes in place and
    keeps only the output).

    Attributes
    ----------
    name : str
        The name `get` knows it by.
    needs_input : bool
        Whether `backward` needs the pre-activation input ``x``.

    Examples
    --------
    A custom "square" activation: its gradient ``2 * x`` needs the input.

    >>> import numpy as np
    >>> from pyconv.activations import ActivationFunction, get
    >>> class Square(ActivationFunction):
    ...     name = "square"
    ...     needs_input = True
    ...     def forward(self, x, out=None):
    ...         return np.square(x, out=out) if out is not None else np.square(x)
    ...     def backward(self, grad, x, y):
    ...         return grad * 2 * x
    >>> square = Square()
    >>> x = np.array([-1.0, 0.5, 3.0])
    >>> square(x)
    array([1.  , 0.25, 9.  ])
    >>> square.backward(np.ones(3), x, square(x))
    array([-2.,  1.,  6.])

    The built-in ones pair the same way; the sigmoid's gradient comes from
    its output alone, ``y * (1 - y)``:

    >>> sigmoid = get("sigmoid")
    >>> y = sigmoid(np.array([0.0, 2.0]))
    >>> sigmoid.needs_input, sigmoid.backward(np.ones(2), None, y).round(4)
    (False, array([0.25 , 0.105]))

    Layers accept the object itself:

    >>> from pyconv.layers import Dense
    >>> Dense(2, activation=square).activation.name
    'square'
    """

    name = "linear"
    needs_input = False

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x, out=None):
        """Return the activation of ``x``; written to ``out`` when given."""
        if out is None:
            return x.copy()
        if out is not x:
            out[...] = x
        return out

    def backward(self, grad, x, y):
        """Gradient with respect to the input, given the gradient ``grad`` of
        the output, the input ``x`` (None unless `needs_input`) and the output ``y``."""
        return grad

    def __repr__(self):
        return f"<activation {self.name}>"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self), self.name))


class _Linear(ActivationFunction):
    name = "linear"


class _ReLU(ActivationFunction):
    name = "relu"

    def forward(self, x, out=None):
        return np.maximum(x, 0, out=out)

    def backward(self, grad, x, y):
        return grad * (y > 0)


class _LeakyReLU(ActivationFunction):
    name = "leaky_relu"
    needs_input = True

    def __init__(self, negative_slope=0.2):
        self.negative_slope = negative_slope

    def forward(self, x, out=None):
        y = np.where(x > 0, x, x * x.dtype.type(self.negative_slope))
        return y if out is None else _assign(out, y)

    def backward(self, grad, x, y):
        return np.where(x > 0, grad, grad * grad.dtype.type(self.negative_slope))


class _Sigmoid(ActivationFunction):
    name = "sigmoid"

    def forward(self, x, out=None):
        return _special().expit(x, out=out) if out is not None else _special().expit(x)

    def backward(self, grad, x, y):
        return grad * y * (1 - y)


class _Tanh(ActivationFunction):
    name = "tanh"

    def forward(self, x, out=None):
        return np.tanh(x, out=out) if out is not None else np.tanh(x)

    def backward(self, grad, x, y):
        return grad * (1 - y * y)


class _Softmax(ActivationFunction):
    name = "softmax"

    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, x, out=None):
        shifted = x - x.max(axis=self.axis, keepdims=True)
        e = np.exp(shifted, out=shifted)
        e /= e.sum(axis=self.axis, keepdims=True)
        return e if out is None else _assign(out, e)

    def backward(self, grad, x, y):
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))


class _ELU(ActivationFunction):
    name = "elu"
    needs_input = True

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x, out=None):
        alpha = x.dtype.type(self.alpha)
        y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))
        return y if out is None else _assign(out, y)

    def backward(self, grad, x, y):
        alpha = x.dtype.type(self.alpha)
        return np.where(x > 0, grad, grad * (y + alpha))


class _GELU(ActivationFunction):
    name = "gelu"
    needs_input = True

    def __init__(self, approximate=False):
        self.approximate = bool(approximate)

    def forward(self, x, out=None):
        if self.approximate:
            c = x.dtype.type(math.sqrt(2 / math.pi))
            y = 0.5 * x * (1 + np.tanh(c * (x + x.dtype.type(0.044715) * x ** 3)))
        else:
            y = 0.5 * x * (1 + _special().erf(x / x.dtype.type(math.sqrt(2))))
        return y if out is None else _assign(out, y)

    def backward(self, grad, x, y):
        if self.approximate:
            c = x.dtype.type(math.sqrt(2 / math.pi))
            k = x.dtype.type(0.044715)
            t = np.tanh(c * (x + k * x ** 3))
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * k * x * x))
        cdf = 0.5 * (1 + _special().erf(x / x.dtype.type(math.sqrt(2))))
        pdf = np.exp(-0.5 * x * x) / x.dtype.type(math.sqrt(2 * math.pi))
        return grad * (cdf + x * pdf)


class _Swish(ActivationFunction):
    name = "swish"
    needs_input = True

    def forward(self, x, out=None):
        y = x * _special().expit(x)
        return y if out is None else _assign(out, y)

    def backward(self, grad, x, y):
        s = _special().expit(x)
        return grad * s * (1 + x * (1 - s))


def _assign(out, value):
    out[...] = value
    return out


_REGISTRY = {
    "linear": _Linear(),
    "relu": _ReLU(),
    "leaky_relu": _LeakyReLU(),
    "sigmoid": _Sigmoid(),
    "tanh": _Tanh(),
    "softmax": _Softmax(axis=1),
    "elu": _ELU(),
    "gelu": _GELU(),
    "swish": _Swish(),
    "silu": _Swish(),
}


# --------------------------------------------------------------------------
# Public functions, as keras.activations
# --------------------------------------------------------------------------
def _as_float(x):
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float32 if x.dtype.kind in "biuf" and x.dtype != np.float64 else x.dtype)
    return x


def linear(x):
    """Identity (returns a float copy).

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.

    Returns
    -------
    ndarray
        A copy of ``x``.

    Examples
    --------
    >>> linear(np.array([-1.0, 2.0]))
    array([-1.,  2.])
    """
    return _as_float(x).copy()


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Rectified linear unit: ``max(x, 0)``, with Keras's optional knobs.

    Values below ``threshold`` become ``negative_slope * (x - threshold)``;
    values are capped at ``max_value``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.
    negative_slope : float, default=0.0
        Slope below ``threshold`` (0 gives the plain ReLU).
    max_value : float, optional
        Upper cap (6.0 gives ReLU6); no cap by default.
    threshold : float, default=0.0
        Values below it are damped by ``negative_slope``.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> relu(np.array([-2.0, 0.5, 9.0]))
    array([0. , 0.5, 9. ])
    >>> relu(np.array([-2.0, 0.5, 9.0]), max_value=6.0)
    array([0. , 0.5, 6. ])
    >>> relu(np.array([-2.0, 0.5, 9.0]), negative_slope=0.1, threshold=1.0)
    array([-0.3 , -0.05,  9.  ])
    """
    x = _as_float(x)
    return _relu_general(x, negative_slope, max_value, threshold)


def _relu_general(x, negative_slope, max_value, threshold):
    t = x.dtype.type
    below = t(0) if negative_slope == 0 else t(negative_slope) * (x - t(threshold))
    y = np.where(x >= t(threshold), x, below)
    if max_value is not None:
        np.minimum(y, t(max_value), out=y)
    return y


def _relu_general_grad(grad, x, negative_slope, max_value, threshold):
    t = x.dtype.type
    slope = np.where(x >= t(threshold), t(1), t(negative_slope))
    if max_value is not None:
        slope[x >= t(max_value)] = 0
    return grad * slope


def leaky_relu(x, negative_slope=0.2):
    """``x`` for positive values, ``negative_slope * x`` otherwise.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.
    negative_slope : float, default=0.2
        Slope for negative inputs (Keras 3's default).

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> leaky_relu(np.array([-1.0, 1.0]))
    array([-0.2,  1. ])
    >>> leaky_relu(np.array([-1.0, 1.0]), negative_slope=0.01)
    array([-0.01,  1.  ])
    """
    return _LeakyReLU(negative_slope).forward(_as_float(x))


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.

    Returns
    -------
    ndarray
        Values in [0, 1], same shape as ``x``.

    Examples
    --------
    >>> sigmoid(np.array([-1000.0, 0.0, 2.0])).round(4)
    array([0.    , 0.5   , 0.8808])
    """
    return _REGISTRY["sigmoid"].forward(_as_float(x))


def tanh(x):
    """Hyperbolic tangent.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.

    Returns
    -------
    ndarray
        Values in [-1, 1], same shape as ``x``.

    Examples
    --------
    >>> tanh(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.7616,  0.    ,  0.7616])
    """
    return np.tanh(_as_float(x))


def softmax(x, axis=-1):
    """Softmax along ``axis`` (max-shifted, so large inputs do not overflow).

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.
    axis : int, default=-1
        The axis that sums to one.

    Returns
    -------
    ndarray
        Same shape as ``x``; non-negative, summing to 1 along ``axis``.

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    >>> softmax(np.array([[1000.0, 1000.0 + np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    return _Softmax(axis).forward(_as_float(x))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` if positive, else ``alpha * (exp(x) - 1)``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.
    alpha : float, default=1.0
        The value negative inputs saturate to is ``-alpha``.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> elu(np.array([-20.0, -1.0, 0.0, 2.0])).round(4)
    array([-1.    , -0.6321,  0.    ,  2.    ])
    """
    return _ELU(alpha).forward(_as_float(x))


def gelu(x, approximate=False):
    """Gaussian error linear unit ``x * Phi(x)`` (tanh approximation if asked).

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.
    approximate : bool, default=False
        Use the tanh approximation instead of the exact ``erf`` form.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> gelu(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.1587,  0.    ,  0.8413])
    >>> gelu(np.array([-1.0, 0.0, 1.0]), approximate=True).round(4)
    array([-0.1588,  0.    ,  0.8412])
    """
    return _GELU(approximate).forward(_as_float(x))


def swish(x):
    """Swish / SiLU: ``x * sigmoid(x)``.

    Parameters
    ----------
    x : array-like
        Input of any shape; integer input is computed in float32.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Examples
    --------
    >>> swish(np.array([-1.0, 0.0, 1.0])).round(4)
    array([-0.2689,  0.    ,  0.7311])
    """
    return _REGISTRY["swish"].forward(_as_float(x))


silu = swish

_FUNCTIONS = {
    linear: "linear", relu: "relu", leaky_relu: "leaky_relu", sigmoid: "sigmoid",
    tanh: "tanh", softmax: "softmax", elu: "elu", gelu: "gelu", swish: "swish",
}


def get(identifier, name="activation"):
    """Return the :class:`ActivationFunction` for ``identifier``.

    Parameters
    ----------
    identifier : str, callable, ActivationFunction or None
        A name (``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"``,
        ``"linear"``, ``"elu"``, ``"leaky_relu"``, ``"gelu"``, ``"swish"``,
        ``"silu"``), one of this module's functions, an
        `ActivationFunction`, or None (linear).
    name : str, default "activation"
        The argument name used in error messages.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For anything else (a plain callable has no derivative pyconv could use).

    Examples
    --------
    >>> get("relu").name
    'relu'
    >>> get(None).name
    'linear'
    """
    if identifier is None:
        return _REGISTRY["linear"]
    if isinstance(identifier, ActivationFunction):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _REGISTRY:
            fail(ValueError, name, "one of " + ", ".join(repr(k) for k in _REGISTRY),
                 repr(identifier))
        return _REGISTRY[key]
    if callable(identifier) and identifier in _FUNCTIONS:
        return _REGISTRY[_FUNCTIONS[identifier]]
    fail(TypeError, name, "an activation name such as 'relu', a pyconv.activations "
         "function or an ActivationFunction (a plain callable has no derivative)",
         repr(identifier))


def serialize(activation):
    """The name of an activation (what `get` takes back).

    Parameters
    ----------
    activation : str, callable, ActivationFunction or None
        Anything `get` accepts.

    Returns
    -------
    str
        The registered name, as stored in a layer's config.

    Examples
    --------
    >>> serialize(get("tanh"))
    'tanh'
    """
    return get(activation).name
