"""Write the API reference pages from the public modules' ``__all__``.

Each public object is documented once, on the page of its home module: the
public module that defines it, else the public module whose name is the
longest prefix of where it is defined (``pyconv.layers`` for a class from
``pyconv.layers.core``), else the first public module exporting it. Pages of
other modules that re-export it link there, so every public name has a
target and none is described twice.
"""
import importlib
import inspect

# The modules users import; submodules named in any ``__all__`` are added.
PUBLIC_MODULES = [
    "pyconv", "pyconv.functional", "pyconv.layers", "pyconv.models",
    "pyconv.optimizers", "pyconv.losses", "pyconv.metrics", "pyconv.callbacks",
    "pyconv.estimators", "pyconv.transformers", "pyconv.image", "pyconv.plotting",
    "pyconv.utils", "pyconv.activations", "pyconv.initializers",
    "pyconv.regularizers", "pyconv.saving", "pyconv.export",
    "pyconv.optimizers.schedules", "pyconv.config",
]


def public_modules():
    """Public module names in documentation order, submodules discovered."""
    names = []
    queue = list(PUBLIC_MODULES)
    while queue:
        name = queue.pop(0)
        if name in names:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional module missing here
            continue
        names.append(name)
        for attr in getattr(module, "__all__", []):
            value = getattr(module, attr, None)
            if inspect.ismodule(value) and value.__name__.startswith("pyconv."):
                queue.append(value.__name__)
    return names


def _home(obj, exporters):
    """The module whose page documents ``obj`` (see the module docstring)."""
    defined_in = getattr(obj, "__module__", None) or ""
    if defined_in in exporters:
        return defined_in
    prefixes = [m for m in exporters if defined_in.startswith(m + ".")]
    if prefixes:
        return max(prefixes, key=len)
    return exporters[0]


def _kind(obj):
    """The Python-domain object type of ``obj``: class, function or data."""
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function" if callable(obj) else "data"


def _directive(obj):
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "autoexception"
        return "autoclass"
    if callable(obj):
        return "autofunction"
    return "autodata"


def write_api_pages(out_dir):
    """Write ``out_dir/index.rst`` and one page per public module."""
    out_dir.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    entries = {}       # module name -> [(public name, object)]
    exporters = {}     # id(object) -> [module names exporting it]
    for name in modules:
        module = importlib.import_module(name)
        entries[name] = []
        for attr in getattr(module, "__all__", []):
            value = getattr(module, attr)
            if inspect.ismodule(value) or attr.startswith("__"):
                continue
            entries[name].append((attr, value))
            if name not in exporters.setdefault(id(value), []):
                exporters[id(value)].append(name)

    for name in modules:
        title = f"``{name}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {name}",
                 "   :no-members:", ""]
        own, elsewhere, aliases = [], [], []
        local_names = {id(v): a for a, v in entries[name]
                       if a == getattr(v, "__name__", a)}
        for attr, value in entries[name]:
            home = _home(value, exporters[id(value)])
            canonical = local_names.get(id(value), attr)
            if home == name and canonical != attr:
                aliases.append((attr, value, canonical))
            else:
                (own if home == name else elsewhere).append((attr, value, home))
        if own:
            lines += [".. currentmodule:: " + name, "", ".. autosummary::", ""]
            lines += [f"   {attr}" for attr, _, _ in own] + [""]
            for attr, value, _ in own:
                lines += [f".. {_directive(value)}:: {attr}"]
                if inspect.isclass(value):
                    lines += ["   :members:", "   :inherited-members:"]
                lines.append("")
        if aliases or elsewhere:
            # A target for each second name (so ``pyconv.Sequential`` resolves
            # as well as ``pyconv.models.Sequential``), shown as a link to
            # the one full description.
            lines += [".. currentmodule:: " + name, ""]
            for attr, value, _ in aliases + elsewhere:
                lines += [f".. py:{_kind(value)}:: {attr}", "   :no-typesetting:", ""]
        if aliases:
            lines += ["Aliases", "-------", ""]
            for attr, value, canonical in aliases:
                lines.append(f"- ``{name}.{attr}``: the same as :py:obj:`{name}.{canonical}`")
            lines.append("")
        if elsewhere:
            lines += ["Also exported here", "-" * 18, ""]
            for attr, value, home in elsewhere:
                lines.append(f"- ``{name}.{attr}``: :py:obj:`{home}.{attr}`")
            lines.append("")
        (out_dir / f"{name}.rst").write_text("\n".join(lines), encoding="utf-8")

    index = ["API reference", "=============", "",
             "Every public name of pyconv, module by module. Arrays are numpy",
             "arrays in NCHW order; float32 is the default compute type.", "",
             ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {name}" for name in modules]
    (out_dir / "index.rst").write_text("\n".join(index) + "\n", encoding="utf-8")
