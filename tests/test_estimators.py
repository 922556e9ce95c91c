"""scikit-learn estimators: the full estimator contract, pipelines, search, threads."""
import pickle
import threading

import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_backend
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import pyconv
from pyconv import layers
from pyconv.estimators import CNNClassifier, CNNRegressor, _ThreadBudget

# Small, fast settings for scikit-learn's checks: a few epochs at a larger
# learning rate; one thread (tiny inputs gain nothing from more).
CHECKED = [
    CNNClassifier(max_iter=10, learning_rate=0.01, n_threads=1),
    CNNRegressor(max_iter=10, learning_rate=0.01, n_threads=1),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _blobs(rng, n=60, n_features=16, n_classes=3):
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    y = np.arange(n) % n_classes
    X = centers[y] + rng.normal(size=(n, n_features))
    return X.astype(np.float32), y


FAST = dict(max_iter=3, n_threads=1, random_state=0)


# ------------------------------------------------------------------ input shapes
@pytest.mark.parametrize("n_features, expected", [
    (1, (1, 1, 1)), (2, (1, 1, 2)), (3, (1, 1, 3)), (4, (1, 2, 2)), (5, (1, 1, 5)),
    (7, (1, 1, 7)), (9, (1, 3, 3)), (10, (1, 1, 10)), (64, (1, 8, 8)),
])
def test_2d_input_is_square_or_strip_and_default_net_is_valid(rng, n_features, expected):
    X = rng.normal(size=(12, n_features)).astype(np.float32)
    y = np.arange(12) % 2
    clf = CNNClassifier(max_iter=1, n_threads=1, random_state=0).fit(X, y)
    assert clf.input_shape_ == expected
    assert clf.n_features_in_ == n_features
    assert clf.model_.input_shape == (None,) + expected
    assert clf.predict_proba(X).shape == (12, 2)


def test_3d_and_4d_input_and_their_flat_form_agree(rng):
    X4 = rng.normal(size=(20, 2, 3, 5)).astype(np.float32)
    y = np.arange(20) % 2
    clf = CNNClassifier(**FAST).fit(X4, y)
    assert clf.input_shape_ == (2, 3, 5)
    assert clf.n_features_in_ == 30
    np.testing.assert_array_equal(clf.predict_proba(X4), clf.predict_proba(X4.reshape(20, -1)))
    flat = CNNClassifier(input_shape=(2, 3, 5), **FAST).fit(X4.reshape(20, -1), y)
    np.testing.assert_array_equal(flat.predict_proba(X4), clf.predict_proba(X4))

    X3 = X4[:, 0]
    clf3 = CNNClassifier(**FAST).fit(X3, y)
    assert clf3.input_shape_ == (1, 3, 5)
    with pytest.raises(ValueError, match="samples of shape"):
        clf3.predict(X3.reshape(20, 5, 3))


def test_default_architecture_adapts(rng):
    X = rng.normal(size=(10, 64)).astype(np.float32)
    y = np.arange(10) % 2
    image = CNNClassifier(input_shape=(1, 8, 8), **FAST).fit(X, y)
    kinds = [type(layer).__name__ for layer in image.model_.layers]
    assert kinds == ["Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten", "Dense",
                     "Dropout", "Dense"]
    assert image.model_.layers[2].output_shape == (64, 4, 4)
    assert image.model_.output_shape == (None, 2)

    strip = CNNClassifier(**FAST).fit(X[:, :7], y)           # 1 x 1 x 7
    kinds = [type(layer).__name__ for layer in strip.model_.layers]
    assert "Dropout" not in kinds
    assert strip.model_.layers[0].kernel_size == (1, 3)
    pixel = CNNClassifier(**FAST).fit(X[:, :1], y)            # 1 x 1 x 1: no pooling
    assert "MaxPool2D" not in [type(layer).__name__ for layer in pixel.model_.layers]


def test_compute_dtype_follows_X(rng):
    X = rng.normal(size=(16, 4))
    y = np.arange(16) % 2
    assert CNNClassifier(**FAST).fit(X, y).model_.dtype == np.float64
    assert CNNClassifier(**FAST).fit(X.astype(np.float32), y).model_.dtype == np.float32
    assert CNNClassifier(**FAST).fit((X * 4).astype(int), y).model_.dtype == np.float64
    proba = CNNClassifier(**FAST).fit(X.astype(np.float32), y).predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


# (bad parameters, input shapes, NaN, unfitted predict, one class, continuous
# labels, bad sample weights: the CNNClassifier/CNNRegressor rows of
# tests/test_bad_input_table.py)


# ------------------------------------------------------------------------ labels
@pytest.mark.parametrize("labels", [
    np.array(["cat", "dog", "emu"]), np.array([-7, 3, 100]), np.array([1.0, 5.0, 9.0]),
])
def test_labels_of_any_kind(rng, labels):
    X, y_index = _blobs(rng)
    y = labels[y_index]
    clf = CNNClassifier(max_iter=10, learning_rate=0.01, n_threads=1, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.dtype == y.dtype
    assert np.mean(pred == y) > 0.9


def test_bool_and_binary_labels(rng):
    X, y_index = _blobs(rng, n_classes=2)
    y = y_index.astype(bool)
    clf = CNNClassifier(max_iter=10, learning_rate=0.01, n_threads=1, random_state=0).fit(X, y)
    assert clf.classes_.tolist() == [False, True]
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert clf.score(X, y) > 0.9


# ----------------------------------------------------------------- weights
def test_zero_sample_weight_is_removal(rng):
    X, y = _blobs(rng, n=50)
    w = rng.integers(0, 3, size=50).astype(float)
    w[:3] = 0.0
    keep = w > 0
    params = dict(max_iter=4, batch_size=8, n_threads=1, random_state=0)
    weighted = CNNClassifier(**params).fit(X, y, sample_weight=w)
    removed = CNNClassifier(**params).fit(X[keep], y[keep], sample_weight=w[keep])
    np.testing.assert_array_equal(weighted.predict_proba(X), removed.predict_proba(X))


def test_scaling_all_weights_changes_nothing_and_class_weight_is_sample_weight(rng):
    X, y = _blobs(rng, n=40)
    params = dict(max_iter=3, n_threads=1, random_state=0)
    plain = CNNClassifier(**params).fit(X, y).predict_proba(X)
    scaled = CNNClassifier(**params).fit(X, y, sample_weight=np.full(40, 3.0)).predict_proba(X)
    np.testing.assert_array_equal(plain, scaled)

    by_class = CNNClassifier(class_weight={0: 2.0, 1: 1.0, 2: 0.5}, **params).fit(X, y)
    by_sample = CNNClassifier(**params).fit(X, y, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))
    balanced = CNNClassifier(class_weight="balanced", **params).fit(X[:-5], y[:-5])
    assert balanced.predict_proba(X).shape == (40, 3)


# ----------------------------------------------------- reproducibility, copies
def test_same_random_state_gives_identical_results(rng):
    X, y = _blobs(rng)
    a = CNNClassifier(max_iter=3, random_state=7).fit(X, y)
    b = CNNClassifier(max_iter=3, random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.loss_curve_ == b.loss_curve_
    c = CNNClassifier(max_iter=3, random_state=8).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_same_result_for_any_thread_count(rng):
    X, y = _blobs(rng)
    one = CNNClassifier(max_iter=2, random_state=3, n_threads=1).fit(X, y).predict_proba(X)
    two = CNNClassifier(max_iter=2, random_state=3, n_threads=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(one, two)


def test_clone_is_independent(rng):
    X, y = _blobs(rng)
    clf = CNNClassifier(**FAST).fit(X, y)
    before = clf.predict_proba(X)
    copy = clone(clf)
    assert not hasattr(copy, "model_")
    copy.set_params(learning_rate=0.05).fit(X, y)
    assert copy.model_ is not clf.model_
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.learning_rate == 1e-3


def test_pickle_round_trip(rng):
    X, y = _blobs(rng)
    y = np.array(["a", "b", "c"])[y]
    clf = CNNClassifier(**FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    reg = CNNRegressor(**FAST).fit(X, rng.normal(size=(len(X), 2)))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_layers_template_is_not_mutated(rng):
    X = rng.normal(size=(20, 1, 6, 6)).astype(np.float32)
    y = np.arange(20) % 2
    template = [layers.Conv2D(4, 3, activation="relu"), layers.Flatten(),
                layers.Dense(8, activation="relu")]
    configs = [layer.get_config() for layer in template]
    clf = CNNClassifier(layers=template, **FAST).fit(X, y)
    clf.fit(X, y)
    assert [layer.get_config() for layer in template] == configs
    assert not any(layer.built for layer in template)
    assert all(a is not b for a, b in zip(template, clf.model_.layers))
    kinds = [type(layer).__name__ for layer in clf.model_.layers]
    assert kinds == ["Conv2D", "Flatten", "Dense", "Dense"]   # output layer appended
    assert clf.model_.output_shape == (None, 2)


def test_template_rules(rng):
    X = rng.normal(size=(20, 36)).astype(np.float32)
    y = np.arange(20) % 2
    # (a template ending in a softmax: the CNNClassifier-template-ends-in-softmax row)
    # a template without Flatten gets one before the output layer, and the
    # first layer's input_shape tells how to read 2-D X
    clf = CNNClassifier(layers=[layers.Conv2D(3, 3, input_shape=(1, 6, 6))], **FAST).fit(X, y)
    assert clf.input_shape_ == (1, 6, 6)
    assert [type(layer).__name__ for layer in clf.model_.layers] == ["Conv2D", "Flatten",
                                                                      "Dense"]


# ------------------------------------------------------------- training modes
def test_partial_fit(rng):
    X, y = _blobs(rng)
    clf = CNNClassifier(n_threads=1, random_state=0, learning_rate=0.01)
    with pytest.raises(ValueError, match="`classes` must be given"):
        clf.partial_fit(X, y)
    for _ in range(6):
        clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
        clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 12
    assert len(clf.loss_curve_) == 12
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X[:5], np.full(5, 9))
    with pytest.raises(ValueError, match="is not the same as"):
        clf.partial_fit(X[:5], y[:5], classes=[0, 1])
    # a batch holding a single class is fine once the classes are known
    clf.partial_fit(X[y == 0], y[y == 0])


def test_warm_start_continues(rng):
    X, y = _blobs(rng)
    clf = CNNClassifier(max_iter=3, warm_start=True, tol=0.0, n_iter_no_change=100,
                        n_threads=1, random_state=0)
    clf.fit(X, y)
    model, first_curve = clf.model_, list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.model_ is model
    assert clf.n_iter_ == 6
    assert clf.loss_curve_[:3] == first_curve
    assert clf.loss_curve_[-1] < first_curve[-1]
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, (y + 1) % 4)
    cold = CNNClassifier(max_iter=3, n_threads=1, random_state=0).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 3


def test_early_stopping(rng):
    X, y = _blobs(rng, n=90)
    clf = CNNClassifier(max_iter=30, early_stopping=True, n_iter_no_change=2,
                        learning_rate=0.01, n_threads=1, random_state=0).fit(X, y)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.n_iter_ < 30
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    plain = CNNClassifier(**FAST).fit(X, y)
    assert plain.validation_scores_ is None
    assert plain.best_loss_ == min(plain.loss_curve_)


def test_regressor_shapes_and_fit(rng):
    X = rng.normal(size=(120, 1, 4, 4)).astype(np.float32)
    y = X.mean(axis=(1, 2, 3)) * 4
    reg = CNNRegressor(max_iter=20, learning_rate=0.01, n_threads=1, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (120,)
    assert reg.score(X, y) > 0.8
    Y = np.stack([y, -y], axis=1)
    reg2 = CNNRegressor(**FAST).fit(X, Y)
    assert reg2.n_outputs_ == 2 and reg2.predict(X).shape == (120, 2)
    col = CNNRegressor(**FAST).fit(X, y[:, None])
    assert col.predict(X).shape == (120, 1)
    reg.partial_fit(X, y)
    assert reg.n_iter_ == 21


# --------------------------------------------------------- scikit-learn tools
def test_pipeline_with_scaler_on_digits(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(),
                         CNNClassifier(input_shape=(1, 8, 8), max_iter=4, n_threads=1,
                                       random_state=0))
    pipe.fit(X[:1000], y[:1000])
    assert pipe.score(X[1000:], y[1000:]) > 0.9


def test_cross_val_score(digits):
    X, y = digits
    scores = cross_val_score(CNNClassifier(max_iter=4, learning_rate=0.01, n_threads=1,
                                           random_state=0), X[:600], y[:600],
                             cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,)
    assert scores.min() > 0.8


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_grid_search_n_jobs_2(digits, backend):
    X, y = digits
    search = GridSearchCV(CNNClassifier(max_iter=2, random_state=0),
                          {"learning_rate": [1e-3, 1e-2]}, cv=2, n_jobs=2)
    with parallel_backend(backend, n_jobs=2):
        search.fit(X[:300], y[:300])
    assert search.best_params_["learning_rate"] in (1e-3, 1e-2)
    assert search.best_score_ > 0.5
    assert search.predict(X[:5]).shape == (5,)


# -------------------------------------------------------------------- threads
class _ThreadProbe(layers.Layer):
    """Identity layer recording the thread count its forward pass would use."""

    seen = []

    def forward(self, x, training=False):
        type(self).seen.append(pyconv.get_num_threads())
        return x

    def backward(self, grad, need_input_grad=True):
        self.grads = []
        return grad


def _threads_seen_in_fit(n_threads=None, barrier=None):
    _ThreadProbe.seen = []
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    if barrier is not None:
        barrier.wait()
    CNNClassifier(layers=[_ThreadProbe(), layers.Flatten()], max_iter=2, n_threads=n_threads,
                  random_state=0).fit(X, np.arange(16) % 2)
    return sorted(set(_ThreadProbe.seen))


def test_threads_budget_alone_and_explicit():
    cores = pyconv.get_num_threads()
    assert _threads_seen_in_fit() == [cores]
    assert _threads_seen_in_fit(n_threads=1) == [1]
    assert pyconv.get_num_threads() == cores          # restored after fit


def test_threads_budget_in_loky_workers():
    import joblib

    cores = joblib.cpu_count()
    seen = Parallel(n_jobs=2, backend="loky")(delayed(_threads_seen_in_fit)() for _ in range(2))
    for counts in seen:
        assert max(counts) <= max(1, cores // 2)


def test_threads_budget_shared_between_concurrent_threads():
    base = pyconv.get_num_threads()
    barrier = threading.Barrier(2)
    results = []

    def work():
        with _ThreadBudget(None) as budget:
            barrier.wait()                       # both calls are active now
            budget.refresh()                     # as at the start of every epoch
            results.append(pyconv.get_num_threads())
            barrier.wait()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [max(1, base // 2)] * 2
    with _ThreadBudget(None):
        assert pyconv.get_num_threads() == base


# ------------------------------------------------------------------ callbacks
def test_callbacks_see_per_epoch_training_and_validation_curves(rng):
    from pyconv.callbacks import Callback, CSVLogger

    class Curves(Callback):
        def __init__(self):
            super().__init__()
            self.rows = []

        def on_epoch_end(self, epoch, logs=None):
            self.rows.append(dict(logs))

    X = rng.normal(size=(120, 1, 4, 4)).astype(np.float32)
    y = (X.mean(axis=(1, 2, 3)) > 0).astype(int)
    curves = Curves()
    clf = CNNClassifier(max_iter=4, n_iter_no_change=10, early_stopping=True,
                        random_state=0, callbacks=[curves]).fit(X, y)
    assert [row["loss"] for row in curves.rows] == clf.loss_curve_
    assert [row["val_score"] for row in curves.rows] == clf.validation_scores_
    reference = CNNClassifier(max_iter=4, n_iter_no_change=10, early_stopping=True,
                              random_state=0).fit(X, y)
    assert reference.loss_curve_ == clf.loss_curve_          # watching changes nothing
    clone(clf).fit(X, y)                                        # callbacks clone with it


def test_a_callback_can_stop_the_estimator(rng):
    from pyconv.callbacks import LambdaCallback

    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = rng.normal(size=60)

    def stop(epoch, logs):
        reg.model_.stop_training = epoch >= 1

    reg = CNNRegressor(max_iter=10, random_state=0,
                       callbacks=[LambdaCallback(on_epoch_end=stop)])
    reg.fit(X, y)
    assert reg.n_iter_ == 2


def test_augmentation_layers_in_the_template(rng):
    X = rng.normal(size=(80, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :, :4].sum(axis=(1, 2)) > 0).astype(int)

    def fitted():
        template = [layers.RandomFlip("horizontal_and_vertical"),
                    layers.RandomTranslation(0.1, 0.1),
                    layers.Conv2D(4, 3, activation="relu"), layers.Flatten()]
        return CNNClassifier(layers=template, max_iter=2, random_state=0).fit(X, y)

    first, second = fitted(), fitted()
    assert [type(layer).__name__ for layer in first.model_.layers][:2] == [
        "RandomFlip", "RandomTranslation"]
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    np.testing.assert_array_equal(first.predict_proba(X), first.predict_proba(X))
