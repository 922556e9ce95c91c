"""Tests of pyconv.layers, pyconv.activations, pyconv.initializers and pyconv.regularizers.

Every layer passes one contract, `check_layer` (in _support.py): its computed output shape is
the real one, its config round-trips (same config, same output given the
same weights, JSON-ready), and its backward matches central finite
differences in float64 for the input and every trainable weight.
"""
import pickle

import numpy as np
import pytest
from _support import check_layer

from pyconv import activations, initializers, regularizers
from pyconv import layers as L
from pyconv.layers.convolutional import keras_same_padding


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


F64 = {"dtype": "float64"}

LAYER_CASES = [
    (lambda: L.Input((3, 4), **F64), (3, 4)),
    (lambda: L.Conv2D(4, 3, **F64), (3, 7, 6)),
    (lambda: L.Conv2D(4, (2, 3), activation="relu", **F64), (2, 6, 7)),
    (lambda: L.Conv2D(3, 3, strides=2, padding="same", activation="tanh", **F64), (2, 8, 7)),
    (lambda: L.Conv2D(3, 3, strides=(2, 1), padding="same", dilation_rate=2, **F64), (2, 9, 8)),
    (lambda: L.Conv2D(4, 3, padding=1, groups=2, use_bias=False, **F64), (4, 5, 5)),
    (lambda: L.Conv2D(6, 3, padding="same", groups=3, activation="gelu", **F64), (3, 5, 6)),
    (lambda: L.Conv2D(2, 3, padding=(1, 2), padding_mode="reflect", **F64), (2, 5, 6)),
    (lambda: L.Conv2D(2, 3, padding="same", padding_mode="circular", activation="softmax",
                      **F64), (3, 5, 5)),
    (lambda: L.Conv2D(3, 2, kernel_regularizer="l2", bias_regularizer=regularizers.L1(0.1),
                      activation="swish", **F64), (2, 4, 4)),
    (lambda: L.Dense(5, **F64), (7,)),
    (lambda: L.Dense(4, activation="sigmoid", use_bias=False, **F64), (6,)),
    (lambda: L.Dense(3, activation="softmax", kernel_regularizer=regularizers.L1L2(0.01, 0.02),
                     **F64), (5,)),
    (lambda: L.Dense(4, activation="elu", kernel_initializer="he_normal", **F64), (3,)),
    (lambda: L.Dense(4, activation="leaky_relu", **F64), (3,)),
    (lambda: L.Flatten(**F64), (2, 3, 4)),
    (lambda: L.Reshape((4, -1), **F64), (2, 3, 4)),
    (lambda: L.Dropout(0.4, **F64), (3, 4)),
    (lambda: L.Activation("tanh", **F64), (2, 3, 3)),
    (lambda: L.Activation("gelu", **F64), (5,)),
    (lambda: L.Activation("softmax", **F64), (4, 2, 2)),
    (lambda: L.ReLU(**F64), (2, 3, 3)),
    (lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2, **F64), (12,)),
    (lambda: L.Softmax(**F64), (5,)),
    (lambda: L.Softmax(axis=1, **F64), (4, 3, 3)),
    (lambda: L.MaxPool2D(**F64), (2, 6, 6)),
    (lambda: L.MaxPool2D(3, strides=2, **F64), (2, 7, 8)),
    (lambda: L.MaxPool2D(2, padding="same", **F64), (2, 7, 5)),          # asymmetric padding
    (lambda: L.MaxPool2D(3, strides=1, padding="same", **F64), (2, 5, 5)),  # symmetric padding
    (lambda: L.AvgPool2D(**F64), (2, 6, 6)),
    (lambda: L.AvgPool2D((2, 3), strides=(1, 2), **F64), (2, 5, 7)),
    (lambda: L.AvgPool2D(2, padding="same", **F64), (2, 7, 5)),
    (lambda: L.AvgPool2D(3, strides=1, padding="same", **F64), (2, 5, 5)),
    (lambda: L.GlobalAvgPool2D(**F64), (3, 4, 5)),
    (lambda: L.GlobalAvgPool2D(keepdims=True, **F64), (3, 4, 5)),
    (lambda: L.GlobalMaxPool2D(**F64), (3, 4, 5)),
    (lambda: L.GlobalMaxPool2D(keepdims=True, **F64), (3, 2, 2)),
    (lambda: L.BatchNormalization(moving_mean_initializer=initializers.RandomNormal(stddev=1.0),
                                  moving_variance_initializer=initializers.RandomUniform(0.5, 2),
                                  **F64), (3, 4, 4)),
    (lambda: L.BatchNormalization(**F64), (5,)),
    (lambda: L.BatchNormalization(center=False, gamma_regularizer="l2", **F64), (2, 3, 3)),
    (lambda: L.BatchNormalization(axis=-1, scale=False, epsilon=0.1, **F64), (3, 4)),
]


