"""``Model``: a graph of layers, built by calling layers on symbolic tensors.

>>> import pyconv
>>> from pyconv import layers
>>> inputs = pyconv.Input(shape=(1, 8, 8))
>>> x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
>>> y = layers.Conv2D(4, 3, padding="same")(x)
>>> outputs = layers.Dense(2)(layers.Flatten()(layers.Add()([x, y])))
>>> model = pyconv.Model(inputs, outputs, seed=0)
>>> model.count_params()
702

How it runs. The model orders the nodes (layer calls) so that each comes
after the nodes it reads. ``forward`` runs them in that order; the backward
pass runs them in reverse, summing the gradients of a tensor read by several
nodes. A layer called more than once (shared weights) keeps one cache per
call, so each call's backward sees its own forward, and its weight
gradients are summed over the calls.

A model called on symbolic tensors is one layer of another model (a nested
model, as in Keras): its ``forward`` runs its graph, its ``backward``
returns its inputs' gradients, and its weights, ``trainable`` flag, summary
row and saved config are the outer model's like any layer's.

Channels-last data (`pyconv._layout`): each tensor records whether an NHWC
tensor is held as an NCHW array; a node's inputs are transposed only where
its layer needs the other storage, so a channels_last model transposes its
inputs and outputs once per batch.

Data with several inputs (or targets of several outputs) reaches the
training loop packed side by side in one 2-D array per batch, so the loop,
its batching and shuffling are the same as for one array; the model splits
the columns again before its first layer (and for its losses). One input and
one output need no packing at all.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _inference, _layout
from . import losses as losses_module
from . import metrics as metrics_module
from . import layers as _layers
from . import saving
from ._graph import SymbolicTensor, ancestors_in_order, as_tensor, is_symbolic, symbolic_call
from ._threads import blas_single_threaded
from ._typing import ArrayLike
from ._validation import as_float_array, check_int, fail, warn_if_channels_last
from .layers.base import _unique_name, build_layer
from .layers.core import Input
from .training import Trainer, _fusion_kind, loss_gradient, loss_value
from .utils import _model_generator

__all__ = ["Model"]


def _readable_bytes(size):
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    size = float(size)
    index = 0
    while size >= 1024 and index < len(units) - 1:
        size /= 1024
        index += 1
    return f"{size:.2f} {units[index]}"


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def _pack(arrays, dtype):
    """Arrays with one batch axis, side by side in one C-contiguous 2-D array."""
    n = len(arrays[0])
    return np.ascontiguousarray(np.concatenate([a.reshape(n, -1) for a in arrays], axis=1),
                                dtype=dtype)


def _unpack(packed, layout):
    """Inverse of `_pack` for ``layout``: a list of ``(shape, dtype)`` per array."""
    out, start = [], 0
    n = len(packed)
    for shape, dtype in layout:
        stop = start + _size(shape)
        out.append(np.ascontiguousarray(packed[:, start:stop], dtype=dtype).reshape((n,) + shape))
        start = stop
    return out


def _layer_class(class_name, custom_objects):
    """The class of a saved layer entry: a layer, or a model nested as one."""
    models = {cls.__name__: cls for cls in (Model, *Model.__subclasses__())}
    if class_name in models and not (custom_objects and class_name in custom_objects):
        return models[class_name]
    return _layers.get(class_name, custom_objects)


class _OutputMetric:
    """A metric of one output of a multi-output model (named ``<output>_<metric>``)."""

    def __init__(self, metric, index, output_name, model):
        self.metric = metric
        self.index = index
        self.name = f"{output_name}_{metric.name}"
        self._model = model

    def update_state(self, y_true, y_pred):
        self.metric.update_state(self._model._split_targets(y_true)[self.index],
                                 y_pred[self.index])

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()

    def __repr__(self):
        return f"<output metric {self.name!r}>"


class Model(Trainer):
    """A model defined by its input and output tensors (Keras's Functional API).

    Parameters
    ----------
    inputs : Input, SymbolicTensor or list of them
        The model's inputs, from ``pyconv.Input(shape)``. With a list,
        ``fit``/``predict`` take a list of arrays in the same order.
    outputs : SymbolicTensor or list of them
        Tensors computed from ``inputs`` by calling layers. With a list,
        ``predict`` returns a list and ``compile`` takes a loss per output
        (or one loss for all).
    name : str, optional
    seed : int, optional
        Seeds the weight initialisation, shuffling and dropout (see
        `Sequential`).

    Attributes
    ----------
    inputs, outputs : list of SymbolicTensor
    layers : list of Layer
        Every layer once, in the order of its first call (the ``Input``
        layers are not listed, as in Keras).
    output_names : list of str

    Examples
    --------
    A residual block and a two-input model:

    >>> import numpy as np
    >>> import pyconv
    >>> from pyconv import layers
    >>> inputs = pyconv.Input((3, 8, 8))
    >>> x = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    >>> x = layers.Add()([inputs, x])
    >>> outputs = layers.Dense(2, activation="softmax")(layers.GlobalAvgPool2D()(x))
    >>> model = pyconv.Model(inputs, outputs, seed=0)
    >>> model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    >>> history = model.fit(np.ones((4, 3, 8, 8)), np.array([0, 1, 0, 1]), verbose=0)
    >>> model.predict(np.ones((2, 3, 8, 8)), verbose=0).shape
    (2, 2)

    >>> image, extra = pyconv.Input((1, 4, 4)), pyconv.Input((3,))
    >>> features = layers.Concatenate()([layers.Flatten()(image), extra])
    >>> two = pyconv.Model([image, extra], layers.Dense(1)(features), seed=0)
    >>> two.predict([np.ones((5, 1, 4, 4)), np.ones((5, 3))], verbose=0).shape
    (5, 1)
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        if inputs is None or outputs is None:
            fail(TypeError, "inputs, outputs", "given: Model(inputs, outputs) from tensors "
                 "made by pyconv.Input and layer calls", (inputs, outputs))
        if name is not None and not isinstance(name, str):
            fail(TypeError, "name", "a str", repr(name))
        self.name = name if name is not None else _unique_name("functional")
        self.seed = seed
        self._rng = _model_generator(seed)
        self._nested_inputs = isinstance(inputs, (list, tuple))
        self._nested_outputs = isinstance(outputs, (list, tuple))
        self._inputs = self._tensor_list(inputs, "inputs")
        self._outputs = self._tensor_list(outputs, "outputs")
        for position, tensor in enumerate(self._inputs):
            if not tensor.node.is_input:
                fail(ValueError, "inputs", "tensors made by pyconv.Input (not layer outputs)",
                     f"{tensor.name!r} at position {position}")
        if len({id(t) for t in self._inputs}) != len(self._inputs):
            fail(ValueError, "inputs", "distinct tensors", [t.name for t in self._inputs])
        nodes = ancestors_in_order(self._outputs)
        given = {id(t.node) for t in self._inputs}
        missing = [n.layer.name for n in nodes if n.is_input and id(n) not in given]
        if missing:
            fail(ValueError, "inputs", f"every Input the outputs depend on (missing: "
                 f"{', '.join(missing)})", [t.name for t in self._inputs])
        self._nodes = [n for n in nodes if not n.is_input]
        self._layers = []
        calls = {}
        for node in self._nodes:
            if id(node.layer) not in calls:
                self._layers.append(node.layer)
            calls[id(node.layer)] = calls.get(id(node.layer), 0) + 1
            if isinstance(node.layer, Model) and calls[id(node.layer)] > 1:
                fail(ValueError, "outputs", f"a graph calling the nested model "
                     f"{node.layer.name!r} once (calling a model twice is not supported)",
                     "two calls")
        names = [layer.name for layer in self._layers] + [t.node.layer.name for t in self._inputs]
        if len(set(names)) != len(names):
            fail(ValueError, "layers", "distinct layer names within one model",
                 sorted({n for n in names if names.count(n) > 1}))
        self._node_caches = [{} if calls[id(node.layer)] > 1 else None for node in self._nodes]
        # channels_last data: where values are transposed (pyconv._layout)
        self._converts = (any(node.conversions for node in self._nodes)
                          or any(t.stored for t in self._outputs))
        # The compiled plan takes channels_last inputs already transposed:
        # per input the storage its readers want, when they agree and no
        # transpose is needed inside the graph (else None).
        wants = {}
        for node in self._nodes:
            for tensor, want in zip(node.inputs, node.wants):
                wants.setdefault(id(tensor), set()).add(want)
        inside = any(want != t.stored and not t.node.is_input
                     for node in self._nodes for t, want in zip(node.inputs, node.wants))
        self._plan_inputs = (None if inside or any(len(w) > 1 for w in wants.values())
                             else [bool(wants.get(id(t), {False}).pop()) for t in self._inputs])
        if not any(any(node.wants) for node in self._nodes):   # no channels_last layer
            for tensor in self._inputs:
                warn_if_channels_last(tensor.sample_shape, "shape", stacklevel=3)
        self._needs_input_grad = [any(not t.node.is_input for t in node.inputs)
                                  for node in self._nodes]
        self._input_shapes = [t.sample_shape for t in self._inputs]
        self._output_shapes = [t.sample_shape for t in self._outputs]
        self._input_shape = self._wire_shape(self._input_shapes)
        self._output_shape = self._wire_shape(self._output_shapes)
        self._target_layout = None
        self._pack_outputs = False
        self._reset_training_state()
        self.built = False
        for node in self._nodes:
            self._build_node(node)
        self.built = True

    @staticmethod
    def _tensor_list(value, name):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            fail(ValueError, name, "at least one tensor", "an empty list")
        tensors = []
        for position, item in enumerate(items):
            tensor = as_tensor(item)
            if tensor is None:
                fail(TypeError, name, "symbolic tensors (from pyconv.Input and layer calls)",
                     f"a {type(item).__name__} at position {position}")
            tensors.append(tensor)
        return tensors

    @staticmethod
    def _wire_shape(shapes):
        """How one batch travels through the training loop: the shape itself
        for one tensor, packed columns for several."""
        return shapes[0] if len(shapes) == 1 else (sum(_size(s) for s in shapes),)

    def _build_node(self, node):
        if not node.layer.built:
            build_layer(node.layer, node.input_shape, self._rng)

    def _reset_training_state(self):
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.metrics = []
        self._metric_identifiers = []
        self._fused = None
        self.stop_training = False
        self.history = None

    def build(self, input_shape=None):
        """A graph model is built when it is made; this checks ``input_shape``."""
        if input_shape is not None and len(self._inputs) == 1:
            shape = tuple(input_shape)
            shape = shape[1:] if shape and shape[0] is None else shape
            if shape != self._input_shapes[0]:
                fail(ValueError, "input_shape", f"{self._input_shapes[0]} (the model's input)",
                     tuple(input_shape))

    # --------------------------------------------------------------- structure
    @property
    def layers(self):
        """Every layer once, in the order of its first call (no ``Input``)."""
        return list(self._layers)

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def output_names(self):
        return [t.name for t in self._outputs]

    @property
    def dtype(self):
        """Compute dtype: that of the layers (float32 by default)."""
        return self._layers[0].dtype if self._layers else self._inputs[0].dtype

    def _structured(self, shapes, nested):
        shapes = [(None,) + tuple(s) for s in shapes]
        return shapes if nested else shapes[0]

    @property
    def input_shape(self):
        """``(None, *shape)``, or a list of them for several inputs."""
        return self._structured(self._input_shapes, self._nested_inputs)

    @property
    def output_shape(self):
        """``(None, *shape)``, or a list of them for several outputs."""
        return self._structured(self._output_shapes, self._nested_outputs)

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Any:
        """Return a layer by ``name`` or by ``index`` (exactly one of them)."""
        if (name is None) == (index is None):
            fail(ValueError, "name, index", "exactly one of them", (name, index))
        layers = self.layers
        if index is not None:
            index = check_int(index, "index")
            if not -len(layers) <= index < len(layers):
                fail(ValueError, "index", f"in [0, {len(layers)})", index)
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        fail(ValueError, "name", "one of " + ", ".join(repr(layer.name) for layer in layers),
             repr(name))

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"This model has not yet been built, so {what} is not available. "
                             "Build it with model.build(input_shape), pass input_shape= to the "
                             "first layer (or start with Input(shape)), or call fit()/predict() "
                             "on some data first.")

    # ----------------------------------------------------------------- weights
    @property
    def weights(self):
        """Live weight arrays of all layers."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    @property
    def trainable(self):
        """Whether fit updates the weights. Setting it sets every layer's (as
        Keras): a frozen model's BatchNormalization runs in inference mode."""
        return self.__dict__.get("_is_trainable", True)

    @trainable.setter
    def trainable(self, value):
        self._is_trainable = bool(value)
        for layer in self.layers:
            layer.trainable = bool(value)

    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weight arrays, layer by layer."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set all weights from a list like :meth:`get_weights` (checked)."""
        weights = list(weights)
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            fail(ValueError, "weights", f"a list of {expected} arrays", f"{len(weights)} arrays")
        start = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        self._require_built("count_params()")
        return int(sum(layer.count_params() for layer in self.layers))

    # ---------------------------------------------------------------- compute
    def _split_inputs(self, x):
        if len(self._inputs) == 1:
            return [x]
        return _unpack(x, [(s, self.dtype) for s in self._input_shapes])

    def _split_targets(self, y):
        if len(self._outputs) == 1:
            return [y]
        cached = getattr(self, "_split_cache", None)
        if cached is not None and cached[0] is y:
            return cached[1]
        parts = _unpack(y, self._target_layout)
        self._split_cache = (y, parts)
        return parts

    def _run(self, inputs, training):
        """Run every node; return the list of output arrays."""
        values = {id(t): x for t, x in zip(self._inputs, inputs)}
        converted = {}

        def value(tensor, stored):
            """The tensor's value, transposed (once) when the reader needs
            the other storage: channels_last data at the model's boundary."""
            if stored == tensor.stored:
                return values[id(tensor)]
            key = (id(tensor), stored)
            if key not in converted:
                converted[key] = _layout.convert(values[id(tensor)], stored)
            return converted[key]

        for node, cache in zip(self._nodes, self._node_caches):
            layer = node.layer
            if cache is not None:
                layer._cache = cache
            args = ([value(t, w) for t, w in zip(node.inputs, node.wants)] if self._converts
                    else [values[id(t)] for t in node.inputs])
            values[id(node.output)] = layer.forward(args if node.multi else args[0],
                                                    training=training)
        return [value(t, False) for t in self._outputs]

    def _forward(self, x, training=False):
        return self._format_outputs(self._run(self._split_inputs(x), training))

    def _format_outputs(self, outputs):
        if len(outputs) == 1:
            return outputs[0]
        return _pack(outputs, self.dtype) if self._pack_outputs else outputs

    def _inference_outputs(self, inputs):
        """The output arrays for a list of input batches, in inference mode:
        the compiled plan (`pyconv._inference.GraphPlan`, buffers overwritten
        by the next call) unless ``self._compiled_inference`` is False."""
        if getattr(self, "_compiled_inference", True) and self._plan_inputs is not None:
            if self._converts:
                inputs = [_layout.to_nchw(x) if stored else x
                          for x, stored in zip(inputs, self._plan_inputs)]
            outputs = _inference.plan_for(self, [x.shape for x in inputs]).run(inputs)
            return [_layout.to_nhwc(y) if t.stored else y for y, t in zip(outputs, self._outputs)]
        return self._run(inputs, training=False)

    def _inference_forward(self):
        return lambda x: self._format_outputs(self._inference_outputs(self._split_inputs(x)))

    def _fused_losses(self):
        """Per output, how its loss fuses with the layer that made it (see
        `pyconv.training._fusion_kind`); only where nothing else reads the
        tensors involved."""
        if self._fused is None:
            readers = {}
            for node in self._nodes:
                for tensor in node.inputs:
                    readers[id(tensor)] = readers.get(id(tensor), 0) + 1
            for tensor in self._outputs:
                readers[id(tensor)] = readers.get(id(tensor), 0) + 1
            kinds = []
            for tensor, loss in zip(self._outputs, self._losses):
                kind = None
                if not tensor.node.is_input and readers[id(tensor)] == 1 and not tensor.stored:
                    kind = _fusion_kind(tensor.node.layer, loss.fused_activation,
                                        tensor.sample_shape)
                if kind == "skip":
                    source = tensor.node.inputs[0]
                    if source.node.is_input or readers[id(source)] != 1:
                        kind = None
                kinds.append(kind or "")
            self._fused = tuple(kinds)
        return self._fused

    def _backprop(self, output_grads, fused, inputs=False):
        """Backward through every node from the outputs' gradients; leaves
        each trainable layer's weight gradients (summed over its calls) in
        ``layer.grads``. With ``inputs``, returns the gradients of the
        model's inputs (a nested model's input gradient)."""
        grads = {}

        def receive(tensor, grad, stored=None):
            """Add ``grad`` (of the tensor as stored in ``stored``, by default
            as its layer made it) to the tensor's gradient."""
            if stored is not None and stored != tensor.stored:
                grad = _layout.convert(grad, tensor.stored)
            key = id(tensor)
            grads[key] = grad if key not in grads else grads[key] + grad

        skipped, inside = set(), set()
        for tensor, grad, kind in zip(self._outputs, output_grads, fused):
            if kind == "skip":
                skipped.add(id(tensor.node))
                receive(tensor.node.inputs[0], grad, tensor.node.wants[0])
            else:
                if kind == "inside":
                    inside.add(id(tensor.node))
                receive(tensor, grad, False)
        summed = {}
        for position in range(len(self._nodes) - 1, -1, -1):
            node = self._nodes[position]
            grad = grads.pop(id(node.output), None)
            if grad is None or id(node) in skipped:
                continue
            layer, cache = node.layer, self._node_caches[position]
            need = self._needs_input_grad[position] or inputs
            if cache is not None:
                layer._cache = cache
            if id(node) in inside:
                grad_in = layer.backward(grad, need_input_grad=need, pre_activation=True)
            else:
                grad_in = layer.backward(grad, need_input_grad=need)
            if cache is not None:
                previous = summed.get(id(layer))
                summed[id(layer)] = (list(layer.grads) if previous is None
                                     else [a + b for a, b in zip(previous, layer.grads)])
            if need:
                for tensor, g, stored in zip(node.inputs, grad_in if node.multi else [grad_in],
                                             node.wants):
                    if inputs or not tensor.node.is_input:
                        receive(tensor, g, stored)
        for layer in self._layers:
            if id(layer) in summed:
                layer.grads = summed[id(layer)]
        if inputs:
            return [grads[id(t)] if id(t) in grads else np.zeros((len(output_grads[0]),) + s,
                                                                 dtype=self.dtype)
                    for t, s in zip(self._inputs, self._input_shapes)]
        return None

    def _losses_and_grads(self, outputs, y, w, with_grads):
        targets = self._split_targets(y)
        value, grads = 0.0, []
        fused = self._fused_losses() if with_grads else None
        for k, (loss, weight) in enumerate(zip(self._losses, self._loss_weights)):
            value += weight * loss_value(loss, targets[k], outputs[k], w)
            if with_grads:
                grad = loss_gradient(loss, targets[k], outputs[k], w, fused[k])
                grads.append(grad if weight == 1.0 else grad * grad.dtype.type(weight))
        return value + self._regularization_loss(), grads, fused

    def _train_step_body(self, x, y, w, layers, variables):
        outputs = self._run(self._split_inputs(x), training=True)
        value, grads, fused = self._losses_and_grads(outputs, y, w, with_grads=True)
        self._backprop(grads, fused)
        self.optimizer.apply([g for layer in layers for g in layer.grads], variables)
        return value, outputs[0] if len(outputs) == 1 else outputs

    def _test_step(self, x, y, w):
        outputs = self._run(self._split_inputs(x), training=False)
        value, _, _ = self._losses_and_grads(outputs, y, w, with_grads=False)
        return value, outputs[0] if len(outputs) == 1 else outputs

    # -------------------------------------------------------------- compile
    def _per_output(self, value, name, default):
        """``value`` as one entry per output: a list, a dict by output name,
        or one value for every output."""
        n = len(self._outputs)
        if isinstance(value, dict):
            unknown = set(value) - set(self.output_names)
            if unknown:
                fail(ValueError, name, f"a dict keyed by output names {self.output_names}",
                     sorted(unknown))
            return [value.get(k, default) for k in self.output_names]
        if isinstance(value, (list, tuple)) and name != "metrics":
            if len(value) != n:
                fail(ValueError, name, f"one entry per output ({n})", f"{len(value)} entries")
            return list(value)
        return [value if value is not None else default] * n

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Union[Sequence[float], Mapping[str, float], None] = None) -> None:
        """Configure training; see `Sequential.compile`.

        With several outputs, ``loss`` is one loss for all of them, a list
        (one per output) or a dict keyed by output name; ``loss_weights``
        likewise weights them in the total loss; ``metrics`` is a list used
        for every output, a list of lists, or a dict, and each metric is
        logged as ``<output name>_<metric>``.
        """
        losses = self._per_output(loss, "loss", None)
        weights = [float(v) for v in self._per_output(loss_weights, "loss_weights", 1.0)]
        if len(self._outputs) == 1:
            Trainer.compile(self, optimizer, losses[0], metrics)
            self._losses = [self.loss] if self.loss is not None else []
        else:
            Trainer.compile(self, optimizer, None, None)
            if any(v is None for v in losses):
                fail(ValueError, "loss", f"a loss for every output {self.output_names}",
                     loss)
            self._losses = [losses_module.get(v) for v in losses]
            self.loss = self._losses
            if isinstance(metrics, dict):
                per_output = self._per_output(metrics, "metrics", [])
            elif metrics and all(isinstance(m, (list, tuple)) for m in metrics):
                if len(metrics) != len(self._outputs):
                    fail(ValueError, "metrics", f"one list per output ({len(self._outputs)})",
                         f"{len(metrics)} lists")
                per_output = list(metrics)
            else:
                per_output = [metrics or []] * len(self._outputs)
            self.metrics = [_OutputMetric(metrics_module.get(m), k, self.output_names[k], self)
                            for k, ms in enumerate(per_output) for m in ms]
            self._metric_identifiers = [m for ms in per_output for m in ms]
        self._loss_weights = weights

    # ------------------------------------------------------------- data in/out
    def _prepare_x(self, x, name="x"):
        if isinstance(x, dict):
            names = [t.name for t in self._inputs]
            if set(x) != set(names):
                fail(ValueError, name, f"a dict keyed by the input names {names}", sorted(x))
            x = [x[k] for k in names]
        if len(self._inputs) == 1:
            if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
                x = x[0]
            return Trainer._prepare_x(self, x, name)
        n_in = len(self._inputs)
        if not isinstance(x, (list, tuple)) or len(x) != n_in:
            fail(ValueError if isinstance(x, (list, tuple)) else TypeError, name,
                 f"a list of {n_in} arrays, one per input "
                 f"({', '.join(t.name for t in self._inputs)})", type(x).__name__
                 if not isinstance(x, (list, tuple)) else f"{len(x)} items")
        arrays = []
        for k, (item, shape) in enumerate(zip(x, self._input_shapes)):
            array = as_float_array(item, f"{name}[{k}]", dtype=self.dtype)
            if array.shape[1:] != shape or array.ndim != len(shape) + 1 or (
                    arrays and len(array) != len(arrays[0])):
                rows = "n_samples" if not arrays else str(len(arrays[0]))
                fail(ValueError, f"{name}[{k}]", f"an array of shape ({rows}, "
                     f"{', '.join(map(str, shape))})", f"shape {array.shape}")
            arrays.append(array)
        return _pack(arrays, self.dtype)

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, names=("x", "y")):
        if len(self._outputs) == 1:
            if isinstance(y, (list, tuple)) and len(y) == 1 and hasattr(y[0], "shape"):
                y = y[0]
            elif isinstance(y, dict) and len(y) == 1:
                y = next(iter(y.values()))
            return Trainer._prepare_xy(self, x, y, sample_weight, class_weight, names)
        if class_weight is not None:
            fail(ValueError, "class_weight", "None for a model with several outputs (weight "
                 "the samples with sample_weight)", "a dict")
        x = self._prepare_x(x, names[0])
        ys = self._per_output(y, names[1], None) if isinstance(y, (list, tuple, dict)) else None
        if ys is None or any(v is None for v in ys):
            fail(ValueError, names[1], f"a list (or dict) of targets, one per output "
                 f"{self.output_names}", type(y).__name__)
        prepared = []
        for k, (loss, target, shape) in enumerate(zip(self._losses, ys, self._output_shapes)):
            prepared.append(loss.prepare_targets(target, shape, self.dtype, len(x)))
        layout = [(t.shape[1:], t.dtype) for t in prepared]
        if self._target_layout is not None and layout != self._target_layout:
            fail(ValueError, names[1], f"targets laid out as before {self._target_layout}",
                 layout)
        self._target_layout = layout
        weights = None
        if sample_weight is not None:
            weights = losses_module._check_sample_weight(sample_weight, len(x))
        return x, _pack(prepared, np.float64), weights

    def predict(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        """Outputs for ``x`` (a list of arrays for several inputs), in batches.

        Returns an array, or a list of arrays for a model with several outputs.
        """
        if len(self._outputs) == 1:
            y = Trainer.predict(self, x, *args, **kwargs)
            return [y] if self._nested_outputs else y
        self._pack_outputs = True
        try:
            packed = Trainer.predict(self, x, *args, **kwargs)
        finally:
            self._pack_outputs = False
        return _unpack(packed, [(s, self.dtype) for s in self._output_shapes])

    def predict_on_batch(self, x: Any) -> Any:
        """Outputs for one batch, in one forward pass (inference mode)."""
        inputs = self._split_inputs(self._prepare_x(x))
        with blas_single_threaded():
            outputs = [np.array(o, dtype=self.dtype, copy=True)
                       for o in self._inference_outputs(inputs)]
        return outputs if self._nested_outputs else outputs[0]

    def __call__(self, x):
        if is_symbolic(x):
            return self._nest(x)
        return self.predict_on_batch(x)

    # ------------------------------------------------------- used as a layer
    # Called on symbolic tensors, a model becomes one layer of another model
    # (Keras's nested models): below is the `Layer` contract it then follows.
    # It takes its inputs in logical order and trains as a whole; frozen
    # with ``trainable = False``.
    _layout = "plain"
    _nchw_storage = False

    def _nest(self, x):
        if len(self._outputs) != 1:
            fail(ValueError, "outputs", "one output for a model used as a layer",
                 f"{len(self._outputs)} outputs")
        n_in = len(self._inputs)
        if isinstance(x, (list, tuple)) != (n_in > 1) or (n_in > 1 and len(x) != n_in):
            fail(ValueError, "x", f"{n_in} symbolic tensor(s), one per input of model "
                 f"{self.name!r}", f"{len(x) if isinstance(x, (list, tuple)) else 1}")
        self._graph_input_shape = self._layer_input_shape()
        return symbolic_call(self, x)

    def _layer_input_shape(self):
        shapes = [tuple(s) for s in self._input_shapes]
        return shapes if len(shapes) > 1 else shapes[0]

    def _nchw_output_shape(self, input_shape):
        return tuple(self._output_shapes[0])

    compute_output_shape = _nchw_output_shape

    def forward(self, x, training=False):
        """The output for a batch (a list of batches for several inputs)."""
        return self._run(list(x) if len(self._inputs) > 1 else [x], training)[0]

    def backward(self, grad, need_input_grad=True):
        """Gradients of the inputs of the last `forward`; the weights'
        gradients go to `grads`."""
        grads_in = self._backprop([grad], ("",), inputs=need_input_grad)
        if not need_input_grad:
            return None
        return grads_in if len(self._inputs) > 1 else grads_in[0]

    @property
    def grads(self):
        """Gradients of `trainable_weights` from the last `backward`."""
        if not self.trainable:
            return []
        return [g for layer in self.layers if layer.trainable and layer.trainable_weights
                for g in layer.grads]

    @property
    def weight_names(self):
        return [f"{layer.name}/{name}" for layer in self.layers
                for name in getattr(layer, "weight_names", range(len(layer.weights)))]

    def weight_specs(self, input_shape=None):
        """The weights' declarations, layer by layer."""
        return [spec for layer in self.layers for spec, _ in getattr(layer, "_weights", [])]

    def regularization_loss(self):
        """The layers' penalties (0.0 when frozen), as `Layer.regularization_loss`."""
        if not self.trainable:
            return 0.0
        return float(sum(layer.regularization_loss() for layer in self.layers))

    def flops(self, input_shape=None):
        """Floating-point operations of one forward pass on one sample."""
        return self._summary_rows()[3]

    # ----------------------------------------------------------------- summary
    def _summary_rows(self):
        """``(header, rows, aligns, total_flops)`` of the summary table."""
        index, calls = {}, {}
        nodes = [t.node for t in self._inputs] + self._nodes
        for node in nodes:
            k = calls.get(id(node.layer), 0)
            calls[id(node.layer)] = k + 1
            index[id(node)] = k
        rows, total_flops, counted = [], 0, set()
        for node in nodes:
            layer = node.layer
            shape = ([t.sample_shape for t in node.inputs] if node.multi
                     else node.inputs[0].sample_shape if node.inputs else None)
            flops = int(layer.flops(shape)) if node.inputs else 0
            total_flops += flops
            params = 0 if id(layer) in counted or node.is_input else layer.count_params()
            counted.add(id(layer))
            links = ", ".join(f"{t.node.layer.name}[{index[id(t.node)]}][0]"
                              for t in node.inputs) or "-"
            rows.append((f"{layer.name} ({type(layer).__name__})",
                         str(node.output.shape), f"{params:,}", f"{flops:,}", links))
        header = ("Layer (type)", "Output Shape", "Param #", "FLOPs", "Connected to")
        return header, rows, "<<>><", total_flops

    def summary(self, line_length: Optional[int] = None,
                print_fn: Optional[Callable[[str], Any]] = None) -> None:
        """Print a Keras-style table of layers, output shapes, parameters and FLOPs.

        Parameters
        ----------
        line_length : int, optional
            Total width of the table.
        print_fn : callable, optional
            Called with each line instead of ``print``.
        """
        self._require_built("summary()")
        import sys

        from ._progbar import _can_encode

        header, rows, aligns, total_flops = self._summary_rows()
        minimum = (28, 22, 11, 13, 20)
        widths = [max(minimum[i], len(header[i]), *(len(r[i]) for r in rows))
                  for i in range(len(header))]
        if line_length is not None:
            line_length = check_int(line_length, "line_length", min_value=40)
            extra = line_length - (sum(widths) + 3 * len(widths) + 1)
            if extra > 0:
                widths[0] += extra
        unicode = print_fn is not None or _can_encode(sys.stdout, "\u250f\u2501\u2503\u2502")
        if unicode:
            top, mid, bottom = ("\u250f", "\u2533", "\u2513", "\u2501"), \
                ("\u2521", "\u2547", "\u2529", "\u2501"), ("\u2514", "\u2534", "\u2518", "\u2500")
            head_bar, body_bar = "\u2503", "\u2502"
        else:
            top, mid, bottom = ("+", "+", "+", "-"), ("+", "+", "+", "="), ("+", "+", "+", "-")
            head_bar = body_bar = "|"

        def rule(chars):
            left, sep, right, fill = chars
            return left + sep.join(fill * (w + 2) for w in widths) + right

        def row(cells, bar):
            return bar + bar.join(f" {cell:{align}{width}} " for cell, align, width
                                  in zip(cells, aligns, widths)) + bar

        total = sum(w.size * w.itemsize for w in self.weights)
        trainable = sum(w.size * w.itemsize for w in self.trainable_weights)
        n_total = sum(w.size for w in self.weights)
        n_trainable = sum(w.size for w in self.trainable_weights)
        lines = [f'Model: "{self.name}"', rule(top), row(header, head_bar), rule(mid)]
        lines += [row(r, body_bar) for r in rows]
        lines += [rule(bottom),
                  f" Total params: {n_total:,} ({_readable_bytes(total)})",
                  f" Trainable params: {n_trainable:,} ({_readable_bytes(trainable)})",
                  f" Non-trainable params: {n_total - n_trainable:,} "
                  f"({_readable_bytes(total - trainable)})",
                  f" Total FLOPs: {total_flops:,} per sample (forward pass)"]
        emit = print_fn if print_fn is not None else print
        for line in lines:
            emit(line)

    # ------------------------------------------------------------------ config
    def get_config(self):
        """JSON-friendly description of the graph (no weights)."""
        index, calls = {}, {}
        input_nodes = [t.node for t in self._inputs]
        for node in input_nodes + self._nodes:
            k = calls.get(id(node.layer), 0)
            calls[id(node.layer)] = k + 1
            index[id(node)] = [node.layer.name, k]
        layers = [node.layer for node in input_nodes] + self._layers
        return {
            "class_name": "Model",
            "name": self.name,
            "seed": self.seed if isinstance(self.seed, (int, np.integer)) else None,
            "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                       for layer in layers],
            "nodes": [{"layer": node.layer.name, "multi": node.multi,
                       "inputs": [index[id(t.node)] for t in node.inputs]}
                      for node in self._nodes],
            "inputs": [index[id(t.node)] for t in self._inputs],
            "outputs": [index[id(t.node)] for t in self._outputs],
            "nested_inputs": self._nested_inputs,
            "nested_outputs": self._nested_outputs,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None, max_params=None):
        """Rebuild a model (fresh weights) from :meth:`get_config` output.

        With ``max_params``, a graph of more parameters is refused before
        any weight is allocated.
        """
        if not isinstance(config, dict) or not all(
                isinstance(config.get(k), list) for k in ("layers", "nodes", "inputs", "outputs")):
            fail(ValueError, "config", "a dict with 'layers', 'nodes', 'inputs' and 'outputs' "
                 "lists", type(config).__name__)
        layers = {}
        for entry in config["layers"]:
            if not isinstance(entry, dict) or "class_name" not in entry:
                fail(ValueError, "config", "layer entries {'class_name': ..., 'config': ...}",
                     repr(entry))
            layer_cls = _layer_class(entry["class_name"], custom_objects)
            try:
                if issubclass(layer_cls, Model):         # a nested model
                    layer = layer_cls.from_config(dict(entry.get("config") or {}),
                                                  custom_objects=custom_objects)
                else:
                    layer = layer_cls.from_config(dict(entry.get("config") or {}))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Invalid config for layer class {entry['class_name']!r}: "
                                 f"{exc}") from exc
            layers[layer.name] = layer
        tensors = {}
        for name, layer in layers.items():
            tensor = as_tensor(layer) if isinstance(layer, Input) else None
            if tensor is not None:
                tensors[(name, 0)] = tensor

        def lookup(ref):
            key = (str(ref[0]), int(ref[1]))
            if key not in tensors:
                fail(ValueError, "config", "nodes that refer to earlier nodes", repr(ref))
            return tensors[key]

        calls = {}
        for entry in config["nodes"]:
            layer = layers.get(entry["layer"])
            if layer is None:
                fail(ValueError, "config", "nodes of the listed layers", repr(entry["layer"]))
            args = [lookup(ref) for ref in entry["inputs"]]
            output = layer(args if entry.get("multi") else args[0])
            k = calls.get(layer.name, 0)
            calls[layer.name] = k + 1
            tensors[(layer.name, k)] = output
        inputs = [lookup(ref) for ref in config["inputs"]]
        outputs = [lookup(ref) for ref in config["outputs"]]
        if max_params is not None:
            total = sum(_size(spec.shape) for layer in layers.values() if layer.__dict__.get(
                "_graph_input_shape") is not None
                for spec in layer.weight_specs(layer._graph_input_shape))
            if total > max_params:
                raise ValueError(f"the model has {total} parameters, more than `max_params` = "
                                 f"{max_params} allows (raise max_params for a model you "
                                 "trust)")
        model = cls(inputs if config.get("nested_inputs", True) else inputs[0],
                    outputs if config.get("nested_outputs", True) else outputs[0],
                    name=config.get("name"), seed=config.get("seed"))
        if config.get("trainable", True) is False:     # (the layers' own flags are kept)
            model.trainable = False
        return model

    # ------------------------------------------------------------------ saving
    def save(self, filepath: Union[str, bytes, os.PathLike[str]],
             include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings (and optimizer state).

        One zip file holding ``config.json`` and ``.npy`` weights; no pickle.
        Written atomically (temporary file then ``os.replace``).
        """
        saving.save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath: Union[str, bytes, os.PathLike[str]]) -> None:
        """Save the weights only (same file format)."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: Union[str, bytes, os.PathLike[str]]) -> None:
        """Load weights saved by :meth:`save_weights` or :meth:`save` (checked)."""
        saving.load_weights(self, filepath)

    def __getstate__(self):
        state = self.__dict__.copy()
        if "_node_caches" in state:
            state["_node_caches"] = [None if c is None else {} for c in state["_node_caches"]]
        state.pop("_split_cache", None)
        return state

    def __repr__(self):
        return (f"<Model name={self.name!r}, {len(self._inputs)} inputs, {len(self._outputs)} "
                f"outputs, {len(self._layers)} layers>")
