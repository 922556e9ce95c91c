"""Side-by-side benchmarks: pyconv against the numpy reference and PyTorch.

Run with ``python -m pyconv bench`` (or ``python benchmarks/bench_conv.py``).
Implementations are timed interleaved in one process -- call A, call B,
call A, ... -- and medians are reported, so that a noisy, shared machine
affects every column alike. Nothing here is a test: it prints figures.
"""
import argparse
import importlib.util
import os
import statistics
import tempfile
import time

import numpy as np

from ._bench_timing import interleaved, warn_if_busy

# (N, C_in, H, W, C_out, k, stride, pad, dilation, groups), float32, NCHW.
CONV_SHAPES = {
    "lenet1": (128, 1, 28, 28, 6, 5, 1, 2, 1, 1),
    "lenet2": (128, 6, 14, 14, 16, 5, 1, 0, 1, 1),
    "cifar1": (64, 3, 32, 32, 32, 3, 1, 1, 1, 1),
    "cifar2": (64, 32, 32, 32, 64, 3, 1, 1, 1, 1),
    "res56": (8, 64, 56, 56, 64, 3, 1, 1, 1, 1),
    "pw1x1": (16, 128, 28, 28, 256, 1, 1, 0, 1, 1),
    "strided": (32, 64, 32, 32, 128, 3, 2, 1, 1, 1),
    "dilated": (16, 32, 32, 32, 32, 3, 1, 2, 2, 1),
    "depthwise": (32, 64, 32, 32, 64, 3, 1, 1, 1, 64),
}
POOL_SHAPE = (64, 64, 32, 32)

# FP32 FMA peak of the machine the targets were set on (Zen 3,
# ../shared/bench/ANCHORS.md): used only when no FMA probe can run.
# PEAK_GFLOPS_1T / PEAK_GFLOPS_2T override the measurement.
PEAK_GFLOPS = {1: 98.4, 2: 194.8}


def peak_gflops(n_threads, level=None):
    """``(GFLOP/s, source)``: the FP32 FMA peak of this machine with
    ``n_threads`` threads and the vector width of SIMD path ``level`` (by
    default the widest this CPU, OS and build run: 512-bit FMAs on an
    AVX-512 CPU), measured by that build's FMA probe (12 independent FMA
    chains per thread, best of many short runs) unless set in the
    environment."""
    from . import _dispatch

    env = os.environ.get(f"PEAK_GFLOPS_{n_threads}T")
    if env and level is None:
        return float(env), "from the environment"
    level = _dispatch.usable_levels()[-1] if level is None else level
    measured = _dispatch.kernels("bench", level).fma_peak_gflops(n_threads)
    if measured > 0:
        return measured, f"{level} FMA probe"
    return PEAK_GFLOPS.get(n_threads, PEAK_GFLOPS[1] * n_threads), "reference machine's"