def _case_id(case):
    layer = case[0]()
    return f"{type(layer).__name__}-{case[1]}"


@pytest.mark.parametrize("case", LAYER_CASES, ids=_case_id)
def test_check_layer_inference(case, rng):
    make, input_shape = case
    check_layer(make(), input_shape, rng, training=False)


TRAINING_CASES = [case for case in LAYER_CASES
                  if type(case[0]()).__name__ == "BatchNormalization"]


@pytest.mark.parametrize("case", TRAINING_CASES, ids=_case_id)
def test_check_layer_batch_norm_training(case, rng):
    make, input_shape = case
    check_layer(make(), input_shape, rng, training=True, batch=4)


# --------------------------------------------------------------------------
# Training behaviour: Dropout, BatchNormalization
# --------------------------------------------------------------------------
def test_dropout_training_mask_scale_and_gradient(rng):
    layer = L.Dropout(0.25, dtype="float64")
    layer.build((50, 40), rng=np.random.default_rng(0))
    x = rng.uniform(1.0, 2.0, size=(4, 50, 40))
    y = layer.forward(x, training=True)
    kept = y != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    grad = rng.standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(grad), np.where(kept, grad / 0.75, 0.0))
    # inference: identity, gradient passes through
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(grad), grad)


def test_dropout_masks_reproducible_from_build_rng_or_seed(rng):
    x = np.ones((2, 100), dtype=np.float32)
    masks = []
    for _ in range(2):
        layer = L.Dropout(0.5)
        layer.build((100,), rng=np.random.default_rng(7))
        masks.append(layer.forward(x, training=True))
    np.testing.assert_array_equal(masks[0], masks[1])
    a, b = L.Dropout(0.5, seed=3), L.Dropout(0.5, seed=3)
    a.build((100,)), b.build((100,))
    np.testing.assert_array_equal(a.forward(x, training=True), b.forward(x, training=True))


def test_batch_norm_moving_statistics_follow_keras(rng):
    layer = L.BatchNormalization(dtype="float64")
    layer.build((3, 4, 4))
    x = rng.normal(2.0, 3.0, size=(8, 3, 4, 4))
    y = layer.forward(x, training=True)
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))     # biased, as keras.ops.moments
    np.testing.assert_allclose(layer.moving_mean, 0.01 * mean)
    np.testing.assert_allclose(layer.moving_variance, 0.99 + 0.01 * var)
    np.testing.assert_allclose(y, (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-3))
    # inference uses the moving statistics
    y_inf = layer.forward(x, training=False)
    expected = ((x - layer.moving_mean[:, None, None])
                / np.sqrt(layer.moving_variance[:, None, None] + 1e-3))
    np.testing.assert_allclose(y_inf, expected)


