"""The input pipeline: overlap of PyDataset workers with training, and the
memory fit needs for data on disk.

    python benchmarks/bench_data.py overlap [--threads 2] [--repeats 5] [--sleep]
    python benchmarks/bench_data.py memory --memmap-mb 1024
    python benchmarks/bench_data.py memory --folder-images 3000

``overlap`` times ``fit`` on a PyDataset whose ``__getitem__`` costs about
as much as one training step (numpy sorts, which release the GIL, standing
for decoding and augmenting; or, with ``--sleep``, a wait standing for a
disk or a network), with ``workers=0`` (read in the loop) and ``workers=2``
(read ahead in two threads), runs interleaved; it prints the median epoch
time of each and their ratio.

``memory`` trains one epoch on a read-only memmap (or on a folder of PNGs
through ``image_dataset_from_directory``) and prints the growth of the
process's anonymous memory (``RssAnon``, the heap: file pages of the memmap
are not in it) beside the size of the data.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

try:
    import pyconv
except ImportError:  # running from a source checkout with an in-place build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import pyconv

from pyconv.layers import Conv2D, Dense, Flatten, GlobalAveragePooling2D, Input, MaxPool2D
from pyconv.utils import PyDataset

BATCH = 64
SHAPE = (3, 32, 32)


def rss_anon_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def cnn(input_shape, classes=10):
    model = pyconv.Sequential([Input(input_shape), Conv2D(16, 3, padding="same",
                                                          activation="relu"),
                               MaxPool2D(2), Conv2D(32, 3, padding="same", activation="relu"),
                               GlobalAveragePooling2D(), Dense(classes, activation="softmax")],
                              seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


class CostlyBatches(PyDataset):
    """Batches whose making sorts ``units`` arrays of 65536 floats (numpy
    releases the GIL while sorting), or sleeps ``sleep`` seconds (a loader
    waiting on a disk or a network)."""

    def __init__(self, n_batches, units, sleep=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n_batches, self.units, self.sleep = n_batches, units, sleep

    def __len__(self):
        return self.n_batches

    def __getitem__(self, index):
        rng = np.random.default_rng(index)
        x = rng.standard_normal((BATCH,) + SHAPE, dtype=np.float32)
        if self.sleep:
            time.sleep(self.sleep)
        work = rng.standard_normal(65536, dtype=np.float32)
        for _ in range(self.units):
            work.sort()                          # "decode and augment"
            work[::2] *= -1.0
        x[:, 0, 0, 0] += work[0]
        return x, rng.integers(0, 10, size=BATCH)


def _seconds(fn, repeats=5):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def calibrate(model):
    """Sorting units making one ``__getitem__`` cost about one training step;
    returns them and the step's time."""
    x, y = CostlyBatches(1, 0)[0]
    step = _seconds(lambda: model.train_on_batch(x, y))
    base = _seconds(lambda: CostlyBatches(1, 0)[0])
    many = _seconds(lambda: CostlyBatches(1, 32)[0])
    per_unit = max((many - base) / 32, 1e-6)
    return max(1, round((step - base) / per_unit)), step


def overlap(args):
    pyconv.set_num_threads(args.threads)
    model = cnn(SHAPE)
    units, step = calibrate(model)
    sleep = step if args.sleep else 0.0
    units = 0 if args.sleep else units
    batch_cost = _seconds(lambda: CostlyBatches(1, units, sleep)[0])
    what = "sleeping" if args.sleep else f"{units} sorts of 65536 floats"
    print(f"kernel threads {args.threads}; one training step {step * 1e3:.1f} ms, "
          f"one __getitem__ {batch_cost * 1e3:.1f} ms ({what})")
    times = {0: [], 2: []}
    for _ in range(args.repeats):
        for workers in times:
            model = cnn(SHAPE)
            data = CostlyBatches(args.batches, units, sleep, workers=workers)
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            times[workers].append(time.perf_counter() - start)
    for workers, values in times.items():
        print(f"workers={workers}: epoch of {args.batches} batches, median "
              f"{statistics.median(values):.2f} s (min {min(values):.2f}, "
              f"max {max(values):.2f}, {len(values)} runs)")
    ratio = statistics.median(times[0]) / statistics.median(times[2])
    print(f"workers=2 is {ratio:.2f}x the speed of workers=0 "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def memory(args):
    pyconv.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        if args.folder_images:
            data, size, what = make_folder(folder, args.folder_images)
            model = cnn(SHAPE)
            kwargs = {}
        else:
            n = args.memmap_mb * 2**20 // (4 * int(np.prod(SHAPE)))
            path = os.path.join(folder, "x.npy")
            rng = np.random.default_rng(0)
            mapped = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                               shape=(n,) + SHAPE)
            for start in range(0, n, 4096):
                part = mapped[start:start + 4096]
                part[...] = rng.standard_normal(part.shape, dtype=np.float32)
            mapped.flush()
            del mapped, part
            data = np.load(path, mmap_mode="r")
            kwargs = {"y": np.random.default_rng(1).integers(0, 10, size=n),
                      "batch_size": BATCH}
            size = data.nbytes
            what = f"a read-only memmap {data.shape} float32"
            model = cnn(SHAPE)
        model.train_on_batch(*_first_batch(data, kwargs))       # allocate the buffers once
        before = rss_anon_kib()
        start = time.perf_counter()
        model.fit(data, epochs=1, verbose=0, **kwargs)
        seconds = time.perf_counter() - start
        growth = (rss_anon_kib() - before) * 1024
        print(f"data: {what}, {size / 2**20:.0f} MiB; one epoch in {seconds:.1f} s; "
              f"RssAnon before fit {before / 1024:.0f} MiB")
        print(f"RssAnon growth during fit: {growth / 2**20:.1f} MiB "
              f"({100 * growth / size:.1f}% of the data)")


def _first_batch(data, kwargs):
    if isinstance(data, PyDataset):
        return data[0]
    return np.array(data[:BATCH]), kwargs["y"][:BATCH]


def make_folder(folder, count):
    from PIL import Image

    from pyconv.utils import image_dataset_from_directory

    rng = np.random.default_rng(0)
    for label in range(10):
        os.makedirs(os.path.join(folder, str(label)))
    for i in range(count):
        pixels = rng.integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, str(i % 10), f"{i}.png"),
                                     compress_level=1)
    data = image_dataset_from_directory(folder, batch_size=BATCH, image_size=SHAPE[1:], seed=0)
    decoded = count * 3 * 256 * 256 * 4
    return data, decoded, f"{count} PNGs of 256x256 RGB (decoded as float32)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    over = sub.add_parser("overlap")
    over.add_argument("--threads", type=int, default=2, help="kernel threads")
    over.add_argument("--repeats", type=int, default=5)
    over.add_argument("--batches", type=int, default=40)
    over.add_argument("--sleep", action="store_true",
                      help="__getitem__ sleeps (I/O-bound) instead of computing")
    mem = sub.add_parser("memory")
    mem.add_argument("--threads", type=int, default=2)
    mem.add_argument("--memmap-mb", type=int, default=1024)
    mem.add_argument("--folder-images", type=int, default=0)
    args = parser.parse_args()
    overlap(args) if args.what == "overlap" else memory(args)


if __name__ == "__main__":
    main()
