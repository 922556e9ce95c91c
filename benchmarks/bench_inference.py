"""Inference: ``model.predict`` against PyTorch and ONNX Runtime on LeNet-5
and a small CIFAR net, batch 1 and 256, 1 and 2 threads, interleaved
medians and ratios (see pyconv/_bench_inference.py).

    python benchmarks/bench_inference.py [--threads 1 2] [--batches 1 256]
"""
import os
import sys

try:
    import pyconv  # noqa: F401
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyconv._bench import main  # noqa: E402

if __name__ == "__main__":
    main(["--inference", *sys.argv[1:]], prog="python benchmarks/bench_inference.py")
