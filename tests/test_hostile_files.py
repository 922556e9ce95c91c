"""Model files written by an attacker or mangled by accident, and saves that
must never lose what the user had (issue 18, cases 1-5).

Every refused file is a `ValueError` naming the file; nothing a file
declares (entry sizes, array shapes, layer sizes) is allocated before it is
checked. Cases that would exhaust memory on a broken reader run in a child
process under an address-space limit.
"""
import json
import os
import stat
import struct
import sys
import warnings
import zipfile

import numpy as np
import pytest

from pyconv import saving
from pyconv.layers import Dense, Input
from pyconv.models import Sequential, load_model

from _support import run_python

X = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)


def small_model(seed=0):
    model = Sequential([Input((4,)), Dense(4, name="d1"), Dense(4, name="d2")], seed=seed)
    model.compile("adam", "mse")
    return model


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.pyconv"
    small_model().save(path)
    return path


def entries(path):
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write_entries(path, items, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression=compression) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return path


def edited(path, edit, out=None):
    """A copy of the archive at ``path`` with ``edit(config)`` applied to config.json."""
    items = []
    for name, data in entries(path):
        if name == "config.json":
            config = json.loads(data)
            edit(config)
            data = json.dumps(config)
        items.append((name, data))
    return write_entries(out or path, items)


def refused(path, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        load_model(path, **kwargs)
    assert type(info.value) is ValueError
    assert "Cannot load" in str(info.value) and os.fspath(path) in str(info.value)
    return info.value


# ------------------------------------------------------------- 1: layer names
def test_layer_renamed_to_a_duplicate_cannot_be_saved(tmp_path):
    model = small_model()
    model.layers[1].name = "d1"
    with pytest.raises(ValueError, match="unique.*'d1'"):
        model.save(tmp_path / "m.pyconv")
    assert not (tmp_path / "m.pyconv").exists()


def test_file_with_duplicate_layer_names_is_refused(saved):
    def rename(config):
        config["model"]["layers"][-1]["config"]["name"] = "d1"
        config["weights"][-1]["layer"] = config["weights"][-2]["layer"] = "d1"
    edited(saved, rename)
    refused(saved, "unique names.*'d1'")


def test_renamed_layer_round_trips_with_its_own_weights(tmp_path):
    model = small_model()
    model.layers[0].name, model.layers[1].name = "second", "first"   # names swapped
    model.save(tmp_path / "m.pyconv")
    restored = load_model(tmp_path / "m.pyconv")
    assert [layer.name for layer in restored.layers] == ["second", "first"]
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.predict(X, verbose=0), model.predict(X, verbose=0))


# ------------------------------------------------------- 2: duplicate entries
def test_duplicate_zip_entries_are_refused(saved, tmp_path):
    items = entries(saved)
    config = dict(items)["config.json"]
    other = json.loads(config)
    other["model"]["layers"][-1]["config"]["units"] = 4
    write_entries(saved, items + [("config.json", json.dumps(other))])
    refused(saved, "'config.json' twice")
    write_entries(saved, items + [items[-1]])
    refused(saved, f"'{items[-1][0]}' twice")


# ----------------------------------------------------- 3: bounded allocation
def test_npy_header_declaring_a_huge_array_is_refused_before_allocating(saved):
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)}
    text = repr(header).encode() + b" " * 7
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text) + 1) + text + b"\n"
    items = [(n, npy if n == "weights/00000.npy" else d) for n, d in entries(saved)]
    write_entries(saved, items)
    refused(saved, r"weights/00000.npy.*not a plain numeric array.*1000000")


def test_entry_larger_than_its_manifest_allows_is_refused(saved):
    items = [(n, d + b"\0" * 200_000 if n == "weights/00000.npy" else d)
             for n, d in entries(saved)]
    write_entries(saved, items)
    refused(saved, "weights/00000.npy.*declares 200")


# The children run under an address-space limit: a reader that believes a
# file's sizes dies of MemoryError there instead of eating the host.
_LIMITED_LOAD = """
    import resource, sys, warnings
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
    warnings.simplefilter("ignore")
    from pyconv import load_model
    try:
        load_model(sys.argv[1])
    except BaseException as exc:
        print("RAISED", type(exc).__name__, str(exc)[:300])
    else:
        print("RAISED nothing")
"""


