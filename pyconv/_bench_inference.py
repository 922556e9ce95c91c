"""Inference benchmark: ``model.predict`` against PyTorch and ONNX Runtime.

Run with ``python -m pyconv bench --inference`` (or
``python benchmarks/bench_inference.py``). Two models, LeNet-5 and a small
CIFAR net (conv 32 3x3 same relu, conv 32, maxpool, conv 64, conv 64,
maxpool, dense 128 relu, dense 10), with the same weights in every
framework (outputs checked equal to 1e-5 first), at batch 1 and 256 with 1
and 2 threads. The frameworks are timed interleaved -- pyconv, PyTorch,
ONNX Runtime, then PyTorch, ONNX Runtime, pyconv, ... (each round starts one
column later) -- and medians are printed: milliseconds per call
at batch 1, images per second at batch 256, and time ratios to ONNX Runtime
and PyTorch (below 1: pyconv is faster). ``pyconv (layers)`` is the
layer-by-layer forward pass that ``predict`` ran before the compiled plan.

The figures only mean something on a quiet machine: the load average is
printed before and after, with a warning when it exceeds the core count.
"""
import argparse
import os
import platform
import tempfile

import numpy as np

from ._bench_timing import interleaved, load_average, warn_if_busy

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


def _cells(model, x, n_threads, torch, ort, onnx_path):
    """``{column: callable}`` computing the model's output for ``x``."""
    from ._threads import set_num_threads

    set_num_threads(n_threads)
    cells = {"pyconv": lambda: model.predict(x, batch_size=len(x), verbose=0)}

    def layer_by_layer():
        model._compiled_inference = False
        try:
            return model.predict(x, batch_size=len(x), verbose=0)
        finally:
            del model._compiled_inference

    cells["pyconv (layers)"] = layer_by_layer
    if torch is not None:
        torch.set_num_threads(n_threads)
        net = torch_mirror(model, torch)
        tx = torch.from_numpy(x)

        def torch_run():
            with torch.inference_mode():
                return net(tx).numpy()
        cells["PyTorch"] = torch_run
    if ort is not None and onnx_path is not None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
        cells["ONNX Runtime"] = lambda: session.run(None, {"input": x})[0]
    expected = cells["pyconv (layers)"]()
    for name, fn in cells.items():
        np.testing.assert_allclose(fn(), expected, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} disagrees with pyconv")
    return cells


def run(threads=(1, 2), batches=BATCHES, models=tuple(MODELS), out=print, min_seconds=0.6):
    from ._threads import set_num_threads

    torch, ort = _optional("torch"), _optional("onnxruntime")
    onnx = _optional("onnx")
    out(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; "
        f"{load_average()} (start)")
    warn_if_busy(out)
    if torch is None:
        out("PyTorch not installed: no PyTorch column")
    if ort is None or onnx is None:
        out("onnx/onnxruntime not installed: no ONNX Runtime column")
    rows = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for model_name in models:
            label, make = MODELS[model_name]
            model = make()
            onnx_path = None
            if ort is not None and onnx is not None:
                onnx_path = model.export(os.path.join(tmp, f"{model.name}.onnx"))
            for n_threads in threads:
                for batch in batches:
                    x = rng.standard_normal((batch,) + model.input_shape[1:]).astype(np.float32)
                    cells = _cells(model, x, n_threads, torch, ort, onnx_path)
                    ms = interleaved(cells, min_seconds=min_seconds, max_reps=200, rotate=True)
                    rows.append((label, batch, n_threads, ms))
    set_num_threads(None)
    if torch is not None:
        torch.set_num_threads(os.cpu_count() or 1)
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
                        help="minimum time per cell (default 0.6)")
    args = parser.parse_args(argv)
    run(tuple(args.threads), tuple(args.batches), tuple(args.models),
        min_seconds=args.seconds)


if __name__ == "__main__":
    main()
