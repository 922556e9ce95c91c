"""The layers of issue 15 (convolution family, resizing, normalisation,
preprocessing): the `check_layer` contract and equality with Keras 3's own
layers (torch backend, channels first) for the same weights."""
import numpy as np
import pytest

from pyconv import layers
from _keras_parity import keras_module, keras_output, to_keras_layout
from _support import check_layer

CONTRACT = [
    (lambda: layers.Conv2DTranspose(3, 3, dtype="float64"), (2, 4, 5)),
    (lambda: layers.Conv2DTranspose(3, (3, 2), strides=2, padding="same", activation="tanh",
                                    dtype="float64"), (2, 4, 5)),
    (lambda: layers.Conv2DTranspose(2, 2, strides=(2, 3), output_padding=(1, 0),
                                    dilation_rate=1, use_bias=False, dtype="float64"), (3, 3, 4)),
    (lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", dtype="float64"),
     (3, 5, 5)),
    (lambda: layers.DepthwiseConv2D((3, 2), strides=2, activation="relu", dtype="float64"),
     (2, 6, 7)),
    (lambda: layers.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, dtype="float64"),
     (3, 5, 5)),
    (lambda: layers.UpSampling2D((2, 3), dtype="float64"), (2, 3, 4)),
    (lambda: layers.UpSampling2D(2, interpolation="bilinear", dtype="float64"), (2, 3, 4)),
    (lambda: layers.ZeroPadding2D(((1, 2), (0, 3)), dtype="float64"), (2, 3, 4)),
    (lambda: layers.Cropping2D(((1, 0), (1, 2)), dtype="float64"), (2, 4, 5)),
    (lambda: layers.LayerNormalization(dtype="float64"), (2, 3, 4)),
    (lambda: layers.LayerNormalization(axis=[1, 2, 3], dtype="float64"), (2, 3, 4)),
    (lambda: layers.GroupNormalization(2, dtype="float64"), (4, 3, 3)),
    (lambda: layers.GroupNormalization(3, axis=-1, center=False, dtype="float64"), (2, 2, 6)),
    (lambda: layers.Rescaling(0.5, offset=-1.0, dtype="float64"), (2, 3, 3)),
    (lambda: layers.SpatialDropout2D(0.3, dtype="float64"), (2, 3, 3)),
]


@pytest.mark.parametrize("make, input_shape", CONTRACT,
                         ids=[f"{i}-{make().__class__.__name__}" for i, (make, _) in
                              enumerate(CONTRACT)])
def test_layer_contract(make, input_shape, rng, single_thread):
    layer = make()
    if isinstance(layer, (layers.GroupNormalization, layers.LayerNormalization)):
        # non-trivial scale and shift, so their gradients are checked too
        layer.build(input_shape)
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.weights])
        layer.built = False
    check_layer(layer, input_shape, rng)


