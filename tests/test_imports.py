"""The package's import graph: no cycles, and every module imports on its own.

A cycle between modules (``a`` imports ``b`` imports ``a``, even inside a
function) makes the import order matter and hides which module owns what;
the layout keeps the dependencies one-directional (`saving` knows archives,
not models; `_conv_plan` knows the kernels, not `functional`).
"""
import ast
import os

import pyconv
from _support import run_python

PACKAGE = os.path.dirname(os.path.abspath(pyconv.__file__))


def _modules():
    """``{dotted name: path}`` of every pyconv module (packages by their name)."""
    found = {}
    for dirpath, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].replace(os.sep, ".")
                found[rel.removesuffix(".__init__")] = path
    return found


def _imported(module, path, modules):
    """The pyconv modules ``module`` imports anywhere in its source."""
    is_package = path.endswith("__init__.py")
    targets = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")[:len(module.split(".")) - node.level
                                           + (1 if is_package else 0)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            names = [f"{base}.{a.name}" for a in node.names]
            targets.update(name for name in names if name in modules)
            if not any(name in modules for name in names):
                targets.add(base)
    # the nearest module for "pkg.mod.attr"; a package importing its own
    # submodules (pyconv/__init__.py, layers/__init__.py) is not a cycle
    resolved = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module and not target.startswith(module + "."):
            resolved.add(target)
    return resolved


def test_no_import_cycles():
    modules = _modules()
    graph = {m: _imported(m, p, modules) for m, p in modules.items()}
    cycles = []

    def visit(start, node, path):
        for nxt in graph[node]:
            if nxt == start:
                cycles.append(" -> ".join(path + [start]))
            elif nxt > start and nxt not in path and not start.startswith(nxt + "."):
                visit(start, nxt, path + [nxt])

    for module in sorted(graph):
        if module != "pyconv":   # the package imports everything, by design
            visit(module, module, [module])
    assert not cycles, "\n".join(cycles)


def test_every_module_imports_first():
    """Each module imports before any other pyconv module was imported (the
    Python modules are forgotten between two; the compiled kernels stay)."""
    code = """
        import importlib, sys
        for name in sys.argv[1:]:
            for key in [k for k in sys.modules
                        if k.split(".")[0] == "pyconv" and "._kernels" not in k]:
                del sys.modules[key]
            importlib.import_module(name)
            print("imported", name)
    """
    modules = sorted(m for m in _modules() if m != "pyconv")
    result = run_python(code, *modules)
    assert result.returncode == 0, result.stdout[-500:] + result.stderr[-2000:]
    assert result.stdout.count("imported") == len(modules)
