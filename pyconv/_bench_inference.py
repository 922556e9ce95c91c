"""Inference benchmark: ``model.predict`` against PyTorch and ONNX Runtime.

Run with ``python -m pyconv bench --inference`` (or
``python benchmarks/bench_inference.py``). Two models, LeNet-5 and a small
CIFAR net (conv 32 3x3 same relu, conv 32, maxpool, conv 64, conv 64,
maxpool, dense 128 relu, dense 10), with the same weights in every
framework (outputs checked equal to 1e-5 first), at batch 1 and 256 with 1
and 2 threads. Medians are printed: milliseconds per call at batch 1, images
per second at batch 256, and time ratios to ONNX Runtime and PyTorch (below
1: pyconv is faster). ``pyconv (layers)`` is the layer-by-layer forward pass
that ``predict`` ran before the compiled plan.

Each framework runs in a worker process of its own, under the settings a
user would have: its own OpenMP runtime or thread pool with its default
waiting policy, its own heap. (In one process, two OpenMP runtimes that spin
while waiting take each other's cores, and passive waiting instead makes
every parallel region pay a thread wake-up: either setting penalises some
column.) The workers take turns -- pyconv, PyTorch, ONNX Runtime, then
PyTorch, ONNX Runtime, pyconv, ... (each round starts one column later) --
each turn a block of calls lasting about ``--block`` seconds, so the noise
of a shared machine reaches every column alike while a worker's threads
still spinning from its last turn disturb at most the first call of the
next one. Every call is timed; the median is reported.

The figures only mean something on a quiet machine: the load average is
printed before and after, with a warning when it exceeds the core count.
"""
import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from ._bench_timing import cpu_description, load_average, warn_if_busy

BATCHES = (1, 256)


def lenet():
    from . import layers as L
    from .models import Sequential

    return Sequential([
        L.Conv2D(6, 5, padding="same", activation="relu", input_shape=(1, 28, 28)),
        L.MaxPool2D(), L.Conv2D(16, 5, activation="relu"), L.MaxPool2D(), L.Flatten(),
        L.Dense(120, activation="relu"), L.Dense(84, activation="relu"), L.Dense(10)],
        name="lenet5", seed=0)


def cifar_net():
    from . import layers as L
    from .models import Sequential

    return Sequential([
        L.Conv2D(32, 3, padding="same", activation="relu", input_shape=(3, 32, 32)),
        L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPool2D(),
        L.Conv2D(64, 3, padding="same", activation="relu"),
        L.Conv2D(64, 3, padding="same", activation="relu"), L.MaxPool2D(), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dense(10)], name="cifar_net", seed=0)


MODELS = {"lenet": ("LeNet-5", lenet), "cifar": ("CIFAR net", cifar_net)}


def torch_mirror(model, torch):
    """The same network in PyTorch, with the model's weights."""
    from . import layers as L

    nn = torch.nn
    modules = []
    for layer in model.layers:
        if type(layer) is L.Conv2D:
            (top, bottom), (left, right) = layer._pads
            if top != bottom or left != right:
                raise ValueError(f"asymmetric padding in {layer.name}")
            conv = nn.Conv2d(layer.kernel.shape[1] * layer.groups, layer.filters,
                             layer.kernel_size, layer.strides, (top, left),
                             layer.dilation_rate, layer.groups, layer.use_bias)
            conv.weight.data = torch.from_numpy(layer.kernel.copy())
            if layer.use_bias:
                conv.bias.data = torch.from_numpy(layer.bias.copy())
            modules.append(conv)
        elif type(layer) is L.Dense:
            dense = nn.Linear(*layer.kernel.shape, bias=layer.use_bias)
            dense.weight.data = torch.from_numpy(layer.kernel.T.copy())
            if layer.use_bias:
                dense.bias.data = torch.from_numpy(layer.bias.copy())
            modules.append(dense)
        elif type(layer) is L.MaxPool2D:
            modules.append(nn.MaxPool2d(layer.pool_size, layer.strides))
        elif type(layer) is L.Flatten:
            modules.append(nn.Flatten())
        else:
            raise ValueError(f"no PyTorch mirror for {type(layer).__name__}")
        activation = getattr(layer, "activation", None)
        if activation is not None and activation.name == "relu":
            modules.append(nn.ReLU())
        elif activation is not None and activation.name != "linear":
            raise ValueError(f"no PyTorch mirror for activation {activation.name}")
    return nn.Sequential(*modules).eval()


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


