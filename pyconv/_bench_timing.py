"""Timing helpers shared by the benchmarks (`_bench`, `_bench_inference`).

Implementations are timed interleaved in one process and medians are
reported, so that a noisy, shared machine affects every column alike; the
load average is reported so a reader can tell a quiet run from a busy one.
"""
import os
import statistics
import time


def interleaved(fns, min_reps=7, min_seconds=0.6, max_reps=60, rotate=False):
    """Median milliseconds of each callable in ``fns`` (a dict), called
    round-robin after one warm-up call each (allocations, plans, lazy init).

    With ``rotate`` each round starts one column later, so the column called
    right after another framework (cold caches) changes every round and no
    column always gets warm caches from the one before it.
    """
    names = list(fns)
    for fn in fns.values():
        fn()
    times = {name: [] for name in names}
    start = time.perf_counter()
    reps = 0
    while reps < min_reps or (time.perf_counter() - start < min_seconds and reps < max_reps):
        first = reps if rotate else 0
        for k in range(len(names)):
            name = names[(first + k) % len(names)]
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
        reps += 1
    return {name: 1e3 * statistics.median(ts) for name, ts in times.items()}


def cpu_description():
    """``"AMD EPYC (family 25, model 1), 2 logical cores"``: the CPU model
    (from /proc/cpuinfo where there is one) and the core count, for the
    header of a table."""
    import platform

    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if not line.strip():
                    break                  # the first processor is enough
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return f"{name}, {os.cpu_count()} logical cores"


def load_average():
    """``"load average 1.2 1.0 0.9"``, or ``"load average unknown"``."""
    try:
        return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except (AttributeError, OSError):   # not on every platform
        return "load average unknown"


def warn_if_busy(out=print):
    """Say so when other processes hold the cores: every timing is then noisy."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return
    cores = os.cpu_count() or 1
    if load > cores:
        out(f"warning: load average {load:.1f} on {cores} core(s): other processes are "
            "competing for the CPU, so these timings are noisy and ratios unreliable")