def _keras_case(keras, rng, name):
    """``(pyconv layer, keras layer, input, keras weights from pyconv's)``."""
    K = keras.layers
    x = rng.standard_normal((2, 3, 7, 6))
    if name == "conv_transpose_valid":
        ours = layers.Conv2DTranspose(4, 3, strides=2, dtype="float64")
        theirs = K.Conv2DTranspose(4, 3, strides=2, dtype="float64")
    elif name == "conv_transpose_same":
        ours = layers.Conv2DTranspose(4, (3, 2), strides=2, padding="same", activation="relu",
                                      dtype="float64")
        theirs = K.Conv2DTranspose(4, (3, 2), strides=2, padding="same", activation="relu",
                                   dtype="float64")
    elif name == "conv_transpose_output_padding":
        ours = layers.Conv2DTranspose(2, 3, strides=3, output_padding=1, dilation_rate=1,
                                      dtype="float64")
        theirs = K.Conv2DTranspose(2, 3, strides=3, output_padding=1, dtype="float64")
    elif name == "depthwise":
        ours = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                                      dtype="float64")
        theirs = K.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                                   dtype="float64")
    elif name == "separable":
        ours = layers.SeparableConv2D(5, 3, padding="same", depth_multiplier=2,
                                      activation="relu", dtype="float64")
        theirs = K.SeparableConv2D(5, 3, padding="same", depth_multiplier=2,
                                   activation="relu", dtype="float64")
    elif name == "upsampling_nearest":
        ours, theirs = (layers.UpSampling2D((2, 3), dtype="float64"),
                        K.UpSampling2D((2, 3), dtype="float64"))
    elif name == "upsampling_bilinear":
        ours = layers.UpSampling2D(2, interpolation="bilinear", dtype="float64")
        theirs = K.UpSampling2D(2, interpolation="bilinear", dtype="float64")
    elif name == "zero_padding":
        ours = layers.ZeroPadding2D(((1, 2), (3, 0)), dtype="float64")
        theirs = K.ZeroPadding2D(((1, 2), (3, 0)), dtype="float64")
    elif name == "cropping":
        ours = layers.Cropping2D(((1, 2), (0, 3)), dtype="float64")
        theirs = K.Cropping2D(((1, 2), (0, 3)), dtype="float64")
    elif name == "layer_norm":
        ours = layers.LayerNormalization(axis=[1, 2, 3], dtype="float64")
        theirs = K.LayerNormalization(axis=[1, 2, 3], dtype="float64")
    elif name == "layer_norm_last":
        ours, theirs = (layers.LayerNormalization(dtype="float64"),
                        K.LayerNormalization(dtype="float64"))
    elif name == "group_norm":
        x = rng.standard_normal((2, 6, 5, 4))
        ours = layers.GroupNormalization(3, axis=1, dtype="float64")
        theirs = K.GroupNormalization(3, axis=1, dtype="float64")
    elif name == "rescaling":
        ours, theirs = (layers.Rescaling(1 / 255, offset=-0.5, dtype="float64"),
                        K.Rescaling(1 / 255, offset=-0.5, dtype="float64"))
    ours.build(x.shape[1:], rng=np.random.default_rng(0))
    if ours.weights:
        ours.set_weights([w + rng.uniform(0.1, 0.5, w.shape) for w in ours.weights])
    return ours, theirs, x, to_keras_layout(ours)


KERAS_CASES = ["conv_transpose_valid", "conv_transpose_same", "conv_transpose_output_padding",
               "depthwise", "separable", "upsampling_nearest", "upsampling_bilinear",
               "zero_padding", "cropping", "layer_norm", "layer_norm_last", "group_norm",
               "rescaling"]


@pytest.mark.parametrize("name", KERAS_CASES)
def test_layer_matches_keras(name, rng):
    keras = keras_module()
    ours, theirs, x, weights = _keras_case(keras, rng, name)
    expected = keras_output(theirs, x, weights or None)
    actual = ours(x)
    assert actual.shape == expected.shape
    assert ours.compute_output_shape(x.shape[1:]) == expected.shape[1:]
    # Keras normalises in float32 even for float64 layers
    tolerance = 1e-5 if "norm" in name else 1e-10
    np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel, strides", [(1, 1), (2, 1), (3, 2), (4, 2), (2, 3), (5, 3)])
def test_conv_transpose_output_size_matches_keras(kernel, strides, padding):
    keras = keras_module()
    ours = layers.Conv2DTranspose(2, kernel, strides=strides, padding=padding)
    theirs = keras.layers.Conv2DTranspose(2, kernel, strides=strides, padding=padding)
    for size in (1, 4, 7):
        expected = theirs.compute_output_shape((None, 3, size, size))
        assert (None,) + ours.compute_output_shape((3, size, size)) == tuple(expected)


def test_spatial_dropout_drops_whole_channels_and_is_identity_at_inference(rng):
    layer = layers.SpatialDropout2D(0.5, seed=3)
    x = rng.standard_normal((4, 16, 3, 3)).astype("float32")
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    ratio = (y / x).reshape(4, 16, 9)
    assert np.all(ratio.std(axis=2) < 1e-6)
    assert set(np.round(ratio[:, :, 0], 5).ravel().tolist()) <= {0.0, 2.0}


