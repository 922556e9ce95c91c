"""Fixed (not learned) filter banks as a scikit-learn transformer.

`FilterBankTransformer` turns images into the responses of a small bank of
hand-made 2-D filters -- the lecture's blur, Sobel gradients, a Laplacian --
optionally rectified and pooled, so that any scikit-learn model can learn on
them::

    make_pipeline(FilterBankTransformer(), LogisticRegression())

It is the "hardcoded filters" half of the lecture's argument: the same
convolutions a CNN learns, fixed by hand.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._shapes import PADDING_MODES, check_sample_shape
from ._validation import as_float_array, check_choice, check_pair, fail
from .image import _depthwise, _resolve_padding, sobel_kernels

__all__ = ["FilterBankTransformer", "default_filter_bank"]

_NONLINEARITIES = ("abs", "relu", "square")
_POOLINGS = ("avg", "max")


def default_filter_bank():
    """The default bank: identity, Gaussian blur, Sobel x, Sobel y, Laplacian.

    All 3x3, float64. The Gaussian is the lecture's
    ``[[1, 2, 1], [2, 4, 2], [1, 2, 1]] / 16``; the Sobel kernels are those of
    `pyconv.image.sobel_kernels`; the Laplacian is
    ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``.

    Returns
    -------
    names : list of str
    kernels : ndarray of float64, shape (5, 3, 3)

    Examples
    --------
    >>> from pyconv.transformers import default_filter_bank
    >>> names, kernels = default_filter_bank()
    >>> names
    ['identity', 'gaussian', 'sobel_x', 'sobel_y', 'laplacian']
    >>> kernels.shape
    (5, 3, 3)
    """
    identity = np.zeros((3, 3))
    identity[1, 1] = 1.0
    gaussian = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 16.0
    gx, gy = sobel_kernels()
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    names = ["identity", "gaussian", "sobel_x", "sobel_y", "laplacian"]
    return names, np.stack([identity, gaussian, gx, gy, laplacian])


def _resolve_filters(filters):
    """``(names, kernels)`` with kernels a list of finite 2-D float64 arrays."""
    if isinstance(filters, str):
        check_choice(filters, "filters", ("default",))
        names, bank = default_filter_bank()
        return names, list(bank)
    expected = ("'default', a list of 2-D kernels, or an array [n_filters, kh, kw] "
                "(or [kh, kw] for one filter)")
    if isinstance(filters, np.ndarray):
        bank = as_float_array(filters, "filters", dtype=np.float64)
        if bank.ndim == 2:
            bank = bank[np.newaxis]
        if bank.ndim != 3:
            fail(ValueError, "filters", expected, f"an array of shape {bank.shape}")
        kernels = list(bank)
    elif isinstance(filters, (list, tuple)):
        kernels = [as_float_array(k, "filters", dtype=np.float64) for k in filters]
    else:
        fail(TypeError, "filters", expected, repr(filters))
    if not kernels:
        fail(ValueError, "filters", expected, "an empty bank")
    for kernel in kernels:
        if kernel.ndim != 2 or kernel.size == 0:
            fail(ValueError, "filters", expected + " with every kernel non-empty and 2-D",
                 f"a kernel of shape {kernel.shape}")
        if not np.isfinite(kernel).all():
            fail(ValueError, "filters", "finite kernels (no NaN or inf)", "non-finite values")
    return [f"filter{i}" for i in range(len(kernels))], kernels


def _resolve_input_shape(input_shape, n_features, nd_shape):
    """(C, H, W) for 2-D data of width ``n_features``."""
    if input_shape is not None:
        shape = check_sample_shape(input_shape, ndim=(2, 3), expected="None or a tuple "
                                   "(C, H, W) (or (H, W)) of positive ints")
        if len(shape) == 2:
            shape = (1,) + shape
        if int(np.prod(shape)) != n_features:
            fail(ValueError, "input_shape", f"a shape with C*H*W == {n_features} "
                 "(the number of features in X)", repr(input_shape))
        if nd_shape is not None and nd_shape != shape:
            fail(ValueError, "input_shape", f"the image shape of X, {nd_shape}",
                 repr(input_shape))
        return shape
    if nd_shape is not None:
        return nd_shape
    side = int(round(np.sqrt(n_features)))
    if side * side == n_features:
        return (1, side, side)
    return (1, 1, n_features)


def _flatten_images(X):
    """Return ``(X2, image_shape)``: 3-D [n, H, W] and 4-D [n, C, H, W] arrays
    are flattened to 2-D; 2-D input is passed through with shape None."""
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, (list, tuple)):
        ndim = np.ndim(X)
    if ndim in (3, 4):
        arr = np.asarray(X)
        image_shape = (1,) + arr.shape[1:] if ndim == 3 else arr.shape[1:]
        return arr.reshape(arr.shape[0], -1), tuple(int(v) for v in image_shape)
    return X, None


def _pool(z, pool, how):
    """Non-overlapping pooling over the last two axes of ``z`` (stride =
    window; rows/columns that do not fill a window are dropped)."""
    ph, pw = pool
    h_out, w_out = z.shape[-2] // ph, z.shape[-1] // pw
    z = z[..., :h_out * ph, :w_out * pw]
    z = z.reshape(z.shape[:-2] + (h_out, ph, w_out, pw))
    return z.max(axis=(-3, -1)) if how == "max" else z.mean(axis=(-3, -1))


class FilterBankTransformer(TransformerMixin, BaseEstimator):
    """Images to the responses of a fixed bank of 2-D filters (scikit-learn).

    Each filter is swept over each channel of each image (depthwise
    `pyconv.functional.conv2d`, ``padding="same"``), the response goes
    through an optional nonlinearity and optional pooling, and the result
    is flattened to one row per image, ready for any scikit-learn model.

    Parameters
    ----------
    filters : "default", list of array_like (kh, kw), or array_like (F, kh, kw)
        ``"default"`` is `default_filter_bank`: identity, Gaussian, Sobel x,
        Sobel y and Laplacian, all 3x3. Kernels may have different sizes.
    input_shape : tuple (C, H, W) or (H, W), optional
        How each row of a 2-D ``X`` is read (row-major ``C*H*W``, as
        ``images.reshape(n, -1)``). When None: 3-D ``[n, H, W]`` and 4-D
        ``[n, C, H, W]`` input give their own shape; a 2-D width that is a
        perfect square ``s*s`` is one ``s x s`` channel; any other width
        ``n`` is a ``1 x 1 x n`` strip (filters are then padded as needed,
        so any width works).
    pooling : {None, "avg", "max"}, default None
        Pool each response over non-overlapping ``pool_size`` windows. On
        inputs smaller than the window, the window shrinks to the input.
    pool_size : int or (int, int), default 2
    nonlinearity : {"abs", "relu", "square", None}, default "abs"
        Applied to the responses before pooling (``abs`` keeps the strength
        of an edge of either sign).
    padding_mode : {"reflect", "zeros", "replicate", "circular"}, default "reflect"

    Attributes
    ----------
    filters_ : list of ndarray of float64
        The resolved filter bank.
    filter_names_ : list of str
    input_shape_ : tuple (C, H, W)
        How rows of ``X`` are read.
    output_shape_ : tuple (F, C, H_out, W_out)
        Layout of each output row (flattened in this order).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.

    Notes
    -----
    ``transform`` returns float32 whatever the input dtype (the responses are
    computed in float32; this halves the memory of the usually large output).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from pyconv.transformers import FilterBankTransformer
    >>> X, y = load_digits(return_X_y=True)          # 8x8 images as 64 columns
    >>> fb = FilterBankTransformer(pooling="avg").fit(X)
    >>> fb.input_shape_, fb.output_shape_
    ((1, 8, 8), (5, 1, 4, 4))
    >>> fb.transform(X[:3]).shape
    (3, 80)
    >>> model = make_pipeline(FilterBankTransformer(pooling="avg"),
    ...                       LogisticRegression(max_iter=1000))
    >>> model.fit(X[:1000], y[:1000]).score(X[1000:], y[1000:]) > 0.9
    True
    """

    def __init__(self, filters="default", input_shape=None, pooling=None, pool_size=2,
                 nonlinearity="abs", padding_mode="reflect"):
        self.filters = filters
        self.input_shape = input_shape
        self.pooling = pooling
        self.pool_size = pool_size
        self.nonlinearity = nonlinearity
        self.padding_mode = padding_mode

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _check_params(self):
        if self.pooling is not None:
            check_choice(self.pooling, "pooling", _POOLINGS)
        pool = check_pair(self.pool_size, "pool_size")
        if self.nonlinearity is not None:
            check_choice(self.nonlinearity, "nonlinearity", _NONLINEARITIES)
        check_choice(self.padding_mode, "padding_mode", PADDING_MODES)
        return pool

    def _output_shape(self, pool):
        c, h, w = self.input_shape_
        if self.pooling is not None:
            ph, pw = min(pool[0], h), min(pool[1], w)
            h, w = h // ph, w // pw
        return (len(self.filters_), c, h, w)

    def fit(self, X, y=None):
        """Check ``X``, resolve the image shape and the filter bank.

        Parameters
        ----------
        X : array_like, shape (n_samples, C*H*W), (n, H, W) or (n, C, H, W)
        y : ignored

        Returns
        -------
        self : FilterBankTransformer
        """
        pool = self._check_params()
        X, nd_shape = _flatten_images(X)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.filter_names_, self.filters_ = _resolve_filters(self.filters)
        self.input_shape_ = _resolve_input_shape(self.input_shape, X.shape[1], nd_shape)
        self.output_shape_ = self._output_shape(pool)
        self._n_features_out = int(np.prod(self.output_shape_))
        return self

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``"{filter}_{channel}_{row}_{column}"``.

        The filter part is the bank's own name (``gaussian``, ``sobel_x``,
        ... for the default bank; ``filter0``, ``filter1``, ... for a bank
        given as arrays), so ``set_output(transform="pandas")`` gives columns
        that say what they hold.

        Parameters
        ----------
        input_features : array_like of str, optional
            Checked against the input's feature count (and names, when fit
            saw names); the output names do not depend on them.

        Returns
        -------
        names : ndarray of str (object dtype)

        Examples
        --------
        >>> import numpy as np
        >>> from pyconv.transformers import FilterBankTransformer
        >>> fb = FilterBankTransformer(pooling="avg").fit(np.zeros((2, 16)))
        >>> fb.get_feature_names_out()[:3].tolist()
        ['identity_0_0_0', 'identity_0_0_1', 'identity_0_1_0']
        """
        check_is_fitted(self)
        if input_features is not None:
            given = [str(name) for name in np.ravel(np.asarray(input_features, dtype=object))]
            known = getattr(self, "feature_names_in_", None)
            if len(given) != self.n_features_in_ or (
                    known is not None and given != [str(name) for name in known]):
                fail(ValueError, "input_features", f"the {self.n_features_in_} input feature "
                     "names seen in fit", f"{len(given)} names")
        _, channels, rows, columns = self.output_shape_
        names = [f"{name}_{c}_{r}_{col}" for name in self.filter_names_
                 for c in range(channels) for r in range(rows) for col in range(columns)]
        return np.asarray(names, dtype=object)

    def transform(self, X):
        """Filter every image; return one flattened row of responses per image.

        Parameters
        ----------
        X : array_like, shape (n_samples, C*H*W), (n, H, W) or (n, C, H, W)

        Returns
        -------
        Xt : ndarray of float32, shape (n_samples, F*C*H_out*W_out)
            Row layout ``[filter, channel, row, column]`` (`output_shape_`).
        """
        check_is_fitted(self)
        pool = self._check_params()
        X, nd_shape = _flatten_images(X)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if nd_shape is not None and nd_shape != self.input_shape_:
            fail(ValueError, "X", f"images of shape {self.input_shape_} (as in fit)",
                 f"images of shape {nd_shape}")
        n = X.shape[0]
        images = np.ascontiguousarray(X, dtype=np.float32).reshape((n,) + self.input_shape_)
        responses = []
        for kernel in self.filters_:
            pads = _resolve_padding("same", kernel.shape)
            z = _depthwise(images, kernel[np.newaxis], pads, self.padding_mode)
            if self.nonlinearity == "abs":
                z = np.abs(z)
            elif self.nonlinearity == "relu":
                z = np.maximum(z, 0)
            elif self.nonlinearity == "square":
                z = np.square(z)
            if self.pooling is not None:
                _, h, w = self.input_shape_
                z = _pool(z, (min(pool[0], h), min(pool[1], w)), self.pooling)
            responses.append(z)
        out = np.stack(responses, axis=1)  # [n, F, C, H_out, W_out]
        return np.ascontiguousarray(out.reshape(n, -1), dtype=np.float32)