def conv_flops(shape):
    """Direct-convolution FLOPs of one forward pass."""
    n, c, h, w, co, k, s, p, d, g = shape
    ho = (h + 2 * p - d * (k - 1) - 1) // s + 1
    wo = (w + 2 * p - d * (k - 1) - 1) // s + 1
    return 2 * n * co * ho * wo * (c // g) * k * k


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def conv_cases(shape, rng, torch=None, reference=True):
    """Callables for forward and forward+backward of one shape."""
    from . import functional as F

    n, c, h, w, co, k, s, p, d, g = shape
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((co, c // g, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(co, dtype=np.float32)
    y = F.conv2d(x, wt, b, s, p, d, g)
    gy = rng.standard_normal(y.shape, dtype=np.float32)
    pads = ((p, p), (p, p))
    cases = {
        "pyconv fwd": lambda: F._conv2d_forward(x, wt, b, (s, s), pads, (d, d), g, "zeros"),
        "pyconv bwd": lambda: F._conv2d_backward(gy, x, wt, (s, s), pads, (d, d), g, "zeros"),
    }
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tw = torch.from_numpy(wt).requires_grad_(True)
        tb = torch.from_numpy(b).requires_grad_(True)
        tgy = torch.from_numpy(gy)

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, s, p, d, g)

        ty = torch.nn.functional.conv2d(tx, tw, tb, s, p, d, g)

        def torch_bwd():
            torch.autograd.grad(ty, (tx, tw, tb), tgy, retain_graph=True)

        cases["torch fwd"] = torch_fwd
        cases["torch bwd"] = torch_bwd
    if reference:
        from . import _reference

        cases["numpy fwd"] = lambda: _reference.conv2d_im2col(x, wt, b, s, p, d, g)
        cases["numpy bwd"] = lambda: _reference.conv2d_backward_im2col(gy, x, wt, s, p, d, g)
    return cases


def pool_cases(rng, torch=None):
    from . import functional as F

    x = rng.standard_normal(POOL_SHAPE, dtype=np.float32)
    y, idx = F._max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    gy = rng.standard_normal(y.shape, dtype=np.float32)
    cases = {
        "max fwd": {"pyconv": lambda: F._max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)},
        "max bwd": {"pyconv": lambda: F._max_pool2d_backward(gy, idx, x.shape)},
        "avg fwd": {"pyconv": lambda: F._avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0), False, True, None)},
        "avg bwd": {"pyconv": lambda: F._avg_pool2d_backward(gy, x.shape, (2, 2), (2, 2), (0, 0),
                                                             False, True, None)},
    }
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_(True)
        tgy = torch.from_numpy(gy)
        tmax = torch.nn.functional.max_pool2d(tx, 2)
        tavg = torch.nn.functional.avg_pool2d(tx, 2)
        cases["max bwd"]["torch"] = lambda: torch.autograd.grad(tmax, tx, tgy, retain_graph=True)
        cases["avg bwd"]["torch"] = lambda: torch.autograd.grad(tavg, tx, tgy, retain_graph=True)

        def no_grad(fn):
            def run():
                with torch.no_grad():
                    fn()
            return run
        cases["max fwd"]["torch"] = no_grad(lambda: torch.nn.functional.max_pool2d(tx, 2))
        cases["avg fwd"]["torch"] = no_grad(lambda: torch.nn.functional.avg_pool2d(tx, 2))
    return cases


# --------------------------------------------------------------------------
# LeNet-5 training epoch, pyconv against PyTorch. Each (framework, threads)
# cell runs in a fresh subprocess so that its peak RSS is its own.
# --------------------------------------------------------------------------
LENET_SAMPLES, LENET_BATCH, LENET_EPOCHS = 10_000, 64, 3


