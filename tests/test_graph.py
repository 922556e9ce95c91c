"""Graph models (`pyconv.Input`, `pyconv.Model`) and the merge layers:
PyTorch parity of a residual block (forward and one SGD step), shared
weights, several inputs and outputs, save/load, determinism."""
import os

import numpy as np
import pytest

import pyconv
from pyconv import layers

from _support import assert_close


def _residual_model(dtype="float64", seed=0):
    inputs = pyconv.Input((3, 6, 6), dtype=dtype)
    x = layers.Conv2D(3, 3, padding="same", activation="relu", dtype=dtype)(inputs)
    x = layers.Conv2D(3, 3, padding="same", dtype=dtype)(x)
    x = layers.Add(dtype=dtype)([inputs, x])
    x = layers.ReLU(dtype=dtype)(x)
    x = layers.GlobalAvgPool2D(dtype=dtype)(x)
    outputs = layers.Dense(4, activation="softmax", dtype=dtype)(x)
    return pyconv.Model(inputs, outputs, seed=seed)


def _torch_residual(torch, model):
    conv1, conv2, _, _, _, dense = model.layers
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)
            self.conv2 = nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)
            self.dense = nn.Linear(3, 4, dtype=torch.float64)

        def forward(self, x):
            y = self.conv2(torch.relu(self.conv1(x)))
            return self.dense(torch.relu(x + y).mean(dim=(2, 3)))

    block = Block()
    with torch.no_grad():
        for module, layer in ((block.conv1, conv1), (block.conv2, conv2)):
            module.weight.copy_(torch.from_numpy(layer.weights[0]))
            module.bias.copy_(torch.from_numpy(layer.weights[1]))
        block.dense.weight.copy_(torch.from_numpy(dense.weights[0].T.copy()))
        block.dense.bias.copy_(torch.from_numpy(dense.weights[1]))
    return block


