"""Weight initializers, as in Keras 3.

An initializer is called as ``initializer(shape, dtype=None, rng=None)`` and
returns a new array. Randomness comes from ``rng`` (a
:class:`numpy.random.Generator`): models pass one derived from their seed,
so initial weights are reproducible. Without ``rng`` an initializer uses a
generator from its own ``seed`` (fresh entropy if that is None too).

Fans are computed like Keras for pyconv's layouts: a Dense kernel
``[in, units]`` has ``fan_in = in`` and ``fan_out = units``; a Conv2D kernel
``[C_out, C_in / groups, kh, kw]`` has ``fan_in = C_in / groups * kh * kw``
and ``fan_out = C_out * kh * kw``.

Random values are drawn directly in the target dtype, so a float32 kernel of
600 MB needs no float64 temporary.

Examples
--------
>>> import numpy as np
>>> from pyconv import initializers
>>> w = initializers.get("glorot_uniform")((784, 10), dtype="float32",
...                                        rng=np.random.default_rng(0))
>>> w.shape, w.dtype
((784, 10), dtype('float32'))
>>> bool(np.abs(w).max() <= np.sqrt(6 / (784 + 10)))
True
"""
import math

import numpy as np

from ._config_object import ConfigObject
from ._validation import check_choice, check_positive_float, fail

__all__ = [
    "Initializer",
    "Zeros",
    "Ones",
    "Constant",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "compute_fans",
    "get",
    "serialize",
]


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``.

    1-D: both equal its length; 2-D ``[in, out]`` (Dense kernels); 4-D (and
    other ranks >= 3) ``[out, in, *receptive]`` (Conv kernels).

    Parameters
    ----------
    shape : tuple of int
        The weight's shape in pyconv's layout.

    Returns
    -------
    (int, int)
        ``(fan_in, fan_out)``.

    Examples
    --------
    >>> compute_fans((16, 3, 5, 5))
    (75, 400)
    >>> compute_fans((784, 1000))
    (784, 1000)
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _dtype(dtype):
    dtype = np.dtype("float32" if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        fail(TypeError, "dtype", "float32 or float64", str(dtype))
    return dtype


class Initializer(ConfigObject):
    """Base class: ``initializer(shape, dtype=None, rng=None) -> ndarray``.

    Subclasses implement ``__call__`` and draw from ``self._generator(rng)``
    (the model's generator when given, else one seeded with ``seed``), and
    extend ``get_config`` with their own arguments.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    A custom initializer: a ``[C_out, C_in, kh, kw]`` kernel whose centre
    tap is 1 (an identity convolution) plus small noise.

    >>> import numpy as np
    >>> from pyconv.initializers import Initializer
    >>> class NoisyIdentity(Initializer):
    ...     def __call__(self, shape, dtype=None, rng=None):
    ...         rng = self._generator(rng)
    ...         w = 0.01 * rng.standard_normal(shape).astype(dtype or "float32")
    ...         for c in range(min(shape[0], shape[1])):
    ...             w[c, c, shape[2] // 2, shape[3] // 2] += 1
    ...         return w
    >>> init = NoisyIdentity(seed=0)
    >>> w = init((2, 2, 3, 3))
    >>> np.rint(w[:, :, 1, 1]).astype(int)
    array([[1, 0],
           [0, 1]])
    >>> bool(np.abs(w[:, :, 0, :]).max() < 0.05)  # elsewhere: noise only
    True
    >>> init
    NoisyIdentity(seed=0)
    """

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            fail(TypeError, "seed", "an int or None", repr(seed))
        self.seed = seed

    def _generator(self, rng):
        if rng is not None:
            return rng
        return np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None, rng=None):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed} if "seed" in vars(self) else {}


