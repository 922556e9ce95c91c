"""LeNet-5 training epoch, pyconv's Sequential against the same model in
PyTorch: 10k random 1x28x28 samples, batch 64, SGD (lr 0.01, momentum 0.9);
conv 6@5x5 pad 2, ReLU, maxpool 2, conv 16@5x5, ReLU, maxpool 2, dense 120,
84, 10. Each framework and thread count runs in its own subprocess, which
reports the median s/epoch of 3 epochs after a warm-up and its peak RSS.

    python benchmarks/bench_lenet.py [--threads 1 2]
"""
import os
import sys

try:
    import pyconv  # noqa: F401
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyconv._bench import main  # noqa: E402

if __name__ == "__main__":
    main(["--lenet-only", *sys.argv[1:]], prog="python benchmarks/bench_lenet.py")
