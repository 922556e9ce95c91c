"""Save and load models: one zip file, JSON config plus ``.npy`` weights.

This module knows the archive, not the model classes: `read_model` takes
the function that builds a model from its config (`pyconv.load_model`
passes ``Sequential.from_config``), so nothing here imports `pyconv.models`.

Layout of the archive (``zipfile``, entries stored uncompressed)::

    config.json          format, pyconv version, model config, compile config,
                         and a manifest of every array (entry, shape, dtype)
    weights/00000.npy    one entry per weight array, in model order
    optimizer/00000.npy  optimizer slots (optional)

Arrays are read with ``allow_pickle=False`` and nothing in pyconv ever
unpickles, so a file cannot execute code when loaded. Loading checks every
piece: the zip structure and CRCs, the JSON, the format version, every layer
class (only pyconv layers or ``custom_objects``), and the shape and dtype of
every array against both the manifest and the rebuilt model. Any problem is a
`ValueError` naming the file and what is wrong; a file written by another
pyconv version loads with a `UserWarning`.

A file is read as if an attacker wrote it, and nothing it declares is
allocated before it is checked: duplicate entry names, zip features pyconv
never writes (encryption, unknown compression methods, a newer zip version)
and entries larger than their manifest allows are refused before anything
is inflated; each ``.npy`` header's shape and dtype are checked against the
manifest before its data is read; and the model's parameter count, computed
from its config, must not exceed ``max_params`` (`MAX_PARAMS` by default)
before a single weight is built. Weights are matched to layers by position,
never by name, and a config whose layer names repeat is refused.

Files are written atomically: to a uniquely named temporary file beside the
target, flushed, then moved into place with ``os.replace``. Saving to a
symbolic link replaces the file it points to (the link stays), a new file
gets the permissions the umask allows (as ``open`` would), and an existing
file keeps its mode.
"""
import json
import math
import os
import stat
import struct
import tempfile
import tokenize
import warnings
import zipfile
import zlib

import numpy as np

from ._validation import fail

__all__ = ["save_model", "read_model", "save_weights", "load_weights", "MAX_PARAMS"]

FORMAT = "pyconv-model"
FORMAT_VERSION = 1
_CONFIG_ENTRY = "config.json"

# The largest model ``pyconv.load_model`` builds unless told otherwise (its
# ``max_params`` keyword): 2**28 parameters, 1 GiB of float32 weights.
MAX_PARAMS = 2**28
# Bounds on what a file may declare before it is read.
_MAX_CONFIG_BYTES = 16 * 1024 * 1024
_MAX_NPY_HEADER_BYTES = 64 * 1024
# Zip general-purpose flags pyconv's reader accepts: deflate options (bits 1
# and 2), a trailing data descriptor (bit 3), UTF-8 names (bit 11). Anything
# else (encryption, patched data, ...) is a file pyconv did not write.
_ALLOWED_ZIP_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800
_ALLOWED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Everything zipfile, zlib and the npy header parser raise for a damaged file.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError, struct.error, OverflowError, KeyError)


def _pyconv_version():
    try:
        from ._version import __version__

        return str(__version__)
    except ImportError:
        try:
            from importlib.metadata import PackageNotFoundError, version

            return version("pyconv")
        except (ImportError, PackageNotFoundError):
            return "unknown"


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.dtype):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot store {obj!r} (of type {type(obj).__name__}) in a model config")


# -------------------------------------------------------------------- writing
# Suffixes that promise a file another tool can read; pyconv's zip is not one.
_FOREIGN_SUFFIXES = {
    ".h5": "HDF5 files (Keras 2, h5py)",
    ".hdf5": "HDF5 files (Keras 2, h5py)",
    ".keras": "Keras 3's model files",
    ".pt": "PyTorch files",
    ".pth": "PyTorch files",
    ".onnx": "ONNX models",
}


