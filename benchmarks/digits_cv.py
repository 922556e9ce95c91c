"""5-fold stratified CV accuracy and wall time on digits: CNNClassifier vs MLPClassifier.

Runs the default ``CNNClassifier(input_shape=(1, 8, 8), random_state=0)`` and
scikit-learn's ``MLPClassifier(random_state=0)`` on ``load_digits`` with
``X / 16``, in one run, on the same folds, and prints one line each::

    python benchmarks/digits_cv.py                # shuffled stratified folds
    python benchmarks/digits_cv.py --no-shuffle   # cross_val_score(cv=5)'s folds
    python benchmarks/digits_cv.py --float32      # the fast float32 path

With ``--no-shuffle`` the folds follow the file order (different writers per
fold), which is much harder for every model than shuffled folds.
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier

from pyconv.estimators import CNNClassifier


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-shuffle", action="store_true",
                        help="unshuffled folds (cross_val_score's cv=5 default)")
    parser.add_argument("--float32", action="store_true", help="feed float32 X")
    parser.add_argument("--n-threads", type=int, default=None,
                        help="CNNClassifier n_threads (default: all cores)")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16
    if args.float32:
        X = X.astype(np.float32)
    shuffle = not args.no_shuffle
    cv = StratifiedKFold(5, shuffle=shuffle, random_state=0 if shuffle else None)
    print(f"digits {X.shape}, X/16 {X.dtype}, StratifiedKFold(5, shuffle={shuffle})")
    models = {
        "CNNClassifier(input_shape=(1, 8, 8), random_state=0)":
            CNNClassifier(input_shape=(1, 8, 8), random_state=0, n_threads=args.n_threads),
        "MLPClassifier(random_state=0)": MLPClassifier(random_state=0),
    }
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = cross_val_score(model, X, y, cv=cv)
        seconds = time.perf_counter() - start
        folds = " ".join(f"{s:.4f}" for s in scores)
        print(f"{name:55s} accuracy {scores.mean():.4f} +- {scores.std():.4f} "
              f"[{folds}]  wall {seconds:6.1f} s")


if __name__ == "__main__":
    main()