def test_frozen_batch_norm_uses_moving_statistics_in_training(rng):
    layer = L.BatchNormalization(trainable=False, dtype="float64")
    layer.build((3,))
    x = rng.normal(5.0, 1.0, size=(6, 3))
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, x / np.sqrt(1 + 1e-3))
    np.testing.assert_array_equal(layer.moving_mean, 0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    layer.backward(np.ones_like(y))
    assert layer.grads == []


# --------------------------------------------------------------------------
# Parameter counts (the lecture's numbers) without allocating
# --------------------------------------------------------------------------
def test_lecture_parameter_counts_without_allocation():
    flatten, dense = L.Flatten(), L.Dense(1000)
    assert flatten.compute_output_shape((1, 28, 28)) == (784,)
    assert dense.count_params(flatten.compute_output_shape((1, 28, 28))) == 785000
    big = flatten.compute_output_shape((3, 224, 224))
    assert big == (150528,)
    assert dense.count_params(big) == 150529000
    assert dense.param_counts(big) == (150529000, 0)
    assert dense.flops(big) == 2 * 150528 * 1000 + 1000
    assert not dense.built and dense.weights == []     # nothing was allocated
    dense_small = L.Dense(1000, input_shape=(784,))
    assert dense_small.count_params() == 785000
    dense_small.build((784,), rng=np.random.default_rng(0))
    assert dense_small.kernel.shape == (784, 1000)
    assert dense_small.count_params() == 785000


def test_conv_and_batch_norm_parameter_counts_and_flops():
    conv = L.Conv2D(16, 5, groups=2)
    assert conv.count_params((6, 14, 14)) == 16 * 3 * 25 + 16
    assert conv.compute_output_shape((6, 14, 14)) == (16, 10, 10)
    assert conv.flops((6, 14, 14)) == 2 * 16 * 10 * 10 * 3 * 25 + 16 * 10 * 10
    bn = L.BatchNormalization()
    assert bn.param_counts((8, 5, 5)) == (16, 16)
    assert L.MaxPool2D().count_params((3, 4, 4)) == 0


# --------------------------------------------------------------------------
# Layer mechanics
# --------------------------------------------------------------------------
def test_weights_are_live_arrays_and_set_weights_is_in_place(rng):
    layer = L.Dense(3)
    layer.build((4,), rng=rng)
    kernel = layer.trainable_weights[0]
    kernel -= 1.0                                  # what an optimizer does
    np.testing.assert_array_equal(layer.kernel, kernel)
    new = [rng.standard_normal((4, 3)), np.arange(3.0)]
    layer.set_weights(new)
    assert layer.trainable_weights[0] is kernel
    np.testing.assert_allclose(kernel, new[0].astype(np.float32))
    assert layer.weights[0].dtype == np.float32
    assert layer.weight_names == ["kernel", "bias"]


def test_build_is_reproducible_from_rng_and_idempotent():
    a, b = L.Conv2D(4, 3), L.Conv2D(4, 3)
    a.build((2, 5, 5), rng=np.random.default_rng(5))
    b.build((2, 5, 5), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.kernel, b.kernel)
    kernel = a.kernel
    a.build((2, 5, 5))                             # same shape: nothing happens
    assert a.kernel is kernel
    with pytest.raises(ValueError, match="input_shape"):
        a.build((3, 5, 5))


def test_frozen_layer_has_no_trainable_weights(rng):
    layer = L.Conv2D(2, 3, trainable=False, dtype="float64")
    layer.build((1, 4, 4), rng=rng)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.param_counts() == (0, 20)
    y = layer.forward(rng.standard_normal((2, 1, 4, 4)))
    grad_x = layer.backward(np.ones_like(y))
    assert layer.grads == [] and grad_x.shape == (2, 1, 4, 4)


def test_backward_can_skip_the_input_gradient(rng):
    layer = L.Conv2D(2, 3, dtype="float64")
    layer.build((1, 5, 5), rng=rng)
    x = rng.standard_normal((2, 1, 5, 5))
    y = layer.forward(x)
    assert layer.backward(np.ones_like(y), need_input_grad=False) is None
    full = [g.copy() for g in layer.grads]
    layer.backward(np.ones_like(y))
    for a, b in zip(full, layer.grads):
        np.testing.assert_allclose(a, b)


def test_float32_layers_compute_in_float32(rng):
    model = [L.Conv2D(3, 3, padding="same", activation="relu"), L.MaxPool2D(),
             L.BatchNormalization(), L.Flatten(), L.Dense(4, activation="softmax")]
    shape = (2, 8, 8)
    x = rng.standard_normal((5,) + shape).astype(np.float32)
    for layer in model:
        layer.build(shape, rng=rng)
        x = layer.forward(x, training=True)
        assert x.dtype == np.float32
        shape = layer.output_shape
    np.testing.assert_allclose(x.sum(axis=1), 1, rtol=1e-5)
    grad = np.ones_like(x)
    for layer in reversed(model):
        grad = layer.backward(grad)
        assert grad.dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads)


def test_pickle_drops_forward_cache(rng):
    layer = L.Dense(2)
    layer(rng.standard_normal((100, 4)))
    restored = pickle.loads(pickle.dumps(layer))
    assert restored._cache == {}
    np.testing.assert_array_equal(restored.kernel, layer.kernel)


def test_default_names_follow_keras():
    assert L.BatchNormalization().name.startswith("batch_normalization")
    assert L.GlobalAvgPool2D().name.startswith("global_avg_pool2d")
    first, second = L.Conv2D(1, 1).name, L.Conv2D(1, 1).name
    assert first != second and second.startswith("conv2d")


def test_keras_aliases():
    assert L.MaxPooling2D is L.MaxPool2D
    assert L.AveragePooling2D is L.AvgPool2D
    assert L.GlobalAveragePooling2D is L.GlobalAvgPool2D
    assert L.GlobalMaxPooling2D is L.GlobalMaxPool2D
    assert L.get("Conv2D") is L.Conv2D


