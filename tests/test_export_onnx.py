"""ONNX export: every layer type, run by ONNX Runtime, matches ``model.predict``."""
import numpy as np
import pytest

import pyconv
from pyconv import layers

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _randomize(model, rng):
    """Non-trivial weights everywhere (biases, BN statistics included)."""
    for layer in model.layers:
        layer.set_weights([
            rng.uniform(0.5, 2.0, w.shape).astype(w.dtype) if name == "moving_variance"
            else rng.normal(0, 0.5, w.shape).astype(w.dtype)
            for name, w in zip(layer.weight_names, layer.get_weights())])


def _run_onnx(path, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def _round_trip(model, x, tmp_path):
    path = model.export(tmp_path / "model.onnx", format="onnx")
    onnx.checker.check_model(onnx.load(path))
    expected = model.predict(x, verbose=0)
    actual = _run_onnx(path, x)
    assert actual.shape == expected.shape
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


CASES = {
    "conv_valid": lambda: [layers.Conv2D(4, 3)],
    "conv_same_stride2_relu": lambda: [layers.Conv2D(5, 3, strides=2, padding="same",
                                                     activation="relu")],
    "conv_same_even_kernel": lambda: [layers.Conv2D(3, 4, padding="same")],
    "conv_int_padding_no_bias": lambda: [layers.Conv2D(4, (3, 5), padding=(2, 1),
                                                       use_bias=False)],
    "conv_dilation": lambda: [layers.Conv2D(4, 3, dilation_rate=2, padding="same",
                                            activation="tanh")],
    "conv_groups": lambda: [layers.Conv2D(6, 3, groups=3, activation="sigmoid")],
    "conv_depthwise": lambda: [layers.Conv2D(3, 3, groups=3, padding="same")],
    "conv_depthwise_stride2": lambda: [layers.Conv2D(6, 3, strides=2, groups=3)],
    "conv_reflect": lambda: [layers.Conv2D(4, 3, padding="same", padding_mode="reflect")],
    "conv_replicate": lambda: [layers.Conv2D(4, 3, padding=2, padding_mode="replicate")],
    "conv_circular": lambda: [layers.Conv2D(4, 3, padding="same", padding_mode="circular")],
    "conv_activations": lambda: [
        layers.Conv2D(4, 3, padding="same", activation="leaky_relu"),
        layers.Conv2D(4, 3, padding="same", activation="elu"),
        layers.Conv2D(4, 3, padding="same", activation="gelu"),
        layers.Conv2D(4, 3, padding="same", activation="swish"),
        layers.Conv2D(4, 1, activation="softmax")],
    "maxpool": lambda: [layers.MaxPool2D()],
    "maxpool_stride_overlap": lambda: [layers.MaxPool2D(3, strides=2)],
    "maxpool_same": lambda: [layers.MaxPool2D(3, strides=2, padding="same")],
    "avgpool": lambda: [layers.AvgPool2D()],
    "avgpool_same_asymmetric": lambda: [layers.AvgPool2D(2, strides=2, padding="same")],
    "avgpool_same_3": lambda: [layers.AvgPool2D(3, strides=1, padding="same")],
    "global_avg": lambda: [layers.GlobalAvgPool2D()],
    "global_avg_keepdims": lambda: [layers.GlobalAvgPool2D(keepdims=True)],
    "global_max": lambda: [layers.GlobalMaxPool2D()],
    "global_max_keepdims": lambda: [layers.GlobalMaxPool2D(keepdims=True)],
    "batchnorm_channels": lambda: [layers.Conv2D(4, 3), layers.BatchNormalization()],
    "batchnorm_no_scale_center": lambda: [layers.BatchNormalization(center=False,
                                                                    scale=False)],
    "batchnorm_last_axis": lambda: [layers.BatchNormalization(axis=-1)],
    "batchnorm_dense": lambda: [layers.Flatten(), layers.Dense(6),
                                layers.BatchNormalization()],
    "dropout_removed": lambda: [layers.Conv2D(4, 3), layers.Dropout(0.5)],
    "relu_layer": lambda: [layers.ReLU()],
    "relu_layer_general": lambda: [layers.ReLU(max_value=0.8, negative_slope=0.1,
                                               threshold=0.2)],
    "activation_layers": lambda: [layers.Activation("relu"), layers.Activation("tanh"),
                                  layers.Activation("gelu")],
    "activation_softmax_channels": lambda: [layers.Activation("softmax")],
    "softmax_last_axis": lambda: [layers.Softmax()],
    "softmax_axis_1": lambda: [layers.Softmax(axis=1)],
    "flatten_dense": lambda: [layers.Flatten(), layers.Dense(7, activation="relu"),
                              layers.Dense(3, activation="softmax")],
    "dense_no_bias": lambda: [layers.Flatten(), layers.Dense(5, use_bias=False)],
    "reshape": lambda: [layers.Reshape((3, -1)), layers.Softmax()],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_round_trip(case, rng, tmp_path):
    model = pyconv.Sequential([layers.Input((3, 9, 10))] + CASES[case](), seed=0)
    _randomize(model, rng)
    x = rng.normal(size=(5, 3, 9, 10)).astype(np.float32)
    _round_trip(model, x, tmp_path)


def test_lenet_round_trip_and_batch_is_free(rng, tmp_path):
    model = pyconv.Sequential([
        layers.Conv2D(6, 5, padding="same", activation="relu", input_shape=(1, 28, 28)),
        layers.MaxPool2D(), layers.Conv2D(16, 5, activation="relu"), layers.MaxPool2D(),
        layers.Flatten(), layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"), layers.Dropout(0.2),
        layers.Dense(10, activation="softmax")], seed=0)
    path = pyconv.export_onnx(model, tmp_path / "lenet.onnx")
    for n in (1, 7):
        x = rng.normal(size=(n, 1, 28, 28)).astype(np.float32)
        np.testing.assert_allclose(_run_onnx(path, x), model.predict(x, verbose=0),
                                   rtol=1e-5, atol=1e-5)
    graph = onnx.load(path).graph
    assert "Dropout" not in {node.op_type for node in graph.node}
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert onnx.load(path).opset_import[0].version >= 17


def test_custom_layer_is_refused_by_name(tmp_path):
    class Doubler(layers.Layer):
        def forward(self, x, training=False):
            return 2 * x

    model = pyconv.Sequential([layers.Flatten(input_shape=(2, 3, 3)),
                               Doubler(name="doubler")])
    with pytest.raises(ValueError, match="'doubler'.*Doubler"):
        model.export(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_custom_activation_is_refused_by_name(tmp_path):
    class Square(pyconv.activations.ActivationFunction):
        name = "square"

        def forward(self, x, out=None):
            return np.square(x, out=out)

    model = pyconv.Sequential([layers.Dense(2, activation=Square(), input_shape=(3,),
                                            name="squares")])
    with pytest.raises(ValueError, match="'squares'"):
        pyconv.export_onnx(model, tmp_path / "m.onnx")


# (bad arguments: the export rows of tests/test_bad_input_table.py)


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)
    model = pyconv.Sequential([layers.Dense(2, input_shape=(3,))])
    with pytest.raises(ImportError, match=r"pyconv\[onnx\]"):
        model.export(tmp_path / "m.onnx")


# ------------------------------------------------------------- graph models
def _graph_api():
    if not hasattr(pyconv, "Model") or not hasattr(layers, "Add"):
        pytest.skip("this pyconv has no graph models (pyconv.Model, merge layers)")
    return pyconv.Model


GRAPH_MERGES = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate"]


@pytest.mark.parametrize("merge", GRAPH_MERGES)
def test_graph_merge_round_trip(merge, rng, tmp_path):
    Model = _graph_api()
    inputs = pyconv.Input((3, 8, 8))
    a = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(4, 3, padding="same")(inputs)
    kwargs = {"axis": 1} if merge == "Concatenate" else {}
    merged = getattr(layers, merge)(**kwargs)([a, b])
    outputs = layers.Dense(3)(layers.GlobalAvgPool2D()(merged))
    model = Model(inputs, outputs, seed=0)
    _randomize(model, rng)
    _round_trip(model, rng.normal(size=(4, 3, 8, 8)).astype(np.float32), tmp_path)


def test_residual_block_with_shared_layer_round_trip(rng, tmp_path):
    Model = _graph_api()
    inputs = pyconv.Input((4, 8, 8))
    shared = layers.Conv2D(4, 3, padding="same", activation="relu")
    x = layers.Add()([inputs, shared(inputs)])
    x = layers.Add()([x, shared(x)])                       # the same weights twice
    x = layers.BatchNormalization()(x)
    outputs = layers.Dense(2, activation="softmax")(layers.Flatten()(layers.MaxPool2D()(x)))
    model = Model(inputs, outputs, seed=0)
    _randomize(model, rng)
    _round_trip(model, rng.normal(size=(3, 4, 8, 8)).astype(np.float32), tmp_path)


def test_two_inputs_two_outputs_round_trip(rng, tmp_path):
    Model = _graph_api()
    image, extra = pyconv.Input((1, 6, 6), name="image"), pyconv.Input((3,), name="extra")
    features = layers.Concatenate()([layers.Flatten()(layers.Conv2D(2, 3)(image)), extra])
    first, second = layers.Dense(4)(features), layers.Dense(1, activation="sigmoid")(features)
    model = Model([image, extra], [first, second], seed=0)
    _randomize(model, rng)
    xs = [rng.normal(size=(5, 1, 6, 6)).astype(np.float32),
          rng.normal(size=(5, 3)).astype(np.float32)]
    path = model.export(tmp_path / "two.onnx")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image", "extra"]
    actual = session.run(None, {"image": xs[0], "extra": xs[1]})
    for got, want in zip(actual, model.predict(xs, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


GRAPH_LAYERS = {
    "DepthwiseConv2D": lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
    "Rescaling": lambda: layers.Rescaling(1 / 255, offset=-0.5),
    "ZeroPadding2D": lambda: layers.ZeroPadding2D(((1, 2), (0, 3))),
    "Cropping2D": lambda: layers.Cropping2D(((1, 0), (2, 1))),
    "UpSampling2D": lambda: layers.UpSampling2D((2, 3)),
    "UpSampling2D_bilinear": lambda: layers.UpSampling2D((2, 3), interpolation="bilinear"),
    "SpatialDropout2D": lambda: layers.SpatialDropout2D(0.5),
    "RandomFlip": lambda: layers.RandomFlip(),
    "RandomTranslation": lambda: layers.RandomTranslation(0.1, 0.1),
    "RandomRotation": lambda: layers.RandomRotation(0.1),
    "RandomCrop": lambda: layers.RandomCrop(5, 7),
    "RandomCrop_resized": lambda: layers.RandomCrop(12, 8),     # central window resized
    "LayerNormalization": lambda: layers.LayerNormalization(),
    "LayerNormalization_image": lambda: layers.LayerNormalization(axis=[1, 2, 3]),
    "LayerNormalization_channels": lambda: layers.LayerNormalization(axis=1, center=False),
    "LayerNormalization_rows": lambda: layers.LayerNormalization(axis=2, scale=False),
    "GroupNormalization": lambda: layers.GroupNormalization(groups=3),
    "GroupNormalization_last_axis": lambda: layers.GroupNormalization(groups=5, axis=-1),
    "SeparableConv2D": lambda: layers.SeparableConv2D(4, 3, padding="same",
                                                      depth_multiplier=2, activation="relu"),
    "SeparableConv2D_strided": lambda: layers.SeparableConv2D(4, 3, strides=2,
                                                              use_bias=False),
    "Conv2DTranspose": lambda: layers.Conv2DTranspose(4, 3),
    "Conv2DTranspose_same_stride2": lambda: layers.Conv2DTranspose(4, 3, strides=2,
                                                                   padding="same"),
    "Conv2DTranspose_valid_stride3": lambda: layers.Conv2DTranspose(2, 2, strides=3,
                                                                    activation="tanh"),
    "Conv2DTranspose_output_padding": lambda: layers.Conv2DTranspose(
        3, 3, strides=2, padding="same", output_padding=1),
    "Conv2DTranspose_dilated": lambda: layers.Conv2DTranspose(3, 3, dilation_rate=2,
                                                              use_bias=False),
}


@pytest.mark.parametrize("name", sorted(GRAPH_LAYERS))
def test_graph_era_layer_round_trip(name, rng, tmp_path):
    _graph_api()
    model = pyconv.Sequential([layers.Input((3, 9, 10)), GRAPH_LAYERS[name](),
                               layers.Conv2D(2, 3)], seed=0)
    _randomize(model, rng)
    _round_trip(model, rng.normal(size=(2, 3, 9, 10)).astype(np.float32), tmp_path)


def test_every_layer_type_is_exported():
    """Each layer class pyconv has runs through a round-trip case above
    (only custom layers and activations are left to refuse, by name)."""
    _graph_api()
    made = [make() for make in list(CASES.values()) + list(GRAPH_LAYERS.values())]
    covered = {type(layer) for group in made
               for layer in (group if isinstance(group, list) else [group])}
    covered |= {getattr(layers, name) for name in GRAPH_MERGES} | {layers.Input}
    every = {cls for cls in vars(layers).values()
             if isinstance(cls, type) and issubclass(cls, layers.Layer)
             and cls is not layers.Layer}
    assert sorted(cls.__name__ for cls in every - covered) == []
