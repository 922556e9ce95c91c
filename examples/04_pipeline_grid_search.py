"""A CNN inside a scikit-learn pipeline, tuned by grid search
==========================================================

``StandardScaler`` works on the flat 64 pixels of each digit; the
``CNNClassifier`` reads them back as 1x8x8 images (``input_shape``). The
grid search runs its fits in parallel (``n_jobs=2``): each fit takes its
share of the cores, so the two never oversubscribe the machine.

Run it with ``python examples/04_pipeline_grid_search.py``.
"""
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pyconv.estimators import CNNClassifier


def main():
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)          # the fast float32 path (float64 works too)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("cnn", CNNClassifier(input_shape=(1, 8, 8), max_iter=8, random_state=0)),
    ])
    grid = {
        "cnn__learning_rate": [1e-3, 3e-3],
        "cnn__batch_size": [32, 64],
    }
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    print(f"grid search: {len(search.cv_results_['params'])} candidates x 3 folds "
          f"in {seconds:.1f} s")
    for params, score in zip(search.cv_results_["params"],
                             search.cv_results_["mean_test_score"]):
        print(f"  {params}  cv accuracy {score:.4f}")
    print("best:", search.best_params_)
    print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.4f}")
    cnn = search.best_estimator_.named_steps["cnn"]
    print(f"epochs run: {cnn.n_iter_}, final training loss: {cnn.loss_curve_[-1]:.4f}")
    cnn.model_.summary()


if __name__ == "__main__":
    main()