def _check_suffix(path):
    """Refuse a path whose suffix names another tool's format: the file would
    be a pyconv archive that tool cannot open, under a misleading name."""
    lowered = path.lower()
    for suffix, owner in _FOREIGN_SUFFIXES.items():
        if lowered.endswith(suffix):
            fail(ValueError, "filepath", f"a path without the suffix {suffix!r}, which "
                 f"names {owner}: pyconv writes its own format (a zip of config.json and "
                 f".npy arrays) that they cannot read; use '.pyconv'"
                 + (" (for an ONNX file: model.export(path, format='onnx'))"
                    if suffix == ".onnx" else ""), repr(path))


def _write_archive(path, config, arrays):
    """Write ``config`` and ``arrays`` ({entry: ndarray}) atomically to ``path``."""
    path = _check_path(path)
    _check_suffix(path)
    path = os.path.realpath(path)                   # through a symlink, to its target
    try:
        text = json.dumps(config, default=_json_default, indent=1)
    except TypeError as exc:
        raise ValueError(f"Cannot save the model: {exc}.") from exc
    directory, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, _new_file_mode(path))
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr(_CONFIG_ENTRY, text)
                for entry, array in arrays.items():
                    with archive.open(entry, "w", force_zip64=True) as handle:
                        np.lib.format.write_array(handle, np.ascontiguousarray(array),
                                                  allow_pickle=False)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _new_file_mode(path):
    """The mode of the file at ``path``, or what the umask gives a new one."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask():
    try:   # Linux reports it without changing it
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_path(filepath):
    """``filepath`` as a str (bytes and path-like objects accepted)."""
    try:
        return os.fsdecode(os.fspath(filepath))
    except TypeError:
        fail(TypeError, "filepath", "a str, bytes or os.PathLike path", repr(filepath))


def _weights_manifest(model, arrays):
    names = [layer.name for layer in model.layers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"Cannot save the model: layer names must be unique, and "
                         f"{', '.join(map(repr, repeated))} is used more than once; rename "
                         "the layers first.")
    manifest = []
    index = 0
    for layer in model.layers:
        names = list(getattr(layer, "weight_names", []))
        for j, weight in enumerate(layer.weights):
            entry = f"weights/{index:05d}.npy"
            arrays[entry] = weight
            manifest.append({"entry": entry, "layer": layer.name,
                             "name": str(names[j]) if j < len(names) else str(j),
                             "shape": list(weight.shape), "dtype": str(weight.dtype)})
            index += 1
    return manifest


def _compile_config(model):
    if not getattr(model, "compiled", False):
        return None
    from . import losses, optimizers

    optimizer, loss = model.optimizer, model.loss
    problems = []
    lr = optimizer._learning_rate
    if type(optimizer) not in set(optimizers._BY_NAME.values()) or (
            callable(lr) and type(lr) not in set(optimizers.schedules._BY_NAME.values())):
        problems.append(f"optimizer {optimizer!r}")
    # A model with several outputs has a list of losses (one per output) and
    # metrics that each belong to one output (`index`).
    several = isinstance(loss, list)
    for one in (loss if several else [loss]):
        if one is not None and type(one) not in set(losses._BY_NAME.values()):
            problems.append(f"loss {one!r}")
    metric_names = [[] for _ in loss] if several else []
    for identifier, metric in zip(model._metric_identifiers, model.metrics):
        names = metric_names[metric.index] if several else metric_names
        inner = metric.metric if several else metric
        if isinstance(identifier, str):
            names.append(identifier)
        elif type(inner) in _metric_names() and inner.name == _metric_names()[type(inner)]:
            names.append(inner.name)
        else:
            problems.append(f"metric {metric!r}")
    if problems:
        warnings.warn("The compile settings are not saved because they hold objects pyconv "
                      f"cannot describe ({', '.join(problems)}); compile the loaded model "
                      "yourself.", UserWarning, stacklevel=4)
        return None

    def describe(one):
        return None if one is None else {"class_name": type(one).__name__,
                                         "config": one.get_config()}

    config = {
        "optimizer": {"class_name": type(optimizer).__name__, "config": optimizer.get_config()},
        "loss": [describe(one) for one in loss] if several else describe(loss),
        "metrics": metric_names,
    }
    if several:
        config["loss_weights"] = list(model._loss_weights)
    return config


def _metric_names():
    from . import metrics

    return {metrics.SparseCategoricalAccuracy: "sparse_categorical_accuracy",
            metrics.CategoricalAccuracy: "categorical_accuracy",
            metrics.BinaryAccuracy: "binary_accuracy",
            metrics.MeanSquaredError: "mean_squared_error",
            metrics.MeanAbsoluteError: "mean_absolute_error",
            metrics.Accuracy: "accuracy"}


def _base_config(model, kind):
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
            "pyconv_version": _pyconv_version(), "model": model.get_config()}


def save_model(model, filepath, include_optimizer=True):
    """Save ``model`` (architecture, weights, compile settings, optimizer state).

    ``model.save(filepath)`` calls it. The file is a zip of ``config.json``
    and ``.npy`` arrays (no pickle), written atomically.

    Parameters
    ----------
    model : Sequential
        A built model (compiled or not).
    filepath : str or path-like
        Where to write; an existing file is replaced.
    include_optimizer : bool, default=True
        Also store the optimizer state (Adam's moments, step count), so
        training resumes exactly where it stopped.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Conv2D, Flatten, Dense
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(8, 1, 4, 4)).astype("float32")
    >>> y = rng.integers(0, 2, size=8)
    >>> model = Sequential([Conv2D(2, 3, activation="relu", input_shape=(1, 4, 4)),
    ...                     Flatten(), Dense(2, activation="softmax")], seed=0)
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> _ = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    >>> from pyconv import load_model
    >>> from pyconv.saving import save_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.pyconv")
    ...     save_model(model, path)
    ...     restored = load_model(path)
    >>> bool(np.array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0)))
    True
    >>> restored.optimizer.iterations, model.optimizer.iterations
    (4, 4)
    """
    model._require_built("save()")
    arrays = {}
    config = _base_config(model, "model")
    config["weights"] = _weights_manifest(model, arrays)
    config["compile_config"] = _compile_config(model)
    optimizer = getattr(model, "optimizer", None)
    if (include_optimizer and config["compile_config"] is not None
            and optimizer is not None and optimizer.built):
        state = optimizer.get_state()
        slots = {}
        index = 0
        for slot, values in state["slots"].items():
            slots[slot] = []
            for value in values:
                entry = f"optimizer/{index:05d}.npy"
                arrays[entry] = value
                slots[slot].append({"entry": entry, "shape": list(value.shape),
                                    "dtype": str(value.dtype)})
                index += 1
        config["optimizer_state"] = {"iterations": state["iterations"], "slots": slots}
    _write_archive(filepath, config, arrays)


def save_weights(model, filepath):
    """Save only the weights of ``model`` (the config is kept for checking).

    ``model.save_weights(filepath)`` calls it; `load_weights` reads it back.

    Parameters
    ----------
    model : Sequential
        A built model.
    filepath : str or path-like
        Where to write; an existing file is replaced.

    Examples
    --------
    Weights move between two models of the same architecture:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.saving import save_weights, load_weights
    >>> source = Sequential([Dense(3, input_shape=(2,)), Dense(1)], seed=1)
    >>> target = Sequential([Dense(3, input_shape=(2,)), Dense(1)], seed=2)
    >>> x = np.array([[1.0, -1.0]])
    >>> bool(np.allclose(source.predict(x, verbose=0), target.predict(x, verbose=0)))
    False
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "weights.pyconv")
    ...     save_weights(source, path)
    ...     load_weights(target, path)
    >>> bool(np.array_equal(source.predict(x, verbose=0), target.predict(x, verbose=0)))
    True
    """
    model._require_built("save_weights()")
    arrays = {}
    config = _base_config(model, "weights")
    config["weights"] = _weights_manifest(model, arrays)
    _write_archive(filepath, config, arrays)


# -------------------------------------------------------------------- reading
class _Archive:
    """Checked, size-bounded read access to a saved file.

    Every failure is a `ValueError` naming the file (a missing file stays
    `FileNotFoundError`), and the zip file is closed again when opening fails.
    """

    def __init__(self, path):
        self.path = _check_path(path)
        try:
            self._zip = zipfile.ZipFile(self.path, "r")
        except FileNotFoundError:
            raise
        except _READ_ERRORS as exc:
            self._fail(f"not a pyconv model file, or a truncated one ({exc})")
        try:
            self._check_members()
            self.config = self._read_config()
        except BaseException:
            self.close()
            raise

    def _fail(self, reason):
        raise ValueError(f"Cannot load {self.path!r}: {reason}.")

    def _check_members(self):
        """Refuse what pyconv never writes, before any entry is inflated."""
        seen = set()
        for info in self._zip.infolist():
            name = info.filename
            if name in seen:
                self._fail(f"it holds the entry {name!r} twice")
            seen.add(name)
            if info.flag_bits & ~_ALLOWED_ZIP_FLAGS:
                self._fail(f"its entry {name!r} uses zip features pyconv does not write "
                           f"(flags {info.flag_bits:#06x}: encrypted or patched data)")
            if info.compress_type not in _ALLOWED_COMPRESSION:
                self._fail(f"its entry {name!r} uses compression method {info.compress_type} "
                           "(pyconv reads stored and deflated entries only)")
            if info.extract_version > zipfile.MAX_EXTRACT_VERSION:
                self._fail(f"its entry {name!r} needs zip version "
                           f"{info.extract_version / 10:.1f} to be read")

    def _read_config(self):
        raw = self._read(_CONFIG_ENTRY, _MAX_CONFIG_BYTES, f"its {_CONFIG_ENTRY}")
        try:
            config = json.loads(raw.decode("utf-8"))
        except RecursionError:
            self._fail(f"its {_CONFIG_ENTRY} is nested too deeply to be a model config")
        except ValueError as exc:   # bad UTF-8 or JSON, an integer of thousands of digits
            self._fail(f"its {_CONFIG_ENTRY} is corrupt ({exc})")
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            self._fail(f"its {_CONFIG_ENTRY} does not describe a pyconv model")
        version = config.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
            self._fail(f"format version {version!r} is not supported (this pyconv reads "
                       f"version {FORMAT_VERSION})")
        saved_by = config.get("pyconv_version")
        if saved_by != _pyconv_version():
            warnings.warn(f"{self.path!r} was saved by pyconv {saved_by}, this is pyconv "
                          f"{_pyconv_version()}; loading it anyway.", UserWarning, stacklevel=5)
        return config

    def _member(self, entry, max_bytes, what):
        """The zip entry ``entry``, whose declared size must be at most ``max_bytes``."""
        try:
            info = self._zip.getinfo(entry)
        except KeyError:
            self._fail(f"it has no {entry}" if entry == _CONFIG_ENTRY
                       else f"entry {entry!r} for {what} is missing")
        if info.file_size > max_bytes:
            self._fail(f"entry {entry!r} for {what} declares {info.file_size} bytes, more "
                       f"than the {max_bytes} it can hold")
        return info

    def _read(self, entry, max_bytes, what):
        info = self._member(entry, max_bytes, what)
        try:
            with self._zip.open(info) as handle:
                return _read_exactly(handle, info.file_size)
        except _READ_ERRORS as exc:
            self._fail(f"{what} is corrupt ({type(exc).__name__}: {exc})")

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def section(self, key, kind):
        value = self.config.get(key)
        if not isinstance(value, kind):
            self._fail(f"{_CONFIG_ENTRY} has no valid {key!r} section")
        return value

    def array(self, spec, expected_shape, expected_dtype, what):
        """Read the array described by manifest ``spec``; check it is as expected.

        The manifest, the entry's declared size and its ``.npy`` header must
        all agree with ``expected_shape`` and ``expected_dtype`` before the
        data is read, so a file cannot make pyconv allocate what it declares.
        """
        if not isinstance(spec, dict) or not isinstance(spec.get("entry"), str):
            self._fail(f"the manifest entry for {what} is malformed")
        expected_shape, dtype = tuple(expected_shape), np.dtype(expected_dtype)
        shape = spec.get("shape")
        if not isinstance(shape, list) or tuple(shape) != expected_shape:
            self._fail(f"{what} is listed with shape {shape} but the model needs "
                       f"{expected_shape}")
        if spec.get("dtype") != str(dtype):
            self._fail(f"{what} is listed with dtype {spec.get('dtype')} but the model needs "
                       f"{dtype}")
        entry = spec["entry"]
        nbytes = math.prod(expected_shape) * dtype.itemsize
        info = self._member(entry, nbytes + _MAX_NPY_HEADER_BYTES, what)
        header = data = None
        try:
            with self._zip.open(info) as handle:
                header = _read_npy_header(handle)
                if header == (expected_shape, False, dtype):
                    data = _read_exactly(handle, nbytes)
                    if handle.read(1):   # reaching the end also checks the CRC
                        raise ValueError("data past the end of the array")
        except _READ_ERRORS as exc:
            self._fail(f"entry {entry!r} for {what} is corrupt or not a plain numeric array "
                       f"({type(exc).__name__}: {exc})")
        if data is None:
            shape, fortran_order, found = header
            self._fail(f"entry {entry!r} for {what} is not a plain numeric array of shape "
                       f"{expected_shape} and dtype {dtype}: its header declares shape "
                       f"{shape} and dtype {found}{' in Fortran order' * fortran_order}")
        return np.frombuffer(data, dtype=dtype).reshape(expected_shape)


def _read_exactly(handle, size):
    data = handle.read(size)
    if len(data) != size:
        raise EOFError(f"{len(data)} of {size} bytes")
    return data


def _read_npy_header(handle):
    """``(shape, fortran_order, dtype)`` from a ``.npy`` header (no pickled dtypes)."""
    version = np.lib.format.read_magic(handle)
    readers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f".npy format version {version} is not one pyconv writes")
    try:
        shape, fortran_order, dtype = readers[version](handle,
                                                       max_header_size=_MAX_NPY_HEADER_BYTES)
    except (tokenize.TokenError, SyntaxError) as exc:   # numpy tokenizes the header first
        raise ValueError(f"the .npy header does not parse ({exc})") from exc
    return tuple(shape), bool(fortran_order), dtype


def _load_weights_into(archive, model):
    """Copy the file's weights into ``model``, matched by position (names may repeat)."""
    manifest = archive.section("weights", list)
    targets = [(layer, j, w) for layer in model.layers for j, w in enumerate(layer.weights)]
    if len(manifest) != len(targets):
        archive._fail(f"it holds {len(manifest)} weight arrays but the model has "
                      f"{len(targets)}")
    values = [archive.array(spec, weight.shape, weight.dtype,
                            f"weight {j} of layer {layer.name!r}")
              for spec, (layer, j, weight) in zip(manifest, targets)]
    start = 0
    for layer in model.layers:
        count = len(layer.weights)
        if count:
            layer.set_weights(values[start:start + count])
        start += count


