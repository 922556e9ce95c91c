"""pyconv on Dask: a grid search spread over a cluster, and blockwise training
===========================================================================

Needs ``pip install "pyconv[dask]"`` (dask[distributed] and dask-ml). Starts a
local cluster of 2 worker processes with 1 thread each (point ``Client`` at a
real scheduler address to use many machines), then

1. runs the same ``GridSearchCV`` with ``n_jobs=1`` and on the cluster through
   ``joblib.parallel_backend("dask")``, and prints both wall times;
2. trains ``dask_ml.wrappers.Incremental(CNNClassifier(...))`` on a dask
   array block by block through ``partial_fit`` (the array never has to fit
   in memory at once), and predicts in parallel with ``ParallelPostFit``.

Run it with ``python examples/05_dask.py``.
"""
import time

import numpy as np


def main():
    try:
        import dask.array as da
        from dask.distributed import Client, LocalCluster
        from dask_ml.wrappers import Incremental, ParallelPostFit
    except ImportError:
        print('This example needs Dask: pip install "pyconv[dask]"')
        return
    from joblib import parallel_backend
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from pyconv.estimators import CNNClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    grid = {"learning_rate": [1e-3, 3e-3], "batch_size": [32, 64]}

    def search():
        return GridSearchCV(CNNClassifier(input_shape=(1, 8, 8), max_iter=5, random_state=0),
                            grid, cv=3)

    start = time.perf_counter()
    local = search().fit(X, y)
    local_seconds = time.perf_counter() - start
    print(f"GridSearchCV n_jobs=1:           {local_seconds:6.1f} s, "
          f"best {local.best_params_} ({local.best_score_:.4f})")

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("pyconv"))      # warm the workers' imports
        start = time.perf_counter()
        with parallel_backend("dask"):
            distributed = search().fit(X, y)
        dask_seconds = time.perf_counter() - start
        print(f"GridSearchCV on 2 Dask workers:  {dask_seconds:6.1f} s, "
              f"best {distributed.best_params_} ({distributed.best_score_:.4f})")

        X_dask = da.from_array(X, chunks=(300, 64))
        y_dask = da.from_array(y, chunks=300)
        inc = Incremental(CNNClassifier(input_shape=(1, 8, 8), learning_rate=3e-3,
                                        random_state=0), scoring="accuracy")
        for epoch in range(5):
            inc.partial_fit(X_dask, y_dask, classes=np.unique(y))
        print(f"Incremental: {X_dask.numblocks[0]} blocks x 5 passes, "
              f"accuracy {inc.score(X_dask, y_dask):.4f}")
        post = ParallelPostFit(estimator=inc.estimator_)
        predicted = post.predict(X_dask).compute()
        print(f"ParallelPostFit predictions: {predicted[:10]} ... "
              f"(agree with labels on {np.mean(predicted == y):.1%})")


if __name__ == "__main__":
    main()
