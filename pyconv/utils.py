"""Small public utilities: the global random seed.

pyconv never touches numpy's global random state during training. Each model
owns a :class:`numpy.random.Generator` that draws its initial weights, the
shuffling order of :meth:`~pyconv.models.Sequential.fit` and the dropout
masks. That generator comes from the model's ``seed`` argument when one is
given, and otherwise from the generator that :func:`set_random_seed` resets,
so the same seed gives bit-identical training.
"""
import random

import numpy as np

__all__ = ["set_random_seed"]

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
