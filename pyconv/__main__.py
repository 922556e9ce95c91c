"""Command line: ``python -m pyconv {demo,bench,info,lecture}`` (also ``pyconv ...``)."""
import argparse
import sys


def _lecture(args):
    """Print the lecture's worked numbers, computed by pyconv.functional."""
    import numpy as np

    from .functional import conv2d, max_pool2d

    image = np.array([[200, 200, 200, 200, 200],
                      [200, 20, 20, 45, 200],
                      [100, 20, 25, 65, 150],
                      [80, 20, 40, 60, 80],
                      [80, 30, 50, 80, 80]], dtype=np.float64)
    blur = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    y = conv2d(image[None, None], blur[None, None])[0, 0]
    print("3x3 blur of the lecture's 5x5 image (slide: 92.8125, 71.5625 / 46.875):")
    print(np.array2string(y, precision=4))
    red = [[0, 0, 0], [0, 1, 128], [0, 4, 100]]
    green = [[0, 0, 0], [0, 0, 10], [0, 10, 255]]
    filt = np.array([[[1, 2], [0, 0.5]], [[1, 1], [1, 1.5]]])
    y2 = conv2d(np.array([red, green], dtype=np.float64)[None], filt[None])[0, 0]
    print("two-channel 2x2 filter (slide: [[0.5, 79], [19, 709.5]]):")
    print(np.array2string(y2))
    pooled = max_pool2d(np.array([[[[1.0, 4.0], [2.0, 9.0]]]]), 2)
    print(f"2x2 max pooling of [[1, 4], [2, 9]] (slide: 9): {pooled[0, 0, 0, 0]:g}")
    return 0


def _info(argv):
    from . import show_config

    argparse.ArgumentParser(prog="pyconv info", description="Print the build "
                            "configuration: OpenMP, SIMD path, threads.").parse_args(argv)
    show_config()
    return 0


def _bench(argv):
    from . import _bench

    _bench.main(argv)
    return 0


def _demo(argv):
    from ._demo import main as demo_main

    return demo_main(argv)


def _lecture_command(argv):
    argparse.ArgumentParser(prog="pyconv lecture", description="Print the lecture's "
                            "worked numbers computed by pyconv.").parse_args(argv)
    return _lecture(None)


COMMANDS = {
    "demo": (_demo, "train the default CNN on scikit-learn's digits (see `demo --help`)"),
    "bench": (_bench, "time the kernels against the numpy reference and PyTorch "
                      "(see `bench --help`)"),
    "info": (_info, "print the build configuration (OpenMP, SIMD, threads)"),
    "lecture": (_lecture_command, "print the lecture's worked numbers computed by pyconv"),
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]][0](argv[1:])
    parser = argparse.ArgumentParser(
        prog="pyconv", description="pyconv: fast CPU convolutional networks.",
        epilog="commands:\n" + "\n".join(f"  {name:<9} {text}"
                                          for name, (_, text) in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to run")
    parser.parse_args(argv[:1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