class Zeros(Initializer):
    """All zeros.

    Examples
    --------
    >>> Zeros()((2,))
    array([0., 0.], dtype=float32)
    """

    def __init__(self):
        pass

    def __call__(self, shape, dtype=None, rng=None):
        return np.zeros(shape, dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Examples
    --------
    >>> Ones()((2,), dtype="float64")
    array([1., 1.])
    """

    def __init__(self):
        pass

    def __call__(self, shape, dtype=None, rng=None):
        return np.ones(shape, dtype=_dtype(dtype))


class Constant(Initializer):
    """Every value equal to ``value``.

    Parameters
    ----------
    value : float, default=0.0
        The fill value.

    Examples
    --------
    >>> Constant(0.5)((2,))
    array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, value=0.0):
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            fail(TypeError, "value", "a real number", repr(value))
        self.value = float(value)

    def __call__(self, shape, dtype=None, rng=None):
        return np.full(shape, self.value, dtype=_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


def _uniform(rng, shape, dtype, low, high):
    values = rng.random(shape, dtype=dtype)
    values *= dtype.type(high - low)
    values += dtype.type(low)
    return values


def _truncated_standard_normal(rng, shape, dtype):
    """Standard normal values, redrawn while more than 2 away from 0."""
    values = rng.standard_normal(shape, dtype=dtype)
    flat = values.reshape(-1)
    bad = np.flatnonzero(np.abs(flat) > 2)
    while bad.size:
        flat[bad] = rng.standard_normal(bad.size, dtype=dtype)
        bad = bad[np.abs(flat[bad]) > 2]
    return values


class RandomNormal(Initializer):
    """Normal values with ``mean`` and ``stddev`` (Keras defaults 0, 0.05).

    Parameters
    ----------
    mean : float, default=0.0
        Mean of the values.
    stddev : float, default=0.05
        Standard deviation (>= 0).
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = RandomNormal(mean=1.0, stddev=0.5)((100_000,), rng=np.random.default_rng(0))
    >>> round(float(w.mean()), 2), round(float(w.std()), 2)
    (1.0, 0.5)

    The same seed gives the same values:

    >>> bool(np.array_equal(RandomNormal(seed=3)((4,)), RandomNormal(seed=3)((4,))))
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = float(mean)
        self.stddev = check_positive_float(stddev, "stddev", allow_zero=True)

    def __call__(self, shape, dtype=None, rng=None):
        dtype = _dtype(dtype)
        values = self._generator(rng).standard_normal(shape, dtype=dtype)
        values *= dtype.type(self.stddev)
        values += dtype.type(self.mean)
        return values

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Uniform values in ``[minval, maxval)`` (Keras defaults -0.05, 0.05).

    Parameters
    ----------
    minval : float, default=-0.05
        Lower bound (included).
    maxval : float, default=0.05
        Upper bound (excluded), ``>= minval``.
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = RandomUniform(0.0, 1.0)((100,), rng=np.random.default_rng(0))
    >>> bool(w.min() >= 0 and w.max() < 1)
    True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        if not maxval >= minval:
            fail(ValueError, "maxval", f">= minval ({minval})", maxval)
        self.minval = float(minval)
        self.maxval = float(maxval)

    def __call__(self, shape, dtype=None, rng=None):
        return _uniform(self._generator(rng), shape, _dtype(dtype), self.minval, self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Normal values redrawn when more than two ``stddev`` from ``mean``.

    Parameters
    ----------
    mean : float, default=0.0
        Mean of the (untruncated) distribution.
    stddev : float, default=0.05
        Its standard deviation (>= 0).
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = TruncatedNormal(stddev=1.0)((1000,), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 2)
    True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean = float(mean)
        self.stddev = check_positive_float(stddev, "stddev", allow_zero=True)

    def __call__(self, shape, dtype=None, rng=None):
        dtype = _dtype(dtype)
        values = _truncated_standard_normal(self._generator(rng), shape, dtype)
        values *= dtype.type(self.stddev)
        values += dtype.type(self.mean)
        return values

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras's variance scaling: variance ``scale / n`` with ``n`` the fan.

    ``mode`` picks ``n``: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``;
    ``distribution`` is ``"truncated_normal"`` (stddev corrected for the
    truncation, as Keras), ``"untruncated_normal"`` or ``"uniform"`` (limit
    ``sqrt(3 * scale / n)``).

    Parameters
    ----------
    scale : float, default=1.0
        Positive scaling of the variance.
    mode : {"fan_in", "fan_out", "fan_avg"}, default="fan_in"
        Which fan ``n`` divides the variance.
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}, \
default="truncated_normal"
        The distribution drawn from.
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")
    >>> w = init((50, 10), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 50))
    True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        self.scale = check_positive_float(scale, "scale")
        self.mode = check_choice(mode, "mode", ("fan_in", "fan_out", "fan_avg"))
        self.distribution = check_choice(
            distribution, "distribution", ("truncated_normal", "untruncated_normal", "uniform"))

    def __call__(self, shape, dtype=None, rng=None):
        dtype = _dtype(dtype)
        rng = self._generator(rng)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return _uniform(rng, shape, dtype, -limit, limit)
        if self.distribution == "truncated_normal":
            # stddev of a standard normal truncated to [-2, 2]
            stddev = math.sqrt(variance) / 0.87962566103423978
            values = _truncated_standard_normal(rng, shape, dtype)
        else:
            stddev = math.sqrt(variance)
            values = rng.standard_normal(shape, dtype=dtype)
        values *= dtype.type(stddev)
        return values

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class _Preset(VarianceScaling):
    _preset: "dict[str, object]" = {}

    def __init__(self, seed=None):
        super().__init__(seed=seed, **self._preset)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    The default kernel initializer of `Conv2D` and `Dense`, as in Keras.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = GlorotUniform()((784, 10), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 794))
    True
    """

    _preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"}


class GlorotNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / (fan_in + fan_out))``.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = GlorotNormal()((300, 200), rng=np.random.default_rng(0))
    >>> round(float(w.std()), 3), round(float(np.sqrt(2 / (300 + 200))), 3)
    (0.063, 0.063)
    """

    _preset = {"scale": 1.0, "mode": "fan_avg", "distribution": "truncated_normal"}


class HeUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = HeUniform()((8, 3, 3, 3), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 27))
    True
    """

    _preset = {"scale": 2.0, "mode": "fan_in", "distribution": "uniform"}


class HeNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(2 / fan_in)``.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = HeNormal()((64, 32, 3, 3), rng=np.random.default_rng(0))
    >>> w.dtype, round(float(w.std()), 3), round(float(np.sqrt(2 / (32 * 9))), 3)
    (dtype('float32'), 0.083, 0.083)
    """

    _preset = {"scale": 2.0, "mode": "fan_in", "distribution": "truncated_normal"}


class LecunUniform(_Preset):
    """Uniform in ``[-limit, limit]``, ``limit = sqrt(3 / fan_in)``.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = LecunUniform()((12, 5), rng=np.random.default_rng(0))
    >>> bool(np.abs(w).max() <= 0.5)
    True
    """

    _preset = {"scale": 1.0, "mode": "fan_in", "distribution": "uniform"}


class LecunNormal(_Preset):
    """Truncated normal with ``stddev = sqrt(1 / fan_in)``.

    Parameters
    ----------
    seed : int, optional
        Seed of the generator used when the call passes no ``rng``.

    Examples
    --------
    >>> w = LecunNormal()((400, 300), rng=np.random.default_rng(0))
    >>> round(float(w.std()), 3), round(float(np.sqrt(1 / 400)), 3)
    (0.05, 0.05)
    """

    _preset = {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"}


# Keras also exports the classes under snake_case names.
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal

_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal)}
_NAMES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}


def get(identifier, name="initializer"):
    """Return an initializer callable ``(shape, dtype=None, rng=None) -> ndarray``.

    Parameters
    ----------
    identifier : str, dict, Initializer, class or callable
        A name (``"glorot_uniform"``, ``"he_normal"``, ``"zeros"``, ...,
        also the class names), a ``{"class_name": ..., "config": ...}`` dict
        from `serialize`, an `Initializer` instance or class, or any callable
        with that signature.
    name : str, default "initializer"
        The argument name used in error messages.

    Examples
    --------
    >>> get("he_normal")
    HeNormal(seed=None)
    >>> get({"class_name": "Constant", "config": {"value": 2.0}})((1,))
    array([2.], dtype=float32)
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            fail(ValueError, name, "an initializer name such as 'glorot_uniform' (one of "
                 + ", ".join(repr(k) for k in _NAMES) + ")", repr(identifier))
        return cls()
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name")
        cls = _CLASSES.get(class_name) or _NAMES.get(str(class_name).lower())
        if cls is None:
            fail(ValueError, name, "a dict with a known 'class_name'", repr(identifier))
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    fail(TypeError, name, "an initializer name, dict, Initializer or callable", repr(identifier))


def serialize(initializer):
    """A JSON-ready description `get` turns back into the initializer.

    Plain callables are returned unchanged (they cannot be written to a file).

    Parameters
    ----------
    initializer : str, dict, Initializer, class or callable
        Anything `get` accepts.

    Returns
    -------
    dict or callable
        ``{"class_name": ..., "config": ...}``, or the plain callable.

    Examples
    --------
    >>> serialize(get("glorot_uniform"))
    {'class_name': 'GlorotUniform', 'config': {'seed': None}}
    """
    initializer = get(initializer)
    if isinstance(initializer, Initializer):
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    return initializer