def load_in_limited_child(path):
    result = run_python(_LIMITED_LOAD, path, env={"OMP_NUM_THREADS": 1}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def _with_deflated_weight(path, content):
    """Rewrite ``path`` with ``content`` as its first weight entry, deflated."""
    items = entries(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name, data in items:
            out.writestr(name, content if name == "weights/00000.npy" else data)
    return dict(items)["weights/00000.npy"]


def test_entry_declaring_gigabytes_is_refused_before_inflating(saved):
    _with_deflated_weight(saved, b"\0" * 65536)
    _patch_central_directory(saved, "weights/00000.npy", 24, "<I", 3 << 30)   # 3 GiB
    refused(saved, r"weights/00000.npy.*declares 3221225472 bytes, more than the \d+ it can "
                   "hold")


def test_zip_bomb_lying_about_its_size_inflates_no_further_than_declared(saved):
    import tracemalloc

    original = _with_deflated_weight(saved, bytes(128 << 20))      # 128 MiB in ~130 kB
    _patch_central_directory(saved, "weights/00000.npy", 24, "<I", len(original))
    tracemalloc.start()
    try:
        refused(saved, "weights/00000.npy.*corrupt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_config_asking_for_a_huge_layer_is_refused_before_building(saved):
    edited(saved, lambda c: c["model"]["layers"][-1]["config"].update(units=2**31 - 1))
    line = load_in_limited_child(saved)
    assert line.startswith("RAISED ValueError Cannot load"), line
    assert "max_params" in line


def test_max_params_is_a_documented_limit_that_can_be_raised(saved):
    n_params = small_model().count_params()
    assert saving.MAX_PARAMS == 2**28
    refused(saved, f"{n_params} parameters.*max_params", max_params=n_params - 1)
    assert load_model(saved, max_params=n_params).count_params() == n_params
    # (max_params="many": the load_model-max-params-str row of test_bad_input_table.py)


# ------------------------------------------------ 4: zipfile's own exceptions
def _patch_central_directory(path, entry, offset, fmt, value):
    """Overwrite a field of ``entry``'s central directory record."""
    raw = bytearray(path.read_bytes())
    start = 0
    while True:
        start = raw.index(b"PK\x01\x02", start)
        name_length = struct.unpack_from("<H", raw, start + 28)[0]
        if raw[start + 46:start + 46 + name_length] == entry.encode():
            break
        start += 4
    struct.pack_into(fmt, raw, start + offset, value)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("entry", ["config.json", "weights/00001.npy"])
@pytest.mark.parametrize("field, offset, fmt, value, match", [
    ("encrypted flag", 8, "<H", 0x0001, "flags 0x0001"),
    ("strong encryption flag", 8, "<H", 0x0041, "flags 0x0041"),
    ("compressed patch flag", 8, "<H", 0x0020, "flags 0x0020"),
    ("unknown compression", 10, "<H", 99, "compression method 99"),
    ("lzma compression", 10, "<H", zipfile.ZIP_LZMA, "compression method 14"),
    ("version needed", 6, "<H", 0xFF, "zip (file )?version 25.5"),
], ids=lambda v: v if isinstance(v, str) and " " in v else None)
def test_zip_features_pyconv_never_writes_are_a_value_error(saved, entry, field, offset, fmt,
                                                            value, match):
    _patch_central_directory(saved, entry, offset, fmt, value)
    refused(saved, match)


# ------------------------------------------------------------------ 5: smaller
def test_bytes_and_pathlike_paths(saved):
    for path in (os.fsencode(saved), saved, str(saved)):
        assert load_model(path).count_params() == small_model().count_params()
    # (a float path: the load_model-float-path row of test_bad_input_table.py)
    with pytest.raises(FileNotFoundError):
        load_model(os.fsencode(saved) + b".missing")


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_failed_loads_close_the_file_even_while_the_exception_lives(saved):
    write_entries(saved, [(n, d) for n, d in entries(saved) if n != "config.json"])
    kept = []
    before = _open_fds()
    for _ in range(20):
        try:
            load_model(saved)
        except ValueError as exc:
            kept.append(exc)                 # the traceback keeps every frame alive
    assert len(kept) == 20 and "no config.json" in str(kept[0])
    assert _open_fds() == before


def test_huge_json_integer_is_wrapped(saved):
    items = [(n, d.replace(b'"format_version": 1', b'"format_version": ' + b"9" * 5000)
              if n == "config.json" else d) for n, d in entries(saved)]
    write_entries(saved, items)
    refused(saved, "config.json is corrupt")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_save_writes_through_a_symlink(tmp_path):
    target = tmp_path / "real" / "model.pyconv"
    target.parent.mkdir()
    small_model(seed=1).save(target)
    link = tmp_path / "link.pyconv"
    link.symlink_to(target)
    model = small_model(seed=2)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(load_model(target).predict(X, verbose=0),
                                  model.predict(X, verbose=0))
    assert sorted(os.listdir(tmp_path)) == ["link.pyconv", "real"]
    assert os.listdir(target.parent) == ["model.pyconv"]


def test_save_never_deletes_user_files_that_look_like_its_temporaries(tmp_path):
    path = tmp_path / "model.pyconv"
    keep = [tmp_path / ".model.pyconv.notes.tmp", tmp_path / ".model.pyconv.abc123.tmp"]
    for user_file in keep:
        user_file.write_text("mine")
        os.utime(user_file, (0, 0))              # decades old
    small_model().save(path)
    small_model().save(path)
    assert all(user_file.read_text() == "mine" for user_file in keep)
    assert sorted(os.listdir(tmp_path)) == sorted([path.name] + [f.name for f in keep])


@pytest.fixture
def umask():
    def set_umask(mask):
        os.umask(mask)
    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_new_files_follow_the_umask_and_existing_files_keep_their_mode(tmp_path, umask):
    path = tmp_path / "model.pyconv"
    for mask, mode in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        umask(mask)
        small_model().save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == mode
        path.unlink()
    umask(0o077)
    small_model().save(path)
    os.chmod(path, 0o640)
    small_model().save(path)
    small_model().save_weights(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_failed_save_keeps_the_previous_file(saved):
    before = saved.read_bytes()
    model = small_model()
    model.layers[1].name = "d1"
    with pytest.raises(ValueError):
        model.save(saved)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == [saved.name]
    load_model(saved)
