"""Plots for training and for looking inside a CNN (needs matplotlib).

Install the optional extra with ``pip install pyconv[plot]``. matplotlib is
imported only when a function here is called; without a display (a server, a
CI job) the non-interactive Agg backend is selected, unless you chose a
backend yourself (``MPLBACKEND`` or ``matplotlib.use``).

Every function returns the matplotlib `~matplotlib.figure.Figure` (a pyplot
figure, so ``plt.show()`` displays it and notebooks show it inline) and
saves it as a PNG when given ``path``. Close figures you no longer need with
``plt.close(fig)``.
"""
import math
import os
import sys

import numpy as np

from ._validation import check_int, fail

__all__ = ["plot_history", "plot_filters", "plot_feature_maps", "show_images"]


def _pyplot():
    """Import pyplot lazily, choosing Agg when there is no display."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("pyconv.plotting needs matplotlib: pip install pyconv[plot] "
                          "(or pip install matplotlib)") from exc
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if headless and "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), format="png", dpi=fig.dpi, bbox_inches="tight")
    return fig


def _grid(n, ncols=None):
    if ncols is None:
        ncols = max(1, math.ceil(math.sqrt(n)))
    ncols = min(ncols, n)
    return math.ceil(n / ncols), ncols


def _normalise(panel):
    """Scale one panel to [0, 1] by its own min and max (constant -> 0.5)."""
    panel = np.asarray(panel, dtype=np.float64)
    low, high = np.nanmin(panel), np.nanmax(panel)
    if not np.isfinite(low) or not np.isfinite(high) or high - low <= 0:
        return np.full(panel.shape, 0.5)
    return (panel - low) / (high - low)


def _hide_axes(axes):
    for ax in np.ravel(axes):
        ax.set_xticks([])
        ax.set_yticks([])


# --------------------------------------------------------------------------
# Training history
# --------------------------------------------------------------------------
def plot_history(history, path=None):
    """Plot the per-epoch loss and metrics of a training run.

    One panel per quantity (``loss``, ``accuracy``, ...), with its
    validation curve (``val_loss``, ...) in the same panel.

    Parameters
    ----------
    history : History or dict
        What ``model.fit`` returns (anything with a ``.history`` dict) or a
        dict mapping names to per-epoch values.
    path : str or os.PathLike, optional
        Save the figure there as PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from pyconv.plotting import plot_history
    >>> fig = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
    ...                     "accuracy": [0.6, 0.8, 0.9]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    record = getattr(history, "history", history)
    if not isinstance(record, dict) or not record:
        fail(TypeError, "history", "a History (with a .history dict) or a non-empty dict "
             "of per-epoch values", repr(history)[:80])
    names = []
    for key in record:
        base = key[4:] if key.startswith("val_") else key
        if base not in names:
            names.append(base)
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label, style in ((name, "train", "-o"), ("val_" + name, "validation", "--s")):
            if key in record:
                values = np.asarray(record[key], dtype=np.float64).ravel()
                epochs = np.arange(1, values.size + 1)
                ax.plot(epochs, values, style, markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _finish(fig, path)


# --------------------------------------------------------------------------
# Filters and feature maps
# --------------------------------------------------------------------------
def _conv_weights(layer_or_weights):
    if hasattr(layer_or_weights, "get_weights"):
        weights = layer_or_weights.get_weights()
        if not weights:
            fail(ValueError, "layer_or_weights", "a layer with weights (call the model "
                 "once or build it first)", repr(layer_or_weights))
        kernel = np.asarray(weights[0])
    else:
        kernel = np.asarray(layer_or_weights)
    if kernel.ndim != 4 or kernel.dtype.kind not in "biuf":
        fail(ValueError, "layer_or_weights", "a Conv2D layer or a real array of shape "
             "[C_out, C_in, kh, kw]", f"shape {kernel.shape}, dtype {kernel.dtype}")
    return kernel


def plot_filters(layer_or_weights, max_filters=64, path=None):
    """Show a convolution's kernels as a grid of small images.

    Each panel is normalised on its own (darkest = most negative weight,
    brightest = most positive), so the pattern of every filter is visible
    whatever its scale. With 3 input channels each filter is shown in
    colour (R, G, B = its three input channels); with one input channel in
    gray; otherwise each (filter, input channel) pair gets its own panel,
    labelled ``f<out>/c<in>``.

    Parameters
    ----------
    layer_or_weights : layer or array_like, shape (C_out, C_in, kh, kw)
        A Conv2D-like layer (its first ``get_weights()`` array is used) or
        the weight array itself.
    max_filters : int, default 64
        Show at most this many panels.
    path : str or os.PathLike, optional
        Save the figure there as PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.image import sobel_kernels
    >>> from pyconv.plotting import plot_filters
    >>> weights = np.stack(sobel_kernels())[:, None]      # [2, 1, 3, 3]
    >>> fig = plot_filters(weights)
    >>> [ax.get_title() for ax in fig.axes]
    ['f0', 'f1']
    """
    kernel = _conv_weights(layer_or_weights)
    max_filters = check_int(max_filters, "max_filters", min_value=1)
    c_out, c_in = kernel.shape[:2]
    panels, titles, cmap = [], [], None
    if c_in == 3:
        for o in range(min(c_out, max_filters)):
            panels.append(_normalise(kernel[o]).transpose(1, 2, 0))
            titles.append(f"f{o}")
    else:
        cmap = "gray"
        for o in range(c_out):
            for i in range(c_in):
                if len(panels) == max_filters:
                    break
                panels.append(_normalise(kernel[o, i]))
                titles.append(f"f{o}" if c_in == 1 else f"f{o}/c{i}")
    nrows, ncols = _grid(len(panels), ncols=None if c_in in (1, 3) else min(c_in, 8))
    plt = _pyplot()
    size = 1.2
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(size * ncols + 0.4, (size + 0.3) * nrows + 0.6))
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for ax, panel, title in zip(axes.ravel(), panels, titles):
        ax.imshow(panel, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=8)
    _hide_axes(axes)
    total = c_out if c_in == 3 else c_out * c_in
    fig.suptitle(f"{c_out} filter{'s' if c_out > 1 else ''} of {kernel.shape[2]}x"
                 f"{kernel.shape[3]} on {c_in} input channel{'s' if c_in > 1 else ''}"
                 + (f" (first {len(panels)} panels shown)" if len(panels) < total else ""),
                 fontsize=9)
    fig.tight_layout()
    return _finish(fig, path)