def test_residual_block_forward_and_sgd_step_match_torch(rng):
    torch = pytest.importorskip("torch")
    model = _residual_model()
    block = _torch_residual(torch, model)
    x = rng.standard_normal((5, 3, 6, 6))
    y = rng.integers(0, 4, size=5)
    logits = block(torch.from_numpy(x))
    assert_close(model.predict(x, verbose=0), torch.softmax(logits, dim=1).detach().numpy())

    model.compile(optimizer=pyconv.optimizers.SGD(learning_rate=0.1),
                  loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(x, y)
    optimizer = torch.optim.SGD(block.parameters(), lr=0.1)
    optimizer.zero_grad()
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    torch_loss.backward()
    optimizer.step()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    conv1, conv2, _, _, _, dense = model.layers
    for module, layer in ((block.conv1, conv1), (block.conv2, conv2)):
        assert_close(layer.weights[0], module.weight.detach().numpy())
        assert_close(layer.weights[1], module.bias.detach().numpy())
    assert_close(dense.weights[0], block.dense.weight.detach().numpy().T)


def test_sequential_is_a_model_and_a_linear_graph_trains_identically(rng):
    assert issubclass(pyconv.Sequential, pyconv.Model)
    x = rng.standard_normal((12, 1, 6, 6)).astype("float32")
    y = rng.integers(0, 3, size=12)

    def conv_layers():
        return [layers.Conv2D(4, 3, activation="relu"), layers.MaxPool2D(),
                layers.Flatten(), layers.Dense(3, activation="softmax")]

    sequential = pyconv.Sequential([layers.Input((1, 6, 6))] + conv_layers(), seed=3)
    inputs = pyconv.Input((1, 6, 6))
    tensor = inputs
    for layer in conv_layers():
        tensor = layer(tensor)
    graph = pyconv.Model(inputs, tensor, seed=3)
    graph.set_weights(sequential.get_weights())
    for model in (sequential, graph):
        model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    a = sequential.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    b = graph.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False).history
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-6)
    for wa, wb in zip(sequential.get_weights(), graph.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_shared_layer_has_one_set_of_weights_and_summed_gradients(rng):
    dense = layers.Dense(2, dtype="float64")
    a, b = pyconv.Input((3,), dtype="float64"), pyconv.Input((3,), dtype="float64")
    out = layers.Subtract(dtype="float64")([dense(a), dense(b)])
    model = pyconv.Model([a, b], out, seed=0)
    assert model.layers == [dense, model.layers[1]] and model.count_params() == 8
    xa, xb = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(model.predict([xa, xb], verbose=0), (xa - xb) @ kernel,
                               rtol=1e-12, atol=1e-12)
    model.compile(pyconv.optimizers.SGD(learning_rate=1.0), "mse")
    target = rng.standard_normal((4, 2))
    model.train_on_batch([xa, xb], target)
    # d/dW mean((xa W - xb W - t)^2): the two calls' gradients, summed
    residual = (xa - xb) @ kernel - target
    expected = kernel - (xa - xb).T @ (2 * residual / residual.size)
    np.testing.assert_allclose(dense.get_weights()[0], expected, rtol=1e-10)
    np.testing.assert_allclose(dense.get_weights()[1], bias, rtol=1e-12)


def _two_input_two_output(seed=0):
    image, extra = pyconv.Input((1, 6, 6), name="image"), pyconv.Input((2,), name="extra")
    x = layers.Conv2D(3, 3, activation="relu")(image)
    x = layers.Flatten()(layers.MaxPool2D()(x))
    joined = layers.Concatenate()([x, extra])
    label = layers.Dense(3, activation="softmax", name="label")(joined)
    value = layers.Dense(1, name="value")(joined)
    return pyconv.Model([image, extra], [label, value], seed=seed)


def test_multi_input_multi_output_fit_evaluate_predict(rng):
    model = _two_input_two_output()
    x = [rng.standard_normal((20, 1, 6, 6)), rng.standard_normal((20, 2))]
    y = [rng.integers(0, 3, size=20), rng.standard_normal((20, 1))]
    model.compile("adam", loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_split=0.25)
    assert set(history.history) == {"loss", "label_accuracy", "value_mae", "val_loss",
                                    "val_label_accuracy", "val_value_mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    label, value = model.predict(x, verbose=0)
    assert label.shape == (20, 3) and value.shape == (20, 1)
    logs = model.evaluate(x, {"label": y[0], "value": y[1]}, verbose=0, return_dict=True)
    # the total loss is the weighted sum of the outputs' losses
    ce = -np.mean(np.log(label[np.arange(20), y[0]]))
    mse = np.mean((value - y[1]) ** 2)
    assert logs["loss"] == pytest.approx(ce + 0.5 * mse, rel=1e-4)
    single = model.predict_on_batch(x)
    np.testing.assert_allclose(single[0], label, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip_is_bit_identical(rng, tmp_path):
    model = _two_input_two_output(seed=1)
    model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"])
    x = [rng.standard_normal((6, 1, 6, 6)), rng.standard_normal((6, 2))]
    model.fit(x, [rng.integers(0, 3, size=6), rng.standard_normal((6, 1))], verbose=0)
    path = os.path.join(tmp_path, "graph.pyconv")
    model.save(path)
    restored = pyconv.load_model(path)
    assert type(restored) is pyconv.Model
    assert restored.output_names == model.output_names
    for a, b in zip(model.predict(x, verbose=0), restored.predict(x, verbose=0)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)

    residual = _residual_model("float32", seed=2)
    residual.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    images = rng.standard_normal((8, 3, 6, 6)).astype("float32")
    residual.fit(images, rng.integers(0, 4, size=8), verbose=0)
    residual.save(path)
    again = pyconv.load_model(path)
    np.testing.assert_array_equal(again.predict(images, verbose=0),
                                  residual.predict(images, verbose=0))
    assert again.optimizer.iterations == residual.optimizer.iterations


def test_multi_output_compile_settings_survive_save_and_load(rng, tmp_path):
    model = _two_input_two_output(seed=3)
    model.compile(pyconv.optimizers.Adam(0.01),
                  loss={"label": "sparse_categorical_crossentropy", "value": "mae"},
                  loss_weights={"label": 2.0, "value": 0.25},
                  metrics={"label": ["accuracy"], "value": ["mse", "mae"]})
    x = [rng.standard_normal((12, 1, 6, 6)), rng.standard_normal((12, 2))]
    y = [rng.integers(0, 3, size=12), rng.standard_normal((12, 1))]
    model.fit(x, y, batch_size=4, verbose=0, shuffle=False)
    path = os.path.join(tmp_path, "two_outputs.pyconv")
    model.save(path)
    restored = pyconv.load_model(path)
    assert [type(loss) for loss in restored.loss] == [type(loss) for loss in model.loss]
    assert restored._loss_weights == [2.0, 0.25]
    assert [m.name for m in restored.metrics] == ["label_accuracy", "value_mse", "value_mae"]
    assert restored.evaluate(x, y, verbose=0, return_dict=True) == \
        model.evaluate(x, y, verbose=0, return_dict=True)
    # the optimizer state came along: one more epoch is the same on both
    a = model.fit(x, y, batch_size=4, verbose=0, shuffle=False).history
    b = restored.fit(x, y, batch_size=4, verbose=0, shuffle=False).history
    assert a == b


def test_shared_layer_survives_save_and_load(rng, tmp_path):
    conv = layers.Conv2D(2, 3, padding="same")
    a, b = pyconv.Input((2, 5, 5)), pyconv.Input((2, 5, 5))
    out = layers.Concatenate(axis=1)([conv(a), conv(b)])
    model = pyconv.Model([a, b], out, seed=0)
    path = os.path.join(tmp_path, "shared.pyconv")
    model.save(path)
    restored = pyconv.load_model(path)
    assert len(restored.layers) == 2
    x = [rng.standard_normal((3, 2, 5, 5)), rng.standard_normal((3, 2, 5, 5))]
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))


def test_training_is_identical_across_thread_counts(rng):
    x = rng.standard_normal((16, 3, 6, 6)).astype("float32")
    y = rng.integers(0, 4, size=16)
    weights = []
    for threads in (1, 2):
        pyconv.set_num_threads(threads)
        try:
            model = _residual_model("float32", seed=5)
            model.compile("adam", "sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=4, epochs=2, verbose=0)
            weights.append(model.get_weights())
        finally:
            pyconv.set_num_threads(None)
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_summary_has_connected_to_and_flops():
    lines = []
    _residual_model().summary(print_fn=lines.append)
    assert "Connected to" in lines[2] and "FLOPs" in lines[2]
    assert any("(Add)" in line and "[0][0], conv2d" in line for line in lines)
    assert lines[-1].startswith(" Total FLOPs:")


def test_layer_on_array_stays_eager_and_symbolic_tensor_has_no_values(rng):
    conv = layers.Conv2D(2, 3)
    assert conv(rng.standard_normal((1, 1, 5, 5)), training=False).shape == (1, 2, 3, 3)
    tensor = layers.Conv2D(2, 3)(pyconv.Input((1, 5, 5)))
    assert tensor.shape == (None, 2, 3, 3)
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(tensor)


MERGES = [
    (layers.Add, lambda a, b: a + b),
    (layers.Subtract, lambda a, b: a - b),
    (layers.Multiply, lambda a, b: a * b),
    (layers.Average, lambda a, b: (a + b) / 2),
    (layers.Maximum, np.maximum),
]


@pytest.mark.parametrize("cls, reference", MERGES, ids=[m[0].__name__ for m in MERGES])
def test_merge_layers_forward_and_gradients(cls, reference, rng):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    layer = cls(dtype="float64")
    np.testing.assert_allclose(layer([a, b]), reference(a, b), rtol=1e-12)
    projection = rng.standard_normal(a.shape)
    grads = layer.backward(projection)
    eps = 1e-6
    for k, x in enumerate((a, b)):
        numeric = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            saved = x[i]
            x[i] = saved + eps
            plus = np.sum(reference(a, b) * projection)
            x[i] = saved - eps
            minus = np.sum(reference(a, b) * projection)
            x[i] = saved
            numeric[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8)


def test_concatenate_splits_its_gradient(rng):
    layer = layers.Concatenate(axis=1, dtype="float64")
    a, b = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 5, 4, 4))
    y = layer([a, b])
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=1))
    ga, gb = layer.backward(y)
    np.testing.assert_array_equal(ga, a)
    np.testing.assert_array_equal(gb, b)
    assert layers.Concatenate.from_config(layer.get_config()).axis == 1