# --------------------------------------------------------------------------
# 'same' padding as Keras, for any stride
# --------------------------------------------------------------------------
@pytest.mark.parametrize("size, kernel, stride, dilation, expected", [
    (7, 3, 1, 1, (1, 1)), (6, 4, 1, 1, (1, 2)), (7, 3, 2, 1, (1, 1)), (8, 3, 2, 1, (0, 1)),
    (7, 2, 2, 1, (0, 1)), (10, 3, 3, 2, (2, 2)), (5, 1, 2, 1, (0, 0)),
])
def test_keras_same_padding(size, kernel, stride, dilation, expected):
    assert keras_same_padding(size, kernel, stride, dilation) == expected
    before, after = expected
    out = (size + before + after - dilation * (kernel - 1) - 1) // stride + 1
    assert out == -(-size // stride)


def _brute_pool(x, kernel, stride, pads, reduce):
    """Pool over real values only (padding excluded), windows from explicit pads."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    ho = (h + top + bottom - kernel[0]) // stride[0] + 1
    wo = (w + left + right - kernel[1]) // stride[1] + 1
    y = np.empty((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * stride[0] - top, j * stride[1] - left
            window = x[:, :, max(r0, 0):r0 + kernel[0], max(c0, 0):c0 + kernel[1]]
            y[:, :, i, j] = reduce(window, axis=(2, 3))
    return y


@pytest.mark.parametrize("layer_cls, reduce", [(L.MaxPool2D, np.max), (L.AvgPool2D, np.mean)])
@pytest.mark.parametrize("pool_size, strides, shape", [
    (2, None, (7, 5)), (3, 2, (8, 6)), ((2, 3), (1, 2), (5, 8)), (3, 1, (4, 4))])
def test_same_pooling_excludes_padding(layer_cls, reduce, pool_size, strides, shape, rng):
    layer = layer_cls(pool_size, strides=strides, padding="same", dtype="float64")
    x = rng.standard_normal((2, 3) + shape) - 5.0   # negative: zero padding would show
    y = layer(x)
    kernel = layer.pool_size
    pads = layer.explicit_padding((3,) + shape)
    np.testing.assert_allclose(y, _brute_pool(x, kernel, layer.strides, pads, reduce))
    assert y.shape[2:] == tuple(-(-s // st) for s, st in zip(shape, layer.strides))


@pytest.mark.parametrize("layer, input_shape", [
    (L.Dense(3), (2, 4, 4)),                      # images need Flatten first
    (L.Conv2D(3, 3), (16,)),
    (L.Conv2D(3, 5), (1, 4, 4)),                  # kernel larger than the input
    (L.Conv2D(4, 3, groups=2), (3, 8, 8)),
    (L.Conv2D(4, 3, padding=4, padding_mode="reflect"), (1, 4, 4)),
    (L.MaxPool2D(3), (1, 2, 2)),
    (L.GlobalMaxPool2D(), (4,)),
    (L.BatchNormalization(axis=3), (4,)),
    (L.Reshape((3, -1)), (4, 5)),
    (L.Softmax(axis=3), (5,)),
])
def test_incompatible_input_shapes(layer, input_shape):
    with pytest.raises(ValueError, match="input_shape|axis|target_shape"):
        layer.build(input_shape)
    assert not layer.built


# --------------------------------------------------------------------------
# PyTorch parity
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, input_shape", [
    ({"filters": 4, "kernel_size": 3}, (3, 9, 8)),
    ({"filters": 6, "kernel_size": (3, 2), "strides": (2, 1), "padding": 1, "dilation_rate": 2,
      "groups": 3}, (3, 10, 9)),
    ({"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}, (2, 8, 7)),
    ({"filters": 2, "kernel_size": 3, "padding": "same", "padding_mode": "replicate",
      "activation": "relu"}, (2, 6, 6)),
])
def test_conv2d_matches_pytorch(kwargs, input_shape, rng):
    torch = pytest.importorskip("torch")
    layer = L.Conv2D(**kwargs)
    layer.build(input_shape, rng=rng)
    layer.bias[...] = rng.standard_normal(layer.bias.shape)
    x = rng.standard_normal((2,) + input_shape).astype(np.float32)
    (top, bottom), (left, right) = layer.explicit_padding(input_shape)
    xt = torch.from_numpy(x)
    mode = {"zeros": "constant", "replicate": "replicate"}[layer.padding_mode]
    xt = torch.nn.functional.pad(xt, (left, right, top, bottom), mode=mode)
    expected = torch.nn.functional.conv2d(xt, torch.from_numpy(layer.kernel),
                                          torch.from_numpy(layer.bias), stride=layer.strides,
                                          dilation=layer.dilation_rate, groups=layer.groups)
    if kwargs.get("activation") == "relu":
        expected = torch.relu(expected)
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-4, atol=1e-5)


def test_dense_matches_pytorch(rng):
    torch = pytest.importorskip("torch")
    layer = L.Dense(7, activation="tanh")
    layer.build((12,), rng=rng)
    layer.bias[...] = rng.standard_normal(7)
    x = rng.standard_normal((5, 12)).astype(np.float32)
    expected = torch.tanh(torch.nn.functional.linear(
        torch.from_numpy(x), torch.from_numpy(layer.kernel.T.copy()), torch.from_numpy(layer.bias)))
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("input_shape", [(3, 5, 4), (6,)])
def test_batch_norm_matches_pytorch(input_shape, rng):
    torch = pytest.importorskip("torch")
    layer = L.BatchNormalization()
    layer.build(input_shape, rng=rng)
    c = input_shape[0]
    layer.gamma[...] = rng.uniform(0.5, 1.5, c)
    layer.beta[...] = rng.standard_normal(c)
    x = rng.normal(1.0, 2.0, size=(8,) + input_shape).astype(np.float32)
    running_mean, running_var = torch.zeros(c), torch.ones(c)
    expected = torch.nn.functional.batch_norm(
        torch.from_numpy(x), running_mean, running_var, torch.from_numpy(layer.gamma),
        torch.from_numpy(layer.beta), training=True, momentum=0.01, eps=1e-3)
    np.testing.assert_allclose(layer.forward(x, training=True), expected.numpy(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean, running_mean.numpy(), rtol=1e-5, atol=1e-6)
    # PyTorch's running variance uses the unbiased batch variance; Keras the biased one
    m = x.size // c
    np.testing.assert_allclose((layer.moving_variance - 0.99) * m / (m - 1),
                               running_var.numpy() - 0.99, rtol=1e-4, atol=1e-6)
    layer.moving_variance[...] = running_var.numpy()
    expected = torch.nn.functional.batch_norm(
        torch.from_numpy(x), running_mean, running_var, torch.from_numpy(layer.gamma),
        torch.from_numpy(layer.beta), training=False, eps=1e-3)
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer, torch_name, kwargs", [
    (L.MaxPool2D(3, strides=2), "max_pool2d", {"kernel_size": 3, "stride": 2}),
    (L.MaxPool2D(3, strides=1, padding="same"), "max_pool2d",
     {"kernel_size": 3, "stride": 1, "padding": 1}),
    (L.AvgPool2D((2, 3)), "avg_pool2d", {"kernel_size": (2, 3)}),
    (L.AvgPool2D(3, strides=1, padding="same"), "avg_pool2d",
     {"kernel_size": 3, "stride": 1, "padding": 1, "count_include_pad": False}),
])
def test_pooling_matches_pytorch(layer, torch_name, kwargs, rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    expected = getattr(torch.nn.functional, torch_name)(xt, **kwargs)
    np.testing.assert_allclose(layer(x), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    grad = rng.standard_normal(expected.shape).astype(np.float32)
    expected.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(layer.backward(grad), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# activations, initializers, regularizers
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax",
                                  "elu", "gelu", "swish", "silu"])
def test_activation_derivatives(name, rng):
    act = activations.get(name)
    x = rng.standard_normal((4, 5))
    y = act.forward(x)
    grad = rng.standard_normal(y.shape)
    analytic = act.backward(grad, x, y)
    eps = 1e-6
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric[index] = np.sum((act.forward(plus) - act.forward(minus)) * grad) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_activation_functions_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(activations.relu(x), [0, 0, 3])
    np.testing.assert_allclose(activations.sigmoid(np.array([-1000.0, 1000.0])), [0, 1])
    np.testing.assert_allclose(activations.softmax(np.array([[1000.0, 1000.0]])), [[0.5, 0.5]])
    np.testing.assert_allclose(activations.leaky_relu(x), [-0.4, 0, 3])
    np.testing.assert_allclose(activations.elu(x), [np.expm1(-2), 0, 3])
    np.testing.assert_allclose(activations.gelu(np.array([1.0])), [0.8413447460685429])
    np.testing.assert_allclose(activations.gelu(np.array([1.0]), approximate=True), [0.841192],
                               rtol=1e-5)
    np.testing.assert_allclose(activations.swish(np.array([1.0])), [1 / (1 + np.exp(-1))])
    np.testing.assert_allclose(activations.relu(x, negative_slope=0.5, max_value=2.0,
                                                threshold=1.0), [-1.5, -0.5, 2.0])
    assert activations.get(activations.tanh) is activations.get("tanh")
    assert activations.serialize(activations.get(None)) == "linear"


def test_initializer_fans_follow_keras():
    assert initializers.compute_fans((16, 3, 5, 5)) == (75, 400)
    assert initializers.compute_fans((784, 10)) == (784, 10)
    assert initializers.compute_fans((7,)) == (7, 7)


@pytest.mark.parametrize("name, limit_or_std, kind", [
    ("glorot_uniform", np.sqrt(6 / (2 * 9 + 8 * 9)), "uniform"),
    ("he_uniform", np.sqrt(6 / (2 * 9)), "uniform"),
    ("lecun_uniform", np.sqrt(3 / (2 * 9)), "uniform"),
    ("glorot_normal", np.sqrt(2 / (2 * 9 + 8 * 9)), "normal"),
    ("he_normal", np.sqrt(2 / (2 * 9)), "normal"),
    ("lecun_normal", np.sqrt(1 / (2 * 9)), "normal"),
])
def test_variance_scaling_initializers(name, limit_or_std, kind):
    init = initializers.get(name)
    # a grouped conv kernel [C_out, C_in / groups, kh, kw]: fan_in 18, fan_out 72
    w = init((8, 2, 3, 3), dtype="float64", rng=np.random.default_rng(0))
    assert w.shape == (8, 2, 3, 3) and w.dtype == np.float64
    big = init((4000, 2, 3, 3), dtype="float32",
               rng=np.random.default_rng(1))
    assert big.dtype == np.float32
    # the statistics use the fans of the shape actually drawn
    fan_in, fan_out = initializers.compute_fans(big.shape)
    scale = {"glorot": (2 / (fan_in + fan_out)), "he": 2 / fan_in, "lecun": 1 / fan_in}
    variance = scale[name.split("_")[0]]
    if kind == "uniform":
        assert np.abs(big).max() <= np.sqrt(3 * variance) * (1 + 1e-6)
    else:
        assert np.abs(big).max() <= 2 * np.sqrt(variance) / 0.87962566103423978 * (1 + 1e-6)
    np.testing.assert_allclose(big.var(), variance, rtol=0.03)
    assert np.abs(w).max() <= 3 * limit_or_std


def test_initializers_misc():
    assert initializers.get("zeros")((2, 2)).sum() == 0
    np.testing.assert_array_equal(initializers.get("ones")((3,), dtype="float64"), np.ones(3))
    np.testing.assert_array_equal(initializers.constant(0.5)((2,)), [0.5, 0.5])
    a = initializers.RandomNormal(seed=3)((5,))
    b = initializers.RandomNormal(seed=3)((5,))
    np.testing.assert_array_equal(a, b)
    w = initializers.RandomUniform(-1, 1)((1000,), rng=np.random.default_rng(0))
    assert -1 <= w.min() and w.max() < 1 and w.std() > 0.5
    init = initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    assert initializers.get(initializers.serialize(init)) == init
    assert initializers.get({"class_name": "GlorotUniform", "config": {}}) == \
        initializers.GlorotUniform()


def test_regularizers(rng):
    w = rng.standard_normal((3, 4))
    assert regularizers.get("l2")(w) == pytest.approx(0.01 * np.sum(w ** 2))
    assert regularizers.get("l1")(w) == pytest.approx(0.01 * np.sum(np.abs(w)))
    reg = regularizers.L1L2(l1=0.2, l2=0.3)
    assert reg(w) == pytest.approx(0.2 * np.abs(w).sum() + 0.3 * np.square(w).sum())
    np.testing.assert_allclose(reg.gradient(w), 0.2 * np.sign(w) + 0.6 * w)
    assert regularizers.get(regularizers.serialize(reg)) == reg
    assert regularizers.get(None) is None


def test_regularization_loss_counts_trainable_weights(rng):
    layer = L.Dense(3, kernel_regularizer=regularizers.L2(0.5), dtype="float64")
    layer.build((2,), rng=rng)
    assert layer.regularization_loss() == pytest.approx(0.5 * np.sum(layer.kernel ** 2))
    layer.trainable = False
    assert layer.regularization_loss() == 0.0
