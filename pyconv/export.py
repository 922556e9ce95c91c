"""ONNX export: a built model as a standard ONNX graph.

``export_onnx(model, path)`` (or ``model.export(path, format="onnx")``)
writes one ONNX file that ONNX Runtime, or any runtime reading opset 17,
runs without pyconv. The graph takes NCHW input with a free batch axis
(``"batch"``) and computes what ``model.predict`` computes: inference mode,
so Dropout is left out and BatchNormalization uses its moving statistics.

Each pyconv layer class has one converter below; a layer without one
(a custom layer, an activation defined outside pyconv) is refused with a
``ValueError`` naming it, before anything is written. The ``onnx`` package
is an optional extra: ``pip install "pyconv[onnx]"``. See `export_onnx`.
"""
import math
import os

import numpy as np

from . import activations as _activations
from ._validation import check_choice, check_int, fail

__all__ = ["export_onnx", "OPSET"]

#: The opset written unless a layer needs a newer one (circular padding: 19).
OPSET = 17


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("ONNX export needs the optional `onnx` package: "
                          "pip install 'pyconv[onnx]' (or pip install onnx)") from exc
    return onnx


class _GraphBuilder:
    """Collects nodes and constant tensors under unique names."""

    def __init__(self, onnx, dtype):
        self.onnx = onnx
        self.dtype = np.dtype(dtype)
        self.nodes = []
        self.initializers = []
        self.opset = OPSET
        self._names = set()

    def name(self, hint):
        base, k = hint, 1
        while hint in self._names:
            hint = f"{base}_{k}"
            k += 1
        self._names.add(hint)
        return hint

    def const(self, hint, value, dtype=None):
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(
            np.ascontiguousarray(array), name))
        return name

    def scalar(self, hint, value):
        return self.const(hint, np.array(value))

    def node(self, op, inputs, hint, **attributes):
        output = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output],
                                                     name=output, **attributes))
        return output


# ------------------------------------------------------------------ activations
def _activation(b, act, x, hint, owner):
    """Emit ``act`` applied to ``x``; return the output name."""
    kind = type(act)
    if kind is _activations._Linear:
        return x
    if kind is _activations._ReLU:
        return b.node("Relu", [x], hint)
    if kind is _activations._Sigmoid:
        return b.node("Sigmoid", [x], hint)
    if kind is _activations._Tanh:
        return b.node("Tanh", [x], hint)
    if kind is _activations._Softmax:
        return b.node("Softmax", [x], hint, axis=int(act.axis))
    if kind is _activations._LeakyReLU:
        return b.node("LeakyRelu", [x], hint, alpha=float(act.negative_slope))
    if kind is _activations._ELU:
        return b.node("Elu", [x], hint, alpha=float(act.alpha))
    if kind is _activations._Swish:
        return b.node("Mul", [x, b.node("Sigmoid", [x], hint + "_sigmoid")], hint)
    if kind is _activations._GELU:
        half = b.node("Mul", [x, b.scalar(hint + "_half", 0.5)], hint + "_halfx")
        if act.approximate:
            cube = b.node("Mul", [b.node("Mul", [x, x], hint + "_sq"), x], hint + "_cube")
            inner = b.node("Add", [x, b.node("Mul", [cube, b.scalar(hint + "_k", 0.044715)],
                                             hint + "_kcube")], hint + "_inner")
            scaled = b.node("Mul", [inner, b.scalar(hint + "_c", math.sqrt(2 / math.pi))],
                            hint + "_scaled")
            gate = b.node("Tanh", [scaled], hint + "_tanh")
        else:
            scaled = b.node("Div", [x, b.scalar(hint + "_sqrt2", math.sqrt(2))], hint + "_div")
            gate = b.node("Erf", [scaled], hint + "_erf")
        one_plus = b.node("Add", [gate, b.scalar(hint + "_one", 1.0)], hint + "_gate")
        return b.node("Mul", [half, one_plus], hint)
    fail(ValueError, "model", f"layers whose activations ONNX export knows (linear, relu, "
         f"sigmoid, tanh, softmax, leaky_relu, elu, gelu, swish); layer {owner.name!r} "
         f"({type(owner).__name__}) uses", repr(act))