# (a shared layer on another shape, a wrong list of inputs: rows of
# tests/test_bad_input_table.py)


def small_resnet(input_shape, n_classes):
    """A module-level builder (so the estimator pickles)."""
    inputs = pyconv.Input(input_shape)
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    y = layers.Conv2D(4, 3, padding="same")(x)
    x = layers.GlobalAvgPool2D()(layers.ReLU()(layers.Add()([x, y])))
    return pyconv.Model(inputs, layers.Dense(n_classes, activation="softmax")(x))


def test_estimator_takes_a_graph_model_builder(rng):
    import pickle

    X = rng.standard_normal((40, 1, 6, 6)).astype("float32")
    y = np.where(X.mean(axis=(1, 2, 3)) > 0, "up", "down")
    first = pyconv.CNNClassifier(layers=small_resnet, max_iter=3, random_state=0).fit(X, y)
    second = pyconv.CNNClassifier(layers=small_resnet, max_iter=3, random_state=0).fit(X, y)
    assert type(first.model_) is pyconv.Model
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    np.testing.assert_allclose(first.predict_proba(X).sum(axis=1), 1, rtol=1e-5)
    assert set(first.predict(X)) <= {"up", "down"}
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.predict_proba(X), first.predict_proba(X))
    regressor = pyconv.CNNRegressor(
        layers=lambda shape, n: pyconv.Model(
            inp := pyconv.Input(shape), layers.Dense(n)(layers.Flatten()(inp))),
        max_iter=2, random_state=0)
    assert regressor.fit(X, X.mean(axis=(1, 2, 3))).predict(X).shape == (40,)


