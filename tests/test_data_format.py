"""``data_format="channels_last"``: NHWC shapes and arrays outside, NCHW kernels
inside. Keras 3 parity for channels_last layers and a small model (same
weights), channels_last models against the same channels_first ones on
transposed data, the global default, saving, and where the transposes happen.
"""
import os
import warnings

import numpy as np
import pytest

import pyconv
from pyconv import _layout, layers
from _keras_parity import keras_module, to_keras_layout

CL = "channels_last"


@pytest.fixture
def global_channels_last():
    pyconv.config.set_image_data_format(CL)
    yield
    pyconv.config.set_image_data_format("channels_first")


def _keras_cl_output(layer, x, weights=None):
    keras = keras_module()
    layer.build((None,) + tuple(x.shape[1:]))
    if weights:
        layer.set_weights([np.asarray(w) for w in weights])
    return keras.ops.convert_to_numpy(layer(x, training=False))


def _cases(K):
    f64 = {"dtype": "float64", "data_format": CL}
    return {
        "conv": (layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", **f64),
                 K.Conv2D(4, 3, strides=2, padding="same", activation="relu", **f64)),
        "conv_dilated": (layers.Conv2D(3, (2, 3), dilation_rate=2, **f64),
                         K.Conv2D(3, (2, 3), dilation_rate=2, **f64)),
        "depthwise": (layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, **f64),
                      K.DepthwiseConv2D(3, padding="same", depth_multiplier=2, **f64)),
        "separable": (layers.SeparableConv2D(5, 3, depth_multiplier=2, **f64),
                      K.SeparableConv2D(5, 3, depth_multiplier=2, **f64)),
        "conv_transpose": (layers.Conv2DTranspose(2, 3, strides=2, padding="same", **f64),
                           K.Conv2DTranspose(2, 3, strides=2, padding="same", **f64)),
        "max_pool": (layers.MaxPool2D(2, **f64), K.MaxPooling2D(2, **f64)),
        "avg_pool": (layers.AvgPool2D(3, strides=2, **f64),
                     K.AveragePooling2D(3, strides=2, **f64)),
        "global_avg_keepdims": (layers.GlobalAvgPool2D(keepdims=True, **f64),
                                K.GlobalAveragePooling2D(keepdims=True, **f64)),
        "global_max": (layers.GlobalMaxPool2D(**f64), K.GlobalMaxPooling2D(**f64)),
        "upsampling_bilinear": (layers.UpSampling2D(2, interpolation="bilinear", **f64),
                                K.UpSampling2D(2, interpolation="bilinear", **f64)),
        "zero_padding": (layers.ZeroPadding2D(((1, 2), (3, 0)), **f64),
                         K.ZeroPadding2D(((1, 2), (3, 0)), **f64)),
        "cropping": (layers.Cropping2D(((1, 0), (0, 2)), **f64),
                     K.Cropping2D(((1, 0), (0, 2)), **f64)),
        "flatten": (layers.Flatten(**f64), K.Flatten(**f64)),
        "batch_norm": (layers.BatchNormalization(axis=-1, dtype="float64"),
                       K.BatchNormalization(axis=-1, dtype="float64")),
        "group_norm": (layers.GroupNormalization(2, axis=-1, dtype="float64"),
                       K.GroupNormalization(2, axis=-1, dtype="float64")),
    }


CASES = ["conv", "conv_dilated", "depthwise", "separable", "conv_transpose", "max_pool",
         "avg_pool", "global_avg_keepdims", "global_max", "upsampling_bilinear",
         "zero_padding", "cropping", "flatten", "batch_norm", "group_norm"]


@pytest.mark.parametrize("name", CASES)
def test_channels_last_layer_matches_keras(name, rng):
    keras = keras_module()
    ours, theirs = _cases(keras.layers)[name]
    x = rng.standard_normal((2, 7, 6, 4))                # NHWC
    actual = ours(x)                                     # eager, NHWC in and out
    if ours.weights:
        ours.set_weights([w + rng.uniform(0.1, 0.5, w.shape) for w in ours.weights])
        actual = ours(x)
    expected = _keras_cl_output(theirs, x, to_keras_layout(ours))
    assert actual.shape == expected.shape
    assert ours.compute_output_shape(x.shape[1:]) == expected.shape[1:]
    assert ours.compute_output_shape((None,) + x.shape[1:]) == \
        tuple(theirs.compute_output_shape((None,) + x.shape[1:]))
    # Keras normalises and takes global means in float32
    tolerance = 1e-5 if "norm" in name or "global" in name else 1e-10
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


