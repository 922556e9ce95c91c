"""The estimators on Dask: joblib's dask backend, Incremental and ParallelPostFit.

Skipped cleanly without ``dask[distributed]`` and ``dask-ml``
(``pip install "pyconv[dask]"``). One ``LocalCluster`` of 2 worker processes
with 1 thread each serves the whole module.
"""
import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
dask_ml = pytest.importorskip("dask_ml")

import dask.array as da  # noqa: E402
from dask_ml.wrappers import Incremental, ParallelPostFit  # noqa: E402
from joblib import parallel_backend  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402

from pyconv.estimators import CNNClassifier  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, memory_limit=0)
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400]


def test_grid_search_on_dask_backend(client, digits):
    X, y = digits
    search = GridSearchCV(CNNClassifier(max_iter=3, random_state=0),
                          {"learning_rate": [3e-3, 1e-2]}, cv=2)
    with parallel_backend("dask"):
        search.fit(X, y)
    assert set(search.cv_results_["param_learning_rate"]) == {3e-3, 1e-2}
    assert search.best_score_ > 0.5
    # the tasks ran on both workers, each limited to its single thread
    assert len(client.scheduler_info()["workers"]) == 2
    assert search.best_estimator_.predict(X[:10]).shape == (10,)


def test_cross_val_score_on_dask_backend(client, digits):
    X, y = digits
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    with parallel_backend("dask"):
        scores = cross_val_score(CNNClassifier(max_iter=3, learning_rate=0.01, random_state=0),
                                 X, y, cv=cv)
    local = cross_val_score(CNNClassifier(max_iter=3, learning_rate=0.01, random_state=0),
                            X, y, cv=cv)
    np.testing.assert_array_equal(scores, local)       # same seeds, same results anywhere
    assert scores.min() > 0.6


def _worker_threads():
    import pyconv

    return pyconv.get_num_threads()


def test_workers_use_one_thread_each(client):
    counts = client.run(_worker_threads)
    assert sorted(counts.values()) == [1, 1]


def test_incremental_partial_fit_and_parallel_post_fit(client, digits):
    X, y = digits
    X_dask = da.from_array(X, chunks=(100, 64))
    y_dask = da.from_array(y, chunks=100)
    classes = np.unique(y)
    inc = Incremental(CNNClassifier(learning_rate=3e-3, random_state=0),
                      scoring="accuracy", shuffle_blocks=False)
    for _ in range(3):
        inc.partial_fit(X_dask, y_dask, classes=classes)
    est = inc.estimator_
    assert est.n_iter_ == 3 * X_dask.numblocks[0]      # one epoch per block and pass
    assert inc.score(X_dask, y_dask) > 0.8

    post = ParallelPostFit(estimator=est)
    pred = post.predict(X_dask)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), est.predict(X))
    proba = post.predict_proba(X_dask).compute()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
