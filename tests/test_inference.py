"""The compiled inference path (``pyconv._inference``): same results as the
layer-by-layer forward pass, rewrites invisible in the weights, plans made
stale by every weight change, deterministic across thread counts, and
``predict`` allocating nothing proportional to the dataset but its output."""
import tracemalloc

import numpy as np
import pytest

import pyconv
from pyconv import _inference, layers

from _support import assert_close


def _layer_by_layer(model, x):
    model._compiled_inference = False
    try:
        return model.predict(x, verbose=0)
    finally:
        del model._compiled_inference


def _randomize(model, rng):
    weights = []
    for layer in model.layers:
        for name, w in zip(layer.weight_names, layer.get_weights()):
            low = 0.5 if name == "moving_variance" else -1.0
            weights.append(rng.uniform(low, 1.5, w.shape).astype(w.dtype))
    model.set_weights(weights)


MODELS = {
    "lenet": lambda: [
        layers.Input((1, 28, 28)), layers.Conv2D(6, 5, padding="same", activation="relu"),
        layers.MaxPool2D(), layers.Conv2D(16, 5, activation="relu"), layers.MaxPool2D(),
        layers.Flatten(), layers.Dense(120, activation="relu"),
        layers.Dense(84, activation="relu"), layers.Dropout(0.3),
        layers.Dense(10, activation="softmax")],
    "conv_bn_relu": lambda: [
        layers.Input((3, 12, 12)), layers.Conv2D(8, 3, padding="same"),
        layers.BatchNormalization(), layers.ReLU(), layers.Conv2D(8, 3, use_bias=False),
        layers.BatchNormalization(center=False), layers.Activation("relu"),
        layers.AvgPool2D(), layers.Conv2D(6, 3, groups=2, padding="same"),
        layers.BatchNormalization(scale=False), layers.GlobalAvgPool2D(),
        layers.Dense(5), layers.BatchNormalization(), layers.Softmax()],
    "winograd_direct": lambda: [     # weights the conv algorithms transform or pack
        layers.Input((16, 10, 10)), layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Conv2D(32, 3), layers.BatchNormalization(), layers.ReLU(),
        layers.Conv2D(8, 3, padding="same"), layers.Conv2D(16, 3, activation="relu"),
        layers.GlobalMaxPool2D(), layers.Dense(3)],
    "unfoldable": lambda: [
        layers.Input((2, 9, 9)), layers.Conv2D(4, 3, activation="tanh"),
        layers.BatchNormalization(), layers.MaxPool2D(2, padding="same"),
        layers.Conv2D(4, 3, dilation_rate=2, padding="same", padding_mode="reflect"),
        layers.BatchNormalization(axis=-1), layers.ReLU(max_value=1.0),
        layers.Reshape((4, -1)), layers.Flatten(), layers.Dense(3, activation="gelu")],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_plan_matches_layer_by_layer(name, dtype, rng):
    model = pyconv.Sequential([
        layer if isinstance(layer, layers.Input) else type(layer).from_config(
            dict(layer.get_config(), dtype=dtype))
        for layer in MODELS[name]()], seed=0)
    _randomize(model, rng)
    x = rng.normal(size=(37,) + model.input_shape[1:]).astype(dtype)
    before = model.get_weights()
    expected = _layer_by_layer(model, x)
    for batch_size in (1, 8, 256):
        actual = model.predict(x, batch_size=batch_size, verbose=0)
        assert actual.dtype == expected.dtype
        rtol = 1e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=rtol, atol=rtol)
    for old, new in zip(before, model.get_weights()):
        assert np.array_equal(old, new)


def test_rewrites_fold_and_drop(rng):
    model = pyconv.Sequential(MODELS["conv_bn_relu"](), seed=0)
    plan = _inference.Plan(model, (2, 3, 12, 12))
    # 3 Conv/Dense with BN folded (4 BN, ReLU, Activation gone), pool, GAP, Softmax
    assert plan.n_folded == 4
    assert len(plan.steps) == 7
    lenet = pyconv.Sequential(MODELS["lenet"](), seed=0)
    assert len(_inference.Plan(lenet, (1, 1, 28, 28)).steps) == 8   # Dropout removed


def test_unfolded_plan_equals_layer_by_layer_exactly(rng):
    model = pyconv.Sequential(MODELS["lenet"](), seed=0)
    x = rng.normal(size=(20, 1, 28, 28)).astype(np.float32)
    assert np.array_equal(model.predict(x, verbose=0), _layer_by_layer(model, x))