#: The columns, each with the worker process (framework) that times it.
COLUMNS = {"pyconv": "pyconv", "pyconv (layers)": "pyconv", "PyTorch": "torch",
           "ONNX Runtime": "onnxruntime"}


def _input(model_name, batch, seed=0):
    """The batch every framework is timed on (the same in every process)."""
    shape = {"lenet": (1, 28, 28), "cifar": (3, 32, 32)}[model_name]
    return np.random.default_rng(seed).standard_normal((batch,) + shape).astype(np.float32)


def _worker_cells(framework, model_name, batch, n_threads, tmp):
    """``{column: callable}`` run by the ``framework`` worker for one cell."""
    from ._threads import set_num_threads

    model = MODELS[model_name][1]()        # seeded: the same weights in every process
    x = _input(model_name, batch)
    if framework == "pyconv":
        set_num_threads(n_threads)

        def layer_by_layer():
            model._compiled_inference = False
            try:
                return model.predict(x, batch_size=batch, verbose=0)
            finally:
                del model._compiled_inference
        return {"pyconv": lambda: model.predict(x, batch_size=batch, verbose=0),
                "pyconv (layers)": layer_by_layer}
    if framework == "torch":
        import torch

        torch.set_num_threads(n_threads)
        net, tx = torch_mirror(model, torch), torch.from_numpy(x)

        def torch_run():
            with torch.inference_mode():
                return net(tx).numpy()
        return {"PyTorch": torch_run}
    import onnxruntime as ort

    path = model.export(os.path.join(tmp, f"{model.name}.onnx"))
    options = ort.SessionOptions()
    options.intra_op_num_threads = n_threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return {"ONNX Runtime": lambda: session.run(None, {"input": x})[0]}


