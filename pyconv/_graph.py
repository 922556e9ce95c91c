"""Symbolic tensors: how ``layer(inputs)`` records a graph for `pyconv.Model`.

``Input(shape)`` stands for a batch of arrays of that shape. Calling a layer
on it (or on any symbolic tensor, or on a list of them for a merge layer)
computes nothing: it checks the shapes with the layer's
``compute_output_shape`` and returns a new `SymbolicTensor` that remembers
the call as a `Node` (the layer and its input tensors). `pyconv.Model`
walks these nodes back from its outputs to order the computation.

Layers are not built by a symbolic call: the model builds them, in graph
order, from its own random generator (so ``Model(..., seed=0)`` is
reproducible). A layer called on several tensors (a shared layer) must see
the same input shape each time: it owns one set of weights.
"""
import numpy as np

from . import _layout
from ._validation import fail

__all__ = ["SymbolicTensor", "Node", "GraphInput", "is_symbolic", "symbolic_call", "as_tensor",
           "ancestors_in_order"]


class Node:
    """One call of a layer in a graph: ``output = layer(inputs)``.

    ``multi`` records whether the layer was called on a list (merge layers)
    or on one tensor.
    """

    __slots__ = ("layer", "inputs", "output", "multi", "wants", "shapes")

    def __init__(self, layer, inputs, multi, wants=(), shapes=()):
        self.layer = layer
        self.inputs = list(inputs)
        self.multi = bool(multi)
        self.output = None
        # per input: whether the layer gets it as an NCHW array standing for
        # an NHWC tensor (pyconv._layout), and that array's sample shape
        self.wants = list(wants)
        self.shapes = list(shapes)

    @property
    def input_shape(self):
        """The sample shape(s) the layer computes on (a list for ``multi``)."""
        return list(self.shapes) if self.multi else self.shapes[0]

    @property
    def conversions(self):
        """Whether any input must be transposed for this call."""
        return any(w != t.stored for w, t in zip(self.wants, self.inputs))

    @property
    def is_input(self):
        return not self.inputs

    def __repr__(self):
        return f"<Node {self.layer.name} <- {[t.name for t in self.inputs]}>"


class SymbolicTensor:
    """A placeholder for a batch of arrays in a graph under construction.

    Attributes
    ----------
    shape : tuple
        ``(None, *per-sample shape)``, as Keras's ``KerasTensor.shape``
        (NHWC for the images of channels_last layers).
    stored : bool
        Whether the layer making it computes an NHWC tensor as an NCHW array
        (a channels_last image layer; see `pyconv._layout`).
    dtype : numpy.dtype
    name : str
        ``"<layer name>"`` or ``"<layer name>_<k>"`` for a shared layer's
        k-th call.
    """

    __slots__ = ("sample_shape", "dtype", "node", "name", "stored")

    def __init__(self, sample_shape, dtype, node, name, stored=False):
        self.sample_shape = tuple(sample_shape)
        self.dtype = np.dtype(dtype)
        self.node = node
        self.name = name
        self.stored = bool(stored)

    @property
    def shape(self):
        return (None,) + self.sample_shape

    @property
    def ndim(self):
        return len(self.sample_shape) + 1

    def __array__(self, *args, **kwargs):
        raise TypeError(f"The symbolic tensor {self.name!r} holds no values: build a "
                        "pyconv.Model(inputs, outputs) and call predict() on arrays.")

    def __repr__(self):
        return (f"<SymbolicTensor name={self.name!r} shape={self.shape} "
                f"dtype={self.dtype.name}>")


class GraphInput:
    """What starts a graph: `pyconv.layers.Input` inherits it. Its symbolic
    output tensor (one per layer, made on first use) begins every path of
    the graph that reads this input."""

    def symbolic_output(self):
        tensor = self.__dict__.get("_output_tensor")
        if tensor is None:
            node = Node(self, [], multi=False)
            tensor = SymbolicTensor(self.shape, self.dtype, node, self.name)
            node.output = tensor
            self._output_tensor = tensor
        return tensor


def as_tensor(obj):
    """``obj`` as a `SymbolicTensor`: itself, or the output of an ``Input`` layer."""
    if isinstance(obj, SymbolicTensor):
        return obj
    if isinstance(obj, GraphInput):
        return obj.symbolic_output()
    return None


def is_symbolic(x):
    """True for a symbolic tensor, an ``Input`` or a list/tuple holding one."""
    if isinstance(x, (list, tuple)):
        return any(as_tensor(item) is not None for item in x)
    return as_tensor(x) is not None


def symbolic_call(layer, x):
    """Record ``layer(x)`` on symbolic ``x``; return the output tensor."""
    multi = isinstance(x, (list, tuple))
    items = list(x) if multi else [x]
    tensors = [as_tensor(item) for item in items]
    for position, tensor in enumerate(tensors):
        if tensor is None:
            where = f"x[{position}]" if multi else "x"
            fail(TypeError, where, "a symbolic tensor (from pyconv.Input or a layer called "
                 "on one) when other inputs are symbolic", type(items[position]).__name__)
    wants, shapes, stored = _layout.plan_call(layer, [(t.sample_shape, t.stored)
                                                      for t in tensors])
    input_shape = shapes if multi else shapes[0]
    expected = layer.__dict__.get("_graph_input_shape")
    if expected is None and layer.built:
        expected = layer.input_shape
    if expected is not None and _shape_key(expected) != _shape_key(input_shape):
        fail(ValueError, "x", f"inputs of shape {expected} for layer {layer.name!r} (a layer "
             "called again shares its weights, so it needs the same input shape)",
             input_shape)
    output_shape, stored = _layout.output_of(stored, layer._nchw_output_shape(input_shape))
    layer._graph_input_shape = input_shape
    count = layer.__dict__.get("_graph_calls", 0)
    layer._graph_calls = count + 1
    node = Node(layer, tensors, multi, wants, shapes)
    name = layer.name if count == 0 else f"{layer.name}_{count}"
    node.output = SymbolicTensor(output_shape, layer.dtype, node, name, stored)
    return node.output


def _shape_key(shape):
    if shape and isinstance(shape[0], (tuple, list)):
        return tuple(tuple(s) for s in shape)
    return tuple(shape)


def ancestors_in_order(outputs):
    """Every node the ``outputs`` depend on, each after the nodes it reads."""
    order, state = [], {}
    for output in outputs:
        stack = [(output.node, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                if state.get(id(node)) != "done":
                    state[id(node)] = "done"
                    order.append(node)
                continue
            if state.get(id(node)) is not None:
                continue
            state[id(node)] = "open"
            stack.append((node, True))
            for tensor in reversed(node.inputs):
                if state.get(id(tensor.node)) is None:
                    stack.append((tensor.node, False))
    return order