@pytest.mark.parametrize("name", ["conv_bn_relu", "winograd_direct"])
def test_weight_changes_reach_the_plan(name, rng, tmp_path):
    model = pyconv.Sequential(MODELS[name](), seed=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = rng.normal(size=(6,) + model.input_shape[1:]).astype(np.float32)
    y = rng.integers(0, model.output_shape[-1], size=6)

    def check():
        np.testing.assert_allclose(model.predict(x, verbose=0), _layer_by_layer(model, x),
                                   rtol=1e-5, atol=1e-6)

    check()
    _randomize(model, rng)                                   # model.set_weights
    check()
    bn = next(layer for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    bn.set_weights([w * 2 + 1 for w in bn.get_weights()])  # a layer's set_weights
    check()
    conv = model.layers[0]
    conv.set_weights([-w for w in conv.get_weights()])
    check()
    model.fit(x, y, epochs=2, verbose=0)                     # BN statistics and kernels move
    check()
    model.train_on_batch(x, y)
    check()
    variables = [w for layer in model.layers for w in layer.trainable_weights]
    model.optimizer.apply([np.ones_like(v) for v in variables], variables)  # a custom loop
    check()
    path = tmp_path / "m.pyconv"
    model.save_weights(path)
    _randomize(model, rng)
    check()
    model.load_weights(path)
    check()


def test_threads_do_not_change_the_result(rng):
    model = pyconv.Sequential(MODELS["conv_bn_relu"](), seed=0)
    _randomize(model, rng)
    x = rng.normal(size=(64, 3, 12, 12)).astype(np.float32)
    results = []
    try:
        for n in (1, 2, 3):
            pyconv.set_num_threads(n)
            results += [model.predict(x, verbose=0), model.predict(x[:1], verbose=0)]
    finally:
        pyconv.set_num_threads(None)
    for other in results[2::2]:
        assert np.array_equal(other, results[0])
    for other in results[3::2]:
        assert np.array_equal(other, results[1])


class _FakePlan:
    """Takes ``cost`` seconds of a fake clock per run; records its runs."""

    nbytes = 0

    def __init__(self, clock, cost):
        self.clock, self.cost, self.runs = clock, cost, 0

    def run(self, x):
        self.clock.now += self.cost
        self.runs += 1
        return x


class _FakeClock:
    now = 0.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("costs, faster", [({2: 1e-3, 1: 2e-3}, 2), ({2: 5e-3, 1: 1e-3}, 1)])
def test_thread_choice_runs_the_faster_plan(costs, faster):
    clock = _FakeClock()
    choice = _inference.ThreadChoice(lambda n: _FakePlan(clock, costs[n]), 2, clock=clock)
    trials = 2 * choice.TRIALS
    for _ in range(trials + 10):
        choice.run(None)
    assert choice.choice == faster
    assert choice.plans[faster].runs == choice.TRIALS + 10
    # the load changes: the trial is run again after RECHECK_SECONDS
    choice.plans[1].cost, choice.plans[2].cost = costs[2], costs[1]
    clock.now += choice.RECHECK_SECONDS
    for _ in range(trials):
        choice.run(None)
    assert choice.choice == 3 - faster


def test_thread_choice_plans_give_equal_results(rng):
    model = pyconv.Sequential(MODELS["winograd_direct"](), seed=0)
    x = rng.normal(size=(3,) + model.input_shape[1:]).astype(np.float32)
    choice = _inference.ThreadChoice(lambda n: _inference.Plan(model, x.shape, n), 2)
    with pyconv._threads.blas_single_threaded():
        results = [choice.plans[n].run(x).copy() for n in (1, 2)]
    assert np.array_equal(results[0], results[1])


def test_copies_do_not_share_plans(rng):
    import copy

    model = pyconv.Sequential(MODELS["conv_bn_relu"](), seed=0)
    x = rng.normal(size=(4, 3, 12, 12)).astype(np.float32)
    model.predict(x, verbose=0)
    twin = copy.deepcopy(model)
    _randomize(twin, rng)
    assert not np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_allclose(twin.predict(x, verbose=0), _layer_by_layer(twin, x),
                               rtol=1e-5, atol=1e-6)


def test_predict_allocates_only_its_output(rng):
    model = pyconv.Sequential(MODELS["lenet"](), seed=0)
    small = rng.normal(size=(64, 1, 28, 28)).astype(np.float32)
    large = np.repeat(small, 40, axis=0)
    model.predict(small, batch_size=64, verbose=0)   # plan made, kernels loaded

    def peak(x):
        tracemalloc.start()
        try:
            model.predict(x, batch_size=64, verbose=0)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    growth = peak(large) - peak(small)
    output_growth = (len(large) - len(small)) * 10 * 4
    # Nothing per batch beyond the output rows (a few KiB of slack for Python objects).
    assert growth < output_growth + 64 * 1024, (growth, output_growth)


def test_default_batch_size_fits_the_caches():
    from pyconv._bench_inference import cifar_net, lenet

    assert _inference.default_batch_size(lenet()) == 256      # a batch of 256 in one call
    assert _inference.default_batch_size(cifar_net()) == 64   # 8 MiB of activations
    assert _inference.default_batch_size(pyconv.Sequential([layers.Dense(2)])) == 32


# ------------------------------------------------------------- graph models
def _graph_models():
    inputs = pyconv.Input((4, 8, 8))
    shared = layers.Conv2D(4, 3, padding="same", activation="relu")
    x = layers.Add()([inputs, shared(inputs)])
    x = layers.Add()([x, shared(x)])                       # a shared layer, twice
    x = layers.Dropout(0.5)(layers.BatchNormalization()(x))
    x = layers.Concatenate(axis=1)([layers.MaxPool2D()(x), layers.AvgPool2D()(x)])
    residual = pyconv.Model(inputs, layers.Dense(3, activation="softmax")(
        layers.Flatten()(x)), seed=0)
    image, extra = pyconv.Input((1, 6, 6)), pyconv.Input((3,))
    features = layers.Concatenate()([layers.Flatten()(layers.Conv2D(2, 3)(image)), extra])
    two = pyconv.Model([image, extra], [layers.Dense(4)(features), features], seed=0)
    return {"residual": residual, "two_in_two_out": two, "folds": _folding_graph()}


def _folding_graph():
    """BatchNormalization and ReLU after a Conv2D/Dense whose output feeds
    only them (folded), and after one whose output feeds two layers (not)."""
    inputs = pyconv.Input((3, 10, 10))
    a = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(8, 3, padding="same")(inputs)))
    b = layers.Conv2D(8, 3, padding="same")(inputs)
    d = layers.Add()([b, layers.BatchNormalization()(b)])
    e = layers.Conv2D(6, 1)(layers.Add()([a, d]))
    e = layers.BatchNormalization()(layers.Dropout(0.2)(e))
    f = layers.BatchNormalization()(layers.Dense(4)(layers.Flatten()(e)))
    return pyconv.Model(inputs, [f, a], seed=0)