# (bad ``layers`` builders: the CNNClassifier-builder rows of tests/test_bad_input_table.py)


# ------------------------------------------------------------- nested models
def _block(inputs):
    h = layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64")(inputs)
    h = layers.BatchNormalization(dtype="float64")(h)
    return layers.Add(dtype="float64")([h, layers.Conv2D(4, 1, dtype="float64")(inputs)])


def _head():
    return [layers.Dense(5, activation="relu", dtype="float64"), layers.Dense(3, dtype="float64")]


def _nested(seed=0):
    inner_in = pyconv.Input((3, 6, 6), dtype="float64")
    block = pyconv.Model(inner_in, _block(inner_in), name="block", seed=seed)
    head = pyconv.Sequential([pyconv.Input((4,), dtype="float64")] + _head(), name="head",
                             seed=seed + 1)
    inputs = pyconv.Input((3, 6, 6), dtype="float64")
    x = layers.GlobalAvgPool2D(dtype="float64")(block(inputs))
    return pyconv.Model(inputs, layers.Softmax(dtype="float64")(head(x)), seed=seed + 2)


def _flat():
    inputs = pyconv.Input((3, 6, 6), dtype="float64")
    x = layers.GlobalAvgPool2D(dtype="float64")(_block(inputs))
    for layer in _head():
        x = layer(x)
    return pyconv.Model(inputs, layers.Softmax(dtype="float64")(x), seed=0)


