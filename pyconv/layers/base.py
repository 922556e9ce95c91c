"""The layer contract.

A layer validates and standardises its arguments in ``__init__``, declares
its weights in ``weight_specs(input_shape)``, creates them in
``build(input_shape, rng=None)``, computes in ``forward(x, training)`` and
``backward(grad)``, and reports shapes through ``compute_output_shape``
(from the formulas in ``pyconv._shapes``). Shapes never include the batch
axis: ``(C, H, W)`` for images, ``(features,)`` for vectors.

Everything a summary needs comes from shapes alone, without allocating a
weight: ``compute_output_shape(s)``, ``count_params(s)``,
``param_counts(s)`` and ``flops(s)``.

``forward`` keeps what ``backward`` needs; ``backward(grad)`` returns the
gradient with respect to the layer's input and stores the gradients of the
trainable weights in ``self.grads`` (same order as ``trainable_weights``),
regularisation terms included.

Calling conventions for the training loop (no checks are repeated there):
``forward`` gets a C-contiguous array of the layer's dtype with a batch axis
and the built ``input_shape``; it never modifies its input in place. The
arrays returned by ``forward`` and ``backward`` may be views of the input or
of the layer's cached buffers: treat them as read-only. Inside a training
step (`reusing_buffers`) they are also valid only until the layer's next call.
"""
from __future__ import annotations

import contextlib
import inspect
import re
import threading
from collections import namedtuple
from typing import Any, Optional, Sequence

import numpy as np

from .. import _layout
from .._graph import is_symbolic, symbolic_call
from ..config import standardize_data_format
from .._shapes import check_sample_shape
from .._validation import as_float_array, fail, warn_if_channels_last

__all__ = ["Layer", "ImageLayer", "WeightSpec"]

WeightSpec = namedtuple("WeightSpec", "name shape initializer trainable regularizer")
WeightSpec.__doc__ = """Declaration of one weight: what `Layer.build` allocates.

Parameters
----------
name : str
    The weight's name in the layer (``"kernel"``, ``"bias"``, ...).
shape : tuple of int
    Its full shape.
initializer : str, Initializer or callable
    Anything `pyconv.initializers.get` accepts.
trainable : bool
    Whether the optimizer updates it.
regularizer : Regularizer or None
    Penalty added to the loss and to the weight's gradient.

Examples
--------
A layer's specs describe its weights from shapes alone, before any is
allocated:

>>> from pyconv.layers import Conv2D
>>> for spec in Conv2D(8, 3).weight_specs((3, 32, 32)):
...     print(spec.name, spec.shape, spec.trainable)
kernel (8, 3, 3, 3) True
bias (8,) True
>>> from pyconv.layers import WeightSpec
>>> WeightSpec("scale", (4,), "ones", True, None).shape
(4,)
"""

_name_counts: "dict[str, int]" = {}

# Set (per Python thread) by the training loop while it runs one step: layers
# then write their outputs and input gradients into buffers they keep from
# batch to batch instead of fresh arrays. Fresh multi-MB arrays cost page
# faults on every step (measured: ~96k faults, 0.2 s of a 0.9 s LeNet epoch).
# Outside a training step every result is a fresh array, so outputs that
# escape to the caller (predict, __call__) are never overwritten later.
_buffer_reuse = threading.local()


@contextlib.contextmanager
def reusing_buffers(active=True):
    """Within the block, `Layer._buffer` hands out arrays reused across calls."""
    previous = getattr(_buffer_reuse, "active", False)
    _buffer_reuse.active = bool(active)
    try:
        yield
    finally:
        _buffer_reuse.active = previous


