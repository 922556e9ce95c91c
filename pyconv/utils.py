"""Small public utilities: the global random seed, `PyDataset`,
`image_dataset_from_directory`, `to_categorical`.

pyconv never touches numpy's global random state during training. Each model
owns a :class:`numpy.random.Generator` that draws its initial weights, the
shuffling order of :meth:`~pyconv.models.Sequential.fit` and the dropout
masks. That generator comes from the model's ``seed`` argument when one is
given, and otherwise from the generator that :func:`set_random_seed` resets,
so the same seed gives bit-identical training.
"""
import random

import numpy as np

__all__ = ["PyDataset", "image_dataset_from_directory", "set_random_seed", "to_categorical"]

# The generator models draw their own seeds from when they get none.
# ``None`` means "not seeded": every model then starts from fresh OS entropy.
_global_generator = None


def set_random_seed(seed):
    """Seed everything pyconv draws random numbers from.

    Sets Python's :mod:`random`, numpy's legacy global state and pyconv's own
    seed generator. Models created afterwards without an explicit ``seed`` get
    their generators from it, in creation order, so a script that calls
    ``set_random_seed(s)`` first and then builds and trains its models is
    bit-reproducible.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Examples
    --------
    >>> import pyconv.utils
    >>> pyconv.utils.set_random_seed(0)
    >>> a = pyconv.utils._model_generator(None).random()
    >>> pyconv.utils.set_random_seed(0)
    >>> b = pyconv.utils._model_generator(None).random()
    >>> a == b
    True
    """
    from ._validation import check_int

    global _global_generator
    seed = check_int(seed, "seed", min_value=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _global_generator = np.random.default_rng(seed)


def _model_generator(seed):
    """The generator of a new model: from ``seed``, else from the global seed."""
    from ._validation import check_int

    if seed is not None:
        if isinstance(seed, np.random.Generator):
            return seed
        return np.random.default_rng(check_int(seed, "seed", min_value=0))
    if _global_generator is not None:
        return np.random.default_rng(_global_generator.integers(2**63))
    return np.random.default_rng()


def to_categorical(x, num_classes=None, dtype="float32"):
    """One-hot rows for integer class labels (Keras's ``to_categorical``).

    Parameters
    ----------
    x : array-like of int
        Labels in ``0 .. num_classes - 1``, of any shape; a last axis of
        size 1 is dropped, as in Keras.
    num_classes : int, optional
        Default: ``max(x) + 1``.
    dtype : dtype, default "float32"
        Keras returns float64 for numpy input; pyconv's default is float32.

    Returns
    -------
    ndarray of shape ``x.shape + (num_classes,)``

    Examples
    --------
    >>> from pyconv.utils import to_categorical
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    from ._validation import check_int, fail

    labels = np.asarray(x)
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iub":
        fail(TypeError, "x", "integer class labels", f"dtype {labels.dtype}")
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if num_classes is None:
        num_classes = int(labels.max(initial=-1)) + 1
    num_classes = check_int(num_classes, "num_classes", min_value=1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        fail(ValueError, "x", f"labels in [0, {num_classes - 1}]",
             f"values in [{labels.min()}, {labels.max()}]")
    return np.eye(num_classes, dtype=dtype)[labels]


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
        from ._validation import check_int

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


from ._image_dataset import image_dataset_from_directory  # noqa: E402 (needs PyDataset)