def read_model(filepath, build, compile=True):
    """The model in a file written by `save_model` (``pyconv.load_model``'s work).

    This module knows the archive, not the model classes: ``build`` makes
    the model from the saved config. Then every weight is checked against
    the built model and loaded, and with ``compile`` the optimizer, loss,
    metrics and optimizer state are restored.

    Parameters
    ----------
    filepath : str, bytes or path-like
        A file written by `save_model` (or ``model.save``).
    build : callable
        ``build(model_config)`` returns a built model, or raises
        `ValueError` for a config it refuses.
    compile : bool, default=True
        Restore the compile settings and the optimizer state.

    Returns
    -------
    model
        What ``build`` returned, with the saved weights.

    Raises
    ------
    ValueError
        For any problem with the file, naming it (see `pyconv.load_model`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.saving import read_model, save_model
    >>> model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "dense.pyconv")
    ...     save_model(model, path)
    ...     restored = read_model(path, Sequential.from_config, compile=False)
    >>> bool(np.array_equal(restored.get_weights()[0], model.get_weights()[0]))
    True
    """
    with _Archive(filepath) as archive:
        if archive.config.get("kind") != "model":
            archive._fail("it holds weights only (use model.load_weights)")
        model_config = archive.section("model", dict)
        try:
            model = build(model_config)
        except ValueError as exc:
            archive._fail(str(exc).rstrip("."))
        except (TypeError, KeyError, AttributeError, OverflowError) as exc:
            archive._fail(f"its model config is invalid ({type(exc).__name__}: {exc})")
        if not model.built:
            archive._fail("its model config has no input shape")
        _load_weights_into(archive, model)
        compile_config = archive.config.get("compile_config")
        if compile and compile_config is not None:
            _compile_from_config(archive, model, compile_config)
    return model


