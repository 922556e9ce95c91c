"""``python -m pyconv demo``: the default CNN on scikit-learn's digits."""
import argparse
import time


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pyconv demo",
        description="Train pyconv's default CNN (CNNClassifier) on scikit-learn's bundled "
                    "8x8 digits with a progress bar; print the network summary, the "
                    "held-out accuracy and the wall time.")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    parser.add_argument("--threads", type=int, default=None,
                        help="kernel threads (default: all cores, or OMP_NUM_THREADS)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    import pyconv
    from pyconv import CNNClassifier

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]   # (n, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=args.seed)
    if args.threads is not None:
        pyconv.set_num_threads(args.threads)
    clf = CNNClassifier(input_shape=(1, 8, 8), max_iter=args.epochs, batch_size=args.batch_size,
                        random_state=args.seed, verbose=0 if args.quiet else 1,
                        n_threads=args.threads)
    print(f"pyconv {pyconv.__version__}: training the default CNN on digits "
          f"({len(X_train)} train / {len(X_test)} test images, {args.epochs} epochs, "
          f"{pyconv.get_num_threads()} thread(s))")
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    clf.model_.summary()
    accuracy = clf.score(X_test, y_test)
    print(f"test accuracy: {accuracy:.4f}   training time: {elapsed:.1f} s")
    return 0