def _small_cnn(K, data_format, dtype="float64"):
    """The same small CNN in Keras (``K`` = keras.layers) or pyconv."""
    Input = K.Input if K is not layers else pyconv.Input
    shape = (9, 9, 3) if data_format == CL else (3, 9, 9)
    axis = -1 if data_format == CL else 1
    kw = {"data_format": data_format, "dtype": dtype}
    inputs = Input(shape=shape)
    x = K.Conv2D(6, 3, padding="same", **kw)(inputs)
    x = K.BatchNormalization(axis=axis, dtype=dtype)(x)
    x = K.ReLU(dtype=dtype)(x)
    y = K.Conv2D(6, 3, padding="same", activation="relu", **kw)(x)
    x = K.Add(dtype=dtype)([x, y])
    x = K.Concatenate(axis=axis, dtype=dtype)([x, K.Conv2D(2, 1, **kw)(x)])
    x = K.MaxPooling2D(2, **kw)(x) if K is not layers else K.MaxPool2D(2, **kw)(x)
    x = K.Flatten(**kw)(x)
    outputs = K.Dense(3, dtype=dtype)(x)
    return inputs, outputs


def test_channels_last_model_matches_keras(rng):
    keras = keras_module()
    ours = pyconv.Model(*_small_cnn(layers, CL), seed=0)
    theirs = keras.Model(*_small_cnn(keras.layers, CL))
    for layer in ours.layers:
        if isinstance(layer, layers.BatchNormalization):   # moving statistics of some batches
            layer.set_weights([w + rng.uniform(0.1, 0.5, w.shape) for w in layer.weights])
    weights = [w for layer in ours.layers for w in to_keras_layout(layer)]
    theirs.set_weights(weights)           # Dense after Flatten: same kernel (HWC order)
    x = rng.standard_normal((5, 9, 9, 3))
    expected = keras.ops.convert_to_numpy(theirs(x, training=False))
    # Keras normalises in float32 even for float64 layers
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    assert ours.output_shape == (None, 3) and ours.input_shape == (None, 9, 9, 3)


def _resnet(data_format, seed=0, sequential_head=False):
    """keras.io's small ResNet pattern (conv-BN-ReLU stem, residual blocks
    with a strided projection shortcut, global pooling), written for
    either data format."""
    axis = -1 if data_format == CL else 1
    conv = dict(padding="same", data_format=data_format, dtype="float64")
    inputs = pyconv.Input((10, 10, 3) if data_format == CL else (3, 10, 10))
    x = layers.Conv2D(8, 3, **conv)(inputs)
    x = layers.BatchNormalization(axis=axis, dtype="float64")(x)
    x = layers.Activation("relu", dtype="float64")(x)
    for filters, strides in ((8, 1), (12, 2)):
        shortcut = x
        y = layers.Conv2D(filters, 3, strides=strides, **conv)(x)
        y = layers.BatchNormalization(axis=axis, dtype="float64")(y)
        y = layers.Activation("relu", dtype="float64")(y)
        y = layers.Conv2D(filters, 3, **conv)(y)
        y = layers.BatchNormalization(axis=axis, dtype="float64")(y)
        if strides != 1:
            shortcut = layers.Conv2D(filters, 1, strides=strides, **conv)(shortcut)
        x = layers.Activation("relu", dtype="float64")(layers.Add(dtype="float64")([shortcut,
                                                                                     y]))
    x = layers.GlobalAvgPool2D(data_format=data_format, dtype="float64")(x)
    outputs = layers.Dense(4, activation="softmax", dtype="float64")(x)
    return pyconv.Model(inputs, outputs, seed=seed)


