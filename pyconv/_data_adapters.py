"""What ``fit``, ``evaluate`` and ``predict`` read: arrays, iterables of
batches, and `PyDataset` (defined here beside its adapter, as in Keras;
public as `pyconv.utils.PyDataset`).

The training loop sees one interface, an *adapter*:

- ``steps``: batches per epoch, or ``None`` while unknown (an iterable read
  until it runs out);
- ``epoch(rng=None)``: an iterator of ``(x, y, sample_weight)`` batches, each
  already checked and converted by the ``prepare`` function the trainer
  gave (arrays are checked once, up front, by the trainer itself);
- ``exhausted``: set when the last epoch got fewer batches than asked for,
  or none at all (a one-shot generator that ran out): ``fit`` then stops;
- ``peek()``: check the first batch, which builds an unbuilt model;
- ``close()``: stop the current epoch and its background workers. It is
  idempotent, and ``fit`` calls it on every way out (the end, an error,
  ``Ctrl-C``).

A `PyDataset` with ``workers > 1`` (or ``workers >= 1`` and
``use_multiprocessing``, Keras's rule) is read ahead by a pool of threads or
processes. Its batches are submitted in the epoch's order and consumed in
that order, so the model sees exactly the batches a synchronous read gives,
whatever the number of workers: only the timing changes. At most
``max_queue_size`` batches are in flight. A worker's exception is raised
again in ``fit`` when its batch is due, with a note naming the index; the
pool is shut down (pending batches cancelled, running ones waited for)
before ``fit`` returns or raises.
"""
import collections.abc
import multiprocessing
import pickle
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np

from ._validation import check_int, fail, is_array_like

__all__ = ["PyDataset", "ArrayAdapter", "IterableAdapter", "PyDatasetAdapter", "is_stream",
           "stream_adapter", "batch_slices"]

_EXPECTED = ("an array, a generator or iterable of (x, y[, sample_weight]) batches, "
             "or a pyconv.utils.PyDataset")


def is_stream(x, name="x"):
    """True for a `PyDataset` or an iterable of batches, False for array data.

    Anything that is neither raises `TypeError` at once: in particular an
    indexable object with ``__len__`` (a Keras ``Sequence``, a torch
    ``Dataset``) is never handed to numpy, which would read it item by item
    into an object array.
    """
    if isinstance(x, PyDataset):
        return True
    if x is None or is_array_like(x) or isinstance(x, collections.abc.Mapping):
        return False            # a dict of arrays feeds a model's named inputs
    if isinstance(x, (str, bytes, bytearray, collections.abc.Set)):
        fail(TypeError, name, _EXPECTED, f"a {type(x).__name__}")
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return True
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):
        fail(TypeError, name, _EXPECTED + " (subclass PyDataset for data read by index)",
             f"a {type(x).__name__} with __getitem__ and __len__")
    fail(TypeError, name, _EXPECTED, f"a {type(x).__name__}")


def check_stream_call(name, **given):
    """Reject the array-only arguments of a call whose ``name`` is a stream."""
    for argument, value in given.items():
        if argument == "validation_split":
            if value:
                fail(ValueError, "validation_split", f"0 when `{name}` is a generator or "
                     "PyDataset (pass validation_data instead)", value)
        elif value is not None:
            what = ("given by the batches" if argument != "batch_size"
                    else "set by the batches themselves")
            fail(ValueError, argument, f"None when `{name}` is a generator or PyDataset "
                 f"({what})", f"a {type(value).__name__}")


def batch_slices(n_samples, batch_size):
    """``[(start, stop), ...]`` covering ``n_samples`` in batches."""
    return [(start, min(start + batch_size, n_samples))
            for start in range(0, n_samples, batch_size)]


class ArrayAdapter:
    """Batches of checked arrays: views in order, or gathered into a reused
    buffer along a permutation drawn from ``rng`` when shuffling.

    ``steps`` caps the batches per epoch (each epoch starts from the first).
    """

    exhausted = False

    def __init__(self, x, y, w, batch_size, shuffle=False, steps=None):
        self.x, self.y, self.w = x, y, w
        self.shuffle = shuffle
        self.slices = batch_slices(len(x), batch_size)
        self.steps = len(self.slices) if steps is None else min(steps, len(self.slices))
        self._buffers = {}

    def _buffer(self, size):
        buf = self._buffers.get(size)
        if buf is None:
            buf = np.empty((size,) + self.x.shape[1:], dtype=self.x.dtype)
            self._buffers[size] = buf
        return buf

    def batch(self, step, order=None):
        start, stop = self.slices[step]
        if order is None:
            xb = self.x[start:stop]
            yb = self.y[start:stop] if self.y is not None else None
            wb = self.w[start:stop] if self.w is not None else None
            return xb, yb, wb
        idx = order[start:stop]
        xb = np.take(self.x, idx, axis=0, out=self._buffer(stop - start))
        yb = self.y[idx] if self.y is not None else None
        wb = self.w[idx] if self.w is not None else None
        return xb, yb, wb

    def epoch(self, rng=None):
        order = rng.permutation(len(self.x)) if self.shuffle and rng is not None else None
        return (self.batch(step, order) for step in range(self.steps))

    def peek(self):
        pass

    def close(self):
        pass