def test_graph_plan_folds_where_nothing_else_reads(rng):
    if not hasattr(pyconv, "Model"):
        pytest.skip("this pyconv has no graph models")
    model = _folding_graph()
    plan = _inference.GraphPlan(model, [(2, 3, 10, 10)])
    # conv a (BN, ReLU), conv e (BN across the Dropout) and the Dense (BN);
    # conv b feeds its BN and the Add: its BN runs as a layer
    assert plan.n_folded == 3
    assert len(plan.steps) == 8


@pytest.mark.parametrize("name", ["residual", "two_in_two_out", "folds"])
def test_graph_plan_matches_layer_by_layer(name, rng):
    if not hasattr(pyconv, "Model"):
        pytest.skip("this pyconv has no graph models")
    model = _graph_models()[name]
    _randomize(model, rng)
    shapes = [t.shape[1:] for t in model.inputs]
    xs = [rng.normal(size=(9,) + tuple(s)).astype(np.float32) for s in shapes]
    x = xs[0] if len(xs) == 1 else xs
    expected = _layer_by_layer(model, x)
    for actual in (model.predict(x, verbose=0), model.predict(x, batch_size=4, verbose=0),
                   model.predict_on_batch(x)):
        for got, want in zip(actual if isinstance(actual, list) else [actual],
                             expected if isinstance(expected, list) else [expected]):
            assert_close(got, want)     # folded weights: float32 rounding
    plan = _inference.plan_for(model, [(9,) + tuple(s) for s in shapes])
    plans = plan.plans.values() if isinstance(plan, _inference.ThreadChoice) else [plan]
    assert all(isinstance(p, _inference.GraphPlan) for p in plans)