def test_nested_models_train_as_their_flat_graph(rng):
    nested, flat = _nested(), _flat()
    assert [type(layer).__name__ for layer in nested.layers] == \
        ["Model", "GlobalAvgPool2D", "Sequential", "Softmax"]
    flat.set_weights(nested.get_weights())
    x, y = rng.standard_normal((8, 3, 6, 6)), rng.integers(0, 3, size=8)
    np.testing.assert_array_equal(nested.predict(x, verbose=0), flat.predict(x, verbose=0))
    for model in (nested, flat):
        model.compile(pyconv.optimizers.SGD(0.1, momentum=0.9),
                      "sparse_categorical_crossentropy", metrics=["accuracy"])
    a = nested.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    b = flat.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-12)
    for wa, wb in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12, atol=1e-14)
    assert nested.count_params() == flat.count_params()
    lines = []
    nested.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "block (Model)" in text and "head (Sequential)" in text
    assert f"{nested.get_layer('block').count_params():,}" in text


def test_frozen_nested_model_keeps_its_weights(rng):
    model = _nested()
    block = model.get_layer("block")
    block.trainable = False
    before = block.get_weights()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(rng.standard_normal((8, 3, 6, 6)), rng.integers(0, 3, size=8), verbose=0)
    for a, b in zip(before, block.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert block.trainable_weights == [] and len(block.non_trainable_weights) == 8
    assert len(model.trainable_weights) == 4          # the head's kernels and biases


def test_nested_models_survive_save_and_load(rng, tmp_path):
    model = _nested(seed=4)
    model.get_layer("head").trainable = False
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.standard_normal((6, 3, 6, 6))
    model.fit(x, rng.integers(0, 3, size=6), verbose=0)
    path = os.path.join(tmp_path, "nested.pyconv")
    model.save(path)
    restored = pyconv.load_model(path)
    assert [type(layer).__name__ for layer in restored.layers] == \
        ["Model", "GlobalAvgPool2D", "Sequential", "Softmax"]
    assert restored.get_layer("head").trainable is False
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert restored.optimizer.iterations == model.optimizer.iterations


def test_a_nested_model_is_called_once():
    inner_in = pyconv.Input((4,))
    inner = pyconv.Model(inner_in, layers.Dense(4)(inner_in))
    inputs = pyconv.Input((4,))
    with pytest.raises(ValueError, match="once"):
        pyconv.Model(inputs, inner(inner(inputs)))
    a, b = pyconv.Input((4,)), pyconv.Input((4,))
    two = pyconv.Model([a, b], layers.Dense(1)(layers.Concatenate()([a, b])))
    with pytest.raises(ValueError, match="2 symbolic"):
        two(inputs)


def test_nested_two_input_model_passes_gradients_to_both_inputs(rng):
    def pair_model():
        a, b = pyconv.Input((3,), dtype="float64"), pyconv.Input((3,), dtype="float64")
        joined = layers.Concatenate(dtype="float64")([a, layers.Multiply(dtype="float64")([a, b])])
        return pyconv.Model([a, b], layers.Dense(2, dtype="float64")(joined), name="pair", seed=0)

    def outer(inner_of):
        x = pyconv.Input((3,), dtype="float64")
        y = pyconv.Input((3,), dtype="float64")
        hx = layers.Dense(3, activation="tanh", dtype="float64")(x)
        hy = layers.Dense(3, activation="tanh", dtype="float64")(y)
        return pyconv.Model([x, y], inner_of([hx, hy]), seed=1)

    nested = outer(pair_model())
    pair = pair_model()

    def inline(tensors):
        concat = layers.Concatenate(dtype="float64")
        return pair.layers[-1](concat([tensors[0], layers.Multiply(dtype="float64")(tensors)]))

    flat = outer(inline)
    flat.set_weights(nested.get_weights())
    x = [rng.standard_normal((6, 3)), rng.standard_normal((6, 3))]
    y = rng.standard_normal((6, 2))
    for model in (nested, flat):
        model.compile(pyconv.optimizers.SGD(0.1), "mse")
    a = nested.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    b = flat.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    for wa, wb in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12, atol=1e-14)
