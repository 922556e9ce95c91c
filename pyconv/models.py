"""``Sequential``: a linear stack of layers with Keras 3's model API.

Structure (adding layers, building, weights, summary, config, saving) lives
here; compile/fit/evaluate/predict come from :class:`pyconv.training.Trainer`.

Examples
--------
>>> from pyconv import layers
>>> from pyconv.models import Sequential
>>> model = Sequential([layers.Flatten(input_shape=(1, 28, 28)), layers.Dense(1000)])
>>> model.count_params()
785000
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _layout
from . import layers as _layers
from . import saving
from ._functional_model import Model
from ._graph import is_symbolic, symbolic_call
from ._shapes import check_sample_shape
from ._validation import check_int, fail, warn_if_channels_last
from .config import image_data_format
from .layers.base import Layer, _unique_name, build_layer
from .layers.core import Input
from .training import Trainer
from .utils import _model_generator

PathLike = Union[str, bytes, "os.PathLike[str]"]

__all__ = ["Model", "Sequential", "load_model"]


def _is_input_layer(obj):
    return isinstance(obj, Input)


def _input_layer_shape(obj):
    shape = getattr(obj, "shape", None)
    if shape is None:
        shape = getattr(obj, "input_shape", None)
    if shape is None and getattr(obj, "output_shape", None) is not None:
        shape = obj.output_shape
    return shape


class Sequential(Model):
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        The layers, in order. An ``Input(shape)`` first (or ``input_shape=``
        on the first layer) builds the model at once; otherwise it is built
        by :meth:`build` or at the first ``fit``/``predict`` from ``x``.
    name : str, optional
        Name of the model.
    seed : int, optional
        Seeds the model's generator (weight initialisation, shuffling,
        dropout). Without it the generator comes from
        :func:`pyconv.utils.set_random_seed`, or from fresh entropy.

    Attributes
    ----------
    layers : list of Layer
    built : bool
    optimizer, loss, metrics
        Set by :meth:`compile`.
    stop_training : bool
        Set it to True (e.g. from a callback) to stop ``fit`` after the batch.
    history : History
        Of the last ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv import layers
    >>> from pyconv.models import Sequential
    >>> model = Sequential([layers.Dense(3, input_shape=(4,)), layers.Softmax()], seed=0)
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> history = model.fit(np.ones((8, 4)), np.zeros(8, dtype=int), epochs=2, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
    >>> model.predict(np.ones((2, 4)), verbose=0).shape
    (2, 3)
    """

    def __init__(self, layers: Optional[Sequence[Layer]] = None, name: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        if name is not None and not isinstance(name, str):
            fail(TypeError, "name", "a str", repr(name))
        self.name = name if name is not None else _unique_name("sequential")
        self.seed = seed
        self._rng = _model_generator(seed)
        self._layers: List[Layer] = []
        # The per-sample shape of the x arrays users pass (NHWC when the
        # layers are channels_last) and, once built, the NCHW shapes the
        # layers compute on; ``_input_stored``: x is transposed to NCHW once,
        # ``_output_stored``: the outputs back to NHWC (see pyconv._layout).
        self._data_input_shape: Optional[Tuple[int, ...]] = None
        self._input_shape: Optional[Tuple[int, ...]] = None
        self._output_shape = None
        self._input_stored = self._output_stored = False
        self.built = False
        self._reset_training_state()
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                fail(TypeError, "layers", "a list of layers", repr(layers))
            for layer in layers:
                self.add(layer)

    # --------------------------------------------------------------- structure
    def add(self, layer: Layer) -> None:
        """Append ``layer`` (an ``Input`` may only come first)."""
        if _is_input_layer(layer):
            if self._layers or self._data_input_shape is not None:
                fail(ValueError, "layer", "an Input only as the first layer of the model",
                     repr(layer))
            self._data_input_shape = check_sample_shape(_input_layer_shape(layer),
                                                        "Input shape", batch_axis=True)
            self.build()
            return
        if not isinstance(layer, Layer):
            fail(TypeError, "layer", "a pyconv.layers.Layer instance", repr(layer))
        if any(other.name == layer.name for other in self._layers):
            fail(ValueError, "layer", "a layer with a unique name within the model "
                 f"(names: {[other.name for other in self._layers]})", repr(layer.name))
        if any(other is layer for other in self._layers):
            fail(ValueError, "layer", "a layer not already in the model", repr(layer))
        self._layers.append(layer)
        self._fused = None
        if self.built:
            try:
                self._build_chain(self._data_input_shape)
            except (TypeError, ValueError):
                self._layers.pop()
                raise
        elif len(self._layers) == 1 and (
                given := getattr(layer, "_given_input_shape", None)) is not None:
            self._data_input_shape = tuple(given)
            self.build()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._fused = None
        if self.built:
            self._build_chain(self._data_input_shape)
        return layer

    def _chain(self, input_shape):
        """For model inputs of per-sample ``input_shape``: whether they are
        transposed to NCHW, and per layer ``(layer, NCHW input shape, output
        shape, output stored)`` (see pyconv._layout). A Sequential
        transposes channels_last data only at its input and output."""
        shape = tuple(input_shape)
        # the first layer that is not "follow" decides; the global default
        # while there is none (a model built layer by layer)
        stored = len(shape) == 3 and image_data_format() == "channels_last"
        for layer in self._layers:
            if getattr(layer, "_layout", "plain") != "follow":
                stored = layer._layout == "image" and layer._speaks_nhwc(len(shape))
                break
        input_stored, steps = stored, []
        for layer in self._layers:
            (want,), (nchw,), out_stored = _layout.plan_call(layer, [(shape, stored)])
            if want != stored:
                fail(ValueError, f"layer {layer.name!r}", "the data format of the layers "
                     "before it (a Sequential transposes channels_last data only at its input "
                     "and output: give its image layers one data_format, or use pyconv.Model)",
                     getattr(layer, "data_format", "a layer reading the image in logical order"))
            shape, stored = _layout.output_of(out_stored, layer._nchw_output_shape(nchw))
            steps.append((layer, nchw, shape, stored))
        return input_stored, steps

    def _build_chain(self, input_shape):
        """Build the layers for inputs of ``input_shape`` (checked); set the shapes."""
        input_stored, steps = self._chain(input_shape)
        for layer, nchw, _, _ in steps:
            if layer.built and not layer.weights and tuple(layer.input_shape) != tuple(nchw):
                layer.built = False      # weightless, built before the storage was known
            if not layer.built:
                build_layer(layer, nchw, self._rng)
            elif getattr(layer, "input_shape", None) is not None \
                    and tuple(layer.input_shape) != tuple(nchw):
                fail(ValueError, f"layer {layer.name!r}", f"built for inputs of shape {nchw}",
                     f"a layer built for {tuple(layer.input_shape)}")
        if not input_stored and any(getattr(layer, "_layout", "plain") != "follow"
                                    for layer in self._layers):
            warn_if_channels_last(input_shape, "input_shape", stacklevel=5)
        self._data_input_shape = tuple(input_shape)
        self._input_stored = input_stored
        self._input_shape = (_layout.to_nchw_shape(input_shape) if input_stored
                             else tuple(input_shape))
        self._output_stored = bool(steps) and steps[-1][3]
        shape = steps[-1][2] if steps else tuple(input_shape)
        self._output_shape = _layout.to_nchw_shape(shape) if self._output_stored else shape
        self._fused = None

    def build(self, input_shape: Optional[Sequence[Optional[int]]] = None) -> None:
        """Create the weights of every layer for inputs of ``input_shape``.

        Parameters
        ----------
        input_shape : tuple, optional
            ``(C, H, W)`` (no batch axis) or Keras-style ``(None, C, H, W)``.
            Defaults to the shape given by ``Input`` or the first layer.
        """
        if input_shape is None:
            if self._data_input_shape is None:
                fail(ValueError, "input_shape", "given (or set by an Input / the first "
                     "layer's input_shape) to build the model", None)
            input_shape = self._data_input_shape
        input_shape = check_sample_shape(input_shape, batch_axis=True)
        if self.built and input_shape != self._data_input_shape:
            fail(ValueError, "input_shape", f"{self._data_input_shape} (the model is already "
                 "built)", input_shape)
        self._build_chain(input_shape)
        self.built = True

    @property
    def layers(self) -> List[Layer]:
        """The layers, in order (an ``Input`` is not listed, as in Keras 3)."""
        return list(self._layers)

    @property
    def dtype(self):
        """Compute dtype: that of the layers (float32 by default)."""
        return self._layers[0].dtype if self._layers else np.dtype(np.float32)

    @property
    def input_shape(self) -> Optional[Tuple[Optional[int], ...]]:
        """``(None, *shape)`` once built."""
        shape = self._data_input_shape if self.built else None
        return None if shape is None else (None,) + tuple(shape)

    @property
    def output_shape(self) -> Optional[Tuple[Optional[int], ...]]:
        """``(None, *shape)`` once built."""
        if self._output_shape is None:
            return None
        shape = self._output_shape
        return (None,) + (_layout.to_nhwc_shape(shape) if self._output_stored else tuple(shape))

    # ----------------------------------------------------------------- summary
    def _summary_rows(self):
        rows = []
        total_flops = 0
        shape = self._data_input_shape
        for layer, _, output_shape, _ in self._chain(shape)[1]:
            flops = int(layer.flops(shape))
            total_flops += flops
            shape = output_shape
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         str((None,) + tuple(shape)), f"{layer.count_params():,}",
                         f"{flops:,}"))
        return ("Layer (type)", "Output Shape", "Param #", "FLOPs"), rows, "<<>>", total_flops

    # The linear fast path of `Trainer`: no graph bookkeeping, and the fused
    # ReLU/max-pooling backward.
    # (A Sequential has one output: no `loss_weights`, unlike Model.compile.)
    compile = Trainer.compile  # type: ignore[assignment]
    _prepare_x = Trainer._prepare_x

    def _data_to_nchw(self, x):
        """``x`` (checked, per-sample shape `_data_input_shape`) as the layers
        take it: transposed once when the model's images are NHWC."""
        return _layout.to_nchw(x) if self._input_stored else x

    def _reads_nhwc(self, shape):
        """Whether unbuilt, the model would read per-sample ``shape`` as NHWC."""
        return bool(self._layers) and self._chain(shape)[0]

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, names=("x", "y")):
        x = self._prepare_x(x, names[0])   # builds the model when needed
        if self._output_stored and getattr(y, "ndim", None) == 4:
            y = _layout.to_nchw(y)   # NHWC targets of NHWC outputs, as the layers make them
        return Trainer._prepare_xy(self, x, y, sample_weight, class_weight, names,
                                   x_prepared=True)

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        y = Trainer.predict(self, x, *args, **kwargs)
        return _layout.to_nhwc(y) if self._output_stored else y

    def predict_on_batch(self, x: Any) -> Any:
        y = Trainer.predict_on_batch(self, x)
        return _layout.to_nhwc(y) if self._output_stored else y

    def __call__(self, x: Any) -> Any:
        if is_symbolic(x):
            return self._nest(x)
        return self.predict_on_batch(x)

    # A Sequential used as a layer of a graph model (see `Model.forward`).
    def _nest(self, x):
        self._require_built("calling it on symbolic tensors")
        if isinstance(x, (list, tuple)):
            fail(ValueError, "x", f"one symbolic tensor (Sequential {self.name!r} has one "
                 "input)", f"{len(x)} tensors")
        self._graph_input_shape = self._layer_input_shape()
        return symbolic_call(self, x)

    def _layer_input_shape(self):
        return tuple(self._data_input_shape)

    def _nchw_output_shape(self, input_shape):
        return tuple(self.output_shape[1:])

    compute_output_shape = _nchw_output_shape

    def forward(self, x, training=False):
        y = self._forward(self._data_to_nchw(x), training=training)
        return _layout.to_nhwc(y) if self._output_stored else y

    def backward(self, grad, need_input_grad=True):
        if self._output_stored:
            grad = _layout.to_nchw(grad)
        for position in range(len(self._layers) - 1, -1, -1):
            grad = self._layers[position].backward(
                grad, need_input_grad=position > 0 or need_input_grad)
        if not need_input_grad:
            return None
        return _layout.to_nhwc(grad) if self._input_stored else grad
    _forward = Trainer._forward
    _train_step_body = Trainer._train_step_body
    _test_step = Trainer._test_step
    _inference_forward = Trainer._inference_forward

    # ------------------------------------------------------------------ config
    def get_config(self) -> Dict[str, Any]:
        """JSON-friendly description of the architecture (no weights)."""
        return {
            "name": self.name,
            "seed": self.seed if isinstance(self.seed, (int, np.integer)) else None,
            "input_shape": (None if self._data_input_shape is None
                            else list(self._data_input_shape)),
            "trainable": self.trainable,
            "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                       for layer in self._layers],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, max_params=None):
        """Rebuild a model (fresh weights) from :meth:`get_config` output.

        Layer names must be unique. With ``max_params``, a config describing
        more parameters than that is refused before any weight is allocated.
        """
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            fail(ValueError, "config", "a dict with a 'layers' list", type(config).__name__)
        model = cls(name=config.get("name"), seed=config.get("seed"))
        if config.get("trainable", True) is False:     # (the layers' own flags are kept)
            model.trainable = False
        for entry in config["layers"]:
            if not isinstance(entry, dict) or "class_name" not in entry:
                fail(ValueError, "config", "layer entries {'class_name': ..., 'config': ...}",
                     repr(entry))
            layer_cls = _layers.get(entry["class_name"], custom_objects)
            layer_config = dict(entry.get("config") or {})
            try:
                layer = layer_cls.from_config(layer_config)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Invalid config for layer class {entry['class_name']!r}: "
                                 f"{exc}") from exc
            if _is_input_layer(layer):
                model._data_input_shape = check_sample_shape(_input_layer_shape(layer),
                                                             batch_axis=True)
                continue
            if any(other.name == layer.name for other in model._layers):
                fail(ValueError, "config", "layers with unique names",
                     f"the name {layer.name!r} twice")
            model._layers.append(layer)  # build below, once
        input_shape = config.get("input_shape")
        if input_shape is None:
            input_shape = model._data_input_shape
        if input_shape is None and model._layers:
            input_shape = getattr(model._layers[0], "_given_input_shape", None)
        if input_shape is not None:
            if max_params is not None:
                model._check_param_budget(check_sample_shape(input_shape, batch_axis=True),
                                          max_params)
            model.build(input_shape)
        return model

    def _check_param_budget(self, input_shape, max_params):
        """Refuse, before building, a model of more than ``max_params`` parameters."""
        total = 0
        for layer, nchw, _, _ in self._chain(input_shape)[1]:
            total += sum(math.prod(spec.shape) for spec in layer.weight_specs(nchw))
        if total > max_params:
            raise ValueError(f"the model has {total} parameters, more than `max_params` = "
                             f"{max_params} allows (raise max_params for a model you trust)")

    def __repr__(self):
        return f"<Sequential name={self.name!r}, {len(self._layers)} layers, built={self.built}>"