def _compile_from_config(archive, model, compile_config):
    from . import losses, optimizers

    if not isinstance(compile_config, dict):
        archive._fail("its compile_config is malformed")
    try:
        optimizer = optimizers.get(compile_config["optimizer"])
        loss_config = compile_config.get("loss")
        if isinstance(loss_config, list):       # one loss per output
            loss = [losses.get(one) for one in loss_config]
        else:
            loss = None if loss_config is None else losses.get(loss_config)
        extra = {}
        if "loss_weights" in compile_config:
            extra["loss_weights"] = compile_config["loss_weights"]
        model.compile(optimizer=optimizer, loss=loss, metrics=compile_config.get("metrics"),
                      **extra)
    except (KeyError, TypeError, ValueError) as exc:
        archive._fail(f"its compile_config is invalid ({exc})")
    state = archive.config.get("optimizer_state")
    if state is None:
        return
    if not isinstance(state, dict) or not isinstance(state.get("slots"), dict):
        archive._fail("its optimizer_state is malformed")
    _, variables = model._trainable()
    optimizer.build(variables)
    expected = optimizer.get_state()["slots"]
    if set(state["slots"]) != set(expected):
        archive._fail(f"its optimizer state has slots {sorted(state['slots'])}, the optimizer "
                      f"needs {sorted(expected)}")
    slots = {}
    for slot, specs in state["slots"].items():
        if not isinstance(specs, list) or len(specs) != len(expected[slot]):
            archive._fail(f"optimizer slot {slot!r} has the wrong number of arrays")
        slots[slot] = [archive.array(spec, ref.shape, ref.dtype, f"optimizer slot {slot!r}")
                       for spec, ref in zip(specs, expected[slot])]
    iterations = state.get("iterations")
    if not isinstance(iterations, int) or iterations < 0:
        archive._fail("its optimizer iteration count is invalid")
    optimizer.set_state({"iterations": iterations, "slots": slots})