def _unpack(batch):
    """Keras's batch structure: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, w)``."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"a tuple (x,), (x, y) or (x, y, sample_weight); got a tuple of "
                         f"{len(batch)} items")
    return batch + (None,) * (3 - len(batch))


class _StreamAdapter:
    """Shared by the iterable and PyDataset adapters: batch checking, closing."""

    def __init__(self, name, prepare, needs_y):
        self.name = name
        self._prepare = prepare
        self._needs_y = needs_y
        self._current = None
        self.exhausted = False

    def _where(self, position):
        return f"batch {position} of `{self.name}`"

    def _checked(self, batch, position):
        try:
            x, y, w = _unpack(batch)
            if self._needs_y and y is None:
                raise ValueError("a tuple (x, y) or (x, y, sample_weight); got "
                                 f"{type(batch).__name__} without targets")
            return self._prepare(x, y, w)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self._where(position)}: {exc}") from None

    def epoch(self, rng=None):
        self.close()
        self.exhausted = False
        self._current = self._batches(rng)
        return self._current

    def close(self):
        if self._current is not None:
            current, self._current = self._current, None
            current.close()


class IterableAdapter(_StreamAdapter):
    """A generator, an iterator, or a re-iterable object yielding batches.

    Without ``steps`` an epoch lasts until the iterable runs out; a
    re-iterable one (a list of batches, a torch ``DataLoader``) starts again
    at each epoch, a one-shot generator has nothing left for a second epoch
    (``exhausted``; ``fit`` warns and stops, as Keras does). With ``steps``
    each epoch takes that many batches from where the last one stopped; a
    re-iterable object that runs out is started again.
    """

    def __init__(self, data, steps, name, prepare, needs_y=True):
        super().__init__(name, prepare, needs_y)
        self._data = data
        self._one_shot = hasattr(data, "__next__")
        self._iterator = None
        self._pending = []          # a batch read by peek(), served first
        self.steps = steps

    def _next(self):
        if self._pending:
            return self._pending.pop()
        if self._iterator is None:
            self._iterator = iter(self._data)
        return next(self._iterator)

    def peek(self):
        if not self._pending:
            try:
                self._pending.append(self._next())
            except StopIteration:
                fail(ValueError, self.name, "an iterable yielding at least one batch",
                     "an empty one")
        self._checked(self._pending[0], 0)

    def _batches(self, rng):
        if self.steps is None and not self._one_shot and not self._pending:
            self._iterator = None          # a new pass over a re-iterable
        position = 0
        restarted = False
        while self.steps is None or position < self.steps:
            try:
                batch = self._next()
            except StopIteration:
                self._iterator = None
                if self.steps is not None and not self._one_shot and not restarted:
                    restarted = True
                    continue
                self.exhausted = position == 0 or self.steps is not None
                return
            restarted = False
            yield self._checked(batch, position)
            position += 1


# --------------------------------------------------------------- PyDataset
class PyDataset:
    """Base class for a dataset of batches that ``fit``, ``evaluate`` and
    ``predict`` read index by index (Keras 3's ``PyDataset``).

    A subclass defines ``__len__`` (the number of batches) and
    ``__getitem__(index)``, which returns one batch: ``(x, y)``,
    ``(x, y, sample_weight)``, or just ``x`` for ``predict``. It may define
    ``on_epoch_begin`` and ``on_epoch_end``; ``fit`` calls them around each
    epoch (``on_epoch_end`` after the epoch's last batch, before
    validation), so a dataset can reshuffle its samples there.

    Batches are read in a fixed order (shuffled by ``fit`` with the model's
    generator when ``shuffle=True``, as Keras shuffles the batch order), so
    the results never depend on the number of workers.

    Parameters
    ----------
    workers : int, default 1
        With ``workers > 1`` (or ``workers >= 1`` and ``use_multiprocessing``)
        batches are prepared ahead in that many background threads (or
        processes) while the model trains on the current one; otherwise they
        are read in the calling thread when needed.
    use_multiprocessing : bool, default False
        Use worker processes (started with "spawn") instead of threads, for a
        ``__getitem__`` that holds the GIL. The dataset is pickled to the
        workers at the start of each epoch: it should hold file names, not
        large arrays, and its class must be importable.
    max_queue_size : int, default 10
        How many batches may be prepared ahead.

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.utils import PyDataset
    >>> class Squares(PyDataset):
    ...     def __init__(self, n_batches, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.n_batches = n_batches
    ...     def __len__(self):
    ...         return self.n_batches
    ...     def __getitem__(self, index):
    ...         x = np.full((2, 1), float(index), dtype="float32")
    ...         return x, x ** 2
    >>> data = Squares(3, workers=2)
    >>> len(data), data.workers, data[2][1].ravel().tolist()
    (3, 2, [4.0, 4.0])
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = check_int(workers, "workers", min_value=0)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = check_int(max_queue_size, "max_queue_size", min_value=1)

    # a subclass that forgot super().__init__() still gets Keras's defaults
    @property
    def workers(self):
        """Number of background workers (see the class docstring)."""
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        """Whether the workers are processes rather than threads."""
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        """How many batches may be prepared ahead."""
        return getattr(self, "_max_queue_size", 10)

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__ "
                                  "(the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) "
                                  "returning one batch")

    def on_epoch_begin(self):
        """Called by ``fit`` before each epoch's first batch is read."""

    def on_epoch_end(self):
        """Called by ``fit`` after each epoch's last batch (e.g. to reshuffle)."""


_worker_dataset = None


def _install_dataset(payload):
    global _worker_dataset
    _worker_dataset = pickle.loads(payload)


def _read_in_worker(index):
    return _worker_dataset[index]


def _ordered_reads(read, indices, pool, depth):
    """Yield ``(index, read(index))`` in the order of ``indices``, reading up
    to ``depth`` ahead in ``pool``; the pool is shut down on every exit."""
    pending = deque()
    upcoming = iter(indices)
    try:
        for index in upcoming:
            pending.append((index, pool.submit(read, index)))
            if len(pending) >= depth:
                break
        while pending:
            index, future = pending.popleft()
            try:
                batch = future.result()
            except BaseException as exc:
                if not isinstance(exc, KeyboardInterrupt) and hasattr(exc, "add_note"):
                    exc.add_note(f"(raised reading batch index {index} in a pyconv data worker)")
                raise
            following = next(upcoming, None)
            if following is not None:
                pending.append((following, pool.submit(read, following)))
            yield index, batch
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class PyDatasetAdapter(_StreamAdapter):
    """A `PyDataset` read index by index, ahead of time by its workers."""

    def __init__(self, dataset, steps, shuffle, name, prepare, needs_y=True):
        super().__init__(name, prepare, needs_y)
        n_batches = check_int(len(dataset), f"len({name})", min_value=1)
        if steps is not None and steps > n_batches:
            fail(ValueError, "steps", f"at most len({name}) = {n_batches}", steps)
        self._dataset = dataset
        self._n_batches = n_batches
        self.steps = n_batches if steps is None else steps
        self._shuffle = shuffle
        self._peeked = {}
        workers = check_int(dataset.workers, f"{name}.workers", min_value=0)
        processes = bool(dataset.use_multiprocessing)
        self._workers = workers if workers > 1 or (workers and processes) else 0
        self._processes = processes
        self._depth = max(check_int(dataset.max_queue_size, f"{name}.max_queue_size",
                                    min_value=1), self._workers)

    def _where(self, position):
        return f"batch {position} of `{self.name}` ({self.name}[{self._order[position]}])"

    def _read(self, index):
        if index in self._peeked:
            return self._peeked.pop(index)
        return self._dataset[int(index)]

    def peek(self):
        if 0 not in self._peeked:
            self._peeked[0] = self._dataset[0]
        self._order = [0]
        self._checked(self._peeked[0], 0)

    def _pool(self):
        if not self._processes:
            return ThreadPoolExecutor(self._workers, thread_name_prefix="pyconv-data")
        try:
            payload = pickle.dumps(self._dataset)
        except Exception as exc:
            fail(TypeError, self.name, "a picklable PyDataset with use_multiprocessing=True",
                 f"{type(self._dataset).__name__} ({exc})")
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_install_dataset, initargs=(payload,))

    def _reads(self, order):
        if not self._workers:
            return ((index, self._read(index)) for index in order)
        reused = {index: self._peeked.pop(index) for index in list(self._peeked) if index in order}
        read = _read_in_worker if self._processes else self._dataset.__getitem__
        reads = _ordered_reads(read, [i for i in order if i not in reused], self._pool(),
                               self._depth)
        return _merge_reads(order, reused, reads)

    def _batches(self, rng):
        if self._shuffle and rng is not None:
            order = rng.permutation(self._n_batches)[:self.steps]
        else:
            order = np.arange(self.steps)
        self._order = [int(i) for i in order]
        self._dataset.on_epoch_begin()
        reads = self._reads(self._order)
        try:
            for position, (_, batch) in enumerate(reads):
                yield self._checked(batch, position)
        finally:
            reads.close()
        self._dataset.on_epoch_end()


def _merge_reads(order, reused, reads):
    """Serve the batches in ``reused`` (read by peek) in their place in ``order``."""
    try:
        for index in order:
            if index in reused:
                yield index, reused.pop(index)
            else:
                yield next(reads)
    finally:
        reads.close()


def stream_adapter(data, name, steps, shuffle, prepare, needs_y=True):
    """The adapter for a stream ``data`` (see `is_stream`)."""
    if isinstance(data, PyDataset):
        return PyDatasetAdapter(data, steps, shuffle, name, prepare, needs_y)
    return IterableAdapter(data, steps, name, prepare, needs_y)