def _lenet_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((LENET_SAMPLES, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, LENET_SAMPLES)
    return x, y


def _lenet_worker_pyconv(n_threads):
    import pyconv
    from pyconv import layers, losses
    from pyconv.models import Sequential
    from pyconv.optimizers import SGD

    pyconv.set_num_threads(n_threads)
    x, y = _lenet_data()
    model = Sequential([
        layers.Input((1, 28, 28)),
        layers.Conv2D(6, 5, padding=2, activation="relu"), layers.MaxPool2D(2),
        layers.Conv2D(16, 5, activation="relu"), layers.MaxPool2D(2), layers.Flatten(),
        layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
        layers.Dense(10),
    ], seed=0)
    model.compile(optimizer=SGD(learning_rate=0.01, momentum=0.9),
                  loss=losses.SparseCategoricalCrossentropy(from_logits=True))

    def epoch():
        model.fit(x, y, batch_size=LENET_BATCH, epochs=1, verbose=0, shuffle=True)
    return epoch


def _lenet_worker_torch(n_threads):
    import torch
    import torch.nn as nn

    torch.set_num_threads(n_threads)
    torch.manual_seed(0)
    x, y = _lenet_data()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def epoch():
        model.train()
        perm = torch.randperm(LENET_SAMPLES, generator=gen)
        for i in range(0, LENET_SAMPLES, LENET_BATCH):
            idx = perm[i:i + LENET_BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return epoch


def _peak_rss_mb(resource):
    """Peak resident memory of this process in MB.

    Linux's ``VmHWM`` belongs to the address space that ``exec`` created;
    ``ru_maxrss`` also survives fork + exec, so a child would report its
    parent's peak when the parent was bigger.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def lenet_worker(framework, n_threads):
    """Run in a subprocess: one warm-up epoch, then timed ones; print JSON."""
    import json
    import resource

    if framework == "pyconv":
        # numpy's BLAS runs the dense layers' tiny matmuls; left multi-threaded
        # its threads fight pyconv's OpenMP threads (measured: ~5x slower
        # epochs on 2 cores), so it is held to one thread, as pyconv's own
        # kernels hold it.
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
    make = _lenet_worker_pyconv if framework == "pyconv" else _lenet_worker_torch
    epoch = make(n_threads)
    epoch()  # warm-up
    times = []
    for _ in range(LENET_EPOCHS):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    peak_mb = _peak_rss_mb(resource)
    print(json.dumps({"median_s": statistics.median(times), "epochs_s": times,
                      "peak_rss_mb": peak_mb}))


def run_lenet(threads=(1, 2), out=print):
    """LeNet-5 epochs (10k 1x28x28 samples, batch 64, SGD momentum 0.9), each
    framework and thread count in its own process; prints s/epoch and peak RSS."""
    import json
    import subprocess
    import sys

    import pyconv

    has_torch = importlib.util.find_spec("torch") is not None
    frameworks = ["pyconv"] + (["torch"] if has_torch else [])
    # the children import the same pyconv as this process
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    out(f"\nLeNet-5 training epoch ({LENET_SAMPLES} random 1x28x28 samples, batch "
        f"{LENET_BATCH}, SGD momentum 0.9): median of {LENET_EPOCHS} epochs after a "
        "warm-up, one process per cell")
    for n_threads in threads:
        cells = {}
        for framework in frameworks:
            cmd = [sys.executable, "-m", "pyconv._bench", "--lenet-worker", framework,
                   "--threads", str(n_threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env,
                                  cwd=tempfile.gettempdir())
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                out(f"  {framework} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            cells[framework] = json.loads(lines[-1])
        line = f"  {n_threads} thread(s): " + "  ".join(
            f"{fw} {c['median_s']:.3f} s/epoch (peak RSS {c['peak_rss_mb']:.0f} MB)"
            for fw, c in cells.items())
        if len(cells) == 2:
            line += (f"  ratio time {cells['pyconv']['median_s'] / cells['torch']['median_s']:.2f}"
                     f", RSS {cells['pyconv']['peak_rss_mb'] / cells['torch']['peak_rss_mb']:.2f}")
        out(line)


def run(threads=(1, 2), only=None, reference=True, pool=True, out=print, quick=False):
    """The conv (and pooling) tables; ``quick`` times fewer calls per cell."""
    import functools

    import pyconv

    timer = functools.partial(interleaved, min_reps=3, min_seconds=0.1) if quick else interleaved

    torch = _torch()
    rng = np.random.default_rng(0)
    out(f"pyconv {pyconv.__version__}, simd {pyconv._dispatch.simd_level()} "
        f"({pyconv._dispatch.simd_reason()}), "
        f"torch {torch.__version__ if torch else 'not installed'}; medians of interleaved calls, "
        "float32; %pk = GFLOP/s / peak (fwd: direct-conv FLOPs, bwd: 2x); "
        + _process_env_line())
    for n_threads in threads:
        pyconv.set_num_threads(n_threads)
        if torch is not None:
            torch.set_num_threads(n_threads)
        peak, source = peak_gflops(n_threads)
        running = pyconv._dispatch.simd_level()
        line = f"\n== {n_threads} thread(s), %pk of the widest peak {peak:.1f} GFLOP/s ({source})"
        if running != pyconv._dispatch.usable_levels()[-1]:
            own, own_source = peak_gflops(n_threads, running)
            line += f"; the running path's peak {own:.1f} GFLOP/s ({own_source})"
        out(line + " ==")
        header = f"{'shape':<10} {'pyconv fwd':>15} {'pyconv bwd':>15}"
        if torch is not None:
            header += f" {'torch fwd':>10} {'torch bwd':>10} {'fwd ratio':>9} {'bwd ratio':>9} {'f+b ratio':>9}"
        if reference:
            header += f" {'numpy fwd':>10} {'numpy bwd':>10}"
        out(header + ("   (ms; ratio = pyconv / torch, < 1 is faster)" if torch is not None
                      else "   (ms)"))
        ratios = []
        for name, shape in CONV_SHAPES.items():
            if only and name not in only:
                continue
            med = timer(conv_cases(shape, rng, torch, reference))
            gflop = conv_flops(shape) / 1e9
            pf, pb = med["pyconv fwd"], med["pyconv bwd"]
            line = (f"{name:<10} {pf:7.2f} ({100 * gflop / pf * 1e3 / peak:3.0f}%pk)"
                    f" {pb:7.2f} ({100 * 2 * gflop / pb * 1e3 / peak:3.0f}%pk)")
            if torch is not None:
                tf, tb = med["torch fwd"], med["torch bwd"]
                ratio = (pf + pb) / (tf + tb)
                ratios.append(ratio)
                line += f" {tf:10.2f} {tb:10.2f} {pf / tf:9.2f} {pb / tb:9.2f} {ratio:9.2f}"
            if reference:
                line += f" {med['numpy fwd']:10.2f} {med['numpy bwd']:10.2f}"
            out(line)
        if ratios:
            gmean = float(np.exp(np.mean(np.log(ratios))))
            out(f"geometric mean of fwd+bwd time ratios (pyconv / torch): {gmean:.2f}")
        if pool and not only:
            mb = np.prod(POOL_SHAPE) * 4 / 1e6
            out(f"pooling 2x2/2 on {POOL_SHAPE} float32 ({mb:.1f} MB input): ms (GB/s of input read)")
            for op, fns in pool_cases(rng, torch).items():
                med = timer(fns)
                cells = "  ".join(f"{impl} {ms:6.2f} ({mb / ms:5.1f})" for impl, ms in med.items())
                out(f"  {op:<8} {cells}")
    pyconv.set_num_threads(None)


def run_scaling(only=None, out=print):
    """pyconv alone: each layer's time on 2 threads against 1, the calls of
    the two thread counts interleaved (no other library in the loop)."""
    import pyconv

    rng = np.random.default_rng(0)
    out("pyconv alone, 2 threads against 1, medians of interleaved calls (ms)")
    out(f"{'shape':<10} {'fwd 1t':>8} {'fwd 2t':>8} {'speedup':>8} "
        f"{'bwd 1t':>8} {'bwd 2t':>8} {'speedup':>8}")
    for name, shape in CONV_SHAPES.items():
        if only and name not in only:
            continue
        cases = conv_cases(shape, rng, None, reference=False)
        fns = {}
        for key in ("pyconv fwd", "pyconv bwd"):
            for n_threads in (1, 2):
                def call(fn=cases[key], n_threads=n_threads):
                    pyconv.set_num_threads(n_threads)
                    fn()
                fns[key, n_threads] = call
        med = interleaved(fns)
        f1, f2 = med["pyconv fwd", 1], med["pyconv fwd", 2]
        b1, b2 = med["pyconv bwd", 1], med["pyconv bwd", 2]
        out(f"{name:<10} {f1:8.2f} {f2:8.2f} {f1 / f2:7.2f}x {b1:8.2f} {b2:8.2f} {b1 / b2:7.2f}x")
    pyconv.set_num_threads(None)


# The process-wide settings both libraries run under when they share a
# process, each read once when its library loads (hence a re-exec):
# - OpenMP waits passively. torch bundles its own OpenMP runtime;
#   interleaving its calls with pyconv's leaves one runtime's threads
#   spinning while the other's work: with 2 threads on 2 cores every barrier
#   then waits for a descheduled thread (measured: 12-48 ms per call instead
#   of 1-7 ms, for both libraries).
# - glibc's heap keeps fixed thresholds. By default a freed block above the
#   mmap threshold raises that threshold, and the heap top is given back
#   above twice it; the two libraries' allocations of different sizes then
#   keep moving the thresholds, and each call's fresh output array lands in
#   pages just returned to the OS: 480-520 page faults per call, 1.5 ms of a
#   1.3 ms depthwise forward. A process running only pyconv takes none;
#   one running only torch takes its own (6100 per depthwise forward, which
#   then runs in 17 ms instead of 3.1): the fixed thresholds spare torch
#   those too, so the tables compare kernels, not heaps. `--default-heap`
#   keeps glibc's defaults instead.
SHARED_PROCESS_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(1024 * 1024 * 1024),
}


def _reexec_in_shared_process_env(argv):
    """Re-run this benchmark with `SHARED_PROCESS_ENV` (what the user set wins)."""
    import subprocess
    import sys

    import pyconv

    settings = dict(SHARED_PROCESS_ENV)
    if "--default-heap" in argv:
        settings = {"OMP_WAIT_POLICY": settings["OMP_WAIT_POLICY"]}
    env = {**settings, **os.environ}
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyconv.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "pyconv._bench", *argv]
    # Not in the current directory: a source tree there would shadow pyconv.
    return subprocess.run(cmd, env=env, check=False, cwd=tempfile.gettempdir()).returncode


def _process_env_line():
    """The `SHARED_PROCESS_ENV` settings in force, for the tables' header."""
    return ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in SHARED_PROCESS_ENV)


QUICK_SHAPES = ("lenet2", "cifar1", "pw1x1")


def main(argv=None, prog="python -m pyconv bench"):
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--inference" in argv:       # (one process per framework: no shared settings)
        from . import _bench_inference

        argv.remove("--inference")
        script = prog.endswith(".py")      # benchmarks/bench_inference.py names itself
        return _bench_inference.main(argv, prog=prog if script else f"{prog} --inference")
    if ("OMP_WAIT_POLICY" not in os.environ and "--lenet-worker" not in argv
            and "--lenet-only" not in argv and "--scaling" not in argv
            and not {"-h", "--help"} & set(argv)           # usage keeps its own prog name
            and importlib.util.find_spec("torch") is not None):
        raise SystemExit(_reexec_in_shared_process_env(argv))
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help=f"seconds, not minutes: 1 thread, layers {', '.join(QUICK_SHAPES)}, "
                             "few calls per cell, no reference and no pooling table")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="thread counts to time (default: 1 2; 1 with --quick)")
    parser.add_argument("--only", nargs="+", choices=sorted(CONV_SHAPES), default=None)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the numpy im2col reference columns")
    parser.add_argument("--no-pool", action="store_true", help="skip the pooling table")
    parser.add_argument("--default-heap", action="store_true",
                        help="keep glibc's adaptive heap thresholds (by default both "
                             "libraries run under fixed ones; see SHARED_PROCESS_ENV)")
    parser.add_argument("--inference", action="store_true",
                        help="time model.predict against PyTorch and ONNX Runtime instead "
                             "(see `bench --inference --help`)")
    parser.add_argument("--lenet", action="store_true",
                        help="also time a LeNet-5 training epoch against PyTorch "
                             "(subprocesses; about a minute)")
    parser.add_argument("--lenet-only", action="store_true",
                        help="only the LeNet-5 epoch (implies --lenet)")
    parser.add_argument("--scaling", action="store_true",
                        help="only pyconv's 2-thread speedup over 1 thread, per layer")
    parser.add_argument("--lenet-worker", choices=["pyconv", "torch"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = [1] if args.quick else [1, 2]
    if args.lenet_worker:
        lenet_worker(args.lenet_worker, args.threads[0])
        return
    if args.scaling:
        run_scaling(args.only)
        return
    warn_if_busy()
    if args.quick:
        run(tuple(args.threads), args.only or QUICK_SHAPES, reference=False, pool=False,
            quick=True)
    elif not args.lenet_only:
        run(tuple(args.threads), args.only, reference=not args.no_reference,
            pool=not args.no_pool)
    if args.lenet or args.lenet_only:
        run_lenet(tuple(args.threads))


if __name__ == "__main__":
    main()
