"""Augmentation layers: identity at inference, seeded, exact gradients, and
Keras 3's own transforms where the draw is fixed (a zero-width range)."""
import numpy as np
import pytest

import pyconv
from pyconv import layers
from _keras_parity import keras_module, keras_output
from _support import check_layer

RANDOM_LAYERS = [
    lambda: layers.RandomFlip(seed=1),
    lambda: layers.RandomCrop(5, 4, seed=1),
    lambda: layers.RandomTranslation(0.2, 0.3, seed=1),
    lambda: layers.RandomRotation(0.1, seed=1),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS, ids=["flip", "crop", "translation",
                                                     "rotation"])
def test_identity_at_inference_and_reproducible_with_a_seed(make, rng):
    x = rng.standard_normal((6, 2, 7, 6)).astype("float32")
    layer = make()
    if not isinstance(layer, layers.RandomCrop):
        np.testing.assert_array_equal(layer(x), x)
    a = make()(x, training=True)
    b = make()(x, training=True)
    np.testing.assert_array_equal(a, b)
    layer = make()
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.array_equal(first, second)   # a new draw on every call


FIXED = [
    (lambda: layers.RandomTranslation((0.2, 0.2), (-0.15, -0.15), dtype="float64"),
     lambda K: K.RandomTranslation((0.2, 0.2), (-0.15, -0.15), dtype="float64")),
    (lambda: layers.RandomTranslation((-0.3, -0.3), (0.25, 0.25), fill_mode="constant",
                                      fill_value=0.5, dtype="float64"),
     lambda K: K.RandomTranslation((-0.3, -0.3), (0.25, 0.25), fill_mode="constant",
                                   fill_value=0.5, dtype="float64")),
    (lambda: layers.RandomTranslation((0.4, 0.4), (0.1, 0.1), fill_mode="wrap",
                                      interpolation="nearest", dtype="float64"),
     lambda K: K.RandomTranslation((0.4, 0.4), (0.1, 0.1), fill_mode="wrap",
                                   interpolation="nearest", dtype="float64")),
    (lambda: layers.RandomRotation((0.07, 0.07), dtype="float64"),
     lambda K: K.RandomRotation((0.07, 0.07), dtype="float64")),
    (lambda: layers.RandomRotation((-0.2, -0.2), fill_mode="nearest", dtype="float64"),
     lambda K: K.RandomRotation((-0.2, -0.2), fill_mode="nearest", dtype="float64")),
    (lambda: layers.RandomRotation((0.3, 0.3), fill_mode="constant", dtype="float64"),
     lambda K: K.RandomRotation((0.3, 0.3), fill_mode="constant", dtype="float64")),
]


