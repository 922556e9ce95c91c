"""pyconv.plotting: every function returns a Figure and writes a PNG."""
from types import SimpleNamespace

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

from pyconv.functional import conv2d  # noqa: E402
from pyconv.image import sobel_kernels  # noqa: E402
from pyconv.plotting import (  # noqa: E402
    plot_feature_maps,
    plot_filters,
    plot_history,
    show_images,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    from PIL import Image

    with Image.open(path) as img:
        width, height = img.size
    assert width > 50 and height > 50
    return width, height


def test_plot_history_dict_and_object(tmp_path):
    record = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7],
              "accuracy": [0.5, 0.7, 0.8], "val_accuracy": [0.4, 0.6, 0.7]}
    fig = plot_history(record, path=tmp_path / "h.png")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    loss_lines = fig.axes[0].get_lines()
    assert len(loss_lines) == 2
    np.testing.assert_array_equal(loss_lines[0].get_ydata(), record["loss"])
    np.testing.assert_array_equal(loss_lines[1].get_ydata(), record["val_loss"])
    np.testing.assert_array_equal(loss_lines[0].get_xdata(), [1, 2, 3])
    pytest.importorskip("PIL")
    assert_png(tmp_path / "h.png")
    history = SimpleNamespace(history={"loss": [2.0, 1.0]})
    fig = plot_history(history)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), [2.0, 1.0])


def test_plot_filters_gray_and_normalised(tmp_path):
    weights = np.stack(sobel_kernels())[:, None] * np.array([1.0, 100.0])[:, None, None, None]
    fig = plot_filters(weights, path=tmp_path / "f.png")
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["f0", "f1"]
    # per-filter normalisation: both panels span [0, 1] whatever their scale
    for ax, kernel in zip(titled, weights[:, 0]):
        shown = ax.get_images()[0].get_array()
        np.testing.assert_allclose(shown, (kernel - kernel.min()) / np.ptp(kernel))
    assert_png(tmp_path / "f.png")


def test_plot_filters_rgb_general_and_max(rng):
    rgb = rng.standard_normal((10, 3, 5, 5))
    fig = plot_filters(rgb, max_filters=4)
    shown = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(shown) == 4 and shown[0].shape == (5, 5, 3)
    multi = rng.standard_normal((3, 2, 3, 3))
    fig = plot_filters(multi)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [
        "f0/c0", "f0/c1", "f1/c0", "f1/c1", "f2/c0", "f2/c1"]


def test_plot_filters_accepts_layer(rng):
    kernel = rng.standard_normal((6, 1, 3, 3))
    layer = SimpleNamespace(get_weights=lambda: [kernel, np.zeros(6)])
    fig = plot_filters(layer)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 6


def test_plot_filters_real_conv_layer():
    layers = pytest.importorskip("pyconv.layers")
    conv = layers.Conv2D(8, 3, input_shape=(1, 8, 8))
    conv.build((1, 8, 8))
    fig = plot_filters(conv)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 8


class Scale:
    def __init__(self, name, factor):
        self.name, self.factor = name, factor

    def forward(self, x, training=False):
        assert training is False
        return x * self.factor


class Sobel:
    name = "sobel"

    def forward(self, x, training=False):
        return conv2d(x, np.stack(sobel_kernels())[:, None].astype(x.dtype), padding=1)


class Flat:
    name = "flat"

    def forward(self, x, training=False):
        return x.reshape(len(x), -1)


def test_plot_feature_maps_by_name_and_index(tmp_path):
    model = SimpleNamespace(layers=[Scale("double", 2.0), Sobel(), Flat()])
    image = np.zeros((1, 8, 8))
    image[:, :, 4:] = 1.0
    fig = plot_feature_maps(model, image, "sobel", path=tmp_path / "m.png")
    panels = [ax for ax in fig.axes if ax.get_images()]
    shown = [ax.get_images()[0].get_array() for ax in panels]
    assert len(shown) == 3                       # the input, then the two maps
    assert [ax.get_title() for ax in panels] == ["input", "0", "1"]
    np.testing.assert_allclose(shown[0], image[0])
    # gx of the doubled vertical step, on a colour scale shared by every map
    gx = conv2d(2.0 * image, sobel_kernels()[0][None, None], padding=1)[0]
    np.testing.assert_allclose(shown[1], gx)
    first = panels[1].get_images()[0]
    assert first.get_clim() == panels[2].get_images()[0].get_clim()
    assert first.get_clim()[0] == -first.get_clim()[1]      # signed: centred on 0
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    assert_png(tmp_path / "m.png")
    fig = plot_feature_maps(model, image[None], 0)
    assert len([ax for ax in fig.axes if ax.get_images()]) == 2
    assert "'double'" in fig._suptitle.get_text()


def test_plot_feature_maps_marks_constant_maps():
    const = SimpleNamespace(name="const", forward=lambda x, training=False:
                            np.stack([np.zeros_like(x[:, 0]), np.full_like(x[:, 0], 3.0)], 1))
    fig = plot_feature_maps(SimpleNamespace(layers=[const]), np.eye(4)[None], "const")
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["input", "0 (constant 0)", "1 (constant 3)"]


def test_show_images_layouts(tmp_path, rng):
    rgb = rng.integers(0, 256, (3, 10, 12), dtype=np.uint8)
    gray = rng.random((10, 12))
    response = rng.standard_normal((1, 10, 12)) * 50
    fig = show_images([rgb, gray, response], titles=["rgb", "gray", "resp"], ncols=2,
                      path=tmp_path / "s.png")
    panels = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in panels] == ["rgb", "gray", "resp"]
    np.testing.assert_array_equal(panels[0].get_images()[0].get_array(), rgb.transpose(1, 2, 0))
    np.testing.assert_allclose(panels[1].get_images()[0].get_array(), gray)
    shown = panels[2].get_images()[0].get_array()
    assert shown.min() == 0 and shown.max() == 1
    assert_png(tmp_path / "s.png")
    batch = rng.random((5, 3, 6, 6))
    fig = show_images(batch, ncols=3)
    assert [ax.get_title() for ax in fig.axes if ax.get_images()] == [
        f"{i}: 6x6" for i in range(5)]                   # no panel is anonymous
