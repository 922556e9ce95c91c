"""Byte-flip fuzz of a saved model file: does `load_model` only ever raise
`ValueError` (or `OSError`)?

One small model is saved, then every damaged copy of its file is loaded:
every truncation, every single-byte flip (the byte XOR 0xFF) and, with
``--bits``, every single-bit flip. With ``--repacked`` each byte of each
archive entry is also flipped *inside* a well-formed archive (the CRC
recomputed), so the JSON parser, the config checks and the ``.npy`` header
checks see damaged data instead of the zip reader refusing it first.

The process limits its own address space (``--memory-mb``, default 1024),
so a load that believes a declared size dies of `MemoryError` (counted, and
a failure) instead of eating the host; a load taking longer than
``--timeout`` seconds kills the process with SIGALRM (a hang; the last
label it started is in ``--log``). Outcomes are counted by exception type;
the exit code is 1 if any outcome other than a successful load,
`ValueError` or `OSError` was seen.

    python tools/fuzz_model_files.py                      # CI size: ~20 s
    python tools/fuzz_model_files.py --model conv --bits --repacked
    python tools/fuzz_model_files.py --json               # one JSON line

Uses the installed pyconv, else the source checkout this script is in.
"""
import argparse
import collections
import io
import json
import os
import signal
import sys
import tempfile
import time
import warnings
import zipfile

try:
    import pyconv  # noqa: F401
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _model(kind):
    import numpy as np

    from pyconv import Sequential
    from pyconv.layers import Conv2D, Dense, Flatten, Input, MaxPool2D

    if kind == "tiny":
        model = Sequential([Input((3,)), Dense(2)], seed=0)
        model.compile("sgd", "mse")
        return model
    model = Sequential([Input((1, 6, 6)), Conv2D(2, 3, activation="relu"), MaxPool2D(),
                        Flatten(), Dense(2, activation="softmax")], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((4, 1, 6, 6)).astype("float32"), np.array([0, 1, 0, 1]),
              verbose=0)                                 # so the file holds Adam's state
    return model


def _repacked(data):
    """Archives equal to ``data`` but for one flipped byte inside one entry."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    for index, (name, content) in enumerate(entries):
        for position in range(len(content)):
            damaged = bytearray(content)
            damaged[position] ^= 0xFF
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as archive:
                for j, (other, other_content) in enumerate(entries):
                    archive.writestr(other, bytes(damaged) if j == index else other_content)
            yield f"repacked {name} byte {position}", out.getvalue()


def mutations(data, bits=False, repacked=False):
    """``(label, damaged bytes)`` for every damaged copy of ``data`` asked for."""
    for length in range(len(data)):
        yield f"truncated to {length} bytes", data[:length]
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        yield f"byte {position} flipped", bytes(damaged)
    if bits:
        for position in range(len(data)):
            for bit in range(8):
                damaged = bytearray(data)
                damaged[position] ^= 1 << bit
                yield f"bit {bit} of byte {position} flipped", bytes(damaged)
    if repacked:
        yield from _repacked(data)


def allowed(outcome):
    return outcome in ("loaded", "ValueError") or outcome in _OSERROR_NAMES


_OSERROR_NAMES = {cls.__name__ for cls in (OSError, FileNotFoundError, IsADirectoryError,
                                           PermissionError)}


def fuzz(kind="tiny", bits=False, repacked=False, memory_mb=1024, timeout=30.0, log=None):
    """Load every damaged copy; return ``{"files", "outcomes", "failures", ...}``."""
    import resource

    from pyconv import load_model

    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)     # a hang kills the process
    outcomes = collections.Counter()
    failures = []
    start = time.perf_counter()
    scratch = "/dev/shm" if os.path.isdir("/dev/shm") else None   # a RAM disk when there is one
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        path = os.path.join(tmp, "model.pyconv")
        _model(kind).save(path)
        with open(path, "rb") as file:
            original = file.read()
        warnings.simplefilter("ignore")        # "saved by pyconv <flipped version>"
        for label, damaged in mutations(original, bits=bits, repacked=repacked):
            with open(path, "wb") as file:
                file.write(damaged)
            if log is not None:
                log.write(label + "\n")
                log.flush()
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                load_model(path)
                outcome = "loaded"
            except BaseException as exc:  # counting every kind is the point
                outcome = type(exc).__name__
                if not allowed(outcome):
                    failures.append(f"{label}: {outcome}: {str(exc)[:200]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            outcomes[outcome] += 1
    return {"model": kind, "archive_bytes": len(original), "files": sum(outcomes.values()),
            "outcomes": dict(outcomes.most_common()), "failures": failures,
            "memory_limit_mb": memory_mb, "seconds": round(time.perf_counter() - start, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("tiny", "conv"), default="tiny")
    parser.add_argument("--bits", action="store_true", help="also every single-bit flip")
    parser.add_argument("--repacked", action="store_true",
                        help="also every byte of every entry flipped in a valid archive")
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds one load may take before the run aborts as a hang")
    parser.add_argument("--log", type=argparse.FileType("w"),
                        help="write each case's label here before loading it")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    report = fuzz(args.model, bits=args.bits, repacked=args.repacked,
                  memory_mb=args.memory_mb, timeout=args.timeout, log=args.log)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['files']} damaged copies of a {report['archive_bytes']}-byte "
              f"'{args.model}' model file in {report['seconds']} s "
              f"(address space limited to {args.memory_mb} MiB):")
        for outcome, count in report["outcomes"].items():
            print(f"  {outcome:>20}: {count}")
        for failure in report["failures"][:20]:
            print("  NOT ALLOWED", failure)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