def load_weights(model, filepath):
    """Load weights from a file written by ``save`` or ``save_weights`` into ``model``.

    The weights are copied into the model's arrays in place, after checking
    every shape and dtype against the model.

    Parameters
    ----------
    model : Sequential
        A built model with the architecture the file was saved from.
    filepath : str or path-like
        A file written by `save_weights` or `save_model`.

    Raises
    ------
    ValueError
        For a damaged file or weights that do not fit ``model``.

    Examples
    --------
    Roll a model back to a checkpoint after more training:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from pyconv import Sequential
    >>> from pyconv.layers import Dense
    >>> from pyconv.saving import save_weights, load_weights
    >>> model = Sequential([Dense(1, input_shape=(2,))], seed=0)
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([1.0, 0.0])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "checkpoint.pyconv")
    ...     save_weights(model, path)
    ...     before = model.get_weights()[0].copy()
    ...     _ = model.fit(x, y, epochs=3, verbose=0)
    ...     changed = not np.array_equal(model.get_weights()[0], before)
    ...     load_weights(model, path)
    >>> changed, bool(np.array_equal(model.get_weights()[0], before))
    (True, True)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "small.pyconv")
    ...     save_weights(Sequential([Dense(1, input_shape=(3,))]), path)
    ...     load_weights(model, path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...
    """
    model._require_built("load_weights()")
    with _Archive(filepath) as archive:
        _load_weights_into(archive, model)