def _find_layer_index(layers, layer):
    if isinstance(layer, str):
        for index, candidate in enumerate(layers):
            if getattr(candidate, "name", None) == layer:
                return index
        names = [getattr(candidate, "name", "?") for candidate in layers]
        fail(ValueError, "layer", f"the name of one of the model's layers {names}", repr(layer))
    index = check_int(layer, "layer")
    if not -len(layers) <= index < len(layers):
        fail(ValueError, "layer", f"an index in [-{len(layers)}, {len(layers)})", index)
    return index % len(layers)


def plot_feature_maps(model, x, layer, max_maps=32, path=None):
    """Show the output channels of one layer for one input image.

    Runs ``x`` through ``model.layers`` with ``layer.forward(x,
    training=False)`` up to and including ``layer``, and shows the input image
    first, then each channel of the result, all on one colour scale (a
    diverging one centred on 0 when activations take both signs) with a
    colour bar; a constant map says so in its title.

    Parameters
    ----------
    model : Sequential or any object with a ``layers`` list
        The layers must be built (a fitted or built model).
    x : array_like, shape (C, H, W) or (1, C, H, W)
        One image.
    layer : str or int
        The layer's name or its index in ``model.layers``.
    max_maps : int, default 32
        Show at most this many channels.
    path : str or os.PathLike, optional
        Save the figure there as PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    Any object with ``layers`` whose items have ``forward`` works:

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> from pyconv.image import sobel_kernels
    >>> from pyconv.functional import conv2d
    >>> from pyconv.plotting import plot_feature_maps
    >>> edges = SimpleNamespace(name="edges", forward=lambda x, training=False:
    ...                         conv2d(x, np.stack(sobel_kernels())[:, None], padding=1))
    >>> model = SimpleNamespace(layers=[edges])
    >>> image = np.zeros((1, 8, 8)); image[:, :, 4:] = 1.0
    >>> fig = plot_feature_maps(model, image, "edges")
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['input', '0', '1']
    """
    layers = list(getattr(model, "layers", None) or [])
    if not layers:
        fail(TypeError, "model", "a model with a non-empty `layers` list", repr(model)[:80])
    index = _find_layer_index(layers, layer)
    max_maps = check_int(max_maps, "max_maps", min_value=1)
    from ._validation import as_float_array

    out = as_float_array(x, "x")
    if out.ndim == 3:
        out = out[np.newaxis]
    if out.ndim != 4 or out.shape[0] != 1:
        fail(ValueError, "x", "one image [C, H, W] or a batch of one [1, C, H, W]",
             f"shape {np.shape(x)}")
    dtype = getattr(layers[0], "dtype", None)
    if dtype is not None and np.dtype(dtype) in (np.float32, np.float64):
        out = out.astype(dtype, copy=False)
    image = out[0]
    for current in layers[:index + 1]:
        out = current.forward(out, training=False)
    out = np.asarray(out)
    name = getattr(layers[index], "name", str(index))
    if out.ndim != 4:
        fail(ValueError, "layer", "a layer with image output [1, C, H, W]",
             f"{name!r} with output shape {out.shape}")
    maps = out[0]
    n = min(maps.shape[0], max_maps)
    shown = maps[:n].astype(np.float64)
    cmap, vmin, vmax = _shared_scale(shown)
    nrows, ncols = _grid(n + 1)                       # the input comes first
    plt = _pyplot()
    size = 1.6
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(size * ncols + 1.2, (size + 0.3) * nrows + 0.6))
    cells = axes.ravel()
    for ax in cells[n + 1:]:
        ax.axis("off")
    source, source_title = _input_panel(image)
    cells[0].imshow(source, cmap=None if source.ndim == 3 else "gray", vmin=0, vmax=1,
                    interpolation="nearest")
    cells[0].set_title(source_title, fontsize=8)
    picture = None
    for channel, ax in enumerate(cells[1:n + 1]):
        panel = shown[channel]
        picture = ax.imshow(panel, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        constant = np.ptp(panel) == 0
        ax.set_title(f"{channel}" + (f" (constant {panel.flat[0]:.3g})" if constant else ""),
                     fontsize=8)
    _hide_axes(axes)
    fig.colorbar(picture, ax=cells[1:n + 1].tolist(), shrink=0.8, label="activation")
    fig.suptitle(f"feature maps of {name!r}: {maps.shape[0]} x {maps.shape[1]} x "
                 f"{maps.shape[2]}" + (f" (first {n} shown)" if n < maps.shape[0] else "")
                 + ", one colour scale", fontsize=9)
    return _finish(fig, path)


def _shared_scale(maps):
    """``(cmap, vmin, vmax)`` shared by all maps, so that their colours compare:
    a diverging map centred on 0 for signed activations, else a sequential one."""
    finite = maps[np.isfinite(maps)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if low < 0 < high:
        bound = max(-low, high)
        return "RdBu_r", -bound, bound
    if high == low:                                   # every map constant: keep them visible
        return "viridis", low - 0.5, high + 0.5
    return "viridis", low, high


def _input_panel(image):
    """The input image ``[C, H, W]`` as something imshow draws in [0, 1], and its title."""
    channels = image.shape[0]
    if channels == 3:
        return _normalise(image.transpose(1, 2, 0)), "input (RGB)"
    title = "input" if channels == 1 else f"input (channel 0 of {channels})"
    return _normalise(image[0]), title


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------
def _image_list(images):
    """A list of channel-last 2-D / 3-D arrays ready for imshow."""
    from .image import _check_layout

    if isinstance(images, (list, tuple)):
        items = [np.asarray(img) for img in images]
    else:
        arr = np.asarray(images)
        items = list(arr) if arr.ndim == 4 else [arr]
    result = []
    for img in items:
        if img.dtype.kind not in "biuf":
            fail(TypeError, "images", "real-valued image arrays", f"dtype {img.dtype}")
        _check_layout(img, "images")
        if img.ndim == 4:
            fail(ValueError, "images", "a list of 2-D/3-D images or one 4-D batch",
                 f"a 4-D item of shape {img.shape} inside a list")
        if img.ndim == 3:
            if img.shape[0] not in (1, 3, 4):
                fail(ValueError, "images", "images with 1, 3 or 4 channels [C, H, W] "
                     "(for a stack of grayscale images [N, H, W], pass images[:, None])",
                     f"shape {img.shape}")
            img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        result.append(img)
    return result


def _displayable(img):
    """uint8 as is; bool/int/float scaled to [0, 1] (floats already in
    [0, 1] are kept, others are min-max normalised)."""
    if img.dtype == np.uint8:
        return img
    img = img.astype(np.float64)
    finite = img[np.isfinite(img)]
    if finite.size and finite.min() >= 0 and finite.max() <= 1:
        return img
    return _normalise(img)


def show_images(images, titles=None, ncols=4, path=None):
    """Show one image or several side by side.

    Parameters
    ----------
    images : array_like or list of array_like
        ``[H, W]`` (gray), ``[C, H, W]`` with 1, 3 (RGB) or 4 (RGBA)
        channels, an ``[N, C, H, W]`` batch, or a list of such images
        (sizes may differ). ``uint8`` is shown as is; float images in
        ``[0, 1]`` as is; others (e.g. filter responses) are min-max
        normalised per image.
    titles : list of str, optional
        One per image. By default each panel is titled with its index and
        size (``"0: 16x16"``), so that no panel is anonymous.
    ncols : int, default 4
        Images per row.
    path : str or os.PathLike, optional
        Save the figure there as PNG.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from pyconv.image import gaussian_blur
    >>> from pyconv.plotting import show_images
    >>> img = np.zeros((3, 16, 16), dtype=np.uint8); img[0, 4:12, 4:12] = 255
    >>> fig = show_images([img, gaussian_blur(img, kernel="lecture")],
    ...                   titles=["square", "blurred"])
    >>> [ax.get_title() for ax in fig.axes]
    ['square', 'blurred']
    """
    panels = _image_list(images)
    if not panels:
        fail(ValueError, "images", "at least one image", "an empty list")
    ncols = check_int(ncols, "ncols", min_value=1)
    if titles is not None:
        titles = list(titles)
        if len(titles) != len(panels):
            fail(ValueError, "titles", f"a list of {len(panels)} titles (one per image)",
                 f"{len(titles)} titles")
    nrows, ncols = _grid(len(panels), ncols)
    plt = _pyplot()
    height, width = panels[0].shape[:2]
    panel_width = 3.0
    panel_height = max(0.6, min(3.0 * height / max(width, 1), 6.0))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(panel_width * ncols, (panel_height + 0.4) * nrows))
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    for index, (ax, img) in enumerate(zip(axes.ravel(), panels)):
        shown = _displayable(img)
        # Small images (digits, kernels) as crisp pixels; photos smoothed.
        interpolation = "nearest" if max(shown.shape[:2]) <= 64 else "antialiased"
        if shown.ndim == 2:
            vmax = 255 if shown.dtype == np.uint8 else 1
            ax.imshow(shown, cmap="gray", vmin=0, vmax=vmax, interpolation=interpolation)
        else:
            ax.imshow(shown, interpolation=interpolation)
        title = f"{index}: {img.shape[0]}x{img.shape[1]}" if titles is None else titles[index]
        ax.set_title(str(title), fontsize=9)
    _hide_axes(axes)
    fig.tight_layout()
    return _finish(fig, path)
