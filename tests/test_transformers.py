"""FilterBankTransformer: values, shapes, parameters, pipelines, sklearn checks."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from pyconv import _reference
from pyconv.image import gaussian_kernel_5x5, sobel_kernels
from pyconv.transformers import FilterBankTransformer, default_filter_bank


def reference_responses(images, kernels, padding_mode="reflect"):
    """[n, F, C, H, W] from pyconv._reference.conv2d_loops, one kernel at a time."""
    n, c, h, w = images.shape
    out = []
    for kernel in kernels:
        weight = np.repeat(np.asarray(kernel, dtype=np.float64)[None, None], c, axis=0)
        out.append(_reference.conv2d_loops(images.astype(np.float64), weight, padding="same",
                                           groups=c, padding_mode=padding_mode))
    return np.stack(out, axis=1)


@parametrize_with_checks([
    FilterBankTransformer(),
    FilterBankTransformer(pooling="max", nonlinearity=None, padding_mode="zeros"),
    FilterBankTransformer(filters=[np.ones((5, 5)) / 25], pooling="avg", pool_size=3,
                          nonlinearity="square"),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_default_bank():
    names, bank = default_filter_bank()
    assert names == ["identity", "gaussian", "sobel_x", "sobel_y", "laplacian"]
    gx, gy = sobel_kernels()
    np.testing.assert_array_equal(bank[2], gx)
    np.testing.assert_array_equal(bank[3], gy)
    assert bank[0].sum() == 1 and bank[0][1, 1] == 1
    assert bank[1].sum() == pytest.approx(1.0)
    assert bank[4].sum() == 0


def test_transform_matches_reference_2d_square(rng):
    X = rng.random((4, 36))
    fb = FilterBankTransformer(nonlinearity=None).fit(X)
    assert fb.input_shape_ == (1, 6, 6)
    assert fb.output_shape_ == (5, 1, 6, 6)
    assert fb.filter_names_ == default_filter_bank()[0]
    Xt = fb.transform(X)
    assert Xt.dtype == np.float32 and Xt.shape == (4, 5 * 36)
    expected = reference_responses(X.reshape(4, 1, 6, 6), default_filter_bank()[1])
    np.testing.assert_allclose(Xt, expected.reshape(4, -1), rtol=1e-5, atol=1e-6)
    # the identity filter gives the input back
    np.testing.assert_allclose(Xt[:, :36], X, rtol=1e-6)


@pytest.mark.parametrize("nonlinearity, func", [
    ("abs", np.abs), ("relu", lambda z: np.maximum(z, 0)), ("square", np.square),
    (None, lambda z: z),
])
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_nonlinearity_and_pooling(rng, nonlinearity, func, pooling):
    images = rng.standard_normal((3, 2, 7, 6))
    kernels = [rng.standard_normal((3, 3)), rng.standard_normal((5, 5))]
    fb = FilterBankTransformer(filters=kernels, nonlinearity=nonlinearity, pooling=pooling,
                               pool_size=(2, 3), padding_mode="replicate")
    Xt = fb.fit_transform(images)
    z = func(reference_responses(images, kernels, "replicate"))
    if pooling is not None:
        z = z[..., :6, :6].reshape(3, 2, 2, 3, 2, 2, 3)
        z = z.max(axis=(4, 6)) if pooling == "max" else z.mean(axis=(4, 6))
    assert fb.input_shape_ == (2, 7, 6)
    assert fb.output_shape_ == z.shape[1:]
    np.testing.assert_allclose(Xt, z.reshape(3, -1), rtol=1e-4, atol=1e-5)


def test_input_shapes(rng):
    images = rng.random((5, 3, 4, 4))
    flat = images.reshape(5, -1)
    via_4d = FilterBankTransformer().fit(images)
    via_2d = FilterBankTransformer(input_shape=(3, 4, 4)).fit(flat)
    assert via_4d.input_shape_ == via_2d.input_shape_ == (3, 4, 4)
    assert via_4d.n_features_in_ == 48
    np.testing.assert_array_equal(via_4d.transform(images), via_2d.transform(flat))
    np.testing.assert_array_equal(via_4d.transform(flat), via_2d.transform(images))
    gray = FilterBankTransformer().fit(images[:, 0])
    assert gray.input_shape_ == (1, 4, 4)
    assert FilterBankTransformer(input_shape=(4, 4)).fit(flat[:, :16]).input_shape_ == (1, 4, 4)
    # non-square widths are 1 x 1 x n strips
    strip = FilterBankTransformer(pooling="max").fit(flat[:, :7])
    assert strip.input_shape_ == (1, 1, 7)
    assert strip.output_shape_ == (5, 1, 1, 3)
    assert strip.transform(flat[:, :7]).shape == (5, 15)


@pytest.mark.parametrize("width", range(1, 11))
def test_any_width_is_valid(rng, width):
    X = rng.random((3, width))
    Xt = FilterBankTransformer(filters=[gaussian_kernel_5x5()], pooling="avg").fit_transform(X)
    assert Xt.shape[0] == 3 and Xt.shape[1] >= 1
    assert np.isfinite(Xt).all()


def test_gaussian_of_constant_image_is_constant():
    X = np.full((2, 25), 3.0)
    Xt = FilterBankTransformer(filters=[gaussian_kernel_5x5()]).fit_transform(X)
    np.testing.assert_allclose(Xt, 3.0, rtol=1e-6)


# (bad parameters and inputs: the FilterBank rows of tests/test_bad_input_table.py)
def test_clone_pickle_and_params_untouched(rng):
    bank = np.stack(sobel_kernels())
    fb = FilterBankTransformer(filters=bank, pooling="avg")
    X = rng.random((3, 16))
    fitted = clone(fb).fit(X)
    assert fb.filters is bank and not hasattr(fb, "filters_")
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.transform(X), fitted.transform(X))
    assert len(fitted.get_feature_names_out()) == fitted.transform(X).shape[1]


def test_pipeline_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    model = make_pipeline(FilterBankTransformer(), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    score = model.score(X_test, y_test)
    assert score >= 0.9, score
    assert model[0].output_shape_ == (5, 1, 8, 8)


def test_feature_names_use_the_filter_names_and_work_with_pandas_output(rng):
    X = rng.random((3, 2, 4, 4))
    fb = FilterBankTransformer(pooling="avg").fit(X)
    names = fb.get_feature_names_out()
    assert len(names) == fb.transform(X).shape[1] == 5 * 2 * 2 * 2
    assert names[0] == "identity_0_0_0" and names[-1] == "laplacian_1_1_1"
    assert "gaussian_1_0_1" in set(names)
    pd = pytest.importorskip("pandas")
    frame = FilterBankTransformer(pooling="avg").set_output(transform="pandas").fit_transform(
        X.reshape(3, -1))
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
