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

from ._data_adapters import PyDataset
from ._image_dataset import image_dataset_from_directory
from ._validation import check_int, fail

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
    global _global_generator
    seed = check_int(seed, "seed", min_value=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _global_generator = np.random.default_rng(seed)


def _model_generator(seed):
    """The generator of a new model: from ``seed``, else from the global seed."""
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