@pytest.mark.parametrize("ours, theirs", FIXED, ids=[f"case{i}" for i in range(len(FIXED))])
def test_fixed_transform_matches_keras(ours, theirs, rng):
    keras = keras_module()
    x = rng.standard_normal((2, 3, 9, 8))
    expected = keras_output(theirs(keras.layers), x, training=True)
    # Keras builds its affine maps in float32: agreement to float32 rounding
    np.testing.assert_allclose(ours()(x, training=True), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size", [(9, 8), (10, 4), (12, 12), (9, 5)])
def test_random_crop_central_window_matches_keras(size, rng):
    # An input not larger than the target in both sizes: Keras takes the
    # central window of the target's aspect ratio and resizes it. pyconv
    # does the same at inference (Keras 3 returns the input unchanged there,
    # which no layer after it could accept).
    keras = keras_module()
    x = rng.standard_normal((2, 3, 9, 8))
    expected = keras_output(keras.layers.RandomCrop(*size, dtype="float64"), x, training=True)
    ours = layers.RandomCrop(*size, dtype="float64")
    np.testing.assert_allclose(ours(x, training=True), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ours(x), expected, rtol=1e-6, atol=1e-6)


def test_random_crop_takes_one_window_of_the_input(rng):
    x = rng.standard_normal((3, 2, 9, 8)).astype("float32")
    y = layers.RandomCrop(5, 4, seed=0)(x, training=True)
    matches = [(t, s) for t in range(5) for s in range(5)
               if np.array_equal(y, x[:, :, t:t + 5, s:s + 4])]
    assert len(matches) == 1


def test_random_flip_flips_whole_images(rng):
    x = rng.standard_normal((16, 2, 4, 5))
    layer = layers.RandomFlip("horizontal_and_vertical", seed=2, dtype="float64")
    y = layer(x, training=True)
    flipped = [np.array_equal(y[i], x[i, :, ::-1, ::-1]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f != k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    grad = layer.backward(y)
    np.testing.assert_array_equal(grad, x)


CONTRACT = [
    (lambda: layers.RandomTranslation((0.2, 0.2), (-0.15, -0.15), dtype="float64"), True),
    (lambda: layers.RandomTranslation((0.3, 0.3), (0.1, 0.1), fill_mode="constant",
                                      dtype="float64"), True),
    (lambda: layers.RandomRotation((0.05, 0.05), fill_mode="wrap", dtype="float64"), True),
    (lambda: layers.RandomRotation(0.2, dtype="float64"), False),
    (lambda: layers.RandomCrop(4, 3, dtype="float64"), False),
    (lambda: layers.RandomCrop(5, 6, dtype="float64"), False),
    (lambda: layers.RandomFlip(dtype="float64"), False),
]


@pytest.mark.parametrize("make, training", CONTRACT, ids=[f"case{i}" for i in range(len(CONTRACT))])
def test_layer_contract(make, training, rng, single_thread):
    check_layer(make(), (2, 6, 5), rng, training=training)


def test_augmentation_in_a_seeded_model_trains_reproducibly(rng):
    x = rng.standard_normal((16, 1, 8, 8)).astype("float32")
    y = rng.integers(0, 2, size=16)
    histories = []
    for _ in range(2):
        inputs = pyconv.Input((1, 8, 8))
        h = layers.RandomFlip("horizontal")(inputs)
        h = layers.RandomTranslation(0.1, 0.1)(h)
        h = layers.RandomRotation(0.05)(h)
        h = layers.Conv2D(2, 3, activation="relu")(h)
        outputs = layers.Dense(2, activation="softmax")(layers.GlobalAvgPool2D()(h))
        model = pyconv.Model(inputs, outputs, seed=4)
        model.compile("adam", "sparse_categorical_crossentropy")
        histories.append(model.fit(x, y, batch_size=4, epochs=2, verbose=0).history["loss"])
    assert histories[0] == histories[1]


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_affine_resample_kernel_matches_the_reference(fill_mode, interpolation, dtype, rng):
    from pyconv import _reference, _resample

    x = rng.standard_normal((5, 3, 7, 9)).astype(dtype)
    # rotations about the centre, shifts by up to 1.5 sizes (every fill rule
    # is met), one exact half-pixel shift (nearest rounds half to even)
    angle = rng.uniform(-np.pi, np.pi, size=5)
    cos, sin = np.cos(angle), np.sin(angle)
    matrices = np.stack([cos, -sin, rng.uniform(-14, 14, 5),
                         sin, cos, rng.uniform(-11, 11, 5)], axis=1)
    matrices[0] = [1, 0, 0.5, 0, 1, -2.5]
    tol = {"float64": 1e-12, "float32": 1e-5}[dtype]
    y = _resample._affine_resample_forward(x, matrices, interpolation, fill_mode, 0.75)
    assert y.dtype == x.dtype
    np.testing.assert_allclose(y, _reference.affine_resample(x, matrices, interpolation,
                                                             fill_mode, 0.75),
                               rtol=tol, atol=tol)
    grad = rng.standard_normal(x.shape).astype(dtype)
    grad_x = _resample._affine_resample_backward(grad, matrices, interpolation, fill_mode)
    np.testing.assert_allclose(grad_x, _reference.affine_resample_backward(
        grad, matrices, interpolation, fill_mode), rtol=tol, atol=tol)
    # the backward is the forward's transpose: <A x, g> == <x, A^T g> (fill aside)
    linear = _resample._affine_resample_forward(x, matrices, interpolation, fill_mode, 0.0)
    assert np.vdot(linear, grad) == pytest.approx(np.vdot(x, grad_x), rel=tol * 10)


def test_affine_resample_is_identical_across_thread_counts(rng):
    x = rng.standard_normal((8, 2, 6, 6))
    results = []
    try:
        for n in (1, 2):
            pyconv.set_num_threads(n)
            layer = layers.RandomRotation(0.2, seed=3, dtype="float64")
            y = layer(x, training=True)
            results.append((y, layer.backward(np.ones_like(y))))
    finally:
        pyconv.set_num_threads(None)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