def load_model(filepath: PathLike, custom_objects: Optional[Mapping[str, Any]] = None,
               compile: bool = True, max_params: int = saving.MAX_PARAMS) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (``pyconv.load_model``).

    The file is read as hostile (see `pyconv.saving`): every piece is checked
    before it is used, and nothing in it can run code.

    Parameters
    ----------
    filepath : str, bytes or path-like
        A file written by ``model.save`` (or `pyconv.saving.save_model`).
    custom_objects : dict, optional
        ``{class name: Layer subclass}`` for layers defined outside pyconv.
    compile : bool, default True
        Re-compile with the saved optimizer, loss and metrics, and restore
        the optimizer state; with False the model only predicts.
    max_params : int, default 2**28 (``pyconv.saving.MAX_PARAMS``)
        The largest parameter count a loaded model may have, checked from
        the file's config before any weight is allocated, so a small hostile
        file cannot ask for gigabytes; raise it to load a bigger model you
        trust.

    Returns
    -------
    Sequential
        A built model with the saved weights.

    Raises
    ------
    ValueError
        For a truncated, corrupt or hand-edited file, a weights-only file,
        an unknown layer class, repeated layer names, weights of the wrong
        shape or dtype, or more than ``max_params`` parameters. Files
        written by another pyconv version load with a warning.
    TypeError
        For a ``filepath`` that is not a path, or ``custom_objects`` that is
        not a dict.
    FileNotFoundError
        For a file that does not exist.

    Examples
    --------
    Save a trained model, load it back and continue training where it
    stopped (the optimizer state is in the file):

    >>> import os, tempfile
    >>> import numpy as np
    >>> import pyconv
    >>> from pyconv.layers import Conv2D, GlobalAvgPool2D, Dense
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(16, 1, 5, 5)).astype("float32")
    >>> y = (x.mean(axis=(1, 2, 3)) > 0).astype(int)
    >>> model = pyconv.Sequential([Conv2D(4, 3, padding="same", activation="relu",
    ...                                   input_shape=(1, 5, 5)),
    ...                            GlobalAvgPool2D(), Dense(2, activation="softmax")], seed=0)
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> _ = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "small_cnn.pyconv")
    ...     model.save(path)
    ...     restored = pyconv.load_model(path)
    >>> restored.count_params(), model.count_params()
    (50, 50)
    >>> bool(np.array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0)))
    True
    >>> restored.optimizer.iterations
    6
    >>> a = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    >>> b = restored.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    >>> a.history["loss"] == b.history["loss"]
    True
    """
    if custom_objects is not None and not isinstance(custom_objects, dict):
        fail(TypeError, "custom_objects", "a dict mapping class names to layer classes",
             repr(custom_objects))
    max_params = check_int(max_params, "max_params", min_value=0)

    def build(config):
        kind = Model if config.get("class_name") == "Model" else Sequential
        return kind.from_config(config, custom_objects=custom_objects, max_params=max_params)

    return saving.read_model(filepath, build, compile=compile)