def _serve(framework):
    """A worker's loop: requests from the parent on stdin, replies on stdout
    (pickled). ``("cell", model, batch, threads)`` prepares the cell and
    replies with each column's first output; ``("time", column, seconds)``
    calls it for about that long (at least once) and replies with the
    seconds of every call; ``("quit",)`` ends."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr              # nothing else may write to the pipe
    cells = {}
    with tempfile.TemporaryDirectory() as tmp:
        while True:
            request = pickle.load(requests)
            try:
                if request[0] == "quit":
                    return
                if request[0] == "cell":
                    cells = _worker_cells(framework, *request[1:], tmp)
                    reply = {name: np.array(fn()) for name, fn in cells.items()}
                else:
                    _, column, seconds = request
                    fn, times = cells[column], []
                    end = time.perf_counter() + seconds
                    while not times or time.perf_counter() < end:
                        start = time.perf_counter()
                        fn()
                        times.append(time.perf_counter() - start)
                    reply = times
            except Exception as error:  # noqa: BLE001  (the parent re-raises it)
                import traceback

                reply = RuntimeError(f"{framework} worker: {error}\n{traceback.format_exc()}")
            pickle.dump(reply, replies)
            replies.flush()


class _Worker:
    """The parent's end of one framework's worker process."""

    def __init__(self, framework):
        import pyconv

        root = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        # Not in the current directory: a source tree there would shadow pyconv.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pyconv._bench_inference", "--worker", framework],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
            cwd=tempfile.gettempdir())

    def ask(self, *request):
        pickle.dump(request, self.process.stdin)
        self.process.stdin.flush()
        try:
            reply = pickle.load(self.process.stdout)
        except EOFError:
            raise RuntimeError(f"benchmark worker {self.process.args[-1]} exited "
                               f"(code {self.process.wait()})") from None
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self):
        try:
            self.ask("quit")
        except (OSError, RuntimeError, EOFError):
            pass
        self.process.wait()


def _time_cell(workers, columns, min_seconds, block, min_rounds=7, max_rounds=200):
    """Median milliseconds per call of each column, the workers taking turns
    (each round starts one column later)."""
    times = {column: [] for column in columns}
    spent = dict.fromkeys(columns, 0.0)
    rounds = 0
    while rounds < min_rounds or (min(spent.values()) < min_seconds and rounds < max_rounds):
        for k in range(len(columns)):
            column = columns[(rounds + k) % len(columns)]
            calls = workers[COLUMNS[column]].ask("time", column, block)
            times[column] += calls
            spent[column] += sum(calls)
        rounds += 1
    return {column: 1e3 * statistics.median(ts) for column, ts in times.items()}


def run(threads=(1, 2), batches=BATCHES, models=tuple(MODELS), out=print, min_seconds=0.6,
        block=0.05):
    out(f"CPU: {cpu_description()}; {load_average()} (start)")
    warn_if_busy(out)
    frameworks = ["pyconv"]
    if _optional("torch") is None:
        out("PyTorch not installed: no PyTorch column")
    else:
        frameworks.append("torch")
    if _optional("onnxruntime") is None or _optional("onnx") is None:
        out("onnx/onnxruntime not installed: no ONNX Runtime column")
    else:
        frameworks.append("onnxruntime")
    columns = [c for c, framework in COLUMNS.items() if framework in frameworks]
    workers = {}
    rows = []
    try:
        for framework in frameworks:
            workers[framework] = _Worker(framework)
        for model_name in models:
            for n_threads in threads:
                for batch in batches:
                    outputs = {}
                    for worker in workers.values():
                        outputs.update(worker.ask("cell", model_name, batch, n_threads))
                    expected = outputs["pyconv (layers)"]
                    for name, y in outputs.items():
                        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5,
                                                   err_msg=f"{name} disagrees with pyconv")
                    ms = _time_cell(workers, columns, min_seconds, block)
                    rows.append((MODELS[model_name][0], batch, n_threads, ms))
    finally:
        for worker in workers.values():
            worker.close()
    _print_table(rows, out)
    out(f"{load_average()} (end)")
    return rows


def _print_table(rows, out):
    columns = [c for c in ("pyconv", "pyconv (layers)", "PyTorch", "ONNX Runtime")
               if all(c in ms for *_, ms in rows)]
    ratios = [c for c in ("ONNX Runtime", "PyTorch") if c in columns]
    header = (["model", "batch", "threads"] + columns
              + [f"pyconv / {c}" for c in ratios] + ["2 threads / 1"])
    out("| " + " | ".join(header) + " |")
    out("|" + "---|" * len(header))
    one_thread = {(m, b): ms["pyconv"] for m, b, t, ms in rows if t == 1}
    for model, batch, n_threads, ms in rows:
        unit = (lambda v: f"{v:.3f} ms") if batch == 1 else (
            lambda v: f"{1e3 * batch / v:,.0f} img/s")
        cells = [model, str(batch), str(n_threads)] + [unit(ms[c]) for c in columns]
        cells += [f"{ms['pyconv'] / ms[c]:.2f}x" for c in ratios]
        base = one_thread.get((model, batch))
        cells.append(f"{ms['pyconv'] / base:.2f}x" if n_threads != 1 and base else "")
        out("| " + " | ".join(cells) + " |")
    out("(ratios are time ratios: below 1.00x pyconv is faster; batch 1 in ms per call, "
        "batch 256 in images per second)")


def main(argv=None, prog="python -m pyconv bench --inference"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS),
                        help="lenet (LeNet-5) and/or cifar (the CIFAR net)")
    parser.add_argument("--seconds", type=float, default=0.6,
                        help="minimum time per column and cell (default 0.6)")
    parser.add_argument("--block", type=float, default=0.05,
                        help="seconds of calls per turn of a worker (default 0.05)")
    parser.add_argument("--worker", choices=sorted(set(COLUMNS.values())),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _serve(args.worker)
        return
    run(tuple(args.threads), tuple(args.batches), tuple(args.models),
        min_seconds=args.seconds, block=args.block)


if __name__ == "__main__":
    main()