def test_channels_last_sequential_matches_keras(rng):
    keras = keras_module()
    kw = {"data_format": CL, "dtype": "float64"}

    def stack(K):
        return [K.Conv2D(4, 3, activation="relu", **kw),
                K.MaxPooling2D(2, **kw) if K is not layers else K.MaxPool2D(2, **kw),
                K.Flatten(**kw), K.Dense(3, dtype="float64")]

    ours = pyconv.Sequential([pyconv.Input((8, 7, 2))] + stack(layers), seed=0)
    theirs = keras.Sequential([keras.Input((8, 7, 2))] + stack(keras.layers))
    theirs.set_weights([w for layer in ours.layers for w in to_keras_layout(layer)])
    x = rng.standard_normal((4, 8, 7, 2))
    expected = keras.ops.convert_to_numpy(theirs(x))   # (its Input runs float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    ours._compiled_inference = False           # the layer-by-layer path agrees
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_channels_last_resnet_matches_channels_first_on_transposed_data(rng):
    nhwc = rng.standard_normal((16, 10, 10, 3))
    y = rng.integers(0, 4, size=16)
    models = {}
    for data_format in ("channels_first", CL):
        model = _resnet(data_format)
        model.compile(pyconv.optimizers.SGD(0.05, momentum=0.9),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
        models[data_format] = model
    cf, cl = models["channels_first"], models[CL]
    for a, b in zip(cf.get_weights(), cl.get_weights()):     # same seed, same weights
        np.testing.assert_array_equal(a, b)
    nchw = nhwc.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(cl.predict(nhwc, verbose=0), cf.predict(nchw, verbose=0),
                               rtol=1e-12, atol=1e-12)
    assert cl._plan_inputs == [True]       # compiled inference on the transposed input
    cl._compiled_inference = False         # the layer-by-layer path agrees
    np.testing.assert_allclose(cl.predict(nhwc, verbose=0), cf.predict(nchw, verbose=0),
                               rtol=1e-12, atol=1e-12)
    cl._compiled_inference = True
    a = cf.fit(nchw, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    b = cl.fit(nhwc, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-10)
    for wa, wb in zip(cf.get_weights(), cl.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-9, atol=1e-12)
    shapes = [str(layer.output_shape) for layer in cl.layers]
    assert cl.outputs[0].shape == (None, 4)
    assert [t.shape for t in cl.inputs] == [(None, 10, 10, 3)]
    assert "(None, 5, 5, 12)" in "\n".join(_summary(cl)) and shapes


def _summary(model):
    lines = []
    model.summary(print_fn=lines.append)
    return lines


def test_channels_last_sequential_autoencoder_matches_channels_first(rng):
    def autoencoder(data_format):
        kw = dict(padding="same", data_format=data_format, dtype="float64")
        return pyconv.Sequential([
            layers.Input((8, 8, 2) if data_format == CL else (2, 8, 8)),
            layers.Rescaling(0.5, dtype="float64"),
            layers.Conv2D(4, 3, strides=2, activation="relu", **kw),
            layers.UpSampling2D(2, data_format=data_format, dtype="float64"),
            layers.Conv2D(2, 3, **kw)], seed=1)

    cf, cl = autoencoder("channels_first"), autoencoder(CL)
    nhwc = rng.standard_normal((6, 8, 8, 2))
    nchw = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    assert cl.input_shape == (None, 8, 8, 2) and cl.output_shape == (None, 8, 8, 2)
    out = cl.predict(nhwc, verbose=0)
    assert out.shape == nhwc.shape
    np.testing.assert_allclose(out.transpose(0, 3, 1, 2), cf.predict(nchw, verbose=0),
                               rtol=1e-12, atol=1e-12)
    cf.compile("adam", "mse")
    cl.compile("adam", "mse")
    a = cf.fit(nchw, nchw, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    b = cl.fit(nhwc, nhwc, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert "(None, 4, 4, 4)" in "\n".join(_summary(cl))


def test_channels_last_model_transposes_once_at_each_boundary(rng, monkeypatch):
    calls = {"to_nchw": 0, "to_nhwc": 0}
    for name in calls:
        original = getattr(_layout, name)

        def counting(x, original=original, name=name):
            calls[name] += 1
            return original(x)
        monkeypatch.setattr(_layout, name, counting)
    inputs = pyconv.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", data_format=CL)(inputs)
    x = layers.BatchNormalization(axis=-1)(x)
    x = layers.Add()([x, layers.Conv2D(4, 1, data_format=CL)(x)])
    x = layers.Concatenate(axis=-1)([x, x])
    outputs = layers.Conv2DTranspose(3, 3, strides=2, padding="same", data_format=CL)(x)
    model = pyconv.Model(inputs, outputs, seed=0)
    assert model.output_shape == (None, 16, 16, 3)
    batch = rng.standard_normal((2, 8, 8, 3)).astype("float32")
    assert model.predict(batch, verbose=0).shape == (2, 16, 16, 3)
    assert calls == {"to_nchw": 1, "to_nhwc": 1}       # one batch: one in, one out
    model.compile("sgd", "mse")
    calls.update(to_nchw=0, to_nhwc=0)
    model.train_on_batch(batch, np.zeros((2, 16, 16, 3)))
    assert calls == {"to_nchw": 2, "to_nhwc": 1}       # in, out, and the loss gradient in


def test_global_default(global_channels_last, rng):
    conv = layers.Conv2D(2, 3)
    assert conv.data_format == CL and pyconv.config.image_data_format() == CL
    assert layers.BatchNormalization().axis == -1 and layers.GroupNormalization(2).axis == -1
    assert layers.Conv2D(2, 3, data_format="channels_first").data_format == "channels_first"
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # an NHWC shape read as NHWC: no warning
        model = pyconv.Sequential([layers.Conv2D(2, 3, input_shape=(28, 28, 1)),
                                   layers.Flatten(), layers.Dense(2)])
    assert model.predict(rng.standard_normal((3, 28, 28, 1)), verbose=0).shape == (3, 2)
    # (bad data_format values, a Sequential changing format, an ONNX export of a
    # channels_last model: rows of tests/test_bad_input_table.py)


def test_data_format_survives_save_and_load(rng, tmp_path):
    model = _resnet(CL, seed=3)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = rng.standard_normal((4, 10, 10, 3))
    model.fit(x, rng.integers(0, 4, size=4), verbose=0)
    path = os.path.join(tmp_path, "resnet_nhwc.pyconv")
    model.save(path)
    restored = pyconv.load_model(path)
    assert [getattr(layer, "data_format", None) for layer in restored.layers] == \
        [getattr(layer, "data_format", None) for layer in model.layers]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))

    seq = pyconv.Sequential([layers.Conv2D(3, 3, data_format=CL, input_shape=(6, 6, 2)),
                             layers.Flatten(data_format=CL), layers.Dense(2)], seed=0)
    seq.save(path)
    again = pyconv.load_model(path)
    assert again.input_shape == (None, 6, 6, 2)
    x = rng.standard_normal((3, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(again.predict(x, verbose=0), seq.predict(x, verbose=0))


def test_estimator_takes_channels_last_arrays(rng):
    from pyconv import CNNClassifier

    nchw = rng.standard_normal((40, 2, 6, 5)).astype("float32")
    y = (nchw[:, 0].mean(axis=(1, 2)) > 0).astype(int)
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    kw = dict(max_iter=2, batch_size=8, random_state=0, n_threads=1)
    cf = CNNClassifier(**kw).fit(nchw, y)
    cl = CNNClassifier(data_format=CL, **kw).fit(nhwc, y)
    assert cl.input_shape_ == (2, 6, 5) and cl.n_features_in_ == 60
    np.testing.assert_array_equal(cl.predict_proba(nhwc), cf.predict_proba(nchw))
    # 2-D rows of HWC features with input_shape in (H, W, C)
    flat = CNNClassifier(data_format=CL, input_shape=(6, 5, 2), **kw).fit(
        nhwc.reshape(40, -1), y)
    np.testing.assert_array_equal(flat.predict_proba(nhwc.reshape(40, -1)),
                                  cf.predict_proba(nchw))


@pytest.mark.parametrize("make", [
    lambda fmt: layers.RandomFlip(seed=2, data_format=fmt),
    lambda fmt: layers.RandomCrop(4, 3, seed=2, data_format=fmt),
    lambda fmt: layers.RandomTranslation(0.2, 0.3, seed=2, data_format=fmt),
    lambda fmt: layers.RandomRotation(0.1, seed=2, data_format=fmt),
    lambda fmt: layers.SpatialDropout2D(0.5, seed=2, data_format=fmt),
], ids=["flip", "crop", "translation", "rotation", "spatial_dropout"])
def test_augmentation_in_channels_last_is_the_same_draw(make, rng):
    nhwc = rng.standard_normal((4, 6, 5, 3))
    nchw = nhwc.transpose(0, 3, 1, 2)
    ours, reference = make(CL), make("channels_first")
    np.testing.assert_array_equal(ours(nhwc, training=True).transpose(0, 3, 1, 2),
                                  reference(nchw, training=True))
    assert ours.compute_output_shape(nhwc.shape[1:])[-1] == 3
