"""Convolution and pooling kernels: pyconv against the numpy reference and
PyTorch, interleaved in one process (medians, % of peak, time ratios).

Same as ``python -m pyconv bench``; see ``--help`` for the options, e.g.::

    python benchmarks/bench_conv.py --threads 1 2 --no-reference
"""
import os
import sys

try:
    import pyconv  # noqa: F401
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pyconv._bench import main  # noqa: E402

if __name__ == "__main__":
    main(prog="python benchmarks/bench_conv.py")