def _unique_name(prefix):
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def _snake(name):
    """Keras's snake case: ``Conv2D -> conv2d``, ``MaxPool2D -> max_pool2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def build_layer(layer, input_shape, rng):
    """``layer.build(input_shape, rng=rng)``; a custom layer whose ``build``
    takes no generator (as in Keras) gets ``layer.build(input_shape)``."""
    params = inspect.signature(layer.build).parameters
    if "rng" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        layer.build(input_shape, rng=rng)
    else:
        layer.build(input_shape)


class Layer:
    """Base class of every pyconv layer.

    Parameters
    ----------
    name : str, optional
        Unique name; derived from the class name when omitted (``conv2d``,
        ``conv2d_1``, ...).
    input_shape : tuple of int, optional
        ``(C, H, W)`` (or ``(features,)``) when this is the first layer.
    trainable : bool, default True
        Whether the optimizer updates this layer's weights. A frozen layer
        reports no trainable weights, and `BatchNormalization` then runs in
        inference mode even while training (as Keras).
    dtype : {"float32", "float64"}, default "float32"
        Dtype of weights and computation.

    Attributes
    ----------
    input_shape, output_shape : tuple of int or None
        Per-sample shapes (no batch axis); set by `build`.
    built : bool
    grads : list of ndarray
        Gradients of `trainable_weights`, set by `backward`.

    Examples
    --------
    A layer of one's own: a learned per-channel scale ``y = x * gamma``.
    It declares its weight in `weight_specs`, keeps what `backward` needs in
    ``self._cache`` and hands the weight gradients to ``self._set_grads``.

    >>> import numpy as np
    >>> from pyconv.layers import Layer, WeightSpec
    >>> class ChannelScale(Layer):
    ...     def weight_specs(self, input_shape):
    ...         return [WeightSpec("gamma", (input_shape[0],), "ones", True, None)]
    ...     def forward(self, x, training=False):
    ...         self._cache["x"] = x
    ...         return x * self.weights[0].reshape(-1, 1, 1)
    ...     def backward(self, grad, need_input_grad=True):
    ...         x = self._cache["x"]
    ...         self._set_grads({"gamma": (grad * x).sum(axis=(0, 2, 3))})
    ...         return grad * self.weights[0].reshape(-1, 1, 1) if need_input_grad else None
    >>> layer = ChannelScale()
    >>> x = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)
    >>> layer(x).shape, layer.count_params(), layer.weight_names
    ((1, 2, 2, 2), 2, ['gamma'])
    >>> layer.set_weights([np.array([2.0, -1.0])])
    >>> layer(x)[0, :, 0, 0]
    array([ 0., -4.], dtype=float32)
    >>> _ = layer.backward(np.ones_like(x)); layer.grads
    [array([ 6., 22.], dtype=float32)]

    It trains inside a `Sequential` like any built-in layer:

    >>> from pyconv import Sequential
    >>> from pyconv.layers import Flatten, Dense
    >>> model = Sequential([ChannelScale(input_shape=(2, 2, 2)), Flatten(), Dense(1)])
    >>> model.count_params()
    11
    """

    def __init__(self, name: Optional[str] = None, input_shape: Optional[Sequence[int]] = None,
                 trainable: bool = True, dtype: Any = "float32") -> None:
        if name is None:
            name = _unique_name(_snake(type(self).__name__))
        elif not isinstance(name, str) or not name:
            fail(TypeError, "name", "a non-empty str", repr(name))
        self.name = name
        if input_shape is not None:
            input_shape = check_sample_shape(input_shape)
            if not self._speaks_nhwc(len(input_shape)):
                warn_if_channels_last(input_shape, "input_shape", stacklevel=4)
        self._given_input_shape = input_shape
        self.input_shape = None if input_shape is None else self._to_nchw_shape(input_shape)
        self.trainable = bool(trainable)
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            fail(TypeError, "dtype", "'float32' or 'float64'", repr(dtype))
        if dtype not in (np.float32, np.float64):
            fail(TypeError, "dtype", "'float32' or 'float64'", repr(str(dtype)))
        self.dtype = dtype
        self.built = False
        self.output_shape = None
        self._weights: list[Any] = []   # list of (WeightSpec, array)
        self.grads: list[Any] = []
        self._cache: dict[str, Any] = {}  # what forward keeps for backward; not pickled

    # ------------------------------------------------------------ data format
    # How a model hands this layer its inputs (see pyconv._layout): "plain"
    # (logical order), "follow" (as stored) or "image" (by data_format).
    _layout = "plain"
    # Set by a model for a "follow" layer whose inputs are NHWC tensors
    # stored as NCHW arrays.
    _nchw_storage = False

    def _speaks_nhwc(self, rank):
        """Whether this layer's rank-``rank`` shapes and eager arrays are NHWC."""
        return False

    def _to_nchw_shape(self, shape):
        """A user-facing sample shape as the NCHW shape `forward` computes on."""
        return tuple(shape)

    def _stored_axis(self, axis, ndim):
        """Sample axis ``axis`` (0-based, of ``ndim``) in the arrays `forward`
        gets: moved when the model stores this layer's NHWC inputs as NCHW."""
        if self._nchw_storage and ndim == 3:
            return _layout.NHWC_TO_STORED[axis]
        return axis

    def _nchw_output_shape(self, input_shape):
        """`compute_output_shape` for the NCHW shapes `forward` sees (what
        models and `build` call); the same thing for most layers."""
        return self.compute_output_shape(input_shape)

    # ----------------------------------------------------------------- weights
    def weight_specs(self, input_shape):
        """The weights this layer creates for inputs of ``input_shape``.

        Returns a list of `WeightSpec`; nothing is allocated. Subclasses with
        weights override it.
        """
        return []

    def add_weight(self, name, shape, initializer, trainable=True, regularizer=None, rng=None):
        """Create, register and return a weight array."""
        from .. import initializers

        init = initializers.get(initializer)
        value = np.ascontiguousarray(init(tuple(shape), dtype=self.dtype, rng=rng),
                                     dtype=self.dtype)
        if value.shape != tuple(shape):
            fail(ValueError, "initializer", f"a callable returning shape {tuple(shape)} for "
                 f"{self.name}/{name}", f"shape {value.shape}")
        spec = WeightSpec(name, tuple(shape), initializer, bool(trainable), regularizer)
        self._weights.append((spec, value))
        return value

    @property
    def weights(self):
        """All weights (the live arrays), in creation order."""
        return [w for _, w in self._weights]

    @property
    def trainable_weights(self):
        """The live arrays the optimizer updates (empty when frozen)."""
        if not self.trainable:
            return []
        return [w for spec, w in self._weights if spec.trainable]

    @property
    def non_trainable_weights(self):
        """Weights the optimizer leaves alone (all of them when frozen)."""
        if not self.trainable:
            return self.weights
        return [w for spec, w in self._weights if not spec.trainable]

    @property
    def weight_names(self):
        """Names of `weights`, such as ``"kernel"`` and ``"bias"``."""
        return [spec.name for spec, _ in self._weights]

    def get_weights(self):
        """Copies of all weights."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` into the layer's arrays (in place: optimizers keep references)."""
        if not self.built:
            fail(ValueError, "layer", f"built before set_weights (layer {self.name!r})",
                 "an unbuilt layer")
        if len(weights) != len(self._weights):
            fail(ValueError, "weights", f"a list of {len(self._weights)} arrays for layer "
                 f"{self.name!r}", f"{len(weights)} arrays")
        new_values = []
        for (spec, current), new in zip(self._weights, weights):
            new = as_float_array(new, "weights", dtype=self.dtype)
            if new.shape != current.shape:
                fail(ValueError, "weights", f"shape {current.shape} for {self.name}/{spec.name}",
                     f"shape {new.shape}")
            new_values.append(new)
        for (_, current), new in zip(self._weights, new_values):
            current[...] = new
        from .. import _inference

        _inference.weights_changed()     # compiled predict plans may hold folded copies

    def param_counts(self, input_shape=None):
        """``(trainable, non_trainable)`` parameter counts, from shapes only.

        Uses ``input_shape`` when given, else the built (or declared) one.
        """
        shape = self._shape_for_counts(input_shape)
        trainable = non_trainable = 0
        for spec in self.weight_specs(shape):
            size = int(np.prod(spec.shape, dtype=np.int64))
            if spec.trainable and self.trainable:
                trainable += size
            else:
                non_trainable += size
        return trainable, non_trainable

    def count_params(self, input_shape=None):
        """Number of weights (trainable or not), computed from shapes.

        Works before `build` when ``input_shape`` is given (or was given to
        the constructor), and never allocates a weight.
        """
        return sum(self.param_counts(input_shape))

    def _shape_for_counts(self, input_shape):
        """The NCHW shape for ``input_shape`` (in this layer's data format), or
        the built one."""
        if input_shape is not None:
            return self._to_nchw_shape(check_sample_shape(input_shape))
        if self.input_shape is not None:
            return self.input_shape
        fail(ValueError, "input_shape", f"known to count the parameters of layer {self.name!r} "
             "(build it or pass input_shape)", "None")

    # ----------------------------------------------------------------- compute
    def build(self, input_shape, rng=None):
        """Create the weights for inputs of ``input_shape`` (no batch axis).

        Parameters
        ----------
        input_shape : tuple of int
        rng : numpy.random.Generator, optional
            Source of the initial weights (and of dropout masks); a fresh
            ``np.random.default_rng()`` when None.

        Building an already built layer with the same shape does nothing.
        """
        input_shape = check_sample_shape(input_shape)
        if self.built:
            if input_shape != self.input_shape:
                fail(ValueError, "input_shape", f"{self.input_shape} (layer {self.name!r} is "
                     "already built for it)", input_shape)
            return
        output_shape = self._nchw_output_shape(input_shape)
        if rng is None:
            rng = np.random.default_rng()
        elif not isinstance(rng, np.random.Generator):
            fail(TypeError, "rng", "a numpy.random.Generator or None", repr(rng))
        self._weights = []
        for spec in self.weight_specs(input_shape):
            self.add_weight(spec.name, spec.shape, spec.initializer, spec.trainable,
                            spec.regularizer, rng=rng)
        self._on_build(input_shape, rng)
        self.input_shape = input_shape
        self.output_shape = output_shape
        self.grads = []
        self.built = True

    def _on_build(self, input_shape, rng):
        """Hook for per-shape state other than weights (padding, generators)."""

    def compute_output_shape(self, input_shape):
        """Per-sample output shape for ``input_shape``; raises if incompatible."""
        return tuple(input_shape)

    def forward(self, x, training=False):
        """Output for a batch ``x`` of shape ``(N,) + input_shape``."""
        raise NotImplementedError

    def backward(self, grad, need_input_grad=True):
        """Gradient of the loss with respect to the last `forward`'s input.

        Sets `grads` to the gradients of `trainable_weights`. With
        ``need_input_grad=False`` (first layer) returns None and may skip work.
        """
        raise NotImplementedError

    def __call__(self, x, training=False):
        """Check ``x``, build on first use and run `forward`.

        The convenient (checked) entry point; the training loop calls
        `forward` directly. On a symbolic tensor (``pyconv.Input`` or a
        layer's symbolic output) it computes nothing and returns the
        symbolic output, recording the call for `pyconv.Model`.
        """
        if is_symbolic(x):
            return symbolic_call(self, x)
        x = as_float_array(x, "x", dtype=self.dtype)
        expected = self.input_shape
        nhwc = self._speaks_nhwc(x.ndim - 1)
        if nhwc:
            expected = self._given_input_shape if self.input_shape is None else \
                _layout.to_nhwc_shape(self.input_shape)
        if x.ndim < 2 or (expected is not None and x.shape[1:] != expected):
            what = f"(batch,) + {expected}" if expected is not None else "a batch axis first"
            fail(ValueError, "x", f"an array of shape {what}", f"shape {x.shape}")
        if nhwc:                  # NHWC in and out, NCHW inside
            x = _layout.to_nchw(x)
        if not self.built:
            self.build(x.shape[1:])
        y = self.forward(x, training=training)
        return _layout.to_nhwc(y) if nhwc and y.ndim == 4 else y

    def _buffer(self, key, shape, dtype=None):
        """An uninitialised C-contiguous array of ``shape`` for a result.

        Inside `reusing_buffers` (a training step) it is the same memory on
        every call with the same ``key`` (grown when too small), so the
        caller must be done with the previous call's result; otherwise a
        fresh array.
        """
        dtype = self.dtype if dtype is None else dtype
        if not getattr(_buffer_reuse, "active", False):
            return np.empty(shape, dtype=dtype)
        size = 1
        for extent in shape:
            size *= extent
        cache_key = ("_buffer", key)
        buf = self._cache.get(cache_key)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, 1), dtype=dtype)
            self._cache[cache_key] = buf
        return buf[:size].reshape(shape)

    def _set_grads(self, grads):
        """Store ``grads`` (dict name -> gradient) aligned with `trainable_weights`.

        Adds each weight's regularizer gradient.
        """
        if not self.trainable:
            self.grads = []
            return
        out = []
        for spec, weight in self._weights:
            if not spec.trainable:
                continue
            grad = grads[spec.name]
            if spec.regularizer is not None:
                grad = grad + spec.regularizer.gradient(weight)
            out.append(grad)
        self.grads = out

    def regularization_loss(self):
        """Penalty added to the training loss (0.0 without regularizers).

        Counts trainable weights only, as Keras.
        """
        if not self.trainable:
            return 0.0
        return float(sum(spec.regularizer(w) for spec, w in self._weights
                         if spec.trainable and spec.regularizer is not None))

    def flops(self, input_shape=None):
        """Floating-point operations of one forward pass on one sample (approximate)."""
        return 0

    # ------------------------------------------------------------------ config
    def get_config(self):
        """Constructor arguments as a JSON-ready dict (`from_config` inverts it)."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": str(self.dtype)}
        if self._given_input_shape is not None:
            config["input_shape"] = list(self._given_input_shape)
        return config

    @classmethod
    def from_config(cls, config):
        """A new, unbuilt layer from `get_config`'s dict."""
        return cls(**config)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class ImageLayer(Layer):
    """A layer on images that takes ``data_format`` (Keras's argument).

    With ``data_format="channels_last"`` its user-facing shapes
    (``input_shape=``, `compute_output_shape`, a model's summary) and the
    arrays of an eager call are NHWC; `forward`, `backward`, `build`,
    `weight_specs` and the ``input_shape``/``output_shape`` attributes stay
    NCHW, the layout pyconv computes in. Subclasses implement
    ``_nchw_output_shape`` instead of `compute_output_shape`.

    Parameters
    ----------
    data_format : {"channels_first", "channels_last"}, optional
        Defaults to `pyconv.config.image_data_format()` (channels_first).
    **kwargs
        As `Layer`.
    """

    _layout = "image"

    def __init__(self, *args: Any, data_format: Optional[str] = None, **kwargs: Any) -> None:
        self.data_format = standardize_data_format(data_format)
        super().__init__(*args, **kwargs)

    def _speaks_nhwc(self, rank):
        return self.data_format == "channels_last" and rank == 3

    def _to_nchw_shape(self, shape):
        return _layout.to_nchw_shape(shape) if self._speaks_nhwc(len(shape)) else tuple(shape)

    def _nchw_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_shape(self, input_shape):
        """Output shape for ``input_shape``, both in this layer's ``data_format``
        (a leading ``None`` batch axis is kept, as Keras)."""
        shape = tuple(input_shape)
        batch = shape[:1] if len(shape) == 4 and shape[0] is None else ()
        shape = shape[len(batch):]
        out = tuple(self._nchw_output_shape(self._to_nchw_shape(shape)))
        if self._speaks_nhwc(len(shape)) and len(out) == 3:
            out = _layout.to_nhwc_shape(out)
        return batch + out

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