# ------------------------------------------------------------------- converters
def _conv2d(b, layer, x, shape):
    (top, bottom), (left, right) = (layer._pads if layer._pads is not None
                                    else layer.explicit_padding(shape))
    hint = layer.name
    if layer.padding_mode != "zeros" and top + bottom + left + right:
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[layer.padding_mode]
        if mode == "wrap":
            b.opset = max(b.opset, 19)
        pads = b.const(hint + "_pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
        x = b.node("Pad", [x, pads], hint + "_pad", mode=mode)
        top = bottom = left = right = 0
    inputs = [x, b.const(hint + "_kernel", layer.kernel)]
    if layer.use_bias:
        inputs.append(b.const(hint + "_bias", layer.bias))
    y = b.node("Conv", inputs, hint + "_conv", kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=[top, left, bottom, right], group=int(layer.groups))
    return _activation(b, layer.activation, y, hint, layer)


def _dense(b, layer, x, shape):
    inputs = [x, b.const(layer.name + "_kernel", layer.kernel)]
    if layer.use_bias:
        inputs.append(b.const(layer.name + "_bias", layer.bias))
    y = b.node("Gemm", inputs, layer.name + "_gemm")
    return _activation(b, layer.activation, y, layer.name, layer)


def _pool_pads(layer, shape):
    (top, bottom), (left, right) = (layer._pads if layer._pads is not None
                                    else layer.explicit_padding(shape))
    return [top, left, bottom, right]


def _max_pool(b, layer, x, shape):
    return b.node("MaxPool", [x], layer.name, kernel_shape=list(layer.pool_size),
                  strides=list(layer.strides), pads=_pool_pads(layer, shape))


def _avg_pool(b, layer, x, shape):
    # count_include_pad=0: a window averages its real inputs only, as the layer.
    return b.node("AveragePool", [x], layer.name, kernel_shape=list(layer.pool_size),
                  strides=list(layer.strides), pads=_pool_pads(layer, shape),
                  count_include_pad=0)


def _global_pool(op):
    def convert(b, layer, x, shape):
        y = b.node(op, [x], layer.name + ("" if layer.keepdims else "_keepdims"))
        return y if layer.keepdims else b.node("Flatten", [y], layer.name, axis=1)
    return convert


def _batch_norm(b, layer, x, shape):
    axis = layer._feature_axis(shape)
    features = shape[axis - 1]
    gamma = layer.gamma if layer.gamma is not None else np.ones(features)
    beta = layer.beta if layer.beta is not None else np.zeros(features)
    if axis == 1:
        return b.node("BatchNormalization",
                      [x, b.const(layer.name + "_gamma", gamma),
                       b.const(layer.name + "_beta", beta),
                       b.const(layer.name + "_mean", layer.moving_mean),
                       b.const(layer.name + "_variance", layer.moving_variance)],
                      layer.name, epsilon=float(layer.epsilon))
    # Another feature axis: the same affine map, y = x * scale + shift.
    t = layer.dtype.type
    scale = gamma / np.sqrt(layer.moving_variance + t(layer.epsilon))
    shift = beta - layer.moving_mean * scale
    param_shape = [1] * (len(shape) + 1)
    param_shape[axis] = features
    y = b.node("Mul", [x, b.const(layer.name + "_scale", scale.reshape(param_shape))],
               layer.name + "_mul")
    return b.node("Add", [y, b.const(layer.name + "_shift", shift.reshape(param_shape))],
                  layer.name)


def _relu_layer(b, layer, x, shape):
    if layer._plain:
        return b.node("Relu", [x], layer.name)
    hint = layer.name
    threshold = b.scalar(hint + "_threshold", layer.threshold)
    if layer.negative_slope == 0:
        below = b.scalar(hint + "_zero", 0.0)
    else:
        shifted = b.node("Sub", [x, threshold], hint + "_shifted")
        below = b.node("Mul", [shifted, b.scalar(hint + "_slope", layer.negative_slope)],
                       hint + "_below")
    above = b.node("GreaterOrEqual", [x, threshold], hint + "_above")
    y = b.node("Where", [above, x, below], hint + ("_where" if layer.max_value is not None
                                                    else ""))
    if layer.max_value is None:
        return y
    return b.node("Min", [y, b.scalar(hint + "_max", layer.max_value)], hint)


def _flatten(b, layer, x, shape):
    return b.node("Flatten", [x], layer.name, axis=1)


def _reshape(b, layer, x, shape):
    target = b.const(layer.name + "_shape", (0,) + tuple(layer._nchw_output_shape(shape)),
                     np.int64)
    return b.node("Reshape", [x, target], layer.name)


def _activation_layer(b, layer, x, shape):
    return _activation(b, layer.activation, x, layer.name, layer)


def _softmax_layer(b, layer, x, shape):
    return b.node("Softmax", [x], layer.name, axis=int(layer.axis))


def _identity(b, layer, x, shape):
    return x


def _merge(op):
    def convert(b, layer, xs, shapes):
        return b.node(op, xs, layer.name)
    return convert


def _subtract(b, layer, xs, shapes):
    return b.node("Sub", xs, layer.name)


def _concatenate(b, layer, xs, shapes):
    return b.node("Concat", xs, layer.name, axis=layer._sample_axis(len(shapes[0])) + 1)


def _rescaling(b, layer, x, shape):
    y = b.node("Mul", [x, b.scalar(layer.name + "_scale", layer.scale)], layer.name + "_mul")
    return b.node("Add", [y, b.scalar(layer.name + "_offset", layer.offset)], layer.name)


def _zero_padding(b, layer, x, shape):
    (top, bottom), (left, right) = layer.padding
    pads = b.const(layer.name + "_pads", [0, 0, top, left, 0, 0, bottom, right], np.int64)
    return b.node("Pad", [x, pads], layer.name, mode="constant")


def _cropping(b, layer, x, shape):
    (top, bottom), (left, right) = layer.cropping
    _, h, w = shape
    starts = b.const(layer.name + "_starts", [top, left], np.int64)
    ends = b.const(layer.name + "_ends", [h - bottom, w - right], np.int64)
    axes = b.const(layer.name + "_axes", [2, 3], np.int64)
    return b.node("Slice", [x, starts, ends, axes], layer.name)


def _up_sampling(b, layer, x, shape):
    scales = b.const(layer.name + "_scales", [1, 1, *layer.size], np.float32)
    if layer.interpolation == "bilinear":
        return _bilinear_resize(b, x, ["", scales], layer.name)
    return b.node("Resize", [x, "", scales], layer.name, mode="nearest",
                  coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def _bilinear_resize(b, x, roi_scales_sizes, hint):
    """Bilinear resizing with half-pixel centres (``align_corners=False``), as
    pyconv's and Keras's."""
    return b.node("Resize", [x] + roi_scales_sizes, hint, mode="linear",
                  coordinate_transformation_mode="half_pixel")


def _random_crop(b, layer, x, shape):
    # At inference: the central window, resized to the target when smaller.
    _, h, w = shape
    top, left, rows, cols = layer._central_window(h, w)
    hint = layer.name
    resized = (rows, cols) != (layer.height, layer.width)
    starts = b.const(hint + "_starts", [top, left], np.int64)
    ends = b.const(hint + "_ends", [top + rows, left + cols], np.int64)
    axes = b.const(hint + "_axes", [2, 3], np.int64)
    y = b.node("Slice", [x, starts, ends, axes], hint + ("_window" if resized else ""))
    if not resized:
        return y
    # Resize's sizes name every axis: the batch and channels from the window's shape.
    batch_channels = b.node("Slice", [b.node("Shape", [y], hint + "_shape"),
                                      b.const(hint + "_zero", [0], np.int64),
                                      b.const(hint + "_two", [2], np.int64)], hint + "_nc")
    sizes = b.node("Concat", [batch_channels, b.const(hint + "_hw", [layer.height, layer.width],
                                                      np.int64)], hint + "_sizes", axis=0)
    return _bilinear_resize(b, y, ["", "", sizes], hint)


def _affine_params(b, layer, x, shape, axes):
    """``x * gamma + beta`` of a normalisation layer (weights shaped to
    broadcast over a batch of ``shape``, the parameters on ``axes``)."""
    param_shape = [1] * (len(shape) + 1)
    for a in axes:
        param_shape[a + 1] = shape[a]
    if layer.scale:
        x = b.node("Mul", [x, b.const(layer.name + "_gamma",
                                      layer.weights[0].reshape(param_shape))],
                   layer.name + ("_scaled" if layer.center else ""))
    if layer.center:
        x = b.node("Add", [x, b.const(layer.name + "_beta",
                                      layer.weights[-1].reshape(param_shape))], layer.name)
    return x


def _layer_norm(b, layer, x, shape):
    axes = layer._param_axes(shape)
    hint = layer.name
    if axes == list(range(axes[0], len(shape))):       # trailing axes: the ONNX operator
        ones = np.ones([shape[a] for a in axes])
        scale = layer.weights[0] if layer.scale else ones
        inputs = [x, b.const(hint + "_gamma", scale)]
        if layer.center:
            inputs.append(b.const(hint + "_beta", layer.weights[-1]))
        return b.node("LayerNormalization", inputs, hint, axis=axes[0] + 1,
                      epsilon=float(layer.epsilon))
    # Other axes: (x - mean) / sqrt(variance + epsilon), means over the axes.
    onnx_axes = [a + 1 for a in axes]
    mean = b.node("ReduceMean", [x], hint + "_mean", axes=onnx_axes, keepdims=1)
    centered = b.node("Sub", [x, mean], hint + "_centered")
    variance = b.node("ReduceMean", [b.node("Mul", [centered, centered], hint + "_squared")],
                      hint + "_variance", axes=onnx_axes, keepdims=1)
    std = b.node("Sqrt", [b.node("Add", [variance, b.scalar(hint + "_epsilon", layer.epsilon)],
                                 hint + "_variance_eps")], hint + "_std")
    y = b.node("Div", [centered, std], hint + ("_standardized"
                                               if layer.scale or layer.center else ""))
    return _affine_params(b, layer, y, shape, axes)


def _group_norm(b, layer, x, shape):
    (axis,) = layer._param_axes(shape)
    hint = layer.name
    moved = list(shape)
    if axis != 0:                  # channels to axis 1, and back after
        perm = [0, axis + 1] + [a + 1 for a in range(len(shape)) if a != axis]
        x = b.node("Transpose", [x], hint + "_channels_first", perm=perm)
        moved = [shape[axis]] + [shape[a] for a in range(len(shape)) if a != axis]
    groups = layer.groups
    grouped = b.node("Reshape", [x, b.const(hint + "_groups", [0, groups, -1], np.int64)],
                     hint + "_grouped")
    # InstanceNormalization of (N, groups, rest): each group of each sample.
    y = b.node("InstanceNormalization",
               [grouped, b.const(hint + "_ones", np.ones(groups)),
                b.const(hint + "_zeros", np.zeros(groups))],
               hint + "_normalized", epsilon=float(layer.epsilon))
    y = b.node("Reshape", [y, b.const(hint + "_moved_shape", [0] + moved, np.int64)],
               hint + "_ungrouped")
    if axis != 0:
        inverse = list(np.argsort(perm))
        y = b.node("Transpose", [y], hint + "_back", perm=[int(p) for p in inverse])
    return _affine_params(b, layer, y, shape, [axis])


def _separable_conv(b, layer, x, shape):
    depthwise = layer._depthwise
    (top, bottom), (left, right) = depthwise.explicit_padding(shape)
    hint = layer.name
    middle = b.node("Conv", [x, b.const(hint + "_depthwise_kernel", layer.weights[0])],
                    hint + "_depthwise", kernel_shape=list(depthwise.kernel_size),
                    strides=list(depthwise.strides), dilations=list(depthwise.dilation_rate),
                    pads=[top, left, bottom, right], group=int(shape[0]))
    inputs = [middle, b.const(hint + "_pointwise_kernel", layer.weights[1])]
    if layer.use_bias:
        inputs.append(b.const(hint + "_bias", layer.weights[2]))
    y = b.node("Conv", inputs, hint + "_pointwise", kernel_shape=[1, 1])
    return _activation(b, layer.activation, y, hint, layer)


def _conv_transpose(b, layer, x, shape):
    # Crops of the full output become pads; a negative far crop (zeros
    # beyond the full output: bias only) is ConvTranspose's output_padding.
    (top, bottom), (left, right) = layer._crops
    hint = layer.name
    inputs = [x, b.const(hint + "_kernel", layer.weights[0])]
    if layer.use_bias:
        inputs.append(b.const(hint + "_bias", layer.weights[1]))
    y = b.node("ConvTranspose", inputs, hint + "_conv_transpose",
               kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
               dilations=list(layer.dilation_rate),
               pads=[top, left, max(bottom, 0), max(right, 0)],
               output_padding=[max(-bottom, 0), max(-right, 0)])
    return _activation(b, layer.activation, y, hint, layer)


# By class name, the layers a pyconv may lack (graph-era layers, merges,
# inference-time identities): the ones this pyconv has are exported.
_BY_NAME = {
    "DepthwiseConv2D": _conv2d,
    "Add": _merge("Sum"), "Average": _merge("Mean"), "Maximum": _merge("Max"),
    "Multiply": _merge("Mul"), "Subtract": _subtract, "Concatenate": _concatenate,
    "Rescaling": _rescaling, "ZeroPadding2D": _zero_padding, "Cropping2D": _cropping,
    "UpSampling2D": _up_sampling, "RandomCrop": _random_crop,
    "LayerNormalization": _layer_norm, "GroupNormalization": _group_norm,
    "SeparableConv2D": _separable_conv, "Conv2DTranspose": _conv_transpose,
    # identity at inference
    "SpatialDropout2D": _identity, "RandomFlip": _identity, "RandomTranslation": _identity,
    "RandomRotation": _identity,
}


def _converters():
    from . import layers as L

    table = {getattr(L, name): convert for name, convert in _BY_NAME.items()
             if hasattr(L, name)}
    table.update({
        L.Conv2D: _conv2d,
        L.Dense: _dense,
        L.MaxPool2D: _max_pool,
        L.AvgPool2D: _avg_pool,
        L.GlobalAvgPool2D: _global_pool("GlobalAveragePool"),
        L.GlobalMaxPool2D: _global_pool("GlobalMaxPool"),
        L.BatchNormalization: _batch_norm,
        L.ReLU: _relu_layer,
        L.Activation: _activation_layer,
        L.Softmax: _softmax_layer,
        L.Flatten: _flatten,
        L.Reshape: _reshape,
        L.Dropout: _identity,       # identity at inference
        L.Input: _identity,
    })
    return table


def _calls(model):
    """The model as ``(inputs, calls, outputs)``: input ``(key, name, sample
    shape)``s, calls ``(layer, input keys, input shape(s), output key)`` in
    order (a list of keys and shapes for a merge layer), output keys."""
    if hasattr(model, "_nodes"):                       # a graph Model
        inputs = [(id(t), t.node.layer.name, tuple(t.sample_shape)) for t in model._inputs]
        calls = []
        for node in model._nodes:
            keys = [id(t) for t in node.inputs]
            shapes = [tuple(t.sample_shape) for t in node.inputs]
            if not node.multi:
                keys, shapes = keys[0], shapes[0]
            calls.append((node.layer, keys, shapes, id(node.output)))
        return inputs, calls, [id(t) for t in model._outputs]
    shape, calls = tuple(model._input_shape), []
    for index, layer in enumerate(model.layers):
        calls.append((layer, index, shape, index + 1))
        shape = tuple(layer._nchw_output_shape(shape))
    return [(0, "input", tuple(model._input_shape))], calls, [len(calls)]


def _converter_for(layer, table):
    converter = table.get(type(layer))
    if converter is None:
        fail(ValueError, "model", "made of layers ONNX export knows (pyconv's built-in "
             f"layers: {', '.join(sorted(cls.__name__ for cls in table))}); layer "
             f"{layer.name!r} is a", type(layer).__name__)
    return converter


def export_onnx(model, path, opset=None):
    """Write ``model`` as an ONNX file that computes ``model.predict``.

    Parameters
    ----------
    model : Sequential or Model
        A built model. A graph model's inputs keep their ``Input`` names
        (a Sequential's is ``"input"``); one output is ``"output"``, several
        are ``"output_0"``, ``"output_1"``, ...
    path : str or path-like
        Where to write (the usual suffix is ``.onnx``).
    opset : int, optional
        The ONNX opset to declare, at least 17 (the default) and at least
        19 when a convolution uses ``padding_mode="circular"``.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ImportError
        Without the ``onnx`` package (``pip install "pyconv[onnx]"``).
    ValueError
        For an unbuilt model or a layer ONNX export does not know (named).

    Examples
    --------
    >>> import os, tempfile
    >>> import onnx
    >>> import pyconv
    >>> from pyconv import layers
    >>> model = pyconv.Sequential([
    ...     layers.Conv2D(4, 3, activation="relu", input_shape=(1, 8, 8)),
    ...     layers.BatchNormalization(), layers.Flatten(), layers.Dropout(0.5),
    ...     layers.Dense(2, activation="softmax")], seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     graph = onnx.load(pyconv.export_onnx(model, os.path.join(tmp, "m.onnx"))).graph
    >>> [node.op_type for node in graph.node]
    ['Conv', 'Relu', 'BatchNormalization', 'Flatten', 'Gemm', 'Softmax']
    >>> [dim.dim_param or dim.dim_value for dim in graph.input[0].type.tensor_type.shape.dim]
    ['batch', 1, 8, 8]

    ONNX Runtime (``onnxruntime.InferenceSession(path).run(None, {"input": x})``)
    then returns ``model.predict(x)`` to float32 rounding.
    """
    onnx = _require_onnx()
    if not getattr(model, "built", False):
        fail(ValueError, "model", "a built model (build it, or give the first layer "
             "input_shape=, before exporting)", repr(model))
    if any(getattr(layer, "data_format", None) == "channels_last" for layer in model.layers):
        fail(ValueError, "model", "channels_first layers (the ONNX graph would take NCHW "
             "arrays; export of channels_last models is not written yet)",
             "a model with channels_last layers")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if opset is not None:
        opset = check_int(opset, "opset", min_value=OPSET)
    table = _converters()
    inputs, calls, outputs = _calls(model)
    converters = [_converter_for(layer, table) for layer, *_ in calls]
    b = _GraphBuilder(onnx, model.dtype)
    elem = onnx.helper.np_dtype_to_tensor_dtype(b.dtype)
    names = {}
    for key, name, _ in inputs:
        names[key] = b.name(name)
    for (layer, keys, shapes, out), convert in zip(calls, converters):
        x = [names[k] for k in keys] if isinstance(keys, list) else names[keys]
        names[out] = convert(b, layer, x, shapes)
    if opset is not None and opset < b.opset:
        fail(ValueError, "opset", f"at least {b.opset} for this model (circular padding "
             "needs Pad's wrap mode)", opset)
    output_names = []
    for position, key in enumerate(outputs):
        wanted = b.name("output" if len(outputs) == 1 else f"output_{position}")
        produced = names[key]
        last = next((node for node in b.nodes if node.output[0] == produced), None)
        if last is None or produced in output_names:   # an input, or one tensor twice
            b.nodes.append(onnx.helper.make_node("Identity", [produced], [wanted], name=wanted))
        else:                                          # the node that made it writes it
            last.output[0] = wanted
            for node in b.nodes:                       # (and its readers follow)
                node.input[:] = [wanted if i == produced else i for i in node.input]
            names = {k: (wanted if v == produced else v) for k, v in names.items()}
        output_names.append(wanted)
    in_shapes = {key: shape for key, _, shape in inputs}
    out_shapes = ([t.sample_shape for t in model._outputs] if hasattr(model, "_nodes")
                  else [model._output_shape])
    graph = onnx.helper.make_graph(
        b.nodes, model.name,
        [onnx.helper.make_tensor_value_info(names[key], elem, ["batch"] + list(in_shapes[key]))
         for key, _, _ in inputs],
        [onnx.helper.make_tensor_value_info(name, elem, ["batch"] + list(shape))
         for name, shape in zip(output_names, out_shapes)],
        initializer=b.initializers)
    proto = onnx.helper.make_model(
        graph, producer_name="pyconv",
        opset_imports=[onnx.helper.make_opsetid("", opset or b.opset)])
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return path


def export(model, path, format="onnx", **kwargs):
    """``model.export(path, format="onnx")``: see `export_onnx`."""
    check_choice(format, "format", ("onnx",))
    return export_onnx(model, path, **kwargs)
