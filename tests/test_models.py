"""Sequential structure: add/pop/build, layers, weights, summary, config."""
import numpy as np
import pytest

from pyconv._functional_model import _readable_bytes
from pyconv.models import Sequential

from pyconv.layers import Conv2D, Dense, Dropout, Flatten, Input, Softmax


def summary_text(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return "\n".join(lines)


# --------------------------------------------------------------- building
def test_input_first_builds_and_is_not_listed():
    model = Sequential([Input((1, 28, 28)), Flatten(), Dense(10)])
    assert model.built
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense"]
    assert model.input_shape == (None, 1, 28, 28) and model.output_shape == (None, 10)


def test_input_shape_on_first_layer_builds():
    model = Sequential([Flatten(input_shape=(1, 28, 28)), Dense(1000)])
    assert model.built and model.count_params() == 785000


@pytest.mark.parametrize("shape", [(1, 4, 4), (None, 1, 4, 4), [None, 1, 4, 4]])
def test_build_accepts_shapes_with_or_without_batch_axis(shape):
    model = Sequential([Conv2D(2, 3), Flatten(), Dense(3)])
    assert not model.built
    model.build(shape)
    assert model.input_shape == (None, 1, 4, 4) and model.output_shape == (None, 3)
    assert model.count_params() == (2 * 9 + 2) + (8 * 3 + 3)


def test_add_after_build_builds_the_layer_and_pop():
    model = Sequential([Input((4,)), Dense(3)])
    model.add(Dense(2))
    assert model.layers[-1].built and model.output_shape == (None, 2)
    assert model.count_params() == 15 + 8
    popped = model.pop()
    assert isinstance(popped, Dense) and model.output_shape == (None, 3)
    model.pop()
    with pytest.raises(TypeError, match="no layers"):
        model.pop()


def test_get_layer():
    model = Sequential([Input((4,)), Dense(3, name="hidden"), Dense(2, name="out")])
    assert model.get_layer("out") is model.layers[1]
    assert model.get_layer(index=0).name == "hidden"


# ---------------------------------------------------------------- weights
def test_get_and_set_weights(rng):
    model = Sequential([Input((4,)), Dense(3), Dense(2)], seed=0)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 3), (3,), (3, 2), (2,)]
    new = [rng.normal(size=w.shape) for w in weights]
    live = model.weights[0]
    model.set_weights(new)
    assert model.weights[0] is live                      # updated in place
    np.testing.assert_allclose(model.get_weights()[2], new[2].astype(np.float32))
    weights[0][...] = 99.0                               # copies, not views
    assert not np.any(model.weights[0] == 99.0)
    assert len(model.trainable_weights) == 4 and model.non_trainable_weights == []
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2


def test_seed_controls_initialisation():
    def weights(seed):
        return Sequential([Input((4,)), Dense(3)], seed=seed).get_weights()[0]
    np.testing.assert_array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))


# ---------------------------------------------------------------- summary
def test_summary_lecture_numbers():
    text = summary_text(Sequential([Input((1, 28, 28)), Flatten(), Dense(1000)]))
    assert 'Model: "' in text
    for column in ("Layer (type)", "Output Shape", "Param #", "FLOPs"):
        assert column in text
    assert "(None, 784)" in text and "(None, 1000)" in text
    assert "785,000" in text
    assert "Total params: 785,000 (2.99 MB)" in text
    assert "Trainable params: 785,000 (2.99 MB)" in text
    assert "Non-trainable params: 0 (0.00 B)" in text
    # the lecture's 3x224x224 figure, without allocating 600 MB of weights
    assert Dense(1000).count_params((3 * 224 * 224,)) == 150_529_000
    assert _readable_bytes(150_529_000 * 4) == "574.22 MB"


def test_summary_rows_and_print(capsys):
    model = Sequential([Input((1, 8, 8)), Conv2D(4, 3, name="conv"), Flatten(name="flat"),
                        Dropout(0.5, name="drop"), Dense(10, name="logits"),
                        Softmax(name="probs")], name="tiny")
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "tiny"')
    rows = [line for line in out.splitlines() if "(None," in line]
    assert [row.split()[1] for row in rows] == ["conv", "flat", "drop", "logits", "probs"]
    assert "(Conv2D)" in rows[0] and "(None, 4, 6, 6)" in rows[0] and " 40 " in rows[0]
    assert "1,450" in rows[3]                    # 144 * 10 + 10
    assert "Total params: 1,490" in out
    wide = summary_text(model, line_length=120)
    assert max(len(line) for line in wide.splitlines()) == 120


# ----------------------------------------------------------------- config
def test_config_round_trip(rng):
    model = Sequential([Input((1, 6, 6)), Conv2D(3, 3, activation="relu"), Flatten(),
                        Dense(4, activation="softmax")], name="net", seed=3)
    config = model.get_config()
    assert config["input_shape"] == [1, 6, 6]
    assert [entry["class_name"] for entry in config["layers"]] == ["Conv2D", "Flatten", "Dense"]
    clone = Sequential.from_config(config)
    assert clone.name == "net" and clone.built
    assert [layer.get_config() for layer in clone.layers] == \
        [layer.get_config() for layer in model.layers]
    clone.set_weights(model.get_weights())
    x = rng.normal(size=(2, 1, 6, 6))
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_repr():
    assert "Sequential" in repr(Sequential([Input((4,)), Dense(3)]))
